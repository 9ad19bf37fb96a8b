"""RTTM (NIST Rich Transcription Time Marked) via ``pyannote.core``: one SPEAKER row per turn, the
speaker field the display name with spaces as underscores (RTTM fields are space-separated)."""

from __future__ import annotations

import io
from pathlib import Path

from analysis.atomic import atomic_write
from analysis.export.common import out_files, prepare
from analysis.timeline import Timeline


def rttm_name(name: str) -> str:
    return "_".join(name.split()) or "unknown"


def write_rttm(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
               words: bool = True, uri: str | None = None, **_: object) -> list[Path]:
    from pyannote.core import Annotation, Segment

    p = prepare(tl, notes, deidentify=deidentify, words=words)
    path = out_files(out_path, ".rttm")
    uri = rttm_name(uri or ("session" if deidentify else path.name[: -len(".rttm")]))
    ann = Annotation(uri=uri)
    for i, t in enumerate(sorted(p.timeline.turns, key=lambda t: (t.start, t.end))):
        if t.end > t.start:
            ann[Segment(t.start, t.end), i] = rttm_name(p.name(t.speaker))
    buf = io.StringIO()
    ann.write_rttm(buf)
    atomic_write(path, buf.getvalue().encode("utf-8"))
    return [path]
