"""Learning curves as SVG pictures, drawn on the server with matplotlib.

matplotlib is imported on the first chart (the dashboard starts without it) and drives no GUI:
each chart is its own `Figure` on the Agg/SVG canvas, never pyplot's global state. A curve's
SVG is cached by its points, so a finished version is drawn once and a running training again
only when a new point arrives.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

# What each recorded value is called on a chart, and the order lines are drawn in.
LINES = {
    "bpc": "training text",
    "dev_bpc": "held-out text",
    "d_loss": "discriminator loss",
    "g_loss": "generator loss",
}
AXES = {"text": "bits per character (lower is better)", "gan": "hinge loss"}
Series = tuple[tuple[str, tuple[tuple[int, float], ...]], ...]


def series(curve: Sequence[dict[str, Any]]) -> Series:
    """The lines of a recorded curve (`Registry.record_curve` points): (name, ((step, value),
    ...)) per value name, known names first in `LINES` order."""
    names: dict[str, list[tuple[int, float]]] = {}
    for point in curve:
        for name, value in point.get("values", {}).items():
            names.setdefault(name, []).append((int(point["step"]), float(value)))
    order = [name for name in LINES if name in names] + sorted(set(names) - set(LINES))
    return tuple((name, tuple(names[name])) for name in order)


@lru_cache(maxsize=128)
def curve_svg(lines: Series, kind: str) -> bytes:
    """An SVG chart of `lines` against training steps (text kept as text, so it scales and is
    searchable)."""
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    rcParams["svg.fonttype"] = "none"
    rcParams["svg.hashsalt"] = "nowbot"  # the same curve gives the same bytes
    figure = Figure(figsize=(6.4, 2.8), layout="constrained")
    axes = figure.add_subplot()
    for name, points in lines:
        steps, values = zip(*points)
        style = {"marker": "o", "markersize": 3} if len(points) < 40 else {}
        axes.plot(steps, values, label=LINES.get(name, name), linewidth=1.6, **style)
    axes.set_xlabel("training step")
    axes.set_ylabel(AXES.get(kind, "value"))
    axes.grid(alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    if lines:
        axes.legend(frameon=False, fontsize="small")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", transparent=True)
    return buffer.getvalue()
