"""The words a persona may write: those of its own tweets and of a general word list for its
language(s), as a prefix tree that the sampler walks one character at a time.

A word here is a run of letters (apostrophes inside it allowed: "don't"), matched without
regard to case. Hashtags, @handles, numbers, words with digits in them ("4pm", "3D"), emoji
and punctuation are free: only alphabetic words are checked. After a complete word an
apostrophe may open one of the English suffixes ("'s", "'re", ...) or close a quote.

The tree is stored as flat arrays (children of node n are `child_node[child_start[n]:
child_start[n + 1]]`, reached by the vocabulary ids in `child_symbol`, both cases of a letter
listed), so the compiled sampler step (`models/text/compiled.py`) walks it for every row at once.
A persona's own words are those it wrote at least twice, or once if a word list has them.
Each node carries two bit masks: `terminal` (a word of theirs ends here) and `reach` (one ends
at or below here), with a bit per persona (0..55) and per general word list (56..62, one per
language of `LANGUAGES`); a persona may write its own words and those of its languages.
General words come from `wordfreq` (its own data, no download), those at least as frequent as
`zipf` (2.5: about once per 3 million words; rarer entries are mostly typos and names), for
each language at least `MIN_LANGUAGE_SHARE` of the persona's tweets are written in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.text.vocab import BOS, EOS, PAD, SPECIALS, Vocab

# Symbol classes, as the compiled step sees them.
SEPARATOR, LETTER, APOSTROPHE, DIGIT, TAG, END, NEVER = range(7)
# Row states other than a tree node: between words, and inside a free token (#tag, 4pm).
OUTSIDE, FREE = -1, -2
ROOT, SUFFIX_ROOT = 0, 1
APOSTROPHES = "'\u2019"
SUFFIXES = ("s", "t", "re", "ve", "ll", "d", "m")
LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl")  # looked for in a persona's tweets
LANGUAGE_BIT = 56  # bit of LANGUAGES[0]; personas take bits 0..55 (the 56th and later share 55)
MIN_LANGUAGE_SHARE = 0.03  # of a persona's tweets, for its language's word list to be added
MIN_OWN_COUNT = 2  # uses of a word in no word list before the persona may write it


def char_class(char: str) -> int:
    """How the word constraint treats one character."""
    if char.isalpha():
        return LETTER
    if char in APOSTROPHES:
        return APOSTROPHE
    if char.isdigit() or char == "_":
        return DIGIT
    if char in "#@":
        return TAG
    return SEPARATOR


def _fold(char: str) -> str:
    lower = char.lower()
    return "'" if char in APOSTROPHES else lower if len(lower) == 1 else char


def split_words(text: str) -> list[str]:
    """The alphabetic words of `text`, lower case, as the constraint sees them."""
    words: list[str] = []
    current: list[str] = []
    free = False
    for char in text + " ":
        kind = char_class(char)
        if kind == LETTER and not free:
            current.append(_fold(char))
        elif kind == APOSTROPHE and current and not free:
            current.append("'")
        elif kind in (DIGIT, TAG) or (free and kind in (LETTER, APOSTROPHE)):
            free, current = True, []
        else:  # a separator ends the token
            word = "".join(current).strip("'")
            if word and not free:
                words.append(word)
            free, current = False, []
    return words


def is_known(word: str, known: set[str] | frozenset[str]) -> bool:
    """True when the constraint lets `word` (from `split_words`) be written with the words
    `known`: the word itself, or a known word followed by an apostrophe suffix ("tesla's")."""
    if word in known:
        return True
    base, _, suffix = word.rpartition("'")
    return bool(base) and suffix in SUFFIXES and base in known


def tweet_language(words: Sequence[str], lists: dict[str, frozenset[str]]) -> str | None:
    """The language whose common words cover most of `words` (None: too few to tell)."""
    if len(words) < 3:
        return None
    covered = {lang: sum(w in common for w in words) for lang, common in lists.items()}
    best = max(covered, key=lambda lang: (covered[lang], lang == "en"))
    return best if covered[best] >= len(words) / 2 else None


def persona_languages(texts: Iterable[str]) -> list[str]:
    """Languages of `LANGUAGES` that at least `MIN_LANGUAGE_SHARE` of `texts` are written in."""
    from wordfreq import top_n_list  # loaded only when a model is trained

    common = {lang: frozenset(top_n_list(lang, 2000)) for lang in LANGUAGES}
    counts: dict[str, int] = {}
    total = 0
    for text in texts:
        total += 1
        if (lang := tweet_language(split_words(text), common)) is not None:
            counts[lang] = counts.get(lang, 0) + 1
    found = [lang for lang in LANGUAGES if counts.get(lang, 0) >= MIN_LANGUAGE_SHARE * total]
    return found or ["en"]


def general_words(languages: Sequence[str], zipf: float) -> set[str]:
    """Alphabetic words of `languages` at least as frequent as `zipf` on the Zipf scale."""
    from wordfreq import get_frequency_dict

    threshold = 10.0 ** (zipf - 9.0)  # Zipf = log10(frequency per billion words)
    words: set[str] = set()
    for lang in languages:
        for word, frequency in get_frequency_dict(lang, wordlist="large").items():
            if frequency >= threshold and split_words(word) == [word]:
                words.add(word)
    return words


@dataclass
class Lexicon:
    """The prefix tree of the words each persona may write (arrays described above)."""

    child_start: np.ndarray  # (nodes + 1,) int64
    child_symbol: np.ndarray  # (edges,) int64 vocabulary ids
    child_node: np.ndarray  # (edges,) int64
    terminal: np.ndarray  # (nodes,) uint64 word-list bits
    reach: np.ndarray  # (nodes,) uint64 word-list bits
    classes: np.ndarray  # (vocab,) int64 symbol classes
    personas: tuple[str, ...]
    persona_bits: np.ndarray  # (personas,) uint64: the word lists each persona may use

    @classmethod
    def build(
        cls, own: dict[str, set[str]], general: dict[str, set[str]],
        languages: dict[str, list[str]], vocab: Vocab,
    ) -> Lexicon:
        """The tree of each persona's `own` words and of the `general` word list of each
        language, kept to words that `vocab` can spell; `languages` names each persona's."""
        personas = tuple(own)
        ids = {char: i + len(SPECIALS) for i, char in enumerate(vocab.chars)}
        spellings: dict[str, list[int]] = {}  # folded character -> vocabulary ids
        for char, i in ids.items():
            if char_class(char) in (LETTER, APOSTROPHE):
                spellings.setdefault(_fold(char), []).append(i)
        spellable = set(spellings)
        children: list[dict[str, int]] = [{}, {}]
        terminal = [0, ALL_BITS]

        def add(word: str, bits: int, node: int = ROOT) -> None:
            if not set(word) <= spellable:
                return
            for char in word:
                nxt = children[node].get(char)
                if nxt is None:
                    nxt = children[node][char] = len(children)
                    children.append({})
                    terminal.append(0)
                node = nxt
            terminal[node] |= bits

        for suffix in SUFFIXES:
            add(suffix, ALL_BITS, SUFFIX_ROOT)
        for i, name in enumerate(personas):
            for word in own[name]:
                add(word, _persona_bit(i))
        for lang, words in general.items():
            for word in words:
                add(word, _language_bit(lang))
        reach = list(terminal)
        for node in range(len(children) - 1, -1, -1):  # children are numbered after parents
            for child in children[node].values():
                reach[node] |= reach[child]
        start, symbols, nodes = [0], [], []
        for node_children in children:
            for char, child in sorted(node_children.items()):
                symbols.extend(spellings[char])
                nodes.extend([child] * len(spellings[char]))
            start.append(len(symbols))
        classes = np.full(len(vocab), SEPARATOR, np.int64)
        classes[[PAD, BOS]], classes[EOS] = NEVER, END
        for char, i in ids.items():
            classes[i] = char_class(char)
        persona_bits = [
            _persona_bit(i) | sum(_language_bit(lang) for lang in languages.get(name, ()))
            for i, name in enumerate(personas)
        ]
        return cls(
            np.asarray(start, np.int64), np.asarray(symbols, np.int64),
            np.asarray(nodes, np.int64), np.asarray(terminal, np.uint64),
            np.asarray(reach, np.uint64), classes, personas, np.asarray(persona_bits, np.uint64),
        )

    def bits(self, *personas: str) -> int:
        """The word lists `personas` may write from together (unknown names: none of theirs)."""
        mask = 0
        for name in personas:
            if name in self.personas:
                mask |= int(self.persona_bits[self.personas.index(name)])
        return mask or _language_bit(LANGUAGES[0])

    def save(self, path: Path) -> None:
        np.savez(
            path, child_start=self.child_start, child_symbol=self.child_symbol,
            child_node=self.child_node, terminal=self.terminal, reach=self.reach,
            classes=self.classes, personas=np.asarray(self.personas, dtype=str),
            persona_bits=self.persona_bits,
        )

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        with np.load(path) as data:
            return cls(
                data["child_start"], data["child_symbol"], data["child_node"],
                data["terminal"], data["reach"], data["classes"],
                tuple(str(p) for p in data["personas"]), data["persona_bits"],
            )


