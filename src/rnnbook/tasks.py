"""The synthetic tasks of chapters 1-3 and the small training loop that fits models to them."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnbook.models import SequenceModel

# One setting for every small experiment of chapters 1-3: Adam at this rate, mini-batches of this size, the
# gradient's norm clipped at CLIP, STEPS updates.
LR, BATCH, CLIP, STEPS = 1e-2, 32, 1.0, 300
SEEDS = (0, 1, 2)  # every training outcome in chapters 1-3 is measured on (at least) these seeds


def update(opt: torch.optim.Optimizer, loss: torch.Tensor, clip: float | None = CLIP) -> float:
    """One training step: backpropagate loss, clip the global gradient norm at clip (None: no clipping), step; return the norm before clipping."""
    opt.zero_grad()
    loss.backward()
    params = [p for group in opt.param_groups for p in group["params"]]
    norm = nn.utils.clip_grad_norm_(params, float("inf") if clip is None else clip)
    opt.step()
    return norm.item()


def fit(params: Iterable[torch.Tensor], batch_loss: Callable[[], torch.Tensor], steps: int = STEPS, lr: float = LR,
        clip: float | None = CLIP, sgd: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Minimise batch_loss() with `steps` updates of Adam (or plain SGD); return the losses and the gradient norms before clipping."""
    if steps < 1 or not lr > 0 or (clip is not None and not clip > 0):
        raise ValueError(f"need steps >= 1, lr > 0 and clip > 0 or None; got steps={steps}, lr={lr}, clip={clip}")
    params = list(params)
    opt = torch.optim.SGD(params, lr=lr) if sgd else torch.optim.Adam(params, lr=lr)
    losses, norms = np.zeros(steps), np.zeros(steps)
    for step in range(steps):
        loss = batch_loss()
        losses[step] = loss.item()
        norms[step] = update(opt, loss, clip)
    return losses, norms


def spread(values: Iterable[float], fmt: str = ".2f") -> str:
    """Per-seed results as 'median (min to max)'."""
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        raise ValueError("spread() needs at least one value")
    return f"{np.median(v):{fmt}} ({v.min():{fmt}} to {v.max():{fmt}})"


