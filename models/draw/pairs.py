"""Training pairs made from any image set, in NumPy (no TensorFlow): a sketch of each photo (edges
of photos, thinned strokes of digits; stroke thickness and gaps jittered so a hand-drawn pen line
looks like one of them) or its label map (the photo's regions quantised to a small fixed palette,
the GauGAN idea). Images are uint8 (n, h, w, c); sketches are uint8 (n, h, w, 1), ink 0 on
white 255; label maps are uint8 class indices (n, h, w).
"""

from __future__ import annotations

import numpy as np

# The colours a label map is painted in (the dashboard's palette): background first.
COLOUR_PALETTE = np.array([
    (255, 255, 255), (30, 30, 30), (130, 130, 130), (205, 35, 40), (115, 20, 30),
    (235, 135, 40), (235, 210, 70), (85, 165, 55), (115, 75, 40), (45, 85, 200),
], dtype=np.float32)
GREY_PALETTE = np.array([(0,), (128,), (255,)], dtype=np.float32)


def palette_for(channels: int) -> np.ndarray:
    """The fixed palette (classes, channels) of label maps of grey or colour sets."""
    return GREY_PALETTE if channels == 1 else COLOUR_PALETTE


def grey(images: np.ndarray) -> np.ndarray:
    """uint8 (n, h, w, c) -> float32 (n, h, w) in [0, 1]."""
    x = images.astype(np.float32) / 255.0
    return x[..., 0] if x.shape[-1] == 1 else x @ np.array([0.299, 0.587, 0.114], np.float32)


def _window(x: np.ndarray, radius: int, reduce) -> np.ndarray:  # type: ignore[no-untyped-def]
    """`reduce` (np.maximum or np.minimum) over a (2r+1)^2 window, edges replicated; x (n, h, w)."""
    if radius <= 0:
        return x
    h, w = x.shape[1:3]
    padded = np.pad(x, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    out = x.copy()
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out = reduce(out, padded[:, dy:dy + h, dx:dx + w])
    return out


def dilate(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """Grow True regions of (n, h, w) by `radius` pixels (Chebyshev distance)."""
    return _window(mask, radius, np.maximum)


def erode(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    return _window(mask, radius, np.minimum)


def _blur(x: np.ndarray) -> np.ndarray:
    """Binomial 5-tap blur along height and width of (n, h, w, ...)."""
    taps = np.array([1, 4, 6, 4, 1], np.float32) / 16
    for axis in (1, 2):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (2, 2)
        padded = np.pad(x, pad, mode="edge")
        length = x.shape[axis]
        x = sum(t * np.take(padded, np.arange(i, i + length), axis=axis) for i, t in enumerate(taps))
    return x


def edge_strength(images: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of the blurred grey image, scaled so that each image's strong
    edges (its 98th percentile) are about 1; float32 (n, h, w)."""
    g = np.pad(_blur(grey(images)), ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = (g[:, :-2, 2:] + 2 * g[:, 1:-1, 2:] + g[:, 2:, 2:]) - (g[:, :-2, :-2] + 2 * g[:, 1:-1, :-2] + g[:, 2:, :-2])
    gy = (g[:, 2:, :-2] + 2 * g[:, 2:, 1:-1] + g[:, 2:, 2:]) - (g[:, :-2, :-2] + 2 * g[:, :-2, 1:-1] + g[:, :-2, 2:])
    magnitude = np.hypot(gx, gy)
    scale = np.percentile(magnitude.reshape(len(magnitude), -1), 98, axis=1)
    return magnitude / np.maximum(scale, 0.05)[:, None, None]  # flat images keep weak edges weak


def lines(images: np.ndarray, style: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """Bool (n, h, w) pen lines of each image: `edges` (photos: outlines and strong inner edges)
    or `strokes` (digits: the bright strokes, thinned). With `rng` the threshold, thickness and
    gaps are jittered per image, as a person's drawing varies; without it they are fixed."""
    n = len(images)
    jitter = rng is not None
    if style == "edges":
        level = rng.uniform(0.35, 0.7, (n, 1, 1)) if jitter else 0.5
        drawn = edge_strength(images) > level
    else:
        level = rng.uniform(0.55, 0.9, (n, 1, 1)) if jitter else 0.75
        drawn = grey(images) > level  # a high threshold keeps each stroke's core: a thinner line
    if not jitter:
        return drawn
    thick = rng.random(n) < 0.3
    drawn = np.where(thick[:, None, None], dilate(drawn), drawn)
    # Gaps: a coarse random field switched off where it is low, so lines break in short runs.
    h, w = drawn.shape[1:]
    coarse = rng.random((n, (h + 3) // 4, (w + 3) // 4))
    field = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)[:, :h, :w]
    gap_rate = rng.uniform(0.0, 0.15, (n, 1, 1))
    return drawn & (field >= gap_rate)


def sketch_images(drawn: np.ndarray) -> np.ndarray:
    """Bool lines (n, h, w) -> uint8 sketches (n, h, w, 1): ink 0 on white 255."""
    return np.where(drawn, 0, 255).astype(np.uint8)[..., None]


def label_maps(images: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Each pixel's nearest palette colour, then a soft majority vote over its neighbourhood, so
    regions come out as the flat areas a person would paint (blurring first would invent thin
    halo classes at every border); uint8 class indices (n, h, w)."""
    distance = ((images.astype(np.float32)[..., None, :] - palette) ** 2).sum(-1)  # (n, h, w, classes)
    labels = distance.argmin(-1)
    onehot = np.eye(len(palette), dtype=np.float32)[labels]
    votes = _blur(onehot)  # a soft majority over the 5x5 neighbourhood
    return votes.argmax(-1).astype(np.uint8)


def paint(labels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Class indices (n, h, w) -> uint8 images (n, h, w, c) in the palette's colours."""
    return palette[labels].astype(np.uint8)


def conditions(images: np.ndarray, mode: str, style: str, rng: np.random.Generator | None = None
               ) -> np.ndarray:
    """The model inputs for `images`: sketches (n, h, w, 1) or label maps (n, h, w)."""
    if mode == "labels":
        return label_maps(images, palette_for(images.shape[-1]))
    return sketch_images(lines(images, style, rng))
