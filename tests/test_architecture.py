"""The package's import graph: acyclic, and every import points down the layers.

Parses every module's AST (imports inside functions included), so a cycle cannot
hide behind a function-level import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import bayes_density

PACKAGE = Path(bayes_density.__file__).resolve().parent

# lower layers first; a module may import its own layer or any layer below it
LAYERS = [
    ("bayes_density.errors", "bayes_density.constants"),
    ("bayes_density.data",),
    ("bayes_density.model",),
    ("bayes_density.inference",),
    ("bayes_density.posterior",),
    ("bayes_density.checks",),
    ("bayes_density.sweeps",),
    ("bayes_density.present",),
    ("bayes_density.analysis",),
    ("bayes_density.cli",),
    ("bayes_density",),  # the package's __init__: the public names
]


def _module_name(path: Path) -> str:
    parts = ("bayes_density",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_pkg, node)
                # `from pkg import module` imports pkg.module; `from module import name` imports module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                if t.startswith("bayes_density") and t != mod:
                    while t not in mods and "." in t:
                        t = t.rsplit(".", 1)[0]
                    if t in mods and t != mod:
                        graph[mod].add(t)
    return graph


def layer(mod: str) -> int:
    best = None
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if mod == p or mod.startswith(p + "."):
                if best is None or len(p) > best[1]:
                    best = (i, len(p))
    assert best is not None, mod
    return best[0]


def test_every_module_has_a_layer():
    for mod in _modules():
        layer(mod)


def test_import_graph_is_acyclic():
    graph = import_graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_imports_point_down_the_layers():
    bad = [f"{m} (layer {layer(m)}) imports {n} (layer {layer(n)})"
           for m, targets in import_graph().items() for n in targets if layer(n) > layer(m)]
    assert not bad, "\n".join(bad)


def test_subpackages_declare_all():
    for sub in ("data", "model", "inference", "posterior", "checks", "present", "sweeps"):
        init = PACKAGE / sub / "__init__.py"
        tree = ast.parse(init.read_text())
        names = [t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)]
        assert "__all__" in names, f"{init} has no __all__"
