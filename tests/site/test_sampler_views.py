"""The playground's views of the network (hidden unit, surprise, connectivity) and its hooks, against PyTorch."""


import numpy as np
import pytest
import torch

from rnnbook.jsmodel import in_speaker_name
from rnnbook.sampling import generate, hidden_states
from tests.site.test_html import HTML
from tests.site.test_sampler_page import open_sampler, run
from tests.helpers import connectivity_torch

ARTIFACTS = HTML.parent / "test-artifacts"
PLAYGROUND = "book/playground.html"
PROMPTS = ("ROMEO:\n", "To be, or not to be", "KING HENRY:\nWhat")


def test_hidden_states_match_python(site, browser, pretrained, capsys):
    """window.rnnbookHidden equals rnnbook.sampling.hidden_states for 3 texts of 200 characters and more."""
    model, vocab = pretrained
    page, _, _, uncaught = open_sampler(browser, f"{site}/{PLAYGROUND}")
    worst = 0.0
    for prompt in PROMPTS:
        text = generate(model, vocab, prompt, length=200, temperature=0)
        js = np.array(page.evaluate("t => window.rnnbookHidden(t)", text))
        python = hidden_states(model, vocab, text)["h1"]
        assert js.shape == python.shape == (len(text), model.rnn.hidden_size)
        np.testing.assert_allclose(js, python, atol=1e-5, rtol=0)
        worst = max(worst, float(np.abs(js - python).max()))
    with capsys.disabled():
        print(f"\nhidden states, JavaScript vs PyTorch: largest difference {worst:.1e}")
    assert uncaught == []



def test_connectivity_matches_torch_autograd(site, browser, pretrained, capsys):
    model, vocab = pretrained
    page, _, _, uncaught = open_sampler(browser, f"{site}/{PLAYGROUND}")
    text = generate(model, vocab, "JULIET:\n", length=150, temperature=0)
    worst = 0.0
    for t in (1, 40, len(text) - 1):
        js = np.array(page.evaluate("([s, t]) => window.rnnbookConnectivity(s, t)", [text, t]))
        python = connectivity_torch(model, vocab, text, t)
        assert js.shape == python.shape == (t,)
        np.testing.assert_allclose(js, python, rtol=1e-4, atol=0)
        worst = max(worst, float(np.max(np.abs(js - python) / python)))
    with capsys.disabled():
        print(f"\nconnectivity, JavaScript vs autograd: largest relative difference {worst:.1e}")
    with pytest.raises(Exception, match="t must be an integer from 1"):
        page.evaluate("([s, t]) => window.rnnbookConnectivity(s, t)", [text, len(text)])
    assert uncaught == []


def spans(panel):
    """Each character of the output box with its background colour."""
    return panel.locator("[id*=output] span").evaluate_all("els => els.map(e => [e.textContent, e.style.background])")


