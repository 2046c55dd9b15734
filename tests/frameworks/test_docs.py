"""docs/FRAMEWORKS.md shows the tested code: every line of its Python examples is in the
example files that tests/frameworks runs."""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent
DOC = HERE.parents[1] / "docs" / "FRAMEWORKS.md"


def test_examples_in_the_doc_are_the_tested_code() -> None:
    tested = {
        line.strip()
        for path in HERE.rglob("*.py")
        for line in path.read_text().splitlines()
        if line.strip()
    }
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert len(blocks) >= 6
    shown = {line.strip() for block in blocks for line in block.splitlines() if line.strip()}
    assert shown - tested == set()
