"""The late additions of chapter 5 at a fixed number of updates: writes results/ch5_tweaks.jsonl.

    python book/results/ch5_tweaks.py ../shared/data/tinyshakespeare.txt > book/results/ch5_tweaks.jsonl

Each row trains `python -m rnnbook.train --text FILE --steps 1200 --threads 2` with the options shown
(the same code path: parse_args, config_from_args, CharRNN, train) and records the validation loss of the weights kept
and of the last weights. Two rows set the GRU's update-gate bias at initialisation, which the command
line cannot. The last row runs the command line itself with its defaults. About 40 minutes on 2 cores.
"""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
import sys

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from rnnbook.data import CharVocab, load_text
from rnnbook.models import CharRNN
from rnnbook.train import config_from_args, parse_args
from rnnbook.training import evaluate, train

OLD = "--beta1 0.9 --ema 0"  # the recipe of the search, before the two additions
ROWS = [(OLD, 0, 0), (OLD, 1, 0), ("--beta1 0.8 --ema 0", 0, 0), ("--beta1 0.7 --ema 0", 0, 0),
        ("--beta1 0.9 --ema 0.99", 0, 0), ("--beta1 0.8 --ema 0.99", 0, 0), ("--beta1 0.8 --ema 0.995", 0, 0),
        ("--beta1 0.9 --clip 5 --ema 0", 0, 0), ("--beta1 0.9 --ema 0 --weight-decay 0.1", 0, 0),
        ("--beta1 0.9 --ema 0 --embed 32", 0, 0), (OLD, 0, 1), (OLD, 0, -1),
        ("--beta1 0.8 --clip 5 --ema 0.99", 0, 0), ("--beta1 0.8 --clip 5 --ema 0.99", 1, 0),
        ("--beta1 0.7 --clip 5 --ema 0.99", 0, 0), ("--beta1 0.7 --clip 5 --ema 0.99", 1, 0),
        ("--beta1 0.8 --clip 5 --ema 0.99 --weight-decay 0.1", 0, 0)]
BASE = "--steps 1200 --threads 2 --quiet"


def run(path: str, options: str, seed: int, zbias: int) -> dict:
    """Train one row as the command line would, plus a shift of the update-gate bias; return its record."""
    args = parse_args(["--text", path, *shlex.split(f"{options} {BASE} --seed {seed}")])
    torch.set_num_threads(args.threads)
    train_text, val_text = load_text(path)
    vocab = CharVocab.from_text(train_text + val_text)
    cfg = config_from_args(args)
    torch.manual_seed(args.seed)
    model = CharRNN(len(vocab), args.embed, args.hidden, args.layers, args.cell, args.dropout)
    if zbias:
        with torch.no_grad():  # PyTorch's GRU orders its gates r, z, n: rows H..2H are the update gate z
            model.rnn.bias_ih_l0[args.hidden:2 * args.hidden] += zbias
    last = {}
    opt_hook = register_optimizer_step_post_hook(
        lambda opt, a, k: last.update(weights=copy.deepcopy(model.state_dict())))
    try:
        result = train(model, vocab.encode(train_text), vocab.encode(val_text), cfg, progress=False)
    finally:
        opt_hook.remove()
    model.load_state_dict(last["weights"])
    shown = options + (f" (update-gate bias {zbias:+d} at initialisation)" if zbias else "")
    last_val = evaluate(model, vocab.encode(val_text), bf16=result["bf16"])
    return {"options": shown, "seed": seed, "val_loss": result["val_loss"], "last_weights_val_loss": round(last_val, 4),
            "steps": result["steps"], "train_seconds": result["train_seconds"], "chars_per_second": result["chars_per_second"]}


def main(path: str) -> None:
    for options, seed, zbias in ROWS:
        print(json.dumps(run(path, options, seed, zbias)), flush=True)
    cli = [sys.executable, "-m", "rnnbook.train", "--text", path, *shlex.split(BASE)]
    out = json.loads(subprocess.run(cli, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    print(json.dumps({"options": "(defaults)", "seed": 0, **{k: out[k] for k in
                      ("val_loss", "steps", "train_seconds", "chars_per_second")}}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
