"""Process groups: whether one still has a member (the demo's stack, the bench harness)."""

from __future__ import annotations

import os

__all__ = ["group_alive"]


def group_alive(pgid: int) -> bool:
    """True while any process of group ``pgid`` exists (signal 0 checks, sends nothing)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a member exists; it is not ours to signal
    return True
