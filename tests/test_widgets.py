"""Tests of rnnbook.widgets: the sampler panel reacts to its controls; the static comparison renders."""

import torch

from rnnbook.data import CharVocab
from rnnbook.models import CharRNN
from rnnbook.sampling import generate, next_char_probs
from rnnbook.widgets import bars_html, samples_table, sampler

VOCAB = CharVocab.from_text("abcde \n:")


def tiny():
    torch.manual_seed(0)
    return CharRNN(len(VOCAB), 4, 8, 1, "lstm").eval()


def test_sampler_generates_with_its_settings():
    model = tiny()
    panel = sampler(model, VOCAB, prompt="ab", length=40)
    panel.temperature.value, panel.seed.value = 0.7, 3
    text = panel.generate()
    assert panel.output.value == text == generate(model, VOCAB, "ab", 40, temperature=0.7, seed=3)
    panel.temperature.value = 0.0
    assert panel.generate() == generate(model, VOCAB, "ab", 40, temperature=0)


def test_chart_follows_the_settings():
    panel = sampler(tiny(), VOCAB, prompt="ab")
    full = panel.chart.value
    panel.top_k.value = 1
    assert panel.chart.value != full and panel.chart.value.count("<tr>") == 1
    panel.top_k.value = 0
    panel.top_p.value = 1.0
    assert panel.chart.value == full
    for t in (0.3, 1.7):  # the chart draws the distribution at the slider's temperature
        panel.temperature.value = t
        assert panel.chart.value == bars_html(next_char_probs(panel.model, VOCAB, "ab", temperature=t), VOCAB)
        assert panel.chart.value != full


def test_unknown_prompt_characters_are_reported_and_skipped():
    panel = sampler(tiny(), VOCAB, prompt="ab")
    panel.prompt.value = "aZb"
    assert "&#x27;Z&#x27;" in panel.message.value and "skipped" in panel.message.value
    assert panel.generate().startswith("aZb")


def test_invalid_seed_shows_a_message_instead_of_raising():
    panel = sampler(tiny(), VOCAB)
    panel.seed.value = -1
    panel.generate()
    assert "seed" in panel.message.value


def test_static_views():
    table = samples_table({"greedy": "ab<c", "T=1": "abd"})
    assert table.count("<pre") == 2 and "greedy" in table and "ab&lt;c" in table
    assert bars_html([0.5, 0.25, 0.25, 0, 0, 0, 0, 0], VOCAB, top=2).count("<tr>") == 2
    assert bars_html([0.5, 0.5, 0, 0, 0, 0, 0, 0], VOCAB, top=5).count("<tr>") == 2  # zero bars are left out
