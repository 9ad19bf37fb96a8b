"""Export of a synthetic 90-minute session in every format: seconds per format and in all (issue 15,
target: all formats under 5 s).

The session is bench/bench_review.py's synthetic two-speaker timeline (turns of 1-25 s, an utterance with
word timings per turn, the cue engine's events), 40 notes and bookmarks, and 90 minutes of 16 kHz mono
audio (low noise) for the WAV. Each format is written once by :func:`analysis.export.export`, as
``attune export`` does (libraries imported on first use count in their format's time); the report's
PDF reuses the HTML, as it does there. Wall and CPU seconds (the machine is shared). Prints one JSON
object.

    .venv/bin/python bench/bench_export.py [--minutes 90] [--transcript]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_review import synthetic_timeline  # noqa: E402
from bench.common import loadavg  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=90.0)
    ap.add_argument("--transcript", action="store_true", help="the transcript in the report too")
    args = ap.parse_args(argv)

    import soundfile as sf

    from analysis.export import FORMATS, export
    from audio import SAMPLE_RATE

    tl = synthetic_timeline(args.minutes)
    notes = [{"t": float(t), "text": "" if i % 2 else f"note {i}", "kind": "bookmark" if i % 2 else "note"}
             for i, t in enumerate(np.linspace(30, tl.duration - 30, 40))]
    with tempfile.TemporaryDirectory(prefix="attune-bench-export-") as tmp:
        wav = Path(tmp) / "audio.wav"
        rng = np.random.default_rng(0)
        with sf.SoundFile(str(wav), "w", samplerate=SAMPLE_RATE, channels=1, subtype="PCM_16") as f:
            for _ in range(int(args.minutes * 6)):
                f.write((rng.standard_normal(SAMPLE_RATE * 10) * 0.01).astype(np.float32))
        seconds, cpu = {}, {}
        html = None
        t_all, c_all = time.perf_counter(), time.process_time()
        for fmt in FORMATS:
            t0, c0 = time.perf_counter(), time.process_time()
            extra = {"html": html} if fmt == "pdf" and html else {}
            res = export(tl, Path(tmp) / "out" / "session", [fmt], notes=notes, audio_path=wav, title="bench",
                         include_transcript=args.transcript, **extra)
            seconds[fmt] = round(time.perf_counter() - t0, 3)
            cpu[fmt] = round(time.process_time() - c0, 3)
            if isinstance(res[fmt], str):
                raise SystemExit(f"{fmt}: {res[fmt]}")
            if fmt == "html":
                html = res[fmt][0].read_text(encoding="utf-8")
        total, total_cpu = time.perf_counter() - t_all, time.process_time() - c_all
        # the next session of the same call (libraries loaded): what each further session costs
        t0, c0 = time.perf_counter(), time.process_time()
        res = export(tl, Path(tmp) / "out2" / "session", list(FORMATS), notes=notes, audio_path=wav, title="bench",
                     include_transcript=args.transcript)
        warm, warm_cpu = time.perf_counter() - t0, time.process_time() - c0
        assert not any(isinstance(r, str) for r in res.values()), res
        sizes = {p.name: p.stat().st_size for p in (Path(tmp) / "out").iterdir()}
    print(json.dumps({
        "minutes": args.minutes, "turns": len(tl.turns), "utterances": len(tl.utterances), "events": len(tl.events),
        "seconds_per_format": seconds, "cpu_seconds_per_format": cpu, "seconds_all": round(total, 2),
        "cpu_seconds_all": round(total_cpu, 2), "target_s": 5.0,
        "next_session_seconds": round(warm, 2), "next_session_cpu_seconds": round(warm_cpu, 2),
        "bytes": sizes, "loadavg": loadavg(),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
