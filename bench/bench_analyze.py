"""Benchmark of `attune analyze`: real-time factor per stage and peak memory, beside plain faster-whisper.

    .venv/bin/python bench/bench_analyze.py [AUDIO ...]     (default: the shared pyannote sample)
    .venv/bin/python bench/bench_analyze.py --hours 0.5 1 2 [--speakers 2] [--transcribe] [--window S]
                                            [--no-diarize]

Each measurement runs in its own process so that peak RSS is that run's alone. The plain baseline is
faster-whisper transcribing the whole file with the same model, compute type, threads and word
timestamps; the ratio column is Attune's stage time over the baseline's.

``--hours``: peak memory against the recording's length, on real speech. A recording of each length is
built from the 8 real two-person dev calls (``shared/audio/dev``, 18.6 min, 16 voices) repeated in
turn, as 16-kHz WAV in a private temporary folder (removed afterwards); ``analyze_file`` runs on each in
its own process, and the peak RSS (VmHWM) and its growth per extra hour are printed, beside the peak of
a process that only loads the models. A recording longer than 15 min is diarized one window at a time,
in a child process each (analysis/diarize_process.py): its peak is then this process's own plus the
largest child's (columns "own", "child"; their sum, an upper bound, is the figure). Transcription is
left out unless ``--transcribe`` is given (it reads one chunk of speech of at most 28 s at a time, and 2
hours of it take hours here); decoding, VAD, diarization and cues (tone included) run. ``--speakers`` tells diarization the count (as the app's
re-analysis does with the people in the room); ``--window inf`` diarizes the whole recording at once,
as before windows; ``--no-diarize`` leaves diarization out too (what grows outside it, in minutes rather
than hours). Target: at most 100 MB more peak RSS per extra hour.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "audio"
DEFAULT = SHARED / "pyannote_sample" / "sample.wav"
GROWTH_TARGET_MB_PER_H = 100.0  # MB of peak RSS per extra hour of recording (issue 12, point 7)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (VmHWM, as each diarization child reports its own), MB."""
    from analysis.diarize_process import peak_rss_mb as vm_hwm

    peak = vm_hwm()
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def worker_long(path: str, transcribe: str, speakers: str, window: str, diarize: str = "1") -> dict:
    from analysis.diarization import DiarizationOptions
    from analysis.pipeline import AnalysisOptions, analyze_file

    options = AnalysisOptions(transcribe=transcribe == "1", diarize=diarize == "1", diarize_window_s=float(window),
                              diarization=DiarizationOptions(num_speakers=int(speakers) or None))
    # each diarization window of a long recording runs in a child process (analysis/diarize_process.py),
    # one at a time, while this one waits; each reports its peak (logged). The memory the analysis needs
    # is at most this process's peak plus the largest child's (an upper bound: the peaks need not
    # coincide). RUSAGE_CHILDREN would also count helpers that libraries fork and exec (a fork's
    # maxrss starts at its parent's size: 558 MB seen for one)
    peaks: list[float] = []

    class ChildPeaks(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found = re.search(r"in a child process: peak RSS (\d+) MB", record.getMessage())
            if found:
                peaks.append(float(found.group(1)))

    logger = logging.getLogger("analysis.diarize_process")
    logger.setLevel(logging.INFO)
    logger.addHandler(ChildPeaks())
    t = time.perf_counter()
    result = analyze_file(path, options)
    own = peak_rss_mb()
    child = max(peaks, default=0.0)
    return {"duration": result.timeline.duration, "stages": result.stage_seconds,
            "total": time.perf_counter() - t, "speakers": len(result.timeline.speakers),
            "turns": len(result.timeline.turns), "own_peak_mb": own, "child_peak_mb": child,
            "children": len(peaks),
            "peak_rss_mb": own + child}


def worker_models(transcribe: str) -> dict:
    """Peak RSS of loading the models and nothing else."""
    from analysis.diarization import _models

    _models()
    if transcribe == "1":
        from analysis.transcribe import TranscriberOptions, load_model

        load_model(TranscriberOptions())
    return {"peak_rss_mb": peak_rss_mb()}


def build_recording(path: Path, seconds: float) -> float:
    """A 16-kHz mono WAV of ``seconds`` of real speech: the dev calls one after another, repeated (one
    call in memory at a time). Returns its length in seconds."""
    import soundfile as sf

    from analysis.evaluation import dev_set, load_file
    from audio import SAMPLE_RATE

    calls = [item for item in dev_set(SHARED) if item.name.startswith("dev/")]
    if not calls:
        raise SystemExit(f"no dev calls in {SHARED / 'dev'}")
    need, done = int(seconds * SAMPLE_RATE), 0
    with sf.SoundFile(str(path), "w", SAMPLE_RATE, 1, "PCM_16") as out:
        while done < need:
            for item in calls:
                x = load_file(item)[: need - done]
                out.write(x)
                done += len(x)
                if done >= need:
                    break
    return done / SAMPLE_RATE


def run_long(hours: list[float], transcribe: bool, speakers: int | None, window: float,
             diarize: bool = True) -> None:
    import shutil
    import tempfile

    sys.path.insert(0, str(ROOT))
    from bench.common import loadavg

    flags = ("1" if transcribe else "0", str(speakers or 0), str(window), "1" if diarize else "0")
    stages = "decode, VAD, " + ("diarization, " if diarize else "") + "cues (tone)" + (
        ", transcription" if transcribe else "")
    print(f"peak memory of analyze_file on real speech (the dev calls repeated): {stages}; "
          + (f"speakers {speakers or 'automatic'}; diarization windows of {window:g} s; " if diarize else "")
          + f"load {loadavg()}")
    base = run_worker("models", flags[0])["peak_rss_mb"]
    print(f"models loaded, nothing analysed: peak RSS {base:.0f} MB")
    print(f"{'hours':>6}{'audio s':>9}{'wall s':>8}{'diarize s':>10}{'RTF':>7}{'speakers':>9}{'own MB':>8}"
          f"{'child MB':>9}{'peak RSS MB':>12}{'MB per extra h':>15}")
    folder = Path(tempfile.mkdtemp(prefix="attune-bench-"))  # 0700: the recordings hold real voices
    rows: list[tuple[float, float]] = []
    try:
        for h in sorted(hours):
            wav = folder / f"dev-calls-{h:g}h.wav"
            build_recording(wav, h * 3600)
            r = run_worker("long", str(wav), *flags)
            wav.unlink()
            growth = "" if not rows else f"{(r['peak_rss_mb'] - rows[-1][1]) / (h - rows[-1][0]):+.0f}"
            rows.append((h, r["peak_rss_mb"]))
            d = r["duration"]
            print(f"{h:>6g}{d:>9.0f}{r['total']:>8.0f}{r['stages'].get('diarize', 0.0):>10.0f}"
                  f"{r['total'] / d:>7.2f}{r['speakers']:>9}{r['own_peak_mb']:>8.0f}{r['child_peak_mb']:>9.0f}"
                  f"{r['peak_rss_mb']:>12.0f}{growth:>15}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if len(rows) >= 2:
        (h0, p0), (h1, p1) = rows[0], rows[-1]
        per_h = (p1 - p0) / (h1 - h0)
        verdict = "within" if per_h <= GROWTH_TARGET_MB_PER_H else "OVER"
        print(f"growth {h0:g} h -> {h1:g} h: {per_h:+.0f} MB per extra hour ({verdict} the target of "
              f"{GROWTH_TARGET_MB_PER_H:.0f} MB/h); load {loadavg()}")


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
    ap.add_argument("--hours", type=float, nargs="+", help="peak memory on real speech of these lengths")
    ap.add_argument("--transcribe", action="store_true", help="with --hours: include transcription")
    ap.add_argument("--speakers", type=int, help="with --hours: the number of speakers told to diarization")
    ap.add_argument("--window", type=float, default=None,
                    help="with --hours: diarization window, s (default the pipeline's; inf: whole recording)")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "long":
            res = worker_long(*rest)
        elif kind == "models":
            res = worker_models(*rest)
        elif kind == "attune":
            res = worker_attune(rest[0], rest[1:] != ["nodiar"])
        else:
            res = worker_plain(rest[0])
        print(json.dumps(res))
        return
    if args.hours:
        from analysis.pipeline import AnalysisOptions

        window = AnalysisOptions().diarize_window_s if args.window is None else args.window
        run_long(args.hours, args.transcribe, args.speakers, window, diarize=not args.no_diarize)
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
