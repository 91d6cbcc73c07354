"""Tests of rnnbook.training: the schedule, evaluation on the whole text, and a short reproducible run."""

import math
import random

import pytest
import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_post_hook

from rnnbook import training
from rnnbook.data import CharVocab
from rnnbook.models import CharRNN
from rnnbook.training import (TrainConfig, autocast, bf16_works, detach, evaluate, evaluate_windows, lr_at, make_optimizer,
                              select_stream, train)
from tests.helpers import GradNorms

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
    assert lr_at(cfg, 200, 1.7) == pytest.approx(1e-3) and lr_at(cfg, 10, -0.5) == pytest.approx(1e-2)  # clamped
    assert lr_at(cfg, 30, 0.25) == pytest.approx(1e-2 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4))))
    no_warmup = TrainConfig(steps=100, lr=1e-2, warmup=0, min_lr=0.0)
    assert lr_at(no_warmup, 0, 0.0) == pytest.approx(1e-2) and lr_at(no_warmup, 100, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert TrainConfig(steps=1, min_lr=1.0).min_lr == 1.0 and TrainConfig(budget=1e-9).budget == 1e-9
    assert TrainConfig(steps=1, batch_size=1, seq_len=1, eval_every=1).eval_every == 1  # the smallest valid values


@pytest.mark.parametrize("kwargs", [dict(), dict(steps=1, budget=1.0), dict(steps=0), dict(budget=-1.0),
                                    dict(steps=1, precision="fp16"), dict(steps=1, lr=0.0),
                                    dict(steps=1, batch_size=0), dict(steps=1, eval_every=0), dict(steps=1, ema=1.0),
                                    dict(steps=1, ema=-0.1), dict(steps=1, beta1=1.0), dict(steps=1, beta2=1.0),
                                    dict(steps=1, clip=-1.0), dict(steps=1, weight_decay=-0.1), dict(steps=1, batching="bptt"),
                                    dict(steps=1, min_lr=1.5), dict(steps=1, min_lr=-0.1), dict(steps=1, warmup=-1),
                                    dict(steps=1, seq_len=0), dict(steps=1, beta1=-0.1), dict(budget=0.0),
                                    dict(steps=1, precision="BF16")])
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


def train_recording_grad_norms(steps: int, clip: float) -> GradNorms:
    """Train a tiny model for `steps` updates; the gradient norms as backward left them and as each update saw them."""
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    model = tiny()
    norms = GradNorms(model)
    try:
        train(model, ids, None, TrainConfig(steps=steps, batch_size=4, seq_len=8, clip=clip, ema=0.0, precision="fp32"),
              progress=False)
    finally:
        norms.remove()
    return norms


def test_clip_zero_means_no_clipping():
    norms = train_recording_grad_norms(4, clip=0)
    assert len(norms.seen) == 4 and max(norms.raw) > 0.05
    assert norms.seen == pytest.approx(norms.raw, rel=1e-6)  # every update saw the raw gradient


def test_train_clips_the_gradient_before_every_step():
    norms = train_recording_grad_norms(8, clip=0.05)
    assert len(norms.seen) == len(norms.raw) == 8
    assert max(norms.raw) > 0.05  # the clip had something to do ...
    for raw, seen in zip(norms.raw, norms.seen):  # ... and every update saw min(raw, clip)
        assert seen == pytest.approx(min(raw, 0.05), rel=1e-4)


def test_make_optimizer_decays_the_matrices_only():
    model = tiny("lstm")
    cfg = TrainConfig(steps=1, lr=3e-3, beta1=0.5, weight_decay=0.2)
    opt = make_optimizer(model, cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    decay, other = opt.param_groups
    assert sorted(names[id(p)] for p in decay["params"]) == ["head.weight", "rnn.weight_hh_l0", "rnn.weight_ih_l0"]
    assert sorted(names[id(p)] for p in other["params"]) == ["embed.weight", "head.bias", "rnn.bias_hh_l0",
                                                              "rnn.bias_ih_l0"]
    assert decay["weight_decay"] == 0.2 and other["weight_decay"] == 0.0
    assert all(g["lr"] == 3e-3 and g["betas"] == (0.5, 0.99) for g in opt.param_groups)


def test_epochs_after_the_first_start_at_a_random_offset(monkeypatch):
    offsets = []

    def recording(ids, batch_size, seq_len, offset=0):
        offsets.append(offset)
        return stream_batches(ids, batch_size, seq_len, offset)

    stream_batches = training.stream_batches
    monkeypatch.setattr(training, "stream_batches", recording)
    ids = CharVocab.from_text(TEXT).encode(TEXT[:200])  # 2 streams of 99 characters: 7 chunks of 16 per epoch
    train(tiny(), ids, None, TrainConfig(steps=60, batch_size=2, seq_len=16, seed=5, ema=0.0, precision="fp32"),
          progress=False)
    rng = random.Random(5)
    assert len(offsets) >= 8 and offsets[0] == 0
    assert offsets[1:] == [rng.randrange(16) for _ in offsets[1:]]
    assert len(set(offsets)) > 3 and all(0 <= o < 16 for o in offsets)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_evaluate_predicts_every_character_once_with_state_carried(cell):
    vocab = CharVocab.from_text(TEXT)
    model = tiny(cell).eval()
    ids = vocab.encode(TEXT[:203])
    with torch.no_grad():  # the reference: one sequence, read from start to end
        logits, _ = model(ids[None, :-1])
        reference = F.cross_entropy(logits[0], ids[1:]).item()
    assert evaluate(model, ids, batch_size=1, seq_len=7) == pytest.approx(reference, rel=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_batched_evaluate_equals_the_streams_read_by_hand(cell):
    vocab = CharVocab.from_text(TEXT)
    model = tiny(cell).eval()
    ids = vocab.encode(TEXT[:209])  # 208 predictions: 5 streams of 41, and a tail of 3 that continues the last stream
    n = 41
    total = 0.0
    with torch.no_grad():
        for b in range(5):  # each stream from a zero state, in one piece; the last one runs on into the tail
            end = (b + 1) * n if b < 4 else len(ids) - 1
            logits, _ = model(ids[b * n:end][None])
            total += F.cross_entropy(logits[0], ids[b * n + 1:end + 1], reduction="sum").item()
    assert evaluate(model, ids, batch_size=5, seq_len=7) == pytest.approx(total / 208, rel=1e-5)
    assert evaluate(model, ids, batch_size=5, seq_len=100) == pytest.approx(total / 208, rel=1e-5)


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


def test_bf16_works_needs_native_units_and_a_model_that_runs(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert bf16_works(tiny("gru"), cpu) is False  # no bfloat16 units: never
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    model = tiny("gru")
    assert bf16_works(model, cpu) is True  # the units, and the model trains under autocast
    assert all(p.grad is None for p in model.parameters())  # the trial step ran on a copy

    def refuse(*args, **kwargs):
        raise RuntimeError("no bfloat16 kernel")

    monkeypatch.setattr(model.rnn, "forward", refuse)
    assert bf16_works(model, cpu) is False  # the units, but a kernel that refuses bfloat16
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", refuse)
    assert bf16_works(tiny("gru"), cpu) is False  # a torch that cannot tell: no


def test_bf16_works_tries_a_step_under_bfloat16_autocast(monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    dtypes, real = [], torch.autocast

    def recording(device_type, dtype=None, **kwargs):
        dtypes.append(dtype)
        return real(device_type, dtype=dtype, **kwargs)

    monkeypatch.setattr(torch, "autocast", recording)
    assert bf16_works(tiny("gru"), torch.device("cpu")) is True and dtypes == [torch.bfloat16]


def test_bf16_works_asks_cuda_about_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)  # the CPU's answer is not asked
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert bf16_works(tiny("gru"), torch.device("cuda")) is False


@pytest.mark.filterwarnings("ignore:CUDA is not available")
def test_autocast_is_bfloat16_on_every_device_or_nothing():
    for device in ("cpu", "cuda"):  # bfloat16 even where autocast would default to float16 (CUDA)
        ctx = autocast(torch.device(device), True)
        assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16
    assert not isinstance(autocast(torch.device("cpu"), False), torch.autocast)


def test_select_stream_and_detach_keep_the_values():
    h = torch.arange(24.0, requires_grad=True).view(2, 4, 3) * 1.0  # (layers, batch, hidden)
    c = h + 100
    assert torch.equal(select_stream(h, 1), h[:, 1:2]) and select_stream(h, 1).shape == (2, 1, 3)
    assert [torch.equal(a, b[:, 0:1]) for a, b in zip(select_stream((h, c), 0), (h, c))] == [True, True]
    assert detach(None) is None
    d = detach((h, c))
    assert isinstance(d, tuple) and all(torch.equal(a, b) and a.grad_fn is None for a, b in zip(d, (h, c)))
    assert torch.equal(detach(h), h) and detach(h).grad_fn is None and h.grad_fn is not None


def test_train_carries_the_state_from_chunk_to_chunk_detached():
    ids = CharVocab.from_text(TEXT).encode(TEXT[:200])  # 2 streams of 99 characters: 7 chunks in the first epoch
    model = tiny("lstm")
    states, forward = [], model.forward

    def recording(x, state=None):
        states.append(state)
        return forward(x, state)

    model.forward = recording
    train(model, ids, None, TrainConfig(steps=9, batch_size=2, seq_len=16, ema=0.0, precision="fp32"), progress=False)
    assert len(states) == 9 and states[0] is None and states[7] is None  # each epoch starts from zeros ...
    for state in states[1:7] + states[8:]:  # ... and every other chunk continues the state of the one before
        assert isinstance(state, tuple) and state[0].shape == (1, 2, 16) and state[0].grad_fn is None
        assert state[0].abs().sum() > 0


def test_bf16_auto_follows_bf16_works(monkeypatch):
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    for works in (False, True):
        monkeypatch.setattr(training, "bf16_works", lambda model, device: works)
        result = train(tiny("gru"), ids, None, TrainConfig(steps=1, batch_size=2, seq_len=8), progress=False)
        assert result["bf16"] is works and math.isfinite(result["train_loss"])


def test_forced_bf16_autocast_computes_in_bfloat16():
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    for precision, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        model = tiny("gru")
        seen = []
        model.head.register_forward_hook(lambda m, args, out: seen.append(out.dtype))
        result = train(model, ids, ids, TrainConfig(steps=3, batch_size=2, seq_len=8, precision=precision), progress=False)
        assert result["bf16"] is (precision == "bf16") and math.isfinite(result["val_loss"])
        assert set(seen) == {dtype}  # training and evaluation alike
    model = tiny("gru")
    fp32, bf16 = evaluate(model, ids), evaluate(model, ids, bf16=True)
    assert fp32 != bf16 and bf16 == pytest.approx(fp32, abs=0.02)  # rounded, not wrong


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
