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

from analysis.export.common import Bookmark, ExportError, out_files, prepare, redact_text, role_names

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
           words: bool = True, audio_path: str | Path | None = None, parallel: bool = True,
           **options) -> dict[str, list[Path] | str]:
    """Write ``formats`` for one session to ``out_stem`` + each format's suffix. Returns, per format (in
    the order asked), the files written, or a one-line message when that format could not be written
    (the others still are).

    The report's HTML is rendered once, for the ``html`` file and the PDF. With ``parallel`` (and a
    second core), the PDF is written by a second process while this one writes the rest
    (:mod:`analysis.export.pdf_process`, which says why); the files are the same either way."""
    formats = list(dict.fromkeys(formats))
    fns = {fmt: writer(fmt) for fmt in formats}  # an unknown format: nothing is written
    common = {"deidentify": deidentify, "notes": notes, "words": words, "audio_path": audio_path}
    results: dict[str, list[Path] | str] = {}
    html = options.pop("html", None)

    def run(fmt: str, **extra) -> None:
        try:
            results[fmt] = fns[fmt](tl, out_stem, **common, **options, **extra)
        except ExportError as exc:
            results[fmt] = str(exc)
        except OSError as exc:
            results[fmt] = _not_written(exc)

    def report_html() -> str:
        if "html" in formats and "html" not in results:
            run("html")
        if "html" in results and not isinstance(results["html"], str):
            return Path(results["html"][0]).read_text(encoding="utf-8")
        from analysis.export.report import render_html

        return render_html(tl, **common, **options)

    pdf = None
    if "pdf" in formats and parallel:
        from analysis.export.pdf_process import PdfProcess

        pdf = PdfProcess.start()
    try:
        if pdf is not None:  # the HTML first, so that the PDF is made while the rest is written
            html = html if html is not None else report_html()
            if not pdf.submit(html, out_files(out_stem, ".report.pdf")):
                pdf.close()
                pdf = None
        for fmt in formats:
            if fmt in results or (fmt == "pdf" and pdf is not None):
                continue
            if fmt == "pdf":
                html = html if html is not None else report_html()
                run(fmt, html=html)
            else:
                run(fmt)
        if pdf is not None:
            done, pdf = pdf.result(), None
            if done is None:  # the second process did not make it: here, as without it
                run("pdf", html=html)
            else:
                results["pdf"] = _not_written(done) if isinstance(done, OSError) else done
    finally:
        if pdf is not None:  # an error above: the second process is not left behind
            pdf.close()
    return {fmt: results[fmt] for fmt in formats}


def _not_written(exc: OSError) -> str:
    return f"cannot be written ({exc.strerror or type(exc).__name__})"


__all__ = ["FORMATS", "Bookmark", "ExportError", "export", "parse_formats", "prepare", "redact_text",
           "role_names", "writer"]
