"""Keras 3's GRU layer (reset_after=True, gate order z, r, h) with its time loop in NumPy and
Numba (`models/text/gru_step.py`), for training on a CPU.

TensorFlow runs a recurrent layer's time loop on a CPU as a graph loop of about twenty small ops
per step, forward and backward, and each op's scheduling costs more than its arithmetic at
nowbot's size (batch 32 x 256 units). Here each step is one matrix product and one compiled
pass over the gates; the products that do not depend on the previous step (inputs to gates, and
every weight gradient) are one large product over all steps, outside the loop. Measured on 2
cores: a training step 1.05-1.8x faster, depending on the machine's state (see
docs/text-model.md).

`CpuGRU` holds the same weights under the same names, in the same order, as `keras.layers.GRU`,
so versions, the NumPy sampler and a GPU run (Keras's GRU, with cuDNN) read it unchanged; a
test checks its outputs and gradients against Keras's layer.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf
from threadpoolctl import threadpool_limits

from models.text.gru_step import backward, forward, infer


def _gru(
    x: tf.Tensor, kernel: tf.Tensor, recurrent_kernel: tf.Tensor, bias: tf.Tensor
) -> tf.Tensor:
    """`forward` as a TensorFlow op whose gradient is `backward`."""

    @tf.custom_gradient
    def gru(x, kernel, recurrent_kernel, bias):
        outputs, *saved = tf.numpy_function(
            forward, [x, kernel, recurrent_kernel, bias], [tf.float32] * 6, stateful=False
        )
        outputs = tf.ensure_shape(outputs, x.shape[:-1] + [recurrent_kernel.shape[0]])

        def grad(d_outputs):
            grads = tf.numpy_function(
                backward, [d_outputs, x, kernel, recurrent_kernel, *saved], [tf.float32] * 4,
                stateful=False,
            )
            inputs = (x, kernel, recurrent_kernel, bias)
            return [tf.ensure_shape(g, v.shape) for g, v in zip(grads, inputs)]

        return outputs, grad

    return gru(x, kernel, recurrent_kernel, bias)


def blas_threads() -> threadpool_limits:
    """A context in which NumPy's BLAS (the loop's matrix products) uses as many threads as
    TensorFlow's ops: `TF_NUM_INTRAOP_THREADS` (training children get `NOWBOT_TRAIN_THREADS`)
    or every core. The bot's process sets one BLAS thread for the sampler, which children
    inherit; the loop's products run 1.5x faster on two."""
    threads = int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 0) or len(os.sched_getaffinity(0))
    return threadpool_limits(threads, user_api="blas")


@keras.saving.register_keras_serializable(package="nowbot")
class CpuGRU(keras.layers.Layer):
    """`keras.layers.GRU(units, return_sequences=True)` from a zero state, computed on the CPU
    by `forward` and `backward`, or by `infer` when called with `training=False` (float32)."""

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape: tuple) -> None:
        # Keras GRU's weights and initialisers, in its order (get_weights/set_weights agree).
        three = 3 * self.units
        self.kernel = self.add_weight((input_shape[-1], three), "glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(
            (self.units, three), "orthogonal", name="recurrent_kernel"
        )
        self.bias = self.add_weight((2, three), "zeros", name="bias")

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """Differentiable, like Keras's GRU, unless `training` is False (scoring): then the
        outputs alone (`infer`: no gradient, none of the values a gradient would need)."""
        x = tf.cast(inputs, tf.float32)
        weights = [tf.convert_to_tensor(w) for w in (self.kernel, self.recurrent_kernel, self.bias)]
        if training is not False:
            return _gru(x, *weights)
        outputs = tf.numpy_function(infer, [x, *weights], tf.float32, stateful=False)
        return tf.ensure_shape(outputs, x.shape[:-1] + [self.units])

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return super().get_config() | {"units": self.units}
