#!/usr/bin/env python3
"""Rewrite the book's MyST so that JupyterLab (jupyterlab-myst 2.7.0) shows it as the HTML book does.

Usage: python3 tools/lab_convert.py .   (or make lab-sources; rewrites REPO/book/*.ipynb and REPO/book/*.md in place; idempotent)

jupyterlab-myst renders one notebook at a time, with no bibliography and no project: a {cite}, and a
{ref}, {numref}, {eq} or {doc} whose target is in another notebook (or is a figure, which lives in a code
cell's metadata) shows a "not found" marker. So:

- {cite}`a,b`          -> [Elman, 1990; Jordan, 1986](#cite:a,b)   (author-year text, from references.bib)
- {ref}`label`         -> {ref}`Section title <label>`             (the text Sphinx shows anyway)
- {doc}`name`          -> {doc}`Page title <name>`
- {numref}`fig-x`      -> [Fig. 5.3](#fig-x), {numref}`tab-x` -> [Table 5.1](#tab-x)
- {eq}`label` of another document -> [(2.3)](#label)          ({eq} within a notebook resolves in Lab)
- code cells the HTML book hides (tags remove-cell, remove-input, hide-input) are collapsed in JupyterLab
  (metadata jupyter.source_hidden; a removed cell's output too), so a chapter reads as it does in the book;
- each numbered chapter's first cell starts with MyST front matter that numbers its equations and tables
  as the HTML book does ("4.%s", starting after the previous sections of the same chapter).

Sphinx turns the links back into {cite}, {numref} and {eq} and drops the front matter when it reads a page
(book/_ext/book_setup.py), so the HTML book is unchanged. Numbers in link texts are recomputed on every run.
Run it again after editing or merging chapters.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROLE = r"\{%s\}`([^`]*)`"


def toc_numbers(repo: Path) -> dict[str, tuple[int, str]]:
    """{doc stem: (chapter number, order key)} for the numbered chapters of _toc.yml, in reading order."""
    out, chapter, numbered = {}, 0, False
    for line in (repo / "_toc.yml").read_text(encoding="utf-8").splitlines():
        if re.match(r"\s*- caption:", line):
            numbered = False
        elif re.match(r"\s*numbered:\s*true", line):
            numbered = True
        m = re.match(r"(\s*)- file:\s*book/(\S+)", line)
        if m and numbered:
            if len(m.group(1)) <= 6:  # a chapter; deeper entries are its sections
                chapter += 1
            out[m.group(2)] = (chapter, len(out))
    return out


def markdown_parts(path: Path) -> list[str]:
    """The Markdown of a page: one string per Markdown cell of a notebook, the whole text of a .md file."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    return [path.read_text(encoding="utf-8")]


def strip_markup(title: str) -> str:
    """A heading as plain text, as Sphinx shows it in a reference."""
    return re.sub(r"[`*$]", "", title).replace("<", "").replace(">", "").strip()


def bib_labels(bib: Path) -> dict[str, str]:
    """{key: 'Elman, 1990'} from a BibTeX file: first author's surname (and the second's, or 'et al.'), year."""
    out = {}
    for key, body in re.findall(r"@\w+\{([^,\s]+),(.*?)\n\}", bib.read_text(encoding="utf-8"), re.S):
        fields = dict((k.lower(), v) for k, v in re.findall(r"(\w+)\s*=\s*[{\"](.*?)[}\"],?\s*$", body, re.M))
        authors = [a.strip() for a in re.sub(r"[{}]", "", fields.get("author", key)).split(" and ")]
        names = [a.split(",")[0].strip() if "," in a else a.split()[-1] for a in authors]
        who = names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al."
        if who.lower() in ("others",):
            who = key
        out[key] = f"{who}, {fields.get('year', 'n.d.')}"
    return out


