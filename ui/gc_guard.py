"""Two guards for a PySide6 process: GUI-thread-only garbage collection, and a reference-count fix.

1. Python's cyclic garbage collection, run only on the GUI thread.

Left automatic, the collector runs in whichever thread happens to allocate, and may then destroy Qt
objects that belong to the GUI thread (a closed dialog caught in a reference cycle with a lambda) from
a worker thread: a segmentation fault. This turns automatic collection off and collects from a timer on
the GUI thread instead, generation by generation with the interpreter's own thresholds, so each
collection stays short.

2. :func:`guard_pyside_refcounts`, for a PySide6 6.12.0 bug on Python < 3.12 (see its docstring).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys

from PySide6.QtCore import QCoreApplication, QObject, QTimer

log = logging.getLogger(__name__)

INTERVAL_MS = 500

_INSTALLED: list[GuiThreadCollector] = []


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        c0, c1, c2 = gc.get_count()
        if c0 > self.threshold[0]:
            gc.collect(0)
            if c1 > self.threshold[1]:
                gc.collect(1)
                if c2 > self.threshold[2]:
                    gc.collect(2)


def install() -> GuiThreadCollector | None:
    """Install the collector once per application (call on the GUI thread after QApplication exists)."""
    app = QCoreApplication.instance()
    if app is None:
        return None
    if _INSTALLED and _INSTALLED[0].parent() is app:
        return _INSTALLED[0]
    _INSTALLED.clear()
    _INSTALLED.append(GuiThreadCollector(app))
    return _INSTALLED[0]


def guard_pyside_refcounts() -> bool:
    """Work around a reference-count bug of PySide6 6.12.0 on Python < 3.12; True when applied.

    Its bindings return ``None`` (every setter, ``update()``, each QPainter call, ...) and ``True`` /
    ``False`` (``Signal.emit``) without taking a new reference, so each such call takes one reference
    away from those singletons. ``None`` starts with a few thousand: a live view that paints at 12 Hz
    would make Python abort ("deallocating None") within minutes. Python 3.12 made the singletons
    immortal; here they are given an unreachable reference count once, after a probe confirms the bug
    (a fixed PySide6, or Python 3.12+, leaves everything untouched). Idempotent.
    """
    if _GUARD:
        return _GUARD[0]
    applied = False
    if sys.implementation.name == "cpython" and sys.version_info < (3, 12):
        probe = QObject()
        before = sys.getrefcount(None)
        for _ in range(16):
            probe.setObjectName("probe")  # returns None
        if sys.getrefcount(None) - before <= -8:
            for obj in (None, True, False):
                ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40  # ob_refcnt (first field)
            applied = True
            log.info("PySide6 %s reference-count workaround applied", _pyside_version())
    _GUARD.append(applied)
    return applied


_GUARD: list[bool] = []


def _pyside_version() -> str:
    import PySide6

    return PySide6.__version__
