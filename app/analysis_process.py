"""The desktop app's analysis process: a child process running :func:`app.session_runner.drive_session`,
and the pipe protocol between it and the window's worker thread.

Native code that holds Python's GIL for long stretches (importing torch, Praat's pitch tracker on a
long turn) would freeze the window if the session ran in the window's process; in a child process it
cannot. The child runs at a slightly lower scheduling priority so that, on a busy CPU, the window is
served first.

Protocol: the parent sends ``"stop"``; the child sends ``(kind, payload)`` tuples, the same kinds as
``drive_session``'s ``send``: "status", "ready", "state" (a SessionState as a plain dict, see
:func:`portable`), "finished" ((timeline dict, final state dict, interrupted)) and "failed" (one line).
If the parent goes away the child finishes and saves what was heard.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

ANALYSIS_NICE = 4  # scheduling niceness of the analysis process (the window's process keeps 0)
JOIN_S = 10.0  # seconds to wait for the process to end after its last message


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


def child_main(cfg, session_dir: str, conn) -> None:
    """Entry point of the analysis process: runs ``drive_session``, talks over a pipe."""
    from app.session_runner import drive_session, make_pipeline, make_source

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
            payload = portable(payload)
        elif kind == "finished":
            timeline, final, interrupted = payload
            payload = (timeline.to_dict(), portable(final), interrupted)
        try:
            conn.send((kind, payload))
        except (BrokenPipeError, OSError):
            stopped[0] = True

    drive_session(cfg, Path(session_dir), make_pipeline, make_source, should_stop, send)
    conn.close()


def run_in_child(cfg, session_dir: Path, should_stop: Callable[[], bool],
                 send: Callable[..., None]) -> None:
    """Run a session in an analysis process and relay its messages to ``send`` (on this thread) until
    it is over; ``should_stop()`` is polled and turned into a "stop" message once. "finished" or
    "failed" is relayed last, after the process has been joined."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=child_main, args=(cfg, str(session_dir), child), name="attune-analysis",
                       daemon=True)
    proc.start()
    child.close()
    sent_stop = False
    last: tuple[str, Any] | None = None
    try:
        while last is None:
            if not sent_stop and should_stop():
                with contextlib.suppress(OSError):
                    parent.send("stop")
                sent_stop = True
            if parent.poll(0.05):
                kind, payload = parent.recv()
                if kind in ("finished", "failed"):
                    last = (kind, payload)
                else:
                    send(kind, payload)
            elif not proc.is_alive():
                break
    except (EOFError, OSError):
        pass
    proc.join(JOIN_S)  # on the worker thread, not the GUI thread: the controller's final wait() is instant
    if proc.is_alive():
        proc.terminate()
        proc.join(2)
    parent.close()
    send(*(last or ("failed", "the analysis process ended unexpectedly")))
