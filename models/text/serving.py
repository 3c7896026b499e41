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
from models.text import artifact
from models.text.select import Editor
from storage.registry import ModelKind, ModelVersion


def serving_version(registry: Registry, *personas: str) -> ModelVersion:
    """The serving text model version that knows every one of `personas`."""
    serving = [
        v for v in registry.serving_versions(ModelKind.TEXT)
        if set(personas) <= set(v.config.get("personas", ()))
    ]
    preferred = {"+".join(sorted(personas)): 0, "all": 1}
    serving.sort(key=lambda v: preferred.get(v.target, 2))  # stable: newest first within a rank
    if not serving:
        how = "nowbot train text" + (
            " --together" + "".join(f" -p {p}" for p in personas) if len(personas) > 1 else ""
        )
        raise NoServingModel(
            f"no serving text model knows {' and '.join(personas)} yet: "
            f"train {'them together' if len(personas) > 1 else 'one'} first ({how})"
        )
    return serving[0]


@lru_cache(maxsize=4)
def load_generator(folder: Path) -> tuple[Sampler, Editor]:
    """The sampler and editor of a version (cached: versions never change on disk)."""
    return artifact.load(folder)
