"""The JavaScript sampler (book/_static/sampler.js) computes what rnnbook.sampling computes, in a real browser."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnbook.data import CharVocab, shakespeare
from rnnbook.jsmodel import correlations, decode, in_speaker_name, line_position, model_spec, named_units, write_js
from rnnbook.models import CharRNN
from rnnbook.pretrained import load_pretrained
from rnnbook.sampling import filter_probs, generate, hidden_states, one_step_kernels
from tests.helpers import connectivity_torch

ROOT = Path(__file__).resolve().parents[1]
SAMPLER_JS = ROOT / "book" / "_static" / "sampler.js"
VOCAB = CharVocab("\n !',.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def tiny_model(cell: str, seed: int = 0) -> CharRNN:
    torch.manual_seed(seed)
    model = CharRNN(len(VOCAB), embed_dim=8, hidden_size=16, num_layers=2, cell=cell).eval()
    with torch.no_grad():  # larger weights than the default init, so the logits are far from ties
        for p in model.parameters():
            p.mul_(3.0)
    return model


@pytest.mark.parametrize("cell, gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_spec_round_trips_every_tensor_by_name_and_layout(cell, gates):
    """Every tensor of the state dict is in the spec once, under the name and (rows, columns) the sampler reads."""
    model = tiny_model(cell)
    spec = model_spec(model, VOCAB, default_prompt="A")
    V, E, H = len(VOCAB), 8, 16
    assert spec["cell"] == cell and spec["vocab"] == list(VOCAB.chars) and spec["default_prompt"] == "A"
    assert (spec["embed_dim"], spec["hidden_size"], spec["num_layers"]) == (E, H, 2)
    tensors = spec["tensors"]
    expected = {"embed.weight": (tensors["embed"], (V, E)), "head.weight": (tensors["W_out"], (V, H)),
                "head.bias": (tensors["b_out"], (V,))}
    for k, layer in enumerate(tensors["layers"]):
        assert sorted(layer) == ["W_hh", "W_ih", "b_hh", "b_ih"]
        expected.update({f"rnn.weight_ih_l{k}": (layer["W_ih"], (gates * H, E if k == 0 else H)),
                         f"rnn.weight_hh_l{k}": (layer["W_hh"], (gates * H, H)),
                         f"rnn.bias_ih_l{k}": (layer["b_ih"], (gates * H,)),
                         f"rnn.bias_hh_l{k}": (layer["b_hh"], (gates * H,))})
    state = model.state_dict()
    assert sorted(expected) == sorted(state)
    for name, (b64, shape) in expected.items():
        np.testing.assert_array_equal(decode(b64, shape), state[name].numpy(), err_msg=name)


def test_write_js_defines_the_model_for_a_script_tag(tmp_path):
    spec = model_spec(tiny_model("gru"), VOCAB)
    spec["vocab"][-1] = "é"  # a character outside ASCII, written as \u00e9
    for _ in range(2):  # into new folders, then over the old file
        path = write_js(spec, tmp_path / "_build" / "static" / "rnnbook_model.js")
    text = path.read_text(encoding="ascii")
    assert path == tmp_path / "_build" / "static" / "rnnbook_model.js" and "\\u00e9" in text
    assert text.startswith("window.RNNBOOK_MODEL = {") and text.endswith("};\n") and text.isascii()
    assert json.loads(text[len("window.RNNBOOK_MODEL = "):-2]) == spec and spec["default_prompt"] == "\n"
    with pytest.raises(ValueError, match="default prompt 'é'"):
        model_spec(tiny_model("gru"), VOCAB, default_prompt="é")


def test_spec_rejects_a_vocabulary_of_another_size():
    with pytest.raises(ValueError, match="vocabulary of 3 characters"):
        model_spec(tiny_model("rnn"), CharVocab("abc"))


def js_page(browser, tmp_path, model):
    """A blank page with the model's weights and the sampler script loaded; uncaught errors are collected."""
    write_js(model_spec(model, VOCAB), tmp_path / "rnnbook_model.js")
    shutil.copy(SAMPLER_JS, tmp_path / "sampler.js")
    (tmp_path / "index.html").write_text('<script src="rnnbook_model.js"></script><script src="sampler.js"></script>')
    page = browser.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto((tmp_path / "index.html").as_uri())
    return page


