"""Tests of rnnbook.apps (chapter 6) and of the CTC diagram in rnnbook.plots."""

import importlib.util
import itertools
import json
import math
import socket

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from rnnbook import apps
from rnnbook.apps import (ALPHABET, GENRES, MORSE, TEST_PLAYS, CharNGram, CTCRecognizer, Forecaster,
                          SequenceClassifier, SequenceTagger, bag_of_chars, bucket_batches, char_error_rate,
                          ctc_batch, ctc_collapse, ctc_greedy_decode, ctc_probability, edit_distance, f1_score, fit,
                          flatten_script, forecast_windows, morse_envelope, morse_signal, passages, plain_words,
                          random_text, score_lines, shuffle_words, shuffled_pair, speech_lines, speeches, threshold_decode,
                          train_forecaster, windows)
from rnnbook.apps import bio_tags, entity_scores, entity_spans, seattle_weather, vega_csv
from rnnbook.data import CharVocab
from rnnbook.models import CharRNN
from tests.helpers import GradNorms

PLAY = "HAMLET:\nTo be, or not to be,\nthat is the question.\n\nOPHELIA:\nGood my lord.\n\n"


# ------------------------------------------------------------------------------------------------ plays


def test_speeches_join_lines_and_skip_other_blocks():
    assert speeches(PLAY + "not a speech\n\n") == [("HAMLET", "To be, or not to be, that is the question."),
                                                    ("OPHELIA", "Good my lord.")]


def test_speech_lines_keep_every_speech_and_its_lines():
    play = PLAY + "not a speech\n\nHORATIO:\nA piece of him.\n\nHAMLET:\nO!\n"  # three speeches in a row after the gap
    assert speech_lines(play) == [("HAMLET", ["To be, or not to be,", "that is the question."]), ("OPHELIA", ["Good my lord."]),
                                  ("HORATIO", ["A piece of him."]), ("HAMLET", ["O!"])]
    assert [who for who, _ in speeches(play)] == [who for who, _ in speech_lines(play)]


def test_play_speeches_rejects_unknown_names():
    with pytest.raises(ValueError, match="no plays named"):
        apps.play_speeches(["hamlet", "no-such-play"])


def test_the_test_plays_are_one_per_genre():
    assert sorted(apps.genre_of(n) for n in TEST_PLAYS) == sorted(GENRES)
    plays = apps.genre_plays()
    assert set(plays) == set(GENRES) and all(n in plays[apps.genre_of(n)] for n in TEST_PLAYS)
    with pytest.raises(ValueError, match="no play named"):
        apps.genre_of("hamlet-ii")


def test_passages_are_lower_case_consecutive_and_of_equal_length():
    play = speeches(PLAY)
    ps = passages(play, 10)
    assert all(len(p) == 10 for p in ps)
    assert "".join(ps) == " ".join(s for _, s in play).lower()[:10 * len(ps)]
    with pytest.raises(ValueError):
        passages(play, 0)


def test_flatten_script_tags_exactly_the_names():
    text, tags = flatten_script(speeches(PLAY))
    assert len(text) == len(tags)
    assert text.startswith("hamlet to be, or not to be,") and text == text.lower()
    named = "".join(c for c, t in zip(text, tags) if t)
    assert named == "hamletophelia"


def test_windows_cut_ids_and_tags_alike():
    x, y = windows(list(range(10)), [0, 1] * 5, 3)
    assert x.shape == y.shape == (3, 3) and x[1].tolist() == [3, 4, 5] and y[1].tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="tags"):
        windows([1, 2, 3], [0, 1], 2)
    with pytest.raises(ValueError, match="fewer than one window"):
        windows([1, 2], [0, 0], 3)


# -------------------------------------------------------------------------------------------- scoring


def test_plain_words_and_shuffled_pair_differ_only_in_order():
    assert plain_words("Is this a dagger, which I see?") == "Is this a dagger which I see"
    rng = np.random.default_rng(0)
    for line in ["Fair is foul, and foul is fair:", "Out, damned spot! out, I say!", "Is this a dagger"]:
        real, shuffled = shuffled_pair(line, rng)
        assert real != shuffled
        assert sorted(real.lower().split()) == sorted(shuffled.lower().split())
        assert shuffled[0].isupper() and plain_words(shuffled) == shuffled


