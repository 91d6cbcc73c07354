"""The book's model exported for the JavaScript sampler of the HTML book (`book/_static/sampler.js`)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import torch

from rnnbook.data import CharVocab
from rnnbook.models import CharRNN


def _b64(t: torch.Tensor) -> str:
    """A tensor as base64 of its little-endian float32 bytes, row-major."""
    return base64.b64encode(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()).decode("ascii")


def in_speaker_name(text: str) -> np.ndarray:
    """1.0 for each character of a speaker's name (a line ending in ':' after a blank line), else 0.0."""
    flags = np.zeros(len(text))
    for m in re.finditer(r"(?:^|\n\n)([^\n]+):\n", text):
        flags[m.start(1):m.end(1)] = 1.0
    return flags


def line_position(text: str) -> np.ndarray:
    """For each character, the number of characters since the last newline."""
    position = np.zeros(len(text))
    for i in range(1, len(text)):
        position[i] = 0 if text[i - 1] == "\n" else position[i - 1] + 1
    return position


def correlations(a: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of a (T, H) with f (T,)."""
    a = (a - a.mean(0)) / (a.std(0) + 1e-9)
    return (a * ((f - f.mean()) / f.std())[:, None]).mean(0)


def named_units(model: CharRNN, vocab: CharVocab, text: str) -> list[dict]:
    """The last layer's units that chapter 5 names: each chosen on the first half of text, r on the second half."""
    from rnnbook.sampling import hidden_states, one_step_kernels

    if len(text) < 200:
        raise ValueError(f"text of {len(text)} characters; choosing units needs at least 200")
    with one_step_kernels():  # PyTorch's own kernels: several times faster than oneDNN's on one long sequence
        states = hidden_states(model, vocab, text)[f"h{model.rnn.num_layers}"]
    half = len(text) // 2
    units = []
    for name, feature in (("speaker name", in_speaker_name(text)), ("position in line", line_position(text))):
        unit = int(np.argmax(np.abs(correlations(states[:half], feature[:half]))))
        r = float(correlations(states[half:], feature[half:])[unit])
        units.append({"name": name, "unit": unit, "r": round(r, 4)})
    return units


def model_spec(model: CharRNN, vocab: CharVocab, default_prompt: str = "\n", units: list[dict] | None = None) -> dict:
    """Everything the JavaScript sampler needs: sizes, cell type, vocabulary, weights (base64 float32), named units."""
    rnn = model.rnn
    if len(vocab) != model.head.out_features:
        raise ValueError(f"vocabulary of {len(vocab)} characters, but the model predicts {model.head.out_features}")
    if default_prompt not in vocab:
        raise ValueError(f"default prompt {default_prompt!r} is not in the vocabulary")
    layers = [
        {name: _b64(getattr(rnn, f"{torch_name}_l{k}"))
         for name, torch_name in (("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh"))}
        for k in range(rnn.num_layers)
    ]
    return {
        "cell": model.config["cell"],
        "vocab": list(vocab.chars),
        "embed_dim": model.embed.embedding_dim,
        "hidden_size": rnn.hidden_size,
        "num_layers": rnn.num_layers,
        "default_prompt": default_prompt,
        "units": units or [],
        "tensors": {"embed": _b64(model.embed.weight), "layers": layers,
                    "W_out": _b64(model.head.weight), "b_out": _b64(model.head.bias)},
    }


def write_js(spec: dict, path: str | Path) -> Path:
    """Write the spec as a script that defines `window.RNNBOOK_MODEL` (loads from file:// and over HTTP alike)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("window.RNNBOOK_MODEL = " + json.dumps(spec, ensure_ascii=True) + ";\n", encoding="ascii")
    return path


def decode(b64: str, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of the base64 encoding, for tests."""
    return np.frombuffer(base64.b64decode(b64), dtype="<f4").reshape(shape)