JS_GREEDY = """([prompt, length, seed, temperature, topK, topP]) => {
  const S = window.rnnbookSampler, spec = window.RNNBOOK_MODEL, model = new S.CharRNN(spec);
  let out = prompt;
  for (const v of S.generate(model, spec, prompt, {length, seed, temperature, topK, topP})) if (v.char !== null) out += v.char;
  return out;
}"""


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_greedy_text_is_identical_in_javascript_and_python(browser, tmp_path, cell):
    model = tiny_model(cell)
    page = js_page(browser, tmp_path, model)
    for prompt in ("ROMEO:\n", "To be, or not", ""):
        python = generate(model, VOCAB, prompt, length=200, temperature=0)
        js = page.evaluate(JS_GREEDY, [prompt, 200, 1, 0, None, None])
        assert js == python
    assert page.errors == []


def test_filtered_distribution_matches_python(browser, tmp_path):
    page = js_page(browser, tmp_path, tiny_model("gru"))
    logits = torch.randn(len(VOCAB), generator=torch.Generator().manual_seed(3)) * 3
    for temperature, top_k, top_p in [(1.0, None, None), (0.7, 10, None), (1.3, None, 0.9), (0.5, 5, 0.5), (2.0, 100, 1.0),
                                        (0, None, None), (0, 5, 0.5)]:
        js = page.evaluate("([l, t, k, p]) => Array.from(window.rnnbookSampler.filteredProbs(l, t, k, p))",
                           [logits.tolist(), temperature, top_k, top_p])
        np.testing.assert_allclose(js, filter_probs(logits, temperature, top_k, top_p).numpy(), atol=1e-12)


def test_top_p_boundary_matches_python(browser, tmp_path):
    """Fixed logits with exact probabilities (four of 1/4, the rest 0): the JS rule is pinned at the boundary."""
    page = js_page(browser, tmp_path, tiny_model("gru"))
    logits = torch.full((len(VOCAB),), -1e9, dtype=torch.float64)
    logits[[3, 10, 20, 40]] = 0.0
    cases = [(0.25, 1), (0.5, 2), (0.75, 3), (math.nextafter(0.25, 1), 2), (math.nextafter(0.5, 1), 3),
             (math.nextafter(0.5, 0), 2)]  # (top_p, characters kept): kept iff the mass ranked before is < top_p
    for top_p, kept in cases:
        js = np.array(page.evaluate("([l, p]) => Array.from(window.rnnbookSampler.filteredProbs(l, 1, null, p))",
                                    [logits.tolist(), top_p]))
        python = filter_probs(logits, 1.0, None, top_p).numpy()
        assert np.count_nonzero(python) == np.count_nonzero(js) == kept, top_p
        np.testing.assert_array_equal(js, python)


def test_seeded_sampling_is_deterministic_and_seed_dependent(browser, tmp_path):
    page = js_page(browser, tmp_path, tiny_model("lstm"))
    a, b, c = (page.evaluate(JS_GREEDY, ["KING:", 120, seed, 1.0, None, 0.95]) for seed in (7, 7, 8))
    assert a == b and a != c and len(a) == len("KING:") + 120


def test_bad_settings_are_reported_not_thrown(browser, tmp_path):
    page = js_page(browser, tmp_path, tiny_model("rnn"))
    errors = page.evaluate("""() => window.rnnbookSampler.parseSettings(
        {temperature: "-1", top_k: "0", top_p: "1.5", length: "abc", seed: "1.5"}).errors""")
    assert any("temperature" in e for e in errors) and any("top_k" in e for e in errors)
    assert any("top_p must be in (0, 1]" in e for e in errors) and any("length" in e for e in errors)
    ok = page.evaluate("""() => window.rnnbookSampler.parseSettings(
        {temperature: "0", top_k: "", top_p: "1", length: "10", seed: ""}).errors""")
    assert ok == []
    unknown = page.evaluate("() => window.rnnbookSampler.encodePrompt('héllo', new Map([...'helo'].map((c, i) => [c, i])))")
    assert unknown["unknown"] == ["é"] and len(unknown["ids"]) == 4


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_hidden_states_match_python(browser, tmp_path, cell):
    """window.rnnbookHidden: the last layer's state after each character, from a zero state, as hidden_states."""
    model = tiny_model(cell)
    page = js_page(browser, tmp_path, model)
    text = "ROMEO:\nBut soft, what light through yonder window breaks?"
    js = np.array(page.evaluate("t => window.rnnbookHidden(t)", text))
    python = hidden_states(model, VOCAB, text)["h2"]
    assert js.shape == python.shape == (len(text), 16)
    np.testing.assert_allclose(js, python, atol=1e-5, rtol=0)
    with pytest.raises(Exception, match="not in the model's vocabulary"):
        page.evaluate("t => window.rnnbookHidden(t)", "héllo")



