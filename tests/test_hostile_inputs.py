"""Hostile and random files fed to the importers: whatever comes in, only the package's own
one-line errors come out, and what is read can be stored. The hand-made seeds in `fuzz_seeds/`
run as plain tests and are mutated by the fuzz tests."""

from __future__ import annotations

import csv
import gzip
import io
import json
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from bot.app import App
from corpora.errors import CorpusError
from corpora.formats import FORMATS, Format, read_corpus_file
from corpora.idx import is_idx
from corpora.imagesets import IMAGE_SUFFIXES, import_images
from corpora.limits import MAX_TWEET_CHARS

SEEDS = sorted((Path(__file__).parent / "fuzz_seeds").iterdir())
FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def is_image_seed(path: Path) -> bool:
    return path.suffix in IMAGE_SUFFIXES or is_idx(path)


def check_reading(path: Path, fmt: Format | Literal["auto"] = "auto") -> None:
    """Reading `path` gives storable tweets within the limits, or a one-line `CorpusError`."""
    try:
        records = list(read_corpus_file(path, fmt)[1])
    except CorpusError as error:
        assert "\n" not in str(error)
        return
    for record in records:
        assert len(record.text) <= MAX_TWEET_CHARS
        for value in (record.text, record.author or "", record.source_id or ""):
            assert "\x00" not in value
            value.encode("utf-8")  # no lone surrogates


def check_importing(app: App, source: Path) -> None:
    """Importing `source` as an image set works or raises a one-line `CorpusError`."""
    with app.sessions() as session:
        try:
            import_images(session, app.artifacts_dir, "fuzz", str(source))
        except CorpusError as error:
            assert "\n" not in str(error)
        finally:
            session.rollback()


def import_files(app: App, files: list[tuple[str, bytes]]) -> None:
    """Import `files` (name, content): an IDX file on its own, anything else as a folder."""
    with tempfile.TemporaryDirectory() as folder:
        for name, content in files:
            (Path(folder) / name).write_bytes(content)
        idx = [Path(folder) / name for name, _ in files if is_idx(Path(name))]
        check_importing(app, idx[0] if idx else Path(folder))


@pytest.mark.parametrize("seed", [s for s in SEEDS if not is_image_seed(s)], ids=lambda s: s.name)
def test_corpus_seed_is_read_storably_or_refused_in_one_line(seed: Path) -> None:
    check_reading(seed)


@pytest.mark.parametrize("seed", [s for s in SEEDS if is_image_seed(s)], ids=lambda s: s.name)
def test_image_seed_is_imported_or_refused_in_one_line(sqlite_app: App, seed: Path) -> None:
    import_files(sqlite_app, [(seed.name, seed.read_bytes())])


# -- corpus files ---------------------------------------------------------------------------------

ANY_CHAR = st.characters(exclude_categories=())  # surrogates and control characters too
KEYS = st.sampled_from(["text", "full_text", "tweet", "tweets", "id", "id_str", "created_at",
                        "user", "screen_name", "in_reply_to_status_id"]) | st.text(ANY_CHAR, max_size=6)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(ANY_CHAR, max_size=20))
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
CORPUS_SUFFIXES = st.sampled_from([".json", ".jsonl", ".js", ".csv", ".txt", ""])


def _csv_bytes(header: list[str], rows: list[list[str]], quoting: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=quoting, escapechar="\\")
    writer.writerows([header, *rows])
    return buffer.getvalue().encode("utf-8", "surrogatepass")


def _mutate(seed: bytes, at: int, cut: int, insert: bytes) -> bytes:
    """`seed` with `cut` bytes at `at` replaced by `insert`."""
    at %= len(seed) + 1
    return seed[:at] + insert + seed[at + cut:]


MUTATIONS = st.tuples(st.integers(0, 2**20), st.integers(0, 64), st.binary(max_size=16))
CORPUS_FILES = st.one_of(
    st.tuples(CORPUS_SUFFIXES, st.binary(max_size=400)),
    JSON_VALUES.map(lambda value: (".json", json.dumps(value).encode())),
    JSON_VALUES.map(lambda value: (".js", f"window.YTD.tweets.part0 = {json.dumps(value)}".encode())),
    st.lists(JSON_VALUES, max_size=4).map(
        lambda values: (".jsonl", "\n".join(map(json.dumps, values)).encode())),
    st.builds(
        _csv_bytes,
        st.lists(st.sampled_from(["", "id", "text", "full_text", "created_at"]) | st.text(max_size=5),
                 min_size=1, max_size=4),
        st.lists(st.lists(st.text(max_size=20), max_size=5), max_size=5),
        st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    ).map(lambda content: (".csv", content)),
    st.lists(st.text(ANY_CHAR, max_size=30), max_size=6).map(
        lambda lines: (".txt", "\n".join(lines).encode("utf-8", "surrogatepass"))),
    st.builds(lambda seed, change: (seed.suffix, _mutate(seed.read_bytes(), *change)),
              st.sampled_from([s for s in SEEDS if not is_image_seed(s)]), MUTATIONS),
)


@FUZZ
@given(file=CORPUS_FILES, fmt=st.sampled_from(["auto", *FORMATS]))
def test_fuzzed_corpus_files_give_only_corpus_errors(
    file: tuple[str, bytes], fmt: Format | Literal["auto"]
) -> None:
    suffix, content = file
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(content)
        check_reading(path, fmt)


# -- image files ----------------------------------------------------------------------------------

def _png_header(width: int, height: int, tail: bytes) -> bytes:
    """A PNG signature and header chunk for any size, then `tail` where the pixels would be."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + tail


def _small_image(fmt: str, mode: str, width: int, height: int, change: tuple[int, int, bytes]) -> bytes:
    """A real image file, then damaged by `change` (see `_mutate`)."""
    buffer = io.BytesIO()
    PILImage.new(mode, (width, height), "white").save(buffer, format=fmt)
    return _mutate(buffer.getvalue(), *change)


def _idx_file(count: int, rows: int, cols: int, tail: bytes, zipped: bool) -> tuple[str, bytes]:
    data = bytes([0, 0, 8, 3]) + struct.pack(">III", count, rows, cols) + tail
    return ("t-idx3-ubyte.gz", gzip.compress(data)) if zipped else ("t-idx3-ubyte", data)


SIDES = st.integers(0, 2**31 - 1) | st.integers(0, 64)
IMAGE_NAMES = st.sampled_from(sorted(IMAGE_SUFFIXES)).map(lambda suffix: f"image{suffix}")
IMAGE_CONTENT = st.one_of(
    st.binary(max_size=300),
    st.builds(_png_header, SIDES, SIDES, st.binary(max_size=64)),
    st.builds(_small_image, st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]),
              st.sampled_from(["RGB", "L"]), st.integers(1, 40), st.integers(1, 40), MUTATIONS),
    st.builds(lambda seed, change: _mutate(seed.read_bytes(), *change),
              st.sampled_from([s for s in SEEDS if s.suffix in IMAGE_SUFFIXES]), MUTATIONS),
)
IMAGE_FILES = st.one_of(
    st.lists(st.tuples(IMAGE_NAMES, IMAGE_CONTENT), min_size=1, max_size=3,
             unique_by=lambda file: file[0]),
    st.builds(_idx_file, SIDES, SIDES, SIDES, st.binary(max_size=64), st.booleans()).map(
        lambda file: [file]),
)


@FUZZ
@given(files=IMAGE_FILES)
def test_fuzzed_image_files_give_only_corpus_errors(sqlite_app: App, files: list[tuple[str, bytes]]) -> None:
    import_files(sqlite_app, files)
