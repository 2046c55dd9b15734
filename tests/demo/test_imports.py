"""Contact imports: bad rows by line, duplicates merged, whole-file refusals, a 50,000-row
file with progress, and never a half-imported file."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from stalwart.demo.models import contacts, imports
from tests.demo.crm import Crm
from tests.demo.seeding import add_contacts, phones
from tests.support.workers import wait_for

MakeCrm = Callable[..., Crm]


def csv_bytes(
    rows: list[list[str]], header: tuple[str, ...] = ("phone", "name", "segment")
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def upload(crm: Crm, data: bytes, name: str = "contacts.csv") -> dict[str, object]:
    answer = crm.api.post("/demo/imports", files={"file": (name, data, "text/csv")})
    assert answer.status_code == 202, answer.text
    result: dict[str, object] = answer.json()
    return result


def finished(crm: Crm, import_id: object, timeout: float = 60) -> dict[str, object]:
    def done() -> dict[str, object] | None:
        status: dict[str, object] = crm.api.get(f"/demo/imports/{import_id}").json()
        return status if status["status"] == "completed" else None

    result = wait_for(done, timeout=timeout, interval=0.1, what=f"import {import_id}")
    assert isinstance(result, dict)
    return result


def test_bad_rows_are_listed_by_line_and_duplicates_merged(
    make_crm: MakeCrm, database_url: str
) -> None:
    crm = make_crm(database_url)
    crm.start_api()
    crm.start_worker("imports")
    [known] = add_contacts(crm, ["+12125550142"], segment="old")
    with crm.engine.begin() as db:
        db.execute(contacts.update().values(opted_out_at=time.time()))
    data = csv_bytes(
        [
            ["(212) 555-0142", "Ann", "vip"],  # line 2: the known contact, national format
            ["+1 646 555 0100", "Bo", "vip"],  # line 3
            ["not a number", "Chen", ""],  # line 4
            ["", "Dana", "vip"],  # line 5
            [],  # line 6: blank, skipped
            ["+1 646-555-0100", "Bo again", "trial"],  # line 7: duplicate of line 3
            ["(999) 000-0000", "Eli", ""],  # line 8: no such area code
            ["+44 20 7946 0958", "Fatima", "uk"],  # line 9: a London number
        ]
    )
    status = finished(crm, upload(crm, data)["id"])
    assert status["rows"] == 7
    assert (status["created"], status["updated"], status["duplicates"]) == (2, 1, 1)
    assert status["bad_rows"] == 3
    assert status["errors"] == [
        {"line": 4, "error": "'not a number' is not a phone number"},
        {"line": 5, "error": "no phone number"},
        {"line": 8, "error": "'(999) 000-0000' is not a valid phone number"},
    ]
    rows = crm.rows(sa.select(contacts).order_by(contacts.c.phone))
    assert [(r["phone"], r["name"], r["segment"]) for r in rows] == [
        ("+12125550142", "Ann", "vip"),
        ("+16465550100", "Bo again", "trial"),  # the last row of a number wins
        ("+442079460958", "Fatima", "uk"),
    ]
    assert rows[0]["id"] == known and rows[0]["opted_out_at"] is not None  # STOP is kept


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (csv_bytes([["+33 1 42 68 53 00", "Zoé", ""]]).decode().encode("latin-1"),
         "not UTF-8 (byte 0xe9 on line 2)"),
        ("phone\n+12125550142\n".encode("utf-16"), "UTF-16"),
        (b"", "is empty"),
        (b"  \n\n", "is empty"),
        (b"phone,name\n", "has a header but no contact rows"),
        (b"name,email\nAnn,ann@example.com\n", "with a 'phone' column (found 'name', 'email')"),
        (b'phone\n"+12125550142"x\n', "line 2: not valid CSV"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_imported_is_refused_whole(
    api_only: Crm, data: bytes, message: str
) -> None:
    before = api_only.scalar(sa.select(sa.func.count()).select_from(imports))
    answer = api_only.api.post("/demo/imports", files={"file": ("bad.csv", data, "text/csv")})
    assert answer.status_code == 422, answer.text
    assert message in answer.json()["detail"]
    assert api_only.scalar(sa.select(sa.func.count()).select_from(imports)) == before


def test_an_upload_over_20_mib_is_413(api_only: Crm) -> None:
    data = b"phone\n" + b"+12125550142\n" * (21 * 1024 * 1024 // 13)
    answer = api_only.api.post("/demo/imports", files={"file": ("big.csv", data, "text/csv")})
    assert answer.status_code == 413


def test_fifty_thousand_rows_show_progress_and_appear_all_at_once(make_crm: MakeCrm) -> None:
    crm = make_crm()
    crm.start_api()
    crm.start_worker("imports", concurrency=2)
    numbers = phones(49_000)
    rows = [[n, f"C{i}", "bulk"] for i, n in enumerate(numbers)]
    for i in range(500):  # 500 bad rows and 500 duplicates, spread through the file
        rows.insert(i * 99, [f"bad-{i}", "X", ""])
        rows.insert(i * 99 + 50, [numbers[i], "Again", "bulk"])
    assert len(rows) == 50_000
    bad_lines = [i + 2 for i, row in enumerate(rows) if row[0].startswith("bad-")]

    started = upload(crm, csv_bytes(rows))
    assert started["chunks"] == {"done": 0, "total": 50}
    seen, visible_early = [], []
    while True:
        # Contacts counted before the status is read: a count taken while the import
        # still said "validating" afterwards was taken before the merge committed.
        visible = crm.scalar(sa.select(sa.func.count()).select_from(contacts))
        status = crm.api.get(f"/demo/imports/{started['id']}").json()
        seen.append(status["chunks"]["done"])
        if status["status"] == "completed":
            break
        visible_early.append(visible)
        time.sleep(0.1)
    assert seen == sorted(seen) and any(0 < done < 50 for done in seen), seen
    assert set(visible_early) == {0}  # nothing visible until the whole file is merged
    assert (status["created"], status["duplicates"], status["bad_rows"]) == (49_000, 500, 500)
    assert [e["line"] for e in status["errors"]] == bad_lines[:100]
    assert crm.scalar(sa.select(sa.func.count()).select_from(contacts)) == 49_000
