"""What the command lines (train, bench, sample) share: help that shows each default once, and errors as one line.

Bad input raises a ValueError with a precise message wherever it is found; `run` turns it (or an OSError)
into one line `error: <message>` on stderr and exit status 2, the status of argparse's own usage errors.
`--debug` shows the Python traceback instead. Ctrl-C ends a command quietly with status 130.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import torch


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: ...)" after each option, unless its help already says the default or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, argparse.SUPPRESS) or isinstance(action.default, bool) or "default" in text:
            return text
        return super()._get_help_string(action)


def parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """An argument parser for `python -m rnnbook.<prog>`, described by the first line of the module's docstring."""
    return argparse.ArgumentParser(prog=f"python -m rnnbook.{prog}", description=doc.strip().split("\n")[0],
                                   formatter_class=HelpFormatter)


def add_debug(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The --debug flag that `run` looks for."""
    group.add_argument("--debug", action="store_true", help="on an error, show the Python traceback")


def set_threads(threads: int | None) -> None:
    """Set torch's thread count (None: leave torch's choice, one per core)."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads {threads}: need at least 1")
        torch.set_num_threads(threads)


def run(main: Callable[[list[str]], object], parse_args: Callable[[list[str]], argparse.Namespace],
        argv: list[str] | None = None) -> None:
    """Run main(argv) as a command: bad input is one `error: ...` line on stderr and exit status 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = parse_args(argv).debug  # argparse's usage errors exit here, with status 2
    try:
        main(argv)
    except BrokenPipeError:  # the reader went away (`... | head`): nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except (ValueError, OSError) as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        if debug:
            raise
        sys.exit(130)  # 128 + SIGINT, what a shell reports for a command stopped with Ctrl-C
