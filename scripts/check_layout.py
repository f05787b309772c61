"""The package's shape: no import cycle between fer's modules, no module over MAX_LINES lines, and the layers
import only downwards: core < features (training, video, bench) < ui < cli; a `__main__` module is an entry point
above them all. Prints what it finds; exit 1 on a fault.

    python scripts/check_layout.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fer"
MAX_LINES = 300
# bottom to top; a module imports only from its own layer or those below (core: every module not listed)
LAYERS = (
    ("core", ()),
    ("features", ("fer.training", "fer.video", "fer.bench")),
    ("ui", ("fer.ui",)),
    ("cli", ("fer.cli",)),
)
ENTRY_POINT = "__main__"  # `python -m fer`, `python -m fer.bench`: shims that call the CLI


def layer(module: str) -> int:
    """The index of `module`'s layer in LAYERS (an entry point is above them all)."""
    if module.split(".")[-1] == ENTRY_POINT:
        return len(LAYERS)
    return max(i for i, (_, prefixes) in enumerate(LAYERS) if not prefixes or module.startswith(prefixes))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """fer modules imported anywhere in `path` (inside functions too): `from fer.x import y` names fer.x.y if a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in modules}
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first search (one per back edge)."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def main() -> int:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    # a package's __init__ is not an edge target for `from fer.x import y` when y is a module of it
    graph = {module_name(p): imports(p, modules) - {module_name(p)} for p in paths}
    graph = {m: {d for d in deps if not (m.startswith(d + ".") and d in modules)} for m, deps in graph.items()}
    faults = 0
    for cycle in cycles(graph):
        print("import cycle: " + " -> ".join(cycle))
        faults += 1
    for path in paths:
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            print(f"{path.relative_to(PACKAGE.parent)}: {lines} lines (limit {MAX_LINES})")
            faults += 1
    for module, deps in sorted(graph.items()):
        for dep in sorted(d for d in deps if layer(d) > layer(module)):
            print(f"layer: {module} ({LAYERS[layer(module)][0]}) imports {dep} ({LAYERS[layer(dep)][0]})")
            faults += 1
    print(f"{len(modules)} modules, {sum(map(len, graph.values()))} imports between them: {faults} fault(s)")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
