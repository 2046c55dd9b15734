"""Leader election with a fencing token, and the fenced slot ledger, in the coordination store.

Keys (all under ``stalwart:beat:``):

- ``leader``  -> ``"<token> <holder>"`` with a TTL of one lease. Set only when absent;
  the holder refreshes it every tick.
- ``fence``   -> a counter, INCRed each time leadership is taken: the fencing token.
  It only grows, so every leadership term has a token no earlier term had.
- ``last``    -> hash schedule name -> newest slot handled (epoch ms).
- ``pending`` -> hash schedule name -> a fire that was claimed but not yet confirmed
  published (JSON). A new leader publishes these again, with the same slot id.

Every write a leader makes goes through one Lua script that first checks that the
``leader`` key still holds *its* token: a process that was paused, partitioned or
simply slow cannot prove it still leads, so it changes nothing and fires nothing.
The check and the write are one atomic step on the server; there is no window between
"am I still leader?" and "record this slot".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import redis

from stalwart.coordination import as_text, key

__all__ = ["Claim", "Lease", "LedgerState"]

LEADER_KEY = key("beat", "leader")
FENCE_KEY = key("beat", "fence")
LAST_KEY = key("beat", "last")
PENDING_KEY = key("beat", "pending")

# KEYS: leader, fence. ARGV: holder, lease_ms. -> {held(0/1), token, holder}
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, ' ', 1, true)
  local token = string.sub(current, 1, sep - 1)
  local holder = string.sub(current, sep + 1)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, token, holder}
  end
  return {0, token, holder}
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return {1, tostring(token), ARGV[1]}
"""

# KEYS: leader, last, pending. ARGV: fence ("token holder"), name, slot_ms, payload ('' =
# advance without firing). -> -1 not leader, 0 slot already handled, 1 claimed.
_CLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '-1')
if tonumber(ARGV[3]) <= last then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[4]) end
return 1
"""

# KEYS: leader, pending. ARGV: fence, name, payload. -> -1 not leader, 0 gone, 1 ok
_RECLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[3] then return 0 end
return 1
"""

# KEYS: pending. ARGV: name, payload. Compare-and-delete.
_CONFIRM = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""

# KEYS: leader. ARGV: fence.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Claim:
    """Outcome of claiming a slot."""

    NOT_LEADER = -1
    ALREADY_HANDLED = 0
    CLAIMED = 1


@dataclass(frozen=True)
class LedgerState:
    """The fenced ledger as a new tick sees it."""

    last_ms: dict[str, int]
    pending: dict[str, str]


class Lease:
    """One beat process's view of the leader lease."""

    def __init__(self, client: redis.Redis, lease_seconds: float, holder: str | None = None):
        self.client = client
        self.lease_ms = max(1, round(lease_seconds * 1000))
        self.holder = holder or uuid.uuid4().hex[:12]
        self.token: int | None = None
        self.leader: str | None = None  # "token holder" of whoever leads, as last seen
        self._acquire = client.register_script(_ACQUIRE)
        self._claim = client.register_script(_CLAIM)
        self._reclaim = client.register_script(_RECLAIM)
        self._confirm = client.register_script(_CONFIRM)
        self._release = client.register_script(_RELEASE)

    @property
    def fence(self) -> str:
        return f"{self.token} {self.holder}"

    @property
    def is_leader(self) -> bool:
        return self.token is not None

    def acquire(self) -> bool:
        """Take the lease if it is free, refresh it if ours. True if we lead now."""
        held, token, holder = self._acquire(
            keys=[LEADER_KEY, FENCE_KEY], args=[self.holder, self.lease_ms]
        )
        self.leader = f"{as_text(token)} {as_text(holder)}"
        self.token = int(token) if int(held) == 1 else None
        return self.token is not None

    def lose(self) -> None:
        """Forget leadership locally (a fenced write was refused, or the store failed)."""
        self.token = None

    def release(self) -> None:
        """Give the lease up at a clean stop so a standby takes over at its next tick."""
        if self.token is not None:
            self._release(keys=[LEADER_KEY], args=[self.fence])
            self.token = None

    def state(self) -> LedgerState:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(LAST_KEY)
        pipe.hgetall(PENDING_KEY)
        last, pending = pipe.execute()
        return LedgerState(
            last_ms={as_text(k): int(v) for k, v in last.items()},
            pending={as_text(k): as_text(v) for k, v in pending.items()},
        )

    def claim(self, name: str, slot_ms: int, payload: str) -> int:
        """Atomically: check our token, check the slot is new, record it (and the fire)."""
        if self.token is None:
            return Claim.NOT_LEADER
        result = int(
            self._claim(
                keys=[LEADER_KEY, LAST_KEY, PENDING_KEY],
                args=[self.fence, name, slot_ms, payload],
            )
        )
        if result == Claim.NOT_LEADER:
            self.lose()
        return result

    def reclaim(self, name: str, payload: str) -> int:
        """Take over a fire another term claimed but did not confirm."""
        if self.token is None:
            return Claim.NOT_LEADER
        result = int(
            self._reclaim(keys=[LEADER_KEY, PENDING_KEY], args=[self.fence, name, payload])
        )
        if result == Claim.NOT_LEADER:
            self.lose()
        return result

    def confirm(self, name: str, payload: str) -> None:
        """The fire was handed to the broker: forget it from ``pending``."""
        self._confirm(keys=[PENDING_KEY], args=[name, payload])


def current_leader(client: redis.Redis) -> tuple[int, str] | None:
    """(token, holder) of the current leader, or None when the lease is free."""
    raw: Any = client.get(LEADER_KEY)
    if raw is None:
        return None
    token, _, holder = as_text(raw).partition(" ")
    return int(token), holder
