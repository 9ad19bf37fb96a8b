"""A quiet bar on the start page that offers to recover sessions a crash left behind.

When the window opens, :meth:`RecoveryBar.scan` looks for interrupted sessions in Attune's encrypted
store (:func:`app.recorder.find_interrupted`; or in a folder of plain session folders when given one)
on a pool thread and, if it finds any, shows one line of text with **Recover** and **Not now**: no
sound, no pop-up. **Recover** runs :func:`app.recorder.recover` (the streams a crash left open are
sealed, the logged events become the timeline) on a pool thread too, then says so. **Not now** hides
the bar for this run. The bar knows nothing of how sessions are stored: it asks ``app.recorder``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThreadPool, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from app.recorder import find_interrupted, read_session, recorded_seconds, recover

log = logging.getLogger(__name__)


# -- what the bar says ------------------------------------------------------------------------------
def started_at(session_dir: Any) -> datetime | None:
    """The local start time of a session, from its session.json (None when unreadable)."""
    try:
        return datetime.fromisoformat(str(read_session(session_dir)["started_at"])).astimezone()
    except (OSError, ValueError, KeyError, TypeError):
        return None


def format_when(when: datetime | None) -> str:
    if when is None:
        return "an earlier day"
    return f"{when:%a} {when.day} {when:%b}, {when:%H:%M}"


def format_duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def describe(session_dir: Any) -> str:
    """'a session from Wed 25 Nov, 14:02 (3 min 12 s recorded)'."""
    return (f"a session from {format_when(started_at(session_dir))} "
            f"({format_duration(recorded_seconds(session_dir))} recorded)")


# -- the bar ------------------------------------------------------------------------------------------
class _Relay(QObject):
    """Carries a pool thread's result back to the GUI thread (queued to the bar's slots)."""

    done = Signal(str, object)  # job name, result
    failed = Signal(str, str)  # job name, message


class RecoveryBar(QFrame):
    """Hidden until :meth:`scan` finds interrupted sessions; see the module docstring."""

    scanned = Signal(int)  # number of interrupted sessions found
    recovered = Signal(list)  # the recovered session folders (str)
    failed = Signal(str)

    def __init__(self, root: Callable[[], Path] | Path | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self._root = root
        self.found: list[Path] | None = None  # None until a scan has finished
        self.done: list[Path] = []
        self.busy = False
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)

        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 8, 8)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.recover_button = QPushButton("Recover")
        self.recover_button.setToolTip("Make it a normal session: its audio and timeline can be reviewed")
        self.recover_button.clicked.connect(self.recover)
        self.folder_button = QPushButton("Show folder")
        self.folder_button.clicked.connect(self.show_folder)
        self.close_button = QPushButton("Not now")
        self.close_button.setToolTip("Hide this until Attune is opened again")
        self.close_button.clicked.connect(self.dismiss)
        lay.addWidget(self.label, 1)
        for b in (self.recover_button, self.folder_button, self.close_button):
            lay.addWidget(b, 0, Qt.AlignmentFlag.AlignVCenter)
        self.folder_button.setVisible(False)
        self.setVisible(False)

    def root(self) -> Any:
        """Where to look: the app's encrypted store (default), or what the caller gave (a store, or a
        folder of plain session folders)."""
        if self._root is None:
            from app.unlock import app_store

            return app_store()
        root = self._root() if callable(self._root) else self._root
        return Path(root) if isinstance(root, str | Path) else root

    def _run(self, name: str, job: Callable[[], Any]) -> None:
        relay = self._relay

        def work() -> None:
            try:
                result = job()
            except Exception as exc:  # reported in the bar, never raised on the pool thread
                log.warning("%s failed:\n%s", name, traceback.format_exc())
                relay.failed.emit(name, str(exc) or type(exc).__name__)
                return
            relay.done.emit(name, result)

        self.busy = True
        QThreadPool.globalInstance().start(work)

    # -- actions --------------------------------------------------------------------------------
    def scan(self) -> None:
        """Look for interrupted sessions (off the GUI thread); the bar shows itself if any."""
        if self.busy:
            return
        self._run("scan", lambda: [(d, describe(d)) for d in find_interrupted(self.root())])  # unlocks off the GUI thread

    def recover(self) -> None:
        if self.busy or not self.found:
            return
        todo = list(self.found)
        self.recover_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.label.setText("Recovering… the window stays usable meanwhile.")
        self._run("recover", lambda: [(d, recover(d)) for d in todo])  # harmless if done already

    def dismiss(self) -> None:
        """Not now / Close: hide for this run (the sessions stay as they are)."""
        self.setVisible(False)

    def show_folder(self) -> None:
        if self.done:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.done[0].parent if len(self.done) > 1
                                                            else self.done[0])))

    # -- results (GUI thread) -------------------------------------------------------------------
    def _on_done(self, name: str, result: Any) -> None:
        self.busy = False
        if name == "scan":
            self._show_found(result)
            return
        self.done = [Path(getattr(d, "dir", d)) for d, _path in result]
        self.found = []
        where = self.done[0] if len(self.done) == 1 else self.done[0].parent
        what = "The session was" if len(self.done) == 1 else f"{len(self.done)} sessions were"
        self.label.setText(f"{what} recovered and can be reviewed like any other: {where}")
        self.recover_button.setVisible(False)
        self.folder_button.setVisible(bool(self.done))
        self.close_button.setText("Close")
        self.close_button.setEnabled(True)
        self.recovered.emit([str(d) for d in self.done])

    def _show_found(self, found: list[tuple[Path, str]]) -> None:
        self.found = [d for d, _text in found]
        if found:
            latest = found[-1][1]
            if len(found) == 1:
                text = f"{latest[0].upper()}{latest[1:]} was interrupted."
            else:
                text = f"{len(found)} sessions were interrupted; the latest is {latest}."
            self.label.setText(text + " Nothing recorded is lost.")
            self.recover_button.setText("Recover" if len(found) == 1 else "Recover all")
            self.setVisible(True)
        self.scanned.emit(len(found))

    def _on_failed(self, name: str, message: str) -> None:
        self.busy = False
        if name == "scan":
            self.found = []
            self.scanned.emit(0)
            return
        self.label.setText(f"The session could not be recovered ({message}). "
                           f"`attune recover` can try again from a terminal.")
        self.recover_button.setEnabled(True)
        self.close_button.setEnabled(True)
        self.failed.emit(message)
