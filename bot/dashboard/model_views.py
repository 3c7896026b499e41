"""What the models and images pages show: trainings running now with their live curves, every
model version with its metrics in words, the gate's verdict and the personas it speaks, and the
image models' grids and progress animations; and the campaign's review model as the queue
shows it (`review_panel`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.core import reviewing
from bot.core.training import active_runs
from bot.core.runtime import Runtime
from bot.core.versions import KIND_NAMES, Fact, describe, number, verdict
from storage.base import as_utc
from models.registry import Registry
from storage.corpus import Persona
from storage.imagesets import ImageSet
from storage.outbox import GeneratedItem
from storage.registry import ModelVersion, TrainingRun

IMAGE_KINDS = ("gan", "draw")  # versions whose folders hold grid.png and progress.gif
VERSION_FILES = ("grid.png", "progress.gif")


@dataclass
class VersionView:
    id: int
    kind: str
    kind_name: str
    target: str
    version: int
    status: str
    created: Any
    verdict: str
    speaks: str
    facts: list[Fact]
    chart_url: str | None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunView:
    id: int
    kind_name: str
    target: str
    status: str
    progress: int | None  # percent of the budget spent
    latest: list[Fact]
    started: Any
    chart_url: str | None


def _chart_url(run: TrainingRun | None) -> str | None:
    curve = run.metrics.get("curve") if run is not None else None
    return f"/charts/runs/{run.id}.svg?points={len(curve)}" if run is not None and curve else None


def version_view(version: ModelVersion, run: TrainingRun | None, personas: list[str]) -> VersionView:
    told = describe(version, personas)
    return VersionView(
        id=version.id, kind=version.kind, kind_name=told.kind_name, target=version.target,
        version=version.version, status=version.status, created=as_utc(version.created_at),
        verdict=told.verdict, speaks=told.speaks, facts=told.facts, chart_url=_chart_url(run),
        raw={key: value for key, value in version.metrics.items() if key != "gate"},
    )


def _runs(runtime: Runtime, ids: set[int]) -> dict[int, TrainingRun]:
    with runtime.app.sessions() as session:
        return {run.id: run for run in session.scalars(select(TrainingRun).where(TrainingRun.id.in_(ids)))}


def _latest(kind: str, curve: list[dict[str, Any]]) -> list[Fact]:
    if not curve:
        return []
    from bot.dashboard.charts import LINES

    values = {}
    for point in curve:  # the newest value of each line
        values.update(point.get("values", {}))
    facts = [Fact(LINES.get(name, name), number(float(value))) for name, value in values.items()]
    return [Fact("step", f"{curve[-1]['step']:,}"), *facts]


def run_view(run: TrainingRun) -> RunView:
    curve = run.metrics.get("curve", [])
    progress = round(100 * curve[-1]["fraction"]) if curve else None
    return RunView(id=run.id, kind_name=KIND_NAMES.get(run.kind, run.kind), target=run.target or "",
                   status=run.status, progress=progress, latest=_latest(run.kind, curve),
                   started=as_utc(run.created_at), chart_url=_chart_url(run))


def models_page(runtime: Runtime) -> dict[str, Any]:
    """Trainings now (live curves and progress) and the newest versions of every model."""
    app = runtime.app
    versions = Registry(app.sessions, app.artifacts_dir).versions()[:30]
    runs = _runs(runtime, {v.training_run_id for v in versions if v.training_run_id})
    with app.sessions() as session:
        personas = list(session.scalars(select(Persona.name)))
    active = active_runs(app)
    return {
        "training": [run_view(run) for run in active],
        "versions": [version_view(v, runs.get(v.training_run_id or -1), personas) for v in versions],
        "refresh": 15 if active else 0,
    }


@dataclass(frozen=True)
class ImageVersionView:
    id: int
    label: str  # "digits v2, step 1,500"
    status: str
    verdict: str
    grid_url: str | None
    gif_url: str | None
    frames: int


@dataclass(frozen=True)
class ImageSetView:
    kind_name: str
    name: str
    versions: list[ImageVersionView]
    sample_url: str | None  # the newest image made for posts
    sample_label: str


def _image_version(version: ModelVersion) -> ImageVersionView:
    folder = Path(version.artifact_path)
    steps = version.metrics.get("steps")
    label = f"{version.target} v{version.version}" + (f", step {steps:,}" if steps is not None else "")
    return ImageVersionView(
        id=version.id, label=label, status=version.status,
        verdict=verdict(version),
        grid_url=f"/versions/{version.id}/grid.png" if (folder / "grid.png").is_file() else None,
        gif_url=f"/versions/{version.id}/progress.gif" if (folder / "progress.gif").is_file() else None,
        frames=len(list((folder / "frames").glob("step-*.png"))),
    )


def images_page(runtime: Runtime) -> dict[str, Any]:
    """Per image set and image model: its newest versions' grids and progress animations, and
    the newest image made for a post."""
    app = runtime.app
    registry = Registry(app.sessions, app.artifacts_dir)
    with app.sessions() as session:
        sets = list(session.scalars(select(ImageSet.name).order_by(ImageSet.name)))
        samples: dict[str, GeneratedItem] = {}
        for item in session.scalars(select(GeneratedItem).where(GeneratedItem.kind.in_(("image", "image_batch")))
                                    .order_by(GeneratedItem.id.desc()).limit(100)):
            samples.setdefault(item.details.get("image_set", ""), item)
    blocks = []
    for kind in IMAGE_KINDS:
        versions = registry.versions(kind)
        targets = sets if kind == "gan" else sorted({v.target for v in versions})
        for name in targets:
            mine = [v for v in versions if v.target == name][:4]
            if kind != "gan" and not mine:
                continue
            sample = samples.get(name) if kind == "gan" else None
            blocks.append(ImageSetView(
                kind_name=KIND_NAMES[kind], name=name, versions=[_image_version(v) for v in mine],
                sample_url=f"/items/{sample.id}" if sample else None,
                sample_label=f"made {as_utc(sample.created_at):%Y-%m-%d %H:%M} UTC" if sample else "",
            ))
    return {"sets": blocks, "campaign_set": app.settings.campaign_image_set}


@dataclass(frozen=True)
class ReviewPanel:
    """The campaign's review model in words, as the review queue shows it."""

    campaign: str
    summary: str  # on or off and why
    learned: str  # what reviewers approve more and less
    newest: str | None  # the newest training's version and the gate's verdict on it
    trained: Any  # when the newest training finished
    enabled: bool  # the operator's switch: the panel offers the other position


