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


def check_sequence(inputs: np.ndarray, h0: np.ndarray, D: int, H: int) -> None:
    """Raise a ValueError unless inputs is (T, D) and h0 is (H,)."""
    if np.ndim(inputs) != 2 or np.shape(inputs)[1] != D:
        raise ValueError(f"inputs has shape {np.shape(inputs)}, expected (T, D) with D={D}")
    if np.shape(h0) != (H,):
        raise ValueError(f"h0 has shape {np.shape(h0)}, expected (H,) with H={H}")


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
    check_sequence(inputs, h0, D, H)
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
    dtype = np.result_type(W_hx, W_hh, b_h, inputs, h0)  # the widest precision among the inputs of the recurrence
    W_hx, W_hh, b_h = (np.asarray(w, dtype=dtype) for w in (W_hx, W_hh, b_h))
    hs = np.zeros((T, H), dtype=dtype)
    h = h0  # W_hh @ h is computed in dtype
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
    h = np.asarray(h0, dtype=hs.dtype)  # every step in the widest precision of the inputs
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


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log of the softmax over the last axis, computed without overflow."""
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def check_targets(targets: np.ndarray, T: int, V: int) -> np.ndarray:
    """Validate class indices for T steps and V classes; return them as an int array or raise a ValueError."""
    targets = np.asarray(targets)
    if targets.shape != (T,):
        raise ValueError(f"targets has shape {targets.shape}, expected (T,) = ({T},): one class index per step")
    if targets.dtype == bool or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets must be integer class indices, got dtype {targets.dtype}")
    if T and (targets.min() < 0 or targets.max() >= V):
        raise ValueError(f"targets must lie in [0, V) = [0, {V}), got values from {targets.min()} to {targets.max()}")
    return targets.astype(np.int64)


def cross_entropy_grad(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """dL/dy_t = p_t - e_{c_t} for L = sum_t -log softmax(y_t)[c_t]: logits (T, V) and targets (T,) -> (T, V)."""
    T, V = np.shape(logits)
    targets = check_targets(targets, T, V)
    dys = softmax(logits)  # p_t
    dys[np.arange(T), targets] -= 1  # minus the one-hot vector of the target
    return dys


def rnn_backward(
    params: dict[str, np.ndarray], inputs: np.ndarray, h0: np.ndarray, hs: np.ndarray, dys: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Backpropagation through time for a tanh Elman RNN: from dL/dy_t (T, V) to the parameter gradients and dL/dh_t (T, H)."""
    T, D, H, V = check_shapes(params, inputs, h0)
    if np.shape(hs) != (T, H) or np.shape(dys) != (T, V):
        raise ValueError(f"hs and dys have shapes {np.shape(hs)} and {np.shape(dys)}, expected (T, H) = ({T}, {H}) and (T, V) = ({T}, {V})")
    W_hh, W_yh = params["W_hh"], params["W_yh"]
    grads = {k: np.zeros_like(params[k], dtype=np.result_type(params[k], dys)) for k in PARAM_KEYS}
    grads["W_yh"] = dys.T @ hs  # sum_t dy_t h_t^T
    grads["b_y"] = dys.sum(axis=0, dtype=grads["b_y"].dtype)
    dhs = dys @ W_yh  # the part of dL/dh_t that comes from y_t; the part from h_{t+1} is added below
    dh_next = np.zeros(H)  # dL/dh_t through h_{t+1}: W_hh^T da_{t+1}
    for t in reversed(range(T)):
        dhs[t] += dh_next
        da = dhs[t] * (1 - hs[t] ** 2)  # back through tanh: a_t = W_hx x_t + W_hh h_{t-1} + b_h
        h_prev = hs[t - 1] if t > 0 else np.asarray(h0, hs.dtype)
        grads["W_hx"] += np.outer(da, inputs[t])
        grads["W_hh"] += np.outer(da, h_prev)
        grads["b_h"] += da
        dh_next = W_hh.T @ da
    return grads, dhs