def test_views_show_what_the_model_computes(site, browser, pretrained):
    model, vocab = pretrained
    page, panel, console, uncaught = open_sampler(browser, f"{site}/{PLAYGROUND}")
    text, _ = run(panel, "ROMEO:\n", temperature=0, top_k="", top_p="", length=300, seed=1)
    ARTIFACTS.mkdir(exist_ok=True)
    inspect = panel.locator("[id*=inspect]")

    # Hidden unit: the units chapter 5 names are listed, and the colours follow the chosen unit's activation.
    panel.get_by_label("Hidden unit").check()
    options = panel.locator("select[name=named-unit] option").all_inner_texts()
    spec_units = page.evaluate("() => window.RNNBOOK_MODEL.units")
    assert [u["name"] for u in spec_units] == ["speaker name", "position in line"]
    for u in spec_units:
        assert any(o.startswith(f"{u['name']}: unit {u['unit']}") for o in options)
    panel.locator("select[name=named-unit]").select_option(str(spec_units[0]["unit"]))
    assert panel.locator("input[name=unit]").input_value() == str(spec_units[0]["unit"])
    states = hidden_states(model, vocab, text)["h1"][:, spec_units[0]["unit"]]
    colours = spans(panel)
    assert "".join(c for c, _ in colours) == text
    reds = [i for i, (_, bg) in enumerate(colours) if bg.startswith("rgb(255,")]  # red: positive activation
    assert set(reds) == {i for i, a in enumerate(states) if a >= 0} - {i for i, a in enumerate(states) if abs(a) < 1e-3}
    panel.screenshot(path=str(ARTIFACTS / "playground-unit.png"))
    panel.locator("input[name=unit]").fill("9999")  # beyond the last unit: the last one
    assert f"unit {model.rnn.hidden_size - 1}" in inspect.inner_text().lower()

    # "Most active units": the five units whose activation varies most over this text, the first one chosen.
    panel.get_by_role("button", name="Most active units").click()
    all_states = hidden_states(model, vocab, text)["h1"]
    expected = [int(u) for u in np.argsort(-all_states.std(0))[:5]]
    shown = [int(u) for u in panel.locator(".rnnbook-active button").all_inner_texts()]
    assert shown[:2] == expected[:2] and sorted(shown) == sorted(expected)
    assert panel.locator("input[name=unit]").input_value() == str(shown[0])

    # Surprise: pointing at a character shows its probability and the five likeliest characters at that step.
    panel.get_by_label("Surprise").check()
    i = next(k for k in range(10, len(text)) if text[k].isalpha())  # a letter after the prompt
    panel.locator(f"[id*=output] span[data-i='{i}']").hover()
    with torch.no_grad():
        logits, _ = model(vocab.encode(text[:i])[None])
    p = torch.softmax(logits[0, -1].double(), -1)
    top5 = [vocab.chars[k] for k in torch.argsort(p, descending=True)[:5]]
    shown = inspect.inner_text().split("likeliest: ")[1].split(", ")
    show = {"\n": "\\n", " ": "␣"}
    assert [s.rsplit(" ", 1)[0] for s in shown] == [show.get(c, c) for c in top5]
    assert f"p = {100 * p[vocab.index[text[i]]]:.1f}%" in inspect.inner_text()
    panel.screenshot(path=str(ARTIFACTS / "playground-surprise.png"))

    # Connectivity: tapping a character shades the characters before it by the gradient norm.
    panel.get_by_label("Connectivity").check()
    j = len(text) - 20
    panel.locator(f"[id*=output] span[data-i='{j}']").click()
    assert panel.locator(f"[id*=output] span[data-i='{j}']").get_attribute("class") == "rnnbook-target"
    colours = spans(panel)
    assert all(bg for c, bg in colours[j - 200:j] if c != "\n") and not any(bg for _, bg in colours[j:])
    panel.screenshot(path=str(ARTIFACTS / "playground-connectivity.png"))
    assert uncaught == [] and console == []


def test_the_playground_examples_hold(site, browser, pretrained):
    """What the playground's text says about the passage it starts with, checked with PyTorch and the page."""
    model, vocab = pretrained
    page, panel, _, uncaught = open_sampler(browser, f"{site}/{PLAYGROUND}")
    text = page.evaluate("() => document.querySelector('#rnnbook-sampler-playground').dataset.prompt")
    assert text.startswith("MACBETH:\nSo foul and fair") and "\n\nBANQUO:\n" in text
    assert panel.locator("[id*=output]").inner_text() == text  # the views show the passage before anything is generated
    speaker = page.evaluate("() => window.RNNBOOK_MODEL.units")[0]
    acts = hidden_states(model, vocab, text)["h1"][:, speaker["unit"]]
    names = in_speaker_name(text) == 1
    assert speaker["r"] > 0 and (acts[names] > 0).mean() > 0.75 and (acts[~names] < 0).mean() > 0.95  # red, blue
    with torch.no_grad():
        logits, _ = model(vocab.encode(text)[None])
    p = torch.softmax(logits[0, :-1].double(), -1)[torch.arange(len(text) - 1), vocab.encode(text)[1:]].numpy()
    b = text.index("BANQUO")
    assert sorted(np.argsort(p)[:2] + 1) == [b + 3, b + 5]  # the Q and the O of BANQUO are the least expected
    assert p[len("MACBETH:") - 1] > 0.99  # the newline after MACBETH: (p[k] is the probability of text[k + 1])
    t = text.index("BANQUO:") + len("BANQUO")
    norms = np.array(page.evaluate("([s, t]) => window.rnnbookConnectivity(s, t)", [text, t]))
    assert sorted(np.argsort(norms)[-8:]) == list(range(t - 8, t))  # the name's letters and the blank line before it
    assert norms[:t - 20].max() < 0.05 * norms.max()
    ARTIFACTS.mkdir(exist_ok=True)
    panel.get_by_label("Surprise").check()
    panel.screenshot(path=str(ARTIFACTS / "playground-passage-surprise.png"))
    panel.get_by_label("Connectivity").check()
    panel.locator(f"[id*=output] span[data-i='{t}']").click()  # the colon after BANQUO
    assert panel.locator(".rnnbook-target").inner_text() == ":"
    panel.screenshot(path=str(ARTIFACTS / "playground-passage-connectivity.png"))
    assert uncaught == []
