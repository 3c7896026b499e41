"""Every tunable of the image model in one place, saved with each version as `config.json`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from models.errors import ModelError

START_SIZES = (4, 5, 6, 7)
Config = TypeVar("Config", bound="SavedConfig")


class SavedConfig:
    """A dataclass of hyperparameters saved with a version as JSON (tuples come back as tuples)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)  # type: ignore[call-overload]

    @classmethod
    def load(cls: type[Config], path: Path) -> Config:
        data = json.loads(path.read_text())
        data["augment"] = tuple(data["augment"])
        return cls(**data)


@dataclass(frozen=True)
class GanConfig(SavedConfig):
    """Hyperparameters of one GAN; `for_set` picks them from the set's resolution and channels."""

    size: int  # square images, size x size pixels
    channels: int  # 1 grey, 3 colour
    latent_dim: int = 64
    g_filters: int = 32  # filters of the generator's last upsampling layer; doubled per layer above
    d_filters: int = 64  # filters of the discriminator's first layer; doubled per layer below
    batch_size: int = 64  # real images per step; the discriminator also sees as many fakes
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.99
    ema_decay: float = 0.999
    augment: tuple[str, ...] = ("translation", "cutout")
    grid_seeds: int = 64  # fixed latent vectors rendered into the progress grids
    grid_every: int = 250  # steps between progress grids
    checkpoint_every: int = 250  # steps between resumable checkpoints
    collapse_ratio: float = 0.5  # generated/real feature diversity below this counts as mode collapse
    seed: int = 0

    @property
    def start_size(self) -> int:
        """Side of the generator's first feature map (7 for 28x28, 4 for 64x64)."""
        return self.size >> self.upsamplings

    @property
    def upsamplings(self) -> int:
        """How many stride-2 layers lead from `start_size` to `size`."""
        steps, side = 0, self.size
        while side not in START_SIZES:
            if side % 2 or side < 4:
                raise ModelError(f"unsupported image size {self.size}: need 4-7 times a power of two")
            side, steps = side // 2, steps + 1
        return steps

    @classmethod
    def for_set(cls, size: int, channels: int, **overrides: object) -> GanConfig:
        """Defaults sized for CPU training: wider nets for small grey digits, thinner ones and
        colour augmentation for larger colour photos."""
        if channels == 3:
            base: dict[str, object] = dict(
                g_filters=16 if size > 32 else 32, d_filters=32, batch_size=32,
                augment=("color", "translation", "cutout"),
            )
        else:
            base = {}
        config = cls(size=size, channels=channels, **{**base, **overrides})  # type: ignore[arg-type]
        config.upsamplings  # noqa: B018 (validates the size early)
        return config
