"""Path ids: positive and within the database's 32-bit integer columns (else 422, not 500)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

__all__ = ["RowId"]

RowId = Annotated[int, Path(ge=1, le=2_147_483_647, description="A record's number")]
