"""The report's PDF rendered in a second process while this one writes the other formats (issue 15).

Why: "export of a 90-minute session in all formats takes under 5 s". In one process the first session
took 5.7 CPU-seconds on an idle 2-core machine (bench/bench_export.py), and the PDF was the largest
part: importing WeasyPrint (about 0.8 s) and laying out and drawing the report (about 1.5 s), with no
library shared with the other formats. So, when the PDF is asked for and the machine has a second
core, :func:`analysis.export.export` starts one child process at once; it imports WeasyPrint while
this process renders the report's HTML (first of the formats), then receives that HTML, writes the PDF
and says so, while this process writes the other formats. The PDF is the same file: the same HTML
through the same :func:`analysis.export.report.pdf_bytes`.

Bounded and clean: one child per export call (a session), started with ``spawn`` as the app's other
processes are (no fork of a process that may hold threads, e.g. the review window's), daemonic (it
ends with its parent), handed one job, and joined before the call returns. Whatever goes wrong with
it (it cannot start, dies, times out, an unexpected error) makes :meth:`PdfProcess.result` return
``None``, and the PDF is then written in this process as before: the result never depends on it.
Only an error writing the file (a full disk, no permission) comes back as the format's one-line
message, as it would from this process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from pathlib import Path

RESULT_TIMEOUT_S = 300.0  # the longest wait for the child's PDF (a 90-minute report takes 2-3 s)
JOIN_S = 5.0  # then the wait for it to end before it is terminated


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, where the system tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _child(conn) -> None:
    """The child: import WeasyPrint, wait for ``(html, path)`` (or ``None``: nothing to do), write the
    PDF, reply ``("ok", path)``, ``("oserror", reason)`` or ``("failed", kind)``."""
    try:
        import gc

        import weasyprint  # noqa: F401 -- now, while the parent renders the HTML

        from analysis.atomic import atomic_write
        from analysis.export.report import pdf_bytes

        # the modules just imported are never freed: out of the collector's way, the rendering of a
        # 90-minute report took 1.28 s of CPU instead of 1.48 (best of 4, the same peak memory)
        gc.freeze()
        job = conn.recv()
        if job is not None:
            html, path = job
            try:
                atomic_write(Path(path), pdf_bytes(html))
            except OSError as exc:
                conn.send(("oserror", exc.strerror or type(exc).__name__))
                return
            conn.send(("ok", path))
        conn.close()
        # nothing left to tidy (the file is written and synced, nothing is printed): skip the
        # interpreter's teardown of WeasyPrint's objects, 0.2-0.5 s the parent would wait for in join()
        os._exit(0)
    except (EOFError, OSError, KeyboardInterrupt):  # the parent went away or stopped us
        return
    except Exception as exc:  # the parent renders the PDF itself and meets the error there
        with contextlib.suppress(OSError):
            conn.send(("failed", type(exc).__name__))
    finally:
        conn.close()


class PdfProcess:
    """One child process that writes one report PDF; see the module's description."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child, args=(child,), name="attune-export-pdf", daemon=True)
        self._proc.start()  # returns at once: the interpreter starts and imports in the background
        child.close()
        self._sent = self._closed = False

    @classmethod
    def start(cls) -> PdfProcess | None:
        """A started child, or ``None`` when there is no second core or it cannot be started."""
        if usable_cpus() < 2:
            return None
        try:
            return cls()
        except (OSError, RuntimeError, ValueError):
            return None

    def submit(self, html: str, path: Path) -> bool:
        """Hand the child the report's HTML and where to write the PDF; False if it is gone."""
        try:
            self._conn.send((html, str(path)))
        except (OSError, ValueError):
            return False
        self._sent = True
        return True

    def result(self) -> list[Path] | OSError | None:
        """The files written, the error writing the PDF (as this process would have met it), or
        ``None``: the child did not do it (render it here). The child is ended either way."""
        reply = None
        try:
            if self._sent and self._conn.poll(RESULT_TIMEOUT_S):
                reply = self._conn.recv()
        except (EOFError, OSError):
            reply = None
        self.close()
        if reply and reply[0] == "ok":
            return [Path(reply[1])]
        if reply and reply[0] == "oserror":
            return OSError(0, reply[1])
        return None

    def close(self) -> None:
        """End the child (told there is nothing to do if it still waits) and reap it; once."""
        if self._closed:
            return
        self._closed = True
        if not self._sent:
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(None)
            self._sent = True
        self._conn.close()
        self._proc.join(JOIN_S)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(JOIN_S)
        self._proc.close()
