"""Screenshots of the review window for docs/ (issue 14): the generated demo dialogue (espeak-ng voices,
its true turns and utterances, the cue engine's figures on them, tone measured on the audio) as a
session folder: the whole session, a zoomed-in view with the transcript and the current line word by
word, and the Summary tab. Taken from a real X server (run it under Xvfb: the window is grabbed from the
screen, as a user would see it); with no display it falls back to offscreen grabs of the widget.

    Xvfb :99 -screen 0 1400x1250x24 &
    DISPLAY=:99 .venv/bin/python bench/screenshot_review.py [--out docs]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHOTS = ("screenshot-review.png", "screenshot-review-zoom.png", "screenshot-review-summary.png")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"))
    args = ap.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import time

    import soundfile as sf
    from PySide6.QtWidgets import QApplication

    from analysis.cues import compute_cues
    from analysis.timeline import Speaker, Timeline
    from app.review_session import open_review
    from app.synth import demo_script, render
    from ui import theme as themes
    from ui.review_window import ReviewWindow

    app = QApplication.instance() or QApplication(["attune"])
    themes.apply(app, themes.DARK)
    on_screen = app.platformName() not in ("offscreen", "minimal")

    def settle(seconds: float = 0.4) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    def shot(w, name: str) -> None:
        settle()
        path = str(Path(args.out) / name)
        if on_screen:  # what the X server shows, window frame excluded
            w.screen().grabWindow(w.winId()).save(path)
        else:
            w.grab().save(path)

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "session"
        folder.mkdir()
        wav = Path(d) / "demo.wav"
        truth = render(demo_script(0), wav)
        x, sr = sf.read(wav, dtype="float32")

        def read(a: float, b: float):
            return x[int(a * sr):int(b * sr)]

        ids = [s["id"] for s in truth.speakers]
        metrics, events = compute_cues(truth.turns, truth.utterances, truth.duration, speakers=ids, audio=read)
        names = {"therapist": "Dr Lee", "client": "Client"}
        tl = Timeline(duration=truth.duration, speakers=tuple(
            Speaker(s["id"], names.get(s["role"], s["id"]), s["role"]) for s in truth.speakers),
            turns=tuple(truth.turns), utterances=tuple(truth.utterances), events=events, metrics=metrics)
        tl.save(folder / "timeline.json")
        shutil.copy(wav, folder / "audio.wav")
        session = open_review(folder)
        session.add_note(31.0)
        session.add_note(44.0, "client went quiet after the interruption", kind="note")
        w = ReviewWindow(session, privacy_key=None, reanalyse=False)
        w.resize(1280, 860)
        w.move(40, 20)
        w.show()
        end = time.monotonic() + 30
        while not w.timeline_view.has_loudness and time.monotonic() < end:
            app.processEvents()
        w.tabs.setCurrentIndex(1)  # Speakers
        w.seek(42.0)
        shot(w, SHOTS[0])
        w.tabs.setCurrentIndex(0)  # Notes
        w.timeline_view.set_view(36.0, 16.0)
        w.seek(42.3)
        settle()
        j = w.transcript.currentItem().data(0x0100)  # the line being played, word by word
        w.show_words(j, selected=3)
        shot(w, SHOTS[1])
        w.tabs.setCurrentWidget(w.summary)
        w.resize(1280, 1180)
        w.timeline_view.set_view(0.0, w.timeline_view.duration)
        w.split.setSizes([400, 880])
        w.seek(0.0)
        shot(w, SHOTS[2])
        w.shutdown()
        w.close()
    print("wrote " + ", ".join(str(Path(args.out) / s) for s in SHOTS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
