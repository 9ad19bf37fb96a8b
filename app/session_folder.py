"""Session folders: where a new one goes, and what is written into it after the session.

:func:`save_after_session` adds the clinician's note (``note.txt``) and the roles chosen in the view
to a finished session: ``session.json`` records both, and the speakers of ``timeline.json`` get the
same roles, so the two files never disagree. Files stay private (0600).

A session of the encrypted store (:class:`app.store.Session`, issue 13) is handled the same way, with
its encrypted files: the note becomes ``note.enc``, the description and the timeline are rewritten
encrypted whole (:func:`update_session` for other fields, e.g. the merged voices).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from app.recorder import TIMELINE_NAME
from app.settings import sessions_dir


def new_session_dir() -> Path:
    stamp = datetime.now().strftime("%Y-%m-%d_%H%M%S")
    root = sessions_dir()
    path = root / stamp
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{n}"
    return path


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to a 0600 file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    tmp.replace(path)


def _is_store_session(x: Any) -> bool:
    return hasattr(x, "write_json") and hasattr(x, "audio_writer")


def update_session(session: Any, **fields: Any) -> None:
    """Add ``fields`` to a session's description: a store session's (encrypted) or a plain folder's
    session.json (atomically, 0600). An unreadable description is left as it is."""
    if _is_store_session(session):
        session.update(**fields)
        return
    path = Path(session) / "session.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    meta.update(fields)
    _write_private(path, json.dumps(meta, indent=2, ensure_ascii=False))


def _roles_into(data: Any, roles: dict[str, str]) -> Any:
    for sp in (data.get("speakers") or ()) if isinstance(data, dict) else ():
        if isinstance(sp, dict) and sp.get("id") in roles:
            sp["role"] = roles[sp["id"]]
    return data


def apply_roles(session_dir: Any, roles: dict[str, str]) -> None:
    """Set the speakers' roles in ``timeline.json`` (speakers not in ``roles`` keep theirs)."""
    if _is_store_session(session_dir):
        if session_dir.has("timeline"):
            session_dir.write_json("timeline", _roles_into(session_dir.read_json("timeline"), roles))
        return
    path = Path(session_dir) / TIMELINE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for sp in data.get("speakers") or ():
        if isinstance(sp, dict) and sp.get("id") in roles:
            sp["role"] = roles[sp["id"]]
    _write_private(path, json.dumps(data, indent=2, ensure_ascii=False))


def save_after_session(session_dir: Any, note: str = "", roles: dict[str, str] | None = None,
                       settings: dict[str, Any] | None = None) -> Path:
    """Write the clinician's note (``note.txt``, mode 0600) and the roles chosen in the view into the
    session folder; ``session.json`` records both and ``timeline.json``'s speakers get the roles.
    Returns the session folder. A store session: ``note.enc``, its encrypted description and timeline."""
    if _is_store_session(session_dir):
        session = session_dir
        fields: dict[str, Any] = {"note": "note" if note else None}
        if note:
            session.write_doc("note", (note.rstrip() + "\n").encode("utf-8"))
        if roles:
            fields["roles"] = dict(roles)
            fields["speakers"] = _roles_into({"speakers": session.meta.get("speakers") or []},
                                             roles)["speakers"]
            apply_roles(session, roles)
        if settings:
            fields["nudge_settings"] = dict(settings)
        session.update(**fields)
        return session.dir
    session_dir = Path(session_dir)
    note_path = session_dir / "note.txt"
    if note:
        fd = os.open(note_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(note.rstrip() + "\n")
    meta_path = session_dir / "session.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    meta["note"] = note_path.name if note else None
    if roles:
        meta["roles"] = dict(roles)
        for sp in meta.get("speakers") or ():
            if isinstance(sp, dict) and sp.get("id") in roles:
                sp["role"] = roles[sp["id"]]
        apply_roles(session_dir, roles)
    if settings:
        meta["nudge_settings"] = dict(settings)
    _write_private(meta_path, json.dumps(meta, indent=2, ensure_ascii=False))  # private, as the recorder wrote it
    return session_dir
