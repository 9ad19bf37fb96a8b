"""Screenshots of the review window for docs/ (issue 14): the generated demo dialogue (espeak-ng voices,
its true turns and utterances, the cue engine's figures on them) as a session folder, the whole
session and a zoomed-in view with the transcript. Offscreen (QT_QPA_PLATFORM=offscreen).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/screenshot_review.py [--out docs]
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"))
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import time

    from PySide6.QtWidgets import QApplication

    from analysis.cues import compute_cues
    from analysis.timeline import Speaker, Timeline
    from app.review_session import open_review
    from app.synth import demo_script, render
    from ui import theme as themes
    from ui.review_window import ReviewWindow

    app = QApplication.instance() or QApplication(["attune"])
    themes.apply(app, themes.DARK)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "session"
        folder.mkdir()
        wav = Path(d) / "demo.wav"
        truth = render(demo_script(0), wav)
        ids = [s["id"] for s in truth.speakers]
        metrics, events = compute_cues(truth.turns, truth.utterances, truth.duration, speakers=ids)
        names = {"therapist": "Dr Lee", "client": "Client"}
        tl = Timeline(duration=truth.duration, speakers=tuple(
            Speaker(s["id"], names.get(s["role"], s["id"]), s["role"]) for s in truth.speakers),
            turns=tuple(truth.turns), utterances=tuple(truth.utterances), events=events, metrics=metrics)
        tl.save(folder / "timeline.json")
        shutil.copy(wav, folder / "audio.wav")
        session = open_review(folder)
        session.add_note(31.0)
        session.add_note(44.0, "client went quiet after the interruption", kind="note")
        w = ReviewWindow(session)
        w.resize(1280, 820)
        w.show()
        end = time.monotonic() + 20
        while not w.timeline_view.has_loudness and time.monotonic() < end:
            app.processEvents()
        w.tabs.setCurrentIndex(1)
        w.seek(42.0)
        app.processEvents()
        out = Path(args.out)
        w.grab().save(str(out / "screenshot-review.png"))
        w.tabs.setCurrentIndex(0)
        w.timeline_view.set_view(36.0, 16.0)
        w.seek(42.3)
        app.processEvents()
        w.grab().save(str(out / "screenshot-review-zoom.png"))
        w.shutdown()
        w.close()
    print(f"wrote {out / 'screenshot-review.png'} and {out / 'screenshot-review-zoom.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
