"""Tests of the NumPy RNN's training loop and sampler: rnnbook.scratch.train_numpy_rnn, sample_numpy, clip_grads."""

import math

import numpy as np
import pytest

import rnnbook.scratch as scratch
from rnnbook.scratch import clip_grads, rnn_forward, sample_numpy, softmax, train_numpy_rnn


MEMORISED = "hello world. " * 20  # 'l' is followed by 'l', 'o' or 'd': greedy sampling needs the context


@pytest.fixture(scope="module")
def memorised():
    """A network trained to near-zero loss on a short repeated text, with its vocabulary and losses."""
    params, vocab, losses = train_numpy_rnn(MEMORISED, hidden=16, seq_len=8, steps=200, lr=0.1, seed=0)
    return params, vocab, losses


def test_losses_fall_to_near_zero_on_a_repeated_text(memorised):
    _, vocab, losses = memorised
    assert vocab == " .dehlorw"
    assert losses.shape == (200,)
    assert losses[0] == pytest.approx(math.log(9), abs=0.01)  # starts at chance ...
    assert losses[-20:].mean() < 0.02  # ... and the text is learned


def test_first_loss_is_log_vocabulary_size_per_character():
    text = "hello world, hello there. " * 3
    V = len(set(text))
    _, vocab, losses = train_numpy_rnn(text, hidden=8, seq_len=10, steps=1, lr=0.1, seed=3)
    assert len(vocab) == V and list(vocab) == sorted(vocab)
    assert losses[0] == pytest.approx(math.log(V), abs=0.01)  # small weights: nearly uniform predictions, per character


def test_training_is_deterministic_given_the_seed():
    text = "to be or not to be, that is the question. " * 2
    p1, v1, l1 = train_numpy_rnn(text, hidden=10, seq_len=7, steps=30, lr=0.05, seed=5)
    p2, v2, l2 = train_numpy_rnn(text, hidden=10, seq_len=7, steps=30, lr=0.05, seed=5)
    _, _, l3 = train_numpy_rnn(text, hidden=10, seq_len=7, steps=30, lr=0.05, seed=6)
    assert v1 == v2 and np.array_equal(l1, l2) and all(np.array_equal(p1[k], p2[k]) for k in p1)
    assert not np.array_equal(l1, l3)


def test_the_carried_state_is_needed_to_learn_a_pattern_longer_than_a_chunk():
    # "aab" repeated, in chunks of 2: a chunk that starts on an 'a' cannot tell, from that 'a' alone, whether an 'a'
    # or a 'b' follows; only the state carried from the previous chunk can. A loop that reset the state at every
    # chunk could not get below (2/3 of the chunks) x ln 2 / (2 characters) = 0.23 nats per character.
    _, _, losses = train_numpy_rnn("aab" * 200, hidden=16, seq_len=2, steps=600, lr=0.1, seed=0)
    assert losses[-100:].mean() < 0.1, losses[-100:].mean()


def test_the_state_is_carried_between_chunks_and_reset_at_the_end_of_the_text(monkeypatch):
    seen = []
    original = scratch.rnn_loss_and_grads

    def spy(params, inputs, targets, h0):
        loss, grads, h_last = original(params, inputs, targets, h0)
        seen.append((h0.copy(), h_last.copy(), inputs.argmax(1).copy()))
        return loss, grads, h_last

    monkeypatch.setattr(scratch, "rnn_loss_and_grads", spy)
    text = "abcdefghij" * 3  # 30 characters: chunks of 4 start at 0, 4, ..., 24, and then the text runs out
    train_numpy_rnn(text, hidden=6, seq_len=4, steps=9, lr=0.1, seed=0)
    assert len(seen) == 9
    assert not seen[0][0].any()  # the first chunk starts from h = 0
    for n in range(1, 7):  # chunks 1..6 continue from the last state of the chunk before
        assert np.array_equal(seen[n][0], seen[n - 1][1]) and seen[n][0].any()
    assert not seen[7][0].any()  # the text ran out: back to its start, with h = 0
    assert np.array_equal(seen[7][2], seen[0][2]) and np.array_equal(seen[8][0], seen[7][1])


