"""Tests of rnnbook.results: reading the recorded runs."""

import json
from pathlib import Path

import pytest

from rnnbook.results import read_results

RESULTS = Path(__file__).resolve().parents[1] / "book" / "results"


def test_reads_json_lines_and_skips_blank_ones(tmp_path):
    (tmp_path / "runs.jsonl").write_text(json.dumps({"a": 1}) + "\n\n" + json.dumps({"a": 2}) + "\n")
    assert read_results("runs", tmp_path) == [{"a": 1}, {"a": 2}]


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no recorded runs"):
        read_results("absent", tmp_path)


def test_every_recorded_file_of_the_book_parses():
    for path in RESULTS.glob("*.jsonl"):
        runs = read_results(path.stem, RESULTS)
        assert runs and all(isinstance(r, dict) for r in runs), path.name
