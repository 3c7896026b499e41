"""The GRU step of Keras 3's GRU (reset_after=True, gate order z, r, h) in NumPy and Numba, with
no TensorFlow: the NumPy sampler's step, and the time loop (forward and gradient) of the layer
that trains on a CPU (`models/text/cpu_gru.py`).

Each step is one matrix product (NumPy's BLAS) and one compiled pass over the gates. Compiled on
first use and cached next to this file.
"""

from __future__ import annotations

import numba
import numpy as np

F32 = np.float32
TANH_CLAMP = F32(7.90531110763549805)  # beyond it tanh is 1 to float32 precision


@numba.njit(inline="always", fastmath=True, error_model="numpy")
def _tanh(x: float) -> float:
    """Float32 tanh as a rational function (the approximation Eigen, and so TensorFlow, uses;
    error below 3e-7). Unlike libm's, it vectorises: 8 values per instruction."""
    x = -TANH_CLAMP if x < -TANH_CLAMP else (TANH_CLAMP if x > TANH_CLAMP else x)
    x2 = x * x
    p = F32(-2.76076847742355e-16) * x2 + F32(2.00018790482477e-13)
    p = p * x2 + F32(-8.60467152213735e-11)
    p = p * x2 + F32(5.12229709037114e-08)
    p = p * x2 + F32(1.48572235717979e-05)
    p = p * x2 + F32(6.37261928875436e-04)
    p = p * x2 + F32(4.89352455891786e-03)
    q = F32(1.19825839466702e-06) * x2 + F32(1.18534705686654e-04)
    q = q * x2 + F32(2.26843463243900e-03)
    q = q * x2 + F32(4.89352518554385e-03)
    return p * x / q


@numba.njit(inline="always", fastmath=True, error_model="numpy")
def _sigmoid(x: float) -> float:
    return F32(0.5) * _tanh(F32(0.5) * x) + F32(0.5)


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def step(
    x_proj: np.ndarray, h_proj: np.ndarray, h_bias: np.ndarray, h: np.ndarray, z: np.ndarray,
    r: np.ndarray, candidate: np.ndarray, reset_in: np.ndarray, h_new: np.ndarray,
) -> None:
    """One step's gates from x @ W + b_x (`x_proj`) and h @ U (`h_proj`), both (rows, 3 units);
    writes the new state and what the backward pass needs (z, r, candidate, h @ U_h + b_h)."""
    rows, units = h.shape
    for i in range(rows):
        for j in range(units):
            zz = _sigmoid(x_proj[i, j] + h_proj[i, j] + h_bias[j])
            rr = _sigmoid(x_proj[i, units + j] + h_proj[i, units + j] + h_bias[units + j])
            inner = h_proj[i, 2 * units + j] + h_bias[2 * units + j]
            c = _tanh(x_proj[i, 2 * units + j] + rr * inner)
            z[i, j], r[i, j], candidate[i, j], reset_in[i, j] = zz, rr, c, inner
            h_new[i, j] = c + zz * (h[i, j] - c)


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def step_grad(
    d_out: np.ndarray, d_next: np.ndarray, z: np.ndarray, r: np.ndarray, candidate: np.ndarray,
    reset_in: np.ndarray, h: np.ndarray, d_x_proj: np.ndarray, d_h_proj: np.ndarray,
    d_h: np.ndarray,
) -> None:
    """The step's gradients: given d(loss)/d(new state) from the output and from the next step,
    writes them for x_proj and h_proj (pre-activation, (rows, 3 units)) and the part of
    d(loss)/d(previous state) that bypasses U (z * d)."""
    rows, units = h.shape
    one = F32(1.0)
    for i in range(rows):
        for j in range(units):
            d = d_out[i, j] + d_next[i, j]
            zz, rr, c = z[i, j], r[i, j], candidate[i, j]
            dz = d * (h[i, j] - c) * zz * (one - zz)
            dc = d * (one - zz) * (one - c * c)
            dr = dc * reset_in[i, j] * rr * (one - rr)
            d_x_proj[i, j], d_x_proj[i, units + j], d_x_proj[i, 2 * units + j] = dz, dr, dc
            d_h_proj[i, j], d_h_proj[i, units + j], d_h_proj[i, 2 * units + j] = dz, dr, dc * rr
            d_h[i, j] = d * zz