def collect(repo: Path, pages: list[Path]):
    """Targets of the whole book: section titles, page titles, numbers of figures, tables and equations."""
    numbers = toc_numbers(repo)
    titles, doc_titles, owner, fig_no, eq_no, starts = {}, {}, {}, {}, {}, {}
    counters: dict[tuple[int, str], int] = {}
    for path in sorted(pages, key=lambda p: numbers.get(p.stem, (99, 99))[1]):
        text = "\n".join(markdown_parts(path))
        text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
        m = re.search(r"^# (.+)$", text, re.M)
        if m:
            doc_titles[path.stem] = strip_markup(m.group(1))
        for label, title in re.findall(r"^\(([\w:.-]+)\)=\s*\n#+ (.+)$", text, re.M):
            titles[label] = strip_markup(title)
        chapter = numbers.get(path.stem, (None,))[0]
        starts[path.stem] = {k: counters.get((chapter, k), 0) + 1 for k in ("equation", "table")}
        items = []  # (kind, label) in document order
        if path.suffix == ".ipynb":
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                src = "".join(cell["source"])
                fig = cell["metadata"].get("mystnb", {}).get("figure", {}).get("name")
                if cell["cell_type"] == "code" and fig:
                    items.append(("figure", fig))
                if cell["cell_type"] == "markdown":
                    items += scan_markdown(src)
        else:
            items += scan_markdown(text)
        for kind, label in items:
            owner[label] = path.stem
            if chapter is not None:
                counters[(chapter, kind)] = counters.get((chapter, kind), 0) + 1
                number = f"{chapter}.{counters[(chapter, kind)]}"
                (eq_no if kind == "equation" else fig_no)[label] = (kind, number)
    return numbers, titles, doc_titles, owner, fig_no, eq_no, starts


def scan_markdown(src: str) -> list[tuple[str, str]]:
    """Labelled equations and tables of a Markdown text, in order."""
    items = []
    for m in re.finditer(r"^(`{3,}|:{3,})\{(math|table)\}[^\n]*\n((?::[\w-]+:[^\n]*\n)*)", src, re.M):
        opts = dict(re.findall(r"^:([\w-]+):\s*(.*)$", m.group(3), re.M))
        label = opts.get("label") or opts.get("name")
        if label:
            items.append(("equation" if m.group(2) == "math" else "table", label.strip()))
    for m in re.finditer(r"^\$\$.*?\$\$\s*\(([\w:.-]+)\)\s*$", src, re.M | re.S):
        items.append(("equation", m.group(1)))
    return items


def convert_text(text: str, stem: str, ctx, warnings: list[str]) -> str:
    numbers, titles, doc_titles, owner, fig_no, eq_no, starts, bib = ctx

    def shown(role, keys):
        """The author-year text of a citation: "Elman, 1990", or with role ":t" (textual) "Elman (1990)"."""
        if role == ":t":
            return "; ".join(re.sub(r", (\S+)$", r" (\1)", bib[k]) for k in keys)
        return "; ".join(bib[k] for k in keys)

    def cite(m):
        keys = [k.strip() for k in m.group(2).split(",")]
        missing = [k for k in keys if k not in bib]
        if missing:
            warnings.append(f"{stem}: unknown citation {missing}")
            return m.group(0)
        return f"[{shown(m.group(1), keys)}](#cite{m.group(1) or ''}:{','.join(keys)})"

    text = re.sub(r"\{cite(:t|:p)?\}`([^`]*)`", cite, text)
    # refresh the text of links made by an earlier run (citations may have been edited in references.bib)
    def recite(m):
        keys = m.group(2).split(",")
        if not all(k in bib for k in keys):
            return m.group(0)
        return f"[{shown(m.group(1), keys)}](#cite{m.group(1) or ''}:{m.group(2)})"

    text = re.sub(r"\[[^\]]*\]\(#cite(:t|:p)?:([\w,:.-]+)\)", recite, text)

    def ref(m):
        label = m.group(1).strip()
        if label in titles:
            return f"{{ref}}`{titles[label]} <{label}>`"
        warnings.append(f"{stem}: {{ref}} to {label!r} has no section title; give it a text")
        return m.group(0)

    text = re.sub(r"\{ref\}`([^`<]*)`", ref, text)

    def doc(m):
        name = m.group(1).strip()
        target = Path(name).stem
        if target in doc_titles:
            return f"{{doc}}`{doc_titles[target]} <{name}>`"
        warnings.append(f"{stem}: {{doc}} to unknown page {name!r}")
        return m.group(0)

    text = re.sub(r"\{doc\}`([^`<]*)`", doc, text)

    def numref(label: str, original: str) -> str:
        if label not in fig_no:
            warnings.append(f"{stem}: {{numref}} to unknown figure or table {label!r}")
            return original
        kind, number = fig_no[label]
        return f"[{'Fig.' if kind == 'figure' else 'Table'} {number}](#{label})"

    text = re.sub(r"\{numref\}`([^`<]*)`", lambda m: numref(m.group(1).strip(), m.group(0)), text)
    text = re.sub(r"\[(?:Fig\.|Table) [\d.]+\]\(#([\w:.-]+)\)", lambda m: numref(m.group(1), m.group(0)), text)

    def eq(label: str, original: str) -> str:
        if label not in eq_no:
            warnings.append(f"{stem}: {{eq}} to unknown equation {label!r}")
            return original
        if owner.get(label) == stem:
            return f"{{eq}}`{label}`"
        return f"[({eq_no[label][1]})](#{label})"

    text = re.sub(r"\{eq\}`([^`<]*)`", lambda m: eq(m.group(1).strip(), m.group(0)), text)
    text = re.sub(r"\[\([\d.]+\)\]\(#([\w:.-]+)\)", lambda m: eq(m.group(1), m.group(0)), text)
    return text


