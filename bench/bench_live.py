"""Benchmark of the live pipeline (issue 5 figures), from a file source paced in real time.

    .venv/bin/python bench/bench_live.py [--file AUDIO] [--hours H] [--no-diarize] [--skip-memory]

1. Paced run (real time) through a full :class:`~app.live_session.LiveSession` (recorder included):
   speaking-now/talk-share update latency p90 (target <= 100 ms after the block that changes them),
   transcript latency p90 after the utterance ends (<= 1.5 s), speaker label latency p90 of a new turn
   (<= 2 s), CPU average in cores (< 1) and memory.
2. Agreement: talk time per speaker, live vs ``analyze_file`` on the same file (within 10 %); speakers
   are matched by their overlap.
3. Memory: the file replayed in a loop as fast as the pipeline goes for ``--hours`` of session audio;
   peak RSS at 10 min and at the end (flat: within 50 MB). Default 0.25 h; ``--hours 2`` for the full
   figure.

Without ``--file`` a synthetic two-speaker dialogue (``audio.synth.demo_script``) is generated. The
machine load (``/proc/loadavg``) is printed beside the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.live import LiveOptions, LivePipeline  # noqa: E402
from app.live_session import LiveSession, rss_mb  # noqa: E402
from audio.sources import FileSource  # noqa: E402
from bench.common import loadavg  # noqa: E402

TARGETS = {"state": 0.100, "transcript": 1.5, "label": 2.0}  # seconds, 90th percentile
MEMORY_MARK_S = 600.0  # seconds of session audio at which the first RSS reading is taken
MEMORY_LIMIT_MB = 50.0
SAMPLE_EVERY_S = 30.0  # seconds of audio between RSS samples in the memory run



def talk_by_speaker(turns) -> dict[str, float]:
    """Seconds of speech per speaker (the union of the speaker's turns)."""
    by: dict[str, list] = {}
    for t in turns:
        by.setdefault(t.speaker, []).append((t.start, t.end))
    out = {}
    for sp, ivs in by.items():
        total, end = 0.0, float("-inf")
        for s, e in sorted(ivs):
            if e > end:
                total += e - max(s, end)
                end = e
        out[sp] = total
    return out


def match_speakers(a_turns, b_turns) -> dict[str, str]:
    """Map each speaker of ``a`` to the speaker of ``b`` it overlaps most."""
    ov: dict[tuple[str, str], float] = {}
    for x in a_turns:
        for y in b_turns:
            o = min(x.end, y.end) - max(x.start, y.start)
            if o > 0:
                ov[x.speaker, y.speaker] = ov.get((x.speaker, y.speaker), 0.0) + o
    out: dict[str, str] = {}
    for (sa, sb), _ in sorted(ov.items(), key=lambda kv: -kv[1]):
        if sa not in out and sb not in out.values():
            out[sa] = sb
    return out


def fmt(v: float | None, unit: str = "ms") -> str:
    if v is None:
        return "-"
    return f"{1000 * v:.0f} ms" if unit == "ms" else f"{v:.2f} s"


def paced_run(path: Path, options: LiveOptions, speed: float) -> LiveSession:
    out = Path(tempfile.mkdtemp(prefix="attune-bench-live-")) / "session"
    session = LiveSession(FileSource(path, realtime=True, speed=speed), out, options)
    print(f"paced run of {path.name} (load {loadavg()}) ...", flush=True)
    session.run()
    return session


def memory_run(path: Path, options: LiveOptions, hours: float) -> tuple[float, float, float, float]:
    """(rss at mark, peak at mark, rss at end, peak at end) in MB, replaying the file in a loop.

    The peaks are the highest RSS sampled every ``SAMPLE_EVERY_S`` of audio during this run (the
    process's own peak also counts the paced run before it).
    """
    target = hours * 3600.0
    src = FileSource(path, loop=True)
    # the whole pipeline, as fast as it goes: wait for transcription and diarization, drop nothing
    pipe = LivePipeline(replace(options, backpressure=True))
    src.start()
    at_mark = None
    t0 = time.monotonic()
    last_print = last_sample = 0.0
    peak = rss_mb()
    for block in src:
        pipe.process(block)
        if block.t1 - last_sample >= SAMPLE_EVERY_S:
            last_sample = block.t1
            peak = max(peak, rss_mb())
        if at_mark is None and block.t1 >= min(MEMORY_MARK_S, target):
            at_mark = (rss_mb(), peak)
        if block.t1 - last_print >= 600:
            last_print = block.t1
            print(f"  {block.t1 / 60:5.0f} min of audio in {time.monotonic() - t0:5.0f} s: "
                  f"rss {rss_mb():.0f} MB, peak {peak:.0f} MB, asr dropped {pipe.state().asr_dropped}, "
                  f"turns {len(pipe.turns)}, utterances {len(pipe.utterances)}, "
                  f"diarizer {'on' if getattr(pipe.diarizer, 'disabled_at', None) is None else 'off'}",
                  flush=True)
        if block.t1 >= target:
            break
    src.stop()
    peak = max(peak, rss_mb())
    pipe.finish(timeout=60)
    assert at_mark is not None
    return at_mark[0], at_mark[1], rss_mb(), peak


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, help="audio file (default: a generated two-speaker dialogue)")
    ap.add_argument("--hours", type=float, default=0.25, help="hours of audio for the memory run (default 0.25)")
    ap.add_argument("--speed", type=float, default=1.0, help="pacing factor of the paced run (1 = real time)")
    ap.add_argument("--no-diarize", action="store_true", help="single-speaker turns (VAD only)")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--memory-only", action="store_true", help="only the memory run")
    ap.add_argument("--skip-offline", action="store_true", help="no analyze_file agreement check")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    truth = None
    path = args.file
    if path is None:
        from audio.synth import demo_script, render

        path = Path(tempfile.gettempdir()) / "attune-bench-live" / "demo.wav"
        truth = render(demo_script(0), path)
    options = LiveOptions(diarize=not args.no_diarize)
    if not args.memory_only:
        paced_report(path, options, args, truth)
    if not args.skip_memory:
        print(f"\nmemory: {args.hours:g} h of audio replayed as fast as possible (load {loadavg()}) ...", flush=True)
        t = time.monotonic()
        r_mark, p_mark, r_end, p_end = memory_run(path, options, args.hours)
        grow = p_end - p_mark
        mark = min(MEMORY_MARK_S, args.hours * 3600) / 60
        print(f"after {mark:.0f} min: rss {r_mark:.0f} MB (peak {p_mark:.0f}); after {args.hours * 60:.0f} min: "
              f"rss {r_end:.0f} MB (peak {p_end:.0f}); peak grew {grow:.0f} MB (target <= {MEMORY_LIMIT_MB:.0f}) "
              f"{'OK' if grow <= MEMORY_LIMIT_MB else 'MISSED'}; took {time.monotonic() - t:.0f} s")
    return 0


