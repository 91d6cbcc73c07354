"""Tests of rnnbook.sampling: arguments, determinism, greedy decoding, filtering and state carrying."""

import math

import numpy as np
import pytest
import torch

from rnnbook.data import CharVocab
from rnnbook.models import CharRNN
from rnnbook.sampling import _start_ids, filter_probs, generate, hidden_states, next_char_probs

VOCAB = CharVocab.from_text("abcdefgh \n:")


@pytest.fixture(scope="module", params=["lstm", "gru"])
def model(request):
    torch.manual_seed(0)
    return CharRNN(len(VOCAB), 6, 12, 2, request.param).eval()


def peaked_model(seed=0):
    """A model whose next-character distributions are far from uniform, so that the temperature matters."""
    torch.manual_seed(seed)
    model = CharRNN(len(VOCAB), 6, 12, 1, "gru").eval()
    with torch.no_grad():
        model.head.weight.mul_(25.0)
    return model


def naive_greedy(model, vocab, prompt, length):
    """Greedy decoding that re-reads the whole text at every step (slow, obviously right)."""
    ids = vocab.encode(prompt).tolist()
    for _ in range(length):
        logits, _ = model(torch.tensor([ids]))
        ids.append(int(torch.argmax(logits[0, -1])))
    return vocab.decode(ids)