def test_shuffle_words_needs_two_different_words():
    with pytest.raises(ValueError, match="two different words"):
        shuffle_words("so so so", np.random.default_rng(0))


def test_zen_of_python_is_decoded_and_silent(capsys):
    zen = apps.zen_of_python()
    assert zen.startswith("The Zen of Python") and "Beautiful is better than ugly." in zen
    assert capsys.readouterr().out == ""


def test_score_lines_is_the_mean_log_probability_and_independent_of_padding():
    torch.manual_seed(0)
    vocab = CharVocab.from_text("\nabc ")
    model = CharRNN(len(vocab), embed_dim=4, hidden_size=8, num_layers=1, cell="gru").eval()
    lines = ["ab c", "c", "abcabc a"]
    together = score_lines(model, vocab, lines)
    alone = np.array([score_lines(model, vocab, [line])[0] for line in lines])
    np.testing.assert_allclose(together, alone, rtol=1e-5)
    ids = vocab.encode("\nab c\n")
    with torch.no_grad():
        logp = model(ids[None, :-1])[0][0].log_softmax(-1)
    expected = logp[torch.arange(len(ids) - 1), ids[1:]].mean().item()
    assert together[0] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError):
        score_lines(model, vocab, [])


def test_ngram_is_normalised_and_counts_right():
    ids = [0, 1, 0, 1, 0, 2]
    for n in (1, 2, 3):
        g = CharNGram(n, ids, 3)
        np.testing.assert_allclose(np.exp(g.logp).sum(1), 1.0)
        assert len(g.logprobs(ids)) == len(ids) - n + 1
    bigram = CharNGram(2, ids, 3, k=1e-9)
    assert np.exp(bigram.logp[0]) == pytest.approx([0, 2 / 3, 1 / 3], abs=1e-6)  # after 0: 1 twice, 2 once
    unigram = CharNGram(1, ids, 3, k=1e-9)
    assert np.exp(unigram.logprobs([0]))[0] == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(ValueError):
        bigram.logprobs([0, 3])
    with pytest.raises(ValueError):
        bigram.logprobs([0])


@pytest.mark.parametrize("kwargs", [dict(n=4), dict(n=0), dict(k=0.0), dict(ids=[0, 5])])
def test_ngram_rejects_bad_arguments(kwargs):
    args = dict(n=2, ids=[0, 1, 2], V=3) | kwargs
    with pytest.raises(ValueError):
        CharNGram(**args)


def test_perplexity_of_a_uniform_guess_is_the_vocabulary_size():
    assert apps.perplexity(math.log(27)) == pytest.approx(27)


# --------------------------------------------------------------------------------------------- models


def test_model_shapes():
    x = torch.randint(0, 10, (4, 7))
    assert SequenceClassifier(10, 3)(x).shape == (4, 3)
    assert SequenceTagger(10, 2, bidirectional=True)(x).shape == (4, 7, 2)
    assert SequenceTagger(10, 2, bidirectional=False)(x).shape == (4, 7, 2)
    assert Forecaster(K=5)(torch.randn(4, 20, 1)).shape == (4, 5)


def test_classifier_reads_out_the_mean_and_forecaster_the_last_state():
    torch.manual_seed(0)
    classifier = SequenceClassifier(10, 3).eval()
    x = torch.randint(0, 10, (4, 7))
    with torch.no_grad():
        hs, _ = classifier.rnn(classifier.embed(x))  # (B, T, H), computed again outside the module
        mean, last = classifier.head(hs.mean(1)), classifier.head(hs[:, -1])
        assert torch.allclose(classifier(x), mean, atol=1e-6) and not torch.allclose(mean, last, atol=1e-3)
    forecaster = Forecaster(K=5).eval()
    z = torch.randn(4, 20, 1)
    with torch.no_grad():
        hs, _ = forecaster.rnn(z)
        last, mean = forecaster.head(hs[:, -1]), forecaster.head(hs.mean(1))
        assert torch.allclose(forecaster(z), last, atol=1e-6) and not torch.allclose(last, mean, atol=1e-3)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_only_a_bidirectional_tagger_sees_the_future(bidirectional):
    torch.manual_seed(0)
    tagger = SequenceTagger(10, 2, bidirectional=bidirectional).eval()
    x = torch.randint(0, 10, (1, 6))
    y = x.clone()
    y[0, -1] = (x[0, -1] + 1) % 10  # change the last character only
    with torch.no_grad():
        first_changed = not torch.allclose(tagger(x)[0, 0], tagger(y)[0, 0])
    assert first_changed == bidirectional


