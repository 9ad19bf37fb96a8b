"""The start dialog's level meter source: an input read on its own QThread, reporting dBFS."""

from __future__ import annotations

import contextlib
import time

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.session_runner import EMIT_EVERY_S, SessionConfig, make_source


class LevelProbe(QObject):
    """Runs an input source on its own thread and reports its level (dBFS) for the level meter."""

    level = Signal(float)
    failed = Signal(str)

    def __init__(self, source: str | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._thread = QThread()
        self._thread.setObjectName("attune-level")
        self._runner = _LevelRunner(source)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.level.connect(self.level)
        self._runner.failed.connect(self.failed)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._thread.requestInterruption()
        self._thread.quit()
        self._thread.wait(3000)


class _LevelRunner(QObject):
    level = Signal(float)
    failed = Signal(str)

    def __init__(self, source: str | None) -> None:
        super().__init__()
        self.source = source

    @Slot()
    def run(self) -> None:
        src = None
        try:
            cfg = SessionConfig(source=self.source, realtime=True)
            if cfg.is_file:
                src = make_source(cfg)
                src.loop = True
            else:  # in this (the window's) process: nothing here holds Python's lock for long
                from audio.sources import MicrophoneSource

                src = MicrophoneSource(self.source)
            src.start()
            last = 0.0
            while not QThread.currentThread().isInterruptionRequested():
                block = src.read()
                if block is None:
                    break
                now = time.monotonic()
                if now - last >= EMIT_EVERY_S:
                    last = now
                    self.level.emit(float(src.level_dbfs))
        except Exception as exc:
            self.failed.emit(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        finally:
            if src is not None:
                with contextlib.suppress(Exception):
                    src.stop()
