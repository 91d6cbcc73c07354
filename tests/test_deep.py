"""Tests of the code behind chapter 2's deep (stacked) and bidirectional RNNs."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from matplotlib.patches import Circle, FancyBboxPatch
from torch import nn

from rnnbook.models import SequenceModel, single_layer
from rnnbook.plots import draw_bidirectional, draw_stacked
from rnnbook.tasks import local_max_batch


def chain(rnn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a stacked, possibly bidirectional rnn layer by layer with single_layer copies; return the top layer's output."""
    for layer in range(rnn.num_layers):
        out = single_layer(rnn, layer)(x)[0]
        if rnn.bidirectional:
            back = single_layer(rnn, layer, reverse=True)(x.flip(0))[0].flip(0)
            out = torch.cat([out, back], dim=-1)
        x = out
    return x


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_single_layers_chained_equal_the_stack(cls, bidirectional):
    torch.manual_seed(0)
    rnn = cls(3, 5, num_layers=3, bidirectional=bidirectional).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(chain(rnn, x), rnn(x)[0], rtol=0, atol=1e-12)


def test_single_layer_gives_each_layer_and_direction_its_own_weights():
    torch.manual_seed(0)
    rnn = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    copies = {(l, r): single_layer(rnn, l, reverse=r) for l in (0, 1) for r in (False, True)}
    assert copies[0, False].input_size == 3 and copies[1, False].input_size == 8  # layer 2 reads both directions
    torch.testing.assert_close(copies[1, True].weight_hh_l0, rnn.weight_hh_l1_reverse)
    torch.testing.assert_close(copies[0, False].bias_ih_l0, rnn.bias_ih_l0)
    assert not torch.allclose(copies[1, True].weight_hh_l0, copies[1, False].weight_hh_l0)
    with torch.no_grad():  # a copy, not a view: changing it leaves the stack alone
        copies[0, False].weight_ih_l0.zero_()
    assert rnn.weight_ih_l0.abs().sum() > 0