@pytest.mark.parametrize("T", [8, 9, 10, 11, 57, 200])
def test_ctc_recogniser_out_lengths_match_its_output(T):
    model = CTCRecognizer(len(ALPHABET), H=8, channels=4)
    out = model(torch.randn(2, T, 1))
    assert out.shape == (2, model.out_lengths(torch.tensor(T)).item(), len(ALPHABET) + 1)
    assert out[0].argmax(-1).eq(0).float().mean() > 0.5  # the blank's bias: an untrained model says "nothing"


def test_fit_lowers_the_loss_and_checks_its_arguments():
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    x = torch.randn(64, 1)
    losses = fit(model, lambda step: ((model(x) - 3 * x) ** 2).mean(), steps=100, lr=0.1)
    assert len(losses) == 100 and losses[-1] < 0.01 * losses[0]
    with pytest.raises(ValueError):
        fit(model, lambda step: model(x).sum(), steps=0, lr=0.1)


def test_fit_clips_the_gradient_before_every_step():
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    x = torch.randn(64, 1)
    norms = GradNorms(model)
    try:
        fit(model, lambda step: ((model(x) - 30 * x) ** 2).mean(), steps=20, lr=0.1, clip=0.5)
    finally:
        norms.remove()
    assert len(norms.raw) == 20 and min(norms.raw) > 0.5  # far from the target: every raw gradient is larger
    assert norms.seen == pytest.approx([0.5] * 20, rel=1e-4)


def test_fit_decays_the_learning_rate_linearly_to_a_tenth():
    model = nn.Linear(1, 1)
    lrs = []
    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: lrs.append(opt.param_groups[0]["lr"]))
    try:
        fit(model, lambda step: model(torch.ones(1, 1)).sum(), steps=10, lr=0.2)
    finally:
        handle.remove()
    assert lrs == pytest.approx([0.2 * (1 - 0.9 * s / 10) for s in range(10)])


# ---------------------------------------------------------------------------------- metrics, baselines


def test_f1_score():
    target = torch.tensor([1, 1, 0, 0, 1])
    assert f1_score(target, target) == 1.0
    assert f1_score(torch.zeros_like(target), target) == 0.0
    assert f1_score(torch.tensor([1, 0, 1, 0, 0]), target) == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))
    # the same pair scored for class 0: tp = 1 (position 3), fp = 2 (positions 1, 4), fn = 1 (position 2)
    assert f1_score(torch.tensor([1, 0, 1, 0, 0]), target, positive=0) == pytest.approx(2 * 1 / (2 * 1 + 2 + 1))
    negatives = torch.zeros(6, dtype=torch.long)  # no positives predicted and none true: 0 for class 1, 1 for class 0
    assert f1_score(negatives, negatives) == 0.0 and f1_score(negatives, negatives, positive=0) == 1.0
    tags = torch.tensor([2, 2, 1, 0])  # three classes: only `positive` counts as positive
    assert f1_score(torch.tensor([2, 1, 1, 1]), tags, positive=2) == pytest.approx(2 / (2 + 0 + 1))
    with pytest.raises(ValueError):
        f1_score(target[:3], target)


def test_bag_of_chars_counts_frequencies():
    bag = bag_of_chars(torch.tensor([[0, 0, 2, 1], [2, 2, 2, 2]]), 3)
    assert bag.tolist() == [[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]]
    with pytest.raises(ValueError):
        bag_of_chars(torch.tensor([[0, 3]]), 3)


@pytest.mark.parametrize("a,b,d", [("kitten", "sitting", 3), ("", "abc", 3), ("abc", "", 3), ("same", "same", 0),
                                   ("ab", "ba", 2)])
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d == edit_distance(b, a)


