"""The desktop app's entry point: ``main(argv) -> int`` opens the window (``attune`` with no arguments).

Options (for demos and screenshots): ``--play FILE`` starts a session at once on a recording instead
of the microphone (consent is taken as given: it is a recording), ``--speed X`` replays it X times
faster than real time, ``--no-transcribe`` skips transcription, ``--strip`` opens the compact strip.
Heavy modules (torch, pyannote, faster-whisper) are never imported here: the pipeline imports them
on its worker thread.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="attune", description="Attune desktop app")
    ap.add_argument("--play", metavar="FILE", help="replay a recording as if live (demo)")
    ap.add_argument("--speed", type=float, default=1.0, help="replay speed factor for --play")
    ap.add_argument("--minutes", type=int, help="planned session length in minutes")
    ap.add_argument("--no-transcribe", action="store_true", help="no transcription (cues only)")
    ap.add_argument("--strip", action="store_true", help="start in the compact strip")
    return ap.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from PySide6.QtWidgets import QApplication

    from app.qt_worker import SessionConfig
    from app.settings import load_settings
    from ui.gc_guard import guard_pyside_refcounts
    from ui.main_window import MainWindow

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    guard_pyside_refcounts()
    app = QApplication.instance() or QApplication(["attune"])
    app.setApplicationName("Attune")
    settings = load_settings()
    if args.minutes:
        settings = settings.with_(session_minutes=args.minutes)
    window = MainWindow(settings)
    window.show()
    if args.play:
        config = SessionConfig(source=f"file:{args.play}", planned_s=settings.session_minutes * 60.0,
                               consent_analysis=True, keep_audio=False,
                               transcribe=not args.no_transcribe, realtime=True, speed=max(0.1, args.speed))
        window.start_session(config)
        if args.strip:
            window.set_strip_mode(True)
    app.aboutToQuit.connect(window.shutdown)
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
