"""The live view: campaigns, the provider, Stalwart's side, and what just happened.

In a terminal it is a Rich table refreshed in place; elsewhere (a pipe, CI) it is one
plain status line every few seconds plus each event as it happens, never wrapped at
80 columns (a number cut in two is worse than a long line).
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from stalwart.demo.calendar import describe
from stalwart.demo.observe import Snapshot
from stalwart.demo.run import DemoRun

__all__ = ["live_view", "status_line"]

COLUMNS = ("queued", "sent", "delivered", "failed", "opted_out", "invalid")
SHOWN_EVENTS = 8


def live_view(snapshot: Snapshot, run: DemoRun, duration: float | None) -> Group:
    table = Table(title="Campaigns (as the CRM sees them)", expand=False)
    table.add_column("campaign")
    table.add_column("sender")
    for name in ("contacts", *COLUMNS):
        table.add_column(name.replace("_", " "), justify="right")
    for line in snapshot.campaigns:
        cells = [str(line.counts.get(name, 0)) for name in COLUMNS]
        table.add_row(f"{line.id} {line.name}", line.sender, str(line.total), *cells)
    events = Text("\n".join(f"  +{m.at:5.1f}s  {m.text}" for m in run.timeline[-SHOWN_EVENTS:]))
    return Group(
        Text(_header(run, duration), style="bold"),
        table,
        Text(_provider(snapshot)),
        Text(_stalwart(snapshot)),
        Text("What happened:"),
        events,
    )


def status_line(snapshot: Snapshot, run: DemoRun) -> str:
    campaigns = "; ".join(
        f"campaign {c.id}: {c.counts.get('queued', 0)} queued, "
        f"{c.counts.get('sent', 0) + c.counts.get('delivered', 0) + c.counts.get('failed', 0)} sent"
        for c in snapshot.campaigns
    )
    parts = (campaigns or "starting", _provider(snapshot), _stalwart(snapshot))
    return f"[{run.elapsed:5.1f}s] " + " | ".join(parts)


def _header(run: DemoRun, duration: float | None) -> str:
    clock = describe(run.started_wall + run.elapsed + run.config.clock_offset)
    limit = f" of {duration:.0f}s" if duration is not None else " (Ctrl-C to stop)"
    return f"Stalwart demo: {run.elapsed:.0f}s{limit} · CRM clock {clock}"


def _provider(snapshot: Snapshot) -> str:
    outcomes = snapshot.provider.get("outcomes", {})
    refused = sum(v for k, v in outcomes.items() if k not in ("accepted", "replayed"))
    webhooks = snapshot.provider.get("webhooks", {})
    return (
        f"provider: {outcomes.get('accepted', 0)} accepted, {outcomes.get('replayed', 0)} "
        f"replays answered from its idempotency keys, {refused} refused; "
        f"webhooks {webhooks.get('delivered', 0)} delivered"
    )


def _stalwart(snapshot: Snapshot) -> str:
    queues = ", ".join(f"{name} {depth}" for name, depth in snapshot.queues.items())
    return (
        f"stalwart: {snapshot.workers} workers; queues {queues}; outbox {snapshot.outbox}; "
        f"breaker sms-provider {snapshot.breaker}"
    )