def test_char_error_rate():
    assert char_error_rate(["", ""], ["ab", "c"]) == 1.0
    assert char_error_rate(["ab", "d"], ["ab", "c"]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        char_error_rate(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        char_error_rate([""], [""])


# ------------------------------------------------------------------------------------------ forecasting


def test_stock_prices():
    prices = apps.stock_prices()
    dates, goog = prices["GOOG"]
    assert len(goog) == len(dates) == 1047 and goog.min() > 0
    for name in ("IBM", "^GSPC"):
        d, p = prices[name]
        assert np.all(np.diff(d) > np.timedelta64(0, "D")) and not np.isnan(p).any()
        assert np.all(d.astype("datetime64[M]") == d)  # monthly: the first of each month


def test_forecast_windows_align_inputs_and_targets():
    z = np.arange(10.0)
    X, Y, last = forecast_windows(z, T=3, K=2)
    assert X.shape == (6, 3) and Y.shape == (6, 2)
    assert np.all(X[:, -1] == z[last]) and np.all(Y[:, 0] == z[last + 1]) and Y[-1, -1] == z[-1]
    with pytest.raises(ValueError):
        forecast_windows(z, T=9, K=2)
    table = np.stack([z, -z], axis=1)  # two columns: the same windows, row by row
    X2, Y2, last2 = forecast_windows(table, T=3, K=2)
    assert np.array_equal(X2[..., 0], X) and np.array_equal(X2[..., 1], -X) and np.array_equal(Y2[..., 0], Y)
    assert np.array_equal(last2, last)


def test_train_forecaster_learns_a_constant():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(256, 5)), np.full((256, 2), 1.5)
    net = train_forecaster(X, Y, steps=200)
    with torch.no_grad():
        pred = net(torch.tensor(X[:10], dtype=torch.float32)[..., None])
    assert torch.allclose(pred, torch.full_like(pred, 1.5), atol=0.1)
    with pytest.raises(ValueError):
        train_forecaster(X, Y[:10])


def test_train_forecaster_takes_several_inputs_per_step():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 5, 3))
    Y = X[:, -1, 1:2] * 2.0  # the second input of the last step, doubled: only readable with all three inputs kept apart
    net = train_forecaster(X, Y, steps=300, seed=1)
    assert net.rnn.input_size == 3 and net.head.out_features == 1
    with torch.no_grad():
        pred = net(torch.tensor(X[:64], dtype=torch.float32)).numpy()
    assert np.abs(pred - Y[:64]).mean() < 0.3 * np.abs(Y[:64]).mean()
    with pytest.raises(ValueError):
        train_forecaster(X[..., None], Y)


def make_vega(root, rows: str) -> None:
    """A stand-in vega_datasets package under root with one bundled CSV file, 'tiny', and one JSON file."""
    pkg = root / "vega_datasets"
    (pkg / "_data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('vega_csv must read the files, not import the package')\n")
    (pkg / "local_datasets.json").write_text(json.dumps({"tiny": "_data/tiny.csv", "cars": "_data/cars.json"}))
    (pkg / "_data" / "tiny.csv").write_text(rows)


