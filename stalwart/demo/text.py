"""Text fields the CRM accepts: no NUL characters (PostgreSQL cannot store them, and no
phone, name or id has one), so both stores refuse the same input with a 422."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

__all__ = ["Text", "no_nul"]


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(no_nul)]
