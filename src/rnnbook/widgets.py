"""An interactive sampler (ipywidgets) and a static comparison of sampling settings for the HTML book."""

from __future__ import annotations

import html

import ipywidgets as widgets
from torch import nn

from rnnbook.data import CharVocab
from rnnbook.plots import COLORS
from rnnbook.sampling import generate, next_char_probs


def show_char(c: str) -> str:
    """A visible label for a character: newline and space get symbols."""
    return {"\n": "\u23ce", " ": "\u2423", "\t": "\u21e5"}.get(c, c)


def bars_html(probs, vocab: CharVocab, top: int = 15) -> str:
    """The `top` most probable next characters as an HTML bar chart."""
    order = sorted(range(len(probs)), key=lambda i: -probs[i])[:top]
    rows = "".join(
        f"<tr><td style='font-family:monospace;padding-right:6px'>{html.escape(show_char(vocab.chars[i]))}</td>"
        f"<td style='width:260px'><div style='background:{COLORS[0]};height:12px;width:{100 * probs[i]:.1f}%'></div></td>"
        f"<td style='font-family:monospace;padding-left:6px'>{probs[i]:.3f}</td></tr>"
        for i in order if probs[i] > 0
    )
    return f"<b>Next character</b><table style='border-collapse:collapse'>{rows}</table>"


class Sampler(widgets.VBox):
    """Prompt, temperature, top-k, top-p, length, seed, a Generate button, the text, and the next-character chart."""

    def __init__(self, model: nn.Module, vocab: CharVocab, prompt: str = "ROMEO:\n", length: int = 300):
        self.model, self.vocab = model, vocab
        style = {"description_width": "90px"}  # wide enough for "temperature", which the default cuts
        slider = dict(style=style, layout=widgets.Layout(width="400px"))
        self.prompt = widgets.Textarea(value=prompt, description="prompt", rows=3, style=style,
                                       layout=widgets.Layout(width="98%", max_width="880px"))
        self.temperature = widgets.FloatSlider(value=0.8, min=0.0, max=2.0, step=0.05, description="temperature", **slider)
        self.top_k = widgets.IntSlider(value=0, min=0, max=len(vocab), description="top-k", tooltip="0: no limit", **slider)
        self.top_p = widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p", **slider)
        self.length = widgets.IntSlider(value=length, min=0, max=2000, step=50, description="length", **slider)
        self.seed = widgets.IntText(value=0, description="seed", style=style, layout=widgets.Layout(width="220px"))
        self.button = widgets.Button(description="Generate", button_style="primary",
                                     layout=widgets.Layout(margin="4px 0 0 94px"))
        self.message = widgets.HTML()
        self.output = widgets.Textarea(rows=14, layout=widgets.Layout(width="98%", max_width="880px"), disabled=True)
        self.chart = widgets.HTML(layout=widgets.Layout(margin="0 0 0 16px"))
        for w in (self.prompt, self.temperature, self.top_k, self.top_p):
            w.observe(self.update_chart, names="value")
        self.button.on_click(self.generate)
        controls = widgets.VBox([self.temperature, self.top_k, self.top_p, self.length, self.seed, self.button])
        # The controls (400 px) and the chart (about 380 px) sit side by side in a notebook about 1,000 px wide
        # and wrap onto two rows in a narrower one.
        row = widgets.HBox([controls, self.chart], layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([self.prompt, self.message, row, self.output], layout=widgets.Layout(max_width="900px"))
        self.update_chart()

    def settings(self) -> dict:
        """The sampling settings as `generate` takes them (top-k 0 and top-p 1 mean no limit)."""
        return dict(temperature=self.temperature.value, top_k=self.top_k.value or None,
                    top_p=self.top_p.value if self.top_p.value < 1 else None)

    def _check_prompt(self) -> None:
        """Name the prompt's characters that the vocabulary lacks (they are skipped)."""
        unknown = sorted({c for c in self.prompt.value if c not in self.vocab})
        self.message.value = ("" if not unknown else "<span style='color:#D55E00'>not in the vocabulary, skipped: "
                              + html.escape(" ".join(repr(c) for c in unknown)) + "</span>")

    def update_chart(self, change=None) -> None:
        """Redraw the distribution of the first new character under the current prompt and settings."""
        self._check_prompt()
        probs = next_char_probs(self.model, self.vocab, self.prompt.value, unknown="skip", **self.settings())
        self.chart.value = bars_html(probs, self.vocab)

    def generate(self, button=None) -> str:
        """Generate with the current settings and show the text."""
        self._check_prompt()
        try:
            self.output.value = generate(self.model, self.vocab, self.prompt.value, self.length.value,
                                         seed=self.seed.value, unknown="skip", **self.settings())
        except ValueError as e:  # a seed out of range, say: show why instead of raising in a callback
            self.message.value = f"<span style='color:#D55E00'>{html.escape(str(e))}</span>"
        return self.output.value


def sampler(model: nn.Module, vocab: CharVocab, prompt: str = "ROMEO:\n", length: int = 300) -> Sampler:
    """An ipywidgets panel to sample from model; the chart updates as the settings change."""
    return Sampler(model, vocab, prompt, length)


def samples_table(samples: dict[str, str]) -> str:
    """Samples side by side ({setting: text}), as HTML boxes that wrap: the static view of the sampler."""
    boxes = "".join(f"<div style='flex:1 1 210px;max-width:320px'><b>{html.escape(label)}</b>"
                    f"<pre style='white-space:pre-wrap;font-size:80%'>{html.escape(text)}</pre></div>"
                    for label, text in samples.items())
    return f"<div style='display:flex;flex-wrap:wrap;gap:10px'>{boxes}</div>"
