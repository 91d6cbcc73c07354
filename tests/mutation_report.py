"""The mutation score of each module after `make mutate`: killed / total, and the surviving mutants by name.

Reads mutmut's results from mutants/src/rnnbook/*.py.meta. A mutant counts as killed when a test failed
(exit code 1) or it ran past its time limit (a mutant that loops forever is caught too). Survivors are
listed with the reason given in tests/MUTANTS.md, or flagged as unexplained. Run from the repository root:
    python tests/mutation_report.py [GLOB ...]    (the globs of `make mutate`; default: every mutant)
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections import defaultdict
from pathlib import Path


from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def main(globs: list[str]) -> int:
    # the first column of the table of equivalent mutants in tests/MUTANTS.md
    text = Path("tests/MUTANTS.md").read_text(encoding="utf-8")
    justified = set(re.findall(r"^\| `(rnnbook\.[^`]+__mutmut_\d+)`", text, flags=re.M))
    score, unexplained = defaultdict(lambda: [0, 0, 0, 0]), []
    for meta in sorted(Path("mutants/src/rnnbook").glob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if globs and not any(fnmatch.fnmatch(name, g) for g in globs):
                continue
            module = name.split(".")[1]
            s = score[module]
            s[3] += 1
            if code is None:
                continue  # not run yet
            s[1] += 1
            if status_by_exit_code[code] in KILLED:
                s[0] += 1
            elif name in justified:
                s[2] += 1
            else:
                unexplained.append(f"{name} ({status_by_exit_code[code]})")
    print("module        killed / run   (+ justified equivalents)   score                                  mutants run")
    for module, (killed, run, equivalent, total) in sorted(score.items()):
        print(f"{module:12s} {killed:6d} / {run:<6d} (+ {equivalent:3d})  {100 * killed / max(run, 1):5.1f}% killed, "
              f"{100 * (killed + equivalent) / max(run, 1):5.1f}% killed or justified   {run} of {total}")
    for line in unexplained:
        print("unexplained survivor:", line)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
