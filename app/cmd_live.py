"""``attune live`` (headless live session) and ``attune recover`` (interrupted sessions).

``attune live [--device NAME|--file AUDIO [--realtime]] [--out DIR] [--duration S] [--speakers N]``
captures, records and analyses live into the encrypted store (issue 13: ``<data dir>/store``, or a store
rooted at ``--out DIR`` opened with the user's master key; nothing is written in plain), prints a one-line status (speaking now, talk share, interruptions)
and, at the end, latency and resource figures. ``--speakers`` is the number of people in the room: the
diarizer never finds more voices than that, and session.json keeps it for a later re-analysis.
``attune recover [ROOT] [--all | SESSION...]`` lists or recovers sessions a crash left behind: those of the
store (ROOT: a store folder, default the user's; SESSION: session ids), or the plain session folders
of earlier versions when ROOT holds such folders. Commands that unlock take ``--passphrase-file``.
Messages are one line; transcript text is never printed or logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

from analysis.session_state import SessionState
from app.recorder import MAX_PEOPLE
from app.unlock import add_passphrase_option

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("live", help="run a live session headless (microphone or a file as if live)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", metavar="NAME", help="input device name (or part of it) or index "
                     "(default: the system's default input)")
    src.add_argument("--file", metavar="AUDIO", help="replay an audio file instead of a microphone")
    src.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument("--realtime", action="store_true", help="with --file: pace the file in real time")
    p.add_argument("--out", metavar="DIR", help="an encrypted store folder to record into (default: Attune's "
                   "own store)")
    p.add_argument("--client", metavar="PSEUDONYM", help="the client's pseudonym, for 'attune sessions list'")
    p.add_argument("--tag", action="append", default=[], metavar="TAG", help="a tag for the session (repeatable)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of audio")
    p.add_argument("--no-audio", action="store_true", help="keep no audio (consent): events and timeline only")
    p.add_argument("--no-transcribe", action="store_true", help="no transcription")
    p.add_argument("--no-diarize", action="store_true", help="treat all speech as one speaker")
    p.add_argument("--speakers", type=int, metavar="N", help="exact number of people in the room, "
                   f"1 to {MAX_PEOPLE} (default: automatic)")
    p.add_argument("--model", metavar="DIR", help="local CTranslate2 Whisper model directory")
    p.add_argument("--reanalyze", action="store_true",
                   help="after stopping, run the full offline analysis on the recording (review quality)")
    p.add_argument("-q", "--quiet", action="store_true", help="no live status line")
    add_passphrase_option(p)
    p.set_defaults(func=run)

    r = subparsers.add_parser("recover", help="list or recover sessions interrupted by a crash")
    r.add_argument("root", nargs="?", help="a store folder (default: Attune's store), or a folder holding plain "
                   "session folders of earlier versions")
    r.add_argument("sessions", nargs="*", metavar="SESSION", help="session ids (or plain session folders) to recover")
    r.add_argument("--all", action="store_true", help="recover every interrupted session found")
    add_passphrase_option(r)
    r.set_defaults(func=run)


def _err(message: str) -> None:
    print(f"attune: error: {message}", file=sys.stderr)


def status_line(s: SessionState) -> str:
    """``12:03 speaking S2 | share S1 41% S2 59% | interruptions S1 2 S2 0 | -23 dBFS``."""
    m, sec = divmod(int(s.t), 60)
    now = ",".join(s.speaking_now) if s.speaking_now else f"silence {s.silence_s:.0f}s"
    made = " ".join(f"{k} {v}" for k, v in sorted(s.interruptions_made.items())) or "-"
    extra = ""
    if s.overflows:
        extra += f" | overflows {s.overflows}"
    if s.asr_dropped:
        extra += f" | asr dropped {s.asr_dropped}"
    if s.error:
        extra += f" | {s.status}"
    return (f"{m:02d}:{sec:02d} {now:<12} | share {s.share_text()} | interruptions {made} | "
            f"{s.level_dbfs:4.0f} dBFS{extra}")


def _list_devices() -> int:
    from audio.sources import DeviceError, _default_sd

    try:
        sd = _default_sd()
        devices = sd.query_devices()
    except DeviceError as exc:
        _err(str(exc))
        return 2
    inputs = [(i, d) for i, d in enumerate(devices) if d.get("max_input_channels", 0) > 0]
    if not inputs:
        print("no audio input devices")
        return 1
    for i, d in inputs:
        print(f"{i:3d}  {d['name']}  ({d['max_input_channels']} ch, {d['default_samplerate']:.0f} Hz)")
    return 0


def _mention_interrupted(store) -> None:
    """Point at sessions a crash left behind in the store. A store that cannot be looked in is a
    warning, and the session goes on."""
    from app.recorder import find_interrupted

    try:
        found = find_interrupted(store)
    except Exception as exc:  # a hint only
        log.warning("warning: interrupted sessions could not be looked for (%s)", exc)
        return
    if found:
        where = "" if store.root.resolve() == _default_root() else f" {store.root}"
        print(f"attune: {len(found)} interrupted session(s); recover with: attune recover{where} --all",
              file=sys.stderr)


def _default_root() -> Path:
    from app.store import store_root

    return store_root().resolve()


def run_live(args: argparse.Namespace) -> int:
    if args.list_devices:
        return _list_devices()
    if args.realtime and not args.file:
        _err("--realtime only applies to --file")
        return 2
    if args.duration is not None and args.duration <= 0:
        _err("--duration must be positive")
        return 2
    if args.speakers is not None and not 1 <= args.speakers <= MAX_PEOPLE:
        _err(f"--speakers must be between 1 and {MAX_PEOPLE}")
        return 2
    out = Path(args.out) if args.out else None
    if out is not None and (out / "session.json").exists():
        _err(f"{out}: already holds a plain session; choose another --out folder")
        return 2
    logging.basicConfig(level=logging.WARNING, format="attune: %(message)s")
    from app.unlock import open_store_cli

    store = open_store_cli(args.passphrase_file, root=out)  # the vault's errors: one line (app.cli)
    _mention_interrupted(store)
    from analysis.live import LiveOptions
    from app.live_session import LiveSession
    from audio.capture_process import ProcessMicrophone
    from audio.decode import AudioDecodeError
    from audio.sources import FileSource

    try:
        if args.file:
            source = FileSource(args.file, realtime=args.realtime)
        else:
            device = int(args.device) if args.device and args.device.isdigit() else args.device
            source = ProcessMicrophone(device)  # its own helper process: model loading cannot starve it
    except AudioDecodeError as exc:
        _err(str(exc))
        store.close()
        return 2
    options = LiveOptions(transcriber=replace(LiveOptions().transcriber, model=args.model),
                          transcribe=not args.no_transcribe, diarize=not args.no_diarize,
                          backpressure=bool(args.file and not args.realtime), num_speakers=args.speakers)
    if not args.quiet:
        print("loading models ...", file=sys.stderr, flush=True)
    try:
        stored = store.create_session({"client": args.client, "tags": sorted(set(args.tag))})
        session = LiveSession(source, stored, options, keep_audio=not args.no_audio, duration=args.duration)
    except OSError as exc:
        _err(f"cannot create the session: {exc}")
        store.close()
        return 2
    tty = sys.stdout.isatty()
    last = [0.0]

    def tick(s: SessionState) -> None:
        if args.quiet:
            return
        if tty:
            print("\r" + status_line(s)[:150].ljust(150), end="", flush=True)
        elif s.t - last[0] >= 5.0:
            last[0] = s.t
            print(status_line(s), flush=True)

    try:
        return _run_session(args, session, stored, tick, tty)
    finally:
        store.close()


def _run_session(args, session, stored, tick, tty) -> int:
    from audio.sources import DeviceError

    try:
        timeline = session.run(on_tick=tick)
    except DeviceError as exc:
        _err(str(exc))
        return 2
    except OSError as exc:  # disk full while finishing: one line; the streams stay recoverable
        from app.session_runner import disk_error_message

        session.abort()
        _err(session.error or disk_error_message(exc, session.recorder.duration))
        return 1
    except RuntimeError as exc:  # the analysis could not start (the recording so far is kept)
        _err(str(exc))
        return 1
    if tty and not args.quiet:
        print()
    where = f" in {stored.store.root}" if args.out else ""
    print(f"session {stored.id} saved{where}, encrypted ({timeline.duration:.1f} s, {len(timeline.turns)} turns, "
          f"{len(timeline.utterances)} utterances, {len(timeline.speakers)} speakers)")
    for line in session.stats.lines():
        print(line)
    if session.error:
        _err(f"{session.error} (the recording so far is kept)")
    if args.reanalyze:
        if args.no_audio:
            _err("--reanalyze needs the audio, which --no-audio does not keep")
            return 1
        print("re-analysing the recording offline ...", flush=True)
        result = session.reanalyze()
        print(f"offline timeline: {len(result.timeline.turns)} turns, {len(result.timeline.utterances)} "
              f"utterances (saved encrypted with the session)")
    return 1 if session.error and not timeline.turns else 0


def _plain_root(root: Path | None) -> bool:
    """A folder of plain session folders (earlier versions), not a store."""
    from app.recorder import SESSION_NAME

    if root is None or not root.is_dir() or (root / "sessions").is_dir() or (root / "index.db").exists():
        return False
    return (root / SESSION_NAME).exists() or any((p / SESSION_NAME).exists() for p in root.iterdir()
                                                 if p.is_dir())


def run_recover(args: argparse.Namespace) -> int:
    import re

    if args.root and re.fullmatch(r"[0-9a-f]{32}", args.root) and not Path(args.root).exists():
        args.sessions, args.root = [args.root, *args.sessions], None  # `attune recover ID...`
    root = Path(args.root) if args.root else None
    if root is not None and not root.is_dir():
        _err(f"{root}: no such folder")
        return 2
    if _plain_root(root) or any(Path(t).is_dir() for t in args.sessions):
        return run_recover_plain(args, root)
    from app.recorder import find_interrupted, is_interrupted, recover_store_session
    from app.store import SessionNotFoundError
    from app.unlock import open_store_cli

    with open_store_cli(args.passphrase_file, root=root) as store:
        found = find_interrupted(store)
        where = f" {root}" if root else ""
        if not args.sessions and not args.all:
            if not found:
                print("no interrupted sessions")
                return 0
            for s in found:
                meta = s.meta
                print(f"{s.id}  started {meta.get('started_at', '?')}  audio: {'yes' if meta.get('audio') else 'no'}")
            print(f"recover with: attune recover{where} --all  (or name the sessions)")
            return 0
        failed = 0
        targets = found
        if args.sessions:
            targets = []
            for sid in args.sessions:
                try:
                    targets.append(store.session(sid))
                except (SessionNotFoundError, OSError) as exc:
                    _err(f"{sid}: {exc}")
                    failed += 1
        for s in targets:
            if not is_interrupted(s):
                _err(f"{s.id}: not an interrupted session")
                failed += 1
                continue
            try:
                duration = recover_store_session(s)
            except Exception as exc:  # noqa: BLE001 - tampering, damage: one line, the session left as it is
                from app.user_errors import message

                _err(f"{s.id}: could not be recovered: {message(exc) if str(exc) else type(exc).__name__}")
                failed += 1
                continue
            store.audit("recover", session=s.id)
            print(f"recovered {s.id} ({duration:.1f} s)")
    return 1 if failed else 0


def run_recover_plain(args: argparse.Namespace, root: Path | None) -> int:
    """Plain session folders of earlier versions (no store, nothing to unlock)."""
    from app.recorder import find_interrupted, is_interrupted, read_session, recover

    if root is None:
        from app.settings import sessions_dir

        root = sessions_dir()
    targets = [Path(s) for s in args.sessions]
    found = find_interrupted(root)
    if not targets and not args.all:
        if not found:
            print(f"no interrupted sessions in {root}")
            return 0
        for d in found:
            meta = read_session(d)
            print(f"{d}  started {meta.get('started_at', '?')}  audio: {'yes' if meta.get('audio') else 'no'}")
        print(f"recover with: attune recover {root} --all  (or name the session folders)")
        return 0
    targets = targets or found
    failed = 0
    for d in targets:
        if not is_interrupted(d):
            _err(f"{d}: not an interrupted session")
            failed += 1
            continue
        try:
            path = recover(d)
        except (OSError, ValueError) as exc:
            reason = exc
            if isinstance(exc, OSError) and exc.strerror:  # "Is a directory: timeline.json", no errno
                name = exc.filename2 or exc.filename
                reason = f"{exc.strerror}: {Path(os.fsdecode(name)).name}" if name else exc.strerror
            _err(f"{d}: could not be recovered: {reason}")
            failed += 1
            continue
        print(f"recovered {d} -> {path} ({read_session(d).get('duration', 0):.1f} s)")
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    return run_recover(args) if args.command == "recover" else run_live(args)
