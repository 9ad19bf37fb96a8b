"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

from pathlib import Path


def loadavg() -> str:
    """The machine's 1/5/15-minute load (printed beside figures: the machine is shared)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"
