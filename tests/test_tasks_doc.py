"""docs/TASKS.md is true: every option has a section, every example decorates, and every
error it shows is the exact message Stalwart raises for that input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import stalwart
from stalwart import Stalwart, TaskOptionError
from stalwart.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "TASKS.md"
BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[str, str | None]]:
    """Each python block, with the error text block that follows it (None: must work)."""
    blocks = BLOCK.findall(DOC.read_text())
    pairs: list[tuple[str, str | None]] = []
    for index, (kind, body) in enumerate(blocks):
        if kind != "python":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        error = following[1].strip() if following and following[0] == "text" else None
        pairs.append((body, error))
    return pairs


def test_every_option_has_a_section(tmp_path: Path) -> None:
    app = Stalwart("docs", settings=Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1/0"))
    headings = set(re.findall(r"^## (\w+)$", DOC.read_text(), re.MULTILINE))
    assert set(app.pipeline.options) <= headings, set(app.pipeline.options) - headings
    assert "docs/TASKS.md" in (DOC.parents[1] / "README.md").read_text()


@pytest.mark.parametrize(("code", "error"), examples())
def test_example(code: str, error: str | None, tmp_path: Path) -> None:
    app = Stalwart("docs", settings=Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1/0"))
    namespace = {"__name__": "docs_example", "app": app}
    namespace.update({name: getattr(stalwart, name) for name in stalwart.__all__})
    if error is None:
        exec(code, namespace)
        return
    with pytest.raises(TaskOptionError) as raised:
        exec(code, namespace)
    assert f"TaskOptionError: {raised.value}" == error
