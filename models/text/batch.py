"""Many requests in one batch of rows, stepped together: continuous batching for the sampler.

Each request (a persona or a blend, a prompt, a temperature, how many candidates) adds its rows
to the batch; every `step` advances every row one symbol with one GRU product and one compiled
pass each for the n-gram mixture, the word constraint and the draw. A row first reads its start
symbol and its prompt, then samples; a request's rows read alike, so one row reads for all of
them and splits into `n` as sampling starts. A request may be thinned: at `THIN_AT` sampled
characters its rows still writing are halved, the most likely so far kept (a burst's rows, and
its wait for its longest candidate, shrink by half and more while each tweet is still chosen
among all its candidates' starts). A row leaves the batch when it ends; a request is returned
as soon as its last row has left, while other requests go on and new ones join at any step (in
the manner of continuous batching in LLM servers). `Sampler.generate` is one request in a batch
of its own, so there is one sampling loop.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from models.errors import ModelError
from models.text.lexicon import OUTSIDE
from models.text.ngram import NGramState
from models.text.sampler import MAX_CHARS, Sample, Sampler
from models.text.vocab import BOS, EOS


@dataclass(frozen=True)
class Request:
    """What one caller asks the sampler for: `n` samples of `persona` (blended with `blend`,
    `mix` of it), each starting with `prompt` and at most `max_chars` long.

    `real_words`: only words of the persona(s) and their language(s), when the version has a
    word tree; `mentions` False: no @ is written (a mention cut out later would leave a sentence
    without its start); `stop_at_end` False: rows go on to `max_chars` (for measuring speed);
    `thin`: halve the rows still writing at `THIN_AT` characters, never below `thin` of them
    (0: never), so fewer than `n` samples may come back."""

    persona: str
    n: int = 1
    prompt: str = ""
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    blend: str | None = None
    mix: float = 0.5
    max_chars: int = MAX_CHARS
    real_words: bool = True
    mentions: bool = True
    stop_at_end: bool = True
    thin: int = 0

    def check(self) -> None:
        """A one-line `ModelError` for settings no sampler can use."""
        if not 0 < self.temperature < math.inf or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ModelError("need a finite temperature > 0, 0 < top-p <= 1 and top-k >= 0")
        if len(self.prompt) >= self.max_chars:
            raise ModelError(f"prompt is {len(self.prompt)} characters; the limit is {self.max_chars}")
        if self.n < 1:
            raise ModelError("need at least one sample")
        if self.thin < 0:
            raise ModelError("thin needs a count of rows >= 0")


_NOT_END, _NO_AT = 1, 2  # bits of a row's base mask: no end yet, no @
THIN_AT = (24, 48)  # sampled characters at which a thinned request's writing rows are halved
_THINNED = Sample("", -math.inf, False)  # the place of a row thinned out


class Batch:
    """The rows of every request being sampled by one `Sampler`; see the module docstring."""

    def __init__(self, sampler: Sampler, rng: np.random.Generator | None = None) -> None:
        from models.text import compiled  # Numba: loaded with the first batch

        self.sampler, self.rng, self._compiled = sampler, rng or np.random.default_rng(), compiled
        self._requests: dict[int, tuple[Hashable, Request, list[Sample | None]]] = {}
        self._next_id = 0
        width = 3 * sampler.config.units
        self.state = sampler.start(0)
        self.counts = NGramState(sampler.ngram, 0) if sampler.ngram is not None else None
        self._start_context = (
            NGramState(sampler.ngram, 1).context if sampler.ngram is not None else None
        )
        self.request = np.empty(0, np.int64)  # request id of each row
        self.index = np.empty(0, np.int64)  # the row's place among its request's samples
        self.copies = np.empty(0, np.int64)  # rows this one becomes when it starts sampling
        self.persona = np.empty((0, width), np.float32)
        self.inverse_t = np.empty(0, np.float32)  # 1 / temperature (float32: a float64 power
        # of the probabilities took 5x as long, most of a step at 400 rows)
        self.base = np.empty(0, np.int64)  # _NOT_END | _NO_AT
        self.constrained = np.empty(0, bool)  # walks the word tree
        self.node = np.empty(0, np.int64)
        self.bits = np.empty(0, np.uint64)
        self.forced = np.empty((0, 0), np.int64)  # each row's prompt symbols
        self.prompt_len = np.empty(0, np.int64)
        self.read = np.empty(0, np.int64)  # how many of them the row has read
        self.limit = np.empty(0, np.int64)  # symbols the row may sample
        self.stop_at_end = np.empty(0, bool)
        self.thin = np.empty(0, np.int64)
        self._thinning = False  # a thinned request has joined (thinning is then checked)
        self.out = np.empty((0, 0), np.int32)  # sampled symbols
        self.length = np.empty(0, np.int64)
        self.total = np.empty(0, np.float64)  # log-probability of the sampled symbols
        self.inputs = np.empty(0, np.int64)  # each row's next GRU input
        v = sampler.writable
        no_at = v.copy()
        no_at[sampler.at_sign] = 0.0
        self._bases = np.stack([v, sampler.writable_not_end, no_at, no_at * sampler.writable_not_end])

    def __len__(self) -> int:
        return len(self.request)

    @property
    def rows(self) -> int:
        """Rows stepped now and once every request has split into its samples."""
        return int(self.copies.sum())

    @property
    def waiting(self) -> int:
        """Requests not finished yet."""
        return len(self._requests)

    def tags(self) -> list[Hashable]:
        """The tags of the requests not finished yet."""
        return [tag for tag, _, _ in self._requests.values()]

    def add(self, request: Request, tag: Hashable = None) -> None:
        """Add a row that becomes `request.n`; `step` returns them under `tag` once all have
        ended."""
        request.check()
        s = self.sampler
        persona = s.persona_input(request.persona, request.blend, request.mix)
        n, rid = 1, self._next_id
        self._next_id += 1
        prompt = np.asarray(s.vocab.encode(request.prompt), np.int64)
        constrained = request.real_words and s.lexicon is not None
        bits = s.lexicon.bits(request.persona, *filter(None, [request.blend])) if constrained else 0
        limit = request.max_chars - len(request.prompt)
        self.state.h = [np.concatenate([h, np.zeros((n, h.shape[1]), np.float32)]) for h in self.state.h]
        self.state.top_recurrent = np.concatenate(
            [self.state.top_recurrent, np.zeros((n, self.state.top_recurrent.shape[1]), np.float32)])
        if self.counts is not None:
            self.counts.context = np.concatenate([self.counts.context,
                                                  np.repeat(self._start_context, n, axis=0)])
        self.request = np.concatenate([self.request, np.full(n, rid)])
        self.index = np.concatenate([self.index, np.arange(n)])
        self.copies = np.concatenate([self.copies, [request.n]])
        self.persona = np.concatenate([self.persona, np.broadcast_to(persona, (n, len(persona)))])
        self.inverse_t = np.concatenate([self.inverse_t, np.full(n, 1.0 / request.temperature,
                                                                 np.float32)])
        base = (0 if request.prompt else _NOT_END) | (0 if request.mentions else _NO_AT)
        self.base = np.concatenate([self.base, np.full(n, base)])
        self.constrained = np.concatenate([self.constrained, np.full(n, constrained)])
        self.node = np.concatenate([self.node, np.full(n, OUTSIDE)])
        self.bits = np.concatenate([self.bits, np.full(n, bits, np.uint64)])
        self.forced = _append_rows(self.forced, np.broadcast_to(prompt, (n, len(prompt))))
        self.prompt_len = np.concatenate([self.prompt_len, np.full(n, len(prompt))])
        self.read = np.concatenate([self.read, np.zeros(n, np.int64)])
        self.limit = np.concatenate([self.limit, np.full(n, limit)])
        self.stop_at_end = np.concatenate([self.stop_at_end, np.full(n, request.stop_at_end)])
        self.thin = np.concatenate([self.thin, np.full(n, request.thin)])
        self._thinning = bool(self.thin.any())
        self.out = _append_rows(self.out, np.zeros((n, limit), np.int32))
        self.length = np.concatenate([self.length, np.zeros(n, np.int64)])
        self.total = np.concatenate([self.total, np.zeros(n)])
        self.inputs = np.concatenate([self.inputs, np.full(n, BOS)])
        self._requests[rid] = (tag, request, [None] * request.n)  # last: whole or absent

    def step(self) -> list[tuple[Hashable, list[Sample]]]:
        """Advance every row one symbol; returns the requests whose last row ended, with their
        samples in order."""
        if not len(self):
            return []
        s = self.sampler
        probs = s.next_probs(s.step(self.inputs, self.persona, self.state), self.counts)
        reading = self.read < self.prompt_len
        split = np.where(reading, 1, self.copies)
        if (split > 1).any():  # rows that have read their prompt become their request's samples
            at = np.repeat(np.arange(len(self)), split)
            first = np.repeat(np.cumsum(split) - split, split)
            self.copies[split > 1] = 1
            self._take(at)
            self.index += np.arange(len(at)) - first
            probs, reading = probs[at], reading[at]
        rows = np.arange(len(self))
        chosen = self._draw(probs, self._allowed())
        if reading.any():
            chosen = np.where(reading, self.forced[rows, np.minimum(self.read, self.forced.shape[1] - 1)],
                              chosen)
            self.read += reading
        sampling = ~reading
        sampled = rows[sampling]
        self.total[sampled] += np.log(probs[sampled, chosen[sampled]])
        self.out[sampled, self.length[sampled]] = chosen[sampled]
        self.length[sampled] += 1
        self.base[sampled] &= ~_NOT_END
        ended = sampling & (((chosen == EOS) & self.stop_at_end) | (self.length >= self.limit))
        leaving = ended | self._thinned(ended)
        if leaving.any():
            finished = self._finish(ended, leaving)
            going = ~leaving
            chosen = chosen[going]
            self._take(going)
        else:
            finished = []
        if self.counts is not None:
            self.counts.advance(chosen)
        if s.lexicon is not None:
            self._compiled.word_advance(self.node, chosen, s.lexicon.classes, *_tree(s))
        self.inputs = chosen
        return finished

    def _allowed(self) -> np.ndarray:
        """(rows, vocab): what each row may write next."""
        s = self.sampler
        base = self._bases[self.base]
        if s.lexicon is None or not self.constrained.any():
            return base
        allowed = np.empty_like(base)
        self._compiled.word_mask(self.node, self.bits, base, s.lexicon.classes, *_tree(s),
                                 s.lexicon.terminal, s.lexicon.reach, allowed)
        return allowed if self.constrained.all() else np.where(self.constrained[:, None], allowed, base)

    def _draw(self, probs: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        if (self.inverse_t == 1.0).all():
            weights = probs
        else:  # scaled first so that each row's likeliest allowed symbol weighs 1: a cold
            weights = probs * allowed  # temperature cannot round a row's every weight to 0
            weights /= np.maximum(weights.max(axis=1, keepdims=True), np.finfo(np.float32).tiny)
            weights **= self.inverse_t[:, None]
        for rid, (_, request, _) in self._requests.items():
            if 0 < request.top_k < weights.shape[1] or request.top_p < 1.0:
                rows = self.request == rid
                weights = weights if weights is not probs else weights.copy()
                weights[rows] = _truncate(weights[rows] * allowed[rows], request.top_k, request.top_p)
        return self._compiled.draw(weights, allowed, self.rng.random(len(weights)))

    def _thinned(self, ended: np.ndarray) -> np.ndarray:
        """The rows thinned out this step: of each thinned request whose writing rows have just
        reached a `THIN_AT` length (they split together, so all have), all but the most likely
        half (mean log-probability so far), and never below its `thin`."""
        out = np.zeros(len(self), bool)
        if not self._thinning:
            return out
        due = self.length == THIN_AT[0]
        for at in THIN_AT[1:]:
            due |= self.length == at
        due = np.flatnonzero(due & (self.thin > 0) & ~ended)
        if not len(due):
            return out
        rid = self.request[due]
        order = np.lexsort((-self.total[due] / self.length[due], rid))  # by request, best first
        due, rid = due[order], rid[order]
        starts = np.flatnonzero(np.r_[True, rid[1:] != rid[:-1]])
        sizes = np.diff(np.r_[starts, len(due)])
        rank = np.arange(len(due)) - np.repeat(starts, sizes)
        keep = np.maximum(self.thin[due[starts]], (sizes + 1) // 2)
        out[due[rank >= np.repeat(keep, sizes)]] = True
        return out

    def _finish(self, ended: np.ndarray, leaving: np.ndarray) -> list[tuple[Hashable, list[Sample]]]:
        decode, done = self.sampler.vocab.decode, []
        for r in np.flatnonzero(leaving):
            tag, request, samples = self._requests[int(self.request[r])]
            row = self.out[r, : self.length[r]]
            samples[int(self.index[r])] = Sample(
                request.prompt + decode(row[row != EOS]),
                float(self.total[r] / max(self.length[r], 1)),
                bool((row == EOS).any()),
            ) if ended[r] else _THINNED
            if all(sample is not None for sample in samples):
                del self._requests[int(self.request[r])]
                done.append((tag, [sample for sample in samples if sample is not _THINNED]))
        return done  # type: ignore[return-value]

    def _take(self, rows: np.ndarray) -> None:
        """Keep only `rows` (a mask, or indices that may repeat a row) of every row's state."""
        self.state.keep(rows)
        if self.counts is not None:
            self.counts.keep(rows)
        for name in ("request", "index", "copies", "persona", "inverse_t", "base", "constrained",
                     "node", "bits", "forced", "prompt_len", "read", "limit", "stop_at_end", "thin",
                     "out", "length", "total", "inputs"):
            setattr(self, name, getattr(self, name)[rows])
        if len(self):  # no wider than the rows left need
            self.forced = self.forced[:, : self.prompt_len.max()]
            self.out = self.out[:, : self.limit.max()]


