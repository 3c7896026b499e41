"""Do the tweets read as real words in the persona's voice? Both sides in the same run.

1. Training, same budget: one model of every corpus together for `--minutes`, against one model
   per corpus for `--minutes / corpora` each (what the same machine time buys either way);
   held-out bits per char per persona, with a Kneser-Ney 8-gram of each corpus for reference.
   The better one is what `nowbot train text` trains by default.
2. With that model, 200 tweets per persona written through the product's path (sampling with
   the word constraint, then selection and the editor's ranking, fixed seeds), the same number
   written "before" (no word constraint, mentions written then cut out, ranked by ending and
   character likelihood alone), the same path with the candidates thinned as they write (as the
   chat's generation engine samples them: `after_thinned`), and the persona's held-out real
   tweets, all measured the same way:
   real-word rate, attribution by a character n-gram classifier of the three personas, how well
   a classifier tells generated from real (cross-validated AUC), copies of 40-character runs,
   distinct word bigrams, dangling endings, lower-case starts, mean length.

    .venv/bin/python -m benchmarks.text_fidelity [--minutes 10] [--tweets 200] [--reuse]

Trained versions are kept under var/bench/text_fidelity/ (`--reuse` measures them again
without training; their word trees, word models and copy indexes are rebuilt from the training
tweets with the code as it is). Needs scikit-learn (`pip install scikit-learn`), a benchmark-only dependency.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.text_common import ROOT, corpus_files, load_corpus, save
from bot.chat.engine import THIN_TO
from corpora.cleaning import DANGLING
from models.text import artifact
from models.text.config import TextConfig
from models.text.data import PersonaTweet, split_by_tweet
from models.text.editor import defects
from models.text.lexicon import WordLists, is_known, split_words
from models.text.ngram import NGram
from models.text.sampler import Sample
from models.text.select import CopyIndex, Editor, Rules, choose, write_tweets
from models.text.vocab import EOS, Vocab

WORK = ROOT / "var" / "bench" / "text_fidelity"
CHAT = Rules()  # what /tweet uses: 16 candidates
SEEDS = 1000  # seeds SEEDS.. SEEDS+n: the same tweets on every run of the same model


def train(tweets: list[PersonaTweet], minutes: float, folder: Path) -> dict[str, Any]:
    """Fit one model on `tweets` and write it as a version folder; its metrics."""
    from models.text.train import fit, write_artifact

    config = TextConfig.cpu()
    train_part, val = split_by_tweet(tweets, config.val_fraction)
    vocab = Vocab.build((t for _, t in train_part), config.min_char_count)
    personas = sorted({p for p, _ in tweets})
    with tempfile.TemporaryDirectory() as work:
        result = fit(train_part, val, vocab, personas, config, Path(work), minutes=minutes)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_artifact(result, vocab, personas, config, train_part)(folder)
    metrics = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}
    if len(personas) == 1:
        metrics[f"bpc:{personas[0]}"] = metrics["bpc"]
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def kneser_ney_bpc(train_part: list[PersonaTweet], val: list[PersonaTweet]) -> float:
    vocab = Vocab.build((t for _, t in train_part), TextConfig.cpu().min_char_count)
    model = NGram.fit([vocab.encode(t) + [EOS] for _, t in train_part], 8, len(vocab))
    return model.bpc([vocab.encode(t) + [EOS] for _, t in val])


def write_after(folder: Path, persona: str, n: int, thin: int = 0) -> list[Sample]:
    """Tweets through the product's path: `write_tweets` with the chat rules (`thin`: the
    candidates thinned as they write, as the chat's generation engine does)."""
    sampler, editor = artifact.load(folder)
    return [write_tweets(sampler, editor, persona, rules=CHAT, temperature=0.8,
                         seed=SEEDS + i, thin=thin)[0] for i in range(n)]


def write_before(folder: Path, persona: str, n: int) -> list[Sample]:
    """Tweets as the product wrote them before the word constraint and the editor."""
    sampler, editor = artifact.load(folder)
    rules = Rules(real_words=False, editor=False)
    out = []
    for i in range(n):
        samples = sampler.generate(persona, rules.candidates, temperature=0.8, seed=SEEDS + i,
                                   real_words=False, mentions=True)
        out.append(choose(samples, Editor(editor.copies), rules)[0][0])
    return out


def measures(texts: list[str], persona: str, lists: WordLists, copies: CopyIndex) -> dict:
    """What a reader notices, for one set of tweets."""
    known = lists.allowed(persona)
    words = [w for t in texts for w in split_words(t)]
    bigrams = [pair for t in texts for pair in zip(t.lower().split(), t.lower().split()[1:])]
    return {
        "tweets": len(texts),
        "real_word_rate": float(np.mean([is_known(w, known) for w in words])) if words else 0.0,
        "copies": float(np.mean([copies.copies(t) for t in texts])),
        "distinct_2": len(set(bigrams)) / max(len(bigrams), 1),
        "dangling": float(np.mean([bool(DANGLING.search(t)) for t in texts])),
        "lower_case_start": float(np.mean(["lower-case start" in defects(t, True) for t in texts])),
        "mean_chars": float(np.mean([len(t) for t in texts])),
    }


