"""The chapters in JupyterLab with jupyterlab-myst, as a reader opens them (`make lab`), driven in Debian's Chromium.

JupyterLab runs from this environment on 127.0.0.1 (a free port, a random token) on a temporary copy of book/,
with its own settings, workspace and runtime folders, so nothing it writes (checkpoints, outputs) reaches the
repository. The server is stopped when the tests end, also when one fails.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from rnnbook.pretrained import load_pretrained
from rnnbook.sampling import generate

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "_build" / "test-artifacts"
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in view
# Raw MyST that must not reach the reader: roles, directive fences and options, target labels.
RAW_MYST = re.compile(r"\{(cite|ref|numref|eq|doc|glue|math|admonition|dropdown|literalinclude|bibliography)[^}]*\}"
                      r"|^\(\w[\w:-]*\)=$|^:{3,}|^`{3,}|^:(class|label|name|pyobject):", re.M)
SETTINGS = {
    # every cell in the page (not only those scrolled into view), so the whole chapter can be checked
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no news or update prompt (and no request for them)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab():
    """A JupyterLab server on a temporary copy of book/; yields (base URL, token). Stopped at teardown."""
    tmp = Path(tempfile.mkdtemp(prefix="rnnbook-lab-"))
    shutil.copytree(ROOT / "book", tmp / "book", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_build"))
    for name, value in SETTINGS.items():
        (tmp / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "settings" / name).write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               IPYTHONDIR=str(tmp / "ipython"), MPLCONFIGDIR=str(tmp / "matplotlib"))
    cmd = [str(Path(sys.executable).with_name("jupyter-lab")), "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={tmp}", "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    log = open(tmp / "server.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{(tmp / 'server.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in 60 s:\n{(tmp / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def open_notebook(browser, lab, name, width=1280, height=900):
    """Open book/<name> in JupyterLab; return the page and the list of uncaught page errors."""
    url, token = lab
    page = browser.new_page(viewport={"width": width, "height": height})
    uncaught = []
    page.on("pageerror", lambda e: uncaught.append(str(e)))
    page.goto(f"{url}/lab/tree/book/{name}?reset&token={token}")  # reset: no tab of an earlier test
    page.wait_for_selector(f"{NB} .jp-MarkdownCell .myst", timeout=90_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.context.isReady", timeout=60_000)
    # every Markdown cell rendered by MyST (the last ones are rendered a moment after the first)
    page.wait_for_function("nb => [...document.querySelectorAll(nb + ' .jp-MarkdownCell')].every(c => c.querySelector('.myst'))",
                           arg=NB, timeout=60_000)
    page.wait_for_timeout(1000)
    return page, uncaught


def markdown_text(page) -> str:
    return "\n".join(page.locator(f"{NB} .jp-MarkdownCell .myst").all_inner_texts())


def source(name) -> dict:
    return json.loads((ROOT / "book" / name).read_text(encoding="utf-8"))


def screenshot(page, name, **kw):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), **kw)


def test_chapter_1_reads_as_in_the_book(browser, lab):
    page, uncaught = open_notebook(browser, lab, "01_structure.ipynb")
    try:
        text = markdown_text(page)
        assert "The structure of an RNN" in text and "Exercises" in text and "Summary" in text
        raw = RAW_MYST.findall(text) + re.findall(r"^---$|numbering:", text, re.M)
        assert raw == [], f"raw MyST shown: {raw[:10]}"
        # unresolved citations and references: jupyterlab-myst marks them "Citation Not Found" and so on
        markers = page.locator(f"{NB} .jp-MarkdownCell .myst [title*='Not Found' i]").all_inner_texts()
        assert markers == [] and "not found" not in text.lower(), f"not found: {markers}"
        # equations are numbered as in the HTML book (1.1, 1.2, ...) and references to them resolve
        assert "(1.2)" in text and "(1.3)" in text
        # the code the HTML book hides (tests, figure code) is collapsed, one click away
        tags = [set(c["metadata"].get("tags", [])) for c in source("01_structure.ipynb")["cells"] if c["cell_type"] == "code"]
        hidden = sum(bool(t & {"remove-cell", "remove-input", "hide-input"}) for t in tags)
        assert hidden >= 3 and page.locator(f"{NB} .jp-CodeCell .jp-InputPlaceholder").count() == hidden
        # one closed dropdown per solution; their text is not shown until clicked
        dropdowns = page.locator(f"{NB} .jp-MarkdownCell .myst details")
        n = sum("".join(c["source"]).count(":class: dropdown") for c in source("01_structure.ipynb")["cells"])
        assert n >= 3 and dropdowns.count() == n
        assert all(not d.evaluate("d => d.open") for d in dropdowns.all())
        first = dropdowns.first
        first.scroll_into_view_if_needed()
        hidden = first.locator(":scope > :not(summary)").first
        assert not hidden.is_visible()
        screenshot(page, "lab-ch1-exercises.png")
        first.locator("summary").click()
        assert first.evaluate("d => d.open") and hidden.is_visible()
        page.locator(f"{NB} .jp-MarkdownCell .myst").first.scroll_into_view_if_needed()
        screenshot(page, "lab-ch1.png")
        assert uncaught == []
    finally:
        page.close()


NOTEBOOK_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const out = {kernel: panel.sessionContext.session && panel.sessionContext.session.kernel
               && panel.sessionContext.session.kernel.status, code: 0, run: 0, errors: []};
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    out.code += 1;
    if (cell.executionCount) out.run += 1;
    const outputs = cell.outputs.toJSON();
    for (const o of outputs) if (o.output_type === 'error') out.errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
  }
  return out;
}"""


