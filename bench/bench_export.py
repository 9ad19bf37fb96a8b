"""Export of a synthetic 90-minute session in every format: seconds in all and per format (issue 15,
target: all formats under 5 s).

The session is bench/bench_review.py's synthetic two-speaker timeline (turns of 1-25 s, an utterance with
word timings per turn, the cue engine's events), 40 notes and bookmarks, and 90 minutes of 16 kHz mono
audio (low noise) for the WAV.

- all formats: one :func:`analysis.export.export` call with every format, as ``attune export`` makes
  it, in a fresh process (the first session of a process: libraries imported on first use count),
  then the next session of the same process (libraries loaded). Wall seconds, CPU seconds of this
  process and of the PDF's second process (analysis/export/pdf_process.py; ``--serial``: none), and
  the load average (the machine is shared: wall time on a loaded machine says little, the CPU
  seconds of the longer of the two processes bound the wall time on an idle 2-core machine).
  ``--runs N``: N fresh processes, each figure's best and median.
- ``--per-format``: each format written by its own call, in one process, serially (a library is
  charged to the first format that imports it; the PDF reuses the HTML, as in one call).

Prints one JSON object.

    .venv/bin/python bench/bench_export.py [--minutes 90] [--runs 5] [--per-format] [--serial] [--transcript]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_review import synthetic_timeline  # noqa: E402
from bench.common import loadavg  # noqa: E402


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def _session(args, tmp: Path):
    import soundfile as sf

    from audio import SAMPLE_RATE

    tl = synthetic_timeline(args.minutes)
    notes = [{"t": float(t), "text": "" if i % 2 else f"note {i}", "kind": "bookmark" if i % 2 else "note"}
             for i, t in enumerate(np.linspace(30, tl.duration - 30, 40))]
    wav = tmp / "audio.wav"
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(wav), "w", samplerate=SAMPLE_RATE, channels=1, subtype="PCM_16") as f:
        for _ in range(int(args.minutes * 6)):
            f.write((rng.standard_normal(SAMPLE_RATE * 10) * 0.01).astype(np.float32))
    return tl, notes, wav


def _check(res: dict) -> None:
    failed = {f: r for f, r in res.items() if isinstance(r, str)}
    if failed:
        raise SystemExit(f"not written: {failed}")


def once(args) -> dict:
    """One fresh process: every format in one call (first session), then again (next session)."""
    from analysis.export import FORMATS, export

    with tempfile.TemporaryDirectory(prefix="attune-bench-export-") as tmp:
        tl, notes, wav = _session(args, Path(tmp))
        out = {"minutes": args.minutes, "turns": len(tl.turns), "utterances": len(tl.utterances),
               "events": len(tl.events), "parallel": not args.serial}
        for key, sub in (("first_session", "out"), ("next_session", "out2")):
            ch0 = _children_cpu()
            t0, c0, load = time.perf_counter(), time.process_time(), loadavg()
            res = export(tl, Path(tmp) / sub / "session", list(FORMATS), notes=notes, audio_path=wav, title="bench",
                         include_transcript=args.transcript, parallel=not args.serial)
            out[key] = {"seconds": round(time.perf_counter() - t0, 2), "cpu_seconds": round(time.process_time() - c0, 2),
                        "pdf_process_cpu_seconds": round(_children_cpu() - ch0, 2), "loadavg": load}
            _check(res)
        out["bytes"] = {p.name: p.stat().st_size for p in (Path(tmp) / "out").iterdir()}
    return out


def per_format(args) -> dict:
    from analysis.export import FORMATS, export

    with tempfile.TemporaryDirectory(prefix="attune-bench-export-") as tmp:
        tl, notes, wav = _session(args, Path(tmp))
        seconds, cpu, html = {}, {}, None
        load = loadavg()
        for fmt in FORMATS:
            t0, c0 = time.perf_counter(), time.process_time()
            extra = {"html": html} if fmt == "pdf" and html else {}
            res = export(tl, Path(tmp) / "out" / "session", [fmt], notes=notes, audio_path=wav, title="bench",
                         include_transcript=args.transcript, parallel=False, **extra)
            seconds[fmt] = round(time.perf_counter() - t0, 3)
            cpu[fmt] = round(time.process_time() - c0, 3)
            _check(res)
            if fmt == "html":
                html = res[fmt][0].read_text(encoding="utf-8")
    return {"seconds_per_format": seconds, "cpu_seconds_per_format": cpu,
            "seconds_all": round(sum(seconds.values()), 2), "cpu_seconds_all": round(sum(cpu.values()), 2),
            "loadavg": [load, loadavg()]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=90.0)
    ap.add_argument("--transcript", action="store_true", help="the transcript in the report too")
    ap.add_argument("--runs", type=int, default=1, help="fresh processes to run (best and median)")
    ap.add_argument("--serial", action="store_true", help="no second process for the PDF")
    ap.add_argument("--per-format", action="store_true", help="each format by its own call, serially")
    ap.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.per_format:
        print(json.dumps(per_format(args), indent=1))
        return 0
    if args.once or args.runs <= 1:
        print(json.dumps(once(args)))
        return 0
    cmd = [sys.executable, __file__, "--once", "--minutes", str(args.minutes)]
    cmd += ["--transcript"] * args.transcript + ["--serial"] * args.serial
    runs = [json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            for _ in range(args.runs)]
    summary = {}
    for key in ("first_session", "next_session"):
        for fig in ("seconds", "cpu_seconds", "pdf_process_cpu_seconds"):
            xs = [r[key][fig] for r in runs]
            summary[f"{key}.{fig}"] = {"best": min(xs), "median": round(statistics.median(xs), 2), "all": xs}
        summary[f"{key}.loadavg"] = [r[key]["loadavg"] for r in runs]
    print(json.dumps({"target_s": 5.0, "runs": args.runs, "parallel": not args.serial, **summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
