"""Edge cases of rnnbook.data and training.train that the other tests left open (found by `make mutate`)."""

import numpy as np
import pytest
import torch

from rnnbook import data, training
from rnnbook.data import CharVocab, clean_play, load_text, play_paths
from rnnbook.models import CharRNN
from rnnbook.training import TrainConfig, lr_at, train

TEXT = "the cat sat on the mat. " * 40


def tiny(seed: int = 0) -> CharRNN:
    torch.manual_seed(seed)
    return CharRNN(len(CharVocab.from_text(TEXT)), 8, 16, 1, "gru")


# ------------------------------------------------------------------------------------------------ data


def test_clean_play_reads_on_after_a_block_that_is_only_a_direction():
    play = "**A**\nOne.\n\n*\\[Exeunt.]*\n\n**B**\nTwo."  # the middle block is empty once the direction is gone
    assert clean_play(play) == "A:\nOne.\n\nB:\nTwo.\n\n"


def test_clean_play_gives_the_line_after_a_one_line_direction_to_the_speaker():
    play = "**A**\nOne.\n_Exit B_\nStill A.\n\n**B**\nTwo."
    assert clean_play(play) == "A:\nOne.\nStill A.\n\nB:\nTwo.\n\n"


def test_clean_play_drops_text_before_the_first_speaker_and_speakers_without_lines():
    assert clean_play("A prologue nobody speaks.\n\n**A**\n\n**B**\nTwo.") == "B:\nTwo.\n\n"


def test_clean_play_removes_markdown_escapes():
    assert clean_play("**A**\nOne\\-two, 1\\. three") == "A:\nOne-two, 1. three\n\n"


def test_play_paths_are_sorted_by_name_across_the_genre_folders():
    names = list(play_paths())
    assert names == sorted(names) and len({p.parent for p in play_paths().values()}) > 1  # not sorted by folder


def test_missing_held_out_play_is_a_clear_error(monkeypatch):
    paths = {k: v for k, v in play_paths().items() if k not in data.VAL_PLAYS}
    monkeypatch.setattr(data, "play_paths", lambda: paths)
    with pytest.raises(ValueError, match="lacks the held-out plays"):
        data.shakespeare()


def test_training_text_is_the_other_plays_end_to_end(monkeypatch):
    few = {k: v for k, v in play_paths().items() if k in ("macbeth", "richard-ii", "hamlet", "othello", "twelfth-night")}
    monkeypatch.setattr(data, "play_paths", lambda: few)
    train, _ = data.shakespeare()
    assert train == "".join(clean_play(few[k].read_text(encoding="utf-8")) for k in ("hamlet", "othello"))


def test_the_test_text_joins_its_plays_end_to_end(monkeypatch):
    monkeypatch.setattr(data, "TEST_PLAYS", ("richard-ii", "hamlet"))  # the function must hold for more than one play
    paths = play_paths()
    assert data.shakespeare_test() == "".join(clean_play(paths[k].read_text(encoding="utf-8")) for k in ("richard-ii", "hamlet"))


def test_a_lone_surrogate_is_an_unknown_character():
    vocab = CharVocab("ab")
    with pytest.raises(ValueError, match="U\\+D800"):
        vocab.encode("a\ud800b")
    assert vocab.encode("a\ud800b", unknown="skip").tolist() == [0, 1]


def test_load_text_accepts_exactly_20_characters(tmp_path):
    (tmp_path / "t.txt").write_text("abcdefghijklmnopqrst", encoding="utf-8")
    train, val = load_text(tmp_path / "t.txt")
    assert train + val == "abcdefghijklmnopqrst"


def test_decode_reads_ids_of_any_shape():
    vocab = CharVocab.from_text("abc")
    assert vocab.decode(torch.tensor([[0, 1], [2, 0]])) == "abca"
    assert vocab.decode(np.array([[[2]]])) == "c"


# ---------------------------------------------------------------------------------------------- training


def test_callback_every_one_is_called_after_every_update():
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    seen = []
    train(tiny(), ids, None, TrainConfig(steps=3, batch_size=2, seq_len=8, precision="fp32", ema=0.0), progress=False,
          callback=lambda step, model: seen.append(step), callback_every=1)
    assert seen == [0, 1, 2, 3]


def test_epochs_count_the_characters_read():
    ids = CharVocab.from_text(TEXT).encode(TEXT)[:101]  # 100 targets: one character is 0.01 epoch
    result = train(tiny(), ids, None, TrainConfig(steps=3, batch_size=2, seq_len=8, precision="fp32", ema=0.0),
                   progress=False)
    assert result["epochs"] == round(3 * 2 * 8 / 101, 3)


