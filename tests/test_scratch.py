"""Tests of rnnbook.scratch."""

import numpy as np
import pytest

from rnnbook.scratch import linear_recurrence, min_gru, parallel_scan, sigmoid


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
