"""``attune export SESSION_DIR_OR_TIMELINE... --format FMT[,FMT...] --out DIR [--deidentify]`` (issue 15).

Each session (a session folder, a ``.timeline.json`` from ``attune analyze``, or a session of the
encrypted store by its id or folder, unlocked as ``attune review`` does) is read through
:func:`load_for_export`, the one place that knows where sessions live: the corrected timeline (the
names, roles and corrections made in review), the notes and bookmarks, the audio when it was kept.
The formats are written by :mod:`analysis.export`. Errors are one line each (never a traceback): an
unknown format stops before anything is written (exit 2); a session that cannot be read, or a format
that cannot be written for it, is reported and the others go on (exit 1).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_PARTIAL = 1
EXIT_BAD_INPUT = 2


class ExportInputError(Exception):
    """A path that cannot be exported; ``str()`` is one line for the user."""


@dataclass
class ExportSource:
    """One session as the exports read it."""

    name: str  # the folder's or timeline file's name, for output file names and the report title
    timeline: Any  # analysis.timeline.Timeline, corrected
    notes: list = field(default_factory=list)  # app.review_session.Note (t, text, kind, category)
    audio_path: Path | None = None
    corrections: int = 0
    audio_reader: Any = None  # an encrypted session's audio: () -> app.store.AudioReader
    consent: str | None = None  # app.retention.consent_line of a store session


def load_for_export(path: str | os.PathLike) -> ExportSource:
    """A session folder or a timeline file, with the review's corrections, names and notes applied.
    Raises :class:`ExportInputError` (one line) for anything else."""
    from app.review_session import ReviewError, is_store_session_ref, open_review
    from app.user_errors import message, user_error_types

    if is_store_session_ref(path):  # a session of the encrypted store: its id or its folder
        try:
            return source_from_review(open_review(path))
        except ReviewError as exc:
            raise ExportInputError(str(exc)) from None
        except user_error_types() as exc:  # locked store, wrong passphrase, damaged files
            raise ExportInputError(f"{path}: {message(exc)}") from None
    p = Path(path).expanduser()
    if not p.exists():
        raise ExportInputError(f"{p}: does not exist")
    if p.is_file() and not p.name.endswith(".json"):
        raise ExportInputError(f"{p}: not a session folder or a timeline file (a recording? "
                               "run 'attune analyze' on it first)")
    try:
        session = open_review(p)
        return source_from_review(session)
    except ReviewError as exc:
        raise ExportInputError(str(exc)) from None


def source_from_review(session) -> ExportSource:
    """The session open in the review window (``app.review_session.ReviewSession``) as an export source:
    its corrected timeline and its notes as they are now."""
    from app.review_session import TIMELINE_SUFFIX, ReviewError

    if session.needs_analysis:
        raise ReviewError("the recording has not been analysed yet")
    p = Path(session.source)
    if p.is_dir():
        name = p.name
    elif p.name.endswith(TIMELINE_SUFFIX):
        name = p.name[: -len(TIMELINE_SUFFIX)]
    else:
        name = p.stem
    store = getattr(session, "store_session", None)
    reader = store.audio_reader if store is not None and session.has_audio else None
    consent = None
    if store is not None:
        from app.retention import consent_line

        consent = consent_line(store.meta).removeprefix("Consent: ")
    return ExportSource(name=name or "session", timeline=session.timeline(), notes=list(session.notes),
                        audio_path=session.audio_path, corrections=len(session.corrections.ops),
                        audio_reader=reader, consent=consent)


def add_parser(subparsers) -> None:
    from analysis.export import FORMATS

    p = subparsers.add_parser(
        "export", help="export sessions to JSON, CSV, subtitles, RTTM, Praat, ELAN, Audacity, Word, "
                       "a supervision report (HTML, PDF) or WAV",
        description="Export sessions (folders, .timeline.json files or store session ids) with the corrections, names and "
                    "notes made in review. Formats: " + "; ".join(f"{k}: {v[2]}" for k, v in FORMATS.items()))
    p.add_argument("paths", nargs="+", metavar="SESSION_DIR_OR_TIMELINE",
                   help="session folders, timeline files or sessions of the encrypted store (id)")
    p.add_argument("-f", "--format", required=True, metavar="FMT[,FMT...]", action="append",
                   help=f"formats, comma-separated: {', '.join(FORMATS)}, or all")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder (created if needed)")
    p.add_argument("--deidentify", action="store_true",
                   help="speakers by role only, names/places/dates/numbers in the text replaced, no file "
                        "names or source details (docs/export.md); wav is refused")
    p.add_argument("--no-words", action="store_true",
                   help="metrics only: no transcript or note text at all (for research)")
    p.add_argument("--transcript", action="store_true", help="include the transcript in the report (html, pdf)")
    p.add_argument("--start", type=float, metavar="S", help="wav: from this time (seconds)")
    p.add_argument("--end", type=float, metavar="S", help="wav: up to this time (seconds)")
    from app.unlock import add_passphrase_option

    add_passphrase_option(p)
    p.set_defaults(func=run)


def _error(message: str) -> None:
    print(f"attune export: error: {' '.join(str(message).split())[:300]}", file=sys.stderr)


def _unique(stem: str, used: set[str]) -> str:
    cand, n = stem, 1
    while cand in used:
        n += 1
        cand = f"{stem}-{n}"
    used.add(cand)
    return cand


def export_source(src: ExportSource, out_dir: Path, formats: list[str], *, stem: str, deidentify: bool = False,
                  words: bool = True, include_transcript: bool = False, start: float | None = None,
                  end: float | None = None) -> dict[str, list[Path] | str]:
    """Write one session's formats into ``out_dir`` as ``<stem>.<ext>`` (the dialog uses this too)."""
    from analysis.export import export

    facts = {"Session": src.name}
    if src.corrections:
        facts["Corrections made in review"] = str(src.corrections)
    if src.consent:
        facts["Consent"] = src.consent
    return export(src.timeline, out_dir / stem, formats, deidentify=deidentify, notes=src.notes, words=words,
                  audio_path=src.audio_path, title=None if deidentify else src.name, facts=facts,
                  include_transcript=include_transcript, start=start, end=end, audio_reader=src.audio_reader)


