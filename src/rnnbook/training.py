"""Training a character-level language model: stateful truncated BPTT, AdamW, clipping, a schedule, evaluation."""

from __future__ import annotations

import contextlib
import copy
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm

from rnnbook.data import WindowDataset, stream_batches

BATCHINGS = ("streams", "chunks", "windows")


@dataclass
class TrainConfig:
    """The recipe: batching, optimiser, schedule and stopping rule (a number of steps or a wall-clock budget)."""

    batch_size: int = 128       # B parallel streams of text
    batching: str = "streams"   # "streams": state carried; "chunks": the same chunks from a zero state;
                                # "windows": shuffled overlapping windows (one per position) from a zero state
    seq_len: int = 16           # T characters between two truncations of backpropagation
    lr: float = 5e-3            # peak learning rate of AdamW
    beta1: float = 0.7          # AdamW's momentum: the decay of its running mean of gradients
    beta2: float = 0.99         # the decay of AdamW's running mean of squared gradients
    weight_decay: float = 0.01  # AdamW's decoupled weight decay (matrices only)
    warmup: int = 50            # steps of linear warm-up from 0 to lr
    min_lr: float = 0.1         # the cosine decay ends at min_lr * lr
    clip: float = 1.0           # maximum global norm of the gradient (0: no clipping)
    steps: int | None = None    # stop after this many updates ...
    budget: float | None = None  # ... or after this many seconds of training
    eval_every: int | None = None  # evaluate every N steps and keep the best weights (early stopping)
    ema: float = 0.99           # the model kept is a moving average of the weights with this decay (0: the last weights)
    seed: int = 0
    precision: str = "auto"     # "bf16" autocast, "fp32", or "auto": bf16 where the hardware runs it natively

    def __post_init__(self):
        if (self.steps is None) == (self.budget is None):
            raise ValueError(f"give exactly one of steps={self.steps} and budget={self.budget}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps={self.steps} must be >= 1")
        if self.budget is not None and not self.budget > 0:
            raise ValueError(f"budget={self.budget} seconds must be > 0")
        for name in ("batch_size", "seq_len", "eval_every"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if self.batching not in BATCHINGS:
            raise ValueError(f"batching={self.batching!r}; valid values are {', '.join(map(repr, BATCHINGS))}")
        bad = [f"{name}={getattr(self, name)}" for name, ok in (("lr", self.lr > 0), ("clip", self.clip >= 0),
               ("weight_decay", self.weight_decay >= 0), ("min_lr", 0 <= self.min_lr <= 1), ("warmup", self.warmup >= 0))
               if not ok]
        if bad:
            raise ValueError(f"{', '.join(bad)}: need lr > 0, clip >= 0 (0: no clipping), weight_decay >= 0, "
                             "0 <= min_lr <= 1 and warmup >= 0")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and 0 <= self.ema < 1):
            raise ValueError(f"beta1={self.beta1}, beta2={self.beta2} and ema={self.ema} must be in [0, 1)")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision={self.precision!r}; valid values are 'auto', 'bf16' and 'fp32'")


