"""Reading an uploaded CSV: UTF-8, a header with a ``phone`` column, at least one row.

Everything that makes the whole file unusable is refused here, before anything is
stored, with one sentence saying what to fix; problems of single rows are left to
the chunk tasks, which report them with their line numbers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

__all__ = ["MAX_ROWS", "CsvUpload", "UploadRefused", "read_upload"]

MAX_ROWS = 200_000
PHONE_COLUMNS = ("phone", "phone_number", "mobile")


class UploadRefused(Exception):
    """The file cannot be imported at all (the message says why and what to do)."""


@dataclass(frozen=True)
class CsvUpload:
    """The data rows of an upload: ``(line, phone, name, segment)``, line numbers 1-based."""

    filename: str
    rows: list[tuple[int, str, str, str]]


def read_upload(filename: str, data: bytes) -> CsvUpload:
    filename = "".join(c for c in filename if c.isprintable())[:255] or "upload.csv"
    text = _decode(data)
    if not text.strip():
        raise UploadRefused(f"{filename} is empty: expected a header line and contact rows")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
        columns = _columns(filename, header)
        rows: list[tuple[int, str, str, str]] = []
        line = reader.line_num + 1
        for record in reader:
            if any(field.strip() for field in record):
                phone, name, segment = (_field(record, i) for i in columns)
                rows.append((line, phone, name, segment))
                if len(rows) > MAX_ROWS:
                    raise UploadRefused(
                        f"{filename} has more than {MAX_ROWS} rows: split it into several files"
                    )
            line = reader.line_num + 1
    except csv.Error as exc:
        raise UploadRefused(f"{filename} line {reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise UploadRefused(f"{filename} has a header but no contact rows")
    return CsvUpload(filename, rows)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UploadRefused("the file is UTF-16: save it as CSV UTF-8 and upload it again")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UploadRefused(
            f"the file is not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}): "
            "save it as CSV UTF-8 and upload it again"
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise UploadRefused(f"line {line} contains a NUL character: this is not a text CSV")
    return text


def _columns(filename: str, header: list[str]) -> tuple[int, int, int]:
    phone = next((header.index(n) for n in PHONE_COLUMNS if n in header), None)
    if phone is None:
        found = ", ".join(repr(h) for h in header[:10]) or "nothing"
        raise UploadRefused(
            f"{filename}: the first line must be a header with a 'phone' column (found {found})"
        )
    name = header.index("name") if "name" in header else -1
    segment = header.index("segment") if "segment" in header else -1
    return phone, name, segment


def _field(record: list[str], index: int) -> str:
    return record[index].strip() if 0 <= index < len(record) else ""
