"""The streaming diarizer off the capture thread (:class:`ThreadedDiarizer`), for :mod:`analysis.live`."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

import numpy as np

from analysis.timeline import Turn

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # Hz
MAX_DIARIZER_BACKLOG_S = 30.0  # seconds of audio the live diarizer may lag before it is switched off


class ThreadedDiarizer:
    """Runs a streaming diarizer (``process``/``flush``/``reset``/``speaker_now``) on its own thread.

    The capture thread's ``process(block)`` only queues the block and returns the turns finalised since
    the last call, so a slow diarization window never delays the speaking-now update. Blocks are never
    dropped (the diarizer's clock must stay whole); ``backlog_s`` says how far behind it is. If it falls
    more than ``max_backlog_s`` behind (a machine too slow for live diarization), it is switched off for
    the rest of the session (``disabled_at``: session seconds), logged, and memory stays bounded;
    ``backpressure=True`` (file replay only) makes ``process`` wait instead.
    """

    def __init__(self, diarizer: Any, max_backlog_s: float = MAX_DIARIZER_BACKLOG_S,
                 backpressure: bool = False) -> None:
        self.inner = diarizer
        self.max_backlog = max_backlog_s
        self.backpressure = backpressure
        self.disabled_at: float | None = None
        self._fed = 0  # samples queued in total
        self._todo: deque[np.ndarray] = deque()
        self._turns: deque[Turn] = deque()
        self._cv = threading.Condition()
        self._busy = False
        self._stop = False
        self.busy_s = 0.0
        self.max_backlog_s = 0.0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="attune-diarizer", daemon=True)
        self._thread.start()

    @property
    def backlog_s(self) -> float:
        return sum(len(b) for b in list(self._todo)) / SAMPLE_RATE

    @property
    def speaker_now(self) -> str | None:
        return getattr(self.inner, "speaker_now", None)

    def current_speaker(self) -> str | None:
        return self.speaker_now

    def heard_voiceprints(self) -> dict[str, np.ndarray]:
        """The inner diarizer's :meth:`~analysis.streaming_diarization.StreamingDiarizer.heard_voiceprints`
        (empty when it has none)."""
        heard = getattr(self.inner, "heard_voiceprints", None)
        return heard() if callable(heard) else {}

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._todo and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                parts = list(self._todo)
                self._todo.clear()
                self._busy = True
            t = time.perf_counter()
            try:
                turns = self.inner.process(np.concatenate(parts) if len(parts) > 1 else parts[0])
            except Exception as exc:  # keep capturing; speakers stop updating
                self.error = f"diarization failed: {type(exc).__name__}"
                log.exception("streaming diarization failed")
                turns = []
            self.busy_s += time.perf_counter() - t
            with self._cv:
                self._turns.extend(turns)
                self._busy = False
                self._cv.notify_all()

    def process(self, block: np.ndarray) -> list[Turn]:
        if self.disabled_at is None:
            with self._cv:
                self._todo.append(np.asarray(block, dtype=np.float32))
                self._fed += len(block)
                backlog = self.backlog_s
                self.max_backlog_s = max(self.max_backlog_s, backlog)
                self._cv.notify_all()
                while self.backpressure and self.backlog_s > self.max_backlog / 2 and self._thread.is_alive():
                    self._cv.wait(0.5)
            if not self.backpressure and backlog > self.max_backlog:
                self.disabled_at = self._fed / SAMPLE_RATE - backlog  # processed up to here
                with self._cv:
                    self._todo.clear()
                self.error = (f"live speaker separation fell {backlog:.0f} s behind and was switched off "
                              f"at {self.disabled_at:.0f} s; re-analyse the recording for speakers")
                log.warning("%s", self.error)
        out = []
        while self._turns:
            out.append(self._turns.popleft())
        return out

    def flush(self, timeout: float = 300.0) -> list[Turn]:
        """Wait for the queued audio, then close every open turn."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while (self._todo or self._busy) and self._thread.is_alive() and time.monotonic() < deadline:
                self._cv.wait(0.5)
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout=30)
        out = list(self._turns)
        self._turns.clear()
        try:
            out.extend(self.inner.flush())
        except Exception:
            log.exception("streaming diarization failed at the end")
        return out

    def reset(self) -> None:
        with self._cv:
            self._todo.clear()
            self._turns.clear()
        self.inner.reset()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
