"""Recorded runs: the JSON lines under book/results/ that the chapters and the training notes read."""

from __future__ import annotations

import json
from pathlib import Path


def read_results(name: str, folder: str | Path = "results") -> list[dict]:
    """The runs recorded in FOLDER/NAME.jsonl, one JSON object per line (blank lines skipped)."""
    path = Path(folder) / f"{name}.jsonl"
    if not path.is_file():
        raise ValueError(f"no recorded runs at {path}: expected a file of JSON lines")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
