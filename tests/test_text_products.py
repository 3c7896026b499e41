"""The sampler's large product: bfloat16 only where it measures faster, close to fp32 when used,
and exact fp32 for small batches."""

from __future__ import annotations

import numpy as np

from models.text import products
from models.text.products import Product


def test_small_batches_stay_exact_and_large_ones_stay_close() -> None:
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.1, (256, 830)).astype(np.float32)
    product = Product(weights)
    used = product.accelerate()
    assert set(product.measured) == {"fp32_numpy_ms", "bf16_tensorflow_ms"}
    assert used == (product.measured["bf16_tensorflow_ms"] * products.GAIN_TO_SWITCH
                    < product.measured["fp32_numpy_ms"])
    small = rng.uniform(-1, 1, (products.MIN_ROWS - 1, 256)).astype(np.float32)
    assert np.array_equal(product(small), small @ weights)
    large = rng.uniform(-1, 1, (products.MIN_ROWS * 2, 256)).astype(np.float32)
    got, exact = product(large), large @ weights
    assert got.dtype == np.float32 and got.shape == exact.shape
    assert np.abs(got - exact).max() <= 0.02 * np.abs(exact).max()
    assert product.accelerate() == used  # measured once


def test_a_slower_bfloat16_is_not_used(monkeypatch) -> None:
    monkeypatch.setattr(products, "GAIN_TO_SWITCH", 1e6)  # as on a machine without AMX
    product = Product(np.eye(8, dtype=np.float32))
    assert not product.accelerate()
    h = np.ones((products.MIN_ROWS, 8), np.float32)
    assert np.array_equal(product(h), h)
