"""Precision, defaults and edge cases of rnnbook.scratch, rnnbook.jsmodel's unit statistics and the entity scores
(written against the survivors of `make mutate`)."""

import numpy as np
import pytest
import torch

from rnnbook import scratch
from rnnbook.apps import entity_scores
from rnnbook.data import CharVocab
from rnnbook.jsmodel import correlations, in_speaker_name, named_units
from rnnbook.models import CharRNN
from rnnbook.scratch import (GRU_KEYS, LSTM_KEYS, cross_entropy_grad, gru_backward, gru_forward, gru_loss_and_grads,
                             init_gated_params, init_params, lstm_backward, lstm_forward, lstm_loss_and_grads,
                             numerical_grads, relative_error, rnn_backward, rnn_forward, sample_numpy, train_numpy_rnn)


def gated_case(cell: str, seed: int = 0):
    D, H, V, T = 3, 4, 5, 6
    params = init_gated_params(cell, D, H, V, seed=seed)
    rng = np.random.default_rng(seed)
    return params, rng.normal(size=(T, D)), rng.normal(size=H), rng.normal(size=H), rng.integers(0, V, T)


def run(cell, params, x, h0, c0, targets):
    if cell == "lstm":
        return lstm_forward(params, x, h0, c0), lstm_loss_and_grads(params, x, targets, h0, c0)
    return gru_forward(params, x, h0), gru_loss_and_grads(params, x, targets, h0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_compute_in_the_widest_precision_of_their_inputs(cell):
    params, x, h0, c0, targets = gated_case(cell)
    forward64, (loss64, grads64, _) = run(cell, params, x, h0, c0, targets)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    p32 = {k: f32(v) for k, v in params.items()}
    forward32, (_, grads32, _) = run(cell, p32, f32(x), f32(h0), f32(c0), targets)
    assert all(a.dtype == np.float32 for a in forward32) and all(g.dtype == np.float32 for g in grads32.values())
    first = "W_fh" if cell == "lstm" else "W_zh"
    last = (LSTM_KEYS if cell == "lstm" else GRU_KEYS)[-3]  # the last key of the cell itself: b_o, b_nh
    for name, case in {"one weight": (dict(p32, **{first: params[first]}), f32(x), f32(h0), f32(c0)),
                       "the last bias": (dict(p32, **{last: params[last]}), f32(x), f32(h0), f32(c0)),
                       "the inputs": (p32, x, f32(h0), f32(c0)), "h0": (p32, f32(x), h0, f32(c0)),
                       "c0": (p32, f32(x), f32(h0), c0)}.items():
        if cell == "gru" and name == "c0":
            continue
        p, xi, hi, ci = case
        forward, (_, grads, _) = run(cell, p, xi, hi, ci, targets)
        reference, (_, grads_ref, _) = run(cell, {k: v.astype(np.float64) for k, v in p.items()}, xi.astype(np.float64),
                                           hi.astype(np.float64), ci.astype(np.float64), targets)
        assert forward[0].dtype == np.float64, name
        np.testing.assert_allclose(forward[0], reference[0], rtol=0, atol=1e-12, err_msg=name)
        for k in grads:
            assert grads[k].dtype == np.float64 and np.abs(grads[k] - grads_ref[k]).max() < 1e-12, (name, k)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_backward_passes_keep_float64_weights_float64_for_float32_dys(cell):
    """float64 weights, inputs and states with float32 dL/dy_t: every gradient is accumulated in float64."""
    rng = np.random.default_rng(2)
    D, H, V, T = 3, 4, 5, 30
    x, h0, c0 = rng.normal(size=(T, D)), rng.normal(size=H), rng.normal(size=H)
    params = init_params(D, H, V, seed=2, scale=0.6) if cell == "rnn" else init_gated_params(cell, D, H, V, seed=2)
    if cell == "rnn":
        hs, ys = rnn_forward(params, x, h0)
        backward = lambda dys: rnn_backward(params, x, h0, hs, dys)[0]  # noqa: E731
    elif cell == "lstm":
        ys = lstm_forward(params, x, h0, c0)[2]
        backward = lambda dys: lstm_backward(params, x, h0, c0, dys)[0]  # noqa: E731
    else:
        ys = gru_forward(params, x, h0)[1]
        backward = lambda dys: gru_backward(params, x, h0, dys)[0]  # noqa: E731
    dys32 = cross_entropy_grad(ys, rng.integers(0, V, T)).astype(np.float32)
    grads, reference = backward(dys32), backward(dys32.astype(np.float64))  # the same numbers of dL/dy_t
    for k in params:
        assert grads[k].dtype == np.float64, k
        np.testing.assert_allclose(grads[k], reference[k], rtol=0, atol=1e-12, err_msg=k)


def test_initial_weights_are_symmetric_and_scaled():
    p = init_params(3, 16, 5)
    for k, v in p.items():
        assert v.min() < 0 < v.max() and np.abs(v).max() <= 1 / 4, k  # uniform in (-1/sqrt(H), 1/sqrt(H))
        assert np.abs(v).max() > 0.2, k  # ... and filling it
    assert all(np.array_equal(p[k], init_params(3, 16, 5, seed=0)[k]) for k in p)  # the default seed is 0
    g = init_gated_params("lstm", 3, 16, 5)
    assert all(np.abs(v).max() <= 1 / 4 for v in g.values())
    assert all(np.array_equal(g[k], init_gated_params("lstm", 3, 16, 5, seed=0)[k]) for k in g)
    assert all(np.array_equal(g[k], init_gated_params("lstm", 3, 16, 5)[k]) for k in g)  # reproducible


def test_relative_error_of_small_and_unsigned_arrays():
    assert relative_error([0.1], [0.2]) == pytest.approx(0.1 / 0.3)
    assert relative_error(np.uint8([1]), np.uint8([2])) == pytest.approx(1 / 3)  # no unsigned wrap-around
    assert relative_error(np.uint8([2]), np.uint8([1])) == pytest.approx(1 / 3)
    # float32 arrays whose squares underflow (2^-100) or overflow (2^70) in float32: each one is taken to float64 first
    for scale in (2.0 ** -100, 2.0 ** 70):
        small, large = np.float32([scale]), np.float32([3 * scale])
        assert relative_error(small, large) == relative_error(large, small) == 0.5
        assert relative_error(small, [3 * scale]) == relative_error([3 * scale], small) == 0.5  # one float32, one float64


def test_numerical_grads_are_float64_for_float32_parameters():
    params = {"w": np.array([1.0, 2.0], np.float32)}
    grads = numerical_grads(lambda p: float((p["w"].astype(np.float64) ** 2).sum()), params)
    assert grads["w"].dtype == np.float64 and grads["w"] == pytest.approx([2.0, 4.0], rel=1e-2)


def test_train_numpy_rnn_defaults_and_callback():
    text = "abcabcabcabcabcabcabcabcabcabcabcab"  # the defaults, behaviourally (mutmut wraps the signature)
    params, _, losses = train_numpy_rnn(text)
    explicit = train_numpy_rnn(text, hidden=64, seq_len=25, steps=1500, lr=0.05, seed=0, clip=5.0)
    assert len(losses) == 1500 and params["W_hh"].shape == (64, 64) and np.array_equal(losses, explicit[2])
    seen = []
    params, _, _ = train_numpy_rnn("abcabcabcab", hidden=4, seq_len=3, steps=3, callback=lambda n, p: seen.append((n, p)))
    assert [n for n, _ in seen] == [0, 1, 2, 3] and all(p is params for _, p in seen)


def test_sample_numpy_defaults_to_temperature_1_and_seed_0():
    params = init_params(4, 8, 4, seed=3, scale=0.5)  # untrained: unsure enough that temperature and seed change the text
    texts = {(t, s): sample_numpy(params, "abcd", "a", 20, temperature=t, seed=s) for t in (1.0, 2.0) for s in (0, 1)}
    assert len(set(texts.values())) == 4  # four settings, four texts
    assert sample_numpy(params, "abcd", "a", 20) == texts[1.0, 0]


@pytest.mark.parametrize("length", [7, 9, 10])
def test_train_numpy_rnn_reads_every_whole_chunk_then_starts_again(monkeypatch, length):
    starts = []
    real = scratch.rnn_loss_and_grads
    monkeypatch.setattr(scratch, "rnn_loss_and_grads", lambda p, x, t, h: (starts.append(int(np.argmax(x[0]))), real(p, x, t, h))[1])
    text = "abcdefghij"[:length]
    train_numpy_rnn(text, hidden=4, seq_len=3, steps=6)
    whole = (length - 1) // 3  # chunks of 3 inputs and their 3 targets that fit
    assert starts == [text.index(text[3 * (i % whole)]) for i in range(6)]
    train_numpy_rnn("abcd", hidden=4, seq_len=3, steps=1)  # seq_len + 1 characters: one chunk
    with pytest.raises(ValueError):
        train_numpy_rnn("abc", hidden=4, seq_len=3, steps=1)


def test_sample_numpy_rejects_bad_vocabularies_and_lengths():
    params, vocab, _ = train_numpy_rnn("abcabcabcab", hidden=4, seq_len=3, steps=2)
    for bad in (vocab[:-1], vocab[:-1] + vocab[0], list(vocab)):
        with pytest.raises(ValueError):
            sample_numpy(params, bad, "a", 3)
    for bad in (True, 2.5, -1):
        with pytest.raises(ValueError):
            sample_numpy(params, vocab, "a", bad)


def test_correlations_are_pearsons():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 3)) * [1.0, 5.0, 0.2] + [3.0, -7.0, 100.0]  # columns of different means and scales
    f = 0.5 * a[:, 1] + rng.normal(size=200) + 4.0
    expected = [np.corrcoef(a[:, j], f)[0, 1] for j in range(3)]
    np.testing.assert_allclose(correlations(a, f), expected, atol=1e-6)


