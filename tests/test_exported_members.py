"""`stalwart.__all__` is complete (every public name is exported) and sorted within groups."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import stalwart


def test_all_exports_exist() -> None:
    for name in stalwart.__all__:
        assert hasattr(stalwart, name), f"{name} is in __all__ but not importable"


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(stalwart).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("stalwart")
    }
    assert public - set(stalwart.__all__) == set(), "public names missing from __all__"


def test_all_is_sorted_within_groups() -> None:
    source = Path(stalwart.__file__).read_text()
    tree = ast.parse(source)
    node = next(
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "__all__"
    )
    lines = source.splitlines()[node.lineno : node.end_lineno]
    groups: list[list[str]] = [[]]
    for line in lines:
        text = line.strip()
        if text.startswith("#"):
            groups.append([])
        elif text.startswith('"'):
            groups[-1].append(text.strip('",'))
    for group in groups:
        assert group == sorted(group), f"group not sorted: {group}"
    assert len(stalwart.__all__) == len(set(stalwart.__all__))
