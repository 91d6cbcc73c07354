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


def test_a_budgeted_run_follows_the_schedule_from_its_start(monkeypatch):
    ids = CharVocab.from_text(TEXT).encode(TEXT)
    cfg = TrainConfig(budget=0.5, batch_size=2, seq_len=8, warmup=0, lr=1e-2, min_lr=0.1, precision="fp32", ema=0.0)
    lrs = []
    monkeypatch.setattr(training, "lr_at", lambda c, step, progress: lrs.append(lr_at(c, step, progress)) or lrs[-1])
    train(tiny(), ids, None, cfg, progress=False)
    assert lrs[0] > 0.99 * cfg.lr  # the first update is at progress ~0 of the budget, so at the peak rate ...
    assert lrs[-1] < lrs[0] and all(a >= b for a, b in zip(lrs, lrs[1:]))  # ... and the rate only falls
