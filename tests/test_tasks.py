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


def test_set_gate_bias_sets_one_gate_and_rejects_bad_input():
    from rnnbook.tasks import set_gate_bias

    lstm = set_gate_bias(torch.nn.LSTM(2, 3), 1, 2.0)
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
    assert torch.all(b[3:6] == 2.0) and not torch.any(b[:3] == 2.0)
    cell = set_gate_bias(torch.nn.GRUCell(2, 3), 1, -1.0)
    assert torch.all(cell.bias_ih[3:6] + cell.bias_hh[3:6] == -1.0)
    with pytest.raises(ValueError, match="gate must lie"):
        set_gate_bias(torch.nn.GRU(2, 3), 3, 1.0)
    with pytest.raises(ValueError, match="expected"):
        set_gate_bias(torch.nn.RNN(2, 3), 0, 1.0)


@pytest.mark.parametrize("make", [lambda: torch.nn.RNNCell(3, 4), lambda: torch.nn.LSTMCell(3, 4), lambda: torch.nn.GRUCell(3, 4)])
def test_state_jacobian_norms_match_autograds_jacobian(make):
    from rnnbook.tasks import state_jacobian_norms

    torch.manual_seed(0)
    cell, x = make(), torch.randn(5, 3)
    norms = state_jacobian_norms(cell, x)
    lstm = isinstance(cell, torch.nn.LSTMCell)
    for k in (1, 3, 5):  # d h_T / d state_{T-k}, by autograd's Jacobian of the last k steps
        state = (torch.zeros(1, 4), torch.zeros(1, 4)) if lstm else torch.zeros(1, 4)
        for x_t in x[:5 - k]:
            state = cell(x_t[None], state)

        def h_T(s):
            s = (s[:, :4], s[:, 4:]) if lstm else s
            for x_t in x[5 - k:]:
                s = cell(x_t[None], s)
            return (s[0] if lstm else s)[0]

        start = torch.cat(state, dim=1) if lstm else state
        J = torch.autograd.functional.jacobian(h_T, start.detach())[:, 0]
        assert norms[k - 1] == pytest.approx(torch.linalg.matrix_norm(J, ord=2).item(), rel=1e-5)
    assert len(norms) == 5
    with pytest.raises(ValueError, match="expected"):
        state_jacobian_norms(cell, torch.randn(5, 2))


def test_adding_batch_marks_one_step_in_each_half_and_sums_them():
    from rnnbook.tasks import adding_batch

    x, y = adding_batch(64, 10, torch.Generator().manual_seed(0))
    assert x.shape == (10, 64, 2) and y.shape == (64,)
    assert torch.all(x[:5, :, 1].sum(0) == 1) and torch.all(x[5:, :, 1].sum(0) == 1)
    assert torch.allclose(y, (x[..., 0] * x[..., 1]).sum(0))
    with pytest.raises(ValueError, match="T >= 2"):
        adding_batch(4, 1, torch.Generator())


def test_train_adding_learns_and_checks_its_arguments():
    from rnnbook.tasks import train_adding

    model, losses, test = train_adding("gru", seed=0, T=6, H=8, steps=150)
    assert len(losses) == 150 and test < 0.5 * 2 / 12  # short sequences: learned well below chance
    lstm, _, _ = train_adding("lstm", seed=0, T=4, H=4, steps=1, forget_bias=1.0)
    with pytest.raises(ValueError, match="forget_bias"):
        train_adding("gru", seed=0, T=4, steps=1, forget_bias=1.0)


def fixed_model(logits: torch.Tensor) -> nn.Module:
    """A model that returns fixed logits, whatever its input."""

    class Fixed(nn.Module):
        def forward(self, inputs):
            return logits, None

    return Fixed()


def test_marked_recall_batch_loss_and_training():
    from rnnbook.tasks import marked_recall_batch, marked_recall_loss, train_marked_recall

    x, symbol, pos = marked_recall_batch(16, 8, 3, torch.Generator().manual_seed(0), first=3)
    assert x.shape == (8, 16, 4) and torch.all(x[..., 3].sum(0) == 1) and torch.all(pos < 3)
    assert torch.all(x[pos, torch.arange(16), :3].argmax(-1) == symbol) and torch.all(x[pos, torch.arange(16), 3] == 1)
    with pytest.raises(ValueError, match="first"):
        marked_recall_batch(4, 5, 3, torch.Generator(), first=5)
    # right after the marker, confidently wrong at and before it: only the steps after the marker may count
    after = (torch.arange(8)[:, None] > pos[None, :])[..., None]
    right, wrong = F.one_hot(symbol, 3).float()[None], F.one_hot((symbol + 1) % 3, 3).float()[None]
    assert marked_recall_loss(fixed_model(40.0 * torch.where(after, right, wrong)), x, symbol, pos).item() < 1e-6
    assert marked_recall_loss(fixed_model(torch.zeros(8, 16, 3)), x, symbol, pos).item() == pytest.approx(np.log(3))
    model, losses = train_marked_recall("gru", seed=0, T=6, V=3, H=8, steps=150)
    x, symbol, pos = marked_recall_batch(200, 6, 3, torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (model(x)[0][-1].argmax(-1) == symbol).float().mean() > 0.9 and losses[-10:].mean() < 0.5


def test_adding_model_is_the_start_of_train_adding():
    """adding_model draws the weights train_adding starts from, sets b_f, and rejects b_f for other cells."""
    from rnnbook.tasks import adding_model

    a, b = adding_model("lstm", 3, H=4, forget_bias=1.0), adding_model("lstm", 3, H=4, forget_bias=1.0)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    bias = (a.rnn.bias_ih_l0 + a.rnn.bias_hh_l0).detach()[4:8]  # the forget gate's slice
    assert torch.allclose(bias, torch.ones(4))
    with pytest.raises(ValueError, match="forget_bias"):
        adding_model("gru", 0, forget_bias=1.0)
