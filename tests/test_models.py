"""Tests of rnnbook.models."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnbook.models import CausalSelfAttention, CausalTransformer
from rnnbook.models import ElmanRNN, SequenceModel, UnrolledRNN, gated_params


def test_causal_self_attention_matches_torch_sdpa():
    torch.manual_seed(0)
    B, T, d, n_heads = 2, 7, 16, 4
    attn = CausalSelfAttention(d, n_heads)
    x = torch.randn(B, T, d)
    q, k, v = (z.view(B, T, n_heads, -1).transpose(1, 2) for z in attn.qkv(x).split(d, dim=-1))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, d)
    torch.testing.assert_close(attn(x), attn.proj(ref))


def test_causal_self_attention_rejects_bad_width():
    with pytest.raises(ValueError, match="divisible"):
        CausalSelfAttention(10, 4)


def test_causal_transformer_shapes_and_causality():
    torch.manual_seed(0)
    model = CausalTransformer(11, d=16, n_layers=2, n_heads=2, block_size=12)
    x = torch.randint(0, 11, (3, 12))
    logits, state = model(x)
    assert logits.shape == (3, 12, 11) and state is None
    changed = x.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % 11  # change the future of position 7
    logits2, _ = model(changed)
    torch.testing.assert_close(logits[:, :8], logits2[:, :8])  # the past does not see the future
    assert not torch.allclose(logits[:, 8:], logits2[:, 8:])  # and the change does reach later positions


def test_causal_transformer_batch_elements_are_independent():
    torch.manual_seed(0)
    model = CausalTransformer(5, d=8, n_layers=1, n_heads=2, block_size=6)
    x = torch.randint(0, 5, (4, 6))
    torch.testing.assert_close(model(x)[0][2], model(x[2:3])[0][0])


def test_causal_transformer_parameter_count():
    V, d, L, bs = 65, 64, 2, 256
    model = CausalTransformer(V, d, L, 4, bs)
    per_block = (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d) + 2 * 2 * d
    expected = V * d + bs * d + L * per_block + 2 * d + (d * V + V)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_causal_transformer_learns_a_repeating_pattern():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is fastest, and unharmed by a busy machine
    try:
        torch.manual_seed(0)
        model = CausalTransformer(4, d=16, n_layers=1, n_heads=2, block_size=16)
        x = torch.tensor([0, 1, 2, 3] * 4).repeat(8, 1)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        for _ in range(60):
            loss = F.cross_entropy(model(x[:, :-1])[0].flatten(0, 1), x[:, 1:].flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    assert loss.item() < 0.1


@pytest.mark.parametrize("shape", [(2, 17), (2, 0), (5,)])
def test_causal_transformer_rejects_bad_input(shape):
    model = CausalTransformer(5, d=8, n_layers=1, n_heads=2, block_size=16)
    with pytest.raises(ValueError, match="block_size|expected"):
        model(torch.zeros(shape, dtype=torch.long))


def test_causal_transformer_rejects_a_state():
    model = CausalTransformer(5, d=8, n_layers=1, n_heads=2, block_size=16)
    with pytest.raises(ValueError, match="no recurrent state"):
        model(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 1, 8))


# --- unrolling and sequence models (chapters 2 and 3) ---


def test_unrolled_rnn_equals_the_loop_and_its_gradients_sum_to_the_tied_gradient():
    torch.manual_seed(0)
    T, B = 5, 3
    rnn = ElmanRNN(4, 6, 3).double()
    deep = UnrolledRNN(rnn, T)
    x, targets = torch.randn(T, B, 4, dtype=torch.float64), torch.randint(0, 3, (T, B))
    hs, ys = rnn(x)
    hs_d, ys_d = deep(x)
    torch.testing.assert_close(hs, hs_d)
    torch.testing.assert_close(ys, ys_d)
    F.cross_entropy(ys.reshape(-1, 3), targets.reshape(-1), reduction="sum").backward()
    F.cross_entropy(ys_d.reshape(-1, 3), targets.reshape(-1), reduction="sum").backward()
    for name, p in rnn.named_parameters():
        per_step = torch.stack([getattr(layer, name).grad for layer in deep.layers])
        torch.testing.assert_close(per_step.sum(0), p.grad)
        assert not torch.allclose(per_step[-1], p.grad)  # one step alone is not the whole gradient


def test_unrolled_rnn_copies_are_independent_and_fixed_in_length():
    rnn = ElmanRNN(2, 3, 2)
    deep = UnrolledRNN(rnn, 4)
    assert sum(p.numel() for p in deep.parameters()) == 4 * sum(p.numel() for p in rnn.parameters())
    with torch.no_grad():
        deep.layers[0].W_hh.add_(1.0)
    assert not torch.equal(deep.layers[0].W_hh, deep.layers[1].W_hh)
    assert not torch.equal(deep.layers[0].W_hh, rnn.W_hh)
    with pytest.raises(ValueError, match="unrolled for T=4"):
        deep(torch.zeros(5, 2))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sequence_model_shapes_and_carried_state(cell):
    torch.manual_seed(0)
    model = SequenceModel(cell, D=3, H=5, V=4)
    x = torch.randn(8, 2, 3)
    logits, state = model(x)
    assert logits.shape == (8, 2, 4)
    first, state1 = model(x[:5])
    second, _ = model(x[5:], state1)  # carrying the state on equals reading everything at once
    torch.testing.assert_close(torch.cat([first, second]), logits)


def test_sequence_model_rejects_unknown_cells():
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceModel("transformer", 3, 5, 4)


def test_gated_params_names_and_shapes():
    p = gated_params(torch.nn.LSTM(3, 5), head=torch.nn.Linear(5, 7))
    shapes = {k: v.shape for k, v in p.items()}
    assert shapes == {**{f"W_{g}x": (5, 3) for g in "ifgo"}, **{f"W_{g}h": (5, 5) for g in "ifgo"},
                      **{f"b_{g}": (5,) for g in "ifgo"}, "W_yh": (7, 5), "b_y": (7,)}
    q = gated_params(torch.nn.GRUCell(3, 5))
    assert set(q) == {"W_rx", "W_rh", "b_r", "W_zx", "W_zh", "b_z", "W_nx", "W_nh", "b_n", "b_nh", "W_yh", "b_y"}
    assert np.array_equal(q["W_yh"], np.eye(5)) and not q["b_y"].any()  # no head: the logits are h_t
    for bad in (torch.nn.RNN(3, 5), torch.nn.LSTM(3, 5, num_layers=2), torch.nn.GRU(3, 5, bias=False)):
        with pytest.raises(ValueError, match="expected"):
            gated_params(bad)
    with pytest.raises(ValueError, match="head"):
        gated_params(torch.nn.LSTM(3, 5), head=torch.nn.Linear(4, 7))
