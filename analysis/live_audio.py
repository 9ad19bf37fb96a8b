"""Audio helpers of the live pipeline: the ring of recent session audio and the pause detector."""

from __future__ import annotations

import numpy as np

from audio import SAMPLE_RATE


class AudioRing:
    """The last ``seconds`` of session audio, readable by session time (constant memory)."""

    def __init__(self, seconds: float) -> None:
        self.size = int(seconds * SAMPLE_RATE)
        self.buf = np.zeros(self.size, dtype=np.float32)
        self.n = 0  # samples written in total

    def write(self, x: np.ndarray) -> None:
        x = x[-self.size:]
        i = self.n % self.size
        k = min(len(x), self.size - i)
        self.buf[i:i + k] = x[:k]
        self.buf[:len(x) - k] = x[k:]
        self.n += len(x)

    def read(self, start: float, end: float) -> np.ndarray:
        """A copy of the samples between two session times still held (clipped to what is held)."""
        a = max(int(round(start * SAMPLE_RATE)), self.n - self.size, 0)
        b = min(int(round(end * SAMPLE_RATE)), self.n)
        if b <= a:
            return np.zeros(0, dtype=np.float32)
        idx = np.arange(a, b) % self.size
        return self.buf[idx]


class PauseDetector:
    """Short pauses inside speech (between phrases or speakers), where speech can be cut cleanly.

    Frames of ``FRAME_S`` are quiet when ``PAUSE_DB`` below the recent speech peak (which decays by
    ``PEAK_DECAY_DB_S``); ``process`` returns the time of a cut point (just after the start of a quiet run)
    once the run has lasted ``PAUSE_S``, else None.
    """

    FRAME_S = 0.01  # seconds per energy frame
    PAUSE_S = 0.08  # seconds of quiet that make a pause
    PAUSE_DB = 30.0  # dB below the recent speech peak
    PEAK_DECAY_DB_S = 1.0  # dB per second
    CUT_PAD_S = 0.03  # seconds kept after the start of the quiet run (word endings)

    def __init__(self) -> None:
        self.peak_db = -60.0
        self.run_start: float | None = None
        self.reported = False
        self.n = int(self.FRAME_S * SAMPLE_RATE)

    def process(self, t0: float, x: np.ndarray) -> float | None:
        n = len(x) // self.n
        if n == 0:
            return None
        e = np.mean(np.square(x[:n * self.n].reshape(n, self.n), dtype=np.float64), axis=1)
        db = 10 * np.log10(e + 1e-12)
        self.peak_db = max(self.peak_db - self.PEAK_DECAY_DB_S * n * self.FRAME_S, float(db.max()))
        quiet = db < self.peak_db - self.PAUSE_DB
        cut = None
        for i, q in enumerate(quiet):
            t = t0 + i * self.FRAME_S
            if not q:
                self.run_start, self.reported = None, False
                continue
            if self.run_start is None:
                self.run_start = t
            if not self.reported and t + self.FRAME_S - self.run_start >= self.PAUSE_S:
                self.reported = True
                cut = self.run_start + self.CUT_PAD_S
        return cut

