"""The review window on a synthetic 90-minute session: open time and frame times (issue 14, point 8).

Generates a two-speaker timeline programmatically (turns of 1-25 s with pauses, overlaps and
backchannels, an utterance per turn, the cue engine's events on them) and a 0.1-s loudness envelope,
writes it as a session folder (timeline.json only: no audio, so the open time is the timeline's) and
then measures, in the real ReviewWindow:

- open: ``open_review`` + building the window + the first paint (the timeline is already analysed);
- frames: each step of scrolling (at four zoom levels), zooming in and out around a point, and
  moving the playhead as during playback with follow on, timed from the change to the end of a
  synchronous repaint of the timeline (``viewport().repaint()``): p50, p99 and max per kind;
- corrections: renaming a speaker (lanes and transcript rebuilt) and giving a turn to the other
  speaker (the same plus the cues of 90 minutes recomputed; compute_cues alone is timed too).

Offscreen (QT_QPA_PLATFORM=offscreen, software raster) unless run under a display. Prints one JSON object.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_review.py [--minutes 90]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import loadavg  # noqa: E402

WORDS = ("so", "I", "think", "that", "it", "was", "really", "hard", "to", "say", "what", "you", "feel",
         "about", "the", "week", "and", "then", "my", "mother", "called", "again", "how", "did", "sounds",
         "like", "part", "of", "me", "wanted", "yes", "mm", "right", "okay")


def synthetic_timeline(minutes: float, seed: int = 0):
    from analysis.cues import compute_cues
    from analysis.timeline import Speaker, Timeline, Turn, Utterance, Word

    rng = np.random.default_rng(seed)
    dur = minutes * 60.0
    turns, utts = [], []
    t, sp = 1.0, "S1"
    while t < dur - 30:
        length = float(rng.uniform(0.8, 12.0 if sp == "S2" else 6.0))
        start, end = t, min(dur - 1, t + length)
        turns.append(Turn(sp, start, end))
        n = max(1, int((end - start) * 2.5))
        words = [str(rng.choice(WORDS)) for _ in range(n)]
        step = (end - start) / n
        text = " ".join(words) + ("?" if rng.random() < 0.2 else ".")
        utts.append(Utterance(sp, start, end, text,
                              tuple(Word(start + i * step, start + (i + 1) * step, w, 0.9)
                                    for i, w in enumerate(words))))
        other = "S2" if sp == "S1" else "S1"
        if rng.random() < 0.25 and end - start > 4:  # a backchannel
            b = float(rng.uniform(start + 1, end - 2))
            turns.append(Turn(other, b, b + 0.4))
        r = rng.random()
        if r < 0.08:  # an interruption: the other starts before the end
            t = end - float(rng.uniform(0.3, 0.9))
        elif r < 0.12:  # a long silence
            t = end + float(rng.uniform(3.5, 9.0))
        else:
            t = end + float(rng.uniform(0.1, 1.5))
        sp = other
    turns.sort(key=lambda x: x.start)
    metrics, events = compute_cues(turns, utts, dur, speakers=["S1", "S2"])
    return Timeline(duration=dur, speakers=(Speaker("S1", "Therapist", "therapist"),
                                            Speaker("S2", "Client", "client")),
                    turns=tuple(turns), utterances=tuple(utts), events=events, metrics=metrics)


def pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1000
    return {"n": len(xs), "p50_ms": round(float(np.percentile(a, 50)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2), "max_ms": round(float(a.max()), 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=90.0)
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    t0 = time.perf_counter()
    tl = synthetic_timeline(args.minutes)
    gen_s = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    env = (-45 + 25 * rng.random(int(tl.duration / 0.1))).astype(np.float32)

    from PySide6.QtWidgets import QApplication

    from app.review_session import open_review
    from ui import theme as themes

    app = QApplication.instance() or QApplication(["bench"])
    themes.apply(app, themes.DARK)
    from ui.review_window import ReviewWindow

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "session"
        folder.mkdir()
        tl.save(folder / "timeline.json")
        size_mb = (folder / "timeline.json").stat().st_size / 1e6
        t0 = time.perf_counter()
        session = open_review(folder)
        t_load = time.perf_counter() - t0
        w = ReviewWindow(session)
        w.resize(1280, 820)
        w.show()
        app.processEvents()
        w.timeline_view.viewport().repaint()
        w.transcript.viewport().repaint()
        t_open = time.perf_counter() - t0
        view = w.timeline_view
        t1 = time.perf_counter()
        view.set_loudness(env, 0.1)
        t_loud = time.perf_counter() - t1
        vp = view.viewport()

        def frame(fn) -> float:
            s = time.perf_counter()
            fn()
            vp.repaint()
            return time.perf_counter() - s

        scroll, zoom, play = [], [], []
        for span in (tl.duration, 600.0, 60.0, 5.0):
            view.set_view(0.0, span)
            app.processEvents()
            steps = 120
            for _ in range(steps):
                scroll.append(frame(lambda span=span: view.scroll_by(min(span, tl.duration) * 0.05)))
        view.set_view(0.0, tl.duration)
        anchors = rng.uniform(0, tl.duration, 20)
        for a in anchors:
            for _ in range(12):
                zoom.append(frame(lambda a=a: view.zoom(1.25, a)))
            for _ in range(12):
                zoom.append(frame(lambda a=a: view.zoom(1 / 1.25, a)))
        for span in (tl.duration, 60.0):
            view.set_view(0.0, span)
            view.follow = True
            t = 0.0
            for _ in range(300):
                t += 0.033 * 20  # a playhead moving fast enough to make follow scroll
                play.append(frame(lambda t=t: view.set_playhead(t % tl.duration)))
        t1 = time.perf_counter()
        w.rename_speaker("S2", "Alex")
        app.processEvents()
        t_rename = time.perf_counter() - t1
        t1 = time.perf_counter()
        w.reassign_turn(10, "S1" if w._tl.turns[10].speaker == "S2" else "S2")
        app.processEvents()
        t_reassign = time.perf_counter() - t1
        t1 = time.perf_counter()
        from analysis.cues import compute_cues

        compute_cues(tl.turns, tl.utterances, tl.duration, speakers=["S1", "S2"])
        t_cues = time.perf_counter() - t1
        w.shutdown()
        w.close()
    out = {
        "platform": os.environ.get("QT_QPA_PLATFORM", "native"),
        "minutes": args.minutes, "turns": len(tl.turns), "utterances": len(tl.utterances),
        "events": len(tl.events), "timeline_json_mb": round(size_mb, 2),
        "generate_s": round(gen_s, 2), "load_timeline_s": round(t_load, 3), "open_s": round(t_open, 3),
        "loudness_paths_s": round(t_loud, 3),
        "frame_scroll": pct(scroll), "frame_zoom": pct(zoom), "frame_playhead_follow": pct(play),
        "frame_all": pct(scroll + zoom + play),
        "rename_s": round(t_rename, 3), "reassign_turn_s": round(t_reassign, 3),
        "of_which_compute_cues_s": round(t_cues, 3),
        "load_avg_1min": loadavg(),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
