"""Checks of the built HTML book (`make book` first)."""

from pathlib import Path
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup

from tests.test_notebooks_clean import ROOT, toc_files

HTML = ROOT / "_build" / "html"
PAGES = toc_files()
CHAPTERS = [f for f in PAGES if (ROOT / f).with_suffix(".ipynb").exists() and Path(f).name[0].isdigit()]  # numbered


def soup(page: str) -> BeautifulSoup:
    path = HTML / f"{page}.html"
    assert path.exists(), f"{path} was not built: run `make book` first"
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_index_exists():
    assert (HTML / "index.html").exists(), "no _build/html/index.html: run `make book` first"


@pytest.mark.parametrize("page", PAGES)
def test_page_built_without_errors(page):
    s = soup(page)
    text = s.get_text()
    assert "Traceback (most recent call last)" not in text
    assert not s.select(".output.error, .output.traceback, .cell_output .traceback"), f"{page} shows a cell error"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_has_a_figure_served_from_build(page):
    s = soup(page)
    local = [img["src"] for img in s.find_all("img") if not urlparse(img["src"]).scheme]
    served = [src for src in local if ((HTML / page).parent / src).resolve().is_file()]
    assert served, f"{page} has no figure served from _build/html"


@pytest.mark.parametrize("page", PAGES)
def test_nothing_is_hotlinked(page):
    s = soup(page)
    for tag, attr in (("img", "src"), ("script", "src")):
        for el in s.find_all(tag):
            src = el.get(attr) or ""
            assert urlparse(src).scheme not in ("http", "https"), f"{page}: <{tag}> loads {src} from the web"


@pytest.mark.parametrize("page", CHAPTERS)
def test_equations_are_typeset_by_local_mathjax(page):
    s = soup(page)
    scripts = [el.get("src", "") for el in s.find_all("script")]
    assert any("mathjax/tex-mml-chtml.js" in src and not urlparse(src).scheme for src in scripts)  # MathJax 3, served by the book
    assert s.select(".math"), f"{page} has no equations"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_has_download_button_and_exercises(page):
    s = soup(page)
    assert s.find(href=lambda h: h and h.endswith(".ipynb")), f"{page} offers no notebook download"
    assert "Exercises" in s.get_text() and "Summary" in s.get_text(), f"{page} lacks exercises or a summary"


@pytest.mark.parametrize("page", CHAPTERS)
def test_figures_are_numbered_within_their_chapter(page):
    chapter = Path(page).name[:2].lstrip("0")  # book/05_text_generation -> "4", book/05b_... -> "5"
    numbers = [el.get_text(strip=True) for el in soup(page).select(".caption-number")]  # "Fig. 5.3", "Table 6.1"
    assert any(n.startswith("Fig.") for n in numbers), f"{page} has no numbered figure"
    assert all(n.split()[1].startswith(f"{chapter}.") for n in numbers), f"{page}: {numbers} are not numbered in chapter {chapter}"


def test_playground_and_appendix_are_not_numbered():
    for page in ("book/playground", "book/training_notes", "book/faq", "book/glossary", "book/references"):
        assert not soup(page).select("h1 .section-number"), f"{page} has a chapter number"


@pytest.mark.parametrize("page", PAGES)
def test_footer_states_the_licences(page):
    """Text CC BY-SA 4.0 and code MIT-0, as LICENSE-text and LICENSE say."""
    footer = soup(page).select_one(".extra_footer")
    assert footer is not None, f"{page} has no licence in its footer"
    links = {a.get_text(strip=True): a["href"] for a in footer.find_all("a")}
    assert links == {"CC BY-SA 4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
                     "MIT-0": "https://opensource.org/license/mit-0"}
    assert "text" in footer.get_text() and "code" in footer.get_text()



def test_mathjax_is_served_whole():
    """Every MathJax 3 component is in the site, also those its menu loads on demand (speech, explorer)."""
    import mathjax

    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    missing = [p.relative_to(es5).as_posix() for p in es5.rglob("*")
               if p.is_file() and not (HTML / "_static" / "mathjax" / p.relative_to(es5)).is_file()]
    assert (es5 / "tex-mml-chtml.js").is_file() and missing == []
