"""A beat that starts while another leads says it is standby, who leads, and how soon it
would take over (operators otherwise see a beat that silently does nothing)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from stalwart.scheduler.beat import Beat
from tests.scheduler.conftest import ManualClock


def test_a_standby_beat_says_so_once(
    make_beat: Callable[..., Beat], caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(datetime(2024, 5, 1, 9, 0, tzinfo=UTC))
    leader = make_beat(clock, beat_id="first", tick=1.0, lease=10.0)
    standby = make_beat(clock, beat_id="second", tick=1.0, lease=10.0)
    with caplog.at_level(logging.INFO, logger="stalwart.beat"):
        assert leader.tick().leader
        assert not standby.tick().leader
        assert not standby.tick().leader
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("beat second")]
    assert len(lines) == 1, lines
    token = leader.lease.token
    assert lines == [
        f"beat second is standby: beat first leads (token {token}); this one takes over "
        "within 11.0s if it stops"
    ]