def test_vega_csv_reads_the_bundled_file_without_importing_or_the_network(tmp_path, monkeypatch):
    make_vega(tmp_path, "date,temp\n2010/01/01,1.5\n2010/01/02,2.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(socket, "socket", lambda *a, **k: pytest.fail("vega_csv opened a socket"))
    assert vega_csv("tiny") == [{"date": "2010/01/01", "temp": "1.5"}, {"date": "2010/01/02", "temp": "2.5"}]
    for name in ("cars", "seattle-weather"):  # bundled but not a CSV file; not bundled here
        with pytest.raises(ValueError, match="not a CSV file bundled"):
            vega_csv(name)


def test_vega_csv_says_how_to_install_the_package(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install vega-datasets==0\.9\.0"):
        vega_csv("seattle-weather")


@pytest.mark.skipif(importlib.util.find_spec("vega_datasets") is None, reason="vega_datasets is not installed")
def test_seattle_weather():
    dates, w = seattle_weather()
    assert len(dates) == 1461 and str(dates[0]) == "2012-01-01" and str(dates[-1]) == "2015-12-31"
    assert set(w) == {"temp_max", "temp_min", "precipitation", "wind"} and all(len(v) == 1461 for v in w.values())
    assert np.all(w["temp_max"] >= w["temp_min"]) and w["precipitation"].min() == 0
    assert w["temp_max"][0] == 12.8 and w["precipitation"][1] == 10.9  # the first rows of the file


# -------------------------------------------------------------------------------- named entities


def test_bio_tags_mark_the_first_character_of_each_run():
    assert bio_tags([0, 1, 1, 0, 1, 0, 0, 1]) == ["O", "B", "I", "O", "B", "O", "O", "B"]
    assert bio_tags([1, 1, 1]) == ["B", "I", "I"] and bio_tags([]) == []
    with pytest.raises(ValueError, match="must be 0 or 1"):
        bio_tags([0, 2, 1])


@pytest.mark.parametrize("bio, spans", [
    ("BIO", [(0, 2)]),
    ("OBI", [(1, 3)]),  # an entity that runs to the end
    ("BB", [(0, 1), (1, 2)]),  # B after B: two entities
    ("BIBI", [(0, 2), (2, 4)]),  # B after I: a new entity
    ("OIIO", [(1, 3)]),  # I after O starts an entity, as conlleval reads it
    ("IIOB", [(0, 2), (3, 4)]),  # and so does an I at the start
    ("OOO", []),
])
def test_entity_spans(bio, spans):
    assert entity_spans(list(bio)) == spans


def test_entity_spans_of_bio_tags_are_the_runs_of_ones():
    rng = np.random.default_rng(0)
    for _ in range(50):
        tags = rng.integers(0, 2, rng.integers(0, 20)).tolist()
        runs, i = [], 0
        for tag, group in itertools.groupby(tags):
            n = len(list(group))
            if tag:
                runs.append((i, i + n))
            i += n
        assert entity_spans(bio_tags(tags)) == runs
    with pytest.raises(ValueError, match="must be 'B', 'I' or 'O'"):
        entity_spans(["B", "E"])


def test_entity_scores_count_only_exact_spans():
    true = {(0, 2), (5, 8)}
    precision, recall, f1 = entity_scores([(0, 2), (5, 7), (9, 10)], true)  # (5, 7) overlaps (5, 8): no credit
    assert (precision, recall) == (1 / 3, 1 / 2) and f1 == pytest.approx(2 * precision * recall / (precision + recall))
    assert entity_scores([(0, 3), (4, 8)], true) == (0.0, 0.0, 0.0)  # one boundary off on each: nothing counts
    assert entity_scores(true, true) == (1.0, 1.0, 1.0)
    assert entity_scores([], true) == (0.0, 0.0, 0.0) and entity_scores(true, []) == (0.0, 0.0, 0.0)
    assert entity_scores([(0, 2), (0, 2)], true) == (1.0, 0.5, pytest.approx(2 / 3))  # a set: a span counts once
    batch = {(0, 0, 2), (1, 0, 2)}  # spans in several windows carry the window's index
    assert entity_scores({(0, 0, 2)}, batch) == (1.0, 0.5, pytest.approx(2 / 3))


# ---------------------------------------------------------------------------------- Morse code and CTC


def test_morse_envelope_timing():
    assert morse_envelope("E", 1).tolist() == [1]
    assert morse_envelope("ET", 1).tolist() == [1, 0, 0, 0, 1, 1, 1]
    assert morse_envelope("E E", 1).tolist() == [1] + [0] * 7 + [1]
    assert morse_envelope("A", 2).tolist() == [1, 1, 0, 0, 1, 1, 1, 1, 1, 1]
    assert set(MORSE) == set(ALPHABET[1:])


@pytest.mark.parametrize("text,unit", [("e", 1), ("A1", 1), ("A  B", 1), (" A", 1), ("", 1), ("A", 0)])
def test_morse_envelope_rejects_bad_input(text, unit):
    with pytest.raises(ValueError):
        morse_envelope(text, unit)


def test_morse_signal_and_random_text():
    rng = np.random.default_rng(0)
    for _ in range(20):
        text = random_text(rng, words=(1, 3), letters=(1, 5))
        assert 1 <= len(text.split()) <= 3 and all(1 <= len(w) <= 5 for w in text.split())
        assert set(text) <= set(ALPHABET)
    s = morse_signal("SOS", rng, noise=0.0)
    assert s.dtype == np.float32 and len(np.unique(s)) == 2 and s.min() == 0.0
    assert len(s) - len(morse_envelope("SOS", 2)) >= 4


def test_ctc_batch_pads_and_encodes():
    x, lengths, targets, target_lengths = ctc_batch([np.ones(3, np.float32), np.ones(5, np.float32)], ["AB", " Z"])
    assert x.shape == (2, 5, 1) and lengths.tolist() == [3, 5] and x[0, 3:].abs().sum() == 0
    assert targets.tolist() == [2, 3, 1, 27] and target_lengths.tolist() == [2, 2]
    with pytest.raises(ValueError):
        ctc_batch([np.ones(3, np.float32)], ["A", "B"])


def test_ctc_collapse_merges_repeats_then_drops_blanks():
    assert ctc_collapse([1, 1, 0, 1, 2, 2, 0, 0, 3]) == [1, 1, 2, 3]
    assert ctc_collapse([0, 0]) == [] and ctc_collapse([]) == []


def test_ctc_probability_matches_ctc_loss_and_sums_to_one():
    torch.manual_seed(1)
    log_probs = torch.randn(4, 3).log_softmax(-1)
    for target in ([1], [1, 2], [2, 2]):
        loss = nn.CTCLoss(reduction="sum")(log_probs[:, None], torch.tensor([target]), torch.tensor([4]),
                                           torch.tensor([len(target)]))
        assert ctc_probability(log_probs.exp().numpy(), target) == pytest.approx(math.exp(-loss.item()), rel=1e-5)
    probs = log_probs.exp().numpy()
    outputs = {tuple(ctc_collapse([a, b, c, d])) for a in range(3) for b in range(3) for c in range(3) for d in range(3)}
    assert sum(ctc_probability(probs, list(o)) for o in outputs) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ctc_probability(np.full((20, 28), 1 / 28), [1])


def test_ctc_greedy_decode():
    best = torch.tensor([[0, 2, 2, 0, 1, 3, 3, 0], [4, 0, 4, 5, 5, 0, 2, 0]])  # classes per frame
    logits = nn.functional.one_hot(best, len(ALPHABET) + 1).float()
    assert ctc_greedy_decode(logits, torch.tensor([8, 3])) == ["A B", "CC"]  # the frames after 3 are padding
    assert ctc_greedy_decode(logits, torch.tensor([8, 8])) == ["A B", "CCDA"]
    assert ctc_greedy_decode(logits, torch.tensor([5, 0])) == ["A ", ""]


def test_threshold_decoder_reads_clean_signals():
    rng = np.random.default_rng(0)
    texts = [random_text(rng) for _ in range(50)] + ["EEE", "MOT", "TEST E"]
    assert [threshold_decode(morse_signal(t, rng, noise=0.0)) for t in texts] == texts
    assert threshold_decode(np.zeros(50, np.float32)) == ""


def test_bucket_batches_cover_every_index_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 300, 103)
    batches = bucket_batches(list(lengths), 16, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    assert max(len(b) for b in batches) == 16
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 0.3 * (lengths.max() - lengths.min())  # similar lengths together
    with pytest.raises(ValueError):
        bucket_batches([], 4, rng)


# ------------------------------------------------------------------------------------------- the book


def test_states_reads_the_printed_precision_with_a_tolerance_in_the_last_digit():
    assert apps.states("59%", 0.5912) and apps.states("59%", np.float64(0.5912), tol=0)
    assert apps.states("49–53%", [0.4951, 0.5212, 0.53]) and apps.states("49–53%", {0: 0.4912, 1: 0.53}.values(), tol=0)
    assert apps.states("0.74", [0.7412, 0.7449], tol=0) and apps.states("-0.019 to -0.017", [-0.019, -0.0171], tol=0)
    assert apps.states("3.21", torch.tensor(3.2149), tol=0) and apps.states("27", 26.6, tol=0)
    assert apps.states("1.82%", 0.0183) and not apps.states("1.82%", 0.0183, tol=0)  # one unit of the last digit
    assert not apps.states("1.81%", 0.0183) and not apps.states("0.74–0.79", [0.74, 0.81])
    assert not apps.states("0.74", [0.73, 0.76])  # one number for several values: every one rounds to it
    assert not apps.states("59", 0.59) and not apps.states("0.59", 59)  # a percentage is not a fraction
    for bad in ("", "about 59%", "59 %", "0.7–", "1e-3"):
        with pytest.raises(ValueError, match="not a number"):
            apps.states(bad, 0.5)
    with pytest.raises(ValueError, match="at least one"):
        apps.states("0.5", [])


def test_line_numbers(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "source": ["| F1 ({ref}`ch5-x`) | 0.74–0.79 | one-directional 0.60, majority 0 |\n",
                                                        "The error was 1.83%. It fell to -0.019 to -0.017 in 2 steps.\n"]},
                    {"cell_type": "code", "source": ["x = 0.74  # F1\n"]}]}
    path = tmp_path / "page.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert apps.line_numbers(str(path), "| F1") == ["0.74–0.79", "0.60", "0"]
    assert apps.line_numbers(str(path), "The error") == ["1.83%", "-0.019 to -0.017", "2"]
    with pytest.raises(ValueError, match="on 0 lines"):
        apps.line_numbers(str(path), "x = 0.74")  # code cells are not prose
    with pytest.raises(ValueError, match="on 2 lines"):
        apps.line_numbers(str(path), "0.")


