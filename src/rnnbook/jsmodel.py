"""The book's model exported for the JavaScript sampler of the HTML book (`book/_static/sampler.js`)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import torch

from rnnbook.data import CharVocab
from rnnbook.models import CharRNN


def _b64(t: torch.Tensor) -> str:
    """A tensor as base64 of its little-endian float32 bytes, row-major."""
    return base64.b64encode(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()).decode("ascii")


def model_spec(model: CharRNN, vocab: CharVocab, default_prompt: str = "\n") -> dict:
    """Everything the JavaScript sampler needs: sizes, cell type, vocabulary and weights (base64 float32)."""
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
