"""Periodic schedules from the database, fired by a fenced leader, exactly once per slot.

- :mod:`~stalwart.scheduler.model`    what a schedule is (kinds, missed-run policies)
- :mod:`~stalwart.scheduler.tables`   the ``schedules`` table
- :mod:`~stalwart.scheduler.store`    queries (CLI, console, beat), audited changes
- :mod:`~stalwart.scheduler.slots`    slot instants per kind and zone (DST), policies
- :mod:`~stalwart.scheduler.leader`   lease + fencing token + fenced slot ledger (Redis)
- :mod:`~stalwart.scheduler.fire`     slot ids, message headers, publishing
- :mod:`~stalwart.scheduler.beat`     the loop run by ``stalwart beat``
- :mod:`~stalwart.scheduler.sync`     ``app.conf.beat_schedule`` -> the table
- :mod:`~stalwart.scheduler.presence` which beats run, which one leads

See docs/SCHEDULER.md.
"""

from stalwart.scheduler.model import MissedPolicy, Origin, Schedule, ScheduleKind, ScheduleSpec

__all__ = ["MissedPolicy", "Origin", "Schedule", "ScheduleKind", "ScheduleSpec"]
