"""What a text model version's folder holds, and how it is written and read (no TensorFlow).

    weights.npz      the network's arrays (names as `models/text/network.py` gives them)
    ngram.npz        the Kneser-Ney n-gram and its mixing weights (`models/text/ngram.py`)
    vocab.json       the characters, in id order
    config.json      {"format": 1, "personas": [...], "model": TextConfig}
    lexicon.npz      the words each persona may write (`models/text/lexicon.py`)
    words.npz        the word model the editor ranks with (`models/text/words.py`)
    copy_index.npz   shingles of the training tweets, to refuse copies (`models/text/select.py`)

Older versions may lack the n-gram, the lexicon or the word model; they load without them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.text.config import TextConfig
from models.text.guide import Guide
from models.text.lexicon import build_lexicon
from models.text.ngram import NGram
from models.text.sampler import LEXICON_FILE, NGRAM_FILE, Sampler
from models.text.select import CopyIndex, Editor
from models.text.vocab import Vocab
from models.text.words import WordModel

WORDS_FILE = "words.npz"
COPIES_FILE = "copy_index.npz"


def write(
    folder: Path, arrays: dict[str, np.ndarray], ngram: NGram | None, vocab: Vocab,
    personas: list[str], config: TextConfig, tweets: Sequence[tuple[str, str]],
) -> None:
    """Write a version into `folder`; `tweets` (persona, text) are the ones it learned from."""
    np.savez(folder / "weights.npz", **arrays)
    if ngram is not None:
        ngram.save(folder / NGRAM_FILE)
    (folder / "vocab.json").write_text(json.dumps(vocab.to_json(), ensure_ascii=False))
    meta = {"format": 1, "personas": personas, "model": config.to_dict()}
    (folder / "config.json").write_text(json.dumps(meta, indent=2))
    write_tables(folder, vocab, config, tweets)


def write_tables(
    folder: Path, vocab: Vocab, config: TextConfig, tweets: Sequence[tuple[str, str]]
) -> None:
    """The parts of a version that are counted from its tweets, not learned: the word tree,
    the word model and the copy index."""
    build_lexicon(tweets, vocab, config.word_zipf).save(folder / LEXICON_FILE)
    WordModel.fit(tweets).save(folder / WORDS_FILE)
    CopyIndex.build(text for _, text in tweets).save(folder / COPIES_FILE)


def load(folder: Path) -> tuple[Sampler, Editor]:
    """The sampler and the editor of the version in `folder`."""
    words = WordModel.load(folder / WORDS_FILE) if (folder / WORDS_FILE).exists() else None
    sampler = Sampler.load(folder)
    guide = Guide(words, sampler.lexicon) if words is not None else None
    return sampler, Editor(CopyIndex.load(folder / COPIES_FILE), words, guide)
