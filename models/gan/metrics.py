"""Image quality: a Frechet distance in the feature space of a small classifier nowbot trains
itself, and a diversity check that flags mode collapse.

Feature extractors (stored as `ARTIFACTS/features/<name>.keras` with a `<name>.json` card saying
what they were trained on and how well they classify held-out drawings):
- `digits` for grey sets: a CNN trained to tell the ten digits apart on procedurally drawn digits
  (`corpora.procedural.draw_digits`, Pillow's bundled font, randomly scaled, rotated, sheared,
  thickened, shifted and blurred). Inputs are resized to 28x28.
- `shapes` for colour sets: the same kind of CNN trained to tell eight shapes apart on
  procedurally drawn shapes in random colours on random backgrounds (`draw_shapes`), so its
  features respond to outline, size, position and colour. Inputs are resized to 64x64.
No third-party images or weights are involved. Distances from different extractors are not
comparable; the gate only compares versions of one set, which always use the same extractor.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpora.procedural import SHAPES, draw_digits, draw_shapes

FEATURE_LAYER = "features"


@dataclass(frozen=True)
class ExtractorSpec:
    name: str
    size: int
    channels: int
    classes: int
    epochs: int  # enough for about 0.9 held-out accuracy or better


DIGITS = ExtractorSpec("digits", 28, 1, 10, epochs=3)
SHAPE_SPEC = ExtractorSpec("shapes", 64, 3, len(SHAPES), epochs=6)


def spec_for(channels: int) -> ExtractorSpec:
    """The extractor used for a set with this many channels."""
    return DIGITS if channels == 1 else SHAPE_SPEC


def _training_data(spec: ExtractorSpec, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if spec.name == "digits":
        images, labels = draw_digits(count, seed=seed)
        return images[..., None], labels
    return draw_shapes(count, size=spec.size, seed=seed)


def build_classifier(spec: ExtractorSpec):
    """A small CNN; its 64-unit `features` layer is the metric's feature space."""
    import keras
    from keras import layers

    image = keras.Input((spec.size, spec.size, spec.channels))
    x = layers.Rescaling(1 / 127.5, offset=-1)(image)
    # Stride-2 blocks down to a map of 4x4 or less, so that the features see whole shapes.
    filters, side = 32, spec.size
    while side > 4:
        x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)  # short training: fast-settling statistics
        x = layers.ReLU()(x)
        filters, side = min(2 * filters, 128), (side + 1) // 2
    x = layers.GlobalAveragePooling2D()(x)  # (b, 128)
    features = layers.Dense(64, activation="relu", name=FEATURE_LAYER)(x)
    logits = layers.Dense(spec.classes)(features)
    return keras.Model(image, logits, name=f"{spec.name}_classifier")


def train_extractor(
    spec: ExtractorSpec, folder: Path, count: int = 20000, epochs: int | None = None,
    min_accuracy: float = 0.8,
):
    """Train the classifier on `count` drawn images, save it and its card under `folder`,
    and return the feature model. An extractor that classifies fewer than `min_accuracy` of
    held-out drawings is not stored: its features would make every distance meaningless."""
    import keras

    from models.errors import ModelError

    epochs = epochs or spec.epochs

    images, labels = _training_data(spec, count, seed=1)
    held_images, held_labels = _training_data(spec, max(200, count // 10), seed=2)
    model = build_classifier(spec)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images, labels, batch_size=64, epochs=epochs, verbose=0)
    accuracy = float(model.evaluate(held_images, held_labels, verbose=0)[1])
    if accuracy < min_accuracy:
        raise ModelError(f"the {spec.name} feature extractor reached only {accuracy:.2f} held-out "
                         f"accuracy (< {min_accuracy}); train it longer")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".keras", dir=folder)
    os.close(fd)
    model.save(tmp)
    os.replace(tmp, folder / f"{spec.name}.keras")
    card = {
        "trained_on": f"{count} procedurally drawn {spec.name} (corpora.procedural, seed 1), "
                      f"{spec.size}x{spec.size}x{spec.channels}, {spec.classes} classes, {epochs} epochs",
        "held_out_accuracy": accuracy,
        "held_out": f"{len(held_labels)} drawings with seed 2",
        "feature_layer": FEATURE_LAYER,
    }
    (folder / f"{spec.name}.json").write_text(json.dumps(card, indent=2))
    return _feature_model(model)


def _feature_model(classifier):
    import keras

    return keras.Model(classifier.input, classifier.get_layer(FEATURE_LAYER).output)


def load_extractor(spec: ExtractorSpec, folder: Path, **train_kwargs: float):
    """The stored feature model for `spec`, trained and stored first if there is none."""
    import keras

    path = folder / f"{spec.name}.keras"
    if not path.exists():
        return train_extractor(spec, folder, **train_kwargs)
    return _feature_model(keras.models.load_model(path))


def features(extractor, images: np.ndarray, spec: ExtractorSpec) -> np.ndarray:
    """uint8 images (n, h, w, c) of any size -> (n, 64) float64 features."""
    import tensorflow as tf

    x = tf.convert_to_tensor(images, tf.float32)
    if x.shape[-1] != spec.channels:
        x = tf.image.rgb_to_grayscale(x) if spec.channels == 1 else tf.image.grayscale_to_rgb(x)
    if x.shape[1] != spec.size:
        x = tf.image.resize(x, (spec.size, spec.size), antialias=True)
    return np.asarray(extractor.predict(x, batch_size=256, verbose=0), dtype=np.float64)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (n, d):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    cross = np.trace(_sqrt_psd(root_a @ cov_b @ root_a))
    distance = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    return max(0.0, float(distance))  # rounding can leave identical sets a hair below zero


def mean_pairwise_distance(feats: np.ndarray, limit: int = 500) -> float:
    """Average Euclidean distance between distinct pairs of the first `limit` rows."""
    x = feats[:limit]
    squared = np.sum(x**2, 1)
    d2 = np.clip(squared[:, None] + squared[None, :] - 2 * x @ x.T, 0, None)
    n = len(x)
    return float(np.sqrt(d2).sum() / (n * (n - 1)))


@dataclass(frozen=True)
class Diversity:
    """Generated diversity relative to real diversity (1.0 = as varied as the real images)."""

    ratio: float
    collapsed: bool


def diversity(real_feats: np.ndarray, fake_feats: np.ndarray, threshold: float = 0.5) -> Diversity:
    """Flag mode collapse when generated images are far less varied than real ones (their mean
    pairwise feature distance is below `threshold` times that of the real images)."""
    ratio = mean_pairwise_distance(fake_feats) / max(mean_pairwise_distance(real_feats), 1e-12)
    return Diversity(ratio, ratio < threshold)