def test_chapter_4_runs_and_its_sampler_generates_what_python_does(browser, lab):
    page, uncaught = open_notebook(browser, lab, "05_text_generation.ipynb", width=1280, height=1000)
    try:
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                               timeout=120_000)
        t0 = time.perf_counter()
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        state = {}
        while time.perf_counter() - t0 < 300:
            state = page.evaluate(NOTEBOOK_STATE)
            if state["errors"] or (state["run"] == state["code"] and state["kernel"] == "idle"):
                break
            page.wait_for_timeout(1000)
        print(f"chapter 5 ran in JupyterLab in {time.perf_counter() - t0:.0f} s")
        assert state["errors"] == [], state["errors"]
        assert state["run"] == state["code"], f"{state['run']} of {state['code']} code cells ran"
        assert page.locator(f"{NB} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                            " :text('Traceback')").count() == 0

        panel = page.locator(f"{NB} .widget-vbox").filter(has=page.get_by_role("button", name="Generate")).first  # the outer box
        panel.scroll_into_view_if_needed()
        screenshot(page, "lab-ch4-sampler-before.png")
        # the labels are whole ("temperature" used to be cut to "temperat...") and the panel fits the notebook
        for label in panel.locator(".widget-label").filter(has_text=re.compile("temperature|top-k|top-p|length|seed")).all():
            assert label.evaluate("e => e.scrollWidth <= e.clientWidth"), f"label cut: {label.inner_text()}"
        notebook_width = page.locator(f"{NB} .jp-Notebook").bounding_box()["width"]
        box = panel.bounding_box()
        overflow = panel.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert box["width"] <= notebook_width and overflow[0] <= overflow[1] + 1, (box, notebook_width, overflow)

        seed = panel.locator(".widget-inline-hbox").filter(has_text="seed").locator("input")
        seed.fill("7")
        seed.press("Enter")
        output = panel.locator("textarea").last
        before = output.input_value()
        panel.get_by_role("button", name="Generate").click()
        page.wait_for_function("([el, before]) => el.value && el.value !== before",
                               arg=[output.element_handle(), before], timeout=60_000)
        page.wait_for_timeout(500)
        shown = output.input_value()

        def readout(name):
            row = panel.locator(".widget-inline-hbox").filter(has_text=name).first
            return row.locator(".widget-readout").inner_text().strip()

        prompt = panel.locator("textarea").first.input_value()
        temperature, top_k, top_p = float(readout("temperature")), int(readout("top-k")), float(readout("top-p"))
        length = int(readout("length"))
        model, vocab = load_pretrained()
        expected = generate(model, vocab, prompt, length, seed=7, unknown="skip", temperature=temperature,
                            top_k=top_k or None, top_p=top_p if top_p < 1 else None)
        screenshot(page, "lab-ch4-sampler.png")
        assert shown == expected, (prompt, temperature, top_k, top_p, length)
        assert len(shown) == len(prompt) + length
        assert uncaught == []
    finally:
        page.close()