def review_panel(runtime: Runtime) -> ReviewPanel:
    """The campaign persona's review loop (`bot.core.reviewing.state`) in words."""
    loop = reviewing.state(runtime.app)
    latest = loop.latest
    newest = f"v{latest.version} {verdict(latest)}" if latest is not None else None
    return ReviewPanel(loop.campaign, loop.summary(), loop.learned(), newest,
                       as_utc(latest.created_at) if latest is not None else None, loop.enabled)


def version_file(runtime: Runtime, version_id: int, name: str) -> Path | None:
    """A version's grid or progress GIF, if it has one inside the artifacts folder."""
    if name not in VERSION_FILES:
        return None
    with runtime.app.sessions() as session:
        version = session.get(ModelVersion, version_id)
    if version is None:
        return None
    path = (Path(version.artifact_path) / name).resolve()
    inside = path.is_relative_to(runtime.app.artifacts_dir.resolve())
    return path if inside and path.is_file() else None


def run_curve(runtime: Runtime, run_id: int) -> tuple[str, list[dict[str, Any]]] | None:
    """(kind, curve points) of training run `run_id`, or None when it has no curve."""
    with runtime.app.sessions() as session:
        run = session.get(TrainingRun, run_id)
    if run is None or not run.metrics.get("curve"):
        return None
    return run.kind, run.metrics["curve"]
