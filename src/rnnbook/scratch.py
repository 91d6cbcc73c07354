"""Recurrent networks from scratch, in NumPy: the equations of the book, line by line."""

from __future__ import annotations

from typing import Callable

import numpy as np

PARAM_KEYS = ("W_hx", "W_hh", "b_h", "W_yh", "b_y")


def init_params(D: int, H: int, V: int, seed: int = 0, scale: float | None = None) -> dict[str, np.ndarray]:
    """Random Elman-RNN parameters; weights uniform in ±1/sqrt(H), as PyTorch initialises them."""
    rng = np.random.default_rng(seed)
    s = 1.0 / np.sqrt(H) if scale is None else scale
    return {
        "W_hx": rng.uniform(-s, s, (H, D)),
        "W_hh": rng.uniform(-s, s, (H, H)),
        "b_h": rng.uniform(-s, s, H),
        "W_yh": rng.uniform(-s, s, (V, H)),
        "b_y": rng.uniform(-s, s, V),
    }


def check_shapes(params: dict[str, np.ndarray], inputs: np.ndarray, h0: np.ndarray) -> tuple[int, int, int, int]:
    """Validate an RNN's parameters and inputs; return (T, D, H, V) or raise a ValueError that says what is wrong."""
    missing = [k for k in PARAM_KEYS if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}; an Elman RNN needs the keys {list(PARAM_KEYS)}")
    H, D = np.shape(params["W_hx"])
    V = np.shape(params["W_yh"])[0]
    expected = {"W_hx": (H, D), "W_hh": (H, H), "b_h": (H,), "W_yh": (V, H), "b_y": (V,)}
    for key, shape in expected.items():
        if np.shape(params[key]) != shape:
            raise ValueError(f"params[{key!r}] has shape {np.shape(params[key])}, expected {shape} (D={D}, H={H}, V={V})")
    if np.ndim(inputs) != 2 or np.shape(inputs)[1] != D:
        raise ValueError(f"inputs has shape {np.shape(inputs)}, expected (T, D) with D={D}")
    if np.shape(h0) != (H,):
        raise ValueError(f"h0 has shape {np.shape(h0)}, expected (H,) with H={H}")
    return np.shape(inputs)[0], D, H, V


def rnn_forward(
    params: dict[str, np.ndarray],
    inputs: np.ndarray,
    h0: np.ndarray,
    activation: Callable[[np.ndarray], np.ndarray] = np.tanh,
) -> tuple[np.ndarray, np.ndarray]:
    """Run an Elman RNN over inputs (T, D) from h0 (H,); return hidden states (T, H) and logits (T, V)."""
    T, D, H, V = check_shapes(params, inputs, h0)
    W_hx, W_hh, b_h, W_yh, b_y = (params[k] for k in PARAM_KEYS)
    hs = np.zeros((T, H), dtype=np.result_type(W_hh, inputs, h0))
    h = h0
    for t in range(T):
        h = activation(W_hx @ inputs[t] + W_hh @ h + b_h)  # h_t = f(W_hx x_t + W_hh h_{t-1} + b_h)
        hs[t] = h
    ys = hs @ W_yh.T + b_y  # y_t = W_yh h_t + b_y, for every t at once
    return hs, ys


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the maximum for numerical stability."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def count_params(params: dict[str, np.ndarray]) -> int:
    """Total number of scalar parameters."""
    return int(sum(np.size(v) for v in params.values()))


def _check_linear_recurrence(a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> None:
    """Raise a ValueError unless a and b are (T, H) arrays of the same shape with T >= 1 and h0 is (H,)."""
    if np.ndim(a) != 2 or np.shape(a) != np.shape(b) or np.shape(a)[0] == 0:
        raise ValueError(f"a and b must both have shape (T, H) with T >= 1, got {np.shape(a)} and {np.shape(b)}")
    if np.shape(h0) != np.shape(a)[1:]:
        raise ValueError(f"h0 has shape {np.shape(h0)}, expected (H,) with H={np.shape(a)[1]}")


def linear_recurrence(a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """h_t = a_t * h_{t-1} + b_t (elementwise), one step after another: a, b (T, H), h0 (H,) -> states (T, H)."""
    _check_linear_recurrence(a, b, h0)
    hs = np.zeros(np.shape(a), dtype=np.result_type(a, b, h0))
    h = h0
    for t in range(len(a)):
        h = a[t] * h + b[t]
        hs[t] = h
    return hs


def parallel_scan(a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """The states of `linear_recurrence` in ceil(log2 T) rounds, each a few elementwise operations over all steps."""
    _check_linear_recurrence(a, b, h0)
    # (A[t], B[t]) is the affine map h -> A h + B of a block of steps ending at t; at first, step t alone.
    A, B = np.array(a, dtype=np.result_type(a, b, h0)), np.array(b, dtype=np.result_type(a, b, h0))
    shift = 1
    while shift < len(A):
        # compose each block with the block that ends `shift` steps earlier: (A2, B2) after (A1, B1) = (A2 A1, A2 B1 + B2)
        A[shift:], B[shift:] = A[shift:] * A[:-shift], A[shift:] * B[:-shift] + B[shift:]
        shift *= 2
    return A * h0 + B  # now each block starts at step 1: h_t = A[t] h_0 + B[t]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-x))."""
    return 1.0 / (1.0 + np.exp(-x))


def min_gru(inputs: np.ndarray, W_zx: np.ndarray, b_z: np.ndarray, W_hx: np.ndarray, b_h: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """minGRU (Feng et al., 2024) over inputs (T, D) from h0 (H,), by a parallel scan; return states (T, H)."""
    if np.ndim(inputs) != 2 or np.shape(W_zx) != np.shape(W_hx) or np.shape(W_zx)[1:] != np.shape(inputs)[1:]:
        raise ValueError(f"expected inputs (T, D) and W_zx, W_hx (H, D); got {np.shape(inputs)}, {np.shape(W_zx)}, {np.shape(W_hx)}")
    z = sigmoid(inputs @ W_zx.T + b_z)  # update gate z_t: depends on x_t only, not on h_{t-1}
    h_tilde = inputs @ W_hx.T + b_h  # candidate state, also from x_t alone
    return parallel_scan(1 - z, z * h_tilde, h0)  # h_t = (1 - z_t) * h_{t-1} + z_t * h_tilde_t
