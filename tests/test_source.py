"""Checks on bwcolor's own source that the linter does not make (ruff has no rule for them)."""

import ast
from pathlib import Path

import bwcolor

SOURCE = Path(bwcolor.__file__).parent


def _unreachable(tree: ast.AST) -> list[int]:
    """Line numbers of statements that follow a return, raise, break or continue in one block
    (e.g. the second half of a message split over two lines without brackets)."""
    found = []
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(node, name, None)
            if not isinstance(block, list):
                continue
            for before, after in zip(block, block[1:], strict=False):
                if isinstance(before, ast.Return | ast.Raise | ast.Break | ast.Continue):
                    found.append(after.lineno)
    return found


def test_no_statement_follows_a_return_or_raise():
    problems = [
        f"{path.relative_to(SOURCE.parent)}:{line}"
        for path in sorted(SOURCE.rglob("*.py"))
        for line in _unreachable(ast.parse(path.read_text(), str(path)))
    ]
    assert not problems, f"unreachable statements: {problems}"


def test_the_check_finds_a_message_cut_in_two():
    cut = 'def summary(x):\n    return f"best: {x} "\n    f"and the rest"\n'
    assert _unreachable(ast.parse(cut)) == [3]