@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_connectivity_matches_torch_autograd(browser, tmp_path, cell):
    """window.rnnbookConnectivity backpropagates through both layers of each cell as autograd does."""
    model = tiny_model(cell)
    page = js_page(browser, tmp_path, model)
    text = "KING:\nWhat say you, my lords? Speak.\n"
    for t in (1, 7, len(text) - 1):
        js = np.array(page.evaluate("([s, t]) => window.rnnbookConnectivity(s, t)", [text, t]))
        assert js.shape == (t,)
        np.testing.assert_allclose(js, connectivity_torch(model, VOCAB, text, t), rtol=1e-4, atol=0)
    for bad in (0, len(text), 2.5):
        with pytest.raises(Exception, match="t must be an integer from 1"):
            page.evaluate("([s, t]) => window.rnnbookConnectivity(s, t)", [text, bad])
    assert page.errors == []


def test_named_units_are_those_of_chapter_5():
    """The units the playground lists by name: chosen on the first half of chapter 5's text, scored on the second."""
    model, vocab = load_pretrained()
    text = shakespeare()[1][:10_000]
    speaker, position = named_units(model, vocab, text)
    assert (speaker["name"], position["name"]) == ("speaker name", "position in line")
    assert 0.4 < abs(speaker["r"]) < 0.9 and abs(abs(position["r"]) - 0.59) < 0.015  # as chapter 5 reports them
    with one_step_kernels():  # as named_units computes them: several times faster than oneDNN's kernels here
        states = hidden_states(model, vocab, text)["h1"]
    for u, feature in ((speaker, in_speaker_name(text)), (position, line_position(text))):
        r = correlations(states[5000:], feature[5000:])
        assert abs(r[u["unit"]]) > 4 * np.median(np.abs(r)) and abs(r[u["unit"]] - u["r"]) < 1e-3
    assert model_spec(model, vocab, units=[speaker, position])["units"] == [speaker, position]
    with pytest.raises(ValueError, match="at least 200"):
        named_units(model, vocab, text[:100])


def test_unit_features():
    text = "FIRST:\nAy, sir.\nLEAR:\nNo.\n\nLEAR:\nNo.\n"  # a name follows a blank line or starts the text
    assert "".join(c for c, f in zip(text, in_speaker_name(text)) if f) == "FIRSTLEAR"  # not the LEAR after a single newline
    assert line_position("ab\ncd").tolist() == [0, 1, 2, 0, 1]


def test_javascript_loops_where_webassembly_does_not_apply(browser, tmp_path):
    """Sizes that are not multiples of 8 use the JavaScript products instead of WebAssembly: same results."""
    torch.manual_seed(1)
    model = CharRNN(len(VOCAB), embed_dim=6, hidden_size=10, num_layers=2, cell="gru").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    page = js_page(browser, tmp_path, model)
    assert page.evaluate("() => new window.rnnbookSampler.CharRNN(window.RNNBOOK_MODEL).affine.name") == "affine"
    assert page.evaluate(JS_GREEDY, ["ROMEO:\n", 100, 1, 0, None, None]) == generate(model, VOCAB, "ROMEO:\n", length=100, temperature=0)
    text = "KING:\nWhat say you?"
    np.testing.assert_allclose(page.evaluate("t => window.rnnbookHidden(t)", text), hidden_states(model, VOCAB, text)["h2"], atol=1e-5)
    assert page.errors == []


def test_webassembly_is_used_for_the_book_sizes(browser, tmp_path):
    page = js_page(browser, tmp_path, tiny_model("gru"))
    assert page.evaluate("() => new window.rnnbookSampler.CharRNN(window.RNNBOOK_MODEL).affine.name") == "simdAffine"
