"""The end-to-end account: what became of every contact of every campaign of the run.

Each campaign message is exactly one of:

- **sent** once: exactly one send in the provider's ledger under its key;
- **deferred**: not sent yet, waiting on Stalwart's durable schedule (reason and until
  from the task's history: quota, window...);
- **dead-lettered**: given up after its retries (its dead letter's number and reason);
- **opted out**: the contact texted STOP before the send;
- **invalid**: the provider refused the number;

and nothing is **lost** (no send, not waiting, not dead) or **doubled** (two sends).
The ledger is the provider's, so "sent" is checked against what really went out, not
against what the CRM believes. The provider's ledger also shows the limits held: at
most 125 sends per sender per New York day, none outside business hours.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from stalwart.app import Stalwart
from stalwart.demo.calendar import BUSINESS_HOURS, NEW_YORK, local
from stalwart.demo.models import MessageStatus, campaigns, messages
from stalwart.demo.run import DemoRun
from stalwart.demo.simulator.ledger import LedgerEntry, read_ledger
from stalwart.errors import NotFound
from stalwart.history.query import get_task

__all__ = ["QUOTA_PER_DAY", "Account", "CampaignAccount", "Fate", "Line", "collect"]

QUOTA_PER_DAY = 125
SETTLED_AFTER = 20.0  # a deferral due later than this is where the message rests
S = MessageStatus


class Fate(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    DEAD_LETTERED = "dead_lettered"
    OPTED_OUT = "opted_out"
    INVALID = "invalid"
    IN_FLIGHT = "in_flight"  # still moving (only before the run settles)
    LOST = "lost"
    DOUBLED = "doubled"


ACCOUNTED = (Fate.SENT, Fate.DEFERRED, Fate.DEAD_LETTERED, Fate.OPTED_OUT, Fate.INVALID)


@dataclass(frozen=True)
class Line:
    """One contact of one campaign, and its fate."""

    contact_id: int
    to: str
    fate: Fate
    status: str  # the CRM's message status
    sends: int  # lines in the provider's ledger
    reason: str = ""
    until: float | None = None  # deferred until (real clock)
    dead_letter: int | None = None


@dataclass
class CampaignAccount:
    id: int
    name: str
    sender: str
    lines: list[Line] = field(default_factory=list)

    def count(self, fate: Fate) -> int:
        return sum(1 for line in self.lines if line.fate is fate)


@dataclass
class Account:
    campaigns: list[CampaignAccount]
    checks: dict[str, bool]
    ledger_sends: int
    clock_offset: float

    def count(self, fate: Fate) -> int:
        return sum(c.count(fate) for c in self.campaigns)

    @property
    def contacts(self) -> int:
        return sum(len(c.lines) for c in self.campaigns)

    @property
    def settled(self) -> bool:
        return self.count(Fate.IN_FLIGHT) == 0

    @property
    def balanced(self) -> bool:
        accounted = sum(self.count(fate) for fate in ACCOUNTED)
        return accounted == self.contacts and all(self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "balanced": self.balanced,
            "contacts": self.contacts,
            "totals": {fate.value: self.count(fate) for fate in Fate},
            "checks": self.checks,
            "provider_ledger_sends": self.ledger_sends,
            "clock_offset_seconds": round(self.clock_offset, 3),
            "campaigns": [
                {
                    "id": c.id,
                    "name": c.name,
                    "sender": c.sender,
                    "contacts": len(c.lines),
                    "totals": {fate.value: c.count(fate) for fate in Fate},
                    "lines": [
                        {k: v for k, v in asdict(line).items() if v not in (None, "")}
                        for line in c.lines
                    ],
                }
                for c in self.campaigns
            ],
        }


def collect(app: Stalwart, run: DemoRun, *, final: bool = False) -> Account:
    """The account now; ``final``: whatever still moves is lost (the run is over).

    What is written last is read first: the CRM's message rows, then the dead letters,
    then the provider's ledger (a send enters the ledger before the provider answers,
    and the CRM marks the message sent after the answer). So a message read as sent is
    in the ledger read after it, and a send accepted meanwhile reads as still moving,
    never as lost.
    """
    shown = _messages_by_campaign(app, run)
    dead = {
        letter.task_id: letter
        for letter in app.dead_letters.list(
            name="crm.send_sms",
            since=datetime.fromtimestamp(run.started_wall - 60, UTC),
            limit=None,
        )
    }
    ledger = read_ledger(run.ledger_path)
    sends = Counter(entry.key for entry in ledger)
    accounts = []
    for campaign, rows in shown:
        account = CampaignAccount(campaign["id"], campaign["name"], campaign["sender"])
        for message in rows:
            key = f"sms:{campaign['id']}:{message['contact_id']}"
            account.lines.append(_fate(app, message, sends[key], dead, final))
        accounts.append(account)
    checks = {
        "nothing lost": sum(a.count(Fate.LOST) for a in accounts) == 0,
        "nothing sent twice": sum(a.count(Fate.DOUBLED) for a in accounts) == 0,
        f"at most {QUOTA_PER_DAY} per sender per New York day": _within_quota(ledger, run),
        "nothing sent outside business hours": _within_window(ledger, run),
    }
    return Account(accounts, checks, len(ledger), run.config.clock_offset)


def _messages_by_campaign(
    app: Stalwart, run: DemoRun
) -> list[tuple[sa.RowMapping, list[sa.RowMapping]]]:
    """Each campaign of the run with its message rows."""
    shown = []
    with app.engine.connect() as db:
        query = sa.select(campaigns).where(campaigns.c.id.in_(run.campaign_ids))
        for campaign in db.execute(query.order_by(campaigns.c.id)).mappings().all():
            rows = db.execute(
                sa.select(messages)
                .where(messages.c.campaign_id == campaign["id"])
                .order_by(messages.c.contact_id)
            ).mappings()
            shown.append((campaign, list(rows)))
    return shown


def _fate(app: Stalwart, message: Any, sends: int, dead: dict[str, Any], final: bool) -> Line:
    status, task_id = str(message["status"]), message["task_id"]
    line = Line(int(message["contact_id"]), str(message["to"]), Fate.IN_FLIGHT, status, sends)
    if sends > 1:
        return replace(line, fate=Fate.DOUBLED)
    if status == S.OPTED_OUT:
        return replace(line, fate=Fate.DOUBLED if sends else Fate.OPTED_OUT)
    if status == S.INVALID:
        return replace(line, fate=Fate.INVALID, reason=str(message["error"] or ""))
    if sends == 1:
        recorded = status != S.QUEUED  # the CRM noted it (else its task is still at it)
        return replace(line, fate=Fate.SENT) if recorded or final else line
    if status != S.QUEUED:
        return replace(line, fate=Fate.LOST, reason=f"the CRM says {status}; no send at all")
    letter = dead.get(task_id) if task_id else None
    if letter is not None:
        error = letter.exc_type.rsplit(".", 1)[-1]
        reason = f"{letter.reason}: {error}: {letter.exc_message}"[:200]
        return replace(line, fate=Fate.DEAD_LETTERED, reason=reason, dead_letter=letter.id)
    waiting = _deferral(app, task_id)
    if waiting is not None:
        return replace(line, fate=Fate.DEFERRED, reason=waiting[0], until=waiting[1])
    return replace(line, fate=Fate.LOST) if final else line


def _deferral(app: Stalwart, task_id: str | None) -> tuple[str, float] | None:
    """(reason, until) if the task rests on the durable schedule for a while."""
    if not task_id:
        return None
    try:
        task = get_task(app.engine, task_id)
    except NotFound:
        return None
    until = task.detail.get("until")
    if task.state != "deferred" or not isinstance(until, int | float):
        return None
    if until < time.time() + SETTLED_AFTER:
        return None  # a short wait (throttle, breaker, 429): it will run in this run
    return str(task.detail.get("reason") or "flow control"), float(until)


def _run_sends(ledger: list[LedgerEntry], run: DemoRun) -> list[LedgerEntry]:
    return [entry for entry in ledger if entry.sender in run.senders]


def _within_quota(ledger: list[LedgerEntry], run: DemoRun) -> bool:
    per_day: defaultdict[tuple[str, str], int] = defaultdict(int)
    for entry in _run_sends(ledger, run):
        per_day[(entry.sender, local(entry.at).date().isoformat())] += 1
    return all(count <= QUOTA_PER_DAY for count in per_day.values())


def _within_window(ledger: list[LedgerEntry], run: DemoRun) -> bool:
    return all(BUSINESS_HOURS.is_open(e.at, NEW_YORK) for e in _run_sends(ledger, run))
