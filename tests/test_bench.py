"""`python -m rnnbook.bench` runs both recipes end to end (not a timed test: the budget is tiny)."""

import importlib.util
import json
import os

import pytest

from rnnbook import bench
from rnnbook.data import CharVocab

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 40


def test_bench_runs_both_recipes_end_to_end(tmp_path, capsys):
    text = tmp_path / "tiny.txt"
    text.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 40)
    summary = bench.main(["--text", str(text), "--budget", "1", "--threads", "1"])
    out = capsys.readouterr().out.strip().splitlines()
    record = json.loads(out[-1])
    assert record["budget"] == 1.0 and record["command"] == f"python -m rnnbook.bench --text {text} --budget 1 --threads 1"
    assert "1 torch threads" in record["machine"] and "torch 2." in record["machine"]
    flags = set(open("/proc/cpuinfo").read().split()) if os.path.exists("/proc/cpuinfo") else set()
    units = "(bfloat16 units)" if {"avx512_bf16", "amx_bf16"} & flags else "(no bfloat16 units)"
    assert f" {units}, " in record["machine"]  # with or without: it decides the speed of the book's recipe
    assert isinstance(record["book"]["bf16"], bool) and "bf16" not in record["naive"]
    assert any(line.startswith("| naive |") for line in out) and any(line.startswith("| book |") for line in out)
    for name in ("naive", "book"):
        r = summary[name]
        assert r["steps"] >= 1 and r["val_loss"] > 0 and abs(r["val_bpc"] - r["val_loss"] / 0.6931471805599453) < 1e-3


def test_bench_rejects_unknown_recipes(tmp_path):
    with pytest.raises(ValueError, match="--recipes must name naive and/or book, got 'fancy'"):
        bench.main(["--text", str(tmp_path / "x.txt"), "--recipes", "fancy"])


def test_the_tweaks_script_of_chapter_4_runs_a_row(tmp_path, root, monkeypatch):
    """book/results/ch5_tweaks.py (which wrote ch5_tweaks.jsonl) still runs: one row, two updates."""
    spec = importlib.util.spec_from_file_location("ch5_tweaks", root / "book" / "results" / "ch5_tweaks.py")
    tweaks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tweaks)
    text = tmp_path / "tiny.txt"
    text.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 40)
    monkeypatch.setattr(tweaks, "BASE", "--steps 2 --threads 1 --quiet --hidden 16 --embed 8")
    averaged = tweaks.run(str(text), "--beta1 0.7 --ema 0.99", 0, 1)
    assert averaged["options"] == "--beta1 0.7 --ema 0.99 (update-gate bias +1 at initialisation)"
    assert averaged["steps"] == 2 and averaged["val_loss"] != averaged["last_weights_val_loss"]
    plain = tweaks.run(str(text), "--ema 0", 0, 0)
    assert plain["options"] == "--ema 0" and plain["val_loss"] == plain["last_weights_val_loss"]


def test_the_ladder_goes_from_the_naive_recipe_to_the_train_defaults_one_factor_at_a_time():
    from rnnbook.train import config_from_args, parse_args
    recipes = bench.ladder()
    assert recipes[0] == ("naive recipe", bench.NAIVE) and recipes[-1][1] == bench.BOOK
    args = parse_args(["--corpus", "shakespeare", "--steps", "1"])  # the defaults of python -m rnnbook.train
    defaults = vars(config_from_args(args))
    assert {k: v for k, v in bench.BOOK.items() if k not in bench.MODEL_KEYS} == {
        k: defaults[k] for k in bench.BOOK if k not in bench.MODEL_KEYS}
    assert [bench.BOOK[k] for k in bench.MODEL_KEYS] == [args.cell, args.layers, args.hidden, args.embed]
    assert args.dropout == 0 and set(defaults) - set(bench.BOOK) == {"steps", "budget", "eval_every", "seed"}
    for (_, before), (name, after) in zip(recipes, recipes[1:]):  # each step changes only what it names
        changed = {k for k in after if after[k] != before[k]}
        assert changed and changed <= set(dict(bench.LADDER)[name]), name


def test_the_ablation_script_of_chapter_4_runs_a_row(tmp_path, root, monkeypatch):
    """book/results/ch5_ablation.py (which wrote ch5_ablation.jsonl and ch5_cell_seeds.jsonl) runs a row, tiny."""
    spec = importlib.util.spec_from_file_location("ch5_ablation", root / "book" / "results" / "ch5_ablation.py")
    ablation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ablation)
    rows = ablation.rows("ablation", [0, 1])
    assert [r["name"] for r in rows[:len(bench.LADDER)]] == [name for name, _ in bench.LADDER]
    assert [r["seed"] for r in rows] == [0] * len(bench.LADDER) + [1] * len(bench.LADDER)
    cells = ablation.rows("cells", [0])
    assert [(r["recipe"]["cell"], r["chars_factor"]) for r in cells] == [("rnn", 1), ("lstm", 1), ("rnn", ablation.RNN_SPEEDUP)]
    assert all(r["recipe"] == dict(bench.BOOK, cell=r["recipe"]["cell"]) for r in cells)
    vocab = CharVocab.from_text(TEXT)
    data = (vocab.encode(TEXT[:800]), vocab.encode(TEXT[800:]), len(vocab))
    for row in (rows[0], rows[-1]):  # the naive recipe and the book's, tiny
        row["recipe"] = dict(row["recipe"], hidden=16, embed=8, seq_len=20, batch_size=4, warmup=2)
        record = ablation.train_row(row, data, chars=200)
        assert record["steps"] == 3 and record["chars"] == 240 and len(record["curve"]) == 3
        assert ablation.train_row(dict(row, chars_factor=2.0), data, chars=200)["steps"] == 5  # 400 characters
        assert record["val_loss"] > 0 and record["val_loss_windows"] > 0 and record["val_loss"] != record["val_loss_windows"]
        json.dumps(record)
    timed = ablation.time_row(rows[-1], data, steps=4, skip=2)
    assert timed["chars_per_second"] > 0 and "torch threads" in timed["machine"]


def test_the_last_rung_is_the_command_line_with_its_defaults(tmp_path):
    """run_recipe(BOOK) and python -m rnnbook.train (tiny, same seed and updates) train the same model."""
    from rnnbook.data import load_text
    from rnnbook.train import main as train_main
    text = tmp_path / "tiny.txt"
    text.write_text(TEXT)
    cli = train_main(["--text", str(text), "--steps", "3", "--seed", "4", "--hidden", "16", "--embed", "8",
                      "--batch-size", "4", "--seq-len", "8", "--threads", "1", "--quiet"])
    train_text, val_text = load_text(text)
    vocab = CharVocab.from_text(train_text + val_text)
    recipe = dict(bench.BOOK, hidden=16, embed=8, batch_size=4, seq_len=8)
    ours = bench.run_recipe(recipe, vocab.encode(train_text), vocab.encode(val_text), len(vocab), seed=4, steps=3)
    assert ours["val_loss"] == cli["val_loss"] and ours["train_loss"] == cli["train_loss"]
