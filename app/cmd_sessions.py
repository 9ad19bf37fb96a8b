"""``attune sessions list [--client X] [--tag T]``, ``attune sessions delete ID``, ``attune sessions
purge [--days N] [--dry-run]`` (the retention setting, app/retention.py) and ``attune sessions import
[DIR]`` (the plain session folders of earlier versions, app/import_plain.py) (issue 13).

Both unlock the encrypted store (``--passphrase-file``, ``$ATTUNE_PASSPHRASE`` or a prompt; see
:mod:`app.unlock`). ``list`` prints one line per session from the encrypted index (id, date, duration,
status, client pseudonym, tags; no words of the session). ``delete`` removes a session completely: its
key is destroyed first (so whatever is left of its files on disk can no longer be decrypted), then its
folder and its index row; the deletion is written to the audit log. ``import`` copies each plain session
folder under DIR (default ``<data dir>/sessions``) into the store and removes it once the copy reads back;
a folder that fails is left as it was, with one line saying why. ``trends --out DIR [--format csv,html,pdf]``
exports the library's trends of the sessions chosen by ``--client``, ``--clinician``, ``--tag``, ``--since``
and ``--until`` (issue 16, app/trends_report.py): their figures as CSV and the trends report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from app.unlock import add_passphrase_option


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sessions", help="list, delete, purge or import the sessions of the encrypted store")
    p.add_argument("--store", metavar="DIR", help="a store folder other than Attune's own (attune live --out DIR)")
    sub = p.add_subparsers(dest="sessions_command", metavar="ACTION")
    ls = sub.add_parser("list", help="the sessions, newest first")
    ls.add_argument("--client", metavar="PSEUDONYM", help="only this client's sessions")
    ls.add_argument("--tag", metavar="TAG", help="only sessions with this tag")
    add_passphrase_option(ls)
    rm = sub.add_parser("delete", help="delete a session completely (its key is destroyed)")
    rm.add_argument("session_id", metavar="ID", help="the session id ('attune sessions list' shows it)")
    add_passphrase_option(rm)
    pg = sub.add_parser("purge", help="apply the retention setting: sessions older than N days keep only "
                                      "de-identified figures (recording and words deleted)")
    pg.add_argument("--days", type=int, metavar="N",
                    help="the age in days (default: the app's retention setting; 0 keeps everything)")
    pg.add_argument("--dry-run", action="store_true", help="only list the sessions that would be reduced")
    add_passphrase_option(pg)
    im = sub.add_parser("import", help="move the plain session folders of earlier versions into the encrypted "
                                       "store (each folder removed once its copy reads back)")
    im.add_argument("directory", nargs="?", metavar="DIR",
                    help="the folder of plain session folders (default: <data dir>/sessions)")
    add_passphrase_option(im)
    tr = sub.add_parser("trends", help="export the trends of the sessions (figures as CSV, the trends report as "
                                       "HTML and PDF)")
    tr.add_argument("--out", required=True, metavar="DIR", help="the folder to write attune-trends.* into")
    tr.add_argument("--format", default="csv,html", metavar="LIST",
                    help="comma-separated: csv, html, pdf (default: csv,html)")
    tr.add_argument("--client", metavar="PSEUDONYM", help="only this client's sessions")
    tr.add_argument("--clinician", metavar="NAME", help="only this clinician's sessions (sessions that recorded "
                    "none are the installation's own)")
    tr.add_argument("--tag", metavar="TAG", help="only sessions with this tag")
    tr.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="only sessions on or after this day")
    tr.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="only sessions on or before this day")
    add_passphrase_option(tr)
    p.set_defaults(func=run)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _err(message: str) -> None:
    print(f"attune: error: {message}", file=sys.stderr)


def format_line(s) -> str:
    """``<id>  2025-03-01 10:00  50.0 min  finished  client C-01  tags a,b``."""
    when = (s.started_at or "?").replace("T", " ")[:16]
    dur = "?" if s.duration_s is None else f"{s.duration_s / 60:.1f} min"
    extra = ""
    if s.client:
        extra += f"  client {s.client}"
    if s.tags:
        extra += f"  tags {','.join(s.tags)}"
    return f"{s.id}  {when}  {dur}  {s.status or '?'}{extra}"


def _purge(store, args: argparse.Namespace) -> int:
    from app.retention import apply_retention
    from app.settings import load_settings

    days = args.days if args.days is not None else load_settings().retention_days
    if not days:
        print("retention is off (keep everything): give --days N or set it in the app's settings")
        return 0
    result = apply_retention(store, days, dry_run=args.dry_run)
    verb = "would reduce" if args.dry_run else "reduced"
    for sid in result.purged:
        print(f"{sid}  {verb} to de-identified figures (recording and words deleted)")
    for sid, why in result.skipped:
        print(f"{sid}  skipped: {why}")
    print(f"{len(result.purged)} session(s) older than {days} days {verb}"
          + (f", {len(result.skipped)} skipped" if result.skipped else ""))
    return 1 if result.skipped else 0


def _import(store, args: argparse.Namespace) -> int:
    from app.import_plain import import_plain_folders

    result = import_plain_folders(store, args.directory, report=_err)
    for sid in result.imported:
        print(f"{result.sources[sid]}: imported as session {sid}")
    for folder in result.removed:
        print(f"{folder}: already imported; the plain folder is removed")
    print(f"{len(result.imported)} plain session folder(s) imported"
          + (f", {len(result.failed)} failed" if result.failed else "")
          + (f", {len(result.skipped)} skipped" if result.skipped else ""))
    return 1 if result.failed else 0


def _trends(store, args: argparse.Namespace, formats: list[str]) -> int:
    from app import library, trends_report
    from app.goals import parse_goals
    from app.settings import load_settings

    filters = {"client": args.client, "clinician": args.clinician, "tag": args.tag, "since": args.since,
               "until": args.until}
    rows = library.filter_rows(library.load_rows(store), **filters)
    try:
        paths = trends_report.write_trends(rows, args.out, formats, scope=trends_report.scope_text(filters),
                                           goals=parse_goals(load_settings().goals))
    except OSError as exc:
        _err(f"{args.out}: the trends could not be written ({exc.strerror or type(exc).__name__})")
        return 1
    for path in paths:
        print(path)
    print(f"trends of {len(rows)} session(s) written" + (" (none matches: the files are empty)" if not rows else ""))
    return 0


def run(args: argparse.Namespace) -> int:
    from app.store import SessionNotFoundError
    from app.unlock import open_store_cli

    action = getattr(args, "sessions_command", None)
    if action not in ("list", "delete", "purge", "import", "trends"):
        _err("say what to do: attune sessions list | attune sessions delete ID | attune sessions purge | "
             "attune sessions import [DIR] | attune sessions trends --out DIR")
        return 2
    formats: list[str] = []
    if action == "trends":
        from app.trends_report import parse_formats

        try:
            formats = parse_formats(args.format)
        except ValueError as exc:
            _err(str(exc))
            return 2
    if action == "import" and args.directory is not None and not Path(args.directory).is_dir():
        _err(f"{args.directory}: no such folder")
        return 2
    if action == "purge" and args.days is not None and args.days < 0:
        _err("--days must be 0 or more")
        return 2
    if args.store is not None and not Path(args.store).is_dir():
        _err(f"{args.store}: no such store folder")
        return 2
    with open_store_cli(getattr(args, "passphrase_file", None), root=args.store) as store:
        if action == "list":
            rows = store.list_sessions(tag=args.tag, client=args.client)
            if not rows:
                print("no sessions" + (" match" if args.tag or args.client else " yet"))
            for s in rows:
                print(format_line(s))
            return 0
        if action == "purge":
            return _purge(store, args)
        if action == "import":
            return _import(store, args)
        if action == "trends":
            return _trends(store, args, formats)
        try:
            existed = store.delete_session(args.session_id)
        except SessionNotFoundError as exc:
            _err(str(exc))
            return 2
        if not existed:
            _err(f"no session {args.session_id}")
            return 1
        print(f"deleted session {args.session_id} (its key destroyed, its folder removed)")
        return 0