@pytest.mark.parametrize("kwargs, match", [
    (dict(temperature=-0.1), r"temperature.*>= 0"),
    (dict(temperature=float("nan")), r"finite numbers >= 0"),
    (dict(temperature=float("inf")), r"finite numbers >= 0"),
    (dict(temperature="1"), r"temperature"),
    (dict(top_k=0), r"integer >= 1"),
    (dict(top_k=2.5), r"integer >= 1"),
    (dict(top_k=True), r"integer >= 1"),
    (dict(top_p=0.0), r"\(0, 1\]"),
    (dict(top_p=1.5), r"\(0, 1\]"),
    (dict(top_p=float("nan")), r"\(0, 1\]"),
    (dict(length=-1), r"integers >= 0"),
    (dict(length=2.0), r"integers >= 0"),
    (dict(seed=-5), r"seed"),
    (dict(seed=1.5), r"seed"),
    (dict(seed=2**63), r"seed"),
    (dict(seed=True), r"seed"),
    (dict(temperature=True), r"temperature"),
    (dict(top_p=True), r"top_p"),
    (dict(length=True), r"length"),
    (dict(prompt="xyz"), r"'x'.*not in the vocabulary"),
    (dict(prompt=None), r"prompt must be a str"),
    (dict(unknown="drop"), r"valid policies"),
])
def test_invalid_arguments_raise_with_the_valid_range(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate(model, VOCAB, **{"prompt": "ab", **kwargs})


def test_output_is_prompt_plus_length_characters(model):
    out = generate(model, VOCAB, "abc", length=37, seed=0)
    assert out.startswith("abc") and len(out) == 40
    assert generate(model, VOCAB, "abc", length=0) == "abc"
    assert len(generate(model, VOCAB, "", length=15, seed=0)) == 15


def test_same_seed_same_text_other_seed_other_text(model):
    a = generate(model, VOCAB, "ab", 200, temperature=1.0, seed=7)
    assert a == generate(model, VOCAB, "ab", 200, temperature=1.0, seed=7)
    assert a != generate(model, VOCAB, "ab", 200, temperature=1.0, seed=8)


def test_greedy_is_argmax_and_carries_the_state(model):
    for prompt in ("a", "hedge", "ab:cd\nef"):
        out = generate(model, VOCAB, prompt, 30, temperature=0)
        assert out == naive_greedy(model, VOCAB, prompt, 30)
        assert out == generate(model, VOCAB, prompt, 30, temperature=0, seed=123)  # no randomness involved


def test_start_ids_read_a_newline_for_an_empty_prompt():
    assert _start_ids(CharVocab("ab\nc"), "", "error").tolist() == [2]  # the newline's id, wherever it is
    assert _start_ids(CharVocab("abc"), "", "error").tolist() == [0]  # no newline in the vocabulary: the first id
    assert _start_ids(CharVocab("ab\nc"), "ca", "error").tolist() == [3, 0]


def test_empty_prompt_starts_from_a_newline(model):
    assert "\n" + generate(model, VOCAB, "", 20, temperature=0) == naive_greedy(model, VOCAB, "\n", 20)


def test_extreme_but_valid_values(model):
    greedy = generate(model, VOCAB, "ab", 50, temperature=0)
    assert generate(model, VOCAB, "ab", 50, temperature=1e-300, seed=1) == greedy
    assert generate(model, VOCAB, "ab", 50, temperature=5e-324, seed=1) == greedy
    assert generate(model, VOCAB, "ab", 50, top_k=1, seed=1) == greedy
    assert generate(model, VOCAB, "ab", 50, top_k=np.int64(1), temperature=np.float32(0.5), seed=2**63 - 1) == greedy
    assert len(generate(model, VOCAB, "ab", np.int32(3), top_p=np.float64(0.5), seed=np.int64(0))) == 5
    assert generate(model, VOCAB, "ab", 50, top_p=1e-9, seed=1) == greedy
    assert generate(model, VOCAB, "ab", 50, top_k=10_000, seed=1) == generate(model, VOCAB, "ab", 50, seed=1)
    assert generate(model, VOCAB, "ab", 50, top_p=1.0, seed=1) == generate(model, VOCAB, "ab", 50, seed=1)
    assert len(generate(model, VOCAB, "ab", 20, temperature=1e6, seed=1)) == 22
    flat = next_char_probs(peaked_model(), VOCAB, "ab", temperature=1e6)  # near-uniform, even for a peaked model
    assert np.abs(flat - 1 / len(VOCAB)).max() < 1e-4
    long_prompt = "abcdefgh \n" * 1000
    assert generate(model, VOCAB, long_prompt, 2, temperature=0) == naive_greedy(model, VOCAB, long_prompt, 2)


def test_unknown_prompt_characters_can_be_skipped(model):
    assert generate(model, VOCAB, "aXb", 10, temperature=0, unknown="skip") == \
        "aXb" + generate(model, VOCAB, "ab", 10, temperature=0)[2:]


def test_filter_probs_rules():
    logits = torch.log(torch.tensor([0.1, 0.4, 0.2, 0.3]))
    assert torch.allclose(filter_probs(logits), torch.tensor([0.1, 0.4, 0.2, 0.3], dtype=torch.float64))
    assert filter_probs(logits, temperature=0).tolist() == [0, 1, 0, 0]
    for bad in (dict(temperature=-1.0), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5)):  # checked here too
        with pytest.raises(ValueError):
            filter_probs(logits, **bad)
    assert torch.allclose(filter_probs(logits, top_k=2), torch.tensor([0, 4 / 7, 0, 3 / 7], dtype=torch.float64))
    # top_p=0.6: 0.4 is kept (nothing before it), 0.3 is kept (0.4 < 0.6 before it), 0.2 is not (0.7 before it)
    assert torch.allclose(filter_probs(logits, top_p=0.6), torch.tensor([0, 4 / 7, 0, 3 / 7], dtype=torch.float64))
    assert torch.allclose(filter_probs(logits, top_p=0.4), torch.tensor([0, 1, 0, 0], dtype=torch.float64))
    # temperature 2 flattens: p proportional to sqrt(p)
    p = np.sqrt([0.1, 0.4, 0.2, 0.3])
    assert np.allclose(filter_probs(logits, temperature=2.0).numpy(), p / p.sum())
    # top_k and top_p together: top_p applies to the renormalised top_k survivors (0.4/0.7 >= 0.5 stops after one)
    assert torch.allclose(filter_probs(logits, top_k=2, top_p=0.5), torch.tensor([0, 1, 0, 0], dtype=torch.float64))
    # ties: top-k keeps the lower id
    assert filter_probs(torch.zeros(4), top_k=1).tolist() == [1, 0, 0, 0]
    assert filter_probs(torch.zeros(4), temperature=0).tolist() == [1, 0, 0, 0]
    ties = torch.zeros(100)  # long enough that an unstable sort scrambles equal values
    assert torch.count_nonzero(filter_probs(ties, top_k=3)[:3]) == 3 == torch.count_nonzero(filter_probs(ties, top_k=3))
    assert filter_probs(ties, top_p=0.015)[:2].tolist() == [0.5, 0.5]


