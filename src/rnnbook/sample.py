"""Generate text from a checkpoint of `python -m rnnbook.train`, or from the shipped model.

    python -m rnnbook.sample runs/gru --prompt "ROMEO:" --length 500 --temperature 0.8 --seed 1

Prints the prompt and the generated characters, exactly what `rnnbook.sampling.generate` returns for the same
settings. --temperature 0 is greedy decoding (argmax). --stream prints each character as it is drawn;
Ctrl-C then stops cleanly, after the text so far (exit status 130).
"""

from __future__ import annotations

import argparse
import sys

from rnnbook import cli
from rnnbook.checkpoint import load_checkpoint
from rnnbook.pretrained import load_pretrained
from rnnbook.sampling import generate, sample_chars


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line."""
    p = cli.parser("sample", __doc__)
    p.add_argument_group("model").add_argument(
        "checkpoint", nargs="?", metavar="CHECKPOINT", help="PATH, PATH.safetensors or PATH.json of a model "
        "saved by `python -m rnnbook.train --out PATH` (default: the shipped Shakespeare model)")
    text = p.add_argument_group("text")
    text.add_argument("--prompt", default="", help="text the model reads first; it starts the output "
                      "(default: empty, the model starts after a newline)")
    text.add_argument("--length", type=int, default=200, help="characters to generate after the prompt")
    text.add_argument("--unknown", choices=["error", "skip", "replace"], default="error",
                      help="what to do with prompt characters outside the model's vocabulary (replace: by a space)")
    sampling = p.add_argument_group("sampling")
    sampling.add_argument("--temperature", type=float, default=1.0, help="0: greedy (argmax); below 1 "
                          "sharper, above 1 flatter than the model's own distribution")
    sampling.add_argument("--top-k", type=int, help="draw from the K most probable characters only "
                          "(default: no limit)")
    sampling.add_argument("--top-p", type=float, help="draw from the fewest most probable characters whose "
                          "probabilities add up to at least P (nucleus sampling; default: no limit)")
    sampling.add_argument("--seed", type=int, help="the same seed and settings give the same text (default: a "
                          "different draw each run)")
    output = p.add_argument_group("output")
    output.add_argument("--stream", action="store_true", help="print each character as soon as it is drawn")
    cli.add_debug(output)
    p.add_argument_group("machine").add_argument(
        "--threads", type=int, default=1, help="torch threads; one character at a time is too little work to share")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> str:
    """Run the command; print and return the text."""
    args = parse_args(argv)
    cli.set_threads(args.threads)
    model, vocab = load_checkpoint(args.checkpoint)[:2] if args.checkpoint else load_pretrained()
    settings = dict(prompt=args.prompt, length=args.length, temperature=args.temperature, top_k=args.top_k,
                    top_p=args.top_p, seed=args.seed, unknown=args.unknown)
    if not args.stream:
        text = generate(model, vocab, **settings)
        print(text, flush=True)
        return text
    chars = sample_chars(model, vocab, **settings)
    text = args.prompt + next(chars, "")  # bad settings or prompt raise here, before anything is printed
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        for c in chars:
            sys.stdout.write(c)
            sys.stdout.flush()
            text += c
    finally:  # also on Ctrl-C: the text so far, then a newline
        sys.stdout.write("\n")
        sys.stdout.flush()
    return text


if __name__ == "__main__":
    cli.run(main, parse_args)
