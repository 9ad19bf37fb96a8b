"""Benchmark of the live pipeline (issue 5 figures), from a file source paced in real time.

    .venv/bin/python bench/bench_live.py [--file AUDIO] [--hours H] [--no-diarize] [--skip-memory]

1. Paced run (real time) through a full :class:`~app.live_session.LiveSession` (recorder included):
   speaking-now/talk-share update latency p90 (target <= 100 ms after the block that changes them),
   transcript latency p90 after the utterance ends (<= 1.5 s), speaker label latency p90 of a new turn
   (<= 2 s), CPU average in cores (< 1) and memory. Capture starts before the speech models load, so
   the audio buffered meanwhile is analysed in a catch-up burst; the latencies are reported for the
   start-up and for the steady state separately (:class:`CatchUpProbe`), the targets apply to the
   steady state.
2. Agreement: talk time per speaker, live vs ``analyze_file`` on the same file (within 10 %); speakers
   are matched by their overlap.
3. Memory: the file replayed in a loop as fast as the pipeline goes for ``--hours`` of session audio;
   peak RSS at 10 min and at the end (flat: within 50 MB). Default 0.25 h; ``--hours 2`` for the full
   figure.

Without ``--file`` a synthetic two-speaker dialogue (``app.synth.demo_script``) is generated. The
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

from analysis.evaluation import match_speakers  # noqa: E402
from analysis.latency import LatencyStats  # noqa: E402
from analysis.live import LiveOptions, LivePipeline  # noqa: E402
from analysis.talk import talk_time  # noqa: E402
from app.live_session import LiveSession, rss_mb  # noqa: E402
from app.session_runner import CATCH_UP_S  # noqa: E402
from audio.sources import FileSource  # noqa: E402
from bench.common import loadavg  # noqa: E402

TARGETS = {"state": 0.100, "transcript": 1.5, "label": 2.0}  # seconds, 90th percentile
MEMORY_MARK_S = 600.0  # seconds of session audio at which the first RSS reading is taken
MEMORY_LIMIT_MB = 50.0
SAMPLE_EVERY_S = 30.0  # seconds of audio between RSS samples in the memory run


class CatchUpProbe:
    """Splits the paced run's latency measurements into start-up (catch-up) and steady state.

    The session captures from its first second while the speech models load; the audio buffered
    meanwhile is analysed, transcribed and diarized in a burst. The pipeline has *caught up* at the
    first analysed block after which the runner's buffer holds at most ``CATCH_UP_S`` of audio, no
    utterance waits for (or is in) transcription and the diarizer's queue holds at most ``CATCH_UP_S``.
    ``caught_up_t`` is the session time then. A measurement belongs to the steady state when the
    instant it is measured from (an utterance's end, a new turn's start, a block's end) is at or
    after ``caught_up_t``, else to the start-up.

    Each measurement is the pipeline's own (its :class:`~analysis.latency.LatencyStats`), paired with
    its instant as it is taken: a turn or an utterance is recorded right after its latency is added,
    and ``on_block`` runs right after the block's.
    """

    def __init__(self) -> None:
        self.pipe = None
        self.samples: dict[str, list[tuple[float, float]]] = {"state": [], "transcript": [], "label": []}
        self.caught_up_t: float | None = None
        self.caught_up_wall: float | None = None  # seconds after the session started
        self.t_start = time.monotonic()
        self._seen = {"state": 0, "transcript": 0, "label": 0}

    def wrap(self, session: LiveSession) -> None:
        """Tee the session pipeline's records into this probe."""
        factory = session.pipeline_factory

        def build(on_record):
            def tee(kind, record):
                on_record(kind, record)
                if kind == "utterance":
                    self._take("transcript", record.end)
                elif kind == "turn":
                    self._take("label", record.start)

            self.pipe = factory(tee)
            return self.pipe

        session.pipeline_factory = build

    def _stats(self, key: str) -> LatencyStats:
        return {"state": self.pipe.lat_state, "transcript": self.pipe.lat_transcript,
                "label": self.pipe.lat_label}[key]

    def _take(self, key: str, at: float) -> None:
        stats = self._stats(key)
        if stats.count == self._seen[key] + 1:
            self.samples[key].append((at, stats.values[-1]))
        self._seen[key] = stats.count  # a mismatch shows as fewer samples than the pipeline's n

    def on_block(self, state) -> None:
        pipe = self.pipe
        if pipe is None:
            return
        if pipe.lat_state.count != self._seen["state"]:
            self._take("state", pipe.t)
        if self.caught_up_t is None:
            asr_idle = pipe.asr is None or pipe.asr.pending == 0
            diar_s = getattr(pipe.diarizer, "backlog_s", 0.0)
            if state.backlog_s <= CATCH_UP_S and asr_idle and diar_s <= CATCH_UP_S:
                self.caught_up_t = pipe.t
                self.caught_up_wall = time.monotonic() - self.t_start

    def split(self, key: str) -> tuple[LatencyStats, LatencyStats]:
        """(start-up, steady state) measurements of one figure."""
        start, steady = LatencyStats(), LatencyStats()
        t = float("inf") if self.caught_up_t is None else self.caught_up_t
        for at, v in self.samples[key]:
            (steady if at >= t else start).add(v)
        return start, steady


def fmt(v: float | None, unit: str = "ms") -> str:
    if v is None:
        return "-"
    return f"{1000 * v:.0f} ms" if unit == "ms" else f"{v:.2f} s"


def paced_run(path: Path, options: LiveOptions, speed: float) -> tuple[LiveSession, CatchUpProbe]:
    out = Path(tempfile.mkdtemp(prefix="attune-bench-live-")) / "session"
    probe = CatchUpProbe()
    session = LiveSession(FileSource(path, realtime=True, speed=speed), out, options, on_block=probe.on_block)
    probe.wrap(session)
    print(f"paced run of {path.name} (load {loadavg()}) ...", flush=True)
    probe.t_start = time.monotonic()
    session.run()
    return session, probe


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
        from app.synth import demo_script, render

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
    session, probe = paced_run(path, options, args.speed)
    st = session.stats
    lat = st.latency
    tl = session.timeline
    print(f"\n== live figures ({path.name}, {st.audio_s:.0f} s, load after {loadavg()}) ==")
    if probe.caught_up_t is None:
        print(f"models loaded {st.load_s:.1f} s after the start (capture running); the pipeline never caught "
              f"up: every figure is start-up")
    else:
        print(f"models loaded {st.load_s:.1f} s after the start (capture running); caught up with the buffered "
              f"audio at {probe.caught_up_t:.1f} s of session audio ({probe.caught_up_wall:.1f} s after the "
              f"start). Start-up: measured from an instant before that; steady state: from then on "
              f"(targets apply to it)")
    rows = [("speaking-now / talk-share update", "state"), ("transcript after utterance end", "transcript"),
            ("speaker label of a new turn", "label")]
    for name, key in rows:
        d = lat.get(key) or {}
        start, steady = (x.summary() for x in probe.split(key))
        ok = steady["p90"] is not None and steady["p90"] <= TARGETS[key]
        print(f"{name} (target p90 <= {fmt(TARGETS[key])}):")
        for part, e in (("steady state", steady), ("start-up", start), ("all", d)):
            verdict = f" {'OK' if ok else 'MISSED'}" if part == "steady state" else ""
            print(f"  {part:14s} p50 {fmt(e.get('p50')):>8} p90 {fmt(e.get('p90')):>8} "
                  f"max {fmt(e.get('max')):>8} n={e.get('n', 0)}{verdict}")
        if steady["n"] + start["n"] != d.get("n", 0):
            print(f"  (the probe paired {steady['n'] + start['n']} of the pipeline's {d.get('n', 0)} measurements)")
    print(f"CPU {st.cpu_cores:.2f} cores on average (target < 1) {'OK' if st.cpu_cores < 1 else 'MISSED'}; "
          f"RSS {st.rss_mb:.0f} MB, peak {st.peak_rss_mb:.0f} MB")
    print(f"workers: asr {lat.get('asr')}, diarizer {lat.get('diarizer')}, cue snapshots {lat.get('cues')}")
    print(f"utterances dropped (backlog) {st.asr_dropped}; input overflows {st.overflows}")
    live_talk = talk_time(tl.turns)
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
        off = talk_time(result.timeline.turns)
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
