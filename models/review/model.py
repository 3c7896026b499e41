"""A campaign's review model: logistic regression (scikit-learn) from a draft's features
(`models/review/features.py`) to the chance its reviewers approve it.

Decisions are soft labels: approved 1, edited 0.5 (half an approval), rejected or regenerated
0; an edit is fitted as half an approval and half a rejection. The fitted weights are saved as
JSON (one number per named feature, no pickle), so serving needs neither scikit-learn nor the
version that fitted it, and a person can read what the model learned (`describe`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import ModelError
from models.review.features import SCORE_FEATURES, WORD_PREFIX, features, in_words

FILE = "review_model.json"
STRENGTH = 1.0  # scikit-learn's C: smaller keeps the weights nearer 0 on few decisions
TELLING = 0.25  # a weight (per standard deviation) this large is worth telling reviewers


@dataclass(frozen=True)
class ReviewModel:
    """Weights of named features and an intercept: P(approve) = sigmoid(intercept + w . x)."""

    weights: dict[str, float]
    intercept: float
    spreads: dict[str, float]  # each form or score feature's standard deviation when fitted
    centers: dict[str, float]  # and its mean


    @classmethod
    def fit(cls, rows: Sequence[Mapping[str, float]], labels: Sequence[float]) -> ReviewModel:
        """Fit to feature rows and their labels (0-1, edits 0.5); a `ModelError` unless the
        labels hold both an approval's and a rejection's share."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(labels, dtype=float)
        if not len(y) or y.max() == 0 or y.min() == 1:
            raise ModelError("a review model needs both approvals and rejections to learn from")
        # Each row twice, once per outcome, weighted by the label's share of it.
        doubled = [*rows, *rows]
        outcome = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
        share = np.concatenate([y, 1 - y])
        keep = share > 0
        vectorizer = DictVectorizer(sparse=False)
        x = vectorizer.fit_transform([row for row, k in zip(doubled, keep) if k])
        names = [str(n) for n in vectorizer.get_feature_names_out()]
        # Form and score features standardized (a length that varies by 0.2 would otherwise
        # need a weight the regularization forbids); words stay 0 or 1.
        form = np.asarray([not n.startswith(WORD_PREFIX) for n in names])
        mean = np.where(form, x.mean(axis=0), 0.0)
        spread = np.where(form & (x.std(axis=0) > 1e-9), x.std(axis=0), 1.0)
        model = LogisticRegression(C=STRENGTH, max_iter=1000)
        model.fit((x - mean) / spread, outcome[keep], sample_weight=share[keep])
        raw = model.coef_[0] / spread  # the same model on unscaled features
        weights = {n: float(w) for n, w in zip(names, raw) if w != 0}
        intercept = float(model.intercept_[0] - (raw * mean).sum())
        return cls(weights, intercept,
                   {n: float(d) for n, d, f in zip(names, spread, form) if f},
                   {n: float(m) for n, m, f in zip(names, mean, form) if f})

    def probability(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        """The chance each feature row is approved."""
        logits = np.fromiter(
            (self.intercept + sum(self.weights.get(n, 0.0) * v for n, v in row.items())
             for row in rows), dtype=float, count=len(rows))
        return 1.0 / (1.0 + np.exp(-logits))

    def approval(self, texts: Sequence[str]) -> np.ndarray:
        """The chance each of `texts` is approved, as far as its words and form tell: the
        editor's scores are held at their usual values. They are in the model so that a taste
        is not mistaken for fluency (questions are less likely per character, so reviewers who
        want questions approve less fluent drafts), not to rank a candidate up for being less
        fluent: fluency and voice are the editor's part of the ranking."""
        usual = {name: self.centers.get(name, 0.0) for name in SCORE_FEATURES}
        return self.probability([{**features(text), **usual} for text in texts])

    def describe(self, top: int = 5) -> tuple[list[str], list[str]]:
        """What the reviewers like and dislike, strongest first, in words."""
        scaled = {n: w * self.spreads.get(n, 1.0) for n, w in self.weights.items()
                  if n not in SCORE_FEATURES}  # not what `approval` ranks by
        telling = sorted(((w, n) for n, w in scaled.items() if abs(w) >= TELLING), reverse=True)
        likes = [in_words(n) for w, n in telling if w > 0][:top]
        dislikes = [in_words(n) for w, n in reversed(telling) if w < 0][:top]
        return likes, dislikes

    def save(self, folder: Path) -> None:
        (folder / FILE).write_text(json.dumps(
            {"intercept": self.intercept, "weights": self.weights, "spreads": self.spreads,
             "centers": self.centers},
            indent=1, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> ReviewModel:
        try:
            saved = json.loads((folder / FILE).read_text(encoding="utf-8"))
            return cls({str(k): float(v) for k, v in saved["weights"].items()},
                       float(saved["intercept"]),
                       {str(k): float(v) for k, v in saved["spreads"].items()},
                       {str(k): float(v) for k, v in saved["centers"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ModelError(f"unreadable review model in {folder.name}: {error}") from None
