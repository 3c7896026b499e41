"""Many requests in one batch of rows, stepped together: continuous batching for the sampler.

A request asks for `count` tweets of a persona (or a blend), each chosen from `candidates` of its
own; every `step` advances every row one symbol with one GRU product and one compiled pass each
for the n-gram mixture, the word constraint and the draw. Each tweet's group first reads its
start symbol and its prompt in one row, which splits into the group's candidates as sampling
starts. With a word `Guide` the rows of a group are weighed every `GUIDE_EVERY` characters by
their words (`models/text/guide.py`) and resampled when the weights grow uneven, in islands of
at most `ISLAND` rows so that many candidates keep many lineages (sequential Monte Carlo: rows
writing the persona's word order multiply, word salad dies out). A request may
be thinned: at `THIN_AT` sampled characters its rows still writing are halved, the best so far
kept. A row leaves the batch when it ends; a request is returned as soon as its last row has
left, while other requests go on and new ones join at any step (in the manner of continuous
batching in LLM servers).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field, fields

import numpy as np

from models.errors import ModelError
from models.text.guide import MIXED_PENALTY, Guide
from models.text.lexicon import OUTSIDE
from models.text.ngram import NGramState
from models.text.sampler import MAX_CHARS, Sample, Sampler
from models.text.vocab import BOS, EOS
from models.text.words import prefix_tokens


@dataclass(frozen=True)
class Request:
    """What one caller asks the sampler for: `count` tweets of `persona` (blended with `blend`,
    `mix` of it), each the best of `candidates` of its own, starting with `prompt` and at most
    `max_chars` long.

    `real_words`: only words of the persona(s) and their language(s), when the version has a
    word tree; `mentions` False: no @ is written (a mention cut out later would leave a sentence
    without its start); `stop_at_end` False: rows go on to `max_chars` (for measuring speed);
    `thin`: halve a tweet's rows still writing at `THIN_AT` characters, never below `thin` of
    them (0: never); `guide`: weight of the word guide's log-weights (0: unguided)."""

    persona: str
    count: int = 1
    candidates: int = 1
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
    guide: float = 0.0

    def check(self) -> None:
        """A one-line `ModelError` for settings no sampler can use."""
        if not 0 < self.temperature < math.inf or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ModelError("need a finite temperature > 0, 0 < top-p <= 1 and top-k >= 0")
        if len(self.prompt) >= self.max_chars:
            raise ModelError(f"prompt is {len(self.prompt)} characters; the limit is {self.max_chars}")
        if self.count < 1 or self.candidates < 1:
            raise ModelError("need at least one tweet and one candidate")
        if self.thin < 0 or not 0 <= self.guide < math.inf:
            raise ModelError("thin needs a count of rows >= 0, guide a finite weight >= 0")


_NOT_END, _NO_AT = 1, 2  # bits of a row's base mask: no end yet, no @
THIN_AT = (24, 48)  # sampled characters at which a thinned request's writing rows are halved
GUIDE_EVERY = 8  # sampled characters between the word guide's weighings (3 and 6 wrote as
# well on the tuning corpora, 10 worse)
RESAMPLE_BELOW = 0.5  # resample an island when its effective rows fall under this share
ISLAND = 16  # rows resampled together: a tweet's candidates beyond this many form islands of
# their own (with 256 resampled together, 254 of them shared their first three words)
_MAX_CANDIDATES = 1 << 32
_THINNED = Sample("", -math.inf, False)  # the place of a row thinned out


def _rows(dtype: type | str = np.int64, width: int = 0) -> np.ndarray:
    return field(default_factory=lambda: np.empty((0, width) if width else 0, dtype))


