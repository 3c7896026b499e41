"""Finding and loading the serving text model for a persona, without TensorFlow.

Targets: a model trained with `--persona ada` serves target "ada"; one trained on several
personas serves their names joined by "+"; one trained on every persona serves "all". A persona
is served by its own target first, then "all", then the newest other model that knows it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from models.errors import NoServingModel
from models.registry import Registry
from models.text.sampler import Sampler
from models.text.select import CopyIndex
from storage.registry import ModelKind, VersionStatus


def serving_path(registry: Registry, *personas: str) -> Path:
    """Artifact folder of the serving text model that knows every one of `personas`."""
    serving = [
        v for v in registry.versions(ModelKind.TEXT) if v.status == VersionStatus.SERVING
        and set(personas) <= set(v.config.get("personas", ()))
    ]
    preferred = {"+".join(sorted(personas)): 0, "all": 1}
    serving.sort(key=lambda v: preferred.get(v.target, 2))  # stable: newest first within a rank
    if not serving:
        raise NoServingModel(
            f"no serving text model knows {' and '.join(personas)} yet: "
            "train one first (nowbot train text)"
        )
    return Path(serving[0].artifact_path)


@lru_cache(maxsize=4)
def load_generator(folder: Path) -> tuple[Sampler, CopyIndex]:
    """The sampler and copy index of a version (cached: versions never change on disk)."""
    return Sampler.load(folder), CopyIndex.load(folder / "copy_index.npz")
