"""``attune live`` (headless live session) and ``attune recover`` (interrupted sessions).

``attune live [--device NAME|--file AUDIO [--realtime]] --out DIR [--duration S] [--speakers N]``
captures, records and analyses live, prints a one-line status (speaking now, talk share, interruptions)
and, at the end, latency and resource figures. ``--speakers`` is the number of people in the room: the
diarizer never finds more voices than that, and session.json keeps it for a later re-analysis.
``attune recover [ROOT] [--all | SESSION...]`` lists or recovers sessions a crash left behind.
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

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("live", help="run a live session headless (microphone or a file as if live)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", metavar="NAME", help="input device name (or part of it) or index "
                     "(default: the system's default input)")
    src.add_argument("--file", metavar="AUDIO", help="replay an audio file instead of a microphone")
    src.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument("--realtime", action="store_true", help="with --file: pace the file in real time")
    p.add_argument("--out", metavar="DIR", help="session folder to create (required unless --list-devices)")
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
    p.set_defaults(func=run)

    r = subparsers.add_parser("recover", help="list or recover sessions interrupted by a crash")
    r.add_argument("root", nargs="?", help="folder holding session folders (default: Attune's sessions folder)")
    r.add_argument("sessions", nargs="*", metavar="SESSION", help="session folders to recover")
    r.add_argument("--all", action="store_true", help="recover every interrupted session found")
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


def _mention_interrupted(*roots: Path) -> None:
    """Point at sessions a crash left behind (in the --out parent folder and Attune's sessions folder).
    A folder that cannot be looked in is a warning, and the session goes on."""
    from app.recorder import find_interrupted

    try:
        from app.settings import sessions_dir

        roots = (*roots, sessions_dir())
    except Exception as exc:  # a hint only: the session goes on, and says why the hint is missing
        log.warning("warning: Attune's sessions folder cannot be opened, so interrupted sessions there "
                    "are not looked for (%s)", exc)
    for root in dict.fromkeys(Path(r).resolve() for r in roots):
        try:
            found = find_interrupted(root)
        except Exception as exc:
            log.warning("warning: %s cannot be searched for interrupted sessions (%s)", root, exc)
            continue
        if found:
            print(f"attune: {len(found)} interrupted session(s) in {root}; recover with: "
                  f"attune recover {root} --all", file=sys.stderr)


def run_live(args: argparse.Namespace) -> int:
    if args.list_devices:
        return _list_devices()
    if not args.out:
        _err("--out DIR is required")
        return 2
    if args.realtime and not args.file:
        _err("--realtime only applies to --file")
        return 2
    if args.duration is not None and args.duration <= 0:
        _err("--duration must be positive")
        return 2
    if args.speakers is not None and not 1 <= args.speakers <= MAX_PEOPLE:
        _err(f"--speakers must be between 1 and {MAX_PEOPLE}")
        return 2
    out = Path(args.out)
    if (out / "session.json").exists():
        _err(f"{out}: already holds a session; choose another --out folder")
        return 2
    logging.basicConfig(level=logging.WARNING, format="attune: %(message)s")
    _mention_interrupted(out.parent)
    from analysis.live import LiveOptions
    from app.live_session import LiveSession
    from audio.capture_process import ProcessMicrophone
    from audio.decode import AudioDecodeError
    from audio.sources import DeviceError, FileSource

    try:
        if args.file:
            source = FileSource(args.file, realtime=args.realtime)
        else:
            device = int(args.device) if args.device and args.device.isdigit() else args.device
            source = ProcessMicrophone(device)  # its own helper process: model loading cannot starve it
    except AudioDecodeError as exc:
        _err(str(exc))
        return 2
    options = LiveOptions(transcriber=replace(LiveOptions().transcriber, model=args.model),
                          transcribe=not args.no_transcribe, diarize=not args.no_diarize,
                          backpressure=bool(args.file and not args.realtime), num_speakers=args.speakers)
    if not args.quiet:
        print("loading models ...", file=sys.stderr, flush=True)
    try:
        session = LiveSession(source, out, options, keep_audio=not args.no_audio, duration=args.duration)
    except (OSError, FileExistsError) as exc:
        _err(f"cannot create the session folder: {exc}")
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
        timeline = session.run(on_tick=tick)
    except DeviceError as exc:
        _err(str(exc))
        return 2
    except RuntimeError as exc:  # the analysis could not start (the recording so far is kept)
        _err(str(exc))
        return 1
    if tty and not args.quiet:
        print()
    print(f"session saved in {out} ({timeline.duration:.1f} s, {len(timeline.turns)} turns, "
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
              f"utterances -> {out / 'timeline.offline.json'}")
    elif session.recorder.keep_audio:
        hint = f" --speakers {args.speakers}" if args.speakers is not None else ""
        print(f"for a review-quality timeline: attune analyze {out / 'audio.wav'} --out {out}{hint}")
    return 1 if session.error and not timeline.turns else 0


def run_recover(args: argparse.Namespace) -> int:
    from app.recorder import find_interrupted, is_interrupted, read_session, recover

    if args.root:
        root = Path(args.root)
    else:
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
