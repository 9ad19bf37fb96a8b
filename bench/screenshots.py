"""Screenshots of the start dialog, the live view, the strip, the blank and the summary, under a real X server.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python bench/screenshots.py [--out docs]

Replays the generated demo dialogue through the real window and live pipeline. Speakers come from the
dialogue's own truth (a scripted streaming diarizer), so the pictures show a two-voice session
whatever diarizer is installed. The images are grabbed from the X server's screen, not rendered
off-screen. Writes ``screenshot-start.png`` (the consent page), ``screenshot-live.png``,
``screenshot-strip.png``, ``screenshot-blank.png`` and ``screenshot-summary.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHOT_AT_S = 53.6  # session time of the live screenshot (inside the dialogue's one long pause)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"))
    ap.add_argument("--theme", default="dark")
    args = ap.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        print("no DISPLAY: run under xvfb-run (see the module docstring)", file=sys.stderr)
        return 2
    os.environ.setdefault("ATTUNE_HOME", tempfile.mkdtemp(prefix="attune-shots-"))
    # sessions go into the encrypted store: a throw-away one here, unlocked without a dialog
    os.environ.setdefault("ATTUNE_PASSPHRASE", "attune benchmark only")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from analysis.live import LiveOptions, LivePipeline
    from analysis.scripted_diarizer import ScriptedDiarizer
    from app.qt_worker import SessionConfig, SessionController
    from app.settings import Settings
    from app.synth import demo_script, render
    from ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(["attune"])
    wav = Path(os.environ["ATTUNE_HOME"]) / "demo0.wav"
    truth = render(demo_script(0), wav)

    def pipeline_factory(config, on_record):
        return LivePipeline(LiveOptions(transcribe=False), diarizer=ScriptedDiarizer(truth.turns),
                            on_record=on_record)

    settings = Settings(theme=args.theme, session_minutes=5, end_cue_minutes=5)
    window = MainWindow(settings, SessionController(pipeline_factory=pipeline_factory), probe_level=False)
    window.resize(780, 470)
    window.move(60, 60)
    window.show()
    screen = app.primaryScreen()

    def grab(widget, name: str) -> None:
        app.processEvents()
        g = widget.frameGeometry()
        pix = screen.grabWindow(0, g.x(), g.y(), g.width(), g.height())
        path = out / name
        pix.save(str(path))
        print(f"{path}  {pix.width()}x{pix.height()}")

    steps = []

    def shoot() -> None:
        state = window.controller.latest
        if state is None or state.t < SHOT_AT_S or steps:
            return
        steps.append(1)
        window.controller.latest = state
        window.repaint_state()
        grab(window, "screenshot-live.png")
        window.set_strip_mode(True)
        QTimer.singleShot(400, shoot_strip)

    def shoot_strip() -> None:
        window.strip.move(60, 60)
        window.repaint_state()
        grab(window.strip, "screenshot-strip.png")
        window.set_strip_mode(False)
        window.set_blank(True)
        QTimer.singleShot(400, shoot_blank)

    def shoot_blank() -> None:
        grab(window, "screenshot-blank.png")
        window.set_blank(False)
        window.controller.stop()
        QTimer.singleShot(100, wait_done)

    def wait_done() -> None:
        summary = window.summary_dialog
        if window.controller.running or summary is None:
            QTimer.singleShot(100, wait_done)
            return
        summary.note.setPlainText("Client spoke about the new job; come back to sleep next time.")
        summary.move(80, 40)
        QTimer.singleShot(400, lambda: (grab(summary, "screenshot-summary.png"), summary.accept(), app.quit()))

    def shoot_start() -> None:
        dialog = window.begin_session()
        dialog.move(80, 60)
        dialog.show_page(1)
        dialog.consent_box.setChecked(True)
        QTimer.singleShot(400, lambda: (grab(dialog, "screenshot-start.png"), dialog.reject(), start()))

    def start() -> None:
        poll.start(50)
        window.start_session(SessionConfig(source=f"file:{wav}", consent_analysis=True, transcribe=False,
                                           keep_transcript=False, planned_s=5 * 60, realtime=True,
                                           speed=6.0))

    poll = QTimer()
    poll.timeout.connect(shoot)
    QTimer.singleShot(300, shoot_start)
    app.exec()
    window.controller.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
