"""A session's resources and figures: reading a recording that is still being written, memory, and
:class:`SessionStats` (CPU, memory, latency, input losses, model loading, how soon the input opened),
for the exit report of ``attune live``, session.json's ``stats`` and the benchmarks. Qt-free."""

from __future__ import annotations

import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.recorder import WAV_HEADER_BYTES
from audio import SAMPLE_RATE


def recording_reader(path: Path) -> Callable[[float, float], np.ndarray]:
    """``read(start_s, end_s)`` over a recording that may still be open (16-bit PCM after 44 bytes)."""

    def read(start: float, end: float) -> np.ndarray:
        a = max(0, int(round(start * SAMPLE_RATE)))
        b = max(a, int(round(end * SAMPLE_RATE)))
        with open(path, "rb") as f:
            f.seek(WAV_HEADER_BYTES + 2 * a)
            data = f.read(2 * (b - a))
        data = data[:len(data) - len(data) % 2]
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767.0

    return read


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident memory of this process, in MB."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


@dataclass
class SessionStats:
    wall_s: float = 0.0  # wall time of the session
    audio_s: float = 0.0  # seconds of audio captured
    cpu_s: float = 0.0  # process CPU seconds (all threads) during the session
    peak_rss_mb: float = 0.0
    rss_mb: float = 0.0
    latency: dict[str, Any] = field(default_factory=dict)
    overflows: int = 0
    lost_s: float = 0.0
    asr_dropped: int = 0
    load_s: float = 0.0  # seconds the pipeline (speech models) took to load, capture running meanwhile
    open_delay_s: float | None = None  # seconds from the session's start being asked for to the input open
    max_backlog_s: float = 0.0  # most audio waiting for the analysis at any time
    buffer_dropped_s: float = 0.0  # audio the analysis never saw (its buffer was full; still recorded)
    error: str | None = None

    @property
    def cpu_cores(self) -> float:
        """Average CPU use in cores (1.0 = one core fully busy)."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def lines(self) -> list[str]:
        def ms(d: dict, key: str) -> str:
            v = (d or {}).get(key)
            return "-" if v is None else f"{1000 * v:.0f} ms"

        lat = self.latency
        return [
            f"audio {self.audio_s:.1f} s in {self.wall_s:.1f} s; CPU {self.cpu_cores:.2f} cores on average; "
            f"memory {self.rss_mb:.0f} MB (peak {self.peak_rss_mb:.0f} MB)",
            f"latency p90/max: speaking-now & talk share {ms(lat.get('state'), 'p90')}/"
            f"{ms(lat.get('state'), 'max')}; transcript {ms(lat.get('transcript'), 'p90')}/"
            f"{ms(lat.get('transcript'), 'max')}; speaker label {ms(lat.get('label'), 'p90')}/"
            f"{ms(lat.get('label'), 'max')}",
            f"models loaded in {self.load_s:.1f} s while capturing (analysis up to {self.max_backlog_s:.1f} s "
            f"behind; {self.buffer_dropped_s:.1f} s not analysed)",
            f"input overflows {self.overflows} ({self.lost_s:.1f} s replaced by silence); "
            f"utterances not transcribed (backlog) {self.asr_dropped}",
        ]
