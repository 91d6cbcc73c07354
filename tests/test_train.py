"""Tests of the command line `python -m rnnbook.train` on a tiny text and a tiny model."""

import json
import subprocess
import sys

import pytest
import torch

from rnnbook.checkpoint import load_checkpoint
from rnnbook.train import main

TINY = ["--embed", "4", "--hidden", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "16", "--quiet"]


@pytest.fixture(autouse=True)
def keep_thread_count():
    """main() sets torch's thread count (--threads); put it back for the tests that follow."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text("Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n" * 30)
    return path


def test_cli_prints_one_json_line_and_saves_a_checkpoint(tmp_path, text_file):
    out = tmp_path / "runs" / "tiny"
    proc = subprocess.run([sys.executable, "-m", "rnnbook.train", "--text", str(text_file), "--cell", "gru",
                           "--steps", "5", "--out", str(out), *TINY], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("val_loss", "val_bpc", "train_seconds", "chars_per_second", "steps"):
        assert key in result
    assert result["steps"] == 5 and result["val_loss"] > 0 and result["chars_per_second"] > 0
    model, vocab, meta = load_checkpoint(result["out"])
    assert model.config["cell"] == "gru" and len(vocab) == len(set(text_file.read_text()))
    assert meta["command"].startswith("python -m rnnbook.train --text") and "--steps 5" in meta["command"]
    assert meta["val_loss"] == result["val_loss"]


def test_cli_eval_every_and_dropout(tmp_path, text_file, capsys):
    result = main(["--text", str(text_file), "--steps", "6", "--eval-every", "2", "--dropout", "0.3",
                   "--out", str(tmp_path / "m"), *TINY])
    lines = [line for line in capsys.readouterr().err.splitlines() if "validation loss" in line]  # even with --quiet
    assert [line.split(":")[0] for line in lines] == ["step 2", "step 4", "step 6"]
    assert [s for s, _, _ in result["val_history"]] == [2, 4, 6] and result["best_step"] in (2, 4, 6)
    assert result["val_loss"] == min(v for _, v, _ in result["val_history"])
    model, vocab, meta = load_checkpoint(result["out"])
    assert model.config["dropout"] == 0.3 and meta["best_step"] == result["best_step"]


def test_cli_budget(text_file, capsys):
    result = main(["--text", str(text_file), "--budget", "1", *TINY])
    assert 1.0 <= result["train_seconds"] < 5 and result["steps"] >= 1
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == result["steps"]


def test_cli_same_seed_same_result(text_file):
    a = main(["--text", str(text_file), "--steps", "4", "--seed", "5", *TINY])
    b = main(["--text", str(text_file), "--steps", "4", "--seed", "5", *TINY])
    assert a["val_loss"] == b["val_loss"] and a["train_loss"] == b["train_loss"]


def test_cli_threads_default_leaves_torch_alone(text_file):
    torch.set_num_threads(1)
    main(["--text", str(text_file), "--steps", "1", *TINY])
    assert torch.get_num_threads() == 1
    main(["--text", str(text_file), "--steps", "1", "--threads", "2", *TINY])
    assert torch.get_num_threads() == 2


def test_cli_rejects_bad_input(tmp_path, text_file):
    with pytest.raises(SystemExit):  # argparse: neither --corpus nor --text
        main(["--steps", "1"])
    with pytest.raises(SystemExit):
        main(["--text", str(text_file), "--cell", "transformer"])
    with pytest.raises(ValueError, match="no text file"):
        main(["--text", str(tmp_path / "missing.txt"), "--steps", "1"])
    with pytest.raises(ValueError, match="steps"):
        main(["--text", str(text_file), "--steps", "0", *TINY])
    with pytest.raises(ValueError, match="threads"):
        main(["--text", str(text_file), "--steps", "1", "--threads", "0", *TINY])


def test_corpus_run_reports_the_loss_on_the_test_plays():
    """With --corpus the JSON has test_loss, the model's loss on rnnbook.data.TEST_PLAYS, scored once at the end."""
    from rnnbook.data import CharVocab, shakespeare, shakespeare_test

    torch.manual_seed(0)
    result = main(["--corpus", "shakespeare", "--steps", "2", *TINY])
    assert result["test_loss"] > 0 and abs(result["test_loss"] - result["val_loss"]) < 0.5
    train, val = shakespeare()
    vocab = CharVocab.from_text(train + val + shakespeare_test())
    assert len(vocab) == 75  # the held-out plays bring no character of their own: the shipped vocabulary
