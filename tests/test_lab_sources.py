"""The chapters are written in the MyST that both JupyterLab (jupyterlab-myst) and Sphinx read.

jupyterlab-myst renders one notebook at a time with no bibliography, so a citation, a figure reference, a
reference to another notebook's equation, and a {ref} or {doc} without its text show a "not found" marker
there. The sources use links with their text instead, which Sphinx reads as the roles (book/_ext/book_setup.py);
tests/site/test_lab_numbers.py checks their numbers against the built book. `make lab-sources`
(tools/lab_convert.py) rewrites the usual roles into that form after a chapter is edited.
"""

import json
import re

import pytest

from tests.test_notebooks_clean import ROOT, toc_files

PAGES = [p for p in ((ROOT / f).with_suffix(s) for f in toc_files() for s in (".ipynb", ".md")) if p.exists()]
NUMBERED = [p for p in PAGES if p.suffix == ".ipynb" and re.match(r"\d", p.name)]


def markdown(path) -> list[str]:
    if path.suffix == ".ipynb":
        return ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                if c["cell_type"] == "markdown"]
    return [path.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_roles_that_jupyterlab_cannot_resolve_are_links_with_their_text(path):
    text = "\n".join(markdown(path))
    own = set(re.findall(r"^:label: ([\w-]+)$", text, re.M))
    if path.name != "references.md":
        assert not re.findall(r"\{cite(:\w+)?\}`", text), f"{path.name}: write a citation as [Elman, 1990](#cite:key)"
    assert not re.findall(r"\{numref\}`", text), f"{path.name}: write a figure reference as [Fig. 5.3](#fig-label)"
    bare = re.findall(r"\{(?:ref|doc)\}`[^`<]*`", text)
    assert bare == [], f"{path.name}: give these their text, {{ref}}`Section title <label>`: {bare}"
    other = [label for label in re.findall(r"\{eq\}`([^`]*)`", text) if label not in own]
    assert other == [], f"{path.name}: write another page's equation as [(2.3)](#label): {other}"


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.name)
def test_chapter_numbers_its_equations_for_jupyterlab(path):
    first = markdown(path)[0]
    assert re.match(r"---\nnumbering:\n  enumerator: \"\d+\.%s\"\n", first), f"{path.name}: no numbering front matter"


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.name)
def test_code_the_book_hides_is_collapsed_in_jupyterlab(path):
    for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        tags = set(cell["metadata"].get("tags", []))
        if cell["cell_type"] == "code" and tags & {"remove-cell", "remove-input", "hide-input"}:
            assert cell["metadata"].get("jupyter", {}).get("source_hidden"), f"{path.name} cell {i}: not collapsed"
