"""The "Sessions" list of the desktop app (issue 14): the sessions the app recorded, newest first, each
opened in the review window.

It lists the sessions of the encrypted store (its index: date, length, status, client pseudonym; no
transcript is read) and any older plain session folders (:func:`app.review_session.list_sessions`). A
locked store (no passphrase given to the app) is said in one line; the folders are still listed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionRow:
    ref: str  # what app.review_session.open_review takes: a store session id or a folder
    when: float  # epoch seconds (sort key)
    text: str


def _epoch(iso: str | None) -> float:
    if not iso:
        return 0.0
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return 0.0
    if t.tzinfo is None:
        t = t.astimezone()
    return t.timestamp()


def _minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def session_rows() -> tuple[list[SessionRow], str]:
    """The sessions, newest first, and a one-line note ("" when all could be listed)."""
    from app.review_session import list_sessions

    rows: list[SessionRow] = []
    note = ""
    try:
        from app.store import vault_path
        from app.unlock import app_store
        from app.vault import Vault

        if Vault.exists(vault_path()):
            for s in app_store().list_sessions():
                when = _epoch(s.started_at)
                stamp = dt.datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M") if when else "?"
                extra = f"  client {s.client}" if s.client else ""
                extra += f"  ({s.status})" if s.status and s.status != "finished" else ""
                rows.append(SessionRow(s.id, when, f"{stamp}  {_minutes(s.duration_s)}{extra}"))
    except Exception as exc:  # a locked or damaged store: say so, list the folders anyway
        log.warning("the store's sessions could not be listed: %s", type(exc).__name__)
        note = f"The encrypted sessions cannot be listed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    for e in list_sessions():
        stamp = dt.datetime.fromtimestamp(e.modified).strftime("%Y-%m-%d %H:%M")
        rows.append(SessionRow(str(e.path), e.modified, f"{stamp}  {_minutes(e.duration)}  folder {e.path.name}"))
    rows.sort(key=lambda r: r.when, reverse=True)
    return rows, note


class SessionsDialog(QDialog):
    """Pick a session (double-click or Open); ``open_requested(ref)`` is emitted and the dialog closes."""

    open_requested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sessions")
        self.resize(560, 420)
        lay = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.itemDoubleClicked.connect(lambda _i: self.open_selected())
        self.note = QLabel("")
        self.note.setObjectName("status")
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self.open_selected)
        buttons.rejected.connect(self.reject)
        self.open_button = buttons.button(QDialogButtonBox.StandardButton.Open)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the session completely: its key is destroyed, its files removed")
        buttons.addButton(self.delete_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.delete_button.clicked.connect(self.delete_selected)
        self.list.currentItemChanged.connect(lambda *_: self._update_delete())
        lay.addWidget(QLabel("Recorded sessions, newest first. Open one to review it."))
        lay.addWidget(self.list, 1)
        lay.addWidget(self.note)
        lay.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        rows, note = session_rows()
        self.list.clear()
        for r in rows:
            item = QListWidgetItem(r.text)
            item.setData(Qt.ItemDataRole.UserRole, r.ref)
            self.list.addItem(item)
        if rows:
            self.list.setCurrentRow(0)
        self.note.setText(note or ("" if rows else "No recorded sessions yet."))
        self.open_button.setEnabled(bool(rows))
        self._update_delete()

    def _selected_store_id(self) -> str | None:
        """The selected session's id when it is a session of the encrypted store (folders of earlier
        versions are not deleted from here)."""
        import re

        item = self.list.currentItem()
        ref = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return ref if isinstance(ref, str) and re.fullmatch(r"[0-9a-f]{32}", ref) else None

    def _update_delete(self) -> None:
        self.delete_button.setEnabled(self._selected_store_id() is not None)

    def confirm_delete(self, text: str) -> bool:
        """Asks first (tests replace this)."""
        answer = QMessageBox.question(
            self, "Delete session",
            f"Delete this session completely?\n\n{text}\n\nIts recording, transcript, notes and figures "
            "are removed and its key destroyed. This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self) -> bool:
        """Delete the selected store session after a confirmation (audited by the store)."""
        sid = self._selected_store_id()
        if sid is None or not self.confirm_delete(self.list.currentItem().text()):
            return False
        try:
            from app.unlock import app_store

            app_store().delete_session(sid)
        except Exception as exc:  # noqa: BLE001 - one line, the list stays as it was
            log.warning("session %s could not be deleted: %s", sid, type(exc).__name__)
            self.note.setText(f"The session could not be deleted: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return False
        self.refresh()
        self.note.setText("The session was deleted (its key destroyed).")
        return True

    def refs(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def open_selected(self) -> str | None:
        item = self.list.currentItem()
        if item is None:
            return None
        ref = item.data(Qt.ItemDataRole.UserRole)
        self.accept()
        self.open_requested.emit(ref)
        return ref