def lr_at(cfg: TrainConfig, step: int, progress: float) -> float:
    """Linear warm-up over `cfg.warmup` steps, then cosine decay from lr to min_lr * lr as progress goes 0 -> 1."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    cos = 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
    return cfg.lr * (cfg.min_lr + (1 - cfg.min_lr) * cos)


def bf16_works(model: nn.Module, device: torch.device) -> bool:
    """Whether this hardware runs bfloat16 natively and this model trains under bfloat16 autocast."""
    try:
        native = (torch.cuda.is_bf16_supported() if device.type == "cuda"
                  else torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    if not native:
        return False
    trial = copy.deepcopy(model)
    try:  # some kernels (oneDNN's LSTM on some CPUs) refuse bfloat16: try one step on a copy
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits, _ = trial(torch.zeros(2, 3, dtype=torch.long, device=device))
        logits.float().sum().backward()
        return True
    except RuntimeError:
        return False


def autocast(device: torch.device, bf16: bool):
    """bfloat16 autocast on device, or nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def detach(state):
    """Cut the graph behind a hidden state (a tensor, or the LSTM's (h, c)), keeping its values."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def select_stream(state, b: int):
    """The state of stream b alone, batch size 1."""
    return tuple(s[:, b:b + 1] for s in state) if isinstance(state, tuple) else state[:, b:b + 1]


@torch.no_grad()
def evaluate(model: nn.Module, ids: torch.Tensor, batch_size: int = 64, seq_len: int = 256, bf16: bool = False) -> float:
    """Mean cross-entropy in nats per character over the whole of ids, the hidden state carried throughout.

    The text is cut into `batch_size` contiguous streams read in parallel, and the characters left over
    continue the last stream, so that every character after the first is predicted exactly once.
    """
    if len(ids) < 2:
        raise ValueError(f"need at least 2 characters to evaluate, got {len(ids)}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = ids.to(device)
    B = min(batch_size, len(ids) - 1)
    total, state = 0.0, None
    with autocast(device, bf16):
        for x, y in stream_batches(ids, B, seq_len):
            logits, state = model(x, state)
            total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum").item()
        n = (len(ids) - 1) // B
        if B * n < len(ids) - 1:  # the tail continues stream B-1, which ends where it starts
            x, y = ids[B * n:-1][None], ids[B * n + 1:][None]
            logits, _ = model(x, select_stream(state, B - 1))
            total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum").item()
    model.train(was_training)
    return total / (len(ids) - 1)


@torch.no_grad()
def evaluate_windows(model: nn.Module, ids: torch.Tensor, seq_len: int = 100, batch_size: int = 64,
                     bf16: bool = False) -> float:
    """Mean cross-entropy in nats per character over ids, scored the way a window-trained model reads text.

    Windows of `seq_len` characters, each from a zero state, overlap by half: each scores only the
    predictions of its second half, so that every one has at least seq_len // 2 characters of context.
    The first window scores all its predictions and a last window, flush with the end, scores what is left,
    so that every character after the first is predicted exactly once, as in `evaluate`.
    """
    if seq_len < 2:
        raise ValueError(f"seq_len={seq_len} must be >= 2")
    if len(ids) < 2:
        raise ValueError(f"need at least 2 characters to evaluate, got {len(ids)}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x, y = ids[:-1].to(device), ids[1:].to(device)
    n, T = len(x), min(seq_len, len(x))
    stride = T - T // 2
    starts = list(range(0, n - T + 1, stride))
    firsts = [0] + [T // 2] * (len(starts) - 1)  # the first prediction each window scores
    if starts[-1] + T < n:  # a last window, flush with the end, scores the predictions not yet scored
        firsts.append(starts[-1] + T - (n - T))
        starts.append(n - T)
    total = 0.0
    with autocast(device, bf16):
        for i in range(0, len(starts), batch_size):
            idx = torch.tensor(starts[i:i + batch_size], device=device)[:, None] + torch.arange(T, device=device)
            logits, _ = model(x[idx])
            losses = F.cross_entropy(logits.float().transpose(1, 2), y[idx], reduction="none")  # (B, T)
            scored = torch.arange(T, device=device) >= torch.tensor(firsts[i:i + batch_size], device=device)[:, None]
            total += losses[scored].sum().item()
    model.train(was_training)
    return total / n


def ema_update(decay: float):
    """The update of a moving average of the weights, for `AveragedModel`: average <- d * average + (1 - d) * weights.

    The decay d is min(decay, (1 + n) / (10 + n)) after n updates, so that a short run does not keep the
    weights of its first steps: after 40 updates d is 0.82, and it reaches 0.99 only after 890.
    """
    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor) -> None:
        d = min(decay, (1 + int(n)) / (10 + int(n)))
        for a, c in zip(averaged, current):
            a.lerp_(c, 1 - d)
    return update


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices only (not on biases, not on the embedding)."""
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith("embed")]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and not n.startswith("embed"))]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": other, "weight_decay": 0.0}], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def batches(train_ids: torch.Tensor, cfg: TrainConfig, epoch: int, rng: random.Random):
    """One epoch of (x, y) batches (B, T) as `cfg.batching` asks: contiguous streams, or shuffled windows."""
    if cfg.batching == "windows":
        g = torch.Generator().manual_seed(rng.randrange(2 ** 31))
        return iter(torch.utils.data.DataLoader(WindowDataset(train_ids, cfg.seq_len), batch_size=cfg.batch_size,
                                                shuffle=True, generator=g, drop_last=True))
    offset = 0 if epoch == 0 else rng.randrange(cfg.seq_len)  # later epochs cut the chunks elsewhere
    return stream_batches(train_ids, cfg.batch_size, cfg.seq_len, offset)


def _call(callback: Callable[[int, nn.Module], None], step: int, weights: nn.Module) -> None:
    """Call callback(step, weights) without gradients, and leave the weights in the mode they were in."""
    was_training = weights.training
    with torch.no_grad():
        callback(step, weights)
    weights.train(was_training)


