"""Benchmark of the encoder window: accuracy and time per utterance, standard 30 s vs shortened.

    .venv/bin/python bench/bench_asr_window.py [--windows 30 20 15] [--dialogues 8] [--beam 1]

Whisper encodes a 30-s window whatever the audio's length; the live pipeline transcribes one
utterance at a time (mostly 1-5 s), so most of each call is spent on padding. This prints, for each
window, the word error rate and the mean recogniser time per utterance over:

- the shared pyannote sample, cut at its reference STM segments (each with 0.2 s either side);
- ``--dialogues`` generated espeak-ng dialogues (``app.synth.random_script``), cut at their true
  utterances (espeak voices are hard for tiny.en: their WER is high for every window);
- how many of the dialogues' true questions ("?") come out ending with "?" (the question cue).

30 is faster-whisper's standard decoding (``beam_size`` as given, temperature fallback); below 30 is
:meth:`analysis.transcribe.Transcriber` with ``encoder_window_s``. Machine load is printed beside the
figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from audio import SAMPLE_RATE as SR  # noqa: E402
from bench.common import loadavg  # noqa: E402

SHARED = ROOT.parent / "shared" / "audio"
EDGE_S = 0.2  # seconds of audio kept either side of a reference segment



def items(n_dialogues: int) -> list[tuple[str, object, str]]:
    """(group, audio, reference text) per utterance."""
    from app.synth import random_script, render
    from audio.decode import load

    out = []
    sample = SHARED / "pyannote_sample"
    if (sample / "sample.wav").exists():
        a = load(sample / "sample.wav")
        for line in (sample / "sample.stm").read_text().splitlines():
            f = line.split(None, 5)
            if len(f) == 6:
                s, e = float(f[3]), float(f[4])
                out.append(("sample", a[max(0, int((s - EDGE_S) * SR)):int((e + EDGE_S) * SR)], f[5]))
    tmp = Path(tempfile.mkdtemp(prefix="attune-bench-asr-"))
    for k in range(n_dialogues):
        truth = render(random_script(3 + k), tmp / f"d{k}.wav")
        a = load(tmp / f"d{k}.wav")
        for u in truth.utterances:
            out.append(("dialogues", a[max(0, int((u.start - EDGE_S) * SR)):int((u.end + EDGE_S) * SR)], u.text))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=float, nargs="+", default=[30.0, 20.0, 15.0])
    ap.add_argument("--dialogues", type=int, default=8)
    ap.add_argument("--beam", type=int, default=1)
    args = ap.parse_args()

    from analysis.evaluation import wer
    from analysis.transcribe import Transcriber, TranscriberOptions

    data = items(args.dialogues)
    n_sample = sum(g == "sample" for g, _, _ in data)
    print(f"{len(data)} utterances ({n_sample} sample, {len(data) - n_sample} generated); load {loadavg()}")
    print(f"{'window s':>9} {'s/utt':>6} {'WER sample':>10} {'WER dialogues':>13} {'questions kept':>15}")
    for window in args.windows:
        tr = Transcriber(TranscriberOptions(beam_size=args.beam, encoder_window_s=window))
        tr.transcribe(data[0][1])  # load and warm up
        refs: dict[str, list[str]] = {}
        hyps: dict[str, list[str]] = {}
        t = time.perf_counter()
        for group, audio, ref in data:
            hyp = " ".join(u.text for u in tr.transcribe(audio))
            refs.setdefault(group, []).append(ref)
            hyps.setdefault(group, []).append(hyp)
        per_utt = (time.perf_counter() - t) / len(data)
        w = {g: wer(" ".join(refs[g]), " ".join(hyps[g])) for g in refs}
        pairs = list(zip(refs.get("dialogues", []), hyps.get("dialogues", []), strict=True))
        asked = [h for r, h in pairs if r.strip().endswith("?")]
        kept = sum(h.strip().endswith("?") for h in asked)
        print(f"{window:9.0f} {per_utt:6.3f} {w.get('sample', float('nan')):10.3f} "
              f"{w.get('dialogues', float('nan')):13.3f} {kept:>7d} of {len(asked):<4d}", flush=True)
    print(f"load after: {loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
