"""Live transcription off the capture thread: :class:`Segment` (speech to transcribe) and :class:`AsrWorker`
(its own thread, a queue that never drops, batched recogniser calls). Never logs text."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.timeline import Utterance, Word
from audio import SAMPLE_RATE

log = logging.getLogger(__name__)

BEHIND_WARN_S = 30.0  # seconds of speech waiting for transcription that make a "behind" warning
BEHIND_LOG_EVERY_S = 10.0  # seconds (wall) between two "behind" log lines
MAX_BATCH_S = 25.0  # seconds of waiting speech transcribed in one recogniser call when behind
BATCH_GAP_S = 0.5  # seconds of silence between the pieces of a batch


@dataclass(frozen=True)
class Segment:
    """A stretch of speech to transcribe; ``end_wall`` is when its last sample was captured."""

    start: float
    end: float
    audio: np.ndarray
    end_wall: float
    final: bool = True


class AsrWorker:
    """Transcribes :class:`Segment` objects on its own thread, every one and in the order submitted.

    Nothing is ever dropped for being late: when the recogniser falls behind (the catch-up on audio
    buffered while the models loaded, a slow machine) the waiting segments are transcribed in bigger
    batches (``MAX_BATCH_S``), and a backlog of more than ``BEHIND_WARN_S`` of speech is logged (times
    only, never text). ``submit`` never blocks, except with ``backpressure`` (file replay, catch-up):
    then it waits while ``maxlen`` segments are waiting. ``dropped`` counts the segments still waiting
    when the worker is stopped (``stop()`` after a ``drain`` that timed out): never transcribed.
    """

    def __init__(self, options: Any, maxlen: int = 8, transcriber: Any = None, backpressure: bool = False) -> None:
        from analysis.transcribe import Transcriber

        self.transcriber = transcriber if transcriber is not None else Transcriber(options)
        self.maxlen = max(1, maxlen)
        self.backpressure = backpressure  # file replay, catch-up: submit() waits while maxlen are waiting
        self._todo: deque[Segment] = deque()
        self._done: deque[tuple[Segment, list[Utterance]]] = deque()
        self._cv = threading.Condition()
        self._in_batch = 0  # segments in the batch being transcribed
        self._stop = False
        self.dropped = 0  # segments never transcribed (still waiting when the worker was stopped)
        self.failed = 0
        self.busy_s = 0.0  # seconds spent transcribing
        self.audio_s = 0.0  # seconds of audio transcribed
        self.calls = 0  # recogniser calls (a batch is one call)
        self._last_behind_log: float | None = None
        self._thread = threading.Thread(target=self._run, name="attune-asr", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def backlog(self) -> int:
        """Segments waiting (not counting a batch being transcribed)."""
        return len(self._todo)

    @property
    def pending(self) -> int:
        """Segments submitted and not yet transcribed (waiting or in the batch being transcribed)."""
        with self._cv:
            return len(self._todo) + self._in_batch

    def submit(self, seg: Segment) -> None:
        with self._cv:
            while self.backpressure and len(self._todo) >= self.maxlen and self._thread.is_alive():
                self._cv.wait(0.5)
            self._todo.append(seg)
            waiting_s = sum(s.end - s.start for s in self._todo)
            now = time.monotonic()
            if waiting_s > BEHIND_WARN_S and (self._last_behind_log is None
                                              or now - self._last_behind_log >= BEHIND_LOG_EVERY_S):
                self._last_behind_log = now
                log.warning("transcription is behind: %d utterances (%.0f s of speech, from %.1f s) waiting",
                            len(self._todo), waiting_s, self._todo[0].start)
            self._cv.notify_all()

    def _run(self) -> None:
        try:  # load the model before the first utterance ends (the first load takes a second or two)
            _ = self.transcriber.model
        except Exception as exc:
            log.error("the transcription model could not be loaded: %s", exc)
        while True:
            with self._cv:
                while not self._todo and not self._stop:
                    self._cv.wait()
                if self._stop and not self._todo:
                    return
                batch = [self._todo.popleft()]
                total = batch[0].end - batch[0].start
                while self._todo and total + BATCH_GAP_S + self._todo[0].end - self._todo[0].start <= MAX_BATCH_S:
                    seg = self._todo.popleft()
                    batch.append(seg)
                    total += BATCH_GAP_S + seg.end - seg.start
                self._in_batch = len(batch)
            t = time.perf_counter()
            try:
                results = self._transcribe(batch)
            except Exception as exc:  # keep going: one failed utterance must not end the session
                self.failed += len(batch)
                log.error("transcription of %.1f-%.1f s failed: %s", batch[0].start, batch[-1].end,
                          type(exc).__name__)
                results = [(seg, []) for seg in batch]
            self.busy_s += time.perf_counter() - t
            self.audio_s += total
            self.calls += 1
            with self._cv:
                self._done.extend(results)
                self._in_batch = 0
                self._cv.notify_all()

    def _transcribe(self, batch: list[Segment]) -> list[tuple[Segment, list[Utterance]]]:
        """One recogniser call for the whole batch (its cost is mostly fixed per call), split back."""
        if len(batch) == 1:
            seg = batch[0]
            return [(seg, self.transcriber.transcribe(seg.audio, offset=seg.start))]
        gap = np.zeros(int(BATCH_GAP_S * SAMPLE_RATE), dtype=np.float32)
        parts, starts, pos = [], [], 0
        for seg in batch:
            starts.append(pos / SAMPLE_RATE)
            parts += [seg.audio, gap]
            pos += len(seg.audio) + len(gap)
        utts = self.transcriber.transcribe(np.concatenate(parts), offset=0.0)
        bounds = [starts[i + 1] - BATCH_GAP_S / 2 for i in range(len(batch) - 1)] + [float("inf")]

        def piece(t: float) -> int:
            return next(i for i, b in enumerate(bounds) if t < b)

        out: list[list[Utterance]] = [[] for _ in batch]
        for u in utts:
            if not u.words:
                i = piece((u.start + u.end) / 2)
                d = batch[i].start - starts[i]
                out[i].append(Utterance(u.speaker, u.start + d, u.end + d, u.text))
                continue
            groups: dict[int, list[Word]] = {}
            for w in u.words:
                i = piece((w.start + w.end) / 2)
                d = batch[i].start - starts[i]
                groups.setdefault(i, []).append(Word(w.start + d, w.end + d, w.text, w.p))
            for i, ws in groups.items():
                out[i].append(Utterance(u.speaker, ws[0].start, ws[-1].end, " ".join(w.text for w in ws),
                                        tuple(ws)))
        return list(zip(batch, out, strict=True))

    def results(self) -> list[tuple[Segment, list[Utterance]]]:
        out = []
        while self._done:
            out.append(self._done.popleft())
        return out

    def drain(self, timeout: float) -> bool:
        """Wait until every submitted segment is transcribed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while (self._todo or self._in_batch) and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("transcription did not finish in %.0f s: %d utterances left",
                                timeout, len(self._todo))
                    return False
                self._cv.wait(min(left, 0.5))
        return True

    def stop(self) -> None:
        """Stop after the batch in progress; segments still waiting are never transcribed (``dropped``)."""
        with self._cv:
            self._stop = True
            if self._todo:
                self.dropped += len(self._todo)
                log.warning("transcription stopped with %d utterances (%.1f-%.1f s) not transcribed",
                            len(self._todo), self._todo[0].start, self._todo[-1].end)
                self._todo.clear()
            self._cv.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)