def train(model: nn.Module, train_ids: torch.Tensor, val_ids: torch.Tensor | None, cfg: TrainConfig,
          progress: bool = True, callback: Callable[[int, nn.Module], None] | None = None,
          callback_every: int = 0) -> dict:
    """Train model on train_ids with stateful truncated BPTT; return the loss history and the final metrics.

    Each epoch reads the text as `cfg.batch_size` contiguous streams, `cfg.seq_len` characters at a time,
    carrying the hidden state from chunk to chunk (detached, so gradients stop at the chunk boundary).
    Epochs after the first start at a random offset, so that chunk boundaries move. (With
    `cfg.batching` "chunks" every chunk starts from a zero state instead, and "windows" reads shuffled
    overlapping windows from a zero state: the two recipes of many tutorials, for comparison.)
    With `cfg.ema`, the weights evaluated and kept are an exponential moving average of the weights after
    each update (Polyak averaging), which smooths out the noise of the last updates.
    With `cfg.eval_every`, the model is evaluated on val_ids every so many steps (the time counts against
    the budget) and, at the end, the weights with the lowest validation loss are the ones kept.
    With `callback`, `callback(step, weights)` is called after every `callback_every` updates (and after
    none, with step 0), with the weights that would be kept at that point (the average, with `cfg.ema`),
    e.g. to print a sample; its time counts against the budget.
    """
    if callback is not None and (not isinstance(callback_every, int) or callback_every < 1):
        raise ValueError(f"callback_every={callback_every!r} must be an integer >= 1 when a callback is given")
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = next(model.parameters()).device
    train_ids = train_ids.to(device)
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and bf16_works(model, device))
    opt = make_optimizer(model, cfg)
    average = AveragedModel(model, multi_avg_fn=ema_update(cfg.ema)) if cfg.ema else None
    kept = average.module if average else model  # the weights that are evaluated and, in the end, returned
    model.train()
    history, step, chars, epoch = [], 0, 0, 0
    val_history, best = [], None  # best: (val loss, step, weights) of the best periodic evaluation
    bar = tqdm(total=cfg.steps if cfg.steps else round(cfg.budget), unit="step", disable=not progress, file=sys.stderr,
               mininterval=1.0, dynamic_ncols=True,
               bar_format=None if cfg.steps else "{l_bar}{bar}| {n}/{total} s of the budget{postfix}")
    start = time.perf_counter()
    if callback is not None:
        _call(callback, 0, kept)
    done = False
    while not done:
        state = None
        for x, y in batches(train_ids, cfg, epoch, rng):
            if cfg.batching != "streams":
                state = None
            elapsed = time.perf_counter() - start
            frac = step / cfg.steps if cfg.steps else elapsed / cfg.budget
            for group in opt.param_groups:
                group["lr"] = lr_at(cfg, step, frac)
            with autocast(device, bf16):
                logits, state = model(x, state)
            loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            if average:
                average.update_parameters(model)
            state = detach(state)
            step += 1
            chars += y.numel()
            if cfg.eval_every and val_ids is not None and step % cfg.eval_every == 0:
                val = evaluate(kept, val_ids, bf16=bf16)
                val_history.append((step, round(val, 4), round(time.perf_counter() - start, 1)))
                bar.write(f"step {step:,}: validation loss {val:.4f}", file=sys.stderr)  # also without the bar
                if best is None or val < best[0]:
                    best = (val, step, copy.deepcopy(kept.state_dict()))
            if callback is not None and step % callback_every == 0:
                _call(callback, step, kept)
            elapsed = time.perf_counter() - start
            history.append((step, loss.item(), elapsed))
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{opt.param_groups[0]['lr']:.1e}", refresh=False)
            bar.update(1 if cfg.steps else round(min(elapsed, cfg.budget)) - bar.n)
            if (cfg.steps and step >= cfg.steps) or (cfg.budget and elapsed >= cfg.budget):
                done = True
                break
        epoch += 1
    bar.close()
    if average:
        model.load_state_dict(kept.state_dict())
    train_seconds = time.perf_counter() - start
    result = {"steps": step, "epochs": round(chars / len(train_ids), 3), "train_seconds": round(train_seconds, 2),
              "chars_per_second": round(chars / train_seconds), "bf16": bf16,
              "train_loss": round(sum(h[1] for h in history[-20:]) / len(history[-20:]), 4), "history": history}
    if val_ids is not None:
        t = time.perf_counter()
        final = evaluate(model, val_ids, bf16=bf16)
        val, best_step = final, step
        if best is not None and best[0] < final:  # early stopping: go back to the best weights seen
            val, best_step = best[0], best[1]
            model.load_state_dict(best[2])
        result.update(val_loss=round(val, 4), val_bpc=round(val / math.log(2), 4), final_val_loss=round(final, 4),
                      best_step=best_step, val_history=val_history, eval_seconds=round(time.perf_counter() - t, 2))
    result["config"] = asdict(cfg)
    return result
