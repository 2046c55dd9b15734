"""Printing the account (plain lines, no wrapping) and what to try next."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from stalwart.demo.account import Account, CampaignAccount, Fate
from stalwart.demo.calendar import NEW_YORK
from stalwart.demo.run import DemoRun

__all__ = ["account_lines", "next_steps"]

SHOWN_DEAD = 5
APP = "stalwart.demo.tasks:app"


def account_lines(account: Account, run: DemoRun) -> list[str]:
    lines = [
        "",
        "End-to-end account: every contact of every campaign, checked against the "
        f"provider's ledger ({account.ledger_sends} sends in {run.ledger_path})",
    ]
    for campaign in account.campaigns:
        lines += _campaign(campaign, account)
    parts = " + ".join(
        f"{account.count(fate)} {fate.value.replace('_', ' ')}"
        for fate in (Fate.SENT, Fate.DEFERRED, Fate.DEAD_LETTERED, Fate.OPTED_OUT, Fate.INVALID)
    )
    lines.append(f"  Total: {account.contacts} contacts = {parts}")
    lines.append(
        f"  lost {account.count(Fate.LOST)}, doubled {account.count(Fate.DOUBLED)}"
        + (f", still moving {account.count(Fate.IN_FLIGHT)}" if not account.settled else "")
    )
    for check, ok in account.checks.items():
        lines.append(f"  {'[green]ok[/]' if ok else '[red]FAILED[/]'}  {check}")
    verdict = "[green]balanced[/]" if account.balanced else "[red]does NOT balance[/]"
    lines.append(f"  The account {verdict}.")
    return lines


def _campaign(campaign: CampaignAccount, account: Account) -> list[str]:
    sent = [line for line in campaign.lines if line.fate is Fate.SENT]
    statuses = Counter(line.status for line in sent)
    lines = [
        f"  Campaign {campaign.id} {campaign.name!r} from {campaign.sender}: "
        f"{len(campaign.lines)} contacts",
        f"    sent once      {len(sent):5d}  (provider webhooks: {statuses['delivered']} "
        f"delivered, {statuses['failed']} failed by the carrier, "
        f"{statuses['sent']} not reported yet)",
    ]
    deferred = Counter(
        (line.reason, _minute(line.until, account.clock_offset))
        for line in campaign.lines
        if line.fate is Fate.DEFERRED
    )
    lines.append(f"    deferred       {campaign.count(Fate.DEFERRED):5d}")
    for (reason, until), count in sorted(deferred.items()):
        lines.append(f"      {count} by {reason} until {until} (CRM clock)")
    dead = [line for line in campaign.lines if line.fate is Fate.DEAD_LETTERED]
    lines.append(f"    dead-lettered  {len(dead):5d}")
    for line in dead[:SHOWN_DEAD]:
        lines.append(f"      #{line.dead_letter} to {line.to}: {line.reason}")
    if len(dead) > SHOWN_DEAD:
        lines.append(f"      ... and {len(dead) - SHOWN_DEAD} more (stalwart dlq ls)")
    lines.append(f"    opted out      {campaign.count(Fate.OPTED_OUT):5d}")
    lines.append(f"    invalid        {campaign.count(Fate.INVALID):5d}")
    for fate in (Fate.LOST, Fate.DOUBLED, Fate.IN_FLIGHT):
        for line in (x for x in campaign.lines if x.fate is fate):
            lines.append(
                f"    [red]{fate.value}[/]: contact {line.contact_id} ({line.to}) {line.reason}"
            )
    return lines


def _minute(until: float | None, offset: float) -> str:
    if until is None:
        return "?"
    return datetime.fromtimestamp(until + offset, NEW_YORK).strftime("%a %Y-%m-%d %H:%M New York")


def next_steps(account: Account, run: DemoRun) -> list[str]:
    dead = next(
        (line.dead_letter for c in account.campaigns for line in c.lines if line.dead_letter),
        None,
    )
    lines = ["", "What to try next (in this directory):"]
    if run.console_url:
        lines.append(
            f"  stalwart console -A {APP}   the console ({run.console_url} during the run)"
        )
    lines += [
        "  stalwart tasks ls --state dead_lettered      the sends that gave up, and why",
        f"  stalwart dlq show {dead or 'N':<27}one dead letter: payload, traceback",
        "  stalwart dlq replay --name crm.send_sms      run them again (once each)",
        "  stalwart tasks ls --state deferred           the sends waiting for tomorrow's quota",
        "  stalwart limits                              quota, throttle, breaker (workers up)",
        f"  logs of every process: {run.run_dir}",
    ]
    return lines
