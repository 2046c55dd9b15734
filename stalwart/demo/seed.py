"""The demo's contacts: a generated CSV, the same every run, with the usual mess in it.

Real exports have bad rows (no number, a number too short, a made-up area code),
the same person twice in different formats, and segments of very different sizes.
"""

from __future__ import annotations

import csv
import io
import random

__all__ = ["SEGMENTS", "contacts_csv"]

AREA_CODES = ("212", "646", "718", "917", "415", "312", "617", "305", "206", "512")
FIRST_NAMES = ("Ann", "Bo", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo")
# Segment and its share of the rows: "customers" fits in a day's quota (125), "trial" does not.
SEGMENTS = (("customers", 0.03), ("trial", 0.08), ("newsletter", 0.39), ("leads", 0.50))
BAD_NUMBERS = ("not-a-number", "12345", "+1 212 555", "(999) 000-0000", "", "call me")


def contacts_csv(rows: int = 3000, seed: int = 7, bad: float = 0.015, dupes: float = 0.02) -> bytes:
    """A CSV (UTF-8) of ``rows`` data rows: phone, name, segment."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["phone", "name", "segment"])
    written: list[str] = []
    for n in range(rows):
        roll = rng.random()
        if roll < bad:
            phone = rng.choice(BAD_NUMBERS)
        elif roll < bad + dupes and written:
            phone = _reformat(rng.choice(written))  # the same number, written differently
        else:
            phone = f"+1 {rng.choice(AREA_CODES)}-{rng.randint(201, 989)}-{n % 10000:04d}"
            written.append(phone)
        writer.writerow([phone, f"{rng.choice(FIRST_NAMES)} {n}", _segment(rng)])
    return out.getvalue().encode()


def _segment(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for name, share in SEGMENTS:
        total += share
        if roll < total:
            return name
    return SEGMENTS[-1][0]


def _reformat(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit())[1:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
