"""No path of any machine in the built pages or the README: what a reader sees must not name our directories."""

import re
from pathlib import Path

from bs4 import BeautifulSoup

from tests.test_notebooks_clean import ROOT

HTML = ROOT / "_build" / "html"

# A web address ("https://example.org/home/") is removed first, and a file:// URL reduced to its path; what is
# left is a machine's path if it starts after a space, a quote, "(", "=" or a line break, with a directory that
# only machines have: the tops of home and scratch directories on Linux and macOS, a Windows drive's user folders.
URL = re.compile(r"\b(?!file:)[a-z][a-z0-9+.-]*://[^\s\"'<>]*", re.IGNORECASE)
FILE_URL = re.compile(r"\bfile://(?=/)", re.IGNORECASE)
MACHINE_PATH = re.compile(
    r"(?<![\w.~/-])/(?:work|root|home|tmp|Users|mnt|scratch|private/var|var/folders)(?:/[^\s\"'<>)]*|\b)"
    r"|\b[A-Za-z]:\\(?:Users|Documents and Settings)\\[^\s\"'<>]*")


def machine_paths(text: str) -> list[str]:
    """The absolute paths of a machine in text, URLs aside."""
    return [m.group() for m in MACHINE_PATH.finditer(FILE_URL.sub(" ", URL.sub(" ", text)))]


def page_text(html: str) -> str:
    """What a reader can see or follow on a page: its text (prose, code, cell outputs) and its links' targets."""
    s = BeautifulSoup(html, "html.parser")
    for el in s(["script", "style"]):
        el.decompose()
    links = [el.get(attr, "") for attr in ("href", "src") for el in s.find_all(attrs={attr: True})]
    return s.get_text(" ") + "\n" + "\n".join(links)


def test_the_checks_find_a_printed_training_command_and_spare_urls():
    printed = ('<div class="cell_output docutils container"><pre>python -m rnnbook.train --corpus shakespeare '
               '--budget 900 --out /work/sweep4/final/shakespeare</pre></div>')
    assert machine_paths(page_text(printed)) == ["/work/sweep4/final/shakespeare"]
    assert machine_paths(page_text('<a href="file:///home/ada/book/index.html">the book</a>')) == [
        "/home/ada/book/index.html"]
    for bad in ("see /root/.cache/torch", "(/home/ada/rnnbook)", "'/tmp/x.json'", "/Users/ada/book", r"C:\Users\ada\x",
                "--text=/mnt/data/input.txt", "cd /work"):
        assert machine_paths(bad), bad
    for fine in ("https://example.org/home/index.html", "http://localhost:8888/tree/work/", "https://a.org//tmp/x",
                 "char-rnn's data/tinyshakespeare/input.txt", "runs/my.json", "../shared/x", "and/or", "/usr/bin/chromium",
                 "github.com/karpathy/char-rnn/tree/master/data/tinyshakespeare", "km/h", "/worker", "~/home/x"):
        assert not machine_paths(fine), fine


def test_no_machine_paths_in_the_built_pages():
    pages = sorted(HTML.rglob("*.html"))
    assert (HTML / "index.html") in pages, "no _build/html/index.html: run `make book` first"
    found = {str(p.relative_to(HTML)): paths for p in pages if (paths := machine_paths(page_text(p.read_text("utf-8"))))}
    assert not found, f"paths of a machine in the built pages: {found}"


def test_no_machine_paths_in_the_readme():
    assert not machine_paths((ROOT / "README.md").read_text("utf-8"))
