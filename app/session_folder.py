"""Session folders: where a new one goes, and what is written into it after the session.

:func:`save_after_session` adds the clinician's note (``note.txt``) and the roles chosen in the view
to a finished session: ``session.json`` records both, and the speakers of ``timeline.json`` get the
same roles, so the two files never disagree. Files stay private (0600).
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


def apply_roles(session_dir: str | Path, roles: dict[str, str]) -> None:
    """Set the speakers' roles in ``timeline.json`` (speakers not in ``roles`` keep theirs)."""
    path = Path(session_dir) / TIMELINE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for sp in data.get("speakers") or ():
        if isinstance(sp, dict) and sp.get("id") in roles:
            sp["role"] = roles[sp["id"]]
    _write_private(path, json.dumps(data, indent=2, ensure_ascii=False))


def save_after_session(session_dir: str | Path, note: str = "", roles: dict[str, str] | None = None,
                       settings: dict[str, Any] | None = None) -> Path:
    """Write the clinician's note (``note.txt``, mode 0600) and the roles chosen in the view into the
    session folder; ``session.json`` records both and ``timeline.json``'s speakers get the roles.
    Returns the session folder."""
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