def test_clip_grads_scales_the_joint_norm_and_keeps_the_direction():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}  # joint norm 5
    assert clip_grads(grads, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(grads["a"], [0.6, 0.0])
    np.testing.assert_allclose(grads["b"], [[0.0, 0.8]])
    small = {"a": np.array([0.3, 0.4])}
    assert clip_grads(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small["a"], [0.3, 0.4])  # below the threshold: untouched


@pytest.mark.parametrize("clip, learns", [(5.0, True), (1e12, False)])
def test_clipping_protects_training_from_one_exploding_gradient(monkeypatch, clip, learns):
    # One gradient a million times too large, at the second update. Clipped, it is one step of bounded length;
    # unclipped, it fills Adagrad's sum of squares, which then divides every later step by about a million.
    original, calls = scratch.rnn_loss_and_grads, []

    def exploding(params, inputs, targets, h0):
        loss, grads, h_last = original(params, inputs, targets, h0)
        calls.append(1)
        if len(calls) == 2:
            grads = {k: g * 1e6 for k, g in grads.items()}
        return loss, grads, h_last

    monkeypatch.setattr(scratch, "rnn_loss_and_grads", exploding)
    _, _, losses = train_numpy_rnn("abcd" * 40, hidden=16, seq_len=8, steps=200, lr=0.1, seed=0, clip=clip)
    assert (losses[-20:].mean() < 0.05) == learns, losses[-20:].mean()


def test_clip_grads_is_applied_at_every_update_with_the_given_threshold(monkeypatch):
    norms, original = [], scratch.clip_grads

    def spy(grads, max_norm):
        norm = original(grads, max_norm)
        norms.append((norm, max_norm, math.sqrt(sum((g ** 2).sum() for g in grads.values()))))
        return norm

    monkeypatch.setattr(scratch, "clip_grads", spy)
    train_numpy_rnn("abcd" * 10, hidden=8, seq_len=6, steps=12, lr=0.1, seed=0, clip=0.5)
    assert len(norms) == 12 and all(m == 0.5 for _, m, _ in norms)
    assert all(after <= 0.5 + 1e-12 for _, _, after in norms) and max(n for n, _, _ in norms) > 0.5  # it did clip


def test_greedy_sampling_reproduces_the_memorised_text(memorised):
    params, vocab, _ = memorised
    for seed in range(3):  # a tiny temperature makes the draw the most likely character, whatever the seed
        assert sample_numpy(params, vocab, "hel", 30, temperature=1e-3, seed=seed) == "lo world. hello world. hello w"
    assert sample_numpy(params, vocab, "d", 0, temperature=1.0, seed=0) == ""


def test_samples_follow_softmax_of_the_logits_divided_by_the_temperature():
    rng = np.random.default_rng(0)
    V, H = 3, 4
    params = {"W_hx": rng.normal(size=(H, V)), "W_hh": rng.normal(size=(H, H)) * 0.3, "b_h": rng.normal(size=H),
              "W_yh": rng.normal(size=(V, H)) * 2, "b_y": rng.normal(size=V)}
    vocab = "xyz"
    _, ys = rnn_forward(params, np.eye(V)[[0, 2]], np.zeros(H))  # the logits after reading the prompt "xz"
    for temperature in (0.5, 2.0):
        draws = [sample_numpy(params, vocab, "xz", 1, temperature, seed) for seed in range(3000)]
        freq = np.array([draws.count(c) for c in vocab]) / len(draws)
        expected = softmax(ys[-1] / temperature)
        assert np.abs(freq - expected).max() < 0.03, (temperature, freq, expected)
    assert sample_numpy(params, vocab, "xz", 20, 1.0, seed=1) == sample_numpy(params, vocab, "xz", 20, 1.0, seed=1)


def test_a_high_temperature_samples_what_the_memorised_model_would_not(memorised):
    params, vocab, _ = memorised
    text = sample_numpy(params, vocab, "h", 200, temperature=10.0, seed=0)
    assert len(text) == 200 and set(text) <= set(vocab)
    pairs = {MEMORISED[i:i + 2] for i in range(len(MEMORISED) - 1)}  # the 10 character pairs of the text
    wrong = sum(pair not in pairs for pair in map("".join, zip("h" + text, text)))
    assert wrong > 100  # near uniform draws: most pairs never occur in the memorised text


@pytest.mark.parametrize("kwargs, message", [
    (dict(text=""), "text is empty"),
    (dict(text="abc", seq_len=5), "text has 3 characters; seq_len=5 needs at least 6"),
    (dict(hidden=0), "hidden must be a positive integer"),
    (dict(seq_len=-1), "seq_len must be a positive integer"),
    (dict(steps=0), "steps must be a positive integer"),
    (dict(steps=2.5), "steps must be a positive integer"),
    (dict(lr=0.0), "lr must be a positive finite number"),
    (dict(lr=float("nan")), "lr must be a positive finite number"),
    (dict(clip=-1.0), "clip must be a positive finite number"),
])
def test_train_numpy_rnn_rejects_bad_arguments(kwargs, message):
    args = dict(text="abcabcabcabc", hidden=4, seq_len=3, steps=2, lr=0.1, seed=0) | kwargs
    with pytest.raises(ValueError, match=message):
        train_numpy_rnn(**args)


@pytest.mark.parametrize("kwargs, message", [
    (dict(prompt="hq"), "prompt character 'q' is not in the vocabulary"),
    (dict(prompt=""), "prompt is empty"),
    (dict(temperature=0.0), "temperature must be a positive finite number"),
    (dict(temperature=-1.0), "temperature must be a positive finite number"),
    (dict(temperature=float("inf")), "temperature must be a positive finite number"),
    (dict(temperature=float("nan")), "temperature must be a positive finite number"),
    (dict(length=-1), "length must be a non-negative integer"),
    (dict(vocab="abc"), "vocab must be a string of 9 distinct characters"),
])
def test_sample_numpy_rejects_bad_arguments(memorised, kwargs, message):
    params, vocab, _ = memorised
    args = dict(params=params, vocab=vocab, prompt="he", length=5, temperature=1.0, seed=0) | kwargs
    with pytest.raises(ValueError, match=message):
        sample_numpy(**args)
