"""One CSV row: a contact with its number in E.164, or the reason it is refused.

Numbers are parsed and validated by the ``phonenumbers`` library (Google's
libphonenumber): national numbers are read as US numbers, anything else needs its
``+country`` prefix. The name and segment are optional.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

__all__ = ["DEFAULT_REGION", "Contact", "RowError", "check_row"]

DEFAULT_REGION = "US"
MAX_NAME = 200
MAX_SEGMENT = 50


@dataclass(frozen=True)
class Contact:
    line: int
    phone: str  # E.164
    name: str
    segment: str


@dataclass(frozen=True)
class RowError:
    line: int
    error: str


def check_row(line: int, phone: str, name: str, segment: str) -> Contact | RowError:
    shown = phone if len(phone) <= 40 else phone[:37] + "..."
    if not phone:
        return RowError(line, "no phone number")
    try:
        number = phonenumbers.parse(phone, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return RowError(line, f"{shown!r} is not a phone number")
    if not phonenumbers.is_valid_number(number):
        return RowError(line, f"{shown!r} is not a valid phone number")
    if len(name) > MAX_NAME:
        return RowError(line, f"name longer than {MAX_NAME} characters")
    if len(segment) > MAX_SEGMENT:
        return RowError(line, f"segment longer than {MAX_SEGMENT} characters")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Contact(line, e164, name, segment.lower())
