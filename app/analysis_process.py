"""The desktop app's analysis process: a child process running :func:`app.session_runner.drive_session`,
and the pipe protocol between it and the window's worker thread.

Native code that holds Python's GIL for long stretches (importing torch, Praat's pitch tracker on a
long turn) would freeze the window if the session ran in the window's process; in a child process it
cannot. The child runs at a slightly lower scheduling priority so that, on a busy CPU, the window is
served first; its microphone helper (:class:`audio.capture_process.ProcessMicrophone`) is started
before that, at the normal priority. The process is not daemonic: the helper is its child.

Started ahead: :class:`AnalysisProcess` starts the process and its microphone helper at once (the
window does it when the start dialog opens), and they wait; when the session starts (``run``), the
microphone opens in milliseconds instead of after a second of interpreter start-up and imports, so the
recording begins when "Start session" is pressed. Nothing is captured before that.

Protocol: the child says ``("prepared", None)`` once it waits; the parent sends ``("start", config,
session_dir)`` (or ``"cancel"``; ``session_dir`` is a plain folder's path, or for a session of the
encrypted store the :func:`app.store.session_handle`: its folder, id and key, never the master key),
then ``"stop"``; the child sends ``(kind, payload)`` tuples, the same
kinds as ``drive_session``'s ``send``: "status",
"ready", "state" (a SessionState as a plain dict, see :func:`portable`), "finished" ((timeline dict,
final state dict, interrupted)) and "failed" (one line). If the parent goes away the child finishes
and saves what was heard (or, before its session, simply ends).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ANALYSIS_NICE = 4  # scheduling niceness of the analysis process (the window's process keeps 0)
JOIN_S = 10.0  # seconds to wait for the process to end after its last message
CANCEL_JOIN_S = 5.0  # ... after "cancel" (it may still be starting; then it stops its helper)


def portable(state) -> dict[str, Any]:
    """A SessionState as a picklable dict (its read-only mappings become dicts); see :func:`unport`."""
    from collections.abc import Mapping
    from dataclasses import fields

    return {f.name: (dict(v) if isinstance(v := getattr(state, f.name), Mapping) else v)
            for f in fields(state)}


def unport(payload):
    """A state dict (from :func:`portable`) back as a SessionState; anything else unchanged."""
    if isinstance(payload, dict):
        from analysis.session_state import SessionState

        return SessionState(**payload)
    return payload


def child_main(conn) -> None:
    """Entry point of the analysis process: prepares the microphone, waits for its session, runs
    ``drive_session`` and talks over a pipe."""
    from app.session_runner import drive_session, make_pipeline, make_source
    from app.store import open_session_handle  # imported now (cryptography, SQLCipher): not after "Start"
    from audio.capture_process import ProcessMicrophone

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    mic = ProcessMicrophone()
    mic.prepare()  # forked before the lower priority below: capture keeps the normal one
    with contextlib.suppress(OSError, AttributeError):
        os.nice(ANALYSIS_NICE)  # on a busy CPU the window is served first
    try:
        conn.send(("prepared", None))
        msg = conn.recv()
    except (EOFError, OSError):  # the app went away before the session
        msg = None
    if not (isinstance(msg, tuple) and len(msg) == 3 and msg[0] == "start"):
        mic.stop()
        conn.close()
        return
    _, cfg, session_dir = msg
    if isinstance(session_dir, dict):  # a session of the encrypted store: its key only (issue 13)
        target = open_session_handle(session_dir)
    else:
        target = Path(session_dir)
    stopped = [False]

    def source_factory(config):
        if config.is_file:  # a replayed recording: the microphone is not needed
            mic.stop()
            return make_source(config)
        mic.device = config.source
        return mic

    def should_stop() -> bool:
        try:
            while not stopped[0] and conn.poll():
                stopped[0] = conn.recv() == "stop"
        except (EOFError, OSError):  # the app is gone: finish and save what was heard
            stopped[0] = True
        return stopped[0]

    def send(kind: str, payload: Any = None) -> None:
        if kind == "state":
            payload = portable(payload)
        elif kind == "finished":
            timeline, final, interrupted = payload
            payload = (timeline.to_dict(), portable(final), interrupted)
        try:
            conn.send((kind, payload))
        except (BrokenPipeError, OSError):
            stopped[0] = True

    try:
        drive_session(cfg, target, make_pipeline, source_factory, should_stop, send)
    finally:
        mic.stop()
        conn.close()


class AnalysisProcess:
    """One analysis process, started at construction and waiting for its session (see the module doc).
    ``run`` it once, or ``cancel`` it."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=child_main, args=(child,), name="attune-analysis", daemon=False)
        self.proc.start()  # returns at once: the interpreter starts and imports in the background
        child.close()
        self.used = False
        self._ready = False

    @property
    def alive(self) -> bool:
        return not self.used and self.proc.is_alive()

    @property
    def ready(self) -> bool:
        """Started and waiting, its microphone helper too (a look at the pipe; never blocks)."""
        if not self._ready and self.alive:
            try:
                while not self._ready and self.conn.poll():
                    self._ready = self.conn.recv()[0] == "prepared"
            except (EOFError, OSError):
                return False
        return self._ready and self.alive

    def run(self, cfg, session_dir: Any, should_stop: Callable[[], bool], send: Callable[..., None]) -> None:
        """Run the session in this process and relay its messages to ``send`` (on this thread) until it
        is over; ``should_stop()`` is polled and turned into a "stop" message once. "finished" or
        "failed" is relayed last, after the process has been joined."""
        if self.used:
            raise RuntimeError("an analysis process runs one session")
        self.used = True
        conn, proc = self.conn, self.proc
        sent_stop = False
        last: tuple[str, Any] | None = None
        try:
            if hasattr(session_dir, "audio_writer"):  # a store session: its folder and key, over the pipe
                from app.store import session_handle

                conn.send(("start", cfg, session_handle(session_dir)))
            else:
                conn.send(("start", cfg, str(session_dir)))
            while last is None:
                if not sent_stop and should_stop():
                    with contextlib.suppress(OSError):
                        conn.send("stop")
                    sent_stop = True
                if conn.poll(0.05):
                    kind, payload = conn.recv()
                    if kind == "prepared":
                        continue
                    if kind in ("finished", "failed"):
                        last = (kind, payload)
                    else:
                        send(kind, payload)
                elif not proc.is_alive():
                    break
        except (EOFError, OSError):
            pass
        proc.join(JOIN_S)  # on the worker thread, not the GUI thread: the controller's wait() is instant
        if proc.is_alive():
            proc.terminate()
            proc.join(2)
        conn.close()
        send(*(last or ("failed", "the analysis process ended unexpectedly")))

    def cancel(self) -> None:
        """End a process whose session never started (its microphone helper with it). Returns at once
        (the window calls it): the process is joined on a short-lived thread."""
        if self.used:
            return
        self.used = True
        with contextlib.suppress(OSError):
            self.conn.send("cancel")
        self.conn.close()
        threading.Thread(target=self._reap, name="attune-analysis-reaper", daemon=True).start()

    def _reap(self) -> None:
        self.proc.join(CANCEL_JOIN_S)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(2)


def run_in_child(cfg, session_dir: Any, should_stop: Callable[[], bool], send: Callable[..., None],
                 process: AnalysisProcess | None = None) -> None:
    """Run a session in an analysis process (``process``, started ahead, or a new one): see
    :meth:`AnalysisProcess.run`."""
    if process is None or not process.alive:
        if process is not None:
            process.cancel()
        process = AnalysisProcess()
    process.run(cfg, session_dir, should_stop, send)
