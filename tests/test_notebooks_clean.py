"""Notebooks are committed clean: the build and nbval execute them."""

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").rglob("*.ipynb"))


def toc_files() -> list[str]:
    """Every file named in _toc.yml (root, chapters and their sections), without extension."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part["chapters"]:
            files += [chapter["file"]] + [s["file"] for s in chapter.get("sections", [])]
    return files


def test_the_notebooks_are_the_chapters_and_the_training_notes():
    assert [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS] == [
        "book/01_structure.ipynb", "book/02_unrolling.ipynb", "book/03_bptt.ipynb", "book/04_gated_cells.ipynb",
        "book/05_text_generation.ipynb",
        "book/06a_scoring_classifying.ipynb", "book/06b_labelling_forecasting.ipynb",
        "book/06c_ctc_transcription.ipynb", "book/07_seq2seq.ipynb", "book/08_outlook.ipynb", "book/training_notes.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: strip them before committing"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_toc(path):
    assert str(path.relative_to(ROOT).with_suffix("")) in toc_files(), f"{path.name} is not listed in _toc.yml"


def test_every_toc_entry_exists():
    for f in toc_files():
        assert any((ROOT / f).with_suffix(s).exists() for s in (".md", ".ipynb")), f"_toc.yml names {f}, which does not exist"
