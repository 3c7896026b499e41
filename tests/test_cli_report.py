"""The line a training tells the operator: promoted or not, with the metric and why, from the
registry's real gate."""

from __future__ import annotations

from bot.app import App
from bot.cli.report import BITS_PER_CHAR, FRECHET, Serving, budget_words, outcome_line
from models.registry import Registry, TrainingOutcome


def judged(app: App, kind: str, metrics: dict[str, float], veto: str | None = None) -> str:
    """The operator's line for a new version of `kind` judged by the registry's gate."""
    registry = Registry(app.sessions, app.artifacts_dir)
    served = registry.serving(kind, "ada")
    version = registry.save_version(kind, "ada", lambda folder: None, metrics)
    metric = BITS_PER_CHAR if kind == "text" else FRECHET
    verdict = registry.promote_if_better(version.id, metric.key, veto=veto)
    before = Serving(served.version, served.metrics) if served else None
    return outcome_line(kind, "ada", TrainingOutcome(version.version, verdict, metrics, None, None),
                        metric, before)


def test_outcome_lines_say_promoted_or_not_with_the_metric_and_why(sqlite_app: App) -> None:
    assert judged(sqlite_app, "text", {"bpc": 2.301}) == "text ada v1 promoted: 2.301 bits/char, the first version"
    assert judged(sqlite_app, "text", {"bpc": 2.264}) == \
        "text ada v2 promoted: 2.264 bits/char, better than v1's 2.301"
    assert judged(sqlite_app, "text", {"bpc": 2.4}) == \
        "text ada v3 not promoted: 2.400 bits/char, worse than v2's 2.264; v2 keeps serving"
    assert judged(sqlite_app, "gan", {"fid": 5.0}, veto="mode collapse") == \
        "gan ada v1 not promoted (mode collapse): Frechet distance 5.0; nothing serves yet"


def test_budget_words() -> None:
    assert [budget_words(2.0, None), budget_words(10 / 3, None), budget_words(None, 1),
            budget_words(None, 4)] == ["2 min", "3.33 min", "1 pass", "4 passes"]
