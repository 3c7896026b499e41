"""The CPU GRU computes what Keras's GRU computes, forward and backward, with the same weights."""

from __future__ import annotations

import numpy as np
import pytest


def _pair(features: int, units: int):
    """Keras's GRU and nowbot's CPU GRU, built, holding the same (non-trivial) weights."""
    import keras

    from models.text.cpu_gru import CpuGRU

    keras_gru = keras.layers.GRU(units, return_sequences=True)
    cpu_gru = CpuGRU(units)
    for layer in (keras_gru, cpu_gru):
        layer.build((None, None, features))
    rng = np.random.default_rng(0)
    # Larger than the initialisers give, and non-zero biases, so every term matters.
    weights = [w * 3 + rng.normal(0, 0.3, w.shape) for w in keras_gru.get_weights()]
    keras_gru.set_weights(weights)
    cpu_gru.set_weights(weights)
    return keras_gru, cpu_gru


@pytest.mark.parametrize("batch,steps", [(3, 7), (1, 1), (5, 40)])
def test_outputs_and_gradients_match_keras_gru(batch: int, steps: int) -> None:
    import tensorflow as tf

    keras_gru, cpu_gru = _pair(features=5, units=8)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(0, 1, (batch, steps, 5)), tf.float32)
    upstream = tf.constant(rng.normal(0, 1, (batch, steps, 8)), tf.float32)
    results = []
    for layer in (keras_gru, cpu_gru):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x)
            loss = tf.reduce_sum(outputs * upstream)
        grads = tape.gradient(loss, [x, *layer.trainable_weights])
        results.append([outputs, *grads])
    for expected, got in zip(*results):
        assert got.shape == expected.shape
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=2e-5, rtol=1e-4)
    # Scoring (not training) takes the outputs-only pass, which must agree too.
    np.testing.assert_allclose(
        np.asarray(cpu_gru(x, training=False)), np.asarray(results[0][0]), atol=2e-5, rtol=1e-4
    )


def test_weights_have_keras_gru_names_and_order() -> None:
    keras_gru, cpu_gru = _pair(features=5, units=8)
    names = [(w.path.split("/")[-1], tuple(w.shape)) for w in keras_gru.weights]
    assert [(w.path.split("/")[-1], tuple(w.shape)) for w in cpu_gru.weights] == names


def test_model_trains_with_the_cpu_gru_in_a_traced_step() -> None:
    import keras

    from models.text.cpu_gru import CpuGRU

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None,), dtype="int32")
    x = CpuGRU(16)(keras.layers.Embedding(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(4)(x))
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = np.tile([0, 1, 2, 3], (8, 5))  # a cycle: each symbol predicts the next exactly
    history = model.fit(ids[:, :-1], ids[:, 1:], epochs=30, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
