"""Building blocks of :mod:`analysis.live`: audio ring, transcription worker, latency stats, cue adapter."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.timeline import Event, Metrics, Turn, Utterance, Word

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # Hz
LATENCY_SAMPLES = 20_000  # latency measurements kept per figure (the most recent)
DROP_LOG_EVERY_S = 10.0  # seconds between two "dropped" log lines (the count is always exact)
MAX_BATCH_S = 25.0  # seconds of waiting speech transcribed in one recogniser call when behind
BATCH_GAP_S = 0.5  # seconds of silence between the pieces of a batch


def trim_heap() -> bool:
    """Hand the C heap's free memory back to the system (glibc ``malloc_trim``); False elsewhere.

    The recogniser, the diarizer and numpy allocate and free tens of MB per call on several threads;
    glibc keeps freed memory in per-thread arenas, so a long session's resident size wanders by
    ~50 MB without growing. Trimming now and then keeps it near what is really in use.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if not _MALLOC_TRIM:
        return False
    _MALLOC_TRIM(0)
    return True


_MALLOC_TRIM = None


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


class LatencyStats:
    """The most recent latency measurements (seconds) with percentiles."""

    def __init__(self, maxlen: int = LATENCY_SAMPLES) -> None:
        self.values: deque[float] = deque(maxlen=maxlen)
        self.count = 0

    def add(self, seconds: float) -> None:
        self.values.append(max(0.0, float(seconds)))
        self.count += 1

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(np.fromiter(self.values, float), q)) if self.values else None

    def p90_max(self) -> tuple[float | None, float | None]:
        return self.percentile(90), (max(self.values) if self.values else None)

    def summary(self) -> dict[str, Any]:
        r = lambda x: None if x is None else round(x, 4)  # noqa: E731
        return {"n": self.count, "p50": r(self.percentile(50)), "p90": r(self.percentile(90)),
                "max": r(max(self.values) if self.values else None)}


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


@dataclass(frozen=True)
class Segment:
    """A stretch of speech to transcribe; ``end_wall`` is when its last sample was captured."""

    start: float
    end: float
    audio: np.ndarray
    end_wall: float
    final: bool = True


class AsrWorker:
    """Transcribes :class:`Segment` objects on its own thread; never blocks the submitter.

    At most ``maxlen`` segments wait; submitting another drops the OLDEST waiting one (counted in
    ``dropped`` and logged with its times, never its text).
    """

    def __init__(self, options: Any, maxlen: int = 8, transcriber: Any = None, backpressure: bool = False) -> None:
        from analysis.transcribe import Transcriber

        self.transcriber = transcriber if transcriber is not None else Transcriber(options)
        self.maxlen = max(1, maxlen)
        self.backpressure = backpressure  # file replay only: submit() waits instead of dropping
        self._todo: deque[Segment] = deque()
        self._done: deque[tuple[Segment, list[Utterance]]] = deque()
        self._cv = threading.Condition()
        self._busy = False
        self._stop = False
        self.dropped = 0
        self.failed = 0
        self.busy_s = 0.0  # seconds spent transcribing
        self.audio_s = 0.0  # seconds of audio transcribed
        self.calls = 0  # recogniser calls (a batch is one call)
        self._last_drop_log: float | None = None
        self._thread = threading.Thread(target=self._run, name="attune-asr", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def backlog(self) -> int:
        return len(self._todo)

    def submit(self, seg: Segment) -> None:
        with self._cv:
            while self.backpressure and len(self._todo) >= self.maxlen and self._thread.is_alive():
                self._cv.wait(0.5)
            self._todo.append(seg)
            while len(self._todo) > self.maxlen:
                old = self._todo.popleft()
                self.dropped += 1
                now = time.monotonic()
                if self._last_drop_log is None or now - self._last_drop_log >= DROP_LOG_EVERY_S:  # every drop is counted; logs are paced
                    self._last_drop_log = now
                    log.warning("transcription fell behind: dropped the utterance at %.1f-%.1f s "
                                "(%d dropped so far)", old.start, old.end, self.dropped)
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
                self._busy = True
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
                self._busy = False
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
            while (self._todo or self._busy) and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("transcription did not finish in %.0f s: %d utterances left",
                                timeout, len(self._todo))
                    return False
                self._cv.wait(min(left, 0.5))
        return True

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._todo.clear()
            self._cv.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)