def _time_major(x: np.ndarray) -> np.ndarray:
    """(batch, time, features) -> (time * batch, features), time major: transposing the inputs
    is cheaper than transposing the three-times-wider products made from them."""
    return np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(-1, x.shape[-1])


def _input_projection(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """x @ W + b_x for every step at once, (time, batch, 3 units)."""
    return (_time_major(x) @ kernel + bias[0]).reshape(x.shape[1], x.shape[0], -1)


def forward(
    x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, ...]:
    """(batch, time, features) inputs -> (batch, time, units) outputs from a zero state, and
    what `backward` needs: states (time + 1, batch, units) and z, r, candidate, h @ U_h + b_h
    (time, batch, units)."""
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    x_proj = _input_projection(x, kernel, bias)
    states = np.zeros((steps + 1, batch, units), F32)
    z, r, candidate, reset_in = (np.empty((steps, batch, units), F32) for _ in range(4))
    h_proj = np.empty((batch, 3 * units), F32)
    for t in range(steps):
        np.matmul(states[t], recurrent_kernel, out=h_proj)
        step(x_proj[t], h_proj, bias[1], states[t], z[t], r[t], candidate[t], reset_in[t],
             states[t + 1])
    outputs = np.ascontiguousarray(states[1:].transpose(1, 0, 2))
    return outputs, states, z, r, candidate, reset_in


def infer(
    x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """`forward`'s outputs alone, for scoring: nothing is kept for a gradient (one step's state
    and gate values at a time instead of five (time, batch, units) arrays)."""
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    x_proj = _input_projection(x, kernel, bias)
    outputs = np.empty((batch, steps, units), F32)
    h, h_new = np.zeros((batch, units), F32), np.empty((batch, units), F32)
    gates = np.empty((4, batch, units), F32)  # z, r, candidate, h @ U_h + b_h: not kept
    h_proj = np.empty((batch, 3 * units), F32)
    for t in range(steps):
        np.matmul(h, recurrent_kernel, out=h_proj)
        step(x_proj[t], h_proj, bias[1], h, *gates, h_new)
        outputs[:, t] = h_new
        h, h_new = h_new, h
    return outputs


def backward(
    d_outputs: np.ndarray, x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray,
    states: np.ndarray, z: np.ndarray, r: np.ndarray, candidate: np.ndarray,
    reset_in: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients for x, kernel, recurrent kernel and bias, given d(loss)/d(outputs)."""
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    d_seq = np.ascontiguousarray(d_outputs.transpose(1, 0, 2))
    d_x_proj = np.empty((steps, batch, 3 * units), F32)
    d_h_proj = np.empty_like(d_x_proj)
    d_next, d_direct = np.zeros((batch, units), F32), np.empty((batch, units), F32)
    recurrent_t = np.ascontiguousarray(recurrent_kernel.T)
    for t in range(steps - 1, -1, -1):
        step_grad(d_seq[t], d_next, z[t], r[t], candidate[t], reset_in[t], states[t],
                  d_x_proj[t], d_h_proj[t], d_direct)
        np.matmul(d_h_proj[t], recurrent_t, out=d_next)  # step_grad has read d_next
        d_next += d_direct
    d_x_proj = d_x_proj.reshape(-1, 3 * units)  # time major, as `_time_major(x)`
    d_h_proj = d_h_proj.reshape(-1, 3 * units)
    d_kernel = _time_major(x).T @ d_x_proj
    d_recurrent = states[:-1].reshape(-1, units).T @ d_h_proj
    d_bias = np.stack([d_x_proj.sum(axis=0), d_h_proj.sum(axis=0)])
    d_x = (d_x_proj @ kernel.T).reshape(steps, batch, -1).transpose(1, 0, 2)
    return np.ascontiguousarray(d_x), d_kernel, d_recurrent, d_bias
