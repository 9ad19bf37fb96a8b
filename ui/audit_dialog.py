"""The audit log viewer (issue 13 point 4): every entry of the store's encrypted, append-only audit log
(unlock, open, export, delete, retention, ...), newest first: time, action, session, account, details.

A segment that fails to authenticate (altered on disk) is not skipped silently: it is named in the
dialog's note.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

log = logging.getLogger(__name__)

COLUMNS = ("Time", "Action", "Session", "Account", "Details")
_FIELDS = {"t", "seq", "action", "session", "user", "segment"}


def _when(iso: Any) -> str:
    try:
        return dt.datetime.fromisoformat(str(iso)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(iso or "?")


def audit_rows(store) -> tuple[list[tuple[str, ...]], str]:
    """The entries as table rows, newest first, and a one-line note about damaged segments ("" if none)."""
    damaged: list[str] = []

    def on_error(path: Path, exc: Exception) -> None:
        damaged.append(path.name)

    entries = store.audit_entries(on_error=on_error)
    entries.sort(key=lambda e: (str(e.get("t") or ""), e.get("seq") or 0), reverse=True)
    rows = []
    for e in entries:
        details = ", ".join(f"{k} {v}" for k, v in sorted(e.items()) if k not in _FIELDS)
        rows.append((_when(e.get("t")), str(e.get("action") or "?"), str(e.get("session") or ""),
                     str(e.get("user") or ""), details))
    note = (f"{len(damaged)} part(s) of the audit log failed authentication (altered on disk): "
            + ", ".join(damaged)) if damaged else ""
    return rows, note


class AuditDialog(QDialog):
    def __init__(self, store=None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audit log")
        self.resize(760, 460)
        self.store = store
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("What was done with the sessions, newest first (kept encrypted, append-only)."))
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table, 1)
        self.note = QLabel("")
        self.note.setObjectName("status")
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        try:
            store = self.store
            if store is None:
                from app.unlock import app_store

                store = app_store()
            rows, note = audit_rows(store)
        except Exception as exc:  # noqa: BLE001 - a locked or damaged store: one line
            log.warning("the audit log could not be read: %s", type(exc).__name__)
            rows, note = [], f"The audit log cannot be read: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.note.setText(note or ("" if rows else "The audit log is empty."))