def budgeted_rates(monkeypatch, budget: float) -> tuple[TrainConfig, list[float]]:
    """Train the tiny model for `budget` seconds, recording the rate the schedule gives at every update."""
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    cfg = TrainConfig(budget=budget, batch_size=2, seq_len=8, warmup=0, lr=1e-2, min_lr=0.1, precision="fp32", ema=0.0)
    lrs = []
    monkeypatch.setattr(training, "lr_at", lambda c, step, progress: lrs.append(lr_at(c, step, progress)) or lrs[-1])
    train(tiny(), ids, None, cfg, progress=False)
    return cfg, lrs


def test_a_budgeted_run_follows_the_schedule_from_its_start(monkeypatch):
    cfg, lrs = budgeted_rates(monkeypatch, 0.5)
    assert lrs[0] > 0.99 * cfg.lr  # the first update is at progress ~0 of the budget, so at the peak rate ...
    assert lrs[-1] < lrs[0] and all(a >= b for a, b in zip(lrs, lrs[1:]))  # ... and the rate only falls


def test_one_character_vocabulary_and_one_character_chunks():
    vocab = CharVocab("a")
    assert vocab.encode("aaa").tolist() == [0, 0, 0] and vocab.decode([0]) == "a"
    chunks = list(data.stream_batches(torch.arange(7), batch_size=2, seq_len=1))
    assert [x.tolist() for x, _ in chunks] == [[[0], [3]], [[1], [4]], [[2], [5]]]
    assert [y.tolist() for _, y in chunks] == [[[1], [4]], [[2], [5]], [[3], [6]]]


def test_the_optimiser_steps_with_the_scheduled_rate():
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    ids = CharVocab.from_text(TEXT).encode(TEXT)
    cfg = TrainConfig(steps=12, batch_size=2, seq_len=8, warmup=4, lr=1e-2, min_lr=0.1, precision="fp32", ema=0.0)
    seen = []
    handle = register_optimizer_step_pre_hook(lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"]))
    try:
        train(tiny(), ids, None, cfg, progress=False)
    finally:
        handle.remove()
    assert seen == pytest.approx([lr_at(cfg, s, s / cfg.steps) for s in range(cfg.steps)], rel=1e-12)


def test_a_budgeted_run_ends_near_the_lowest_rate(monkeypatch):
    cfg, lrs = budgeted_rates(monkeypatch, 0.6)
    assert lrs[-1] < 0.25 * cfg.lr  # the last update comes near the end of the budget: progress ~1, the rate ~min_lr * lr


def test_the_result_reports_what_the_run_did():
    import time
    from dataclasses import asdict

    ids = CharVocab.from_text(TEXT).encode(TEXT)
    cfg = TrainConfig(steps=25, batch_size=2, seq_len=8, eval_every=10, precision="fp32", ema=0.0)
    start = time.perf_counter()
    result = train(tiny(), ids[:600], ids[600:], cfg, progress=False)
    wall = time.perf_counter() - start
    losses = [h[1] for h in result["history"]]
    assert len(losses) == 25 and result["train_loss"] == round(sum(losses[-20:]) / 20, 4)
    assert 0 < result["train_seconds"] <= wall + 0.01 and result["train_seconds"] == round(result["train_seconds"], 2)
    assert result["chars_per_second"] == pytest.approx(25 * 2 * 8 / result["train_seconds"], rel=0.2)
    assert isinstance(result["eval_seconds"], float) and 0 <= result["eval_seconds"] <= wall + 0.01
    assert result["eval_seconds"] == round(result["eval_seconds"], 2)
    assert result["val_bpc"] == round(result["val_bpc"], 4) and abs(result["val_bpc"] - result["val_loss"] / np.log(2)) < 2e-4
    steps, vals, times = zip(*result["val_history"])
    assert steps == (10, 20) and all(isinstance(t, float) and 0 <= t <= wall + 0.1 and t == round(t, 1) for t in times) and times[0] <= times[1]
    assert all(v == round(v, 4) for v in vals)
    assert result["config"] == asdict(cfg)


def test_bf16_runs_evaluate_in_bf16(monkeypatch):
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    calls = []
    real = training.evaluate
    monkeypatch.setattr(training, "evaluate", lambda *a, **k: calls.append(k.get("bf16")) or real(*a, **k))
    train(tiny(), ids[:600], ids[600:], TrainConfig(steps=4, batch_size=2, seq_len=8, eval_every=2, precision="bf16",
                                                    ema=0.0), progress=False)
    assert calls == [True, True, True]  # two periodic evaluations and the final one