def paced_report(path: Path, options: LiveOptions, args: argparse.Namespace, truth) -> None:
    session = paced_run(path, options, args.speed)
    st = session.stats
    lat = st.latency
    tl = session.timeline
    print(f"\n== live figures ({path.name}, {st.audio_s:.0f} s, load after {loadavg()}) ==")
    rows = [("speaking-now / talk-share update", "state"), ("transcript after utterance end", "transcript"),
            ("speaker label of a new turn", "label")]
    for name, key in rows:
        d = lat.get(key) or {}
        ok = d.get("p90") is not None and d["p90"] <= TARGETS[key]
        print(f"{name:36s} p50 {fmt(d.get('p50')):>8} p90 {fmt(d.get('p90')):>8} max {fmt(d.get('max')):>8} "
              f"(n={d.get('n', 0)}; target p90 <= {fmt(TARGETS[key])}) {'OK' if ok else 'MISSED'}")
    print(f"CPU {st.cpu_cores:.2f} cores on average (target < 1) {'OK' if st.cpu_cores < 1 else 'MISSED'}; "
          f"RSS {st.rss_mb:.0f} MB, peak {st.peak_rss_mb:.0f} MB")
    print(f"workers: asr {lat.get('asr')}, diarizer {lat.get('diarizer')}, cue snapshots {lat.get('cues')}")
    print(f"utterances dropped (backlog) {st.asr_dropped}; input overflows {st.overflows}")
    live_talk = talk_by_speaker(tl.turns)
    print("live talk time: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(live_talk.items())))
    if truth is not None:
        m = match_speakers(tl.turns, truth.turns)
        print("truth talk time: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(truth.talk_time.items()))
              + f"  (live speakers map to truth as {m})")

    if not args.skip_offline:
        from analysis.pipeline import AnalysisOptions, analyze_file

        print(f"\noffline analyze_file (load {loadavg()}) ...", flush=True)
        t = time.monotonic()
        result = analyze_file(path, AnalysisOptions(transcribe=False, diarize=session.pipeline.diarizer is not None))
        off = talk_by_speaker(result.timeline.turns)
        m = match_speakers(tl.turns, result.timeline.turns)
        print(f"offline ({time.monotonic() - t:.0f} s): " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(off.items())))
        worst = 0.0
        for sp, v in sorted(live_talk.items()):
            o = off.get(m.get(sp, ""), 0.0)
            rel = abs(v - o) / o if o else float("inf")
            worst = max(worst, rel if v > 1.0 or o > 1.0 else 0.0)
            print(f"  live {sp} {v:6.1f} s vs offline {m.get(sp, '-')} {o:6.1f} s: {100 * rel:5.1f} %")
        unmatched = set(off) - set(m.values())
        for sp in sorted(unmatched):
            print(f"  offline {sp} {off[sp]:.1f} s has no live counterpart")
        print(f"agreement: worst {100 * worst:.1f} % (target <= 10 %) {'OK' if worst <= 0.10 else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
