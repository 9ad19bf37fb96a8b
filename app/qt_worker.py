"""Qt glue for the live pipeline: a worker object on its own QThread, and a controller on the GUI side.

Threads and what crosses them:

- :class:`SessionWorker` lives on a QThread. :func:`drive_session` loads the models (the pipeline's
  constructor; heavy modules are imported there, never on the GUI thread), opens the source and the
  recorder, then loops: read a block, record it, ``pipeline.process`` it, and now and then report the
  latest immutable ``SessionState``. By default that loop runs in a child "analysis" process and the
  worker thread relays its messages as signals (native code holding the GIL, such as importing torch
  or Praat's pitch tracker, would otherwise freeze the window); only signals reach the GUI thread.
- :class:`SessionController` lives on the GUI thread. It keeps the latest state (the window repaints
  from a timer, ~12 Hz, from ``controller.latest``), and stops cleanly: ``requestInterruption`` → the
  worker finishes the pipeline and saves → ``quit`` → ``wait``.

Nothing here logs transcript text.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.settings import sessions_dir

log = logging.getLogger(__name__)

EMIT_EVERY_S = 1 / 15  # the worker sends at most ~15 states per second (the view paints at ~12 Hz)
FINISH_TIMEOUT_S = 30.0  # seconds to wait for pending transcription when stopping
CLOSE_TIMEOUT_S = 5.0  # ... when the window is closed mid-session
ANALYSIS_NICE = 4  # scheduling niceness of the analysis process (the window's process keeps 0)


@dataclass(frozen=True)
class SessionConfig:
    """What the start dialog decided.

    source: an input device name (None: system default) or ``file:<path>`` to replay a recording.
    realtime / speed: pacing of a file source (tests and demos run it faster than real time).
    consent_analysis: the clinician confirmed the client agreed to the analysis (required).
    keep_audio: the client also agreed to keeping the audio; False is the "no audio kept" mode.
    num_speakers: people in the room (therapist included) as the clinician said; the live diarizer
        never finds more voices than this. None: "not sure" (automatic).
    people_choice: the dialog's answer behind it ("individual", "couple", "family", "not_sure"; see
        ``audio.recorder.PEOPLE_CHOICES``), kept in session.json; None: named from ``num_speakers``.
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


def make_source(config: SessionConfig):
    from audio.sources import FileSource, MicrophoneSource

    if config.is_file:
        return FileSource(config.source[5:], realtime=config.realtime, speed=config.speed)
    return MicrophoneSource(config.source)


def make_pipeline(config: SessionConfig, on_record: Callable | None):
    """The live pipeline; an enrolled therapist voice anchors the streaming diarizer and the number of
    people in the room (when the clinician gave it) bounds its speakers."""
    from analysis.live import LiveOptions, LivePipeline

    anchor = None
    if config.therapist_voice:
        from app.voiceprints import load

        vp = load(config.therapist_voice)
        if vp is None:
            log.warning("enrolled voice %r not found; roles are guessed", config.therapist_voice)
        anchor = vp.vector if vp is not None else None
    options = LiveOptions(transcribe=config.transcribe and config.keep_transcript, anchor=anchor,
                          num_speakers=config.num_speakers)
    return LivePipeline(options, on_record=on_record)


def _anchor_speaker(pipeline) -> str | None:
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
    from dataclasses import replace

    speakers = tuple(replace(sp, role=sp.role or ("therapist" if sp.id == therapist else "client"))
                     for sp in state.speakers)
    return replace(state, speakers=speakers)


def new_session_dir() -> Path:
    stamp = datetime.now().strftime("%Y-%m-%d_%H%M%S")
    root = sessions_dir()
    path = root / stamp
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{n}"
    return path


