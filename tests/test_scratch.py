"""Tests of rnnbook.scratch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnbook.models import ElmanRNN
from rnnbook.scratch import (
    init_params, log_softmax, numerical_grads, relative_error, rnn_backward, rnn_forward,
    rnn_loss_and_grads,
)
from rnnbook.scratch import count_params, linear_recurrence, min_gru, parallel_scan, sigmoid, softmax


@pytest.mark.parametrize("T", [1, 2, 3, 8, 13, 64, 1000])
def test_parallel_scan_equals_sequential_loop(T):
    rng = np.random.default_rng(T)
    a, b, h0 = rng.uniform(-1, 1, (T, 5)), rng.normal(size=(T, 5)), rng.normal(size=5)
    hs = linear_recurrence(a, b, h0)
    np.testing.assert_allclose(parallel_scan(a, b, h0), hs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hs[0], a[0] * h0 + b[0])  # the first step, by hand


def test_parallel_scan_does_not_modify_inputs():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(9, 2)), rng.normal(size=(9, 2))
    a0, b0 = a.copy(), b.copy()
    parallel_scan(a, b, np.zeros(2))
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


def test_linear_recurrence_closed_form():
    # a_t = lam, b_t = 1: h_T = lam^T h0 + (1 - lam^T) / (1 - lam)
    T, lam = 50, 0.9
    hs = parallel_scan(np.full((T, 1), lam), np.ones((T, 1)), np.array([2.0]))
    assert hs[-1, 0] == pytest.approx(lam**T * 2 + (1 - lam**T) / (1 - lam))


@pytest.mark.parametrize("a_shape,b_shape,h_shape", [((4, 3), (4, 2), (3,)), ((4, 3), (4, 3), (2,)), ((0, 3), (0, 3), (3,)), ((4,), (4,), ())])
def test_scans_reject_bad_shapes(a_shape, b_shape, h_shape):
    for f in (linear_recurrence, parallel_scan):
        with pytest.raises(ValueError, match="shape"):
            f(np.ones(a_shape), np.ones(b_shape), np.ones(h_shape))


def test_min_gru_equals_its_step_by_step_definition():
    rng = np.random.default_rng(0)
    T, D, H = 20, 3, 4
    x, h0 = rng.normal(size=(T, D)), rng.normal(size=H)
    W_zx, W_hx, b_z, b_h = rng.normal(size=(H, D)), rng.normal(size=(H, D)), rng.normal(size=H), rng.normal(size=H)
    h, expected = h0, []
    for t in range(T):
        z = sigmoid(W_zx @ x[t] + b_z)
        h = (1 - z) * h + z * (W_hx @ x[t] + b_h)
        expected.append(h)
    np.testing.assert_allclose(min_gru(x, W_zx, b_z, W_hx, b_h, h0), np.array(expected), rtol=1e-10, atol=1e-12)


def test_min_gru_rejects_mismatched_weights():
    with pytest.raises(ValueError, match="expected inputs"):
        min_gru(np.ones((5, 3)), np.ones((4, 2)), np.ones(4), np.ones((4, 2)), np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="expected inputs"):  # W_zx and W_hx of different shapes
        min_gru(np.ones((5, 3)), np.ones((4, 3)), np.ones(4), np.ones((2, 3)), np.ones(2), np.ones(4))
    with pytest.raises(ValueError, match="expected inputs"):  # inputs not (T, D)
        min_gru(np.ones(3), np.ones((4, 3)), np.ones(4), np.ones((4, 3)), np.ones(4), np.ones(4))


# --- the Elman RNN: forward pass, loss and gradients (chapters 1 to 3) ---

SHAPES = [(1, 1, 2, 1), (3, 4, 5, 1), (4, 6, 3, 2), (5, 3, 7, 9)]  # (D, H, V, T), T = 1 included


def random_problem(D: int, H: int, V: int, T: int, seed: int = 0):
    """Parameters, inputs (T, D), integer targets (T,) and a non-zero initial state, all float64."""
    rng = np.random.default_rng(seed)
    return init_params(D, H, V, seed=seed, scale=0.6), rng.normal(size=(T, D)), rng.integers(0, V, size=T), rng.normal(size=H) * 0.5


def torch_rnn(params: dict) -> tuple[nn.RNN, nn.Linear]:
    """nn.RNN + nn.Linear (float64) holding the given Elman parameters."""
    H, D = params["W_hx"].shape
    rnn, readout = nn.RNN(D, H).double(), nn.Linear(H, params["W_yh"].shape[0]).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(params["W_hx"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(params["W_hh"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(params["b_h"]))
        rnn.bias_hh_l0.zero_()
        readout.weight.copy_(torch.from_numpy(params["W_yh"]))
        readout.bias.copy_(torch.from_numpy(params["b_y"]))
    return rnn, readout


@pytest.mark.parametrize("D,H,V,T", SHAPES)
def test_rnn_forward_shapes_and_parity_with_torch(D, H, V, T):
    params, x, _, h0 = random_problem(D, H, V, T)
    hs, ys = rnn_forward(params, x, h0)
    assert hs.shape == (T, H) and ys.shape == (T, V)
    rnn, readout = torch_rnn(params)
    with torch.no_grad():
        hs_t, _ = rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])
        ys_t = readout(hs_t)
    np.testing.assert_allclose(hs, hs_t.numpy(), atol=1e-12)
    np.testing.assert_allclose(ys, ys_t.numpy(), atol=1e-12)


@pytest.mark.parametrize("D,H,V,T", SHAPES)
def test_rnn_loss_and_grads_match_finite_differences(D, H, V, T):
    params, x, targets, h0 = random_problem(D, H, V, T, seed=T)
    loss, grads, h_last = rnn_loss_and_grads(params, x, targets, h0)
    numeric = numerical_grads(lambda p: rnn_loss_and_grads(p, x, targets, h0)[0], params)
    assert set(grads) == set(params)
    for k in params:
        assert grads[k].shape == params[k].shape
        assert relative_error(grads[k], numeric[k]) < 1e-6, k
    np.testing.assert_allclose(h_last, rnn_forward(params, x, h0)[0][-1])


@pytest.mark.parametrize("D,H,V,T", SHAPES)
def test_rnn_loss_and_grads_match_autograd(D, H, V, T):
    params, x, targets, h0 = random_problem(D, H, V, T, seed=T + 1)
    loss, grads, h_last = rnn_loss_and_grads(params, x, targets, h0)
    model = ElmanRNN.from_numpy(params)
    hs, logits = model(torch.from_numpy(x), torch.from_numpy(h0))
    loss_t = F.cross_entropy(logits, torch.from_numpy(targets), reduction="sum")
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for k in params:
        assert relative_error(grads[k], getattr(model, k).grad.numpy()) < 1e-10, k
    np.testing.assert_allclose(h_last, hs[-1].detach().numpy(), atol=1e-14)


def test_loss_is_the_sum_of_per_step_cross_entropies():
    params, x, targets, h0 = random_problem(3, 4, 5, 6)
    _, ys = rnn_forward(params, x, h0)
    p = np.exp(ys) / np.exp(ys).sum(axis=1, keepdims=True)
    expected = -sum(np.log(p[t, targets[t]]) for t in range(6))
    assert rnn_loss_and_grads(params, x, targets, h0)[0] == pytest.approx(expected, rel=1e-12)


def test_rnn_backward_with_a_last_step_loss_matches_autograd():
    params, x, targets, h0 = random_problem(3, 5, 4, 7)
    hs, ys = rnn_forward(params, x, h0)
    dys = np.zeros_like(ys)
    dys[-1] = np.exp(log_softmax(ys[-1])) - np.eye(4)[targets[-1]]
    grads, dhs = rnn_backward(params, x, h0, hs, dys)
    model = ElmanRNN.from_numpy(params)
    F.cross_entropy(model(torch.from_numpy(x), torch.from_numpy(h0))[1][-1], torch.tensor(targets[-1])).backward()
    for k in params:
        assert relative_error(grads[k], getattr(model, k).grad.numpy()) < 1e-10, k
    # dL/dh_t for every t, from autograd on a step-by-step loop
    W = {k: torch.from_numpy(v).requires_grad_() for k, v in params.items()}
    h, states = torch.from_numpy(h0), []
    for x_t in torch.from_numpy(x):
        h = torch.tanh(W["W_hx"] @ x_t + W["W_hh"] @ h + W["b_h"])
        h.retain_grad()
        states.append(h)
    F.cross_entropy((W["W_yh"] @ h + W["b_y"])[None], torch.tensor(targets[-1:])).backward()
    np.testing.assert_allclose(dhs, torch.stack([s.grad for s in states]).numpy(), atol=1e-13)
    assert np.abs(dhs[0]).max() > 1e-6  # the gradient does reach the first step


def test_gradient_check_catches_a_wrong_gradient():
    params, x, targets, h0 = random_problem(3, 4, 5, 6)
    hs, ys = rnn_forward(params, x, h0)
    dys = np.exp(log_softmax(ys)) - np.eye(5)[targets]
    numeric = numerical_grads(lambda p: rnn_loss_and_grads(p, x, targets, h0)[0], params)
    buggy, _ = rnn_backward(dict(params, W_hh=params["W_hh"].T), x, h0, hs, dys)  # W_hh instead of W_hh^T
    assert relative_error(buggy["W_hx"], numeric["W_hx"]) > 1e-3


def test_numerical_grads_and_relative_error():
    a = {"w": np.array([1.0, -2.0, 3.0])}
    g = numerical_grads(lambda p: float(np.sum(p["w"] ** 3)), a)["w"]
    np.testing.assert_allclose(g, 3 * a["w"] ** 2, rtol=1e-8)
    assert relative_error(g, g) == 0 and relative_error(np.zeros(3), np.zeros(3)) == 0
    assert relative_error(g, -g) == pytest.approx(1.0)


def test_log_softmax_does_not_overflow():
    out = log_softmax(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.all(np.isfinite(out)) and out[0, 0] == pytest.approx(0.0) and out[0, 1] == pytest.approx(-1000.0)


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda p, x, c, h: (p, x, c[:-1], h), "targets has shape"),
        (lambda p, x, c, h: (p, x, np.full_like(c, 5), h), r"targets must lie in \[0, V\)"),
        (lambda p, x, c, h: (p, x, c - 10, h), r"targets must lie in \[0, V\)"),
        (lambda p, x, c, h: (p, x, c.astype(float), h), "integer class indices"),
        (lambda p, x, c, h: (p, x, c > 0, h), "integer class indices"),
        (lambda p, x, c, h: (p, x[:0], c[:0], h), "no time steps"),
        (lambda p, x, c, h: (p, x[:, :2], c, h), "inputs has shape"),
        (lambda p, x, c, h: (p, x, c, h[:2]), "h0 has shape"),
        (lambda p, x, c, h: (dict(p, W_hh=p["W_hh"][:, :2]), x, c, h), r"params\['W_hh'\] has shape"),
        (lambda p, x, c, h: ({k: v for k, v in p.items() if k != "b_y"}, x, c, h), "params lacks"),
    ],
)
def test_rnn_loss_and_grads_rejects_bad_input(change, match):
    with pytest.raises(ValueError, match=match):
        rnn_loss_and_grads(*change(*random_problem(3, 4, 5, 6)))


def test_rnn_backward_rejects_mismatched_states():
    params, x, _, h0 = random_problem(3, 4, 5, 6)
    hs, ys = rnn_forward(params, x, h0)
    with pytest.raises(ValueError, match="hs and dys"):
        rnn_backward(params, x, h0, hs[:-1], ys)


def test_softmax_is_torchs_and_does_not_overflow():
    logits = np.array([[1.0, 2.0, 3.0, -1.0], [1000.0, 1001.0, 999.0, -1000.0]])
    p = softmax(logits)
    np.testing.assert_allclose(p, torch.softmax(torch.from_numpy(logits), -1).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.log(p[0]), log_softmax(logits)[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(softmax(np.zeros(4)), 0.25)  # one axis too


def test_count_params_counts_every_entry():
    D, H, V = 3, 5, 7
    assert count_params(init_params(D, H, V)) == H * D + H * H + H + V * H + V == 87
    assert count_params({"a": np.zeros((2, 3)), "b": np.zeros(4)}) == 10 and count_params({}) == 0


def test_scratch_keeps_the_precision_it_is_given():
    """float32 in, float32 out (as in a float32 model); float64 anywhere makes the result float64."""
    params, inputs, targets, h0 = random_problem(3, 4, 5, 6)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    hs, ys = rnn_forward(p32, inputs.astype(np.float32), h0.astype(np.float32))
    assert hs.dtype == ys.dtype == np.float32
    assert rnn_forward(p32, inputs.astype(np.float32), h0)[0].dtype == np.float64  # a float64 h0 promotes
    grads, dhs = rnn_backward(p32, inputs.astype(np.float32), h0.astype(np.float32), hs, np.ones((6, 5), np.float32))
    assert all(g.dtype == np.float32 for g in grads.values())
    a, b = np.full((5, 2), 0.5, np.float32), np.ones((5, 2), np.float32)
    for scan in (linear_recurrence, parallel_scan):
        assert scan(a, b, np.zeros(2, np.float32)).dtype == np.float32
        assert scan(a, b, np.zeros(2)).dtype == np.float64 and scan(a, b.astype(np.float64), np.zeros(2, np.float32)).dtype == np.float64
        assert scan(a.astype(np.float64), b, np.zeros(2, np.float32)).dtype == np.float64
    rng = np.random.default_rng(0)  # mixed: float64 a and h0, float32 b: computed in float64 throughout
    a64, b32 = rng.uniform(-1, 1, (9, 3)), rng.normal(size=(9, 3)).astype(np.float32)
    np.testing.assert_allclose(parallel_scan(a64, b32, np.ones(3)), linear_recurrence(a64, b32, np.ones(3)), rtol=1e-12)
    grads64, _ = rnn_backward(p32, inputs.astype(np.float32), h0.astype(np.float32), hs, np.ones((6, 5)))
    assert all(g.dtype == np.float64 for g in grads64.values())  # float64 gradients of the loss are kept float64


@pytest.mark.parametrize("wide", ["a", "b", "h0"])
def test_scans_compute_in_the_widest_precision_of_their_inputs(wide):
    """One input float64, the others float32: every step is computed in float64, as on float64 copies."""
    rng = np.random.default_rng(1)
    args = {"a": rng.uniform(0.5, 1.0, (37, 3)), "b": rng.normal(size=(37, 3)), "h0": rng.normal(size=3)}
    mixed = {k: v if k == wide else v.astype(np.float32) for k, v in args.items()}
    a, b, h0 = (mixed[k].astype(np.float64) for k in ("a", "b", "h0"))
    exact = np.zeros((37, 3))
    exact[0] = a[0] * h0 + b[0]
    for t in range(1, 37):
        exact[t] = a[t] * exact[t - 1] + b[t]
    for scan in (linear_recurrence, parallel_scan):
        out = scan(**mixed)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, exact, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("wide", ["W_hx", "W_hh", "b_h", "inputs", "h0"])
def test_rnn_forward_computes_in_the_widest_precision_of_its_inputs(wide):
    """One input of the recurrence float64, the others float32: the states are those of float64 copies."""
    params, inputs, _, h0 = random_problem(3, 4, 5, 12)
    arrays = dict(params, inputs=inputs, h0=h0)
    mixed = {k: v if k == wide else v.astype(np.float32) for k, v in arrays.items()}
    wide64 = {k: v.astype(np.float64) for k, v in mixed.items()}
    hs, ys = rnn_forward({k: mixed[k] for k in params}, mixed["inputs"], mixed["h0"])
    hs64, ys64 = rnn_forward({k: wide64[k] for k in params}, wide64["inputs"], wide64["h0"])
    assert hs.dtype == np.float64 and ys.dtype == np.float64
    np.testing.assert_allclose(hs, hs64, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ys, ys64, rtol=1e-6, atol=1e-6)  # the head itself is float32 here
