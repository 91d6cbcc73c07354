"""Tests of rnnbook.training: the schedule, evaluation on the whole text, and a short reproducible run."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_post_hook

from rnnbook.data import CharVocab
from rnnbook.models import CharRNN
from rnnbook.training import TrainConfig, bf16_works, evaluate, evaluate_windows, lr_at, train

TEXT = "the cat sat on the mat. " * 40


def tiny(cell="gru", seed=0):
    torch.manual_seed(seed)
    return CharRNN(len(CharVocab.from_text(TEXT)), 8, 16, 1, cell)


def test_lr_schedule_warms_up_then_decays():
    cfg = TrainConfig(steps=100, lr=1e-2, warmup=10, min_lr=0.1)
    assert lr_at(cfg, 0, 0.0) == pytest.approx(1e-3)
    assert lr_at(cfg, 9, 0.09) == pytest.approx(1e-2)
    assert lr_at(cfg, 10, 0.0) == pytest.approx(1e-2)
    assert lr_at(cfg, 50, 0.5) == pytest.approx(0.55e-2)
    assert lr_at(cfg, 100, 1.0) == pytest.approx(1e-3)
    lrs = [lr_at(cfg, s, s / 100) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


@pytest.mark.parametrize("kwargs", [dict(), dict(steps=1, budget=1.0), dict(steps=0), dict(budget=-1.0),
                                    dict(steps=1, precision="fp16"), dict(steps=1, lr=0.0),
                                    dict(steps=1, batch_size=0), dict(steps=1, eval_every=0), dict(steps=1, ema=1.0),
                                    dict(steps=1, ema=-0.1), dict(steps=1, beta1=1.0),
                                    dict(steps=1, beta2=1.0), dict(steps=1, clip=-1.0), dict(steps=1, batching="bptt")])
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_evaluate_predicts_every_character_once_with_state_carried(cell):
    vocab = CharVocab.from_text(TEXT)
    model = tiny(cell).eval()
    ids = vocab.encode(TEXT[:203])
    with torch.no_grad():  # the reference: one sequence, read from start to end
        logits, _ = model(ids[None, :-1])
        reference = F.cross_entropy(logits[0], ids[1:]).item()
    assert evaluate(model, ids, batch_size=1, seq_len=7) == pytest.approx(reference, rel=1e-5)
    # 5 streams: each starts from a zero state once, so the loss differs a little, not a lot
    batched = evaluate(model, ids, batch_size=5, seq_len=7)
    assert batched == pytest.approx(reference, rel=0.05) and batched != reference


def test_evaluate_windows_scores_every_character_once_with_half_a_window_of_context():
    vocab = CharVocab.from_text(TEXT)
    model = tiny("rnn").eval()
    for n in (2, 3, 9, 10, 11, 57, 203):  # windows that fit exactly, a tail window, a text shorter than a window
        ids = vocab.encode(TEXT[:n])
        with torch.no_grad():  # one window holds the whole text: scored whole, from a zero state
            logits, _ = model(ids[None, :-1])
        assert evaluate_windows(model, ids, seq_len=n + 5) == pytest.approx(F.cross_entropy(logits[0], ids[1:]).item())
        with torch.no_grad():  # without a recurrent weight, context does not matter: the same as `evaluate`
            weight = model.rnn.weight_hh_l0.clone()
            model.rnn.weight_hh_l0.zero_()
            assert evaluate_windows(model, ids, seq_len=10, batch_size=3) == pytest.approx(evaluate(model, ids), rel=1e-5)
            model.rnn.weight_hh_l0.copy_(weight)
    ids = vocab.encode(TEXT[:203])
    # by hand: windows of 10 start at 0, 5, ..., 190 and, flush with the end, 192; the first scores predictions
    # 0-9, the others their last five (10-14, ..., 195-199) and the last 200-201: context 5 to 9 characters
    with torch.no_grad():
        by_hand = sum(F.cross_entropy(model(ids[None, s:s + 10])[0][0, a:], ids[s + 1 + a:s + 11], reduction="sum")
                      for s, a in [(0, 0)] + [(s, 5) for s in range(5, 191, 5)] + [(192, 8)]).item() / 202
    assert evaluate_windows(model, ids, seq_len=10, batch_size=4) == pytest.approx(by_hand, rel=1e-6)
    assert model.training is False and evaluate_windows(model.train(), ids) and model.training
    with pytest.raises(ValueError, match="seq_len=1"):
        evaluate_windows(model, ids, seq_len=1)
    with pytest.raises(ValueError, match="at least 2"):
        evaluate_windows(model, ids[:1])


@pytest.mark.parametrize("batching", ["chunks", "windows"])
def test_the_tutorial_batchings_train_from_a_zero_state(batching, monkeypatch):
    vocab = CharVocab.from_text(TEXT)
    model = tiny()
    states = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda x, state=None: (states.append(state), forward(x, state))[1])
    cfg = TrainConfig(steps=4, batch_size=4, seq_len=8, batching=batching, clip=0.0, ema=0.0, precision="fp32")
    result = train(model, vocab.encode(TEXT), None, cfg, progress=False)
    assert result["steps"] == 4 and states == [None] * 4  # no state carried from one batch to the next


def test_the_windows_are_shuffled_overlapping_windows():
    from rnnbook.training import batches
    import random
    ids = torch.arange(100)
    cfg = TrainConfig(steps=1, batch_size=4, seq_len=8, batching="windows")
    x, y = next(batches(ids, cfg, 0, random.Random(0)))
    assert x.shape == (4, 8) and torch.equal(y, x + 1) and torch.equal(x[:, 1:], x[:, :-1] + 1)
    starts = [s for x, _ in batches(ids, cfg, 0, random.Random(0)) for s in x[:, 0].tolist()]
    assert len(starts) == 92 and sorted(starts) == list(range(92)) and starts != sorted(starts)
    streamed = next(batches(ids, TrainConfig(steps=1, batch_size=4, seq_len=8), 0, random.Random(0)))[0]
    assert torch.equal(streamed[:, 0], torch.tensor([0, 24, 48, 72]))  # streams: one chunk of each of 4 streams


def test_evaluate_rejects_too_short_text():
    with pytest.raises(ValueError):
        evaluate(tiny(), torch.tensor([1]))


def test_training_lowers_the_loss_and_is_reproducible():
    vocab = CharVocab.from_text(TEXT)
    ids = vocab.encode(TEXT)
    cfg = TrainConfig(steps=40, batch_size=4, seq_len=16, lr=1e-2, warmup=5, seed=3, precision="fp32")
    runs = []
    for _ in range(2):
        model = tiny()
        before = evaluate(model, ids)
        result = train(model, ids, ids, cfg, progress=False)
        runs.append(result)
    assert runs[0]["val_loss"] < before - 1.0, (before, runs[0]["val_loss"])
    assert [h[1] for h in runs[0]["history"]] == [h[1] for h in runs[1]["history"]]
    assert runs[0]["steps"] == 40 and runs[0]["val_bpc"] == pytest.approx(runs[0]["val_loss"] / math.log(2), abs=1e-3)
    assert runs[0]["chars_per_second"] > 0 and runs[0]["bf16"] is False


def test_training_stops_at_the_budget():
    vocab = CharVocab.from_text(TEXT)
    ids = vocab.encode(TEXT)
    result = train(tiny(), ids, None, TrainConfig(budget=1.0, batch_size=2, seq_len=8, precision="fp32"), progress=False)
    assert 1.0 <= result["train_seconds"] < 3.0 and result["steps"] > 1 and "val_loss" not in result


def test_bf16_auto_falls_back_cleanly():
    model = tiny("lstm")
    works = bf16_works(model, torch.device("cpu"))
    assert isinstance(works, bool)
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    result = train(model, ids, ids, TrainConfig(steps=2, batch_size=2, seq_len=8), progress=False)
    assert result["bf16"] == works and math.isfinite(result["val_loss"])


def test_forced_bf16_autocast_trains():
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    result = train(tiny("gru"), ids, ids, TrainConfig(steps=3, batch_size=2, seq_len=8, precision="bf16"), progress=False)
    assert result["bf16"] is True and math.isfinite(result["val_loss"])


def test_eval_every_keeps_the_best_weights():
    vocab = CharVocab.from_text("ab")
    train_ids, val_ids = vocab.encode("ab" * 200), vocab.encode("a" * 100)
    torch.manual_seed(0)
    model = CharRNN(2, 4, 8, 1, "gru")
    # learning that "b" follows "a" makes the validation text "aaa..." ever less likely: the best step is the first
    cfg = TrainConfig(steps=12, batch_size=4, seq_len=8, lr=1e-2, warmup=1, eval_every=3, ema=0.0, precision="fp32")
    result = train(model, train_ids, val_ids, cfg, progress=False)
    losses = [v for _, v, _ in result["val_history"]]
    assert [h[0] for h in result["val_history"]] == [3, 6, 9, 12]
    assert losses == sorted(losses) and losses[0] < losses[-1] == result["final_val_loss"]
    assert result["best_step"] == 3 and result["val_loss"] == losses[0]
    assert evaluate(model, val_ids) == pytest.approx(losses[0], abs=1e-4)  # the weights of step 3 were kept


def test_without_eval_every_the_last_weights_are_kept():
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    result = train(tiny(), ids, ids, TrainConfig(steps=3, batch_size=2, seq_len=8, ema=0.0), progress=False)
    assert result["val_history"] == [] and result["best_step"] == 3 and result["val_loss"] == result["final_val_loss"]


def test_ema_keeps_the_moving_average_of_the_weights():
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    cfg = dict(steps=5, batch_size=2, seq_len=8, lr=1e-2, warmup=1, precision="fp32")
    model = tiny()
    trajectory = []  # the weights after every update, recorded by a hook on the optimizer
    handle = register_optimizer_step_post_hook(
        lambda opt, args, kwargs: trajectory.append([p.detach().clone() for p in model.parameters()]))
    try:
        result = train(model, ids, ids, TrainConfig(ema=0.2, **cfg), progress=False)
    finally:
        handle.remove()
    assert len(trajectory) == 5
    expected = trajectory[0]  # the average starts at the first update's weights ...
    for n, weights in enumerate(trajectory[1:], start=1):
        d = min(0.2, (1 + n) / (10 + n))  # ... and forgets fast at first: d = 2/11, then 0.2
        expected = [d * e + (1 - d) * w for e, w in zip(expected, weights)]
    for p, e, last in zip(model.parameters(), expected, trajectory[-1]):
        assert torch.allclose(p, e, atol=1e-6) and not torch.allclose(p, last)
    assert result["val_loss"] == pytest.approx(evaluate(model, ids), abs=1e-4)  # the average is what was evaluated
    plain = tiny()  # the average does not change training itself: without it, the last weights are those of the trajectory
    train(plain, ids, ids, TrainConfig(ema=0.0, **cfg), progress=False)
    assert all(torch.allclose(p, w) for p, w in zip(plain.parameters(), trajectory[-1]))


def test_callback_sees_the_kept_weights_every_n_steps():
    vocab = CharVocab.from_text(TEXT)
    ids = vocab.encode(TEXT)
    seen = []

    def record(step, weights):
        assert not torch.is_grad_enabled()
        seen.append((step, [p.clone() for p in weights.parameters()]))

    model = tiny()
    cfg = TrainConfig(steps=20, batch_size=4, seq_len=8, lr=1e-2, warmup=2, seed=0, precision="fp32")
    train(model, ids, None, cfg, progress=False, callback=record, callback_every=5)
    assert [s for s, _ in seen] == [0, 5, 10, 15, 20]
    assert all(torch.equal(a, b) for a, b in zip(seen[-1][1], model.parameters()))  # the last call saw what is returned
    assert not all(torch.equal(a, b) for a, b in zip(seen[0][1], seen[-1][1])) and model.training
    same = tiny()
    train(same, ids, None, cfg, progress=False)  # the callback does not change the run
    assert all(torch.equal(a, b) for a, b in zip(same.parameters(), model.parameters()))
    with pytest.raises(ValueError, match="callback_every"):
        train(tiny(), ids, None, cfg, progress=False, callback=record)
