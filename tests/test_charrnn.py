"""Tests of rnnbook.models.CharRNN."""

import pytest
import torch
from torch import nn

from rnnbook.models import CharRNN


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_shapes_and_state_carrying(cell):
    torch.manual_seed(0)
    model = CharRNN(11, embed_dim=5, hidden_size=7, num_layers=2, cell=cell).eval()
    x = torch.randint(0, 11, (3, 8))
    logits, state = model(x)
    assert logits.shape == (3, 8, 11)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 3, 7)
    # two halves with the state carried give the same logits as the whole sequence at once
    a, s = model(x[:, :5])
    b, _ = model(x[:, 5:], s)
    assert torch.allclose(torch.cat([a, b], dim=1), logits, atol=1e-6)


def test_architecture_is_embedding_rnn_linear():
    model = CharRNN(10, 4, 6, 1, "gru")
    kinds = [type(m) for m in model.children()]
    assert kinds == [nn.Embedding, nn.GRU, nn.Dropout, nn.Linear]
    assert model.rnn.batch_first and model.config["cell"] == "gru"
    assert CharRNN(**model.config).config == model.config


def test_rnn_cell_is_tanh_and_matches_the_equations():
    torch.manual_seed(0)
    model = CharRNN(6, 3, 4, 1, "rnn")
    x = torch.tensor([[1, 4, 2]])
    logits, _ = model(x)
    h = torch.zeros(4)
    r = model.rnn
    for t in range(3):  # h_t = tanh(W_hx x_t + b_hx + W_hh h_{t-1} + b_hh), y_t = W_yh h_t + b_y
        e = model.embed.weight[x[0, t]]
        h = torch.tanh(r.weight_ih_l0 @ e + r.bias_ih_l0 + r.weight_hh_l0 @ h + r.bias_hh_l0)
        assert torch.allclose(model.head.weight @ h + model.head.bias, logits[0, t], atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(cell="transformer"), "valid cells"),
    (dict(hidden_size=0), "hidden_size"),
    (dict(num_layers=1.5), "num_layers"),
    (dict(dropout=1.0), "dropout"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CharRNN(10, **kwargs)


def test_dropout_acts_on_a_one_layer_model_in_training_only():
    torch.manual_seed(0)
    model = CharRNN(10, 4, 6, 1, "gru", dropout=0.5)
    plain = CharRNN(10, 4, 6, 1, "gru")
    plain.load_state_dict(model.state_dict())  # dropout has no weights: the same state dict
    x = torch.randint(0, 10, (2, 5))
    assert not torch.equal(model(x)[0], model(x)[0])  # training mode: a new mask each call
    model.eval()
    assert torch.equal(model(x)[0], plain(x)[0])  # eval mode: dropout is off
