"""Deleting a session from the Sessions dialog (with a confirmation) and the audit log viewer (issue 13)."""

from __future__ import annotations

from tests.store_util import open_test_store


def _select(dialog, sid: str) -> None:
    refs = dialog.refs()
    dialog.list.setCurrentRow(refs.index(sid))


def test_delete_from_the_sessions_dialog_asks_first_and_is_audited(qtbot):
    from app.unlock import app_store
    from ui.audit_dialog import AuditDialog
    from ui.sessions_dialog import SessionsDialog

    store = app_store()
    keep = store.create_session({"status": "finished", "client": "C-1", "started_at": "2026-01-01T10:00:00+00:00"})
    gone = store.create_session({"status": "finished", "client": "C-2", "started_at": "2026-01-02T10:00:00+00:00"})
    dialog = SessionsDialog()
    qtbot.addWidget(dialog)
    assert set(dialog.refs()) == {keep.id, gone.id}
    _select(dialog, gone.id)
    assert dialog.delete_button.isEnabled()
    asked = []
    dialog.confirm_delete = lambda text: asked.append(text) or False  # "No"
    assert not dialog.delete_selected()
    assert asked and "client C-2" in asked[0] and gone.id in dialog.refs()
    dialog.confirm_delete = lambda text: True
    _select(dialog, gone.id)
    assert dialog.delete_selected()
    assert dialog.refs() == [keep.id] and "deleted" in dialog.note.text()
    assert not gone.dir.exists() and gone.id not in [s.id for s in open_test_store().list_sessions()]

    audit = AuditDialog(store)
    qtbot.addWidget(audit)
    rows = [tuple(audit.table.item(i, j).text() for j in range(3)) for i in range(audit.table.rowCount())]
    assert rows[0][1:] == ("delete", gone.id)  # newest first
    assert any(r[1] == "unlock" for r in rows) and audit.note.text() == ""


def test_the_audit_dialog_names_an_altered_segment(qtbot):
    from app.unlock import app_store
    from ui.audit_dialog import AuditDialog

    store = app_store()
    store.audit("export", session="x" * 32, formats="html")
    seg = sorted(store.audit_dir.glob("*.stream"))[-1]
    data = bytearray(seg.read_bytes())
    data[-5] ^= 0x01
    seg.write_bytes(bytes(data))
    audit = AuditDialog(store)
    qtbot.addWidget(audit)
    assert "failed authentication" in audit.note.text() and seg.name in audit.note.text()
