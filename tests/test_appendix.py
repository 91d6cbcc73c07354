"""Tests of the appendix pages: the glossary's rows and links, the FAQ's claims, the versions in the resources."""

import json
import re
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.test_notebooks_clean import toc_files

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(BOOK / "_ext"))
from book_setup import lab_links_to_roles  # noqa: E402  the roles Sphinx reads for the links written for JupyterLab

ROLE = re.compile(r"\{(ref|numref|doc|eq)\}`(?:[^`<]*<)?([^`>]+)>?`")


def book_sources() -> dict[Path, str]:
    """The text of every page the book builds (those in _toc.yml): markdown files, and the cells of the notebooks."""
    texts = {}
    for page in toc_files():
        md, nb = (ROOT / page).with_suffix(".md"), (ROOT / page).with_suffix(".ipynb")
        if md.exists():
            texts[md] = lab_links_to_roles(md.read_text(encoding="utf-8"))
        elif nb.exists():
            cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
            texts[nb] = "\n".join(lab_links_to_roles("".join(c["source"])) + "\n" + json.dumps(c.get("metadata", {}))
                                   for c in cells)
    return texts


def defined_targets() -> dict[str, set[str]]:
    """Labels of sections, figures and equations defined on the pages the book builds, and those pages."""
    labels, figures, equations = set(), set(), set()
    sources = book_sources()
    for text in sources.values():
        labels |= set(re.findall(r"^\(([\w-]+)\)=", text, flags=re.M))
        figures |= set(re.findall(r'"name": "([\w-]+)"', text)) | set(re.findall(r"^:name: ([\w-]+)", text, flags=re.M))
        equations |= set(re.findall(r"^:label: ([\w-]+)", text, flags=re.M))
    docs = {str(p.relative_to(BOOK).with_suffix("")) for p in sources}
    return {"ref": labels, "numref": figures | labels, "eq": equations, "doc": docs}


def glossary_rows() -> list[list[str]]:
    """The body rows of the glossary table, as lists of cells."""
    lines = [l for l in (BOOK / "glossary.md").read_text(encoding="utf-8").splitlines() if l.startswith("|")]
    assert lines[0].startswith("| English | 中文 |"), lines[0]
    return [[c.strip() for c in l.strip().strip("|").split(" | ")] for l in lines[2:]]


def test_glossary_has_at_least_20_terms_each_with_chinese_definition_and_link():
    rows = glossary_rows()
    assert len(rows) >= 20, len(rows)
    for english, chinese, definition, link in rows:
        assert re.search(r"[\u4e00-\u9fff]", chinese), f"{english}: no Chinese term"
        assert len(definition.split()) >= 5, f"{english}: definition too short"
        assert ROLE.search(link), f"{english}: no link to a section"
    english = [r[0].lower() for r in rows]
    assert len(set(english)) == len(english), "a term is listed twice"


def test_glossary_has_the_core_terms():
    chinese = " ".join(r[1] for r in glossary_rows())
    for term in ["循环神经网络", "隐藏状态", "基于时间的反向传播", "梯度消失", "梯度爆炸", "长短期记忆网络", "门控循环单元", "困惑度"]:
        assert term in chinese, term


@pytest.mark.parametrize("page", ["glossary.md", "faq.md", "resources.md"])
def test_appendix_links_point_at_targets_that_exist(page):
    targets = defined_targets()
    text = lab_links_to_roles((BOOK / page).read_text(encoding="utf-8"))
    links = ROLE.findall(text)
    assert links, f"{page} links nowhere"
    for role, target in links:
        assert target in targets[role], f"{page}: {{{role}}}`{target}` points at nothing in the book"


def test_faq_parameter_counts_of_rnn_gru_lstm():
    # faq.md: nn.RNN, nn.GRU, nn.LSTM have H(D+H+2), 3H(D+H+2), 4H(D+H+2) parameters
    D, H = 7, 5
    text = (BOOK / "faq.md").read_text(encoding="utf-8")
    assert "$H(D + H + 2)$, $3H(D + H + 2)$ and $4H(D + H + 2)$" in text
    for cls, blocks in ((nn.RNN, 1), (nn.GRU, 3), (nn.LSTM, 4)):
        assert sum(p.numel() for p in cls(D, H).parameters()) == blocks * H * (D + H + 2)


def test_resources_versions_match_requirements():
    pinned = dict(re.findall(r"^([\w.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), flags=re.M))
    named = re.findall(r"`([\w.-]+)==([^`]+)`", (BOOK / "resources.md").read_text(encoding="utf-8"))
    assert len(named) >= 8
    for name, version in named:
        assert pinned.get(name) == version, f"resources.md says {name}=={version}, requirements.txt pins {pinned.get(name)}"


def test_resources_cites_only_keys_in_the_bibliography():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (BOOK / "references.bib").read_text(encoding="utf-8"), flags=re.M))
    for page in ("faq.md", "resources.md"):
        for group in re.findall(r"\{cite\}`([^`]+)`", lab_links_to_roles((BOOK / page).read_text(encoding="utf-8"))):
            for key in group.split(","):
                assert key.strip() in keys, f"{page} cites {key}, which is not in references.bib"