def test_draw_ctc_alignment():
    from rnnbook.plots import draw_ctc_alignment

    ax = draw_ctc_alignment("HHE-LL-LOO")
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("L") == 3 + 2 + 2  # path, merged, output
    assert labels.count(r"$\varnothing$") == 2 + 2
    plt.close(ax.figure)
    with pytest.raises(ValueError):
        draw_ctc_alignment("AB1")


# ------------------------------------------------------------- the classifier's readouts, the trainers, value_range


def test_classifier_readouts_differ_exactly_in_what_they_read():
    torch.manual_seed(0)
    mean, last = SequenceClassifier(10, 3), SequenceClassifier(10, 3, readout="last")
    last.load_state_dict(mean.state_dict())
    x = torch.randint(0, 10, (2, 6))
    with torch.no_grad():
        hs, _ = mean.rnn(mean.embed(x))
        assert torch.allclose(mean(x), mean.head(hs.mean(1)))
        assert torch.allclose(last(x), mean.head(hs[:, -1]))
        y = x.clone()
        y[:, 0] = (x[:, 0] + 1) % 10  # an early change reaches h_T only through the recurrence, the mean directly
        assert not torch.allclose(mean(y), mean(x))
    with pytest.raises(ValueError, match="readout='first'"):
        SequenceClassifier(10, 3, readout="first")


