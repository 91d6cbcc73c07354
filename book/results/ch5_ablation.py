"""Chapter 5's measured comparisons on the plays: writes results/ch5_ablation.jsonl and results/ch5_cell_seeds.jsonl.

    python book/results/ch5_ablation.py ablation --chars 1000000 --seeds 0 1 2 > book/results/ch5_ablation.jsonl
    python book/results/ch5_ablation.py cells --chars 1000000 --seeds 0 1 2 > book/results/ch5_cell_seeds.jsonl
    python book/results/ch5_ablation.py timing --repeat 3 >> book/results/ch5_ablation.jsonl

`ablation` trains each recipe of `rnnbook.bench.ladder()`, from the naive recipe to the book's one factor
at a time, on `rnnbook.data.shakespeare()` for a fixed number of training characters (so that the losses do
not depend on how fast or how busy the machine is), with each seed, on one torch thread, and scores it on
the validation plays with the state carried and in half-overlapping windows of 100 characters.
`cells` does the same for the book's recipe with an RNN and an LSTM cell (with a GRU, it is the ladder's last recipe),
and for the plain RNN given the GRU's CPU time: RNN_SPEEDUP times as many characters.
`timing` measures the characters per second of every recipe over a few updates, separately, in CPU time
on one thread, `--repeat` times in turn (their median is robust to a disturbed one): an indication for the
machine it runs on, which it names. `--part K/N` runs every N-th row only, from the K-th,
so that N processes can share the rows; sorting their lines by (kind, index, seed) gives the files.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from rnnbook.bench import BOOK, run_recipe, ladder
from rnnbook.data import CharVocab, shakespeare
from rnnbook.train import machine

CELLS = ("rnn", "lstm")  # and the GRU: the book's recipe, the last of the ladder
RNN_SPEEDUP = 3.2  # the plain RNN's characters per second over the GRU's, with the book's recipe, in a first `timing`


def rows(kind: str, seeds: list[int]) -> list[dict]:
    """The rows of one kind, seed by seed: {kind, index, name, recipe, seed}."""
    if kind == "cells":  # and the plain RNN given the GRU's CPU time: RNN_SPEEDUP times the characters
        recipes = [(cell, dict(BOOK, cell=cell), 1.0) for cell in CELLS]
        recipes.append(("rnn, the GRU's time", dict(BOOK, cell="rnn"), RNN_SPEEDUP))
    else:
        recipes = [(name, recipe, 1.0) for name, recipe in ladder()]
    return [dict(kind=kind, index=i, name=name, recipe=recipe, seed=seed, chars_factor=factor)
            for seed in seeds for i, (name, recipe, factor) in enumerate(recipes)]


def curve(history: list[tuple], chars_per_step: int, points: int = 40) -> list[list[float]]:
    """The training loss averaged over `points` equal blocks of updates: [[characters read, mean loss]]."""
    n = len(history)
    out = []
    for k in range(1, points + 1):
        block = history[(k - 1) * n // points:k * n // points]
        if block:
            out.append([block[-1][0] * chars_per_step, round(sum(h[1] for h in block) / len(block), 4)])
    return out


def train_row(row: dict, data: tuple, chars: int) -> dict:
    """Train and score one row for `chars` training characters; return its record."""
    train_ids, val_ids, V = data
    recipe = row["recipe"]
    per_step = recipe["batch_size"] * recipe["seq_len"]
    r = run_recipe(recipe, train_ids, val_ids, V, row["seed"], steps=math.ceil(chars * row["chars_factor"] / per_step))
    keys = ("val_loss", "val_bpc", "val_loss_windows", "train_loss", "chars", "steps", "params", "bf16")
    return dict(row, **{k: r[k] for k in keys}, curve=curve(r["history"], per_step))


def time_row(row: dict, data: tuple, steps: int = 30, skip: int = 10) -> dict:
    """Characters per second of CPU time of one recipe: `steps` updates less `skip` updates, so that set-up cancels.

    CPU time rather than wall-clock time, so that other jobs on the machine do not slow the measurement down.
    """
    train_ids, val_ids, V = data
    cpu = []
    for n in (skip, steps):
        start = time.process_time()
        r = run_recipe(row["recipe"], train_ids, val_ids[:2000], V, row["seed"], steps=n)
        cpu.append(time.process_time() - start)
    per_step = row["recipe"]["batch_size"] * row["recipe"]["seq_len"]
    speed = (steps - skip) * per_step / (cpu[1] - cpu[0])
    return dict(row, chars_per_second=round(speed), bf16=r["bf16"], machine=machine())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("kind", choices=["ablation", "cells", "timing"])
    p.add_argument("--chars", type=int, default=1_000_000, help="training characters per run")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--part", default="0/1", help="K/N: run rows K, K+N, K+2N, ...")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="timing: measure every recipe this many times, in turn")
    args = p.parse_args(argv)
    k, n = map(int, args.part.split("/"))
    torch.set_num_threads(args.threads)
    train_text, val_text = shakespeare()
    vocab = CharVocab.from_text(train_text + val_text)
    data = (vocab.encode(train_text), vocab.encode(val_text), len(vocab))
    if args.kind == "timing":
        todo = [dict(r, kind="timing", repeat=k) for k in range(args.repeat)
                for r in rows("ablation", [0]) + rows("cells", [0])[:len(CELLS)]]
    else:
        todo = rows(args.kind, args.seeds)
    command = f"python book/results/ch5_ablation.py {args.kind} --threads {args.threads}" + (
        f" --repeat {args.repeat}" if args.kind == "timing" else
        f" --chars {args.chars} --seeds {' '.join(map(str, args.seeds))}")
    if args.kind == "timing":
        time_row(todo[0], data, steps=3, skip=1)  # a first, untimed run pays the one-time costs (imports, kernels)
    for row in todo[k::n]:
        record = time_row(row, data) if args.kind == "timing" else train_row(row, data, args.chars)
        print(json.dumps(dict(record, command=command, threads=args.threads)), flush=True)


if __name__ == "__main__":
    main()