def front_matter(stem: str, ctx) -> str:
    """MyST front matter that numbers a chapter's equations and tables as the HTML book does."""
    numbers, starts = ctx[0], ctx[6]
    if stem not in numbers:
        return ""
    lines = ["---", "numbering:", f"  enumerator: \"{numbers[stem][0]}.%s\""]
    for kind in ("equation", "table"):
        if starts[stem][kind] > 1:
            lines += [f"  {kind}:", f"    start: {starts[stem][kind]}"]
    return "\n".join(lines + ["---", ""])


HIDDEN_IN_BOOK = {"remove-cell": ("source_hidden", "outputs_hidden"), "remove-input": ("source_hidden",),
                  "hide-input": ("source_hidden",)}


def collapse(cell: dict) -> None:
    """Collapse in JupyterLab what the HTML book hides (and nothing else: the script owns these two keys)."""
    hidden = {k for tag in cell["metadata"].get("tags", []) for k in HIDDEN_IN_BOOK.get(tag, ())}
    jupyter = {k: v for k, v in cell["metadata"].get("jupyter", {}).items() if k not in ("source_hidden", "outputs_hidden")}
    jupyter.update({k: True for k in sorted(hidden)})
    if jupyter:
        cell["metadata"]["jupyter"] = jupyter
    else:
        cell["metadata"].pop("jupyter", None)


def to_lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    return lines


def main(repo: Path) -> int:
    book = repo / "book"
    pages = sorted(book.glob("*.ipynb")) + sorted(book.glob("*.md"))
    ctx = collect(repo, pages) + (bib_labels(book / "references.bib"),)
    warnings: list[str] = []
    for path in pages:
        if path.suffix == ".ipynb":
            raw = path.read_text(encoding="utf-8")
            nb = json.loads(raw)
            first = True
            for cell in nb["cells"]:
                if cell["cell_type"] == "code":
                    collapse(cell)
                if cell["cell_type"] != "markdown":
                    continue
                src = "".join(cell["source"])
                new = convert_text(src, path.stem, ctx, warnings)
                if first:
                    new = front_matter(path.stem, ctx) + re.sub(r"\A---\n.*?\n---\n", "", new, flags=re.S)
                    first = False
                if new != src:
                    cell["source"] = to_lines(new)
            out = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
            if out != raw:
                path.write_text(out, encoding="utf-8")
                print("rewrote", path.relative_to(repo))
        elif path.name != "references.md":
            raw = path.read_text(encoding="utf-8")
            new = convert_text(raw, path.stem, ctx, warnings)
            if new != raw:
                path.write_text(new, encoding="utf-8")
                print("rewrote", path.relative_to(repo))
    for w in warnings:
        print("warning:", w, file=sys.stderr)
    return 1 if warnings else 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or not (Path(sys.argv[1]) / "book").is_dir():
        print("error: usage: lab_convert.py REPO (a checkout with book/)", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1]).resolve()))
