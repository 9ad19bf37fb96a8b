"""The streaming diarizer off the capture thread (:class:`ThreadedDiarizer`), for :mod:`analysis.live`."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

import numpy as np

from analysis.timeline import Turn
from audio import SAMPLE_RATE

log = logging.getLogger(__name__)

MAX_DIARIZER_BACKLOG_S = 30.0  # seconds of audio the live diarizer may lag before it is switched off
FEED_MAX_S = 2.0  # seconds of queued audio handed to the inner diarizer per call: the worker checks for a
#                   stop between calls, so this bounds how long it takes to abandon its current work
FLUSH_TIMEOUT_S = 30.0  # seconds flush() waits for the queued audio in a live session (the backlog is at
#                         most MAX_DIARIZER_BACKLOG_S of audio), as the app waits for pending transcription
REPLAY_FLUSH_TIMEOUT_S = 300.0  # ... with backpressure on (a file replay: completeness over promptness)
STOP_JOIN_S = 5.0  # seconds stop() waits for the worker thread to end


class ThreadedDiarizer:
    """Runs a streaming diarizer (``process``/``flush``/``reset``/``speaker_now``) on its own thread.

    The capture thread's ``process(block)`` only queues the block and returns the turns finalised since
    the last call, so a slow diarization window never delays the speaking-now update. Blocks are never
    dropped (the diarizer's clock must stay whole); ``backlog_s`` says how far behind it is. If it falls
    more than ``max_backlog_s`` behind (a machine too slow for live diarization), it is switched off for
    the rest of the session (``disabled_at``: session seconds), logged, and memory stays bounded;
    ``backpressure=True`` (file replay only) makes ``process`` wait instead.

    Shutdown is bounded: :meth:`stop` (and :meth:`flush` once its wait is over) drops the queued audio,
    lets the worker finish at most the ``FEED_MAX_S`` of audio it is diarizing, and joins it for at
    most ``timeout`` seconds. Audio that was queued but never diarized is reported, not silently lost:
    ``disabled_at`` (session seconds diarized), ``undiarized_s``, ``error`` and a logged warning, as
    when the diarizer is switched off for being too slow.
    """

    def __init__(self, diarizer: Any, max_backlog_s: float = MAX_DIARIZER_BACKLOG_S,
                 backpressure: bool = False) -> None:
        self.inner = diarizer
        self.max_backlog = max_backlog_s
        self.backpressure = backpressure
        self.disabled_at: float | None = None
        self._fed = 0  # samples queued in total
        self._done = 0  # samples the inner diarizer has finished with (or that were dropped on purpose)
        self._todo: deque[np.ndarray] = deque()
        self._turns: deque[Turn] = deque()
        self._cv = threading.Condition()
        self._busy = False
        self._stop = False
        self.stopping = threading.Event()  # set by stop(): the worker takes no more audio
        self.undiarized_s = 0.0  # seconds of queued audio that were never diarized (abandoned at the end)
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

    def _take(self, limit: int) -> np.ndarray:
        """Up to ``limit`` queued samples, oldest first (the rest of a longer block stays queued)."""
        parts, n = [], 0
        while self._todo and n < limit:
            head = self._todo[0]
            if n + len(head) <= limit:
                parts.append(self._todo.popleft())
                n += len(head)
            else:
                parts.append(head[: limit - n])
                self._todo[0] = head[limit - n:]
                n = limit
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _run(self) -> None:
        limit = int(FEED_MAX_S * SAMPLE_RATE)
        while True:
            with self._cv:
                while not self._todo and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                block = self._take(limit)
                self._busy = True
            t = time.perf_counter()
            try:
                turns = self.inner.process(block)
            except Exception as exc:  # keep capturing; speakers stop updating
                self.error = f"diarization failed: {type(exc).__name__}"
                log.exception("streaming diarization failed")
                turns = []
            self.busy_s += time.perf_counter() - t
            with self._cv:
                self._turns.extend(turns)
                self._done += len(block)
                self._busy = False
                self._cv.notify_all()

    def process(self, block: np.ndarray) -> list[Turn]:
        if self.disabled_at is None and not self._stop:
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
                    self._done += sum(len(b) for b in self._todo)  # dropped on purpose, reported here
                    self._todo.clear()
                self.error = (f"live speaker separation fell {backlog:.0f} s behind and was switched off "
                              f"at {self.disabled_at:.0f} s; re-analyse the recording for speakers")
                log.warning("%s", self.error)
        out = []
        while self._turns:
            out.append(self._turns.popleft())
        return out

    def flush(self, timeout: float | None = None) -> list[Turn]:
        """Wait (at most ``timeout`` s; default ``FLUSH_TIMEOUT_S``, or ``REPLAY_FLUSH_TIMEOUT_S`` with
        backpressure on) for the queued audio, stop the worker (:meth:`stop`, at most ``STOP_JOIN_S``
        more), then close every open turn. Audio still queued at the deadline is abandoned and reported
        (see :meth:`stop`); if the worker is still inside the inner diarizer, its open turns are left
        open (the inner diarizer is never used from two threads)."""
        if timeout is None:
            timeout = REPLAY_FLUSH_TIMEOUT_S if self.backpressure else FLUSH_TIMEOUT_S
        deadline = time.monotonic() + timeout
        with self._cv:
            while (self._todo or self._busy) and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.wait(min(left, 0.5))
        stopped = self.stop()  # waits for at most one FEED_MAX_S call: flush ends within timeout + STOP_JOIN_S
        out = list(self._turns)
        self._turns.clear()
        if stopped:
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

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the worker: the queued audio is dropped, the block being diarized (at most ``FEED_MAX_S``
        of audio) may finish, and the thread is joined for at most ``timeout`` s (default
        ``STOP_JOIN_S``). Returns True when the
        thread has ended. Audio queued but not diarized is reported: ``disabled_at`` (unless already
        set) becomes the session time diarized up to, ``undiarized_s`` its amount, ``error`` says so and
        a warning is logged. A thread still running after ``timeout`` (a diarizer stuck in one call) is
        logged too; it is a daemon, and it takes no more audio."""
        timeout = STOP_JOIN_S if timeout is None else max(0.0, timeout)
        first = not self.stopping.is_set()
        with self._cv:
            self._stop = True
            self._todo.clear()  # counted below, from _fed - _done
            self._cv.notify_all()
        self.stopping.set()
        self._thread.join(timeout)
        alive = self._thread.is_alive()
        with self._cv:
            done, fed = self._done, self._fed
        if first and fed > done:
            self.undiarized_s = (fed - done) / SAMPLE_RATE
            message = (f"live speaker separation stopped with {self.undiarized_s:.1f} s of audio not "
                       f"separated (from {done / SAMPLE_RATE:.1f} s); re-analyse the recording for speakers")
            if self.disabled_at is None:  # else the switch-off already said so
                self.disabled_at = done / SAMPLE_RATE
                self.error = message
            log.warning("%s", message)
        if alive:
            log.warning("the live diarizer's thread was still busy %.1f s after it was asked to stop; "
                        "left to end on its own (it takes no more audio)", timeout)
        return not alive
