"""``xtgeo bench``: run one of the scripts in ``benchmarks/`` by name, with its own arguments.

The scripts live beside ``cli.py`` in a source checkout (``pip install -e .``); each prints a table.
"""

from __future__ import annotations

import ast
import runpy
import sys
from pathlib import Path

from xtgeo.errors import XtgeoError

BENCHMARKS_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


def available() -> dict[str, str]:
    """Benchmark name → the first line of its docstring."""
    if not BENCHMARKS_DIR.is_dir():
        return {}
    found = {}
    for script in sorted(BENCHMARKS_DIR.glob("*.py")):
        doc = ast.get_docstring(ast.parse(script.read_text())) or ""
        found[script.stem] = doc.splitlines()[0] if doc else ""
    return found


def run(name: str, args: list[str]) -> None:
    """Run ``benchmarks/<name>.py`` as ``__main__`` with ``args`` as its command line."""
    scripts = available()
    if name not in scripts:
        where = f"in {BENCHMARKS_DIR}" if scripts else f"({BENCHMARKS_DIR} is missing: use a source checkout)"
        raise XtgeoError(f"{name}: no such benchmark {where}; choose one of: {', '.join(scripts) or 'none'}")
    script = BENCHMARKS_DIR / f"{name}.py"
    saved_argv = sys.argv
    sys.argv = [str(script), *args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = saved_argv