def drive_session(cfg: SessionConfig, session_dir: Path, pipeline_factory: Callable, source_factory: Callable,
                  should_stop: Callable[[], bool], send: Callable[..., None]) -> None:
    """The session loop, Qt-free: source → recorder + pipeline, then finish and save.

    ``send(kind, payload)`` reports "status" (str), "ready", "state" (SessionState), "finished"
    ((timeline, final state, interrupted)) or "failed" (one line). Runs on the worker thread, or in the
    analysis process (see :func:`_child_main`).
    """
    recorder = pipeline = source = None
    try:
        send("status", "loading models")
        from audio.recorder import Recorder, people_in_room

        source = source_factory(cfg)
        meta = {"app": "attune", "planned_s": cfg.planned_s, "therapist_voice": cfg.therapist_voice,
                "consent": {"analysis": cfg.consent_analysis, "audio": cfg.keep_audio,
                            "transcript": cfg.keep_transcript},
                "people_in_room": people_in_room(cfg.num_speakers, cfg.people_choice),
                "source": source.describe()}
        recorder = Recorder(session_dir, keep_audio=cfg.keep_audio, keep_transcript=cfg.keep_transcript,
                            meta=meta)
        pipeline = pipeline_factory(cfg, recorder.log_record)
        if should_stop():
            raise _Cancelled
        source.start()
        send("status", "listening")
        send("ready")
        last_emit = 0.0
        interrupted = False
        while True:
            if should_stop():
                interrupted = True
                break
            block = source.read()
            if block is None:
                break
            recorder.write(block.samples)
            pipeline.process(block)
            pipeline.note_source(source)
            now = time.monotonic()
            if now - last_emit >= EMIT_EVERY_S:
                last_emit = now
                send("state", with_roles(pipeline.state(), _anchor_speaker(pipeline)))
        source.stop()
        send("status", "finishing")
        timeline = pipeline.finish(timeout=CLOSE_TIMEOUT_S if interrupted else FINISH_TIMEOUT_S,
                                   source=source.describe())
        final = with_roles(state_from_timeline(timeline, pipeline.state()), _anchor_speaker(pipeline))
        pipeline = None
        timeline.save(session_dir / "timeline.json")
        os.chmod(session_dir / "timeline.json", 0o600)  # holds the transcript
        recorder.close(status="finished", speakers=[asdict(s) for s in timeline.speakers])
        recorder.update(duration=round(timeline.duration, 3))  # also in "no audio kept" mode
        send("state", final)
        send("status", "saved")
        send("finished", (timeline, final, interrupted))
    except _Cancelled:
        _abort(recorder, pipeline, source, "cancelled")
        send("failed", "cancelled")
    except Exception as exc:  # one line for the user; the traceback goes to the log
        log.exception("live session failed")
        _abort(recorder, pipeline, source, "failed")
        send("failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _abort(recorder, pipeline, source, status: str) -> None:
    for fn in (lambda: source.stop(), lambda: pipeline.close(), lambda: recorder.close(status=status)):
        with contextlib.suppress(Exception):
            fn()


class _Cancelled(Exception):
    pass


def _portable(state) -> dict[str, Any]:
    """A SessionState as a picklable dict (its read-only mappings become dicts); see :func:`_unport`."""
    from collections.abc import Mapping
    from dataclasses import fields

    return {f.name: (dict(v) if isinstance(v := getattr(state, f.name), Mapping) else v)
            for f in fields(state)}


def _unport(payload):
    if isinstance(payload, dict):
        from analysis.session_state import SessionState

        return SessionState(**payload)
    return payload


def _child_main(cfg: SessionConfig, session_dir: str, conn) -> None:
    """Entry point of the analysis process: runs :func:`drive_session`, talks over a pipe."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(OSError, AttributeError):
        os.nice(ANALYSIS_NICE)  # on a busy CPU the window is served first
    stopped = [False]

    def should_stop() -> bool:
        try:
            while not stopped[0] and conn.poll():
                stopped[0] = conn.recv() == "stop"
        except (EOFError, OSError):  # the app is gone: finish and save what was heard
            stopped[0] = True
        return stopped[0]

    def send(kind: str, payload: Any = None) -> None:
        if kind == "state":
            payload = _portable(payload)
        elif kind == "finished":
            timeline, final, interrupted = payload
            payload = (timeline.to_dict(), _portable(final), interrupted)
        try:
            conn.send((kind, payload))
        except (BrokenPipeError, OSError):
            stopped[0] = True

    drive_session(cfg, Path(session_dir), make_pipeline, make_source, should_stop, send)
    conn.close()


class SessionWorker(QObject):
    """Drives one session from a worker thread. Create it, ``moveToThread``, connect ``run``.

    By default the pipeline runs in a separate analysis process that this thread talks to: native code
    that holds Python's GIL (importing torch, Praat's pitch tracker) can then never freeze the window.
    With an explicit ``pipeline_factory`` (tests) it runs on this thread instead.
    """

    status = Signal(str)  # "loading models", "listening", "finishing", "saved"
    ready = Signal()  # models loaded, audio flowing
    state = Signal(object)  # the latest SessionState (immutable)
    finished = Signal(object)  # SessionResult
    failed = Signal(str)  # one line for the user

    def __init__(self, config: SessionConfig, pipeline_factory: Callable | None = None,
                 source_factory: Callable | None = None, isolate: bool | None = None) -> None:
        super().__init__()
        self.config = config
        self.pipeline_factory = pipeline_factory or make_pipeline
        self.source_factory = source_factory or make_source
        self.isolate = (pipeline_factory is None and source_factory is None) if isolate is None else isolate

    def _interrupted(self) -> bool:
        return QThread.currentThread().isInterruptionRequested()

    def _send(self, session_dir: Path, kind: str, payload: Any = None) -> None:
        if kind == "state":
            self.state.emit(_unport(payload))
        elif kind == "status":
            self.status.emit(payload)
        elif kind == "ready":
            self.ready.emit()
        elif kind == "finished":
            timeline, final, interrupted = payload
            if isinstance(timeline, dict):
                from analysis.timeline import Timeline

                timeline, final = Timeline.from_dict(timeline), _unport(final)
            self.finished.emit(SessionResult(session_dir, timeline, final, interrupted))
        elif kind == "failed":
            self.failed.emit(payload)

    @Slot()
    def run(self) -> None:
        session_dir = Path(self.config.session_dir) if self.config.session_dir else new_session_dir()
        if not self.isolate:
            drive_session(self.config, session_dir, self.pipeline_factory, self.source_factory,
                          self._interrupted, lambda kind, payload=None: self._send(session_dir, kind, payload))
            return
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self.status.emit("loading models")
        proc = ctx.Process(target=_child_main, args=(self.config, str(session_dir), child),
                           name="attune-analysis", daemon=True)
        proc.start()
        child.close()
        sent_stop = False
        last: tuple[str, Any] | None = None  # "finished"/"failed", sent once the process is joined
        try:
            while last is None:
                if not sent_stop and self._interrupted():
                    with contextlib.suppress(OSError):
                        parent.send("stop")
                    sent_stop = True
                if parent.poll(0.05):
                    kind, payload = parent.recv()
                    if kind in ("finished", "failed"):
                        last = (kind, payload)
                    else:
                        self._send(session_dir, kind, payload)
                elif not proc.is_alive():
                    break
        except (EOFError, OSError):
            pass
        proc.join(10)  # here, not on the GUI thread: the controller's final wait() is then instant
        if proc.is_alive():
            proc.terminate()
            proc.join(2)
        parent.close()
        self._send(session_dir, *(last or ("failed", "the analysis process ended unexpectedly")))


_METRIC_FIELDS = {"talk_time": "talk_time", "talk_share": "talk_share",
                  "talk_share_window": "talk_share_window", "interruptions_made": "interruptions_made",
                  "interruptions_received": "interruptions_received", "backchannels": "backchannels",
                  "quick_responses": "quick_responses", "pace_rel": "wpm_rel", "tone_rel": "pitch_median_rel_st"}


def state_from_timeline(timeline, last):
    """The final snapshot: the last live state with its figures replaced by the finished timeline's
    (the batch cue computation over all turns, so the summary matches the saved timeline)."""
    from dataclasses import replace

    from analysis.session_state import frozen_map

    per = timeline.metrics.speakers or {}
    changes: dict[str, Any] = {"t": timeline.duration, "status": "finished", "speaking_now": (),
                               "speakers": tuple(timeline.speakers) or last.speakers}
    for field_name, key in _METRIC_FIELDS.items():
        values = {sp: m[key] for sp, m in per.items() if key in m}
        if values:
            changes[field_name] = frozen_map(values)
    return replace(last, **changes)


class SessionController(QObject):
    """GUI-side owner of one session's thread. Signals are re-emitted on the GUI thread."""

    status = Signal(str)
    ready = Signal()
    finished = Signal(object)  # SessionResult
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, pipeline_factory: Callable | None = None,
                 source_factory: Callable | None = None, isolate: bool | None = None) -> None:
        super().__init__(parent)
        self.pipeline_factory = pipeline_factory
        self.source_factory = source_factory
        self.isolate = isolate
        self.thread: QThread | None = None
        self.worker: SessionWorker | None = None
        self.latest = None  # the latest SessionState
        self.final_state = None
        self.state_count = 0
        self.running = False
        self.config: SessionConfig | None = None

    def start(self, config: SessionConfig) -> None:
        if self.running:
            raise RuntimeError("a session is already running")
        if not config.consent_analysis:
            raise PermissionError("the client has not agreed to the analysis")
        self.config = config
        self.latest = None
        self.final_state = None
        self.state_count = 0
        self.thread = QThread()
        self.thread.setObjectName("attune-session")
        self.worker = SessionWorker(config, self.pipeline_factory, self.source_factory, self.isolate)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.state.connect(self._on_state)
        self.worker.status.connect(self.status)
        self.worker.ready.connect(self.ready)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.running = True
        self.thread.start()

    @Slot(object)
    def _on_state(self, state) -> None:
        self.latest = state
        self.state_count += 1

    def _join(self) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()
            self.thread = None
        if self.worker is not None:
            self.worker.deleteLater()
            self.worker = None
        self.running = False

    @Slot(object)
    def _on_finished(self, result: SessionResult) -> None:
        self.latest = self.final_state = result.state
        self._join()
        self.finished.emit(result)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._join()
        self.failed.emit(message)

    def stop(self) -> None:
        """Ask the worker to stop; ``finished`` follows once the session is saved."""
        if self.thread is not None:
            self.thread.requestInterruption()

    def shutdown(self, timeout_ms: int = 15000) -> None:
        """Blocking stop for application exit: interrupt → quit → wait."""
        if self.thread is None:
            return
        self.thread.requestInterruption()
        self.thread.quit()
        if not self.thread.wait(timeout_ms):
            log.warning("session thread did not stop within %d ms", timeout_ms)
        self.thread = None
        self.running = False


def save_after_session(session_dir: str | Path, note: str = "", roles: dict[str, str] | None = None,
                       settings: dict[str, Any] | None = None) -> Path:
    """Write the clinician's note (``note.txt``, mode 0600) and the roles chosen in the view into the
    session folder; ``session.json`` records both. Returns the session folder."""
    import json
    import os

    session_dir = Path(session_dir)
    note_path = session_dir / "note.txt"
    if note:
        fd = os.open(note_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(note.rstrip() + "\n")
    meta_path = session_dir / "session.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    meta["note"] = note_path.name if note else None
    if roles:
        meta["roles"] = dict(roles)
    if settings:
        meta["nudge_settings"] = dict(settings)
    tmp = meta_path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # stays private, as the recorder wrote it
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(meta, indent=2, ensure_ascii=False))
    tmp.replace(meta_path)
    return session_dir
