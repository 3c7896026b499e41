"""Do the tweets read as real sentences in the persona's voice? Every side in the same run.

1. Training: one model per corpus, as `nowbot train text` trains them, for `--minutes` each;
   held-out bits per char, with a Kneser-Ney 8-gram of each corpus for reference.
2. With it, 200 tweets per persona written through the product's path (`write_after`: sampling
   with the word guide, selection and the editor's ranking, a fixed seed), the same path with
   the candidates thinned as they write (as the chat's generation engine samples them:
   `after_thinned`), 200 of markovify's word chain of the same training tweets
   (`benchmarks.markov`), and 200 of the persona's held-out real tweets, all measured alike:
   grammar by Link Grammar (share of words it cannot link, share of tweets parsed whole:
   `benchmarks.grammar`), tweets mixing languages (`benchmarks.languages`), real-word rate,
   attribution by a character n-gram classifier of all the personas, how well a classifier tells
   them from the real ones (cross-validated AUC), copies of 40-character runs of a training
   tweet, distinct word bigrams, dangling endings, lower-case starts, tweets cut at the length
   limit, mean length. `targets` says per corpus which of issue 24's targets each generated side
   meets (`after` is the product's), and `moonshot` whether it parses at least as well as
   markovify.

    .venv/bin/python -m benchmarks.text_fidelity [--minutes 3.3] [--tweets 200] [--reuse]
        [--baseline] [--corpus NAME ...]

`--baseline` measures only the real tweets and markovify (no model, no TensorFlow). Trained
versions are kept under var/bench/text_fidelity/ (`--reuse` measures them again without
training; their word trees, word models and copy indexes are rebuilt from the training tweets
with the code as it is). Benchmark-only dependencies: `pip install -e '.[bench]'`
(markovify) and Debian's Link Grammar (`apt-get install link-grammar python3-link-grammar`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.grammar import grammar, parser
from benchmarks.languages import main_language, mixed
from benchmarks.markov import markov_tweets
from benchmarks.text_common import ROOT, corpus_files, load_corpus, save
from corpora.cleaning import DANGLING
from models.text.config import TextConfig
from models.text.data import PersonaTweet, split_by_tweet
from models.text.lexicon import WordLists, is_known, split_words
from models.text.select import CopyIndex, Rules
from models.text.words import MAX_CHARS, defects

WORK = ROOT / "var" / "bench" / "text_fidelity"
CHAT = Rules()  # what /tweet uses: 16 candidates
SEEDS = 1000  # the same tweets on every run of the same model
TEMPERATURE = 0.8


def train(tweets: list[PersonaTweet], minutes: float, folder: Path) -> dict[str, Any]:
    """Fit one model on `tweets` (from the English prior when there is one, as the product
    does) and write it as a version folder; its metrics."""
    from models.text.prior import default_prior
    from models.text.train import fit, lr_scale, write_artifact
    from models.text.vocab import Vocab

    config = TextConfig.cpu()
    train_part, val = split_by_tweet(tweets, config.val_fraction)
    texts = [t for _, t in train_part]
    prior = default_prior(config)  # as `nowbot train text` starts a new model
    if prior is not None:
        vocab, init = prior.start(texts, config.min_char_count)
    else:
        vocab, init = Vocab.build(texts, config.min_char_count), None
    personas = sorted({p for p, _ in tweets})
    with tempfile.TemporaryDirectory() as work:
        result = fit(train_part, val, vocab, personas, config, Path(work), minutes=minutes,
                     init=init, lr_scale=lr_scale(config, None, prior and prior.name))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_artifact(result, vocab, personas, config, train_part)(folder)
    metrics = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def kneser_ney_bpc(train_part: list[PersonaTweet], val: list[PersonaTweet]) -> float:
    from models.text.ngram import NGram
    from models.text.vocab import EOS, Vocab

    vocab = Vocab.build((t for _, t in train_part), TextConfig.cpu().min_char_count)
    model = NGram.fit([vocab.encode(t) + [EOS] for _, t in train_part], 8, len(vocab))
    return model.bpc([vocab.encode(t) + [EOS] for _, t in val])


def write_after(folder: Path, persona: str, n: int, thin: bool = False) -> list[tuple[str, bool]]:
    """Tweets through the product's path, with whether each ended before the length limit
    (`thin`: the candidates thinned as they write, as the chat's generation engine does). The
    one place that calls the product: switch it here when the product's call changes."""
    from bot.chat.engine import THIN_TO
    from models.text import artifact
    from models.text.writing import write

    sampler, editor = artifact.load(folder)
    rules = replace(CHAT, thin=THIN_TO) if thin else CHAT
    samples = write(sampler, editor, persona, n, rules=rules, seed=SEEDS, temperature=TEMPERATURE)
    return [(s.text, s.ended) for s in samples]


def models(
    split: dict[str, tuple[list[PersonaTweet], list[PersonaTweet]]], minutes: float, reuse: bool
) -> dict[str, dict[str, float]]:
    """Train (or with `reuse`, refresh the counted tables of) one model per corpus in `split`;
    held-out bits per char of each, and of a Kneser-Ney 8-gram."""
    from models.text import artifact

    for name, (train_part, val) in split.items():
        folder = WORK / name
        if not reuse or not (folder / "metrics.json").exists():
            train(train_part + val, minutes, folder)
        else:  # what is counted rather than learned follows the code as it is now
            sampler, _ = artifact.load(folder)
            artifact.write_tables(folder, sampler.vocab, sampler.config, train_part)
    return {
        name: {"bpc": json.loads((WORK / name / "metrics.json").read_text())["bpc"],
               "kneser_ney_8_bpc": kneser_ney_bpc(*parts)}
        for name, parts in split.items()
    }


def held_out(val: list[PersonaTweet], n: int) -> list[str]:
    """`n` of a persona's held-out tweets, the same on every run."""
    rng = np.random.default_rng(0)
    return [val[i][1] for i in rng.choice(len(val), min(n, len(val)), replace=False)]


def measures(
    tweets: list[tuple[str, bool]], persona: str, lists: WordLists, copies: CopyIndex,
    language: str,
) -> dict[str, Any]:
    """What a reader notices, for one set of (text, ended) tweets."""
    texts = [t for t, _ in tweets]
    known = lists.allowed(persona)
    words = [w for t in texts for w in split_words(t)]
    bigrams = [pair for t in texts for pair in zip(t.lower().split(), t.lower().split()[1:])]
    return {
        "tweets": len(texts),
        **grammar(texts),
        "mixed_language": mixed(texts, language)["mixed_language_share"],
        "real_word_rate": float(np.mean([is_known(w, known) for w in words])) if words else 0.0,
        "copies": float(np.mean([copies.copies(t) for t in texts])),
        "distinct_2": len(set(bigrams)) / max(len(bigrams), 1),
        "dangling": float(np.mean([bool(DANGLING.search(t)) for t in texts])),
        "lower_case_start": float(np.mean(["lower-case start" in defects(t, True) for t in texts])),
        "cut": float(np.mean([not ended or len(t) >= MAX_CHARS for t, ended in tweets])),
        "mean_chars": float(np.mean([len(t) for t in texts])),
    }


def classifiers(train_parts: dict[str, list[str]]) -> Any:
    """A character n-gram classifier of the personas' training tweets (each persona weighs the
    same, however many tweets it has)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = [t for group in train_parts.values() for t in group]
    labels = [p for p, group in train_parts.items() for _ in group]
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced"),
    )
    return model.fit(texts, labels)


def distinguishability(generated: list[str], real: list[str]) -> float:
    """Cross-validated AUC of telling `generated` from `real` (0.5: it cannot)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
        LogisticRegression(max_iter=2000),
    )
    labels = [1] * len(generated) + [0] * len(real)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    return float(cross_val_score(model, generated + real, labels, cv=folds,
                                 scoring="roc_auc").mean())