@dataclass
class Rows:
    """Per-row state, one array each, rows in the same order in all of them (declared once:
    `take` and `extend` go through every field)."""

    group: np.ndarray = _rows()  # the tweet (a group of candidates) the row writes for
    index: np.ndarray = _rows()  # the row's place among its group's candidates
    copies: np.ndarray = _rows()  # rows this one becomes when it starts sampling
    persona: np.ndarray = _rows(np.float32, 1)  # contribution to the first GRU input
    inverse_t: np.ndarray = _rows(np.float32)  # 1 / temperature (float32: a float64 power of
    # the probabilities took 5x as long, most of a step at 400 rows)
    base: np.ndarray = _rows()  # _NOT_END | _NO_AT
    constrained: np.ndarray = _rows(bool)  # walks the word tree
    node: np.ndarray = _rows()  # where in the word tree
    bits: np.ndarray = _rows(np.uint64)  # the word lists it may write from
    forced: np.ndarray = _rows(np.int64, 1)  # its prompt's symbols
    prompt_len: np.ndarray = _rows()
    read: np.ndarray = _rows()  # how many of them it has read
    limit: np.ndarray = _rows()  # symbols it may sample
    stop_at_end: np.ndarray = _rows(bool)
    thin: np.ndarray = _rows()
    guide: np.ndarray = _rows(np.float64)  # weight of the word guide
    out: np.ndarray = _rows(np.int32, 1)  # sampled symbols
    length: np.ndarray = _rows()
    total: np.ndarray = _rows(np.float64)  # log-probability of the sampled symbols
    order: np.ndarray = _rows(np.float64)  # word-guide score of its words so far
    scored: np.ndarray = _rows()  # how many of its tokens that score has read
    mixed: np.ndarray = _rows(np.float64)  # its words of a second language
    weight: np.ndarray = _rows(np.float64)  # log-weight gathered since its group last resampled
    inputs: np.ndarray = _rows()  # its next GRU input

    def __len__(self) -> int:
        return len(self.group)

    def take(self, rows: np.ndarray) -> None:
        """Keep only `rows` (a mask, or indices that may repeat a row)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name)[rows])
        if len(self):  # no wider than the rows left need
            self.forced = self.forced[:, : self.prompt_len.max()]
            self.out = self.out[:, : self.limit.max()]

    def extend(self, other: Rows) -> None:
        """Append `other`'s rows (2-D fields padded with zeros to the wider of the two)."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if mine.ndim == 2:
                mine, theirs = _widen(mine, theirs.shape[1]), _widen(theirs, mine.shape[1])
            setattr(self, f.name, np.concatenate([mine, theirs]))


@dataclass
class _Pending:
    """A request being sampled: its tag, itself, and each of its tweets' candidates."""

    tag: Hashable
    request: Request
    groups: list[list[Sample | None]]
    first_group: int  # group id of its first tweet
    left: int  # candidates not returned yet


