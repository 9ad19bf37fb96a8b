"""A child process tied to its parent's life: the one rule for Attune's worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def die_with_parent(parent_pid: int | None = None) -> None:
    """Linux: this process gets SIGKILL when its parent dies, so a killed or cancelled run leaves no
    worker behind. With ``parent_pid`` (the parent's pid, passed before the start), end at once if
    the parent is already gone (it may have died before the request was made)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)
