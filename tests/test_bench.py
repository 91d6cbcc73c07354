"""`python -m rnnbook.bench` runs both recipes end to end (not a timed test: the budget is tiny)."""

import importlib.util
import json
import os

import pytest

from rnnbook import bench


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
    with pytest.raises(SystemExit):
        bench.main(["--text", str(tmp_path / "x.txt"), "--recipes", "fancy"])


def test_the_tweaks_script_of_chapter_4_runs_a_row(tmp_path, root, monkeypatch):
    """book/results/ch4_tweaks.py (which wrote ch4_tweaks.jsonl) still runs: one row, two updates."""
    spec = importlib.util.spec_from_file_location("ch4_tweaks", root / "book" / "results" / "ch4_tweaks.py")
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