class Batch:
    """The rows of every request being sampled by one `Sampler`; see the module docstring."""

    def __init__(self, sampler: Sampler, rng: np.random.Generator | None = None,
                 guide: Guide | None = None) -> None:
        from models.text import compiled  # Numba: loaded with the first batch

        self.sampler, self.rng, self.guide = sampler, rng or np.random.default_rng(), guide
        self._compiled = compiled
        self._pending: dict[int, _Pending] = {}  # by the group id of its first tweet
        self._owner: dict[int, int] = {}  # group id -> its request's key in `_pending`
        self._next_group = 0
        self.rows = Rows(persona=np.empty((0, 3 * sampler.config.units), np.float32))
        self.state = sampler.start(0)
        self.counts = NGramState(sampler.ngram, 0) if sampler.ngram is not None else None
        self._start_context = (
            NGramState(sampler.ngram, 1).context if sampler.ngram is not None else None
        )
        self._thinning = False  # a thinned request has joined (thinning is then checked)
        v = sampler.writable
        no_at = v.copy()
        no_at[sampler.at_sign] = 0.0
        self._bases = np.stack([v, sampler.writable_not_end, no_at, no_at * sampler.writable_not_end])

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def planned(self) -> int:
        """Rows stepped now and once every group has split into its candidates."""
        return int(self.rows.copies.sum())

    @property
    def waiting(self) -> int:
        """Requests not finished yet."""
        return len(self._pending)

    def tags(self) -> list[Hashable]:
        """The tags of the requests not finished yet."""
        return [pending.tag for pending in self._pending.values()]

    def add(self, request: Request, tag: Hashable = None) -> None:
        """Add a reading row per tweet of `request`, each becoming `request.candidates` rows;
        `step` returns the candidates under `tag` once all have ended."""
        request.check()
        s, n = self.sampler, request.count
        persona = s.persona_input(request.persona, request.blend, request.mix)
        prompt = np.asarray(s.vocab.encode(request.prompt), np.int64)
        constrained = request.real_words and s.lexicon is not None
        bits = s.lexicon.bits(request.persona, *filter(None, [request.blend])) if constrained else 0
        limit = request.max_chars - len(request.prompt)
        first = self._next_group
        self._next_group += n
        self.state.h = [np.concatenate([h, np.zeros((n, h.shape[1]), np.float32)])
                        for h in self.state.h]
        self.state.top_recurrent = np.concatenate(
            [self.state.top_recurrent, np.zeros((n, self.state.top_recurrent.shape[1]), np.float32)])
        if self.counts is not None:
            self.counts.context = np.concatenate([self.counts.context,
                                                  np.repeat(self._start_context, n, axis=0)])
        base = (0 if request.prompt else _NOT_END) | (0 if request.mentions else _NO_AT)
        guided = request.guide if self.guide is not None else 0.0
        self.rows.extend(Rows(
            group=np.arange(first, first + n), index=np.zeros(n, np.int64),
            copies=np.full(n, request.candidates), persona=np.repeat(persona[None], n, axis=0),
            inverse_t=np.full(n, 1.0 / request.temperature, np.float32), base=np.full(n, base),
            constrained=np.full(n, constrained), node=np.full(n, OUTSIDE),
            bits=np.full(n, bits, np.uint64), forced=np.repeat(prompt[None], n, axis=0),
            prompt_len=np.full(n, len(prompt)), read=np.zeros(n, np.int64),
            limit=np.full(n, limit), stop_at_end=np.full(n, request.stop_at_end),
            thin=np.full(n, request.thin), guide=np.full(n, guided),
            out=np.zeros((n, limit), np.int32), length=np.zeros(n, np.int64),
            total=np.zeros(n), order=np.zeros(n), scored=np.ones(n, np.int64), mixed=np.zeros(n),
            weight=np.zeros(n),
            inputs=np.full(n, BOS),
        ))
        self._thinning = bool(self.rows.thin.any())
        for g in range(first, first + n):
            self._owner[g] = first
        self._pending[first] = _Pending(  # last: whole or absent
            tag, request, [[None] * request.candidates for _ in range(n)], first,
            n * request.candidates)

    def step(self) -> list[tuple[Hashable, list[list[Sample]]]]:
        """Advance every row one symbol; returns the requests whose last row ended, with each
        tweet's candidates in order."""
        if not len(self):
            return []
        s, r = self.sampler, self.rows
        probs = s.next_probs(s.step(r.inputs, r.persona, self.state), self.counts)
        reading = r.read < r.prompt_len
        split = np.where(reading, 1, r.copies)
        if (split > 1).any():  # rows that have read their prompt become their group's candidates
            at = np.repeat(np.arange(len(self)), split)
            first = np.repeat(np.cumsum(split) - split, split)
            r.copies[split > 1] = 1
            self._take(at)
            r.index += np.arange(len(at)) - first
            probs, reading = probs[at], reading[at]
        rows = np.arange(len(self))
        chosen = self._draw(probs, self._allowed())
        if reading.any():
            chosen = np.where(reading, r.forced[rows, np.minimum(r.read, r.forced.shape[1] - 1)],
                              chosen)
            r.read += reading
        sampling = ~reading
        sampled = rows[sampling]
        r.total[sampled] += np.log(probs[sampled, chosen[sampled]])
        r.out[sampled, r.length[sampled]] = chosen[sampled]
        r.length[sampled] += 1
        r.base[sampled] &= ~_NOT_END
        ended = sampling & (((chosen == EOS) & r.stop_at_end) | (r.length >= r.limit))
        chosen = self._weigh(sampling & ~ended, chosen)
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
            self._compiled.word_advance(r.node, chosen, s.lexicon.classes, *_tree(s))
        r.inputs = chosen
        return finished

    def text(self, row: int) -> str:
        """What row `row` has written so far, its prompt included."""
        r = self.rows
        pending = self._pending[self._owner[int(r.group[row])]]
        return pending.request.prompt + self.sampler.vocab.decode(r.out[row, : r.length[row]])

    def _weigh(self, writing: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        """Every `GUIDE_EVERY` characters: each guided row still writing adds its words' new
        score to its weight, and an island (up to `ISLAND` of a tweet's candidates) whose
        weights have grown uneven is resampled (its rows replaced by copies of the heavier
        ones, systematically); returns `chosen` in the new row order."""
        r = self.rows
        due = np.flatnonzero(writing & (r.guide > 0) & (r.length % GUIDE_EVERY == 0))
        if not len(due):
            return chosen
        at = np.arange(len(self))
        requests = [self._pending[self._owner[int(g)]].request for g in r.group[due]]
        personas = np.asarray([request.persona for request in requests])
        for persona in np.unique(personas):  # one scoring per persona, whatever the requests
            mine = due[personas == persona]
            texts = [self.text(int(i)) for i in mine]
            seqs = [prefix_tokens(text) for text in texts]
            grown = np.asarray([len(seq) for seq in seqs]) > r.scored[mine]
            if not grown.any():  # no word completed since the last weighing
                continue
            mine, texts = mine[grown], [t for t, g in zip(texts, grown) if g]
            seqs = [q for q, g in zip(seqs, grown) if g]
            gained = self.guide.terms(str(persona), seqs, r.scored[mine])
            mixed = self.guide.mixed(str(persona), texts)
            r.weight[mine] += r.guide[mine] * (gained - MIXED_PENALTY * (mixed - r.mixed[mine]))
            r.order[mine] += gained
            r.mixed[mine], r.scored[mine] = mixed, [len(seq) for seq in seqs]
            if r.constrained[mine].any():
                r.bits[mine] = self.guide.settle_language(str(persona), texts, r.bits[mine])
        islands = r.group[due] * _MAX_CANDIDATES + r.index[due] // ISLAND
        for island in np.unique(islands):
            rows = due[islands == island]
            source = _resample(r.weight[rows], self.rng)
            if source is not None:
                at[rows] = rows[source]
                r.weight[rows] = 0.0
        if (at == np.arange(len(self))).all():
            return chosen
        index = r.index.copy()  # rows keep their places; only what they hold moves
        self._take(at)
        r.index = index
        return chosen[at]

    def _allowed(self) -> np.ndarray:
        """(rows, vocab): what each row may write next."""
        s, r = self.sampler, self.rows
        base = self._bases[r.base]
        if s.lexicon is None or not r.constrained.any():
            return base
        allowed = np.empty_like(base)
        self._compiled.word_mask(r.node, r.bits, base, s.lexicon.classes, *_tree(s),
                                 s.lexicon.terminal, s.lexicon.reach, allowed)
        return allowed if r.constrained.all() else np.where(r.constrained[:, None], allowed, base)

    def _draw(self, probs: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        r = self.rows
        if (r.inverse_t == 1.0).all():
            weights = probs
        else:  # scaled first so that each row's likeliest allowed symbol weighs 1: a cold
            weights = probs * allowed  # temperature cannot round a row's every weight to 0
            weights /= np.maximum(weights.max(axis=1, keepdims=True), np.finfo(np.float32).tiny)
            weights **= r.inverse_t[:, None]
        for first, pending in self._pending.items():
            request = pending.request
            if 0 < request.top_k < weights.shape[1] or request.top_p < 1.0:
                rows = (r.group >= first) & (r.group < first + request.count)
                weights = weights if weights is not probs else weights.copy()
                weights[rows] = _truncate(weights[rows] * allowed[rows], request.top_k, request.top_p)
        return self._compiled.draw(weights, allowed, self.rng.random(len(weights)))

    def _thinned(self, ended: np.ndarray) -> np.ndarray:
        """The rows thinned out this step: of each thinned group whose writing rows have just
        reached a `THIN_AT` length (they split together, so all have), all but the best half
        (mean log-probability so far, plus the word guide's score per character), and never
        below its `thin`."""
        r = self.rows
        out = np.zeros(len(self), bool)
        if not self._thinning:
            return out
        due = r.length == THIN_AT[0]
        for at in THIN_AT[1:]:
            due |= r.length == at
        due = np.flatnonzero(due & (r.thin > 0) & ~ended)
        if not len(due):
            return out
        group = r.group[due]
        guided = r.order[due] - MIXED_PENALTY * r.mixed[due]
        merit = (r.total[due] + r.guide[due] * guided) / r.length[due]
        order = np.lexsort((-merit, group))  # by group, best first
        due, group = due[order], group[order]
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        sizes = np.diff(np.r_[starts, len(due)])
        rank = np.arange(len(due)) - np.repeat(starts, sizes)
        keep = np.maximum(r.thin[due[starts]], (sizes + 1) // 2)
        out[due[rank >= np.repeat(keep, sizes)]] = True
        return out

    def _finish(self, ended: np.ndarray, leaving: np.ndarray
                ) -> list[tuple[Hashable, list[list[Sample]]]]:
        r, decode, done = self.rows, self.sampler.vocab.decode, []
        for i in np.flatnonzero(leaving):
            group = int(r.group[i])
            pending = self._pending[self._owner[group]]
            row = r.out[i, : r.length[i]]
            pending.groups[group - pending.first_group][int(r.index[i])] = Sample(
                pending.request.prompt + decode(row[row != EOS]),
                float(r.total[i] / max(r.length[i], 1)),
                bool((row == EOS).any()),
            ) if ended[i] else _THINNED
            pending.left -= 1
            if not pending.left:
                del self._pending[pending.first_group]
                for g in range(pending.first_group, pending.first_group + len(pending.groups)):
                    del self._owner[g]
                done.append((pending.tag, [[sample for sample in samples if sample is not _THINNED]
                                           for samples in pending.groups]))
        return done  # type: ignore[return-value]

    def _take(self, rows: np.ndarray) -> None:
        """Keep only `rows` (a mask, or indices that may repeat a row) of every row's state."""
        self.state.keep(rows)
        if self.counts is not None:
            self.counts.keep(rows)
        self.rows.take(rows)


def sample(sampler: Sampler, request: Request, *, guide: Guide | None = None,
           rng: np.random.Generator | None = None, seed: int | None = None) -> list[list[Sample]]:
    """`request` sampled in a batch of its own (random draws from `rng`, else from `seed`):
    each tweet's candidates."""
    batch = Batch(sampler, rng or np.random.default_rng(seed), guide)
    batch.add(request)
    while True:
        for _, groups in batch.step():
            return groups


def candidates(sampler: Sampler, persona: str, n: int = 1, *, seed: int | None = None,
               **options: object) -> list[Sample]:
    """`n` unguided candidates of one tweet, sampled together (`options`: those of `Request`);
    for training's sample tweets, tests and benchmarks (the product writes through
    `models.text.writing`)."""
    request = Request(persona, 1, n, **options)  # type: ignore[arg-type]
    return sample(sampler, request, seed=seed)[0]


def _resample(log_weight: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Systematic resampling of rows by their log-weights, when fewer than `RESAMPLE_BELOW` of
    them are effective (None: keep them as they are)."""
    if len(log_weight) < 2:
        return None
    w = np.exp(log_weight - log_weight.max())
    if w.sum() ** 2 >= RESAMPLE_BELOW * len(w) * (w * w).sum():
        return None
    edges = np.cumsum(w) / w.sum()
    points = (rng.random() + np.arange(len(w))) / len(w)
    return np.minimum(np.searchsorted(edges, points), len(w) - 1)


def _tree(sampler: Sampler) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lexicon = sampler.lexicon
    return lexicon.child_start, lexicon.child_symbol, lexicon.child_node


def _widen(array: np.ndarray, width: int) -> np.ndarray:
    """`array` padded with zero columns to at least `width`."""
    if array.shape[1] >= width:
        return array
    return np.pad(array, ((0, 0), (0, width - array.shape[1])))


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
