"""Every `literalinclude` with `:pyobject:` in the book names a function or class that exists in the included file."""

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r"```\{literalinclude\} (\S+)\n:pyobject: (\S+)")


def includes():
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "markdown":
                for path, obj in INCLUDE.findall("".join(cell["source"])):
                    yield nb.name, (nb.parent / path).resolve(), obj


def defined(path: Path) -> set[str]:
    """Top-level functions and classes of a Python file, and Class.method for their methods."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names |= {f"{node.name}.{m.name}" for m in node.body if isinstance(m, ast.FunctionDef)}
    return names


def test_every_included_object_exists():
    found = list(includes())
    assert any(obj == "fit" for _, _, obj in found)  # the chapters do include rnnbook.tasks
    missing = [(nb, str(path.relative_to(ROOT)), obj) for nb, path, obj in found
               if not path.exists() or obj not in defined(path)]
    assert not missing, missing
