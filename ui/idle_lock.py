"""The idle lock (issue 13): after ``Settings.idle_lock_minutes`` without a key press or mouse use the
app's store is locked (:func:`app.unlock.lock_app_store`: index and audit closed, master key wiped) and
``on_lock`` hides every window that shows session data. Never while ``busy()`` (a session is running:
the clinician does not touch the computer during a session, and the live view must stay in place); the
clock starts again when the session ends. The clock is ``time.monotonic`` unless a test gives another.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

CHECK_MS = 5000  # how often the idle time is looked at
USER_EVENTS = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                         QEvent.Type.Wheel, QEvent.Type.TouchBegin})


class IdleLock(QObject):
    """Watches the user's input application-wide; ``check()`` locks when idle long enough."""

    def __init__(self, minutes: float, busy: Callable[[], bool], on_lock: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic, check_ms: int = CHECK_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.minutes = float(minutes)
        self._busy = busy
        self._on_lock = on_lock
        self._clock = clock
        self.last_input = clock()
        self.locked = False
        self.stopped = False
        self.timer = QTimer(self)
        self.timer.setInterval(check_ms)
        self.timer.timeout.connect(self.check)
        app = QApplication.instance()
        if app is not None and self.minutes > 0:
            app.installEventFilter(self)
            self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in USER_EVENTS:
            self.last_input = self._clock()
        return False

    def idle_s(self) -> float:
        return self._clock() - self.last_input

    def check(self) -> bool:
        """Lock now if the app has been idle long enough and no session is running; True if it locked."""
        if self.minutes <= 0 or self.locked or self.stopped:
            return False
        if self._busy():
            self.last_input = self._clock()  # the idle time counts from the end of the session
            return False
        if self.idle_s() < self.minutes * 60.0:
            return False
        self.locked = True
        self._on_lock()
        return True

    def unlocked(self) -> None:
        self.locked = False
        self.last_input = self._clock()

    def stop(self) -> None:
        """Never lock again (the window closed or replaced this watcher)."""
        self.stopped = True
        self.timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