def _tree(sampler: Sampler) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lexicon = sampler.lexicon
    return lexicon.child_start, lexicon.child_symbol, lexicon.child_node


def _append_rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`array` with `rows` below it, both padded with zeros to the wider of the two."""
    width = max(array.shape[1], rows.shape[1])
    out = np.zeros((len(array) + len(rows), width), array.dtype)
    out[: len(array), : array.shape[1]] = array
    out[len(array):, : rows.shape[1]] = rows
    return out


def _truncate(weights: np.ndarray, top_k: int, top_p: float) -> np.ndarray:
    """`weights` with all but each row's `top_k` largest and its `top_p` nucleus set to 0."""
    if 0 < top_k < weights.shape[1]:
        kth = np.partition(weights, -top_k, axis=1)[:, -top_k, None]
        weights[weights < kth] = 0.0
    if top_p < 1.0:
        order = np.argsort(-weights, axis=1)
        ranked = np.take_along_axis(weights, order, 1)
        ranked /= ranked.sum(axis=1, keepdims=True)
        # Keep the smallest prefix whose mass reaches top_p (always the first symbol).
        drop = np.cumsum(ranked, axis=1) - ranked >= top_p
        keep = np.empty_like(weights)
        np.put_along_axis(keep, order, ~drop, axis=1)
        weights = weights * keep
    return weights