def test_speaker_name_flags_are_zero_or_one():
    text = "ROMEO:\nHi.\n\nJULIET:\nHo.\n"
    flags = in_speaker_name(text)
    assert set(flags.tolist()) == {0.0, 1.0} and flags.sum() == len("ROMEO") + len("JULIET")


def test_named_units_need_200_characters_and_report_r_to_4_decimals():
    text = ("ROMEO:\nWhat light through yonder window breaks.\n\nJULIET:\nAy me.\n\n" * 4)[:200]
    vocab = CharVocab.from_text(text)
    torch.manual_seed(0)
    units = named_units(CharRNN(len(vocab), 8, 16, 1, "gru"), vocab, text)
    assert [u["name"] for u in units] == ["speaker name", "position in line"]
    assert all(u["r"] == round(u["r"], 4) for u in units)
    with pytest.raises(ValueError):
        named_units(CharRNN(len(vocab), 8, 16, 1, "gru"), vocab, text[:199])


def test_entity_scores_of_nothing_against_nothing():
    assert entity_scores([], []) == (0.0, 0.0, 0.0)
    assert entity_scores([(0, 2)], []) == (0.0, 0.0, 0.0)


def test_rnn_backward_reads_h0_in_the_precision_of_the_states_it_is_given():
    """A float32 forward pass started from a float64 h0 (rounded to float32 first): the backward pass, given the float64
    h0, rounds it as the forward pass did, and its gradients equal those computed from the rounded h0."""
    rng = np.random.default_rng(5)
    D, H, V, T = 3, 4, 5, 6
    params = {k: v.astype(np.float32) for k, v in init_params(D, H, V, seed=5, scale=0.6).items()}
    x, h0 = rng.normal(size=(T, D)).astype(np.float32), rng.normal(size=H) / 3  # h0: float64, not a float32 number
    h0_32 = h0.astype(np.float32)
    hs, ys = rnn_forward(params, x, h0_32)
    dys = cross_entropy_grad(ys, rng.integers(0, V, T))
    grads, _ = rnn_backward(params, x, h0, hs, dys)
    reference, _ = rnn_backward(params, x, h0_32, hs, dys)
    assert hs.dtype == np.float32 and h0_32.astype(np.float64).tolist() != h0.tolist()
    for k in params:
        np.testing.assert_array_equal(grads[k], reference[k], err_msg=k)
