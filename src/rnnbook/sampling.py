"""Generating text from a character model: temperature, top-k and nucleus (top-p) sampling, greedy decoding.

The rules, in the order they are applied to the logits y_t of the next character (the JavaScript sampler
of the HTML book follows the same rules):

1. temperature 0: greedy, the character with the largest logit (the lowest id among equal ones);
2. otherwise p = softmax((y_t - max y_t) / temperature), in float64;
3. top_k: keep the k most probable characters (ties broken by the lower id), zero the rest, renormalise;
4. top_p: rank the remaining characters by probability (ties by the lower id) and keep each one whose
   predecessors in that ranking hold less than top_p of the mass (so the first is always kept), renormalise;
5. draw one character from what is left.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from rnnbook.data import CharVocab

WARMUP_CHUNK = 2048  # characters of the prompt fed to the network per call


def check_settings(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                   length: int = 0, seed: int | None = None) -> None:
    """Raise a ValueError naming the valid range of the first invalid sampling setting."""
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    def is_real(v):
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

    if not is_real(temperature) or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature={temperature!r}: valid temperatures are finite numbers >= 0 (0 is greedy)")
    if top_k is not None and (not is_int(top_k) or top_k < 1):
        raise ValueError(f"top_k={top_k!r}: valid values are None (no limit) or an integer >= 1")
    if top_p is not None and (not is_real(top_p) or not 0 < top_p <= 1):
        raise ValueError(f"top_p={top_p!r}: valid values are None (no limit) or a number in (0, 1]")
    if not is_int(length) or length < 0:
        raise ValueError(f"length={length!r}: valid lengths are integers >= 0")
    if seed is not None and (not is_int(seed) or not 0 <= seed < 2**63):
        raise ValueError(f"seed={seed!r}: valid seeds are None or an integer in [0, 2**63)")


def filter_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None) -> torch.Tensor:
    """The distribution (V,) that the next character is drawn from, after temperature, top-k and top-p."""
    check_settings(temperature, top_k, top_p)
    logits = logits.detach().double().cpu()
    if temperature == 0:
        probs = torch.zeros_like(logits)
        probs[int(torch.argmax(logits))] = 1.0  # argmax returns the first of equal maxima
        return probs
    probs = torch.softmax((logits - logits.max()) / temperature, dim=-1)  # stable even for tiny temperatures
    if (top_k is None or top_k >= len(probs)) and (top_p is None or top_p >= 1):
        return probs
    order = torch.sort(probs, descending=True, stable=True).indices
    keep = torch.ones_like(probs, dtype=torch.bool)
    if top_k is not None and top_k < len(probs):
        keep[order[top_k:]] = False
    if top_p is not None and top_p < 1:
        ranked = torch.where(keep, probs, 0.0)[order]
        ranked = ranked / ranked.sum()
        before = torch.cumsum(ranked, 0) - ranked  # mass of the characters ranked above each one
        keep[order[before >= top_p]] = False
    probs = torch.where(keep, probs, 0.0)
    return probs / probs.sum()


def _start_ids(vocab: CharVocab, prompt: str, unknown: str) -> torch.Tensor:
    """The ids the network reads before generating: the prompt's, or a newline for an empty prompt."""
    if not isinstance(prompt, str):
        raise ValueError(f"prompt must be a str, got {type(prompt).__name__}")
    ids = vocab.encode(prompt, unknown=unknown)
    if len(ids) == 0:
        ids = torch.tensor([vocab.index["\n"] if "\n" in vocab else 0])  # a new line: where speeches start
    return ids


@contextlib.contextmanager
def one_step_kernels():
    """Use PyTorch's own RNN kernels: oneDNN's pay a set-up cost per call that dominates one step at a time."""
    enabled = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = enabled


@torch.no_grad()
def warm_up(model: nn.Module, ids: torch.Tensor, state=None):
    """Feed ids to the network in chunks, carrying the state; return the last logits (V,) and the state."""
    x = ids.to(next(model.parameters()).device)
    with contextlib.nullcontext() if len(ids) > 256 else one_step_kernels():  # oneDNN pays off on long prompts
        for i in range(0, len(ids), WARMUP_CHUNK):
            logits, state = model(x[i:i + WARMUP_CHUNK][None], state)
    return logits[0, -1], state


