"""Tests of the LSTM and GRU of rnnbook.scratch (chapter 4): finite differences, PyTorch's modules and autograd."""

import re

import numpy as np

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnbook.models import gated_params
from rnnbook.scratch import (
    GRU_KEYS, LSTM_KEYS, gru_backward, gru_forward, gru_loss_and_grads, init_gated_params, lstm_backward, lstm_forward,
    lstm_loss_and_grads, numerical_grads, relative_error,
)

SHAPES = [(1, 1, 1, 1), (3, 5, 4, 1), (2, 4, 3, 2), (4, 6, 5, 9)]  # D, H, V, T: T = 1 included


def problem(cell: str, D: int, H: int, V: int, T: int, seed: int = 0):
    """Random parameters (larger than PyTorch's start, so every path matters), inputs, targets and initial states."""
    rng = np.random.default_rng(seed)
    p = {k: 2 * v for k, v in init_gated_params(cell, D, H, V, seed=seed).items()}
    return p, rng.normal(size=(T, D)), rng.integers(0, V, size=T), rng.normal(size=H) * 0.5, rng.normal(size=H) * 0.5


def torch_pair(cell: str, D: int, H: int, V: int, seed: int):
    """An nn.LSTM / nn.GRU and a head, float64, with PyTorch's random initialisation and nonzero biases."""
    torch.manual_seed(seed)
    layer = (nn.LSTM if cell == "lstm" else nn.GRU)(D, H).double()
    return layer, nn.Linear(H, V).double()


@pytest.mark.parametrize("D,H,V,T", SHAPES)
def test_lstm_gradients_match_finite_differences(D, H, V, T):
    p, x, c, h0, c0 = problem("lstm", D, H, V, T, seed=T + H)
    loss, grads, (h_T, c_T) = lstm_loss_and_grads(p, x, c, h0, c0)
    numeric = numerical_grads(lambda q: lstm_loss_and_grads(q, x, c, h0, c0)[0], p)
    assert set(grads) == set(LSTM_KEYS)
    for k in p:
        assert grads[k].shape == p[k].shape
        assert relative_error(grads[k], numeric[k]) < 1e-6, k
    hs, cs, ys = lstm_forward(p, x, h0, c0)
    assert np.array_equal(h_T, hs[-1]) and np.array_equal(c_T, cs[-1]) and ys.shape == (T, V)


@pytest.mark.parametrize("D,H,V,T", SHAPES)
def test_gru_gradients_match_finite_differences(D, H, V, T):
    p, x, c, h0, _ = problem("gru", D, H, V, T, seed=T + H)
    loss, grads, h_T = gru_loss_and_grads(p, x, c, h0)
    numeric = numerical_grads(lambda q: gru_loss_and_grads(q, x, c, h0)[0], p)
    assert set(grads) == set(GRU_KEYS)
    for k in p:
        assert relative_error(grads[k], numeric[k]) < 1e-6, k
    assert np.array_equal(h_T, gru_forward(p, x, h0)[0][-1])


def test_initial_state_gradients_match_finite_differences():
    p, x, c, h0, c0 = problem("lstm", 3, 4, 3, 5)
    ys = lstm_forward(p, x, h0, c0)[2]
    dys = np.random.default_rng(1).normal(size=ys.shape)  # any dL/dy: L = sum(dys * ys)
    _, (dh0, dc0) = lstm_backward(p, x, h0, c0, dys)
    num = numerical_grads(lambda q: float((lstm_forward(p, x, q["h"], q["c"])[2] * dys).sum()), {"h": h0.copy(), "c": c0.copy()})
    assert relative_error(dh0, num["h"]) < 1e-7 and relative_error(dc0, num["c"]) < 1e-7
    q, x, _, h0, _ = problem("gru", 3, 4, 3, 5)
    dys = np.random.default_rng(2).normal(size=(5, 3))
    _, dh0 = gru_backward(q, x, h0, dys)
    num = numerical_grads(lambda r: float((gru_forward(q, x, r["h"])[1] * dys).sum()), {"h": h0.copy()})["h"]
    assert relative_error(dh0, num) < 1e-7


