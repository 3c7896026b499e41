"""Every tunable of the draw model in one place, saved with each version as `config.json`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models.errors import ModelError
from models.gan.config import SavedConfig

Mode = Literal["sketch", "labels"]
MODES: tuple[Mode, ...] = ("sketch", "labels")


@dataclass(frozen=True)
class DrawConfig(SavedConfig):
    """Hyperparameters of one draw model; `for_set` picks them from the set's size and channels."""

    size: int  # square images, size x size pixels
    channels: int  # of the photo: 1 grey, 3 colour
    mode: Mode = "sketch"
    spade: bool = False  # SPADE-modulated decoder (label mode): the label map steers every scale
    g_filters: int = 32  # filters of the U-Net's first layer; doubled per layer below, up to 8x
    d_filters: int = 32  # filters of the PatchGAN's first layer
    batch_size: int = 16
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.99
    l1_weight: float = 30.0  # L1 to the photo, against the hinge loss's ~1: follow first, then look real
    ema_decay: float = 0.995
    augment: tuple[str, ...] = ("translation", "cutout")  # DiffAugment on the discriminator's pairs
    flip: bool = True  # mirror pairs in training (off for digits: a mirrored 2 is no digit)
    variants: int = 4  # jittered sketches made per photo for training
    grid_pairs: int = 8  # fixed pairs rendered into the progress grids
    grid_every: int = 250
    checkpoint_every: int = 250
    follow_ratio: float = 0.5  # follow score below this share of the real photo's vetoes a version
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ModelError(f"unknown draw mode {self.mode!r}: use {' or '.join(MODES)}")
        side = self.size
        while side % 2 == 0 and side > 7:
            side //= 2
        if side > 7 or self.size < 8:
            raise ModelError(f"unsupported image size {self.size}: need 4-7 times a power of two")

    @property
    def downsamplings(self) -> int:
        """Stride-2 layers of the U-Net's encoder: down to a 4-7 pixel bottleneck (64 -> 4, 28 -> 7)."""
        steps, side = 0, self.size
        while side % 2 == 0 and side > 7:
            side, steps = side // 2, steps + 1
        return steps

    @property
    def style(self) -> str:
        """How sketches are taken: 'strokes' of grey digit-like sets, 'edges' of colour photos."""
        return "strokes" if self.channels == 1 else "edges"

    @classmethod
    def for_set(cls, size: int, channels: int, mode: Mode = "sketch", **overrides: object) -> DrawConfig:
        """Defaults sized for CPU training; SPADE in label mode, no flips for grey (digit) sets,
        colour augmentation for colour photos."""
        base: dict[str, object] = dict(spade=mode == "labels", flip=channels == 3)
        if channels == 3:
            base["augment"] = ("color", "translation", "cutout")
        return cls(size=size, channels=channels, mode=mode, **{**base, **overrides})  # type: ignore[arg-type]