def classifiers(train_parts: dict[str, list[str]]) -> Any:
    """A character n-gram classifier of the personas' training tweets."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = [t for group in train_parts.values() for t in group]
    labels = [p for p, group in train_parts.items() for _ in group]
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=4.0),
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


def targets(after: dict, before: dict, real: dict) -> dict[str, bool]:
    return {
        "real_word_rate": after["real_word_rate"] >= real["real_word_rate"],
        "attribution": after["attribution"] >= 0.95 * real["attribution"],
        "copies": after["copies"] <= 0.01,
        "distinct_2": after["distinct_2"] >= 0.9 * real["distinct_2"],
        "dangling": after["dangling"] <= real["dangling"],
        "lower_case_start": after["lower_case_start"] <= real["lower_case_start"],
        "distinguishability": after["auc"] < before["auc"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget")
    parser.add_argument("--tweets", type=int, default=200, help="tweets written per persona")
    parser.add_argument("--reuse", action="store_true", help="measure the kept models again")
    args = parser.parse_args()
    corpora = {path.stem: load_corpus(path) for path in corpus_files()}
    split = {name: split_by_tweet(tweets, TextConfig.cpu().val_fraction)
             for name, tweets in corpora.items()}
    folders = {"together": WORK / "together", **{n: WORK / f"alone-{n}" for n in corpora}}
    if not args.reuse or not all((f / "metrics.json").exists() for f in folders.values()):
        train([t for tweets in corpora.values() for t in tweets], args.minutes,
              folders["together"])
        for name, tweets in corpora.items():
            train(tweets, args.minutes / len(corpora), folders[name])
    else:  # what is counted rather than learned follows the code as it is now
        for name, folder in folders.items():
            sampler, _ = artifact.load(folder)
            tweets = [t for n in corpora if name in ("together", n) for t in split[n][0]]
            artifact.write_tables(folder, sampler.vocab, sampler.config, tweets)
    metrics = {key: json.loads((f / "metrics.json").read_text()) for key, f in folders.items()}
    budget = {
        name: {
            "together_bpc": metrics["together"][f"bpc:{name}"],
            "alone_bpc": metrics[name][f"bpc:{name}"],
            "kneser_ney_8_bpc": kneser_ney_bpc(*split[name]),
        }
        for name in corpora
    }
    together_wins = sum(b["together_bpc"] <= b["alone_bpc"] for b in budget.values()) * 2 > len(
        budget
    )
    default = "together" if together_wins else "alone"
    rng = np.random.default_rng(0)
    train_parts = {n: [t for _, t in split[n][0]] for n in corpora}
    attribute = classifiers(train_parts)
    lists = WordLists.of([t for n in corpora for t in split[n][0]], TextConfig.cpu().word_zipf)
    results: dict[str, Any] = {}
    first_five: dict[str, Any] = {}
    for name in corpora:
        folder = folders["together"] if default == "together" else folders[name]
        val = [t for _, t in split[name][1]]
        real_texts = [val[i] for i in rng.choice(len(val), min(args.tweets, len(val)), False)]
        copies = CopyIndex.build(train_parts[name], copy_chars=40, min_copy_chars=40)
        sets = {
            "after": [s.text for s in write_after(folder, name, args.tweets)],
            "before": [s.text for s in write_before(folder, name, args.tweets)],
            "after_thinned": [s.text for s in write_after(folder, name, args.tweets, THIN_TO)],
            "real": real_texts,
        }
        entry = {}
        for side, texts in sets.items():
            entry[side] = measures(texts, name, lists, copies)
            entry[side]["attribution"] = float(np.mean(attribute.predict(texts) == name))
            if side != "real":
                entry[side]["auc"] = distinguishability(texts, real_texts)
        entry["targets"] = targets(entry["after"], entry["before"], entry["real"])
        entry["target_met"] = all(entry["targets"].values())
        entry["thinning_auc_change"] = entry["after_thinned"]["auc"] - entry["after"]["auc"]
        results[name] = entry
        first_five[name] = {"before": sets["before"][:5], "after": sets["after"][:5]}
    save("text_fidelity", {
        "minutes": args.minutes,
        "same_budget": {"default": default, "corpora": budget},
        "sampling": {"candidates": CHAT.candidates, "temperature": 0.8, "seeds": SEEDS},
        "corpora": results,
        "first_five": first_five,
        "target_met": all(entry["target_met"] for entry in results.values()),
    })


if __name__ == "__main__":
    main()
