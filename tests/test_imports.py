"""The import graph: no module-level cycles among xtgeo, pipelines and the CLI modules."""

from __future__ import annotations

import ast

from tests.paths import REPO

PACKAGES = ("xtgeo", "pipelines")
ROOT_MODULES = ("cli", "cli_options")


def module_name(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, object]:
    files = [p for package in PACKAGES for p in (REPO / package).rglob("*.py")]
    files += [REPO / f"{name}.py" for name in ROOT_MODULES]
    return {module_name(path): path for path in files}


def top_level_imports(path, name: str, modules) -> set[str]:
    """Our modules that ``path`` imports when it is imported (not inside functions)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.parse(path.read_text()).body:  # module level only
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from this module's package up
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_level_import_cycles():
    modules = our_modules()
    graph = {name: top_level_imports(path, name, modules) for name, path in modules.items()}
    assert len(graph) > 60 and graph["xtgeo.predict.scene"] >= {"xtgeo.models", "xtgeo.train.checkpoint"}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