def targets(side: dict, real: dict) -> dict[str, bool]:
    """Issue 24's targets (the first block) and the earlier ones, for one generated side."""
    return {
        "unlinked_share": side["unlinked_share"] <= 1.1 * real["unlinked_share"],
        "whole_parse_share": side["whole_parse_share"] >= 0.9 * real["whole_parse_share"],
        "distinguishability": side["auc"] <= 0.75,
        **{k: side[k] <= real[k] for k in
           ("lower_case_start", "dangling", "cut", "mixed_language")},
        "mean_chars": abs(side["mean_chars"] - real["mean_chars"]) <= 0.2 * real["mean_chars"],
        "real_word_rate": side["real_word_rate"] >= real["real_word_rate"],
        "attribution": side["attribution"] >= 0.95 * real["attribution"],
        "copies": side["copies"] <= 0.01,
        "distinct_2": side["distinct_2"] >= 0.9 * real["distinct_2"],
    }


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--minutes", type=float, default=10 / 3,
                         help="training minutes per corpus")
    options.add_argument("--tweets", type=int, default=200, help="tweets written per persona")
    options.add_argument("--reuse", action="store_true", help="measure the kept models again")
    options.add_argument("--baseline", action="store_true",
                         help="only the real tweets and markovify: no model")
    options.add_argument("--corpus", action="append", help="measure only this corpus (repeat)")
    args = options.parse_args()
    parser()  # Link Grammar first: a missing install stops the run before any training
    split = {path.stem: split_by_tweet(load_corpus(path), TextConfig.cpu().val_fraction)
             for path in corpus_files()}
    measured = [name for name in split if not args.corpus or name in args.corpus]
    budget = {} if args.baseline else models({n: split[n] for n in measured}, args.minutes,
                                             args.reuse)
    train_parts = {name: [t for _, t in parts[0]] for name, parts in split.items()}
    attribute = classifiers(train_parts)
    lists = WordLists.of([t for parts in split.values() for t in parts[0]],
                         TextConfig.cpu().word_zipf)
    results: dict[str, Any] = {}
    first_five: dict[str, Any] = {}
    for name in measured:
        real = held_out(split[name][1], args.tweets)
        sets = {"real": [(t, True) for t in real],
                "markovify": [(t, True) for t in markov_tweets(train_parts[name], args.tweets)]}
        if not args.baseline:
            sets["after"] = write_after(WORK / name, name, args.tweets)
            sets["after_thinned"] = write_after(WORK / name, name, args.tweets, thin=True)
        copies = CopyIndex.build(train_parts[name], copy_chars=40, min_copy_chars=40)
        language = main_language(train_parts[name])
        entry: dict[str, Any] = {"language": language}
        for side, tweets in sets.items():
            texts = [t for t, _ in tweets]
            entry[side] = measures(tweets, name, lists, copies, language)
            entry[side]["attribution"] = float(np.mean(attribute.predict(texts) == name))
            if side != "real":
                entry[side]["auc"] = distinguishability(texts, real)
        generated = [side for side in sets if side != "real"]
        entry["targets"] = {side: targets(entry[side], entry["real"]) for side in generated}
        entry["moonshot"] = {
            side: entry[side]["unlinked_share"] <= entry["markovify"]["unlinked_share"]
            and entry[side]["whole_parse_share"] >= entry["markovify"]["whole_parse_share"]
            for side in generated if side != "markovify"
        }
        if "after" in sets:
            entry["target_met"] = all(entry["targets"]["after"].values())
        results[name] = entry
        # the product's only: markovify's often repeat runs of the corpus, which stays out of here
        first_five[name] = {side: [t for t, _ in sets[side][:5]] for side in generated
                            if side != "markovify"}
    save("text_fidelity", {
        "minutes": None if args.baseline else args.minutes,
        "models": budget,
        "sampling": {"candidates": CHAT.candidates, "temperature": TEMPERATURE, "seed": SEEDS},
        "corpora": results,
        "first_five": first_five,
        **({} if args.baseline else
           {"target_met": all(entry["target_met"] for entry in results.values())}),
    })


if __name__ == "__main__":
    main()
