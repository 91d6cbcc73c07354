"""The synthetic tasks of chapters 1-3 and the small training loop that fits models to them."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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


def local_max_batch(B: int, T: int, K: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Digits 0..K-1 one-hot x (T, B, K), and targets y (T, B): the largest of s_{t-1}, s_t, s_{t+1} (those that exist)."""
    if B < 1 or T < 1 or K < 2:
        raise ValueError(f"need B >= 1, T >= 1 and K >= 2 digits; got B={B}, T={T}, K={K}")
    s = torch.randint(0, K, (T, B), generator=generator)
    y = s.clone()
    y[1:] = torch.maximum(y[1:], s[:-1])  # the left neighbour
    y[:-1] = torch.maximum(y[:-1], s[1:])  # the right neighbour: the future, for a model that reads left to right
    return F.one_hot(s, K).float(), y