@pytest.mark.parametrize("exact", [0.25, 0.5, 0.75])
def test_top_p_boundary_is_exact(exact):
    # eight equal logits: every probability is exactly 1/8, and the mass ranked before the r-th character
    # exactly (r - 1)/8, in binary floating point too; a character is kept iff that mass is < top_p
    logits = torch.zeros(8, dtype=torch.float64)
    kept = lambda top_p: int(torch.count_nonzero(filter_probs(logits, top_p=top_p)))
    assert kept(exact) == 8 * exact  # the mass before the next one equals top_p: it is dropped
    assert kept(math.nextafter(exact, 1.0)) == 8 * exact + 1  # one ulp more: it is kept
    assert kept(math.nextafter(exact, 0.0)) == 8 * exact
    assert filter_probs(logits, top_p=exact)[:int(8 * exact)].tolist() == [1 / (8 * exact)] * int(8 * exact)


def test_next_char_probs_is_the_softmax_of_the_models_logits():
    model = peaked_model()
    prompt = "ab:cd"
    with torch.no_grad():  # independently: the logits of the last prompt character, softmax in NumPy float64
        logits = model(VOCAB.encode(prompt)[None])[0][0, -1].double().numpy()
    for temperature in (0.5, 1.0, 2.0):
        z = logits / temperature
        expected = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        np.testing.assert_allclose(next_char_probs(model, VOCAB, prompt, temperature=temperature), expected, atol=1e-6)
    p1, p2 = (next_char_probs(model, VOCAB, prompt, temperature=t) for t in (1.0, 2.0))
    assert p1.max() > 0.5 and np.abs(p1 - p2).max() > 0.1  # peaked, and the temperature changes it a lot
    assert next_char_probs(model, VOCAB, prompt, temperature=0).tolist() == np.eye(len(VOCAB))[logits.argmax()].tolist()


def test_sampled_frequencies_follow_the_filtered_distribution():
    model, n = peaked_model(1), 400
    probs = next_char_probs(model, VOCAB, "ab", temperature=1.5, top_k=4)
    assert np.count_nonzero(probs) == 4 and math.isclose(probs.sum(), 1.0)
    counts = np.zeros(len(VOCAB))
    for seed in range(n):
        counts[VOCAB.index[generate(model, VOCAB, "ab", 1, temperature=1.5, top_k=4, seed=seed)[-1]]] += 1
    assert set(np.flatnonzero(counts)) <= set(np.flatnonzero(probs))
    tolerance = 4 * np.sqrt(probs * (1 - probs) / n) + 1e-9  # four standard errors of each frequency
    assert np.all(np.abs(counts / n - probs) < tolerance)
    for other in (1.0, 2.5):  # the frequencies tell this temperature from its neighbours
        assert np.any(np.abs(counts / n - next_char_probs(model, VOCAB, "ab", temperature=other, top_k=4)) > tolerance)


def test_generate_restores_training_mode(model):
    model.train()
    generate(model, VOCAB, "ab", 3, seed=0)
    assert model.training
    model.eval()


def test_hidden_states_match_the_model_step_by_step(model):
    text = "abc\nab:cd eh"
    states = hidden_states(model, VOCAB, text)
    cell = model.config["cell"]
    assert set(states) == ({"h1", "h2", "c1", "c2"} if cell == "lstm" else {"h1", "h2"})
    assert all(a.shape == (len(text), 12) for a in states.values())
    state = None
    for t, i in enumerate(VOCAB.encode(text)):  # the model itself, one character at a time
        with torch.no_grad():
            _, state = model(i.view(1, 1), state)
        h, c = state if cell == "lstm" else (state, None)
        for k in range(2):
            assert np.allclose(states[f"h{k + 1}"][t], h[k, 0].numpy(), atol=1e-5)
            if c is not None:
                assert np.allclose(states[f"c{k + 1}"][t], torch.tanh(c[k, 0]).numpy(), atol=1e-4)
    with pytest.raises(ValueError):
        hidden_states(model, VOCAB, "")
