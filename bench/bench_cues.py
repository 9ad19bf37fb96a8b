"""Benchmark of the cue engine: cost per hour of session audio, and accuracy against synthetic truth.

    .venv/bin/python bench/bench_cues.py [--dialogues 4] [--pipeline] [--diarize]

Cost: the demo dialogue's turns and words are repeated to one hour and run through ``compute_cues``
without tone, with tone (Praat pitch on the audio), and as a live engine fed turn by turn (the cost of
one snapshot at the end of the hour).

Accuracy: generated dialogues (``app/synth.py``) scored against their exact truth, with the turns
and words from the truth; with ``--pipeline`` also with the words of the real transcription
(``analyze_file``) on the truth turns, and with the pipeline's own turns when it finds >= 2 speakers;
with ``--diarize`` the turns of ``analysis.diarization.diarize`` and the transcription's words.
The truth is what was rendered: each voice's speech intervals measured on its own track, their cues
computed by the reference computation of docs/cues.md (``analysis/cue_reference.py``), which shares no
code or thresholds with the engine. On the truth turns the scores therefore say whether the engine
computes the documented definitions; on the pipeline's turns, how accurate the cues are. Real calls:
``bench/bench_cues_real.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.cues import CueEngine, CueOptions, compute_cues  # noqa: E402
from analysis.evaluation import EVENT_MATCH_S, match_events, precision_recall, speaker_map  # noqa: E402
from analysis.timeline import Turn, Utterance, Word  # noqa: E402
from app.synth import Truth, demo_script, random_script, render  # noqa: E402

HOUR_S = 3600.0


def shifted(truth: Truth, k: int) -> tuple[list[Turn], list[Utterance]]:
    off = k * truth.duration
    turns = [Turn(t.speaker, t.start + off, t.end + off) for t in truth.turns]
    utts = [Utterance(u.speaker, u.start + off, u.end + off, u.text,
                      tuple(Word(w.start + off, w.end + off, w.text, w.p) for w in u.words))
            for u in truth.utterances]
    return turns, utts


def bench_cost(wav: Path, truth: Truth) -> None:
    x, sr = sf.read(str(wav), dtype="float32")
    reps = int(np.ceil(HOUR_S / truth.duration))
    turns, utts = [], []
    for k in range(reps):
        t, u = shifted(truth, k)
        turns += t
        utts += u
    dur = reps * truth.duration

    def read(a: float, b: float) -> np.ndarray:  # the dialogue's audio, repeated
        k = int(a // truth.duration)
        off = k * truth.duration
        return x[int((a - off) * sr): int((b - off) * sr)]

    print(f"cost: {len(turns)} turns, {sum(len(u.words) for u in utts)} words, {dur / 60:.0f} min of session")
    scale = HOUR_S / dur
    clock = time.process_time  # CPU seconds: the machine may be shared

    def timed(fn) -> tuple[float, float]:
        w, c = time.perf_counter(), clock()
        fn()
        return scale * (time.perf_counter() - w), scale * (clock() - c)

    engine = CueEngine(CueOptions(tone=False))
    feed = sorted([(t.end, 0, t) for t in turns] + [(u.end, 1, u) for u in utts], key=lambda r: r[:2])

    def live() -> None:  # fed turn by turn, a snapshot every 30 s of session (the UI's refresh)
        last = 0.0
        for end, kind, item in feed:
            engine.add_utterance(item) if kind else engine.add_turn(item)
            engine.advance(end)
            if end - last >= 30.0:
                engine.snapshot()
                last = end

    rows = [("batch, no tone", timed(lambda: compute_cues(turns, utts, dur, CueOptions(tone=False)))),
            ("batch, with tone", timed(lambda: compute_cues(turns, utts, dur, audio=read))),
            ("live, snapshot every 30 s", timed(live))]
    w, c = time.perf_counter(), clock()
    engine.snapshot()
    one = (time.perf_counter() - w, clock() - c)
    for name, (wall, cpu) in rows:
        print(f"  {name:28s} {wall:7.2f} s wall, {cpu:7.2f} s CPU per hour of session")
    print(f"  one live snapshot at 1 h     {one[0] * 1000:7.0f} ms wall, {one[1] * 1000:5.0f} ms CPU "
          "(turns/words cached)")


def score(truth: Truth, turns, utts, duration) -> dict[str, object]:
    m, ev = compute_cues(turns, utts, duration)
    inter = [e for e in ev if e.kind == "interruption"]
    bcs = truth.events_of("backchannel")
    bc_as_int = sum(any(abs(e.start - b.start) <= EVENT_MATCH_S and e.by == b.by for e in inter) for b in bcs)
    sil = truth.events_of("silence")
    sil_found = sum(any(e.kind == "silence" and abs(e.start - s.start) <= EVENT_MATCH_S
                        and abs(e.end - s.end) <= EVENT_MATCH_S for e in ev) for s in sil)
    share_err = max(abs((m.speakers.get(sp, {}).get("talk_share") or 0.0) - v) for sp, v in truth.talk_share.items())
    wpm_err = max((abs((m.speakers.get(sp, {}).get("wpm") or 0.0) / truth.wpm[sp] - 1)
                   for sp in truth.wpm if truth.words[sp] >= 30), default=0.0)
    return {"int": match_events(inter, truth.events_of("interruption")),
            "bc": match_events([e for e in ev if e.kind == "backchannel"], bcs), "bc_as_int": bc_as_int,
            "qr": match_events([e for e in ev if e.kind == "quick_response"], truth.events_of("quick_response")),
            "share_pp": 100 * share_err, "wpm_pct": 100 * wpm_err, "sil": (sil_found, len(sil))}


def pr(c: tuple[int, int, int]) -> str:
    p, r, n = precision_recall(c)
    return f"{p:4.2f}/{r:4.2f} ({n:2d})"


def row(name: str, source: str, s: dict) -> str:
    return (f"{name:8s} {source:22s} {pr(s['int']):>16s} {pr(s['bc']):>16s} {pr(s['qr']):>16s} {s['bc_as_int']:>5d} "
            f"{s['share_pp']:8.2f} {s['wpm_pct']:8.1f} {s['sil'][0]:>4d}/{s['sil'][1]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dialogues", type=int, default=4, help="random dialogues besides the demo")
    ap.add_argument("--pipeline", action="store_true", help="also score the real transcription (slow)")
    ap.add_argument("--diarize", action="store_true", help="also score diarized turns (slow)")
    ap.add_argument("--out", default=None, help="folder for the rendered dialogues (default: temp)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="attune-bench-cues-"))
    scripts = {"demo": demo_script(0)}
    for k in range(args.dialogues):
        scripts[f"rand{k}"] = random_script(100 + k, n_speakers=3 if k % 2 else 2, p_interruption=0.25)
    t = time.perf_counter()
    rendered = {n: (out / f"{n}.wav", render(s, out / f"{n}.wav")) for n, s in scripts.items()}
    total = sum(tr.duration for _, tr in rendered.values())
    print(f"rendered {len(rendered)} dialogues ({total:.0f} s of audio) in {time.perf_counter() - t:.1f} s")
    bench_cost(*rendered["demo"])

    print(f"\naccuracy vs truth (events match within {EVENT_MATCH_S} s; P/R (n truth))")
    print(f"{'dialogue':8s} {'turns / words':22s} {'interruptions':>16s} {'backchannels':>16s} {'quick resp.':>16s} "
          f"{'bc→int':>5s} {'share pp':>8s} {'wpm %':>8s} {'silences':>9s}")
    for name, (wav, truth) in rendered.items():
        print(row(name, "truth / truth", score(truth, truth.turns, truth.utterances, truth.duration)))
        if not (args.pipeline or args.diarize):
            continue
        from analysis.pipeline import analyze_file

        res = analyze_file(wav)
        tl = res.timeline
        words = [replace(u, speaker="") for u in tl.utterances]
        print(row(name, "truth / transcription", score(truth, truth.turns, words, truth.duration)))
        if len({t.speaker for t in tl.turns}) >= 2:
            mp = speaker_map(tl.turns, truth.turns)
            turns = [Turn(mp[t.speaker], t.start, t.end) for t in tl.turns]
            utts = [replace(u, speaker=mp.get(u.speaker, "")) for u in tl.utterances]
            print(row(name, "pipeline / pipeline", score(truth, turns, utts, tl.duration)))
        if args.diarize:
            from analysis.diarization import diarize

            x, _ = sf.read(str(wav), dtype="float32")
            d = diarize(x).turns
            mp = speaker_map(d, truth.turns)
            turns = [Turn(mp[t.speaker], t.start, t.end) for t in d]
            print(row(name, "diarized / transcr.", score(truth, turns, words, tl.duration)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
