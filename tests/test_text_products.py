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
    assert product.measured and list(product.measured) == list(products.SIZES[: len(product.measured)])
    faster = [rows for rows, (fp32, bf16) in product.measured.items()
              if bf16 * products.GAIN_TO_SWITCH < fp32]
    assert used == bool(faster)
    if not used:
        return
    assert product.min_rows == min(faster)
    small = rng.uniform(-1, 1, (product.min_rows - 1, 256)).astype(np.float32)
    assert np.array_equal(product(small), small @ weights)
    large = rng.uniform(-1, 1, (product.min_rows + 1, 256)).astype(np.float32)
    got, exact = product(large), large @ weights
    assert got.dtype == np.float32 and got.shape == exact.shape
    assert not np.array_equal(got, exact)  # the bfloat16 path ran ...
    assert np.abs(got - exact).max() <= 0.02 * np.abs(exact).max()  # ... and stays close
    assert product.accelerate() == used  # measured once


def test_a_slower_bfloat16_is_not_used(monkeypatch) -> None:
    monkeypatch.setattr(products, "GAIN_TO_SWITCH", 1e6)  # as on a machine without AMX
    product = Product(np.eye(8, dtype=np.float32))
    assert not product.accelerate()
    assert list(product.measured) == [products.SIZES[0]]  # the largest lost: no smaller tried
    h = np.ones((products.SIZES[0], 8), np.float32)
    assert np.array_equal(product(h), h)
