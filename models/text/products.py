"""The sampler's one large matrix product per step, on the fastest path this machine measures.

At a few rows NumPy's fp32 product is fastest (a TensorFlow call costs about 0.1-0.2 ms). At
hundreds of rows (a burst of requests in one batch) the product is most of a step, and CPUs with a
bfloat16 matrix engine (AMX) run it in TensorFlow two to three times as fast as NumPy's fp32
(`../shared/INTEGRATIONS.md`; 0.97 against 2.54 ms for 800x256x830 on this project's machine).
`accelerate()` imports TensorFlow, measures both on the weights at hand at a few batch sizes and
keeps bfloat16 only from the size where it measured faster (a TensorFlow call's own cost sets
how small), so machines without the engine keep the fp32 path. The inputs are
rounded to bfloat16 (8 bits of mantissa) and the sums kept in fp32: logits move by about 1%,
well inside sampling's own noise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

SIZES = (512, 256, 128, 64, 32)  # rows measured, largest first
GAIN_TO_SWITCH = 1.3  # bfloat16 must measure at least this much faster to be used


class Product:
    """`product(h)` = h @ weights, fp32 in and out."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights
        self._fast: Callable[[np.ndarray], np.ndarray] | None = None
        self._lock = threading.Lock()
        self.measured: dict[int, tuple[float, float]] | None = None  # rows: fp32, bf16 ms
        self.min_rows: int | None = None  # the fewest rows bfloat16 is used for

    def __call__(self, h: np.ndarray) -> np.ndarray:
        fast = self._fast
        if fast is not None and len(h) >= self.min_rows:  # type: ignore[operator]
            return fast(h)
        return h @ self.weights

    def accelerate(self) -> bool:
        """Use TensorFlow's bfloat16 product from the fewest rows where it measures faster here,
        measured from `SIZES[0]` rows down until it does not (once; later calls return the
        decision). Blocks for TensorFlow's import."""
        with self._lock:
            if self.measured is None:
                fast = _bfloat16_product(self.weights)
                self.measured, rng = {}, np.random.default_rng(0)
                for rows in SIZES:
                    h = rng.uniform(-1, 1, (rows, len(self.weights))).astype(np.float32)
                    times = _best_ms(lambda: h @ self.weights), _best_ms(lambda: fast(h))
                    self.measured[rows] = times
                    if times[1] * GAIN_TO_SWITCH >= times[0]:
                        break
                    self.min_rows = rows
                if self.min_rows is not None:
                    self._fast = fast
            return self._fast is not None


def _bfloat16_product(weights: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    import tensorflow as tf

    kernel = tf.constant(weights, tf.bfloat16)

    @tf.function(input_signature=[tf.TensorSpec([None, weights.shape[0]], tf.float32)])
    def product(h: tf.Tensor) -> tf.Tensor:
        return tf.cast(tf.matmul(tf.cast(h, tf.bfloat16), kernel), tf.float32)

    return lambda h: product(h).numpy()


def _best_ms(run: Callable[[], object], repeats: int = 5, calls: int = 20) -> float:
    run()  # warm: the first call traces and allocates
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            run()
        best = min(best, (time.perf_counter() - started) / calls)
    return 1000 * best