@dataclass(frozen=True)
class WordLists:
    """Each persona's own words and languages, and the general words of those languages."""

    own: dict[str, set[str]]
    languages: dict[str, list[str]]
    general: dict[str, set[str]]

    @classmethod
    def of(cls, tweets: Sequence[tuple[str, str]], zipf: float) -> WordLists:
        """The word lists of (persona, text) `tweets`."""
        texts: dict[str, list[str]] = {}
        for persona, text in tweets:
            texts.setdefault(persona, []).append(text)
        languages = {name: persona_languages(group) for name, group in texts.items()}
        needed = sorted({lang for langs in languages.values() for lang in langs})
        general = {lang: general_words([lang], zipf) for lang in needed}
        own = {}
        for name, group in texts.items():
            # A word of no word list counts only if the persona wrote it twice: once is mostly
            # a typo or a word cut short ("underlyin..." where an export truncated a tweet).
            counts = Counter(w for t in group for w in split_words(t))
            listed = set().union(*(general[lang] for lang in languages[name]))
            own[name] = {w for w, n in counts.items() if n >= MIN_OWN_COUNT or w in listed}
        return cls(own, languages, general)

    def allowed(self, persona: str) -> set[str]:
        """Every word `persona` may write."""
        words = set(self.own.get(persona, ()))
        for lang in self.languages.get(persona, ()):
            words |= self.general[lang]
        return words


def build_lexicon(tweets: Sequence[tuple[str, str]], vocab: Vocab, zipf: float) -> Lexicon:
    """The lexicon of (persona, text) `tweets`: each persona's words and its languages'."""
    lists = WordLists.of(tweets, zipf)
    return Lexicon.build(lists.own, lists.general, lists.languages, vocab)


def _persona_bit(index: int) -> int:
    return 1 << min(index, LANGUAGE_BIT - 1)


def _language_bit(lang: str) -> int:
    return 1 << (LANGUAGE_BIT + LANGUAGES.index(lang))


ALL_BITS = (1 << 64) - 1
