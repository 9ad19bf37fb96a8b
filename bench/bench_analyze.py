"""Benchmark of `attune analyze`: real-time factor per stage and peak memory, beside plain faster-whisper.

    .venv/bin/python bench/bench_analyze.py [AUDIO ...]     (default: the shared pyannote sample)

Each measurement runs in its own process so that peak RSS is that run's alone. The plain baseline is
faster-whisper transcribing the whole file with the same model, compute type, threads and word
timestamps; the ratio column is Attune's stage time over the baseline's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "audio" / "pyannote_sample" / "sample.wav"


def worker_attune(path: str, diarize: bool) -> dict:
    from analysis.pipeline import AnalysisOptions, analyze_file

    t = time.perf_counter()
    result = analyze_file(path, AnalysisOptions(diarize=diarize))
    total = time.perf_counter() - t
    return {"duration": result.timeline.duration, "stages": result.stage_seconds, "total": total,
            "words": sum(len(u.words) for u in result.timeline.utterances),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def worker_plain(path: str) -> dict:
    import analysis  # noqa: F401  (offline mode)
    from analysis.transcribe import TranscriberOptions, load_model
    from audio import SAMPLE_RATE
    from audio.decode import load

    audio = load(path)
    t = time.perf_counter()
    model = load_model(TranscriberOptions())
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    segments, _ = model.transcribe(audio, language="en", beam_size=5, word_timestamps=True,
                                   condition_on_previous_text=False)
    words = sum(len(s.words or []) for s in segments)
    return {"duration": len(audio) / SAMPLE_RATE, "transcribe": time.perf_counter() - t, "load": load_s,
            "words": words, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_worker(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True,
                         cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("audio", nargs="*", default=[str(DEFAULT)])
    ap.add_argument("--no-diarize", action="store_true")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        kind, path, *rest = args.worker
        res = worker_attune(path, rest != ["nodiar"]) if kind == "attune" else worker_plain(path)
        print(json.dumps(res))
        return
    for path in args.audio:
        a = run_worker("attune", path, *(["nodiar"] if args.no_diarize else []))
        p = run_worker("plain", path)
        d = a["duration"]
        print(f"\n{Path(path).name}: {d:.1f} s of audio")
        print(f"{'stage':<26}{'seconds':>9}{'RTF':>8}")
        for stage, secs in a["stages"].items():
            print(f"{stage:<26}{secs:>9.2f}{secs / d:>8.3f}")
        print(f"{'attune total (incl. load)':<26}{a['total']:>9.2f}{a['total'] / d:>8.3f}")
        print(f"{'plain faster-whisper':<26}{p['transcribe']:>9.2f}{p['transcribe'] / d:>8.3f}"
              f"   (model load {p['load']:.2f} s)")
        ratio = a["stages"].get("transcribe", 0.0) / p["transcribe"] if p["transcribe"] else float("nan")
        print(f"transcription time attune/plain: {ratio:.2f}   words attune {a['words']} / plain {p['words']}")
        print(f"peak RSS: attune {a['peak_rss_mb']:.0f} MB, plain faster-whisper {p['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