@pytest.mark.parametrize("D,H,V,T", SHAPES)
def test_lstm_matches_torch_forward_and_autograd(D, H, V, T):
    lstm, head = torch_pair("lstm", D, H, V, seed=T + 10 * H)
    rng = np.random.default_rng(T)
    x, h0, c0, c = rng.normal(size=(T, D)), rng.normal(size=H), rng.normal(size=H), rng.integers(0, V, size=T)
    p = gated_params(lstm, head)
    hs, cs, ys = lstm_forward(p, x, h0, c0)
    out, (h_T, c_T) = lstm(torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
    logits = head(out)
    np.testing.assert_allclose(hs, out.detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(cs[-1], c_T[0].detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(ys, logits.detach().numpy(), atol=1e-13)
    loss_t = F.cross_entropy(logits, torch.from_numpy(c), reduction="sum")
    loss_t.backward()
    loss, grads, _ = lstm_loss_and_grads(p, x, c, h0, c0)
    assert loss == pytest.approx(loss_t.item(), abs=1e-12)
    for k, gate in enumerate("ifgo"):  # PyTorch's stacked gradients, slice by slice
        rows = slice(k * H, (k + 1) * H)
        np.testing.assert_allclose(grads[f"W_{gate}x"], lstm.weight_ih_l0.grad[rows].numpy(), atol=1e-12)
        np.testing.assert_allclose(grads[f"W_{gate}h"], lstm.weight_hh_l0.grad[rows].numpy(), atol=1e-12)
        np.testing.assert_allclose(grads[f"b_{gate}"], lstm.bias_ih_l0.grad[rows].numpy(), atol=1e-12)
        np.testing.assert_allclose(grads[f"b_{gate}"], lstm.bias_hh_l0.grad[rows].numpy(), atol=1e-12)
    np.testing.assert_allclose(grads["W_yh"], head.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(grads["b_y"], head.bias.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("D,H,V,T", SHAPES)
def test_gru_matches_torch_forward_and_autograd(D, H, V, T):
    gru, head = torch_pair("gru", D, H, V, seed=T + 10 * H)
    rng = np.random.default_rng(T)
    x, h0, c = rng.normal(size=(T, D)), rng.normal(size=H), rng.integers(0, V, size=T)
    p = gated_params(gru, head)
    hs, ys = gru_forward(p, x, h0)
    out, _ = gru(torch.from_numpy(x), torch.from_numpy(h0)[None])
    logits = head(out)
    np.testing.assert_allclose(hs, out.detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(ys, logits.detach().numpy(), atol=1e-13)
    F.cross_entropy(logits, torch.from_numpy(c), reduction="sum").backward()
    _, grads, _ = gru_loss_and_grads(p, x, c, h0)
    for k, gate in enumerate("rzn"):
        rows = slice(k * H, (k + 1) * H)
        np.testing.assert_allclose(grads[f"W_{gate}x"], gru.weight_ih_l0.grad[rows].numpy(), atol=1e-12)
        np.testing.assert_allclose(grads[f"W_{gate}h"], gru.weight_hh_l0.grad[rows].numpy(), atol=1e-12)
        np.testing.assert_allclose(grads[f"b_{gate}"], gru.bias_ih_l0.grad[rows].numpy(), atol=1e-12)
    np.testing.assert_allclose(grads["b_nh"], gru.bias_hh_l0.grad[2 * H:].numpy(), atol=1e-12)
    np.testing.assert_allclose(grads["W_yh"], head.weight.grad.numpy(), atol=1e-12)


def test_gated_params_without_head_gives_the_states_as_logits():
    torch.manual_seed(0)
    lstm = nn.LSTMCell(3, 4)
    hs, cs, ys = lstm_forward(gated_params(lstm), np.ones((2, 3)), np.zeros(4), np.zeros(4))
    assert np.array_equal(hs, ys)
    with torch.no_grad():
        h1, c1 = lstm(torch.ones(1, 3))
    np.testing.assert_allclose(hs[0], h1[0].double().numpy(), atol=1e-6)  # float32 module


def permuted(p: dict, gates: str, order: str) -> dict:
    """The parameters with the gates' roles exchanged: gate gates[k] gets the weights of order[k]."""
    q = dict(p)
    for a, b in zip(gates, order):
        for w in ("W_{}x", "W_{}h", "b_{}"):
            q[w.format(a)] = p[w.format(b)]
    return q


def test_realistic_bugs_are_caught():
    """A swapped gate, a wrong transpose or b_nh moved outside the reset product breaks parity with PyTorch."""
    lstm, head = torch_pair("lstm", 3, 4, 3, seed=0)
    gru, head_g = torch_pair("gru", 3, 4, 3, seed=0)
    x, h0 = np.random.default_rng(0).normal(size=(6, 3)), np.random.default_rng(1).normal(size=4)
    with torch.no_grad():
        ref_l = lstm(torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(h0)[None]))[0].numpy()
        ref_g = gru(torch.from_numpy(x), torch.from_numpy(h0)[None])[0].numpy()
    p, q = gated_params(lstm, head), gated_params(gru, head_g)
    assert np.abs(lstm_forward(p, x, h0, h0)[0] - ref_l).max() < 1e-13
    assert np.abs(lstm_forward(permuted(p, "if", "fi"), x, h0, h0)[0] - ref_l).max() > 1e-3  # i and f swapped
    assert np.abs(lstm_forward(permuted(p, "go", "og"), x, h0, h0)[0] - ref_l).max() > 1e-3
    assert np.abs(lstm_forward(dict(p, W_fh=p["W_fh"].T), x, h0, h0)[0] - ref_l).max() > 1e-3  # a wrong transpose
    assert np.abs(gru_forward(permuted(q, "rz", "zr"), x, h0)[0] - ref_g).max() > 1e-3  # r and z swapped
    merged = dict(q, b_n=q["b_n"] + q["b_nh"], b_nh=np.zeros(4))  # both candidate biases outside the product
    assert np.abs(gru_forward(merged, x, h0)[0] - ref_g).max() > 1e-3


def test_the_cell_gradient_travels_back_through_the_forget_gates():
    """With no recurrence through h (every W_*h zero), dL/dc_0 = prod_t f_t * dL/dc_T exactly: the direct path alone."""
    rng = np.random.default_rng(5)
    p = init_gated_params("lstm", 2, 3, 4, seed=5)
    for g in "ifgo":
        p[f"W_{g}h"] = np.zeros((3, 3))
    x, h0, c0 = rng.normal(size=(7, 2)), rng.normal(size=3), rng.normal(size=3)
    dys = np.zeros((7, 4))
    dys[-1] = rng.normal(size=4)  # a loss at the last step only
    _, (dh0, dc0) = lstm_backward(p, x, h0, c0, dys)
    hs, cs, _ = lstm_forward(p, x, h0, c0)
    f = 1 / (1 + np.exp(-(x @ p["W_fx"].T + p["b_f"])))  # (T, H): the forget gates, independent of h here
    o_T = 1 / (1 + np.exp(-(p["W_ox"] @ x[-1] + p["b_o"])))
    dc_T = (p["W_yh"].T @ dys[-1]) * o_T * (1 - np.tanh(cs[-1]) ** 2)
    np.testing.assert_allclose(dc0, f.prod(axis=0) * dc_T, rtol=1e-12)  # c_T = f_T c_{T-1} + ..., down to c_0
    assert not dh0.any()  # h_0 reaches nothing when every W_*h is zero


def test_memory_through_the_cell():
    """f = 1, i = 0 keeps c_0 for ever; z = 1 keeps h_0: the gates' extremes."""
    p = init_gated_params("lstm", 2, 3, 3, seed=1)
    p["b_f"][:], p["b_i"][:] = 60.0, -60.0
    _, cs, _ = lstm_forward(p, np.random.default_rng(0).normal(size=(20, 2)), np.zeros(3), np.arange(3.0))
    np.testing.assert_allclose(cs, np.tile(np.arange(3.0), (20, 1)), atol=1e-12)
    q = init_gated_params("gru", 2, 3, 3, seed=1)
    q["b_z"][:] = 60.0
    hs, _ = gru_forward(q, np.random.default_rng(0).normal(size=(20, 2)), np.arange(3.0))
    np.testing.assert_allclose(hs, np.tile(np.arange(3.0), (20, 1)), atol=1e-12)


def test_precision_follows_the_inputs():
    p = {k: v.astype(np.float32) for k, v in init_gated_params("lstm", 2, 3, 4).items()}
    x, h = np.zeros((3, 2), np.float32), np.zeros(3, np.float32)
    assert all(a.dtype == np.float32 for a in lstm_forward(p, x, h, h))
    assert lstm_forward(p, x, h.astype(np.float64), h)[0].dtype == np.float64
    q = {k: v.astype(np.float32) for k, v in init_gated_params("gru", 2, 3, 4).items()}
    assert gru_forward(q, x, h)[0].dtype == np.float32


def test_bad_input_raises_value_errors():
    p, q = init_gated_params("lstm", 3, 4, 5), init_gated_params("gru", 3, 4, 5)
    x, h = np.zeros((5, 3)), np.zeros(4)
    c = np.zeros(5, dtype=int)
    cases = [
        (lambda: lstm_forward(p, x[:, :2], h, h), "inputs has shape"),
        (lambda: lstm_forward(p, x, h, h[:3]), "c0 has shape"),
        (lambda: gru_forward(q, x, h[:3]), "h0 has shape"),
        (lambda: gru_forward(p, x, h), "params lacks"),  # LSTM parameters are not a GRU's
        (lambda: lstm_forward({k: v for k, v in p.items() if k != "b_f"}, x, h, h), r"params lacks \['b_f'\]"),
        (lambda: lstm_forward(dict(p, W_fh=p["W_fh"][:3]), x, h, h), r"params\['W_fh'\] has shape"),
        (lambda: gru_forward(dict(q, b_nh=q["b_nh"][:2]), x, h), r"params\['b_nh'\] has shape"),
        (lambda: gru_forward(dict(q, W_yh=q["W_yh"][:, :3]), x, h), r"params\['W_yh'\] has shape"),
        (lambda: lstm_forward(dict(p, W_ix=np.zeros(3)), x, h, h), "must be matrices"),
        (lambda: lstm_loss_and_grads(p, x[:0], c[:0], h, h), "T = 0"),
        (lambda: lstm_loss_and_grads(p, x, c[:4], h, h), "targets has shape"),
        (lambda: gru_loss_and_grads(q, x, c + 5, h), "targets must lie"),
        (lambda: lstm_backward(p, x, h, h, np.zeros((5, 4))), "dys has shape"),
        (lambda: gru_backward(q, x, h, np.zeros((4, 5))), "dys has shape"),
        (lambda: init_gated_params("rnn", 3, 4, 5), "cell must be"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()


def planted(fn, old: str, new: str):
    """fn (lstm_backward or gru_backward) with one line of its source replaced: a bug in the backward pass only."""
    import inspect

    import rnnbook.scratch as scratch

    code = inspect.getsource(fn)
    if "__mutmut" in code:  # under `make mutate` the body is mutmut's renamed copy: the planted bugs are its job there
        pytest.skip("mutation testing plants its own bugs")
    assert code.count(old) == 1, old
    namespace = dict(vars(scratch))
    exec(code.replace(old, new), namespace)
    return namespace[re.search(r"def (\w+)\(", code).group(1)]  # the name in the source (mutmut renames it)


@pytest.mark.parametrize("fn, old, new", [
    (lstm_backward, "dc_next = dc * f[t]", "dc_next = dc"),  # forget gate dropped from the direct path
    (lstm_backward, 'params[f"W_{k}h"].T @ d', 'params[f"W_{k}h"] @ d'),  # missing transpose in dh_next
    (lstm_backward, "dc * c_prev * f[t]", "dc * cs[t] * f[t]"),  # c_t where c_{t-1} belongs
    (lstm_backward, "dh * o[t] * (1 - tanh_c**2)", "dh * o[t]"),  # tanh' forgotten
    (gru_backward, "dh * z[t]", "dh"),  # the update gate dropped from the GRU's direct path
])
def test_backward_bugs_are_caught_by_finite_differences(fn, old, new):
    """The correct backward pass matches finite differences; each planted backward bug does not."""
    cell = "lstm" if fn is lstm_backward else "gru"
    p, x, targets, h0, c0 = problem(cell, 3, 4, 3, 6, seed=2)
    run = (lambda q: lstm_forward(q, x, h0, c0)[2]) if cell == "lstm" else (lambda q: gru_forward(q, x, h0)[1])
    ys = run(p)
    dys = np.exp(ys - ys.max(axis=1, keepdims=True))
    dys /= dys.sum(axis=1, keepdims=True)
    dys[np.arange(len(targets)), targets] -= 1  # dL/dy_t = p_t - e_{k_t}
    args = (p, x, h0, c0, dys) if cell == "lstm" else (p, x, h0, dys)
    loss = lstm_loss_and_grads if cell == "lstm" else gru_loss_and_grads
    extra = (h0, c0) if cell == "lstm" else (h0,)
    numeric = numerical_grads(lambda q: loss(q, x, targets, *extra)[0], p)
    good, bad = fn(*args)[0], planted(fn, old, new)(*args)[0]
    assert max(relative_error(good[k], numeric[k]) for k in p) < 1e-6
    assert max(relative_error(bad[k], numeric[k]) for k in p) > 1e-2, old
