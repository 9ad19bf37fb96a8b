"""JSON: the native ``attune.timeline/1`` document (docs/timeline.md), corrected as in review, with the
clinician's notes and bookmarks added under ``notes``. Valid against ``docs/timeline.schema.json``."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.atomic import atomic_write
from analysis.export.common import out_files, prepare
from analysis.timeline import Timeline


def timeline_document(tl: Timeline, notes=None, *, deidentify: bool = False, words: bool = True) -> dict:
    p = prepare(tl, notes, deidentify=deidentify, words=words)
    doc = p.timeline.to_dict()
    doc["notes"] = [{"t": round(b.t, 3), "kind": b.kind if b.kind in ("bookmark", "note") else "note",
                     "text": b.text, "category": b.category} for b in p.notes]
    return doc


def write_json(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
               words: bool = True, **_: object) -> list[Path]:
    path = out_files(out_path, ".timeline.json")
    doc = timeline_document(tl, notes, deidentify=deidentify, words=words)
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    atomic_write(path, text.encode("utf-8", "replace"))
    return [path]
