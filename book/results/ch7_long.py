"""Chapter 7's longer runs: writes results/ch7_long.jsonl.

    python book/results/ch7_long.py --steps 200 1500 --seeds 0 1 2 > book/results/ch7_long.jsonl

Trains the encoder–decoder without and with attention of `rnnbook.seq2seq` on the chapter's split (seed 0),
for each number of updates and each seed, on one torch thread, and records the exact-match accuracy of
greedy decoding on the test numbers, overall and by input length. The chapter trains the short runs live
and checks them against the rows with the same number of updates.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

import numpy as np
import torch

from rnnbook.seq2seq import (accuracy_by_length, batch, chinese_numeral, greedy_decode, split_values, tgt_text,
                             train_seq2seq)

SIZES = (4000, 500, 1000)  # train, validation, test: the chapter's split


def main() -> None:
    """Train, score and print one JSON line per (steps, model, seed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[200, 1500])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, _, test = split_values(SIZES, seed=0)
    x, lengths, _, _ = batch(test)
    for steps in args.steps:
        for attention in (False, True):
            for seed in args.seeds:
                with contextlib.redirect_stdout(sys.stderr):  # the training's progress line, not a result
                    model = train_seq2seq(attention, train, seed, steps=steps)
                outs, _ = greedy_decode(model, x, lengths)
                correct = [tgt_text(o) == chinese_numeral(n) for o, n in zip(outs, test)]
                by_len = accuracy_by_length(correct, lengths.tolist())
                print(json.dumps({"steps": steps, "attention": attention, "seed": seed,
                                  "accuracy": round(float(np.mean(correct)), 4),
                                  "by_length": {f"{lo}-{hi}": round(a, 4) for (lo, hi), a in by_len.items()}}),
                      flush=True)


if __name__ == "__main__":
    main()