def rnn_loss_and_grads(
    params: dict[str, np.ndarray], inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Summed cross-entropy of a tanh Elman RNN over T steps, its gradients by BPTT, and the last state h_T."""
    T, D, H, V = check_shapes(params, inputs, h0)
    if T == 0:
        raise ValueError("inputs has no time steps (T = 0); the loss needs at least one step")
    targets = check_targets(targets, T, V)
    hs, ys = rnn_forward(params, inputs, h0)
    loss = -log_softmax(ys)[np.arange(T), targets].sum()  # L = sum_t -log p_t[target_t]
    grads, _ = rnn_backward(params, inputs, h0, hs, cross_entropy_grad(ys, targets))
    return float(loss), grads, hs[-1]


def clip_grads(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients together, in place, so that their joint norm is at most max_norm (ch3-clip); return the norm before."""
    norm = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return norm


def train_numpy_rnn(
    text: str, hidden: int = 64, seq_len: int = 25, steps: int = 1500, lr: float = 0.05, seed: int = 0, clip: float = 5.0,
    callback: Callable[[int, dict[str, np.ndarray]], None] | None = None,
) -> tuple[dict[str, np.ndarray], str, np.ndarray]:
    """Train a character-level tanh RNN on text by truncated BPTT, clipping and Adagrad; return params, vocab, losses (nats per character)."""
    if not isinstance(text, str) or not text:
        raise ValueError("text is empty; training needs at least seq_len + 1 characters")
    for name, value in (("hidden", hidden), ("seq_len", seq_len), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    for name, value in (("lr", lr), ("clip", clip)):
        if isinstance(value, bool) or not (isinstance(value, (int, float, np.floating)) and np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    if len(text) < seq_len + 1:
        raise ValueError(f"text has {len(text)} characters; seq_len={seq_len} needs at least {seq_len + 1} (inputs and their next characters)")
    vocab = "".join(sorted(set(text)))  # character i of vocab has id i
    V = len(vocab)
    index = {c: i for i, c in enumerate(vocab)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    params = init_params(V, hidden, V, seed=seed, scale=0.01)  # small weights: p_t starts near uniform, the loss near log V
    memory = {k: np.zeros_like(v) for k, v in params.items()}  # Adagrad's sum of squared gradients
    eye = np.eye(V)
    losses = np.zeros(steps)
    h, p = np.zeros(hidden), 0
    if callback:  # callback(n, params) after n updates, from n = 0; params change in place afterwards
        callback(0, params)
    for step in range(steps):
        if p + seq_len + 1 > len(text):  # the end of the text: start again from its beginning, with a fresh state
            h, p = np.zeros(hidden), 0
        chunk = ids[p:p + seq_len + 1]
        loss, grads, h = rnn_loss_and_grads(params, eye[chunk[:-1]], chunk[1:], h)  # h: carried into the next chunk
        clip_grads(grads, clip)
        for k in params:
            memory[k] += grads[k] ** 2
            params[k] -= lr * grads[k] / np.sqrt(memory[k] + 1e-8)
        losses[step] = loss / seq_len  # the summed loss of the chunk, per character, before this update
        p += seq_len
        if callback:
            callback(step + 1, params)
    return params, vocab, losses


def sample_numpy(
    params: dict[str, np.ndarray], vocab: str, prompt: str, length: int, temperature: float = 1.0, seed: int = 0
) -> str:
    """Read prompt (at least one character) through the RNN from h = 0, then sample `length` characters; return those characters."""
    V = np.shape(params["W_yh"])[0]  # rnn_forward checks the other shapes
    if not isinstance(vocab, str) or len(vocab) != V or len(set(vocab)) != V:
        raise ValueError(f"vocab must be a string of {V} distinct characters, one per output of the network; got {vocab!r}")
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt is empty; the network needs at least one character to read before it can predict the next")
    unknown = [c for c in prompt if c not in vocab]
    if unknown:
        raise ValueError(f"prompt character {unknown[0]!r} is not in the vocabulary {vocab!r}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length must be a non-negative integer, got {length!r}")
    if isinstance(temperature, bool) or not (isinstance(temperature, (int, float, np.floating)) and np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    rng = np.random.default_rng(seed)
    eye = np.eye(V)
    hs, ys = rnn_forward(params, eye[[vocab.index(c) for c in prompt]], np.zeros(np.shape(params["W_hh"])[0]))
    out = []
    for _ in range(length):
        i = rng.choice(V, p=softmax(ys[-1] / temperature))  # draw from softmax(y_t / temperature)
        out.append(vocab[i])
        hs, ys = rnn_forward(params, eye[i:i + 1], hs[-1])  # read the character just drawn: one more step
    return "".join(out)


LSTM_GATES, GRU_GATES = "ifgo", "rzn"  # PyTorch's order of the stacked gates
LSTM_KEYS = tuple(f"{w}_{g}{s}" for g in LSTM_GATES for w, s in (("W", "x"), ("W", "h"), ("b", ""))) + ("W_yh", "b_y")
# GRU: b_n is the candidate's input bias (PyTorch's b_in), b_nh its recurrent bias (b_hn), applied inside r_t * (...)
GRU_KEYS = tuple(f"{w}_{g}{s}" for g in GRU_GATES for w, s in (("W", "x"), ("W", "h"), ("b", ""))) + ("b_nh", "W_yh", "b_y")


def check_gated_shapes(params: dict[str, np.ndarray], inputs: np.ndarray, h0: np.ndarray, keys: tuple[str, ...]) -> tuple[int, int, int, int]:
    """Validate gated-cell parameters (LSTM_KEYS or GRU_KEYS) and inputs; return (T, D, H, V) or raise a ValueError."""
    missing = [k for k in keys if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}; this cell needs the keys {list(keys)}")
    if np.ndim(params[keys[0]]) != 2 or np.ndim(params["W_yh"]) != 2:
        raise ValueError(f"params[{keys[0]!r}] and params['W_yh'] must be matrices, got shapes {np.shape(params[keys[0]])} and {np.shape(params['W_yh'])}")
    H, D = np.shape(params[keys[0]])
    V = np.shape(params["W_yh"])[0]
    for key in keys:
        shape = {"W_yh": (V, H), "b_y": (V,)}.get(key) or ((H, D) if key.endswith("x") else (H, H) if key[0] == "W" else (H,))
        if np.shape(params[key]) != shape:
            raise ValueError(f"params[{key!r}] has shape {np.shape(params[key])}, expected {shape} (D={D}, H={H}, V={V})")
    check_sequence(inputs, h0, D, H)
    return np.shape(inputs)[0], D, H, V


def init_gated_params(cell: str, D: int, H: int, V: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random LSTM (cell='lstm') or GRU ('gru') parameters, every entry uniform in ±1/sqrt(H) as in PyTorch."""
    keys = {"lstm": LSTM_KEYS, "gru": GRU_KEYS}.get(cell)
    if keys is None:
        raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
    rng, s = np.random.default_rng(seed), 1.0 / np.sqrt(H)
    shape = lambda k: {"W_yh": (V, H), "b_y": (V,)}.get(k) or ((H, D) if k.endswith("x") else (H, H) if k[0] == "W" else (H,))
    return {k: rng.uniform(-s, s, shape(k)) for k in keys}


def lstm_cell(p: dict[str, np.ndarray], x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One LSTM step (x_t, h_{t-1}, c_{t-1}) -> (h_t, c_t, (i_t, f_t, g_t, o_t))."""
    i = sigmoid(p["W_ix"] @ x + p["W_ih"] @ h + p["b_i"])  # input gate: how much of the candidate to write
    f = sigmoid(p["W_fx"] @ x + p["W_fh"] @ h + p["b_f"])  # forget gate: how much of the old cell to keep
    g = np.tanh(p["W_gx"] @ x + p["W_gh"] @ h + p["b_g"])  # candidate
    o = sigmoid(p["W_ox"] @ x + p["W_oh"] @ h + p["b_o"])  # output gate: how much of the cell to show
    c = f * c + i * g
    return o * np.tanh(c), c, (i, f, g, o)


def _lstm_run(params: dict[str, np.ndarray], inputs: np.ndarray, h0: np.ndarray, c0: np.ndarray):
    """The LSTM's states (T, H), cells (T, H), logits (T, V) and gates (4, T, H)."""
    T, D, H, V = check_gated_shapes(params, inputs, h0, LSTM_KEYS)
    if np.shape(c0) != (H,):
        raise ValueError(f"c0 has shape {np.shape(c0)}, expected (H,) with H={H}")
    dtype = np.result_type(*(params[k] for k in LSTM_KEYS[:-2]), inputs, h0, c0)
    cell = {k: np.asarray(params[k], dtype) for k in LSTM_KEYS[:-2]}  # every product in the widest precision
    x = np.asarray(inputs, dtype)
    hs, cs, gates = np.zeros((T, H), dtype), np.zeros((T, H), dtype), np.zeros((4, T, H), dtype)
    h, c = np.asarray(h0, dtype), np.asarray(c0, dtype)
    for t in range(T):
        h, c, gates[:, t] = lstm_cell(cell, x[t], h, c)
        hs[t], cs[t] = h, c
    return hs, cs, hs @ params["W_yh"].T + params["b_y"], gates


def lstm_forward(params: dict[str, np.ndarray], inputs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run an LSTM over inputs (T, D) from h0, c0 (H,); return hidden states (T, H), cell states (T, H) and logits (T, V)."""
    hs, cs, ys, _ = _lstm_run(params, inputs, h0, c0)
    return hs, cs, ys


def lstm_backward(params: dict[str, np.ndarray], inputs: np.ndarray, h0: np.ndarray, c0: np.ndarray, dys: np.ndarray
                  ) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """BPTT through an LSTM: from dL/dy_t (T, V) to the parameter gradients and (dL/dh_0, dL/dc_0)."""
    hs, cs, _, (i, f, g, o) = _lstm_run(params, inputs, h0, c0)
    T, H = hs.shape
    if np.shape(dys) != (T, np.shape(params["W_yh"])[0]):
        raise ValueError(f"dys has shape {np.shape(dys)}, expected (T, V) = ({T}, {np.shape(params['W_yh'])[0]})")
    grads = {k: np.zeros(np.shape(params[k]), np.result_type(params[k], dys)) for k in LSTM_KEYS}
    grads["W_yh"], grads["b_y"] = dys.T @ hs, dys.sum(axis=0, dtype=grads["b_y"].dtype)
    dh_next, dc_next = np.zeros(H), np.zeros(H)  # dL/dh_t and dL/dc_t through step t + 1
    for t in reversed(range(T)):
        h_prev, c_prev = (hs[t - 1], cs[t - 1]) if t > 0 else (np.asarray(h0, hs.dtype), np.asarray(c0, hs.dtype))
        dh = params["W_yh"].T @ dys[t] + dh_next
        tanh_c = np.tanh(cs[t])
        dc = dc_next + dh * o[t] * (1 - tanh_c**2)  # h_t = o_t * tanh(c_t)
        da = {  # dL/d(pre-activation) of each gate
            "i": dc * g[t] * i[t] * (1 - i[t]),
            "f": dc * c_prev * f[t] * (1 - f[t]),
            "g": dc * i[t] * (1 - g[t] ** 2),
            "o": dh * tanh_c * o[t] * (1 - o[t]),
        }
        dh_next = np.zeros(H)
        for k, d in da.items():
            grads[f"W_{k}x"] += np.outer(d, inputs[t])
            grads[f"W_{k}h"] += np.outer(d, h_prev)
            grads[f"b_{k}"] += d
            dh_next = dh_next + params[f"W_{k}h"].T @ d
        dc_next = dc * f[t]  # the direct path: dc_t/dc_{t-1} = diag(f_t)
    return grads, (dh_next, dc_next)


def lstm_loss_and_grads(params: dict[str, np.ndarray], inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray, c0: np.ndarray
                        ) -> tuple[float, dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Summed cross-entropy of an LSTM over T steps, its gradients by BPTT, and the last state (h_T, c_T)."""
    T, D, H, V = check_gated_shapes(params, inputs, h0, LSTM_KEYS)
    if T == 0:
        raise ValueError("inputs has no time steps (T = 0); the loss needs at least one step")
    targets = check_targets(targets, T, V)
    hs, cs, ys = lstm_forward(params, inputs, h0, c0)
    loss = -log_softmax(ys)[np.arange(T), targets].sum()  # L = sum_t -log p_t[target_t]
    grads, _ = lstm_backward(params, inputs, h0, c0, cross_entropy_grad(ys, targets))
    return float(loss), grads, (hs[-1], cs[-1])


def gru_cell(p: dict[str, np.ndarray], x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, tuple]:
    """One GRU step (x_t, h_{t-1}) -> (h_t, (r_t, z_t, n_t)), in PyTorch's form (b_nh inside the reset product)."""
    r = sigmoid(p["W_rx"] @ x + p["W_rh"] @ h + p["b_r"])  # reset gate: how much of the old state the candidate sees
    z = sigmoid(p["W_zx"] @ x + p["W_zh"] @ h + p["b_z"])  # update gate: how much of the old state to keep
    n = np.tanh(p["W_nx"] @ x + p["b_n"] + r * (p["W_nh"] @ h + p["b_nh"]))  # candidate
    return (1 - z) * n + z * h, (r, z, n)


def _gru_run(params: dict[str, np.ndarray], inputs: np.ndarray, h0: np.ndarray):
    """The GRU's states (T, H), logits (T, V) and gates (3, T, H)."""
    T, D, H, V = check_gated_shapes(params, inputs, h0, GRU_KEYS)
    dtype = np.result_type(*(params[k] for k in GRU_KEYS[:-2]), inputs, h0)
    cell = {k: np.asarray(params[k], dtype) for k in GRU_KEYS[:-2]}  # every product in the widest precision
    x = np.asarray(inputs, dtype)
    hs, gates = np.zeros((T, H), dtype), np.zeros((3, T, H), dtype)
    h = np.asarray(h0, dtype)
    for t in range(T):
        h, gates[:, t] = gru_cell(cell, x[t], h)
        hs[t] = h
    return hs, hs @ params["W_yh"].T + params["b_y"], gates


def gru_forward(params: dict[str, np.ndarray], inputs: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run a GRU over inputs (T, D) from h0 (H,); return hidden states (T, H) and logits (T, V)."""
    hs, ys, _ = _gru_run(params, inputs, h0)
    return hs, ys


def gru_backward(params: dict[str, np.ndarray], inputs: np.ndarray, h0: np.ndarray, dys: np.ndarray
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """BPTT through a GRU: from dL/dy_t (T, V) to the parameter gradients and dL/dh_0."""
    hs, _, (r, z, n) = _gru_run(params, inputs, h0)
    T, H = hs.shape
    if np.shape(dys) != (T, np.shape(params["W_yh"])[0]):
        raise ValueError(f"dys has shape {np.shape(dys)}, expected (T, V) = ({T}, {np.shape(params['W_yh'])[0]})")
    grads = {k: np.zeros(np.shape(params[k]), np.result_type(params[k], dys)) for k in GRU_KEYS}
    grads["W_yh"], grads["b_y"] = dys.T @ hs, dys.sum(axis=0, dtype=grads["b_y"].dtype)
    dh_next = np.zeros(H)
    for t in reversed(range(T)):
        h_prev = hs[t - 1] if t > 0 else np.asarray(h0, hs.dtype)
        dh = params["W_yh"].T @ dys[t] + dh_next
        da_n = dh * (1 - z[t]) * (1 - n[t] ** 2)  # h_t = (1 - z_t) n_t + z_t h_{t-1}
        da_z = dh * (h_prev - n[t]) * z[t] * (1 - z[t])
        dm = da_n * r[t]  # m_t = W_nh h_{t-1} + b_nh, scaled by r_t inside the candidate
        da_r = da_n * (params["W_nh"] @ h_prev + params["b_nh"]) * r[t] * (1 - r[t])
        for k, d in (("r", da_r), ("z", da_z)):
            grads[f"W_{k}x"] += np.outer(d, inputs[t])
            grads[f"W_{k}h"] += np.outer(d, h_prev)
            grads[f"b_{k}"] += d
        grads["W_nx"] += np.outer(da_n, inputs[t])
        grads["b_n"] += da_n
        grads["W_nh"] += np.outer(dm, h_prev)
        grads["b_nh"] += dm
        dh_next = dh * z[t] + params["W_rh"].T @ da_r + params["W_zh"].T @ da_z + params["W_nh"].T @ dm
    return grads, dh_next


def gru_loss_and_grads(params: dict[str, np.ndarray], inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray
                       ) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Summed cross-entropy of a GRU over T steps, its gradients by BPTT, and the last state h_T."""
    T, D, H, V = check_gated_shapes(params, inputs, h0, GRU_KEYS)
    if T == 0:
        raise ValueError("inputs has no time steps (T = 0); the loss needs at least one step")
    targets = check_targets(targets, T, V)
    hs, ys = gru_forward(params, inputs, h0)
    loss = -log_softmax(ys)[np.arange(T), targets].sum()
    grads, _ = gru_backward(params, inputs, h0, cross_entropy_grad(ys, targets))
    return float(loss), grads, hs[-1]


def numerical_grads(loss_fn: Callable[[dict[str, np.ndarray]], float], params: dict[str, np.ndarray], eps: float = 1e-5) -> dict[str, np.ndarray]:
    """Central finite differences (L(p + eps) - L(p - eps)) / 2 eps for every entry of every parameter; slow, for checking."""
    grads = {}
    for key, value in params.items():
        grads[key] = np.zeros_like(value, dtype=np.float64)
        for idx in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[key][idx] = value[idx] + eps
            plus = loss_fn(shifted)
            shifted[key][idx] = value[idx] - eps
            grads[key][idx] = (plus - loss_fn(shifted)) / (2 * eps)
    return grads


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||): 0 for equal arrays, 1 for opposite ones; 0 if both are zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0