# -- cues -----------------------------------------------------------------------------------------
CUE_EVERY_S = 0.5  # seconds (wall) between recomputations of the cue snapshot when turns change
# A snapshot covers the whole session, so it grows with it (measured 35 ms at 1 min, 206 ms at 2 h);
# the wait between snapshots grows with it so that they take at most this share of one core.
CUE_MAX_CPU_SHARE = 0.2
# SessionState field -> per-speaker key of the cue engine's snapshot
CUE_FIELDS = {"interruptions_made": "interruptions_made", "interruptions_received": "interruptions_received",
              "backchannels": "backchannels", "quick_responses": "quick_responses",
              "pace_rel": "wpm_rel",  # recent words per minute / own median per turn (1.0 = usual)
              "tone_rel": "pitch_median_rel_st"}  # recent median pitch vs own baseline, semitones


def _event_key(e: Event) -> tuple:
    return (e.kind, round(e.start, 2), e.by, e.of)


class CueAdapter:
    """Runs :class:`analysis.cues.CueEngine` on its own thread (tone and snapshots take tens of ms).

    The capture thread calls ``add_turn``/``add_utterance`` (queued), ``refresh(now)`` (returns the cue
    events found since the last call) and ``fields()`` (the cue fields of
    :class:`~analysis.session_state.SessionState` from the latest snapshot). The snapshot is recomputed
    when something changed, at most every ``CUE_EVERY_S``. ``final()`` runs the batch computation.
    """

    def __init__(self, options: Any = None, audio: Any = None) -> None:
        self.options = options
        self.engine = None
        self._fields: dict[str, Any] = {}
        self._seen: set[tuple] = set()
        self._inbox: deque[tuple[str, Any]] = deque()
        self._new: deque[Event] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._now = 0.0
        self.snapshot_s = LatencyStats(2000)  # seconds per recomputation
        self._thread: threading.Thread | None = None
        try:
            from analysis import cues
        except ImportError:
            self.module = None
            return
        self.module = cues
        try:
            self.engine = cues.CueEngine(options, audio)
        except Exception as exc:
            log.error("the cue engine could not start: %s", exc)
            return
        self._thread = threading.Thread(target=self._run, name="attune-cues", daemon=True)
        self._thread.start()

    def add_turn(self, turn: Turn) -> None:
        if self.engine is not None:
            self._inbox.append(("turn", turn))
            self._wake.set()

    def add_utterance(self, utt: Utterance) -> None:
        if self.engine is not None:
            self._inbox.append(("utterance", utt))
            self._wake.set()

    def refresh(self, now: float) -> list[Event]:
        self._now = now
        out = []
        while self._new:
            out.append(self._new.popleft())
        return out

    def fields(self) -> dict[str, Any]:
        return self._fields

    def _run(self) -> None:
        from analysis.session_state import frozen_map

        last = 0.0  # seconds the previous snapshot took
        while not self._stop:
            self._wake.wait()
            if self._stop:
                return
            # let a burst of turns/utterances arrive together; keep long sessions' snapshots in budget
            time.sleep(max(CUE_EVERY_S, last * (1 / CUE_MAX_CPU_SHARE - 1)))
            self._wake.clear()
            while self._inbox:
                kind, rec = self._inbox.popleft()
                (self.engine.add_turn if kind == "turn" else self.engine.add_utterance)(rec)
            self.engine.advance(self._now)
            t = time.perf_counter()
            try:
                snap, events = self.engine.snapshot()
            except Exception:
                log.exception("cue engine snapshot failed")
                continue
            last = time.perf_counter() - t
            self.snapshot_s.add(last)
            per_sp = snap.get("speakers", {})
            self._fields = {name: frozen_map({sp: m.get(key) for sp, m in per_sp.items()})
                            for name, key in CUE_FIELDS.items()}
            for e in events:
                if e.kind != "silence" and _event_key(e) not in self._seen:
                    self._seen.add(_event_key(e))
                    self._new.append(e)

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def final(self, turns: Sequence[Turn], utterances: Sequence[Utterance], duration: float,
              audio: Any = None) -> tuple[Metrics | None, list[Event]]:
        self.stop()
        if self.module is None:
            return None, []
        try:
            metrics, events = self.module.compute_cues(list(turns), list(utterances), duration, self.options,
                                                       audio)
        except Exception:
            log.exception("batch cue computation failed")
            return None, []
        from analysis.session_state import frozen_map

        self._fields = {name: frozen_map({sp: m.get(key) for sp, m in metrics.speakers.items()})
                        for name, key in CUE_FIELDS.items()}
        return metrics, list(events)
