"""The Qt side of a live session: it starts the session, relays its state as signals and stops it.

The session itself (capture, recording, pipeline, finish, save) is :class:`app.session_runner.SessionRunner`,
Qt-free and shared with ``attune live``. Threads and what crosses them:

- :class:`SessionWorker` lives on a QThread. By default it runs the session in the analysis process
  (:mod:`app.analysis_process`) and relays its messages as signals; with an explicit pipeline or
  source factory (tests) it runs :func:`~app.session_runner.drive_session` on its own thread. Only
  signals reach the GUI thread.
- :class:`SessionController` lives on the GUI thread. It keeps the latest state (the window repaints
  from a timer, ~12 Hz, from ``controller.latest``), and stops cleanly: ``requestInterruption`` → the
  session finishes and saves → ``quit`` → ``wait``. ``prepare()`` starts the analysis process ahead
  (the window calls it when the start dialog opens), so that the microphone opens the moment the
  session starts; ``discard_prepared()`` ends it when no session follows.

Nothing here logs transcript text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

# re-exported: the window and the start dialog import these from here
from app.session_folder import new_session_dir, save_after_session, update_session  # noqa: F401
from app.session_runner import (  # noqa: F401
    EMIT_EVERY_S,
    SessionConfig,
    SessionResult,
    drive_session,
    make_pipeline,
    make_source,
)

log = logging.getLogger(__name__)


def with_therapist_vector(config: SessionConfig) -> SessionConfig:
    """The enrolled voice decrypted here, in the window's process, and handed to the analysis (which
    holds no master key) as numbers. Not found or unreadable: roles are guessed (logged)."""
    if not config.therapist_voice or config.therapist_vector is not None:
        return config
    from dataclasses import replace

    from app import voiceprints

    try:
        vp = voiceprints.load(config.therapist_voice)
    except Exception as exc:  # noqa: BLE001 - a locked or damaged store must not stop the session
        log.warning("enrolled voice %r could not be read: %s", config.therapist_voice, exc)
        return config
    if vp is None:
        return config
    return replace(config, therapist_vector=tuple(float(x) for x in vp.vector))


def new_target(config: SessionConfig) -> Any:
    """Where a session is recorded: ``config.session_dir`` when given (tests; with ``ephemeral``, a
    review: a store there under a random key kept only in memory), else a new session of the app's
    encrypted store (issue 13)."""
    if config.session_dir and config.ephemeral:
        import secrets

        from app.store import Store
        from app.vault import MasterKey

        key = MasterKey(secrets.token_bytes(32), secrets.token_bytes(16), unlocked_by="ephemeral")
        return Store(config.session_dir, key).create_session({"mode": "review"})
    if config.session_dir:
        return Path(config.session_dir)
    from app.session_runner import session_meta
    from app.unlock import app_store

    return app_store().create_session({"mode": "live", **session_meta(config)})


class SessionWorker(QObject):
    """Drives one session from a worker thread. Create it, ``moveToThread``, connect ``run``.

    By default the pipeline runs in a separate analysis process that this thread talks to: native code
    that holds Python's GIL (importing torch, Praat's pitch tracker) can then never freeze the window.
    With an explicit ``pipeline_factory`` or ``source_factory`` (tests) it runs on this thread instead.
    """

    status = Signal(str)  # "loading models", "listening", "finishing", "saved"
    ready = Signal()  # models loaded (audio is captured from the start)
    state = Signal(object)  # the latest SessionState (immutable)
    finished = Signal(object)  # SessionResult
    failed = Signal(str)  # one line for the user

    def __init__(self, config: SessionConfig, pipeline_factory: Callable | None = None,
                 source_factory: Callable | None = None, isolate: bool | None = None,
                 process: Any = None, target: Any = None) -> None:
        super().__init__()
        self.config = config
        self.target = target  # a store session made ahead (SessionController.prepare), or None
        self.pipeline_factory = pipeline_factory or make_pipeline
        self.source_factory = source_factory or make_source
        self.isolate = (pipeline_factory is None and source_factory is None) if isolate is None else isolate
        self.process = process  # an AnalysisProcess started ahead (SessionController.prepare), or None

    def _interrupted(self) -> bool:
        return QThread.currentThread().isInterruptionRequested()

    def _send(self, session_dir: Any, kind: str, payload: Any = None) -> None:
        from app.analysis_process import unport

        if kind == "state":
            self.state.emit(unport(payload))
        elif kind == "status":
            self.status.emit(payload)
        elif kind == "ready":
            self.ready.emit()
        elif kind == "finished":
            timeline, final, interrupted = payload
            if isinstance(timeline, dict):
                from analysis.timeline import Timeline

                timeline, final = Timeline.from_dict(timeline), unport(final)
            if hasattr(session_dir, "audio_writer"):  # a store session, re-read: another process wrote it
                session = session_dir.store.session(session_dir.id)
                self.finished.emit(SessionResult(session.dir, timeline, final, interrupted, session=session))
            else:
                self.finished.emit(SessionResult(session_dir, timeline, final, interrupted))
        elif kind == "failed":
            self.failed.emit(payload)

    @Slot()
    def run(self) -> None:
        try:
            session_dir = self.target if self.target is not None else new_target(self.config)
        except Exception as exc:  # a locked or damaged store: one line, no session
            log.warning("the session could not be created: %s", exc)
            self.failed.emit(f"the session could not be created: {str(exc).splitlines()[0] if str(exc) else exc}")
            return

        def send(kind: str, payload: Any = None) -> None:
            self._send(session_dir, kind, payload)

        if not self.isolate:
            drive_session(self.config, session_dir, self.pipeline_factory, self.source_factory,
                          self._interrupted, send)
            return
        from app.analysis_process import run_in_child

        self.status.emit("loading models")
        process, self.process = self.process, None
        run_in_child(self.config, session_dir, self._interrupted, send, process)


_unfinished: set[QThread] = set()  # threads that outlived a shutdown's wait, kept until they end


def _keep_until_finished(thread: QThread) -> None:
    """Hold a reference to a still-running ``thread`` until it finishes (see ``shutdown``)."""
    _unfinished.add(thread)
    thread.finished.connect(lambda: _unfinished.discard(thread))
    if thread.isFinished():
        _unfinished.discard(thread)


class _TargetMaker:
    """Makes the next session of the app's store on a thread (``take()`` waits for it; None if it could
    not be made, and the worker then tries again and reports why); ``discard()`` deletes it unused."""

    def __init__(self) -> None:
        self.session = None
        self._thread = threading.Thread(target=self._make, name="attune-new-session", daemon=True)
        self._thread.start()

    def _make(self) -> None:
        try:
            from app.unlock import app_store

            self.session = app_store().create_session({"mode": "live", "status": "new"})
        except Exception as exc:  # noqa: BLE001 - made again at start, where the error is reported
            log.warning("the next session could not be prepared: %s", exc)

    def take(self) -> Any:
        self._thread.join(10.0)
        return self.session

    def discard(self) -> None:
        session = self.take()
        if session is not None:
            try:
                session.store.delete_session(session.id)
            except Exception as exc:  # noqa: BLE001 - an empty session left behind is harmless
                log.warning("the prepared session could not be deleted: %s", exc)


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
        self.prepared = None  # an AnalysisProcess started ahead, waiting for the session
        self._target_maker: _TargetMaker | None = None  # the store session made ahead, with the process

    @property
    def isolated(self) -> bool:
        """Sessions run in an analysis process (the default; tests with factories run them in-process)."""
        if self.isolate is not None:
            return self.isolate
        return self.pipeline_factory is None and self.source_factory is None

    def prepare(self) -> None:
        """Start the analysis process and its microphone helper now, ahead of the session (returns at
        once; nothing is captured until ``start``). A no-op for in-process sessions or when one is ready."""
        if not self.isolated or self.running or (self.prepared is not None and self.prepared.alive):
            return
        from app.analysis_process import AnalysisProcess

        self.discard_prepared()
        self.prepared = AnalysisProcess()
        # the encrypted session too (key, description, index, audit: a few fsyncs), on a thread, so that
        # none of it delays the microphone when "Start session" is pressed
        self._target_maker = _TargetMaker()

    def discard_prepared(self) -> None:
        """End the process started ahead when no session follows (returns at once), and delete the
        session made ahead for it (it holds nothing yet)."""
        process, self.prepared = self.prepared, None
        if process is not None:
            process.cancel()
        maker, self._target_maker = self._target_maker, None
        if maker is not None:
            maker.discard()

    def start(self, config: SessionConfig) -> None:
        if self.running:
            raise RuntimeError("a session is already running")
        if not config.consent_analysis:
            raise PermissionError("the client has not agreed to the analysis")
        config = with_therapist_vector(config)
        self.config = config
        self.latest = None
        self.final_state = None
        self.state_count = 0
        self.thread = QThread()
        self.thread.setObjectName("attune-session")
        process, self.prepared = self.prepared, None
        maker, self._target_maker = self._target_maker, None
        target = None
        if maker is not None:
            if config.session_dir:  # a review records elsewhere: the session made ahead is not needed
                maker.discard()
            else:
                target = maker.take()
        self.worker = SessionWorker(config, self.pipeline_factory, self.source_factory, self.isolate, process,
                                    target)
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
        self.discard_prepared()
        if self.thread is None:
            return
        self.thread.requestInterruption()
        self.thread.quit()
        if not self.thread.wait(timeout_ms):
            # Its waits are bounded (the analysis process is joined, then terminated), but a loaded machine
            # can stretch them past the timeout. A QThread destroyed while running aborts the whole process
            # ("Fatal Python error: Aborted", seen once in a full test run at load 5), so it is kept
            # referenced until it ends.
            log.warning("session thread did not stop within %d ms; it is left to finish", timeout_ms)
            _keep_until_finished(self.thread)
        self.thread = None
        self.running = False
