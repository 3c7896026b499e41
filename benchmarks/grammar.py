"""Grammar as a parser judges it, independent of anything that guides sampling: Link Grammar
(CMU's parser, Debian's 5.12 with its English dictionary) links each sentence's words; a word it
cannot link is a null link. Per tweet set: the share of words left unlinked, the share of
tweets whose every sentence parses whole, and the share of sentences that do.

Every side is read the same way before parsing: links and a reply's leading @mentions are
removed, emoji and other symbols are removed, a run of hashtags that closes the tweet is removed
(a tag list, not part of a sentence), any other hashtag or @mention is read as the word it spells
(`#Yellowstone` -> `Yellowstone`; the parser guesses unknown words from their shape, as it does
for names), an ellipsis or `?!` run ends a sentence, and sentences are split after `.`, `!`, `?`
(not after an initial or a title such as "U.S." or "Mr.") and at line breaks. A word is a token
of the parse with a letter or digit in it (punctuation that is left unlinked counts against
nothing); a tweet with no word does not parse whole. A sentence the parser cannot finish in
`SECONDS` is parsed again as link-parser does then, with short links only (it finds a few more
null links than the full parse would); out of time again, all its words count as unlinked.
Either is counted in `timeouts` (0-10 sentences per 200 real tweets, Trump's long ones the
most; which ones can change with the machine's load).

    .venv/bin/python -m benchmarks.grammar FILE   # one tweet per line ("-": standard input)

prints this and `benchmarks.languages.mixed` for the file as JSON. Needs Debian's Link Grammar:
`apt-get install link-grammar python3-link-grammar` (its Python binding is built for Debian's
python3.11 and is loaded from there without putting the rest of dist-packages on the path).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import regex

from corpora.cleaning import LINK, REPLY_ADDRESS

BINDING = Path("/usr/lib/python3/dist-packages/linkgrammar")
INSTALL = "Link Grammar is missing: apt-get install link-grammar python3-link-grammar"
SECONDS = 1  # parse time per sentence (whole seconds: the binding takes no fraction)
SYMBOLS = regex.compile(  # emoji with their variation selectors and keycaps, other symbols
    r"[\p{Extended_Pictographic}\p{So}\p{Sk}\p{Cf}\p{Co}\p{Cs}\uFE00-\uFE0F\u20E3]+"
)
CLOSING_TAGS = regex.compile(r"(?:\s*#\w+)+[\s.!]*$")
TAG = regex.compile(r"(?<!\w)[#@](?=\w)")
PAUSE = regex.compile(r"(?:\.{2,}|…)+|[!?]{2,}")
# not after an initial or a title: "U.S. troops", "J.K. Simmons", "Mr. Smith"
SENTENCE_END = regex.compile(r"(?<=[.!?])(?<!\b(?:[A-Z]|Mr|Mrs|Ms|Dr|St|Jr|Sr|vs)\.)\s+|\s*\n\s*")
WORD = regex.compile(r"[\p{L}\p{N}]")


@dataclass(frozen=True)
class Parsed:
    """One tweet as the parser read it."""

    words: int
    unlinked: int
    sentences: int
    whole_sentences: int
    timeouts: int

    @property
    def whole(self) -> bool:
        return self.words > 0 and self.unlinked == 0


def sentences(text: str) -> list[str]:
    """The sentences of a tweet as the parser is given them (see the module's docstring)."""
    text = REPLY_ADDRESS.sub("", LINK.sub(" ", text))
    text = CLOSING_TAGS.sub("", SYMBOLS.sub(" ", text))
    text = PAUSE.sub(lambda m: ("." if m.group()[0] in ".…" else m.group()[0]) + " ",
                     TAG.sub("", text))
    return [s for s in (s.strip() for s in SENTENCE_END.split(text)) if WORD.search(s)]


def binding() -> ModuleType:
    """Link Grammar's Python module (SystemExit with the install line when it is missing)."""
    if "linkgrammar" in sys.modules:
        return sys.modules["linkgrammar"]
    spec = importlib.util.spec_from_file_location(
        "linkgrammar", BINDING / "__init__.py", submodule_search_locations=[str(BINDING)]
    )
    if spec is None or spec.loader is None or not (BINDING / "__init__.py").exists():
        raise SystemExit(INSTALL)
    module = importlib.util.module_from_spec(spec)
    sys.modules["linkgrammar"] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        del sys.modules["linkgrammar"]
        raise SystemExit(f"{INSTALL} ({error})") from error
    return module


class Parser:
    """Link Grammar's English dictionary with options for counting null links quickly."""

    def __init__(self, seconds: int = SECONDS) -> None:
        self.lg = binding()
        self.lg.LG_Error.set_handler(lambda *_: None)  # its locale notice on every load
        self.dictionary = self.lg.Dictionary("en")
        common = dict(min_null_count=0, max_null_count=250, linkage_limit=1,
                      max_parse_time=seconds)
        self.options = self.lg.ParseOptions(**common)
        # what link-parser falls back on after a timeout: short links only, much faster
        self.panic = self.lg.ParseOptions(all_short_connectors=True, short_length=10, **common)

    def sentence(self, text: str) -> tuple[int, int, bool]:
        """Words, unlinked words, and whether the full parse ran out of time."""
        linkage = self._parse(text, self.options)
        timed_out = linkage is None
        if timed_out:
            linkage = self._parse(text, self.panic)
        if linkage is None:  # out of time twice: every word counts as unlinked
            count = len(text.split())
            return count, count, True
        tokens = [w for w in list(linkage.words())[1:-1] if WORD.search(w)]  # walls dropped
        return len(tokens), sum(w.startswith("[") for w in tokens), timed_out

    def _parse(self, text: str, options: object) -> object:
        """The best linkage, None when out of time."""
        try:
            return next(iter(self.lg.Sentence(text, self.dictionary, options).parse()), None)
        except self.lg.LG_TimerExhausted:
            return None

    def tweet(self, text: str) -> Parsed:
        counts = [self.sentence(s) for s in sentences(text)]
        return Parsed(words=sum(c[0] for c in counts), unlinked=sum(c[1] for c in counts),
                      sentences=len(counts), whole_sentences=sum(c[1] == 0 for c in counts),
                      timeouts=sum(c[2] for c in counts))


@cache
def parser() -> Parser:
    return Parser()


def grammar(texts: list[str], detail: bool = False) -> dict:
    """Unlinked-word share (unlinked words / words, over all tweets), the share of tweets that
    parse whole, the share of sentences that do (less bound to length: a long tweet has more
    sentences to get wrong), sentences out of time; `detail`: each tweet's counts too."""
    parsed = [parser().tweet(t) for t in texts]
    words = sum(p.words for p in parsed)
    sentence_count = sum(p.sentences for p in parsed)
    result: dict = {
        "unlinked_share": sum(p.unlinked for p in parsed) / words if words else 0.0,
        "whole_parse_share": sum(p.whole for p in parsed) / len(parsed) if parsed else 0.0,
        "whole_sentence_share": (
            sum(p.whole_sentences for p in parsed) / sentence_count if sentence_count else 0.0
        ),
        "words_per_tweet": words / len(parsed) if parsed else 0.0,
        "timeouts": sum(p.timeouts for p in parsed),
    }
    if detail:
        result["tweets"] = [{"text": t, **asdict(p)} for t, p in zip(texts, parsed)]
    return result


def main() -> None:
    from benchmarks.languages import LANGUAGES, mixed

    args = argparse.ArgumentParser(description="Grammar and mixed-language figures of tweets, "
                                   "one a line.")
    args.add_argument("file", help="a file of tweets, one a line ('-': standard input)")
    args.add_argument("--detail", action="store_true", help="each tweet's counts too")
    args.add_argument("--language", choices=LANGUAGES, default="en",
                      help="the persona's language (default: en)")
    parsed = args.parse_args()
    source = sys.stdin if parsed.file == "-" else open(parsed.file, encoding="utf-8")
    texts = [line for line in source.read().splitlines() if line.strip()]
    result = {"tweets": len(texts), "grammar": grammar(texts, parsed.detail),
              "languages": mixed(texts, parsed.language, parsed.detail)}
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
