"""`python -m rnnbook.bench` runs both recipes end to end (not a timed test: the budget is tiny)."""

import json

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
    assert any(line.startswith("| naive |") for line in out) and any(line.startswith("| book |") for line in out)
    for name in ("naive", "book"):
        r = summary[name]
        assert r["steps"] >= 1 and r["val_loss"] > 0 and abs(r["val_bpc"] - r["val_loss"] / 0.6931471805599453) < 1e-3


def test_bench_rejects_unknown_recipes(tmp_path):
    with pytest.raises(SystemExit):
        bench.main(["--text", str(tmp_path / "x.txt"), "--recipes", "fancy"])
