"""The baselines that chapter 6 prints numbers for: the character n-gram model (6.1) and the hand-written Morse decoder (6.3).

Written against the survivors of `make mutate`: each test fails on a change of the code that would change a number
the book prints, or accept input the book's text says is refused.
"""

import numpy as np
import pytest

from rnnbook.apps import CharNGram, char_error_rate, morse_envelope, morse_signal, random_text, threshold_decode


def counted_logprobs(n: int, train: list[int], ids: list[int], V: int, k: float) -> list[float]:
    """log p(x_t | the n-1 ids before it) with add-k smoothing, counted on `train` with a dictionary: the definition, slowly."""
    grams: dict[tuple, int] = {}
    for t in range(n - 1, len(train)):
        grams[tuple(train[t - n + 1:t + 1])] = grams.get(tuple(train[t - n + 1:t + 1]), 0) + 1
    out = []
    for t in range(n - 1, len(ids)):
        context = tuple(ids[t - n + 1:t])
        total = sum(grams.get(context + (v,), 0) + k for v in range(V))
        out.append(float(np.log((grams.get(context + (ids[t],), 0) + k) / total)))
    return out


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ngram_logprobs_equal_the_counts_with_the_default_smoothing(n):
    rng = np.random.default_rng(n)
    ids = rng.integers(0, 4, 60).tolist()
    model = CharNGram(n, ids, 4)  # k = 0.1 by default, as chapter 6.1 uses it
    np.testing.assert_allclose(model.logprobs(ids), counted_logprobs(n, ids, ids, 4, 0.1), rtol=1e-12)
    other = rng.integers(0, 4, 30).tolist()  # a text it was not fitted on: contexts it saw rarely or never
    np.testing.assert_allclose(model.logprobs(other), counted_logprobs(n, ids, other, 4, 0.1), rtol=1e-12)


def test_ngram_accepts_the_edge_cases_it_documents():
    assert CharNGram(1, [0, 0], 1).logprobs([0, 0]) == pytest.approx([0.0, 0.0])  # V = 1: one character, p = 1
    CharNGram(3, [0, 1, 2], 3)  # exactly n ids
    with pytest.raises(ValueError, match="n <= 3"):
        CharNGram(4, list(range(3)) * 5, 3)  # enough ids, but n = 4 is refused
    with pytest.raises(ValueError, match="ids must lie"):
        CharNGram(2, [0, 1, 3], 3)  # the id V itself is out of range


def test_threshold_decoder_cer_on_chapter_6_3s_test_signals():
    """The CERs that chapter 6.3 prints for the threshold decoder, on the same signals (seed 123, 200 per noise level).

    The decoder is a fixed rule, so these numbers are exact; a change of any constant in it (the smoothing window, the
    percentiles of the threshold, the blip rule, the unit estimate, the gap lengths) changes at least one of them.
    """
    rng = np.random.default_rng(123)
    expected = {0.0: 0.0, 0.1: 0.035787, 0.2: 0.315361, 0.3: 0.548223, 0.4: 0.756073}
    for noise, cer in expected.items():
        refs = [random_text(rng) for _ in range(200)]
        sigs = [morse_signal(t, rng, noise) for t in refs]
        assert char_error_rate([threshold_decode(s) for s in sigs], refs) == pytest.approx(cer, abs=1e-6), noise


def test_threshold_decoder_word_gap_is_five_units_or_more():
    unit = 3
    a, e = morse_envelope("A", unit), morse_envelope("E", unit)
    for gap_units, expected in ((3, "AE"), (4, "AE"), (5, "A E"), (7, "A E")):
        signal = np.concatenate([np.zeros(6), a, np.zeros(gap_units * unit), e, np.zeros(6)]).astype(np.float32)
        assert threshold_decode(signal) == expected, gap_units


def test_threshold_decoder_drops_a_letter_it_cannot_read():
    unit = 2
    nine_dots = np.tile(np.r_[np.ones(unit), np.zeros(unit)], 9)[:-unit]  # no Morse letter has 9 dots
    signal = np.concatenate([np.zeros(6), morse_envelope("T", unit), np.zeros(3 * unit), nine_dots, np.zeros(3 * unit),
                             morse_envelope("T", unit), np.zeros(6)]).astype(np.float32)
    assert threshold_decode(signal) == "TT"