def event_batch(B: int, T: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Rare events x (T, B) of rate 1/T, and targets y (T, B): has an event happened at or before step t?"""
    x = (torch.rand(T, B, generator=generator) < 1 / T).float()
    return x, (x.cumsum(dim=0) > 0).float()


def last_k(x: torch.Tensor, K: int) -> torch.Tensor:
    """The window a feed-forward model sees at each step: x (T, B) -> (T, B, K), zero-padded before step 1."""
    if K < 1:
        raise ValueError(f"the window needs K >= 1 steps, got K={K}")
    return F.pad(x.T, (K - 1, 0)).unfold(1, K, 1).transpose(0, 1)


def recall_batch(B: int, T: int, V: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A stream of random symbols s (T, B) from an alphabet of V, and its one-hot encoding x (T, B, V)."""
    s = torch.randint(0, V, (T, B), generator=generator)
    return F.one_hot(s, V).float(), s


def recall_loss(model: nn.Module, x: torch.Tensor, s: torch.Tensor, d: int) -> torch.Tensor:
    """Cross-entropy of predicting s_{t-d} at every step t > d (the first d steps have no target)."""
    if not 1 <= d < len(s):
        raise ValueError(f"the delay d={d} must lie in [1, T) = [1, {len(s)})")
    logits, _ = model(x)
    return F.cross_entropy(logits[d:].reshape(-1, logits.shape[-1]), s[:-d].reshape(-1))


@torch.no_grad()
def recall_accuracy(model: nn.Module, x: torch.Tensor, s: torch.Tensor, d: int) -> float:
    """Fraction of the steps t > d at which the model's most probable symbol is s_{t-d}."""
    if not 1 <= d < len(s):
        raise ValueError(f"the delay d={d} must lie in [1, T) = [1, {len(s)})")
    return (model(x)[0][d:].argmax(-1) == s[:-d]).float().mean().item()


# --- Chapter 4: gated cells ---


def set_gate_bias(rnn: nn.Module, gate: int, value: float) -> nn.Module:
    """Set the summed bias of one stacked gate of an LSTM/GRU layer or cell (LSTM: 1 = forget; GRU: 1 = update) to value."""
    if not isinstance(rnn, (nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell)):
        raise ValueError(f"expected an nn.LSTM, nn.GRU, nn.LSTMCell or nn.GRUCell, got {type(rnn).__name__}")
    gates = 4 if isinstance(rnn, (nn.LSTM, nn.LSTMCell)) else 3
    if not 0 <= gate < gates:
        raise ValueError(f"gate must lie in [0, {gates}) for a {type(rnn).__name__}, got {gate}")
    H, suffix = rnn.hidden_size, "_l0" if isinstance(rnn, (nn.LSTM, nn.GRU)) else ""
    with torch.no_grad():
        getattr(rnn, "bias_ih" + suffix)[gate * H:(gate + 1) * H] = value
        getattr(rnn, "bias_hh" + suffix)[gate * H:(gate + 1) * H] = 0.0
    return rnn


def state_jacobian_norms(cell: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Run an nn.RNNCell/LSTMCell/GRUCell over x (T, D) from zeros; return ||d h_T / d state_{T-k}||_2 for k = 1 .. T (index k - 1).

    The state is h_t, or (h_t, c_t) for an LSTM; the norm is the spectral norm of the H x H (or H x 2H) Jacobian.
    """
    if not isinstance(cell, (nn.RNNCell, nn.LSTMCell, nn.GRUCell)) or x.ndim != 2 or x.shape[1] != cell.input_size:
        raise ValueError(f"expected an nn.RNNCell, LSTMCell or GRUCell and x of shape (T, {getattr(cell, 'input_size', '?')})")
    H, lstm = cell.hidden_size, isinstance(cell, nn.LSTMCell)
    state = (torch.zeros(1, H, requires_grad=True), torch.zeros(1, H, requires_grad=True)) if lstm else torch.zeros(1, H, requires_grad=True)
    states = []  # states[t] (t = 0 .. T-1) is state_t, the one step t + 1 reads, as a copy that only this step reads
    for x_t in x:
        # a copy, so that the gradient to c_{t-1} excludes the path c_{t-1} -> h_{t-1}: (h, c) are independent variables
        state = tuple(s.clone() for s in state) if lstm else state.clone()
        states.append(state)
        state = cell(x_t[None], state)
    h_T = state[0] if lstm else state
    flat = [s for st in states for s in (st if lstm else (st,))]
    rows = [torch.cat([g[0] for g in torch.autograd.grad(h_T[0, j], flat, retain_graph=True)]) for j in range(H)]
    J = torch.stack(rows).reshape(H, len(x), -1)  # J[:, t] = d h_T / d state_t, t = 0 .. T-1, (H, T, H or 2H)
    norms = torch.linalg.matrix_norm(J.transpose(0, 1), ord=2).numpy()  # norms[t]: k = T - t steps back
    return norms[::-1].copy()  # index k - 1 = distance k: d h_T / d state_{T-k}


def adding_batch(B: int, T: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The adding problem: inputs (T, B, 2) of a value in [0, 1) and a marker (1 at one step of each half); targets (B,): the two marked values' sum."""
    if T < 2:
        raise ValueError(f"the adding problem needs T >= 2 steps (one marker in each half), got T={T}")
    values = torch.rand(T, B, generator=generator)
    markers = torch.zeros(T, B)
    markers[torch.randint(0, T // 2, (B,), generator=generator), torch.arange(B)] = 1  # one in the first half
    markers[torch.randint(T // 2, T, (B,), generator=generator), torch.arange(B)] = 1  # one in the second half
    return torch.stack([values, markers], dim=-1), (values * markers).sum(0)


def adding_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the model's output at the last step only."""
    return F.mse_loss(model(x)[0][-1, :, 0], y)


def adding_model(cell: str, seed: int, H: int = 32, forget_bias: float | None = None) -> SequenceModel:
    """The untrained SequenceModel(cell) that train_adding starts from (the LSTM's forget-gate bias optionally set)."""
    if forget_bias is not None and cell != "lstm":
        raise ValueError(f"forget_bias applies to the LSTM only, got cell={cell!r}")
    torch.manual_seed(seed)
    model = SequenceModel(cell, D=2, H=H, V=1)
    if forget_bias is not None:
        set_gate_bias(model.rnn, 1, forget_bias)
    return model


def train_adding(cell: str, seed: int, T: int, H: int = 32, steps: int = STEPS, forget_bias: float | None = None):
    """Train SequenceModel(cell) on the adding problem (the LSTM's forget-gate bias optionally set); return the model, its losses and its test MSE."""
    model = adding_model(cell, seed, H, forget_bias)
    gen = torch.Generator().manual_seed(100 + seed)
    losses, _ = fit(model.parameters(), lambda: adding_loss(model, *adding_batch(BATCH, T, gen)), steps=steps)
    with torch.no_grad():
        test = adding_loss(model, *adding_batch(2000, T, gen)).item()
    return model, losses, test


def marked_recall_batch(B: int, T: int, V: int, generator: torch.Generator, first: int = 5):
    """Random symbols, one of them marked within the first `first` steps: inputs (T, B, V + 1), the marked symbol (B,), its step (B,)."""
    if not 1 <= first < T:
        raise ValueError(f"the marker must fall in the first `first` steps with 1 <= first < T; got first={first}, T={T}")
    s = torch.randint(0, V, (T, B), generator=generator)
    pos = torch.randint(0, first, (B,), generator=generator)
    marker = torch.zeros(T, B, 1)
    marker[pos, torch.arange(B)] = 1
    return torch.cat([F.one_hot(s, V).float(), marker], dim=-1), s[pos, torch.arange(B)], pos


def marked_recall_loss(model: nn.Module, x: torch.Tensor, symbol: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of naming the marked symbol at every step after the marker (mean over those steps)."""
    logits = model(x)[0]  # (T, B, V)
    T, B, V = logits.shape
    after = (torch.arange(T)[:, None] > pos[None, :]).float()
    losses = F.cross_entropy(logits.reshape(-1, V), symbol.repeat(T), reduction="none").reshape(T, B)
    return (losses * after).sum() / after.sum()


def train_marked_recall(cell: str, seed: int, T: int, V: int = 4, H: int = 32, steps: int = STEPS):
    """Train SequenceModel(cell) to name the marked symbol after the marker; return the model and its losses."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(100 + seed)
    model = SequenceModel(cell, D=V + 1, H=H, V=V)
    losses, _ = fit(model.parameters(), lambda: marked_recall_loss(model, *marked_recall_batch(BATCH, T, V, gen)), steps=steps)
    return model, losses


def local_max_batch(B: int, T: int, K: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Digits 0..K-1 one-hot x (T, B, K), and targets y (T, B): the largest of s_{t-1}, s_t, s_{t+1} (those that exist)."""
    if B < 1 or T < 1 or K < 2:
        raise ValueError(f"need B >= 1, T >= 1 and K >= 2 digits; got B={B}, T={T}, K={K}")
    s = torch.randint(0, K, (T, B), generator=generator)
    y = s.clone()
    y[1:] = torch.maximum(y[1:], s[:-1])  # the left neighbour
    y[:-1] = torch.maximum(y[:-1], s[1:])  # the right neighbour: the future, for a model that reads left to right
    return F.one_hot(s, K).float(), y
