"""Tests of the shipped model: it loads, its metadata records how it was made, and it writes text."""

import math
import re

from rnnbook.checkpoint import load_checkpoint
from rnnbook.data import TEST_PLAYS
from rnnbook.pretrained import PRETRAINED, load_pretrained
from rnnbook.sampling import generate
from rnnbook.training import TrainConfig


def test_shipped_model_is_small_and_documented():
    assert PRETRAINED.stat().st_size < 5_000_000
    _, vocab, meta = load_checkpoint(PRETRAINED)
    assert meta["command"].startswith("python -m rnnbook.train --corpus shakespeare")
    assert 0.5 < meta["val_loss"] < math.log(len(vocab))
    assert abs(meta["val_bpc"] - meta["val_loss"] / math.log(2)) < 1e-3
    assert meta["corpus"] == "shakespeare"
    # the validation loss kept is the best of the periodic evaluations, at the step recorded, as `train` returns it
    history = {step: loss for step, loss, _ in meta["val_history"]}
    assert meta["val_loss"] == min(history.values()) == history[meta["best_step"]] <= meta["final_val_loss"]
    assert sorted(history) == list(range(meta["config"]["eval_every"], meta["steps"] + 1, meta["config"]["eval_every"]))
    cfg = TrainConfig(**meta["config"])  # a valid recipe, the one the command line asked for
    stop = f"--steps {cfg.steps}" if cfg.steps else f"--budget {cfg.budget:g}"
    assert stop in meta["command"] and f"--eval-every {cfg.eval_every}" in meta["command"]


def test_shipped_model_reports_a_test_loss_on_the_held_out_play():
    """Trained by a version of train that holds out TEST_PLAYS too, which scores them once, as test_loss."""
    _, vocab, meta = load_checkpoint(PRETRAINED)
    assert TEST_PLAYS == ("richard-ii",) and 0.5 < meta["test_loss"] < math.log(len(vocab))
    assert abs(meta["test_loss"] - meta["val_loss"]) < 0.3
    assert not re.search(r"(^|[\s=])/", meta["command"])  # no path of any machine in the recorded command


def test_load_pretrained_generates_text():
    model, vocab = load_pretrained()
    assert not model.training
    text = generate(model, vocab, "ROMEO:\n", 80, temperature=0.8, seed=0)
    assert text.startswith("ROMEO:\n") and len(text) == 87
    assert generate(model, vocab, "ROMEO:\n", 80, temperature=0.8, seed=0) == text
