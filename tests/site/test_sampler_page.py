"""The JavaScript sampler in the built book, in a real browser, against the site served on 127.0.0.1."""

import time
from pathlib import Path

import pytest
import torch

from rnnbook.sampling import generate
from tests.site.test_html import HTML

ARTIFACTS = HTML.parent / "test-artifacts"
PAGES = ["book/playground.html", "book/05_text_generation.html"]


def open_sampler(browser, url):
    """Open a page; return it with its sampler panel, and the lists of console errors and uncaught exceptions."""
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    console, uncaught = [], []
    page.on("console", lambda m: m.type == "error" and console.append(f"{m.text} ({m.location['url']})"))
    page.on("pageerror", lambda e: uncaught.append(str(e)))
    page.goto(url)
    panel = page.locator("[id*=sampler]").filter(has=page.locator("textarea[name=prompt]")).first
    panel.wait_for()
    return page, panel, console, uncaught


def run(panel, prompt, timeout_ms=60_000, **settings):
    """Fill the panel, click Generate, wait for the text to finish; return it and the seconds it took.

    The seconds are the page's own, from the click to the finished text on screen (`data-seconds`): what a reader
    waits, without the test driver's round trips."""
    panel.locator("textarea[name=prompt]").fill(prompt)
    for name, value in settings.items():
        panel.locator(f"input[name={name}]").fill(str(value))
    out = panel.locator("[id*=output]")
    t0 = time.perf_counter()
    panel.get_by_role("button", name="Generate").click()
    panel.page.wait_for_function("el => el.dataset.state === 'done'", arg=out.element_handle(), timeout=timeout_ms)
    seconds = float(out.get_attribute("data-seconds"))
    assert 0 < seconds <= time.perf_counter() - t0
    return out.inner_text(), seconds


@pytest.mark.parametrize("path", PAGES)
def test_greedy_text_matches_python(site, browser, pretrained, path):
    model, vocab = pretrained
    page, panel, console, uncaught = open_sampler(browser, f"{site}/{path}")
    for prompt in ("ROMEO:\n", "To be, or not to be", "KING HENRY:\nWhat"):
        text, seconds = run(panel, prompt, temperature=0, top_k="", top_p="", length=200, seed=1)
        assert text == generate(model, vocab, prompt, length=200, temperature=0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"sampler-{Path(path).stem}.png"), full_page=False)
    assert uncaught == [] and console == []  # every page's console: test_console.py


def test_seeded_sampling_is_deterministic(site, browser):
    _, panel, _, uncaught = open_sampler(browser, f"{site}/{PAGES[0]}")
    a, _ = run(panel, "JULIET:\n", temperature=0.8, top_k=20, top_p=0.95, length=150, seed=7)
    b, _ = run(panel, "JULIET:\n", temperature=0.8, top_k=20, top_p=0.95, length=150, seed=7)
    c, _ = run(panel, "JULIET:\n", temperature=0.8, top_k=20, top_p=0.95, length=150, seed=8)
    assert a == b != c and len(a) == len("JULIET:\n") + 150
    assert uncaught == []


def test_unknown_characters_are_reported_and_skipped(site, browser, pretrained):
    model, vocab = pretrained
    _, panel, _, uncaught = open_sampler(browser, f"{site}/{PAGES[0]}")
    text, _ = run(panel, "ROMEO€:\n", temperature=0, top_k="", top_p="", length=50, seed=1)
    assert "€" in panel.locator("[id*=message]").inner_text()
    assert text == "ROMEO€:\n" + generate(model, vocab, "ROMEO:\n", length=50, temperature=0)[len("ROMEO:\n"):]
    assert uncaught == []


@pytest.mark.parametrize("name, value, phrase", [("temperature", "-1", "temperature"), ("top_p", "1.5", "top_p"),
                                                 ("top_k", "0", "top_k"), ("length", "-3", "length"), ("seed", "x", "seed")])
def test_out_of_range_settings_are_rejected_visibly(site, browser, name, value, phrase):
    _, panel, _, uncaught = open_sampler(browser, f"{site}/{PAGES[0]}")
    panel.locator(f"input[name={name}]").fill(value)
    panel.get_by_role("button", name="Generate").click()
    message = panel.locator("[id*=message]")
    assert phrase in message.inner_text() and "rnnbook-error" in message.get_attribute("class")
    assert panel.locator("[id*=output]").get_attribute("data-state") == "idle"
    assert uncaught == []


def test_next_character_chart_updates_with_the_settings(site, browser):
    _, panel, _, uncaught = open_sampler(browser, f"{site}/{PAGES[0]}")
    bars = panel.locator(".rnnbook-bar")
    panel.locator("input[name=top_p]").fill("")
    panel.locator("input[name=top_k]").fill("3")
    panel.locator("textarea[name=prompt]").fill("ROMEO:\nWhat")
    assert bars.count() == 12 and sum(float(v[:-1]) > 0 for v in bars.locator(".rnnbook-bar-value").all_inner_texts()) == 3
    panel.locator("input[name=top_k]").fill("")
    assert sum(float(v[:-1]) > 0 for v in bars.locator(".rnnbook-bar-value").all_inner_texts()) > 3
    assert uncaught == []


def cpu() -> str:
    """The CPU's model name, and whether it computes in bfloat16 natively (as the shipped model was trained)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown CPU")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    return f"{name}, {'with' if {'avx512_bf16', 'amx_bf16'} & flags else 'without'} avx512_bf16/amx_bf16"


def test_javascript_sampler_speed_against_python(site, browser, pretrained, capsys):
    """Characters per second of 2,000 sampled characters, median of 3 runs each, in one test run (printed). Python runs
    with one PyTorch thread (as the book's chapters do) and with PyTorch's default, after an untimed warm-up, and the
    faster of the two medians is the one to match: which is faster depends on the machine and how busy it is."""
    model, vocab = pretrained
    _, panel, _, uncaught = open_sampler(browser, f"{site}/{PAGES[0]}")
    n, default_threads = 2000, torch.get_num_threads()
    js, py = [], {1: [], default_threads: []}
    generate(model, vocab, "ROMEO:\n", length=100, temperature=1.0, seed=0)
    try:
        for seed in (3, 4, 5):
            text, seconds = run(panel, "ROMEO:\n", temperature=1.0, top_k="", top_p="", length=n, seed=seed)
            assert len(text) == len("ROMEO:\n") + n
            js.append(n / seconds)
            for threads in py:
                torch.set_num_threads(threads)
                t0 = time.perf_counter()
                generate(model, vocab, "ROMEO:\n", length=n, temperature=1.0, seed=seed)
                py[threads].append(n / (time.perf_counter() - t0))
    finally:
        torch.set_num_threads(default_threads)
    median = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    best = max(median(v) for v in py.values())
    with capsys.disabled():
        print(f"\nsampler speed, median of 3 x {n} characters on {cpu()}: JavaScript {median(js):.0f} chars/s "
              f"({', '.join(f'{v:.0f}' for v in js)}); Python " + "; ".join(
                  f"{t} PyTorch thread{'s' * (t > 1)} {median(v):.0f} chars/s ({', '.join(f'{x:.0f}' for x in v)})"
                  for t, v in py.items()))
    assert median(js) >= best and uncaught == []
