"""The persona char-GRU as a Keras model, and its weights as plain named arrays.

Inputs are two int tensors of the same shape (batch, time): character ids and, per step, the
persona id of the tweet that character belongs to. The persona embedding is concatenated to the
character embedding at every step, so one model speaks as several personas and a blend of two is
an interpolation of their vectors (which the NumPy sampler does at no cost).
"""

from __future__ import annotations

from functools import partial

import keras
import numpy as np
import tensorflow as tf

from models.text.config import TextConfig
from models.text.cpu_gru import CpuGRU


def build_model(
    config: TextConfig, vocab_size: int, n_personas: int, *, keras_gru: bool = False
) -> keras.Model:
    """Character logits for every step: (batch, time) ids -> (batch, time, vocab). The GRU is
    Keras's where a GPU runs it (with cuDNN) or `keras_gru` asks for it, else `CpuGRU`: the
    same GRU and weights with its time loop in NumPy, 1.05-1.8x faster to train on a CPU.
    Keras 3's defaults (reset_after=True, gate order z, r, h) are what the sampler computes."""
    if keras_gru or tf.config.list_physical_devices("GPU"):
        recurrent = partial(keras.layers.GRU, return_sequences=True)
    else:
        recurrent = CpuGRU
    chars = keras.Input(shape=(None,), dtype="int32", name="chars")
    personas = keras.Input(shape=(None,), dtype="int32", name="personas")
    x = keras.layers.Concatenate(name="step_input")(
        [
            keras.layers.Embedding(vocab_size, config.embed_dim, name="char_embedding")(chars),
            keras.layers.Embedding(n_personas, config.persona_dim, name="persona_embedding")(
                personas
            ),
        ]
    )  # (batch, time, embed_dim + persona_dim)
    for layer in range(config.layers):
        x = recurrent(config.units, name=f"gru_{layer}")(x)
        x = keras.layers.Dropout(config.dropout, name=f"dropout_{layer}")(x)  # (batch, time, units)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)  # (batch, time, vocab)
    return keras.Model([chars, personas], logits, name="persona_char_gru")


def to_arrays(model: keras.Model) -> dict[str, np.ndarray]:
    """The trained weights by role, e.g. `gru_0/recurrent_kernel`, as float32 arrays."""
    arrays: dict[str, np.ndarray] = {}
    for layer in model.layers:
        for weight in layer.weights:
            name = weight.path.split("/")[-1]
            key = layer.name if layer.name.endswith("embedding") else f"{layer.name}/{name}"
            arrays[key] = np.asarray(weight.numpy(), dtype=np.float32)
    return arrays


def from_arrays(model: keras.Model, arrays: dict[str, np.ndarray]) -> None:
    """Load `to_arrays` output into `model`. Persona rows beyond the saved ones keep the mean
    of the saved rows, so a version can be fine-tuned with personas added."""
    for layer in model.layers:
        values = []
        for weight in layer.weights:
            name = weight.path.split("/")[-1]
            key = layer.name if layer.name.endswith("embedding") else f"{layer.name}/{name}"
            value = arrays[key]
            if layer.name == "persona_embedding" and value.shape[0] < weight.shape[0]:
                missing = weight.shape[0] - len(value)
                extra = np.repeat(value.mean(axis=0, keepdims=True), missing, axis=0)
                value = np.concatenate([value, extra])
            values.append(value)
        if values:
            layer.set_weights(values)
