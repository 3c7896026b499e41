"""What a training command tells its operator: that it started, how far it is, and whether the
new version was promoted, with the metric and why. Run by the service as a child, these lines
are marked for its console (`bot.core.children`); the rest of a child's output stays in its log."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.cli.common import say_plain

if TYPE_CHECKING:
    from models.registry import TrainingOutcome

PROGRESS_EVERY_S = 30.0


def say(line: str) -> None:
    """Print `line` for the person running the command (or the service's console)."""
    from bot.logs import RELAY_ENV, RELAY_PREFIX

    if os.environ.get(RELAY_ENV):
        print(RELAY_PREFIX + line, flush=True)
    else:
        say_plain(line)


@dataclass(frozen=True)
class Metric:
    """The metric a kind of model is gated on, and how to write its value."""

    key: str
    label: str  # "{} bits/char"
    digits: int

    def number(self, metrics: dict[str, object]) -> str:
        value = metrics.get(self.key)
        return f"{value:.{self.digits}f}" if isinstance(value, (int, float)) else f"no {self.key}"

    def __call__(self, metrics: dict[str, object]) -> str:
        return self.label.format(self.number(metrics))


BITS_PER_CHAR = Metric("bpc", "{} bits/char", 3)
FRECHET = Metric("fid", "Frechet distance {}", 1)


@dataclass(frozen=True)
class Serving:
    """The version serving before a training run, to compare the new one with."""

    version: int
    metrics: dict[str, object]


def outcome_line(kind: str, target: str, outcome: TrainingOutcome, metric: Metric,
                 before: Serving | None) -> str:
    """`text siggraph v2 promoted: 2.264 bits/char, better than v1's 2.301` (lower is better for
    both gated metrics), or why the new version does not serve."""
    name = f"{kind} {target} v{outcome.version}"
    value = metric(outcome.metrics)
    if outcome.verdict.promoted:
        if before is None:
            return f"{name} promoted: {value}, the first version"
        old, new = before.metrics.get(metric.key), outcome.metrics.get(metric.key)
        compared = "as good as" if old == new else "better than"
        return f"{name} promoted: {value}, {compared} v{before.version}'s {metric.number(before.metrics)}"
    why = outcome.verdict.reason.removeprefix("rejected: ")
    serving = f"v{before.version} keeps serving" if before else "nothing serves yet"
    if before is not None and why.startswith(metric.key):
        return (f"{name} not promoted: {value}, worse than v{before.version}'s "
                f"{metric.number(before.metrics)}; {serving}")
    return f"{name} not promoted ({why}): {value}; {serving}"


def start_words(outcome: TrainingOutcome) -> str:
    """Where a training run started: `resumed at step 400`, `fine-tuned from v2`, `from the
    English prior english-v1`, `from scratch`."""
    if outcome.resumed_from_step is not None:
        return f"resumed at step {outcome.resumed_from_step}"
    if outcome.finetuned_from is not None:
        return f"fine-tuned from v{outcome.finetuned_from}"
    if prior := outcome.metrics.get("prior"):
        return f"from the English prior {prior}"
    return "from scratch"


def budget_words(minutes: float | None, passes: float | None) -> str:
    """`2 min`, `3.33 min`, `1 pass`, `4 passes`."""
    if minutes is not None:
        return f"{round(minutes, 2):g} min"
    return f"{passes:g} pass" + ("" if passes == 1 else "es")


class ProgressLines:
    """`text siggraph: 40% trained, 2.611 bits/char` at most every `PROGRESS_EVERY_S`."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.said_at = time.monotonic()

    def __call__(self, done: float, detail: str) -> None:
        now = time.monotonic()
        if now - self.said_at >= PROGRESS_EVERY_S and done < 1.0:
            self.said_at = now
            say(f"{self.subject}: {done:.0%} trained, {detail}")
