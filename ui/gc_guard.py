"""Python's cyclic garbage collection, run only on the GUI thread of a PySide6 process.

Left automatic, the collector runs in whichever thread happens to allocate, and may then destroy Qt
objects that belong to the GUI thread (a closed dialog caught in a reference cycle with a lambda) from
a worker thread: a segmentation fault. This turns automatic collection off and collects from a timer on
the GUI thread instead, generation by generation with the interpreter's own thresholds, so each
collection stays short.

(PySide6 6.12.0's reference-count bug on Python < 3.12 is kept out by the version pin in pyproject.toml;
``tests/test_ui_window.py`` probes the installed PySide6 for it.)
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

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
