"""The numbers that JupyterLab shows (written into the sources for it) are those of the built HTML book.

In JupyterLab a chapter's figure numbers, other chapters' equation numbers and citations are link texts
("[Fig. 5.3](#fig-x)", "[(2.3)](#label)"), and its own equations are numbered by the front matter of its first
cell; Sphinx reads them as {numref}, {eq} and {cite} and numbers them itself (book/_ext/book_setup.py).
"""

import json
import re

import pytest

from tests.site.test_html import CHAPTERS, PAGES, ROOT, soup


def markdown(page: str) -> str:
    nb, md = (ROOT / page).with_suffix(".ipynb"), (ROOT / page).with_suffix(".md")
    if nb.exists():
        return "\n".join("".join(c["source"]) for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
                         if c["cell_type"] == "markdown")
    return md.read_text(encoding="utf-8")


def html_numbers(page: str) -> dict[str, set[str]]:
    """{target id: texts of the numbered references to it} in the built page."""
    out: dict[str, set[str]] = {}
    for a in soup(page).select("a.reference.internal[href*='#']"):
        out.setdefault(a["href"].split("#")[1], set()).add(a.get_text().strip())
    return out


@pytest.mark.parametrize("page", PAGES)
def test_figure_and_equation_link_texts_match_the_html(page):
    links = re.findall(r"\[((?:Fig\.|Table) [\d.]+|\([\d.]+\))\]\(#([\w:.-]+)\)", markdown(page))
    shown = html_numbers(page)
    for text, label in links:
        target = (label if not text.startswith("(") else f"equation-{label}").lower()  # Sphinx lowercases ids
        assert shown.get(target) == {text}, f"{page}: JupyterLab shows {text!r} for {label}, the HTML {shown.get(target)}"


@pytest.mark.parametrize("page", CHAPTERS)
def test_front_matter_numbers_equations_as_the_html(page):
    text = markdown(page)
    m = re.match(r"---\nnumbering:\n  enumerator: \"(\d+)\.%s\"\n(?:  equation:\n    start: (\d+)\n)?", text)
    assert m, f"{page}: no JupyterLab front matter (run make lab-sources)"
    labels = re.findall(r"^```\{math\}\n:label: ([\w-]+)$", text, re.M)
    start = int(m.group(2) or 1)
    s = soup(page)
    for i, label in enumerate(labels):
        number = s.select_one(f"#equation-{label.lower()} .eqno")
        assert number is not None and number.get_text().strip().rstrip("¶#").strip() == f"({m.group(1)}.{start + i})", (
            page, label, number and number.get_text())