def run(args: argparse.Namespace) -> int:
    from analysis.export import ExportError, parse_formats

    try:
        formats = parse_formats(args.format)
    except ExportError as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    named = {f.strip().lower() for item in args.format for f in str(item).split(",")}
    if args.deidentify and "wav" in formats and "wav" not in named:  # 'all': everything that can be
        formats.remove("wav")
    if args.start is not None and args.end is not None and args.end <= args.start:
        _error("--end must be after --start")
        return EXIT_BAD_INPUT
    out = Path(args.out).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _error(f"cannot create the output folder {out} ({exc.strerror or type(exc).__name__})")
        return EXIT_BAD_INPUT
    from app.review_session import is_store_session_ref

    store = None
    if any(is_store_session_ref(p) for p in args.paths):  # unlock the CLI's way: --passphrase-file, env, prompt
        from app.unlock import open_store_cli, set_app_store
        from app.user_errors import message, user_error_types

        try:
            store = open_store_cli(getattr(args, "passphrase_file", None))
        except user_error_types() as exc:
            _error(message(exc))
            return EXIT_PARTIAL
        set_app_store(store)
    failed = 0
    used: set[str] = set()
    for i, path in enumerate(args.paths, 1):
        try:
            src = load_for_export(path)
        except ExportInputError as exc:
            _error(str(exc))
            failed += 1
            continue
        stem = _unique(f"session-{i}" if args.deidentify else src.name, used)
        try:
            results = export_source(src, out, formats, stem=stem, deidentify=args.deidentify,
                                    words=not args.no_words, include_transcript=args.transcript,
                                    start=args.start, end=args.end)
        except Exception as exc:  # a bug or a library failure: one line, the other sessions go on
            if os.environ.get("ATTUNE_DEBUG", "") not in ("", "0"):
                raise
            _error(f"{path}: export failed ({type(exc).__name__}: {str(exc)[:160]})")
            failed += 1
            continue
        written = [f for r in results.values() if not isinstance(r, str) for f in r]
        for fmt, r in results.items():
            if isinstance(r, str):
                _error(f"{path}: {fmt}: {r}")
        if any(isinstance(r, str) for r in results.values()):
            failed += 1
        if store is not None and is_store_session_ref(path):  # who took what out of the store, when
            store.audit("export", session=Path(os.fspath(path)).name, formats=sorted(results),
                        deidentified=bool(args.deidentify), files=len(written))
        print(f"{path} -> {len(written)} file(s) in {out}: " + ", ".join(f.name for f in written))
    if failed:
        print(f"{failed} of {len(args.paths)} session(s) not fully exported", file=sys.stderr)
    return EXIT_PARTIAL if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m app.cmd_export ...``: the same command without the rest of ``attune``."""
    parser = argparse.ArgumentParser(prog="attune")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["export", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