def test_single_layer_keeps_the_nonlinearity_and_the_dtype():
    torch.manual_seed(0)
    rnn = nn.RNN(2, 3, num_layers=2, nonlinearity="relu").double()
    one = single_layer(rnn, 1)
    assert one.nonlinearity == "relu" and one.weight_ih_l0.dtype == torch.float64
    x = torch.randn(5, 1, 2, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(one(single_layer(rnn, 0)(x)[0])[0], rnn(x)[0])


def test_dropout_acts_between_layers_only_and_only_in_training():
    torch.manual_seed(0)
    model = SequenceModel("rnn", D=3, H=6, V=2, num_layers=2, dropout=0.5)
    rnn = model.rnn
    x = torch.randn(8, 4, 3)
    l1, l2 = single_layer(rnn, 0), single_layer(rnn, 1)
    with torch.no_grad():
        h1, h1_last = l1(x)
        model.eval()
        torch.testing.assert_close(rnn(x)[0], l2(h1)[0])
        model.train()
        torch.manual_seed(3)
        out, h_n = rnn(x)
        torch.manual_seed(3)
        torch.testing.assert_close(out, l2(F.dropout(h1, 0.5, training=True))[0])
        torch.testing.assert_close(h_n[0], h1_last[0])  # the first layer's recurrence is untouched
        assert (out - l2(h1)[0]).abs().max() > 1e-2


@pytest.mark.parametrize("kwargs", [dict(layer=2), dict(layer=-1), dict(reverse=True)])
def test_single_layer_rejects_missing_layers(kwargs):
    with pytest.raises(ValueError, match="there is no layer"):
        single_layer(nn.RNN(3, 4, num_layers=2), **kwargs)


@pytest.mark.parametrize("module", [nn.RNN(3, 4, batch_first=True), nn.LSTM(3, 4, proj_size=2), nn.Linear(3, 4)])
def test_single_layer_rejects_what_it_cannot_copy(module):
    with pytest.raises(ValueError, match="expected an nn.RNN"):
        single_layer(module)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sequence_model_stacks_and_reads_both_directions(cell):
    torch.manual_seed(0)
    model = SequenceModel(cell, D=3, H=5, V=7, num_layers=2, bidirectional=True)
    assert model.rnn.num_layers == 2 and model.rnn.bidirectional and model.head.in_features == 10
    logits, _ = model(torch.randn(6, 2, 3))
    assert logits.shape == (6, 2, 7)


def test_sequence_model_output_at_step_one_depends_on_the_last_input_only_when_bidirectional():
    torch.manual_seed(0)
    x = torch.randn(6, 2, 3)
    changed = x.clone()
    changed[-1] += 1.0
    for bidirectional in (False, True):
        model = SequenceModel("gru", D=3, H=5, V=4, bidirectional=bidirectional)
        with torch.no_grad():
            moved = (model(changed)[0][0] - model(x)[0][0]).abs().max()
        assert (moved > 1e-4) == bidirectional


def test_sequence_model_default_is_the_one_layer_model_of_before():
    torch.manual_seed(0)
    model = SequenceModel("rnn", D=3, H=5, V=4)
    torch.manual_seed(0)
    rnn, head = nn.RNN(3, 5), nn.Linear(5, 4)
    assert model.rnn.num_layers == 1 and not model.rnn.bidirectional and model.rnn.dropout == 0
    torch.testing.assert_close(model.rnn.weight_hh_l0, rnn.weight_hh_l0)
    torch.testing.assert_close(model.head.weight, head.weight)


@pytest.mark.parametrize("kwargs, match", [(dict(num_layers=0), "num_layers"), (dict(num_layers=True), "num_layers"),
                                           (dict(num_layers=2.0), "num_layers"), (dict(dropout=0.3), "dropout"),
                                           (dict(num_layers=2, dropout=1.0), "dropout"),
                                           (dict(num_layers=2, dropout=-0.1), "dropout")])
def test_sequence_model_rejects_bad_stacks(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SequenceModel("rnn", D=3, H=5, V=4, **kwargs)


def brute_force_local_max(s: torch.Tensor) -> torch.Tensor:
    T, B = s.shape
    y = torch.empty_like(s)
    for b in range(B):
        for t in range(T):
            y[t, b] = s[max(t - 1, 0):t + 2, b].max()
    return y


@pytest.mark.parametrize("T", [1, 2, 3, 9])
def test_local_max_batch_is_the_maximum_of_each_step_and_its_neighbours(T):
    x, y = local_max_batch(5, T, 4, torch.Generator().manual_seed(T))
    assert x.shape == (T, 5, 4) and y.shape == (T, 5) and y.dtype == torch.int64
    assert torch.equal(x.sum(-1), torch.ones(T, 5))  # one-hot
    torch.testing.assert_close(y, brute_force_local_max(x.argmax(-1)))


def test_local_max_batch_needs_the_right_neighbour():
    # the targets depend on the next digit: the same past with different futures gives different targets
    x, y = local_max_batch(2000, 6, 6, torch.Generator().manual_seed(0))
    s = x.argmax(-1)
    past = (s[1] == 0) & (s[2] == 0)
    assert set(y[2][past].tolist()) == set(range(6))  # y_3 = x_4 there, any digit
    assert torch.equal(y[2][past], s[3][past])


def test_local_max_batch_is_reproducible_and_rejects_bad_sizes():
    a = local_max_batch(3, 4, 5, torch.Generator().manual_seed(1))
    b = local_max_batch(3, 4, 5, torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    for B, T, K in [(0, 4, 5), (3, 0, 5), (3, 4, 1)]:
        with pytest.raises(ValueError, match="need B >= 1"):
            local_max_batch(B, T, K, torch.Generator())


@pytest.mark.parametrize("T, layers", [(1, 1), (3, 2), (4, 3)])
def test_draw_stacked_draws_a_state_per_step_and_layer(T, layers):
    ax = draw_stacked(T, layers)
    texts = [t.get_text() for t in ax.texts]
    assert sum(isinstance(p, Circle) for p in ax.patches) == 2 * T  # x_t and y_t
    assert sum(isinstance(p, FancyBboxPatch) for p in ax.patches) == (T + 1) * layers  # h_0 .. h_T of each layer
    for l in range(1, layers + 1):
        assert texts.count(f"$W_{{hh}}^{{({l})}}$") == T and texts.count(f"$W_{{hx}}^{{({l})}}$") == T
        assert f"$h_{{{T}}}^{{({l})}}$" in texts
    assert f"$h_{{1}}^{{({layers + 1})}}$" not in texts
    assert texts.count("dropout") == T * (layers - 1) and texts.count("$W_{yh}$") == T
    plt.close(ax.figure)


@pytest.mark.parametrize("T", [1, 4])
def test_draw_bidirectional_draws_two_chains(T):
    ax = draw_bidirectional(T)
    texts = [t.get_text() for t in ax.texts]
    assert sum(isinstance(p, Circle) for p in ax.patches) == 2 * T
    assert sum(isinstance(p, FancyBboxPatch) for p in ax.patches) == 2 * (T + 1)
    assert r"$\overrightarrow{h}_0$" in texts and rf"$\overleftarrow{{h}}_{{{T + 1}}}$" in texts
    assert rf"$\overrightarrow{{h}}_{{{T}}}$" in texts and r"$\overleftarrow{h}_{1}$" in texts
    plt.close(ax.figure)


@pytest.mark.parametrize("draw, args", [(draw_stacked, (0,)), (draw_stacked, (2.5,)), (draw_stacked, (True,)),
                                        (draw_bidirectional, (0,)), (draw_bidirectional, ("3",))])
def test_drawings_reject_bad_lengths(draw, args):
    with pytest.raises(ValueError, match="T must be a positive integer"):
        draw(*args)


@pytest.mark.parametrize("layers", [0, 1.5, False])
def test_draw_stacked_rejects_bad_layer_counts(layers):
    with pytest.raises(ValueError, match="layers must be"):
        draw_stacked(3, layers)
