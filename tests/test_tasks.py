"""Unit tests of rnnbook.tasks: the synthetic tasks of chapters 1-3 and the small training loop."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnbook.models import SequenceModel
from rnnbook.scratch import cross_entropy_grad, log_softmax
from rnnbook.tasks import (BATCH, CLIP, LR, STEPS, event_batch, fit, last_k, recall_accuracy, recall_batch,
                           recall_loss, spread, update)


def test_the_one_setting():
    assert (LR, BATCH, CLIP, STEPS) == (1e-2, 32, 1.0, 300)


def test_event_batch_is_time_first_and_targets_are_the_running_or():
    x, y = event_batch(500, 40, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (40, 500)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(y, (x.cumsum(0) > 0).float())
    assert 0.3 < (x.sum(0) == 0).float().mean() < 0.5  # rate 1/T: about (1 - 1/T)^T = 0.36 have no event


def test_last_k_is_the_window_zero_padded_before_step_1():
    x = torch.arange(1.0, 7.0)[:, None].repeat(1, 2)  # (T=6, B=2): values 1..6
    w = last_k(x, 3)
    assert w.shape == (6, 2, 3)
    assert w[0, 0].tolist() == [0, 0, 1] and w[4, 1].tolist() == [3, 4, 5]
    with pytest.raises(ValueError, match="K >= 1"):
        last_k(x, 0)


def test_recall_batch_loss_and_accuracy():
    x, s = recall_batch(8, 10, 4, torch.Generator().manual_seed(0))
    assert x.shape == (10, 8, 4) and s.shape == (10, 8) and torch.equal(x.argmax(-1), s)

    class Oracle(nn.Module):  # outputs the symbol of d = 2 steps earlier with high confidence
        def forward(self, x):
            past = torch.cat([torch.zeros_like(x[:2]), x[:-2]])
            return 20 * past, None

    assert recall_accuracy(Oracle(), x, s, 2) == 1.0
    assert recall_loss(Oracle(), x, s, 2).item() < 1e-6
    assert recall_accuracy(Oracle(), x, s, 1) < 0.6
    for d in (0, 10):
        with pytest.raises(ValueError, match="delay"):
            recall_loss(Oracle(), x, s, d)


def test_update_clips_and_returns_the_norm_before_clipping():
    w = nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([w], lr=1.0)
    norm = update(opt, (w * torch.tensor([30.0, 40.0])).sum(), clip=1.0)
    assert norm == pytest.approx(50.0)
    assert torch.allclose(w.detach(), torch.tensor([-0.6, -0.8]))  # the step has length 1, direction kept
    norm = update(opt, (w * torch.tensor([3.0, 4.0])).sum(), clip=None)  # no clipping
    assert norm == pytest.approx(5.0) and torch.allclose(w.detach(), torch.tensor([-3.6, -4.8]))


def test_fit_learns_delayed_recall_and_reports_losses_and_norms():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = SequenceModel("rnn", D=4, H=16, V=4)
    losses, norms = fit(model.parameters(), lambda: recall_loss(model, *recall_batch(BATCH, 12, 4, gen), 1), steps=150)
    assert losses.shape == norms.shape == (150,) and np.all(norms > 0)
    assert losses[:10].mean() > 1.2 and losses[-10:].mean() < 0.2
    assert recall_accuracy(model, *recall_batch(200, 12, 4, gen), 1) > 0.95


def test_fit_rejects_bad_settings():
    p = [nn.Parameter(torch.zeros(1))]
    for kwargs in ({"steps": 0}, {"steps": 1, "lr": 0.0}, {"steps": 1, "clip": 0.0}):
        with pytest.raises(ValueError, match="need steps"):
            fit(p, lambda: p[0].sum(), **kwargs)


def test_spread():
    assert spread([0.5, 0.9, 0.7]) == "0.70 (0.50 to 0.90)"
    assert spread([1e-3, 2e-3], ".1e") == "1.5e-03 (1.0e-03 to 2.0e-03)"
    with pytest.raises(ValueError, match="at least one"):
        spread([])


def test_cross_entropy_grad_is_p_minus_onehot_and_matches_autograd():
    rng = np.random.default_rng(0)
    ys, c = rng.normal(size=(5, 7)), rng.integers(0, 7, size=5)
    g = cross_entropy_grad(ys, c)
    assert np.allclose(g, np.exp(log_softmax(ys)) - np.eye(7)[c]) and np.allclose(g.sum(1), 0)
    y_t = torch.tensor(ys, requires_grad=True)
    F.cross_entropy(y_t, torch.from_numpy(c), reduction="sum").backward()
    assert np.allclose(g, y_t.grad.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="targets"):
        cross_entropy_grad(ys, c[:3])
