"""The house in layers (docs/design.md): each module imports only its own layer and those
below it, and no modules import each other round in a loop (function-level imports counted)."""

from __future__ import annotations

import ast
from pathlib import Path

import bwcolor

PACKAGE = Path(bwcolor.__file__).parent

#: Top to bottom; a layer may import itself and any layer below it, never one beside or above it.
LAYERS = [
    {"cli"},
    {"edit", "quality"},
    {"pipeline", "training"},
    {"image"},
    {"models"},
    {"files"},
    {"lab", "metrics", "device", "errors", "shipped", "__init__"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The bwcolor modules ``path`` imports, anywhere in it (the package has no relative imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bwcolor"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bwcolor"):
            assert node.level == 0, f"{path}: a relative import"
            for a in node.names:  # `from bwcolor.pipeline import photos` imports a module
                sub = f"{node.module}.{a.name}"
                found.add(
                    sub
                    if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                    else node.module
                )
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) - {module_name(p), "bwcolor"} for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module} is in no layer of docs/design.md")


def may_import(module: str, target: str) -> bool:
    """A layer below, or the module's own folder; the ground's modules use each other."""
    mine, theirs = layer_of(module), layer_of(target)
    own_folder = module.split(".")[:2] == target.split(".")[:2]
    return theirs > mine or own_folder or mine == len(LAYERS) - 1 == theirs


def test_every_module_imports_only_its_layer_and_those_below():
    g = graph()
    wrong = [
        f"{m} imports {i}" for m in g if not m.endswith("__main__") for i in g[m] if not may_import(m, i)
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_modules_import_each_other_in_a_loop():
    g = graph()
    loops, state = [], {}

    def visit(m, path):
        state[m] = "open"
        for n in sorted(g.get(m, ())):
            if state.get(n) == "open":
                loops.append(" -> ".join(path[path.index(n) :] + [n]))
            elif n not in state:
                visit(n, [*path, n])
        state[m] = "done"

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert not loops, "\n".join(loops)


#: The longest function body (docstring not counted) without a reason written on its def line.
MAX_BODY_LINES = 80


def test_no_function_is_longer_than_a_screen_or_two_without_a_reason():
    long = []
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            length = body[-1].end_lineno - body[0].lineno + 1 if body else 0
            if length > MAX_BODY_LINES and "# long:" not in lines[node.lineno - 1]:
                long.append(f"{module_name(path)}.{node.name}: {length} lines")
    assert not long, "\n".join(long)