def test_train_classifier_and_tagger_learn_a_trivial_rule():
    torch.manual_seed(0)
    X = torch.randint(0, 2, (256, 8))
    y = X[:, 0]  # the class is the first id: the mean readout sees it directly
    clf, losses = apps.train_classifier(X, y, V=2, C=2, steps=60, seed=0)
    assert len(losses) == 60 and np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    with torch.no_grad():
        assert (clf(X).argmax(1) == y).float().mean() > 0.95
    tagger = apps.train_tagger(X, X, V=2, bidirectional=False, steps=60, seed=0)  # tag = the id itself
    with torch.no_grad():
        assert (tagger(X).argmax(-1) == X).float().mean() > 0.95
    with pytest.raises(ValueError, match="same N"):
        apps.train_classifier(X, y[:5], V=2, C=2)
    with pytest.raises(ValueError, match="same shape"):
        apps.train_tagger(X, X[:, :3], V=2, bidirectional=True)


def test_value_range():
    assert apps.value_range([0.7412, 0.7598]) == "0.74–0.76"
    assert apps.value_range([0.7412, 0.7449]) == "0.74"
    assert apps.value_range([0.492, 0.502, 0.499], 0, percent=True) == "49–50%"
    assert apps.value_range(np.array([0.0181, 0.0183]), 2, percent=True) == "1.81–1.83%"
    assert apps.value_range([-0.019, -0.017], 3) == "-0.019 to -0.017"
    with pytest.raises(ValueError):
        apps.value_range([])
