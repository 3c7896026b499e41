"""Embedded image sets drawn with Pillow: no download, no third-party images.

`draw_digits` renders the digits 0-9 with Pillow's bundled font, each one scaled, rotated, sheared,
thickened and shifted at random, then blurred a little so that strokes look like pen strokes.
`draw_shapes` renders simple labelled shapes in random colours (the colour feature extractor's
training data). Both are deterministic for a given seed.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DIGIT_SIZE = 28
SHAPES = ("ellipse", "rectangle", "triangle", "ring", "cross", "diamond", "bar", "star")


def _digit(rng: np.random.Generator, digit: int, fonts: list[ImageFont.FreeTypeFont]) -> Image.Image:
    canvas = Image.new("L", (84, 84), 0)
    draw = ImageDraw.Draw(canvas)
    font = fonts[int(rng.integers(len(fonts)))]
    draw.text(
        (42, 42), str(digit), fill=255, font=font, anchor="mm",
        stroke_width=int(rng.integers(0, 4)), stroke_fill=255,
    )
    # A random affine map (rotation, shear, anisotropic scale) around the centre.
    angle = math.radians(rng.uniform(-15, 15))
    shear = rng.uniform(-0.3, 0.3)
    sx, sy = rng.uniform(0.85, 1.2), rng.uniform(0.9, 1.15)
    a, b = math.cos(angle) / sx, (math.sin(angle) + shear) / sx
    d, e = -math.sin(angle) / sy, math.cos(angle) / sy
    cx = cy = 42.0
    canvas = canvas.transform(
        canvas.size, Image.Transform.AFFINE,
        (a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy), resample=Image.Resampling.BILINEAR,
    )
    # Fit the ink box into 20x20 and centre it in 28x28, as MNIST was prepared.
    box = canvas.getbbox() or (0, 0, 84, 84)
    ink = canvas.crop(box)
    scale = 20 / max(ink.size)
    ink = ink.resize(
        (max(1, round(ink.width * scale)), max(1, round(ink.height * scale))), Image.Resampling.LANCZOS
    )
    out = Image.new("L", (DIGIT_SIZE, DIGIT_SIZE), 0)
    jitter = rng.integers(-2, 3, size=2)
    out.paste(ink, ((DIGIT_SIZE - ink.width) // 2 + int(jitter[0]), (DIGIT_SIZE - ink.height) // 2 + int(jitter[1])))
    return out.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 0.6)))


def draw_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` drawn digits as uint8 (count, 28, 28) and their labels 0-9 (count,)."""
    rng = np.random.default_rng(seed)
    fonts = [ImageFont.load_default(size=size) for size in (48, 56, 64)]
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = np.stack([np.asarray(_digit(rng, int(label), fonts)) for label in labels])
    return images, labels.astype(np.int64)


def _star(cx: float, cy: float, r: float, points: int = 5) -> list[tuple[float, float]]:
    return [
        (cx + (r if i % 2 == 0 else r * 0.45) * math.cos(math.pi * i / points - math.pi / 2),
         cy + (r if i % 2 == 0 else r * 0.45) * math.sin(math.pi * i / points - math.pi / 2))
        for i in range(2 * points)
    ]


def _shape(rng: np.random.Generator, kind: str, size: int) -> Image.Image:
    background = tuple(int(v) for v in rng.integers(0, 256, size=3))
    colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    r = rng.uniform(0.2, 0.4) * size
    cx, cy = rng.uniform(r, size - r, size=2)
    box = (cx - r, cy - r, cx + r, cy + r)
    width = max(2, int(r / 3))
    if kind == "ellipse":
        draw.ellipse((cx - r, cy - r * rng.uniform(0.6, 1), cx + r, cy + r * rng.uniform(0.6, 1)), fill=colour)
    elif kind == "rectangle":
        draw.rectangle(box, fill=colour)
    elif kind == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    elif kind == "ring":
        draw.ellipse(box, outline=colour, width=width)
    elif kind == "cross":
        draw.line((cx - r, cy, cx + r, cy), fill=colour, width=width)
        draw.line((cx, cy - r, cx, cy + r), fill=colour, width=width)
    elif kind == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    elif kind == "bar":
        draw.line((cx - r, cy - r, cx + r, cy + r), fill=colour, width=width)
    else:
        draw.polygon(_star(cx, cy, r), fill=colour)
    return image.rotate(rng.uniform(-30, 30), fillcolor=background).filter(
        ImageFilter.GaussianBlur(rng.uniform(0.0, 1.0))
    )


def draw_shapes(count: int, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` colour shapes as uint8 (count, size, size, 3) and their class index in `SHAPES`."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(SHAPES)
    rng.shuffle(labels)
    images = np.stack([np.asarray(_shape(rng, SHAPES[int(label)], size)) for label in labels])
    return images, labels.astype(np.int64)
