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


def pyannote_core():
    """``pyannote.core``, imported without its optional ``notebook`` module when it is not loaded yet.

    That module is for Jupyter display only, and at import it loads ``matplotlib.pyplot`` and builds a
    colour map: an RTTM export of a 90-minute session alone took 0.73-0.89 s of CPU with it, 0.02-0.04 s
    without, the file unchanged (the Annotation and Segment used here need only numpy and
    sortedcontainers; pandas is imported for type checking only). pyannote.core imports it inside ``try: ... except ImportError``; a
    ``None`` in ``sys.modules`` makes that import fail, and is removed at once, so the module can still
    be imported later. Nothing in Attune uses it. When the report is exported too, matplotlib is
    loaded anyway and the saving is about 0.05 s."""
    import sys

    if "pyannote.core" not in sys.modules and "pyannote.core.notebook" not in sys.modules:
        sys.modules["pyannote.core.notebook"] = None  # type: ignore[assignment]
        try:
            import pyannote.core
        finally:
            if sys.modules.get("pyannote.core.notebook", 0) is None:
                del sys.modules["pyannote.core.notebook"]
    import pyannote.core

    return pyannote.core


def write_rttm(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
               words: bool = True, uri: str | None = None, **_: object) -> list[Path]:
    core = pyannote_core()
    Annotation, Segment = core.Annotation, core.Segment  # noqa: N806

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
