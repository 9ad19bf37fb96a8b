"""Export a session timeline to the formats clinicians and researchers use (issue 15).

One small module per format, each a function ``write_<fmt>(timeline, out_path, *, deidentify=False,
notes=None, words=True, ...) -> list[Path]`` (the files written). ``timeline`` is the corrected
timeline (names, roles, corrections made in review already applied, as
``app.review_session.ReviewSession.timeline()`` returns it); ``notes`` the review's notes and
bookmarks; ``words=False`` leaves every word out (metrics only). Pure Python, Qt-free; the libraries of
each format are imported when that format is written. See docs/export.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from pathlib import Path

from analysis.export.common import Bookmark, ExportError, prepare, redact_text, role_names

# format name -> (module, function, what it writes)
FORMATS: dict[str, tuple[str, str, str]] = {
    "json": ("json_export", "write_json", "<stem>.timeline.json: attune.timeline/1 with notes"),
    "csv": ("csv_export", "write_csv", "<stem>.{utterances,turns,events,speakers,notes}.csv"),
    "srt": ("subtitles", "write_srt", "<stem>.srt: SubRip subtitles, 'Name: text'"),
    "vtt": ("subtitles", "write_vtt", "<stem>.vtt: WebVTT subtitles with voice tags <v Name>"),
    "rttm": ("rttm", "write_rttm", "<stem>.rttm: who spoke when (pyannote.core)"),
    "textgrid": ("textgrid", "write_textgrid", "<stem>.TextGrid: Praat, a tier per speaker, events, bookmarks"),
    "eaf": ("eaf", "write_eaf", "<stem>.eaf: ELAN, a tier per speaker, events, bookmarks, media linked"),
    "audacity": ("audacity", "write_audacity", "<stem>.labels.txt: Audacity label track"),
    "docx": ("docx_export", "write_docx", "<stem>.docx: transcript for Word"),
    "html": ("report", "write_html", "<stem>.report.html: self-contained supervision report"),
    "pdf": ("report", "write_pdf", "<stem>.report.pdf: the report on A4"),
    "wav": ("wav", "write_wav", "<stem>.wav: the audio (not with de-identification)"),
}


def writer(fmt: str) -> Callable[..., list[Path]]:
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})")
    module, fn, _ = FORMATS[fmt]
    return getattr(importlib.import_module(f"analysis.export.{module}"), fn)


def parse_formats(text: str | Iterable[str]) -> list[str]:
    """``"json,srt"`` (or a list of such) -> ["json", "srt"]; ``all`` means every format. Raises
    :class:`ExportError` naming an unknown one."""
    items = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in items:
        for f in str(item).split(","):
            f = f.strip().lower()
            if not f:
                continue
            names = list(FORMATS) if f == "all" else [{"webvtt": "vtt", "praat": "textgrid", "elan": "eaf",
                                                        "report": "html", "word": "docx"}.get(f, f)]
            for n in names:
                if n not in FORMATS:
                    raise ExportError(f"unknown format {f!r} (one of: {', '.join(FORMATS)}, all)")
                if n not in out:
                    out.append(n)
    if not out:
        raise ExportError("no format given")
    return out


def export(tl, out_stem: str | Path, formats: Iterable[str], *, deidentify: bool = False, notes=None,
           words: bool = True, audio_path: str | Path | None = None, **options) -> dict[str, list[Path] | str]:
    """Write ``formats`` for one session to ``out_stem`` + each format's suffix. Returns, per format, the
    files written, or a one-line message when that format could not be written (the others still are)."""
    results: dict[str, list[Path] | str] = {}
    html = None
    for fmt in formats:
        fn = writer(fmt)
        kwargs = dict(options)
        if fmt == "pdf" and html is not None:
            kwargs["html"] = html
        try:
            results[fmt] = fn(tl, out_stem, deidentify=deidentify, notes=notes, words=words, audio_path=audio_path,
                              **kwargs)
        except ExportError as exc:
            results[fmt] = str(exc)
        except OSError as exc:
            results[fmt] = f"cannot be written ({exc.strerror or type(exc).__name__})"
        if fmt == "html" and not isinstance(results[fmt], str):
            html = Path(results[fmt][0]).read_text(encoding="utf-8")
    return results


__all__ = ["FORMATS", "Bookmark", "ExportError", "export", "parse_formats", "prepare", "redact_text",
           "role_names", "writer"]
