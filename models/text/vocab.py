"""The character vocabulary: code points seen in the corpus plus four special symbols.

Characters are Unicode code points, so an emoji is one symbol and a joined emoji sequence
(family, flag) is its code points in order, which the model learns to emit together.
Characters seen fewer than `min_count` times in training become the unknown id, so the model
learns what to do after an unfamiliar character instead of crashing on one in a prompt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<tweet>", "</tweet>")


@dataclass(frozen=True)
class Vocab:
    """Symbol ids: 0 padding, 1 unknown, 2 start of tweet, 3 end of tweet, then characters."""

    chars: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", {c: i + len(SPECIALS) for i, c in enumerate(self.chars)})
        shown = ["", "\ufffd", "", "", *self.chars]  # what each id decodes to
        object.__setattr__(self, "_shown", np.asarray(shown, dtype=object))

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> Vocab:
        """Characters of `texts` seen at least `min_count` times, most frequent first."""
        counts = Counter(char for text in texts for char in text)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return cls(tuple(char for char, count in ranked if count >= min_count))

    def __len__(self) -> int:
        return len(SPECIALS) + len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Ids of `text`'s characters; unknown characters get `UNK`."""
        ids: dict[str, int] = self._ids  # type: ignore[attr-defined]
        return [ids.get(char, UNK) for char in text]

    def encode_tweet(self, text: str) -> list[int]:
        """A whole tweet as the model sees it: start symbol, characters, end symbol."""
        return [BOS, *self.encode(text), EOS]

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Characters of `ids`; special symbols are dropped, unknown shows as U+FFFD."""
        shown: np.ndarray = self._shown  # type: ignore[attr-defined]
        return "".join(shown[np.asarray(ids, np.int64)])

    def to_json(self) -> dict[str, object]:
        return {"specials": list(SPECIALS), "chars": list(self.chars)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Vocab:
        return cls(tuple(data["chars"]))  # type: ignore[arg-type]
