"""The Frechet distance and the collapse check, in the feature space of the digit classifier
nowbot trains on its own drawn digits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from corpora.procedural import draw_digits


@pytest.fixture(scope="module")
def digit_features(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from models.gan.metrics import DIGITS, features, load_extractor

    folder = tmp_path_factory.mktemp("features")
    extractor = load_extractor(DIGITS, folder, count=4000, epochs=3)
    card = json.loads((folder / "digits.json").read_text())
    assert (folder / "digits.keras").exists() and "procedurally drawn digits" in card["trained_on"]
    assert card["held_out_accuracy"] > 0.5  # it learned to tell digits apart
    return lambda images: features(extractor, images, DIGITS)


def test_real_vs_real_is_near_zero_and_noise_is_far(digit_features) -> None:  # type: ignore[no-untyped-def]
    from models.gan.metrics import frechet_distance

    first, second = (digit_features(draw_digits(600, seed=s)[0][..., None]) for s in (10, 11))
    noise = np.random.default_rng(0).integers(0, 256, (600, 28, 28, 1), dtype=np.uint8)
    same = frechet_distance(first, second)
    far = frechet_distance(first, digit_features(noise))
    assert frechet_distance(first, first) == pytest.approx(0, abs=1e-3)
    assert 0 <= same < far / 20


def test_features_accept_other_sizes_and_colour(digit_features) -> None:  # type: ignore[no-untyped-def]
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    assert digit_features(images).shape == (3, 64)


def test_diversity_flags_collapse(digit_features) -> None:  # type: ignore[no-untyped-def]
    from models.gan.metrics import diversity

    real = digit_features(draw_digits(300, seed=3)[0][..., None])
    varied = digit_features(draw_digits(300, seed=4)[0][..., None])
    one_digit = digit_features(np.repeat(draw_digits(1, seed=5)[0][..., None], 300, axis=0))
    assert not diversity(real, varied).collapsed
    assert diversity(real, varied).ratio == pytest.approx(1, abs=0.2)
    collapsed = diversity(real, one_digit)
    assert collapsed.collapsed and collapsed.ratio < 0.01
