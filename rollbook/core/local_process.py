"""A process of this machine, by its pid."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """The process exists (another user's too: signal 0 is refused, the process is there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
