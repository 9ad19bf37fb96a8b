"""The desktop app's entry point: ``main(argv) -> int`` opens the window (``attune`` with no arguments).

Options: ``--play FILE`` reviews a recording at once, as if live. A review is not a session: no
consent is asked (there is no client in the room), nothing is added to the sessions folder and nothing
is kept afterwards; it is the same as "Replay a recording…" on the start page, and ``attune --play
FILE`` is the same command. ``--speed X`` replays it X times faster than real time,
``--no-transcribe`` skips transcription, ``--strip`` opens the compact strip.
Heavy modules (torch, pyannote, faster-whisper) are never imported here: the pipeline imports them
on its worker thread.

Before the window opens, the encrypted store is unlocked (issue 13): ``$ATTUNE_PASSPHRASE`` or the OS
keyring if they work, else a passphrase dialog that asks again after a wrong passphrase; on the first
run the dialog sets the passphrase and the recovery key is shown once. Cancelling quits.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="attune", description="Attune desktop app")
    ap.add_argument("--play", metavar="FILE",
                    help="review a recording as if live (no consent asked, nothing saved)")
    ap.add_argument("--speed", type=float, default=1.0, help="replay speed factor for --play")
    ap.add_argument("--minutes", type=int, help="planned session length in minutes")
    ap.add_argument("--no-transcribe", action="store_true", help="no transcription (cues only)")
    ap.add_argument("--strip", action="store_true", help="start in the compact strip")
    return ap.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from PySide6.QtWidgets import QApplication

    from app.settings import load_settings
    from ui.main_window import MainWindow

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(["attune"])
    app.setApplicationName("Attune")
    from app.unlock import open_store_with, set_app_store
    from ui.unlock_dialog import ask_passphrase, show_recovery_key

    store = open_store_with(ask_passphrase, show_recovery_key)
    if store is None:  # the user cancelled the passphrase dialog
        return 0
    set_app_store(store)
    settings = load_settings()
    from app.import_plain import import_plain_at_startup
    from app.retention import apply_retention_at_startup

    import_plain_at_startup(store)  # plain session folders of earlier versions: into the store
    apply_retention_at_startup(store, settings)  # sessions past the retention period: figures only
    if args.minutes:
        settings = settings.with_(session_minutes=args.minutes)
    window = MainWindow(settings)
    window.show()
    if args.play:
        window.start_review(args.play, speed=args.speed, transcribe=not args.no_transcribe)
        if args.strip:
            window.set_strip_mode(True)
    app.aboutToQuit.connect(window.shutdown)
    try:
        return int(app.exec())
    finally:
        set_app_store(None)
        store.close()


if __name__ == "__main__":
    raise SystemExit(main())
