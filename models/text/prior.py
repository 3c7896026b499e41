"""The English prior: a char-GRU pretrained once on licence-clean English, that persona models
start from instead of random weights (no TensorFlow here).

Its vocabulary is fixed and a superset of what personas write (`base_chars`): printable ASCII,
the Latin-1 and Latin Extended-A letters of European languages, typographic punctuation and the
commonest emoji. A persona model starts from the prior's embedding and output rows: those of
ASCII and typographic punctuation, and of every other character of the prior that the persona's
tweets use (`persona_rows`). The rest are left out so that the model samples as fast as one
trained from scratch (its softmax and output product grow with the vocabulary: 16 candidates
took about 1.6x as long with all 578 symbols as with 96). A persona character the prior lacks,
seen at least `min_char_count` times, is appended, starting from `<unk>`'s rows (what the prior
does with a character it does not know) and learning its own in fine-tuning; rarer ones stay
`<unk>`. The prior speaks as one persona (`BASE_PERSONA`); a new persona starts from that row.

An artifact folder (`priors/<name>/`) holds `weights.npz`, `vocab.json`, `config.json` (the
persona and the `TextConfig` it was trained with), `metrics.json` and `PROVENANCE.md`.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import ModelError
from models.text.config import TextConfig
from models.text.vocab import SPECIALS, UNK, Vocab

PRIORS_DIR = Path(__file__).resolve().parent / "priors"
DEFAULT_PRIOR = "english-v1"
BASE_PERSONA = "english"
EMOJI_COUNT = 200  # the commonest symbols of wordfreq's English list (its Twitter and web text)
TYPOGRAPHIC = "\u2018\u2019\u201a\u201c\u201d\u201e\u2026\u2013\u2014\u2010\u2011\u2212\u2022\u2032\u2033\u2039\u203a\u20ac\u20b9\u2122"
JOINERS = "\u200d\ufe0f"  # zero-width joiner, emoji presentation selector
SKIN_TONES = "".join(chr(c) for c in range(0x1F3FB, 0x1F400))
FLAG_LETTERS = "".join(chr(c) for c in range(0x1F1E6, 0x1F200))  # regional indicators
CORE = frozenset("\n" + "".join(map(chr, range(0x20, 0x7F))) + TYPOGRAPHIC)  # every model keeps
ARCHITECTURE = ("embed_dim", "persona_dim", "units", "layers")  # what must match to start from it


def common_emoji(count: int = EMOJI_COUNT) -> str:
    """The `count` commonest symbol code points (emoji, hearts, stars, ticks) of wordfreq's
    English word list, commonest first; box drawing and braille left out."""
    from wordfreq import top_n_list

    ranked: list[str] = []
    for token in top_n_list("en", 200_000):
        for char in token:
            code = ord(char)
            if (unicodedata.category(char) == "So" and code > 0x2000 and char not in ranked
                    and not 0x2500 <= code < 0x25A0 and not 0x2800 <= code < 0x2900):
                ranked.append(char)
        if len(ranked) >= count:
            break
    return "".join(ranked[:count])


def base_chars() -> tuple[str, ...]:
    """The prior's characters, in id order: a line break and printable ASCII, Latin-1 (from
    U+00A0), Latin Extended-A, the Romanian comma letters, typographic punctuation, the
    commonest emoji, the joiners, skin tones and flag letters that emoji sequences use."""
    ranges = [range(0x20, 0x7F), range(0xA0, 0x100), range(0x100, 0x180), range(0x218, 0x21C)]
    chars = ["\n", *(chr(c) for r in ranges for c in r)]
    for char in TYPOGRAPHIC + common_emoji() + JOINERS + SKIN_TONES + FLAG_LETTERS:
        if char not in chars:
            chars.append(char)
    return tuple(chars)


def persona_rows(vocab: Vocab, texts: Sequence[str], min_count: int) -> tuple[Vocab, list[int]]:
    """A persona model's vocabulary and, per symbol, the prior's row it starts from: the
    specials, the prior's `CORE` characters and those of its others that `texts` use at least
    `min_count` times (in the prior's order), then the characters of `texts` the prior lacks,
    seen as often (most frequent first), each starting from `<unk>`'s row."""
    counts = Counter(char for text in texts for char in text)
    prior_ids = {char: i for i, char in enumerate(vocab.chars, len(SPECIALS))}
    kept = [c for c in vocab.chars if c in CORE or counts[c] >= min_count]
    extra = sorted((c for c, n in counts.items() if n >= min_count and c not in prior_ids),
                   key=lambda c: (-counts[c], c))
    rows = [*range(len(SPECIALS)), *(prior_ids[c] for c in kept), *([UNK] * len(extra))]
    return Vocab((*kept, *extra)), rows


def take_rows(arrays: dict[str, np.ndarray], rows: Sequence[int]) -> dict[str, np.ndarray]:
    """The network's arrays with its symbol rows (embedding rows, output columns) taken in
    `rows`' order."""
    taken = dict(arrays)
    taken["char_embedding"] = arrays["char_embedding"][rows]
    taken["logits/kernel"] = arrays["logits/kernel"][:, rows]
    taken["logits/bias"] = arrays["logits/bias"][rows]
    return taken


@dataclass(frozen=True)
class Prior:
    """A pretrained base: its weights, fixed vocabulary and the config it was trained with."""

    name: str
    arrays: dict[str, np.ndarray]
    vocab: Vocab
    config: TextConfig

    @classmethod
    def load(cls, folder: Path) -> Prior:
        try:
            meta = json.loads((folder / "config.json").read_text())
            vocab = Vocab.from_json(json.loads((folder / "vocab.json").read_text()))
            with np.load(folder / "weights.npz") as saved:
                arrays = {k: saved[k].astype(np.float32) for k in saved.files}
        except (OSError, KeyError, ValueError) as error:
            raise ModelError(f"{folder}: not a readable English prior ({error})") from None
        return cls(folder.name, arrays, vocab, TextConfig.from_dict(meta["model"]))

    def fits(self, config: TextConfig) -> bool:
        """Whether a model of `config` has this prior's shape (so can start from it)."""
        return all(getattr(config, key) == getattr(self.config, key) for key in ARCHITECTURE)

    def start(self, texts: Sequence[str], min_count: int) -> tuple[Vocab, dict[str, np.ndarray]]:
        """The vocabulary and initial weights of a persona model learning from `texts`."""
        vocab, rows = persona_rows(self.vocab, texts, min_count)
        return vocab, take_rows(self.arrays, rows)


def default_prior(config: TextConfig) -> Prior | None:
    """The prior shipped with nowbot, if it is there and fits `config`'s shape."""
    folder = PRIORS_DIR / DEFAULT_PRIOR
    if not (folder / "weights.npz").exists():
        return None
    prior = Prior.load(folder)
    return prior if prior.fits(config) else None


def pretrain_config() -> TextConfig:
    """The CPU model's shape, trained for a corpus of megabytes rather than a persona's
    kilobytes: less dropout, a third of the learning rate (at 1e-2 the loss blew up after 5
    minutes, 2.6 -> 5.0 bits/char), rarer and larger checks, 2% held out, no n-gram."""
    return TextConfig(dropout=0.2, ngram_order=0, val_fraction=0.02, checkpoint_steps=500,
                      eval_tweets=512, min_char_count=1, learning_rate=3e-3, warmup_steps=200)


def write(folder: Path, arrays: dict[str, np.ndarray], vocab: Vocab, config: TextConfig,
          metrics: dict[str, object], provenance: str) -> None:
    """Write a prior's artifact folder (the caller stages and renames it)."""
    np.savez_compressed(folder / "weights.npz", **arrays)
    (folder / "vocab.json").write_text(json.dumps(vocab.to_json(), ensure_ascii=False))
    meta = {"format": 1, "personas": [BASE_PERSONA], "model": config.to_dict()}
    (folder / "config.json").write_text(json.dumps(meta, indent=2))
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (folder / "PROVENANCE.md").write_text(provenance)
