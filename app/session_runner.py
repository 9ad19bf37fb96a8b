"""One road for a live session, Qt-free: capture from the first second, analyse, finish and save.

Both ``attune live`` (:class:`app.live_session.LiveSession`) and the desktop app (its analysis process
or worker thread, through :func:`drive_session`) run a session with :class:`SessionRunner`:

- ``start()`` opens the source at once and starts two threads. The **capture** thread reads blocks,
  appends them to the recording (``audio.wav`` and the event log, crash-safe, from the first block) and
  queues them. The **analysis** thread builds the pipeline (loading the speech models takes seconds)
  while capture runs, then feeds it the queued blocks in order and every block after them. The queue
  is bounded (``max_buffer_s``); beyond that the oldest blocks are dropped (counted, logged with their
  times, replaced by silence so the clocks stay aligned) rather than letting memory grow.
- ``state()`` (any thread) is the latest :class:`~analysis.session_state.SessionState` with the
  capture clock (``t`` runs from the start, models loaded or not), the input level, ``no_input_s``
  (the input has delivered only digital silence, or nothing, for that long) and ``backlog_s``.
- ``stop()`` ends capture; ``finish()`` waits for the analysis of everything captured, writes
  ``timeline.json`` (speaker roles filled in; no words without the transcript consent) and closes
  ``session.json``.

Nothing here logs transcript text.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from analysis.session_state import SessionState
from app.recorder import AUDIO_NAME, TIMELINE_NAME, Recorder, people_in_room
from app.session_stats import SessionStats, peak_rss_mb, recording_reader, rss_mb
from audio import SAMPLE_RATE
from audio.sources import AudioBlock, AudioSource, DeviceError, level_dbfs

log = logging.getLogger(__name__)

EMIT_EVERY_S = 1 / 15  # a driver reports at most ~15 states per second (the view paints at ~12 Hz)
FINISH_TIMEOUT_S = 30.0  # seconds to wait for pending transcription when stopping
CLOSE_TIMEOUT_S = 5.0  # ... when the window is closed mid-session
MAX_BUFFER_S = 60.0  # seconds of captured audio held for the analysis (models loading) before dropping
NO_INPUT_DBFS = -85.0  # a block at or below this level is "nothing" (digital silence, a muted input)
CATCH_UP_S = 0.5  # behind by more than this: the pipeline waits instead of dropping work
FIRST_BLOCK_WAIT_S = 3.0  # seconds the models wait for the input's first block before loading anyway
DROP_LOG_EVERY_S = 10.0  # seconds between two "analysis buffer full" log lines (counts stay exact)
GAP_LOG_EVERY_S = 1.0  # s: a gap in the input (device lost) is logged again as it grows, at least this often

PipelineFactory = Callable[[Callable[[str, Any], None]], Any]  # (on_record) -> LivePipeline


def disk_error_message(exc: OSError, seconds: float) -> str:
    """One line for a write that failed during a session (ENOSPC above all)."""
    import errno

    what = "the disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else \
        f"the session could not be written ({exc.strerror or exc})"
    return (f"{what}: recording stopped after {seconds:.1f} s; what was written is kept and can be "
            f"recovered ('attune recover') once there is space")


# -- the session's description ------------------------------------------------------------------
@dataclass(frozen=True)
class SessionConfig:
    """What the start dialog decided.

    source: an input device name (None: system default) or ``file:<path>`` to replay a recording.
    realtime / speed: pacing of a file source (tests and demos run it faster than real time).
    consent_analysis: the clinician confirmed the client agreed to the analysis (required).
    keep_audio: the client also agreed to keeping the audio; False is the "no audio kept" mode.
    keep_transcript: the client agreed to a transcript; False keeps no words anywhere (pace and
        questions are then unavailable).
    num_speakers: people in the room (therapist included) as the clinician said; the live diarizer
        never finds more voices than this. None: "not sure" (automatic).
    people_choice: the dialog's answer behind it ("individual", "couple", "family", "not_sure"; see
        ``app.recorder.PEOPLE_CHOICES``), kept in session.json; None: named from ``num_speakers``.
    ephemeral: with ``session_dir``, record into a store rooted there whose key exists only in memory
        (a review: nothing readable is written, and the folder is deleted afterwards).
    requested_at: ``time.monotonic()`` when "Start session" was pressed (the machine's monotonic clock,
        the same in every process), for ``open_delay_s`` in session.json's stats; None: when the
        runner starts.
    """

    source: str | None = None
    planned_s: float = 50 * 60
    therapist_voice: str | None = None
    consent_analysis: bool = False
    keep_audio: bool = False
    num_speakers: int | None = None
    people_choice: str | None = None
    keep_transcript: bool = True
    transcribe: bool = True
    realtime: bool = True
    speed: float = 1.0
    session_dir: str | None = None
    requested_at: float | None = None
    ephemeral: bool = False  # a review: session_dir is a throw-away store under a random key never stored
    therapist_vector: tuple[float, ...] | None = None  # the enrolled voice, read (decrypted) by the caller

    @property
    def is_file(self) -> bool:
        return bool(self.source and self.source.startswith("file:"))


@dataclass
class SessionResult:
    """What a finished session left behind (sent with ``SessionWorker.finished``)."""

    session_dir: Path
    timeline: Any  # analysis.timeline.Timeline
    state: Any  # the last SessionState
    interrupted: bool  # stopped before the source ended
    error: str | None = None
    session: Any = None  # the app.store.Session when the session was recorded into the encrypted store

    @property
    def target(self) -> Any:
        """What to write into after the session: the store session, else the plain folder."""
        return self.session if self.session is not None else self.session_dir


def make_source(config: SessionConfig) -> AudioSource:
    """A file replayed as if live, or the microphone captured in its own helper process (so that
    loading the speech models, which holds Python's lock for seconds, cannot starve it)."""
    from audio.capture_process import ProcessMicrophone
    from audio.sources import FileSource

    if config.is_file:
        return FileSource(config.source[5:], realtime=config.realtime, speed=config.speed)
    return ProcessMicrophone(config.source)


def make_pipeline(config: SessionConfig, on_record: Callable | None, **options: Any):
    """The live pipeline; an enrolled therapist voice anchors the streaming diarizer (and the state says
    whether it is heard) and the number of people in the room (when the clinician gave it) bounds its
    speakers. ``options``: further :class:`~analysis.live.LiveOptions` fields (tests, benchmarks)."""
    from analysis.live import LiveOptions, LivePipeline

    anchor = None
    if config.therapist_vector is not None:  # decrypted by the window's process (no key here)
        import numpy as np

        anchor = np.asarray(config.therapist_vector, dtype=np.float32)
    elif config.therapist_voice:
        from app.voiceprints import load

        try:
            vp = load(config.therapist_voice)
        except Exception as exc:  # noqa: BLE001 - a locked store: roles guessed, the session goes on
            log.warning("enrolled voice %r could not be read (%s); roles are guessed", config.therapist_voice, exc)
            vp = None
        if vp is None:
            log.warning("enrolled voice %r not found; roles are guessed", config.therapist_voice)
        anchor = vp.vector if vp is not None else None
    live = LiveOptions(transcribe=config.transcribe and config.keep_transcript, anchor=anchor,
                       num_speakers=config.num_speakers)
    return LivePipeline(replace(live, **options), on_record=on_record)


# -- roles ----------------------------------------------------------------------------------------
def anchor_speaker(pipeline) -> str | None:
    """The speaker id the diarizer matched to the enrolled therapist voice, if any."""
    d = getattr(pipeline, "diarizer", None)
    for obj in (d, getattr(d, "inner", None)):
        sid = getattr(obj, "anchor_speaker", None)
        if isinstance(sid, str):
            return sid
    return None


def with_roles(state, therapist: str | None):
    """The state with roles from the enrolled voice: that voice is the therapist, the others client."""
    if therapist is None or not state.speakers:
        return state
    speakers = tuple(replace(sp, role=sp.role or ("therapist" if sp.id == therapist else "client"))
                     for sp in state.speakers)
    return replace(state, speakers=speakers)


def default_roles(timeline, therapist: str | None = None) -> dict[str, str]:
    """Roles for a finished live timeline, as the live view assigns them: the enrolled voice is the
    therapist and every other voice a client; without one, the first voice heard is the therapist and
    the second the client (the clinician corrects it with "Swap roles"; see ``save_after_session``)."""
    order = []
    for turn in sorted(timeline.turns, key=lambda t: t.start):
        if turn.speaker not in order and turn.speaker != "?":
            order.append(turn.speaker)
    order += [s.id for s in timeline.speakers if s.id not in order and s.id != "?"]
    if therapist is not None and therapist in order:
        return {sid: ("therapist" if sid == therapist else "client") for sid in order}
    return dict(zip(order, ("therapist", "client"), strict=False))


def timeline_with_roles(timeline, roles: dict[str, str]):
    """The timeline with its speakers' roles set from ``roles`` (speakers not named keep theirs)."""
    speakers = tuple(replace(s, role=roles.get(s.id, s.role)) for s in timeline.speakers)
    return replace(timeline, speakers=speakers)


def without_words(timeline):
    """The timeline with no words (the "no transcript" consent): utterances dropped, noted in the
    provenance with the cues that need words."""
    prov = {**(timeline.provenance or {}), "transcript": "not kept (consent)",
            "unavailable": ["pace", "questions", "reflections"]}
    return replace(timeline, utterances=(), provenance=prov)


def headline_metrics(timeline) -> dict[str, Any]:
    """The figures the session list shows (the store's index): speakers, turns, and each speaker's
    talk share; no words."""
    out: dict[str, Any] = {"speakers": len(timeline.speakers), "turns": len(timeline.turns)}
    per = getattr(timeline.metrics, "speakers", None) or {}
    share = {sp: round(float(m["talk_share"]), 3) for sp, m in per.items()
             if isinstance(m, dict) and isinstance(m.get("talk_share"), int | float)}
    if share:
        out["talk_share"] = share
    return out


# -- the runner ---------------------------------------------------------------------------------------
def _note(src: AudioSource) -> SimpleNamespace:
    """What ``LivePipeline.note_source`` reads from a source, frozen at capture time."""
    return SimpleNamespace(level_dbfs=src.level_dbfs, overflows=src.overflows, lost_s=src.lost_s,
                           status=src.status, error=src.error)


class SessionRunner:
    """Capture → recorder + buffer (capture thread) → pipeline (analysis thread); ``state()`` anywhere.

    ``pipeline_factory(on_record)`` builds the live pipeline; it runs on the analysis thread after the
    source has started, so no audio waits for the models. ``on_block(state)`` is called after each
    analysed block (from the analysis thread). ``duration``: stop after that many seconds of audio.
    """

    def __init__(self, source: AudioSource, session_dir: Any, pipeline_factory: PipelineFactory,
                 keep_audio: bool = True, keep_transcript: bool = True, meta: dict | None = None,
                 duration: float | None = None, on_block: Callable[[SessionState], None] | None = None,
                 max_buffer_s: float = MAX_BUFFER_S, requested_at: float | None = None) -> None:
        self.source = source
        self.requested_at = requested_at if requested_at is not None else time.monotonic()
        # an encrypted store session (app.store.Session; issue 13) or a plain session folder
        self.store_session = session_dir if hasattr(session_dir, "audio_writer") else None
        self.dir = self.store_session.dir if self.store_session is not None else Path(session_dir)
        self.pipeline_factory = pipeline_factory
        self.keep_transcript = keep_transcript
        self.duration = duration
        self.on_block = on_block
        self.max_buffer = int(max_buffer_s * SAMPLE_RATE)
        # a replayed file waits for the analysis when the buffer is full; a live input never waits
        from audio.sources import FileSource

        self.wait_when_full = isinstance(source, FileSource)
        self.recorder = Recorder(self.store_session or self.dir, keep_audio=keep_audio, keep_transcript=keep_transcript,
                                 meta={**(meta or {}), "source": source.describe()})
        self.pipeline = None
        self.error: str | None = None
        self.timeline = None
        self.stats = SessionStats()
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._buffer: deque[tuple[AudioBlock, SimpleNamespace, bool]] = deque()
        self._buffered = 0  # samples in the buffer
        self._captured_t = 0.0  # session seconds captured (the clock)
        self._analysed_t = 0.0
        self._capture_done = False
        self._note_now = _note(source)
        self._t0 = self._cpu0 = 0.0
        self._last_sound = 0.0  # wall time of the last block above NO_INPUT_DBFS (or the start)
        self._last_drop_log: float | None = None
        self._gaps_logged = 0
        self._gap_logged_end = 0.0  # end of the latest gap as last written to the event log
        self._capture: threading.Thread | None = None
        self._analysis: threading.Thread | None = None
        self.ready = threading.Event()  # the pipeline is built (models loaded)

    # -- running ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the source and start capturing at once. Raises :class:`DeviceError` if it cannot open
        (session.json then says "failed")."""
        self._t0 = self._last_sound = time.monotonic()
        self._cpu0 = time.process_time()
        try:
            self.source.start()
        except DeviceError as exc:
            self.error = str(exc)
            self.recorder.log("error", message=self.error)
            self.recorder.close(status="failed", error=self.error)
            raise
        self.stats.open_delay_s = time.monotonic() - self.requested_at
        self.recorder.update(source=self.source.describe())
        self._note_now = _note(self.source)
        self._capture = threading.Thread(target=self._capture_loop, name="attune-capture", daemon=True)
        self._analysis = threading.Thread(target=self._analysis_loop, name="attune-analysis", daemon=True)
        self._capture.start()
        self._analysis.start()

    def _capture_loop(self) -> None:
        src, rec = self.source, self.recorder
        try:
            while not self._stop.is_set():
                block = src.read()
                if block is None:
                    break
                rec.write(block.samples)
                if src.gaps and (len(src.gaps) > self._gaps_logged
                                 or src.gaps[-1][1] > self._gap_logged_end + 1e-9):
                    self._log_gaps(closing=not block.gap)
                sound = not block.gap and level_dbfs(block.samples) > NO_INPUT_DBFS
                with self._cv:
                    if self.wait_when_full:
                        while self._buffered >= self.max_buffer and not self._stop.is_set() \
                                and self._analysis is not None and self._analysis.is_alive():
                            self._cv.wait(0.1)
                    self._captured_t = block.t1
                    self._note_now = _note(src)
                    if sound:
                        self._last_sound = time.monotonic()
                    self._buffer.append((block, self._note_now, self.ready.is_set()))
                    self._buffered += len(block.samples)
                    while self._buffered > self.max_buffer and len(self._buffer) > 1:
                        self._drop_oldest()
                    self.stats.max_backlog_s = max(self.stats.max_backlog_s, self._buffered / SAMPLE_RATE)
                    self._cv.notify_all()
                if self.duration is not None and block.t1 >= self.duration - 1e-9:
                    break
        except DeviceError as exc:  # the device is gone and no reconnection was asked for
            self.error = str(exc)
            log.error("%s", self.error)
            with contextlib.suppress(OSError):  # the disk may be the trouble too
                rec.log("error", message=self.error)
        except OSError as exc:  # disk full, the folder gone: what was written is kept, recoverable
            self.error = disk_error_message(exc, rec.duration)
            log.info("%s", self.error)  # the caller reports self.error (one line)
            with contextlib.suppress(OSError):
                rec.log("error", message=self.error)
        except Exception as exc:  # keep the recording so far; report one line
            self.error = f"live capture stopped: {type(exc).__name__}: {exc}"
            log.exception("capture thread failed")
            with contextlib.suppress(OSError):
                rec.log("error", message=self.error)
        finally:
            with self._cv:
                self._capture_done = True
                self._cv.notify_all()

    def _drop_oldest(self) -> None:
        """(lock held) The analysis is too far behind: forget the oldest buffered block (it is recorded)."""
        block, _note_, _m = self._buffer.popleft()
        self._buffered -= len(block.samples)
        self.stats.buffer_dropped_s += block.duration
        now = time.monotonic()
        if self._last_drop_log is None or now - self._last_drop_log >= DROP_LOG_EVERY_S:
            self._last_drop_log = now
            log.warning("analysis fell %.0f s behind: %.1f-%.1f s not analysed (recorded; %.1f s so far)",
                        self.max_buffer / SAMPLE_RATE, block.t0, block.t1, self.stats.buffer_dropped_s)
            self.recorder.log("analysis_gap", start=block.t0, end=block.t1)

    def _log_gaps(self, closing: bool = False) -> None:
        """Write the input's gaps (device lost: silence recorded in their place) to the event log: a gap
        when it begins, again as it grows (at least every ``GAP_LOG_EVERY_S``, so a crash loses little of
        it) and its whole span when the input is back; the last "gap" event of a start is its span."""
        gaps = self.source.gaps
        for start, end in gaps[self._gaps_logged:]:
            self.recorder.log("gap", start=start, end=end)
            self._gap_logged_end = end
        self._gaps_logged = len(gaps)
        if gaps:
            start, end = gaps[-1]
            if end > self._gap_logged_end + 1e-9 and (closing or end - self._gap_logged_end >= GAP_LOG_EVERY_S):
                self.recorder.log("gap", start=start, end=end)
                self._gap_logged_end = end

    def _analysis_loop(self) -> None:
        # Let the input's stream settle before the models load: on a busy machine the loading (CPU-heavy)
        # would otherwise delay the first audio the device delivers, and what it never delivers is lost.
        with self._cv:
            deadline = time.monotonic() + FIRST_BLOCK_WAIT_S
            while not self._buffer and not self._capture_done and time.monotonic() < deadline:
                self._cv.wait(0.05)
        try:
            pipe = self.pipeline_factory(self.recorder.log_record)
        except Exception as exc:
            self.error = f"the analysis could not start: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            log.exception("the live pipeline could not be built")
            self.recorder.log("error", message=self.error)
            self.stop()
            with self._cv:
                self._buffer.clear()
                self._buffered = 0
                self._cv.notify_all()
            return
        self.stats.load_s = time.monotonic() - self._t0
        with self._cv:
            self.pipeline = pipe
        self.ready.set()
        expected = 0.0  # session time the pipeline has consumed
        catching_up = False
        try:
            while True:
                with self._cv:
                    while not self._buffer and not self._capture_done:
                        self._cv.wait(0.1)
                    if not self._buffer:
                        break
                    block, note, measure = self._buffer.popleft()
                    self._buffered -= len(block.samples)
                    behind = self._buffered / SAMPLE_RATE
                    self._cv.notify_all()
                want = CATCH_UP_S < behind < 0.75 * self.max_buffer / SAMPLE_RATE
                if want != catching_up:
                    catching_up = want
                    pipe.set_backpressure(want)
                if block.t0 > expected + 1e-6:  # blocks dropped from a full buffer: silence, same clock
                    n = int(round((block.t0 - expected) * SAMPLE_RATE))
                    pipe.process(AudioBlock(expected, np.zeros(n, dtype=np.float32), block.wall, gap=True),
                                 measure=False)
                pipe.note_source(note)
                pipe.process(block, measure=measure)
                expected = block.t1
                self._analysed_t = block.t1
                if self.on_block is not None:
                    self.on_block(self.state())
        except Exception as exc:  # keep the recording; report one line
            self.error = f"live analysis stopped: {type(exc).__name__}: {exc}"
            log.exception("analysis thread failed")
            self.recorder.log("error", message=self.error)
            self.stop()
        finally:
            if catching_up:
                with contextlib.suppress(Exception):
                    pipe.set_backpressure(False)

    @property
    def running(self) -> bool:
        return self._capture is not None and self._capture.is_alive()

    def state(self) -> SessionState:
        """The latest snapshot, on the capture clock (safe from any thread)."""
        with self._cv:
            pipe, captured, note = self.pipeline, self._captured_t, self._note_now
            last_sound, backlog = self._last_sound, self._buffered / SAMPLE_RATE
            done = self._capture_done
        base = pipe.state() if pipe is not None else SessionState(status="listening")
        finished = base.status in ("finishing", "finished")
        lost = note.status == "device lost"
        changes: dict[str, Any] = {
            "t": max(base.t, captured), "level_dbfs": note.level_dbfs, "overflows": note.overflows,
            "lost_s": note.lost_s + self.stats.buffer_dropped_s,
            "no_input_s": 0.0 if finished or (done and not lost) else max(0.0, time.monotonic() - last_sound),
            "backlog_s": 0.0 if finished else (backlog if pipe is not None else captured),
            "transcribing": base.transcribing and self.keep_transcript and pipe is not None,
        }
        if not finished:
            changes["status"] = "device lost" if lost else "listening"
            changes["error"] = (note.error if lost else None) or getattr(pipe, "error", None) or self.error
        if not self.keep_transcript:
            changes["transcript_tail"] = ()
        return with_roles(replace(base, **changes), anchor_speaker(pipe))

    def stop(self) -> None:
        """Ask the capture to stop (returns at once; ``finish()`` waits)."""
        self._stop.set()
        with contextlib.suppress(Exception):
            self.source.stop()
        with self._cv:
            self._cv.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the capture to end; True when it has."""
        if self._capture is None:
            return True
        self._capture.join(timeout)
        return not self._capture.is_alive()

    def finish(self, timeout: float = 120.0):
        """Stop, analyse what is still buffered, drain pending transcription, write ``timeline.json``
        (with roles; without words when the transcript is not kept) and close the session folder.
        Raises RuntimeError (session.json "failed", the recording kept) if the pipeline never started."""
        if self.timeline is not None:
            return self.timeline
        self.stop()
        self.wait()
        if self._analysis is not None:
            self._analysis.join()
        if getattr(self.source, "gaps", None):  # the session ended while the device was gone
            self._log_gaps(closing=True)
        pipe = self.pipeline
        if pipe is None:
            self.recorder.close(status="failed", error=self.error)
            raise RuntimeError(self.error or "the session never started")
        src_meta = {**self.source.describe(), "live": True, "sample_rate": SAMPLE_RATE, "channels": 1}
        reader = None
        if self.recorder.keep_audio and self.store_session is not None:  # decrypted into memory only
            src_meta["session"] = self.store_session.id
            reader = self.store_session.audio_reader()
        elif self.recorder.keep_audio:
            src_meta["file"] = AUDIO_NAME
            reader = recording_reader(self.dir / AUDIO_NAME)
        timeline = pipe.finish(timeout=timeout, source=src_meta, audio=reader)
        timeline = timeline_with_roles(timeline, default_roles(timeline, anchor_speaker(pipe)))
        if not self.keep_transcript:
            timeline = without_words(timeline)
        self.timeline = timeline
        if self.store_session is not None:  # encrypted whole (temp, fsync, rename)
            self.store_session.write_json("timeline", timeline.to_dict())
        else:
            timeline.save(self.dir / TIMELINE_NAME)
            os.chmod(self.dir / TIMELINE_NAME, 0o600)  # holds the transcript
        self._collect_stats()
        s = self.stats
        self.recorder.close(status="finished", error=self.error,
                            speakers=[asdict(sp) for sp in timeline.speakers],
                            stats={"cpu_cores": round(s.cpu_cores, 3), "latency": s.latency,
                                   "asr_dropped": s.asr_dropped, "overflows": s.overflows,
                                   "load_s": round(s.load_s, 2), "max_backlog_s": round(s.max_backlog_s, 2),
                                   "open_delay_s": s.open_delay_s if s.open_delay_s is None
                                   else round(s.open_delay_s, 3),
                                   "buffer_dropped_s": round(s.buffer_dropped_s, 2)})
        self.recorder.update(duration=round(timeline.duration, 3),  # also in "no audio kept" mode
                             metrics=headline_metrics(timeline))
        return timeline

    def abort(self, status: str = "failed") -> None:
        """Stop everything without a timeline (an error path); the recording so far is kept."""
        self.stop()
        self.wait(5)
        with contextlib.suppress(Exception):
            if self.pipeline is not None:
                self.pipeline.close()
        with contextlib.suppress(Exception):
            self.recorder.close(status=status, error=self.error)

    def _collect_stats(self) -> None:
        s = self.stats
        s.wall_s = time.monotonic() - self._t0
        s.cpu_s = time.process_time() - self._cpu0
        s.audio_s = self._captured_t
        s.peak_rss_mb = peak_rss_mb()
        s.rss_mb = rss_mb()
        s.latency = self.pipeline.latency_summary()
        s.overflows = self.source.overflows
        s.lost_s = self.source.lost_s
        s.asr_dropped = s.latency.get("asr_dropped", 0)
        s.error = self.error


# -- the loop the desktop app runs (in its analysis process, or on its worker thread) ---------------
def final_state(timeline, last):
    """The final snapshot: the last live state with its figures replaced by the finished timeline's
    (the batch cue computation over all turns, so the summary matches the saved timeline)."""
    from analysis.cue_adapter import CUE_FIELDS
    from analysis.session_state import frozen_map

    per = timeline.metrics.speakers or {}
    changes: dict[str, Any] = {"t": timeline.duration, "status": "finished", "speaking_now": (),
                               "speakers": tuple(timeline.speakers) or last.speakers,
                               "no_input_s": 0.0, "backlog_s": 0.0}
    for name in ("talk_time", "talk_share", "talk_share_window", *CUE_FIELDS):  # the same names as the metrics
        values = {sp: m[name] for sp, m in per.items() if name in m}
        if values:
            changes[name] = frozen_map(values)
    return replace(last, **changes)


def session_meta(cfg: SessionConfig) -> dict[str, Any]:
    return {"app": "attune", "planned_s": cfg.planned_s, "therapist_voice": cfg.therapist_voice,
            "consent": {"analysis": cfg.consent_analysis, "audio": cfg.keep_audio,
                        "transcript": cfg.keep_transcript},
            "people_in_room": people_in_room(cfg.num_speakers, cfg.people_choice)}


def drive_session(cfg: SessionConfig, session_dir: Path, pipeline_factory: Callable, source_factory: Callable,
                  should_stop: Callable[[], bool], send: Callable[..., None]) -> None:
    """A desktop session through :class:`SessionRunner`: start, report, stop, finish and save.

    ``send(kind, payload)`` reports "status" (str), "ready" (models loaded; capture runs from the
    start), "state" (SessionState, every ``EMIT_EVERY_S``), "finished" ((timeline, final state,
    interrupted)) or "failed" (one line). ``should_stop()`` is polled between states.
    """
    runner = None
    try:
        send("status", "loading models")
        source = source_factory(cfg)
        runner = SessionRunner(source, session_dir, lambda on_record: pipeline_factory(cfg, on_record),
                               keep_audio=cfg.keep_audio, keep_transcript=cfg.keep_transcript,
                               meta=session_meta(cfg), requested_at=cfg.requested_at)
        runner.start()
        send("state", runner.state())
        interrupted = ready_sent = False
        while True:
            if not interrupted and should_stop():
                interrupted = True
                runner.stop()
            done = runner.wait(EMIT_EVERY_S)
            if not ready_sent and runner.ready.is_set():
                ready_sent = True
                send("status", "listening")
                send("ready")
            send("state", runner.state())
            if done:
                break
        send("status", "finishing")
        timeline = runner.finish(timeout=CLOSE_TIMEOUT_S if interrupted else FINISH_TIMEOUT_S)
        final = final_state(timeline, runner.state())
        send("state", final)
        send("status", "saved")
        send("finished", (timeline, final, interrupted))
    except Exception as exc:  # one line for the user; the traceback goes to the log
        if not isinstance(exc, DeviceError | RuntimeError):
            log.exception("live session failed")
        if runner is not None:
            runner.abort("failed")
        send("failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
