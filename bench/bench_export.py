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


def _watch_pdf_process() -> dict:
    """This process's CPU seconds when it hands the HTML to the PDF's process, and the seconds it then
    waits for that PDF at the end (recorded around PdfProcess.submit and .result)."""
    from analysis.export import pdf_process

    seen: dict = {}
    submit, result = pdf_process.PdfProcess.submit, pdf_process.PdfProcess.result

    def timed_submit(self, *a, **k):
        seen["submit_cpu"] = time.process_time() - seen.get("c0", 0.0)
        return submit(self, *a, **k)

    def timed_result(self):
        t0 = time.perf_counter()
        try:
            return result(self)
        finally:
            seen["wait"] = time.perf_counter() - t0

    pdf_process.PdfProcess.submit, pdf_process.PdfProcess.result = timed_submit, timed_result
    return seen


def once(args) -> dict:
    """One fresh process: every format in one call (first session), then again (next session)."""
    from analysis.export import FORMATS, export

    seen = _watch_pdf_process()

    with tempfile.TemporaryDirectory(prefix="attune-bench-export-") as tmp:
        tl, notes, wav = _session(args, Path(tmp))
        out = {"minutes": args.minutes, "turns": len(tl.turns), "utterances": len(tl.utterances),
               "events": len(tl.events), "parallel": not args.serial}
        for key, sub in (("first_session", "out"), ("next_session", "out2")):
            ch0 = _children_cpu()
            t0, c0, load = time.perf_counter(), time.process_time(), loadavg()
            seen.clear()
            seen["c0"] = c0
            res = export(tl, Path(tmp) / sub / "session", list(FORMATS), notes=notes, audio_path=wav, title="bench",
                         include_transcript=args.transcript, parallel=not args.serial)
            cpu, child = time.process_time() - c0, _children_cpu() - ch0
            out[key] = {"seconds": round(time.perf_counter() - t0, 2), "cpu_seconds": round(cpu, 2),
                        "pdf_process_cpu_seconds": round(child, 2), "loadavg": load}
            if "submit_cpu" in seen:
                # on an idle 2-core machine each process has a core: the call ends when the longer of
                # this process's CPU work and (HTML handed over + the whole PDF process) does, plus I/O
                out[key].update(pdf_submit_cpu_seconds=round(seen["submit_cpu"], 2),
                                pdf_wait_seconds=round(seen["wait"], 2),
                                idle_bound_cpu_seconds=round(max(cpu, seen["submit_cpu"] + child), 2))
            _check(res)
        out["bytes"] = {p.name: p.stat().st_size for p in (Path(tmp) / "out").iterdir()}
    if not args.serial:
        # the PDF process's start and WeasyPrint's import alone (no job): done while this process
        # renders the HTML, so on an idle 2-core machine the PDF is ready at the HTML's hand-over plus
        # the rest of that process's CPU seconds
        from analysis.export.pdf_process import PdfProcess

        ch0 = _children_cpu()
        PdfProcess().close()
        start = _children_cpu() - ch0
        out["pdf_process_start_cpu_seconds"] = round(start, 2)
        for key in ("first_session", "next_session"):
            r = out[key]
            r["idle_estimate_cpu_seconds"] = round(max(r["cpu_seconds"], r["pdf_submit_cpu_seconds"]
                                                       + max(0.0, r["pdf_process_cpu_seconds"] - start)), 2)
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
        for fig in ("seconds", "cpu_seconds", "pdf_process_cpu_seconds", "pdf_submit_cpu_seconds",
                    "pdf_wait_seconds", "idle_bound_cpu_seconds", "idle_estimate_cpu_seconds"):
            xs = [r[key][fig] for r in runs if fig in r[key]]
            if not xs:
                continue
            summary[f"{key}.{fig}"] = {"best": min(xs), "median": round(statistics.median(xs), 2), "all": xs}
        summary[f"{key}.loadavg"] = [r[key]["loadavg"] for r in runs]
    if "pdf_process_start_cpu_seconds" in runs[0]:
        xs = [r["pdf_process_start_cpu_seconds"] for r in runs]
        summary["pdf_process_start_cpu_seconds"] = {"best": min(xs), "median": round(statistics.median(xs), 2),
                                                    "all": xs}
    print(json.dumps({"target_s": 5.0, "runs": args.runs, "parallel": not args.serial, **summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