@torch.no_grad()
def sample_chars(model: nn.Module, vocab: CharVocab, prompt: str = "", length: int = 200, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                 unknown: str = "error") -> Iterator[str]:
    """Yield the `length` characters that `generate` appends to the prompt, one at a time, as they are drawn."""
    check_settings(temperature, top_k, top_p, length, seed)
    if len(vocab) != model.head.out_features:
        raise ValueError(f"vocabulary of {len(vocab)} characters, but the model predicts {model.head.out_features}")
    ids = _start_ids(vocab, prompt, unknown)
    gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None  # int(): NumPy integers too
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        logits, state = warm_up(model, ids)
        for i in range(length):
            probs = filter_probs(logits, temperature, top_k, top_p)
            idx = int(torch.argmax(probs)) if temperature == 0 else int(torch.multinomial(probs, 1, generator=gen))
            yield vocab.chars[idx]
            if i < length - 1:
                with one_step_kernels():
                    logits, state = model(torch.tensor([[idx]], device=device), state)
                logits = logits[0, -1]
    finally:  # also when the caller stops early
        model.train(was_training)


def generate(model: nn.Module, vocab: CharVocab, prompt: str = "", length: int = 200, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
             unknown: str = "error") -> str:
    """The prompt followed by `length` new characters, each drawn from the model with the state carried.

    The network reads the whole prompt once (an empty prompt reads a newline), then each new character
    is fed back in with the state of the step before: the prefix is never run again (`sample_chars`).
    temperature=0 is greedy; a seed makes sampling repeatable. `unknown` is the policy for prompt
    characters outside the vocabulary: "error" (the default), "skip" or "replace" (by a space), as in
    `CharVocab.encode`.
    """
    return prompt + "".join(sample_chars(model, vocab, prompt, length, temperature, top_k, top_p, seed, unknown))


@torch.no_grad()
def next_char_probs(model: nn.Module, vocab: CharVocab, prompt: str = "", temperature: float = 1.0,
                    top_k: int | None = None, top_p: float | None = None, unknown: str = "error") -> np.ndarray:
    """The distribution (V,) that `generate` would draw the first new character from, after this prompt."""
    was_training = model.training
    model.eval()
    logits, _ = warm_up(model, _start_ids(vocab, prompt, unknown))
    model.train(was_training)
    return filter_probs(logits, temperature, top_k, top_p).numpy()


@torch.no_grad()
def hidden_states(model: nn.Module, vocab: CharVocab, text: str) -> dict[str, np.ndarray]:
    """Each layer's state after each character of text, from a zero state: {"h1": (T, H), "h2": ...}.

    For an LSTM also its memory cells, squashed as the output gate sees them: {"c1": tanh(c_t), ...}.
    Layer k is run on its own, over the whole text at once, with the weights of layer k of `model.rnn`.
    """
    if not text:
        raise ValueError("text is empty; hidden_states needs at least one character")
    was_training = model.training
    model.eval()
    rnn = model.rnn
    x = model.embed(vocab.encode(text).to(next(model.parameters()).device)[None])
    out = {}
    for k in range(rnn.num_layers):
        weights = {f"{n}_l0": getattr(rnn, f"{n}_l{k}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        layer = type(rnn)(x.shape[-1], rnn.hidden_size, batch_first=True).to(x.device)
        layer.load_state_dict(weights)
        h, _ = layer(x)
        out[f"h{k + 1}"] = h[0].float().cpu().numpy()
        if isinstance(rnn, nn.LSTM):  # h_t = o_t * tanh(c_t), and o_t depends only on x_t and h_{t-1}
            h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
            gates = x @ weights["weight_ih_l0"].T + weights["bias_ih_l0"] + h_prev @ weights["weight_hh_l0"].T \
                + weights["bias_hh_l0"]
            o = torch.sigmoid(gates[..., 3 * rnn.hidden_size:])  # PyTorch's gate order: i, f, g, o
            out[f"c{k + 1}"] = (h / o).clamp(-1, 1)[0].float().cpu().numpy()
        x = h
    model.train(was_training)
    return out
