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
