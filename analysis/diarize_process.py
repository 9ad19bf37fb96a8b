"""One diarization window in a fresh child process, so that a long recording's peak memory is one window's.

Why (issue 12, point 7): diarizing a long recording in 30-minute windows bounds each window's memory,
but in one process the peak still rose from window to window: PyTorch's and glibc's allocators keep
the freed arenas of one window fragmented, and the next window's larger blocks land beside them
(a probe of 300-s windows in one process: peaks 1517 -> 1607 -> 1652 MB while the resident size after
each window stayed 1295 MB; ``malloc_trim`` did not lower the next peak; 2 hours of real speech in four
1800-s windows peaked at 2431 MB against 1807 MB for one window). A process that ends returns all of
its memory, so :func:`diarize_in_child` runs :func:`analysis.diarization.diarize` on one window in a
child started for it and ended after it: every window starts from the same, empty heap, and the
parent, which only reads the audio and links the windows' speakers, never imports PyTorch or loads the
models. Starting the child and loading the models costs a few seconds a window (a window is 30 min of
audio and takes minutes to diarize).

How: the child is started with ``spawn`` (no fork of a process that may hold threads, as the app's
other processes), daemonic, and told to die with its parent (Linux ``PR_SET_PDEATHSIG``): a cancelled
or killed analysis leaves nothing behind. The parent reads the window from ``read(start, end)`` in
:data:`BLOCK_S` slices and sends them down a pipe (never the whole window at once, never to disk: the
audio may come decrypted from the encrypted store); the child gathers them into one array, diarizes,
sends progress while it works and the :class:`~analysis.diarization.DiarizationResult` at the end. An
error in the child comes back as :class:`DiarizationProcessError` with the error's kind and message;
a child that dies (e.g. killed for memory) as one that says how it ended. A daemonic process cannot
have children (e.g. a Dask worker); :func:`can_start_child` says so and the caller diarizes in-process.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable

import numpy as np

from analysis.diarization import DiarizationOptions, DiarizationResult
from analysis.process_tie import die_with_parent
from audio import SAMPLE_RATE

log = logging.getLogger(__name__)

BLOCK_S = 60.0  # s of audio per message down the pipe (3.8 MB of float32)
POLL_S = 1.0  # s between checks that the child is still alive while waiting for its next message
JOIN_S = 10.0  # s to wait for the child to end after its result, before it is terminated
PROGRESS_STEP = 0.005  # the child reports progress when it has moved at least this much (0-1)
DIARIZE = "analysis.diarization:diarize"  # the function the child runs: "module:function"


class DiarizationProcessError(RuntimeError):
    """Diarization in the child process failed or the child ended without a result."""


def can_start_child() -> bool:
    """False in a daemonic process (multiprocessing forbids it children), e.g. a Dask worker."""
    return not multiprocessing.current_process().daemon


def _resolve(target: str) -> Callable[..., DiarizationResult]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _child(conn, target: str, parent_pid: int) -> None:
    """Receive ``(options, most samples)`` then the audio in byte blocks ending with ``b""``; diarize;
    send ``("progress", f)`` while working and ``("done", result)`` or ``("error", kind, message)``."""
    die_with_parent(parent_pid)
    try:
        options, most = conn.recv()
        audio = np.empty(most, dtype=np.float32)
        n = 0
        while block := conn.recv_bytes():
            x = np.frombuffer(block, dtype=np.float32)
            audio[n:n + len(x)] = x
            n += len(x)
        last = [-1.0]

        def progress(f: float) -> None:
            if f - last[0] >= PROGRESS_STEP or f >= 1.0:
                last[0] = f
                conn.send(("progress", float(f)))

        result = _resolve(target)(audio[:n], options, progress=progress)
        del audio
        conn.send(("done", result, peak_rss_mb()))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):  # the parent went away or stopped us
        return
    except Exception as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", type(exc).__name__, str(exc)))
    finally:
        conn.close()


def peak_rss_mb() -> float | None:
    """This process's peak resident memory (VmHWM), MB; None where /proc does not tell."""
    with contextlib.suppress(OSError, ValueError):
        for line in open("/proc/self/status", encoding="ascii"):  # noqa: SIM115
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def _how_it_ended(proc) -> str:
    code = proc.exitcode
    if code is None:
        return "it stopped answering"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"it was killed by {signal.Signals(-code).name}"
    return f"it exited with code {code}"


def diarize_in_child(read: Callable[[float, float], np.ndarray], start: float, end: float,
                     options: DiarizationOptions | None = None,
                     progress: Callable[[float], None] | None = None,
                     target: str = DIARIZE) -> DiarizationResult:
    """Diarize the audio ``read(start, end)`` returns (16 kHz mono float32) in a child process (see the
    module's description); ``target`` names the function it runs (``"module:function"``, with
    :func:`analysis.diarization.diarize`'s signature). Times in the result are from ``start``, as if
    ``diarize(read(start, end))`` had run here. ``progress`` is called in this thread."""
    options = options or DiarizationOptions()
    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child_conn, target, os.getpid()), name="attune-diarize", daemon=True)
    proc.start()
    child_conn.close()
    try:
        try:
            conn.send((options, int(np.ceil((end - start) * SAMPLE_RATE)) + SAMPLE_RATE))
            t = start
            while t < end:
                t_next = min(end, t + BLOCK_S)
                block = np.ascontiguousarray(read(t, t_next), dtype=np.float32)
                if block.size:
                    conn.send_bytes(block)
                t = t_next
            conn.send_bytes(b"")
        except (BrokenPipeError, ConnectionResetError) as exc:
            proc.join(POLL_S)
            raise DiarizationProcessError(f"the diarization process ended before it had the audio: "
                                          f"{_how_it_ended(proc)}") from exc
        while True:
            try:
                if not conn.poll(POLL_S):
                    if not proc.is_alive():
                        raise EOFError
                    continue
                msg = conn.recv()
            except (EOFError, ConnectionResetError) as exc:
                proc.join(POLL_S)
                raise DiarizationProcessError(f"the diarization process ended without a result: "
                                              f"{_how_it_ended(proc)}") from exc
            if msg[0] == "progress":
                if progress is not None:
                    progress(msg[1])
            elif msg[0] == "done":
                log.info("diarized %.0f-%.0f s in a child process: peak RSS %s MB", start, end,
                         "?" if msg[2] is None else f"{msg[2]:.0f}")
                return msg[1]
            else:
                raise DiarizationProcessError(f"diarization failed in its process: {msg[1]}: {msg[2]}")
    finally:
        conn.close()
        proc.join(JOIN_S)
        if proc.is_alive():
            proc.terminate()
            proc.join(JOIN_S)
        if proc.is_alive():
            proc.kill()
            proc.join()
        proc.close()
