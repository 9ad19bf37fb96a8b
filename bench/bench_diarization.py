"""Benchmark of the offline and the live diarizer: DER, real-time factor and live label latency.

DER is pyannote.metrics' diarization error rate with no collar and overlapped speech scored. RTF is
wall time / audio duration (models loaded beforehand). The live diarizer is fed 0.5-s blocks as fast
as it can take them; its latency is, for every speaker change in the reference, the audio time from
the change until ``speaker_now`` names the new speaker (mapped to the reference by the optimal DER
mapping of the live output); changes it never names within 10 s count as 10 s.

Recordings: every ``*.wav`` with a ``.rttm`` beside it under ``../shared/audio`` (skipped when
missing), plus generated espeak-ng dialogues (``audio.synth``).

Usage: ``.venv/bin/python bench/bench_diarization.py [--dialogues N] [--no-live] [--out DIR]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_AUDIO = ROOT.parent / "shared" / "audio"
BLOCK_S = 0.5  # s of audio per live block
MAX_LATENCY_S = 10.0  # s: a change never labelled counts as this


def annotation(turns):
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for i, t in enumerate(turns):
        if t.end > t.start:
            ann[Segment(t.start, t.end), i] = t.speaker
    return ann


def der(ref, hyp) -> float:
    from pyannote.metrics.diarization import DiarizationErrorRate

    return float(DiarizationErrorRate(collar=0.0, skip_overlap=False)(annotation(ref), annotation(hyp)))


def speaker_changes(ref) -> list[tuple[float, str]]:
    """(time, new speaker) at every start of a turn by a speaker other than the previous one."""
    out, prev = [], None
    for t in sorted(ref, key=lambda t: t.start):
        if t.speaker != prev:
            out.append((t.start, t.speaker))
        prev = t.speaker
    return out


def run_live(wave: np.ndarray, ref) -> tuple[list, float, list[float]]:
    from pyannote.metrics.diarization import DiarizationErrorRate

    from analysis.streaming_diarization import SAMPLE_RATE, StreamingDiarizer

    d = StreamingDiarizer()
    n = int(BLOCK_S * SAMPLE_RATE)
    turns, now = [], []  # now: (audio time, speaker_now)
    t0 = time.perf_counter()
    for i in range(0, len(wave), n):
        turns.extend(d.process(wave[i: i + n]))
        now.append((min(i + n, len(wave)) / SAMPLE_RATE, d.speaker_now))
    turns.extend(d.flush())
    wall = time.perf_counter() - t0
    mapping = DiarizationErrorRate(collar=0.0, skip_overlap=False).optimal_mapping(
        annotation(ref), annotation(turns))  # hyp label -> ref label
    lat = []
    for t_change, spk in speaker_changes(ref):
        hit = next((t for t, s in now if t >= t_change and s is not None and mapping.get(s) == spk), None)
        lat.append(MAX_LATENCY_S if hit is None else min(MAX_LATENCY_S, hit - t_change))
    return turns, wall, lat


def recordings(n_dialogues: int, out: Path, long_lines: int = 0) -> list[tuple[str, Path]]:
    items = []
    if SHARED_AUDIO.is_dir():
        for wav in sorted(SHARED_AUDIO.rglob("*.wav")):
            if wav.with_suffix(".rttm").is_file():
                items.append((f"{wav.parent.name}/{wav.stem}", wav))
    else:
        print(f"(shared recordings not found at {SHARED_AUDIO}; skipped)")
    try:
        from audio.synth import demo_script, random_script, render
    except ImportError:
        return items
    scripts = [("synth/demo0", demo_script(0))]
    scripts += [(f"synth/rand{s}", random_script(s)) for s in range(1, n_dialogues)]
    scripts = scripts[: max(0, n_dialogues)]
    if n_dialogues > 2:
        scripts.append(("synth/rand7-3spk", random_script(7, n_speakers=3)))
    if long_lines:
        scripts.append((f"synth/long{long_lines}", random_script(21, n_lines=long_lines)))
    for name, script in scripts:
        wav = out / f"{name.replace('/', '_')}.wav"
        render(script, wav)
        items.append((name, wav))
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dialogues", type=int, default=3, help="generated two-person dialogues (default 3; with 3 or more, one 3-person dialogue too)")
    ap.add_argument("--long-lines", type=int, default=0,
                    help="also a long generated dialogue of this many lines (e.g. 150 for about 12 min)")
    ap.add_argument("--no-live", action="store_true", help="offline diarizer only")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: faster than 2 on a shared 2-core machine)")
    ap.add_argument("--out", type=Path, help="folder for generated dialogues (default: a temp folder)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    import torch

    import analysis  # noqa: F401  (offline mode before pyannote)

    torch.set_num_threads(max(1, args.threads))
    from analysis.diarization import _models, diarize
    from analysis.timeline import read_rttm
    from audio.decode import load

    out = args.out or Path(tempfile.mkdtemp(prefix="attune-bench-diar-"))
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    _models()
    print(f"models loaded in {time.perf_counter() - t:.1f} s")
    diarize(np.zeros(16000 * 2, np.float32) + 1e-4)  # warm-up (pyannote probes the embedding model)
    header = f"{'recording':<20} {'dur s':>6} {'ref':>3} | {'DER off':>7} {'RTF off':>7} {'spk':>3} |" \
             f" {'DER live':>8} {'RTF live':>8} {'spk':>3} {'lat med':>7} {'lat p90':>7}"
    print(header)
    print("-" * len(header))
    all_lat: list[float] = []
    for name, wav in recordings(args.dialogues, out, args.long_lines):
        wave = load(wav)
        ref = read_rttm(wav.with_suffix(".rttm"))
        dur = len(wave) / 16000
        t = time.perf_counter()
        res = diarize(wave)
        rtf = (time.perf_counter() - t) / dur
        row = f"{name:<20} {dur:6.1f} {len({r.speaker for r in ref}):3d} | {der(ref, res.turns):7.3f}" \
              f" {rtf:7.3f} {len(res.embeddings):3d} |"
        if not args.no_live:
            turns, wall, lat = run_live(wave, ref)
            all_lat += lat
            row += f" {der(ref, turns):8.3f} {wall / dur:8.3f} {len({x.speaker for x in turns}):3d}" \
                   f" {np.median(lat):7.2f} {np.percentile(lat, 90):7.2f}"
        print(row, flush=True)
    if all_lat:
        print(f"live label latency over all changes (n={len(all_lat)}): median {np.median(all_lat):.2f} s,"
              f" p90 {np.percentile(all_lat, 90):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
