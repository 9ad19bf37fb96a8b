"""Benchmark of the offline and the live diarizer on real and held-out recordings.

For every recording it prints DER with its parts (missed speech, false alarm, confusion, as fractions of
the reference speech), the speakers found against the true number, offline and live, with the automatic
count and with the count given (as the start dialog gives it), and which files the automatic count's
constants were tuned on (``tuned``) or only checked on (``checked``). Sets:

* ``dev``: the real two-person phone calls of ``../shared/audio/dev`` (tuned on; leave-one-out below),
  plus the pyannote sample and the AMI clips (checked). Derived RTTMs are scored with a +-0.25-s collar
  (their README), hand-labelled ones with none.
* ``single``: the first 90 s of each side of each call, one real speaker alone (tuned on): the count
  must say 1.
* ``heldout``: generated counselling dialogues in voices never used for tuning, close pairs and a neural
  voice among them (``audio.synth.heldout_dialogues``; checked only).
* ``imbalanced``: two-person conversations of real voices in which one talks and the other only puts in
  short words now and then (a client and a listening counsellor; :func:`analysis.assembled.imbalanced`;
  checked only).
* ``assembled``: three- and four-person conversations laid together from the real one-speaker sides
  of the calls (:mod:`analysis.assembled`; checked only): real voices, artificial turn-taking.
* ``synth``: the older generated dialogues (easy voices; for continuity with earlier figures).

After the table: the leave-one-recording-out check of the one-vs-many decision (for each tuning file,
the two-voice-window threshold re-derived without it, and whether that file's count changes) and the
live label latency.

DER is pyannote.metrics' diarization error rate, overlapped speech scored. RTF is wall time / audio
duration (models loaded beforehand, 1 torch thread). Live latency: for every speaker change in the
reference, the audio time until ``speaker_now`` names the new speaker (mapped by the optimal DER
mapping); never named within 10 s counts as 10 s.

``--long``: instead of the sets, the windowed diarization of long recordings
(:mod:`analysis.windowed_diarization`) on 40-minute two- and three-person conversations laid together
from the real one-speaker sides of the dev calls, voices of different calls (``analysis.assembled.
long_set``; checked only; each side's 1-2 min of speech comes round again and again). Each is decoded and
its speech found as ``analyze_file`` does, then diarized whole at once (window inf), in the pipeline's
default windows, and in short windows (default 300 s, so the speakers are linked across many windows),
with the count automatic and given. Printed: DER (±0.25-s collar) with its parts, speakers found, how
many of them are a second label for a person another label already covers (``split``), the speakers
found in each window, and RTF.

Usage: ``.venv/bin/python bench/bench_diarization.py [--sets dev,single,heldout] [--no-live] [--out DIR]``
       ``.venv/bin/python bench/bench_diarization.py --long [--long-minutes 40] [--long-windows inf,1800,300]``
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


def speaker_changes(ref) -> list[tuple[float, str]]:
    """(time, new speaker) at every start of a turn by a speaker other than the previous one."""
    out, prev = [], None
    for t in sorted(ref, key=lambda t: t.start):
        if t.speaker != prev:
            out.append((t.start, t.speaker))
        prev = t.speaker
    return out


def run_live(wave: np.ndarray, ref, num_speakers: int | None) -> tuple[list, float, list[float]]:
    from pyannote.metrics.diarization import DiarizationErrorRate

    from analysis.evaluation import turns_annotation
    from analysis.streaming_diarization import StreamingDiarizer, StreamingOptions
    from audio import SAMPLE_RATE

    d = StreamingDiarizer(options=StreamingOptions(num_speakers=num_speakers))
    n = int(BLOCK_S * SAMPLE_RATE)
    turns, now = [], []  # now: (audio time, speaker_now)
    t0 = time.perf_counter()
    for i in range(0, len(wave), n):
        turns.extend(d.process(wave[i: i + n]))
        now.append((min(i + n, len(wave)) / SAMPLE_RATE, d.speaker_now))
    turns.extend(d.flush())
    wall = time.perf_counter() - t0
    mapping = DiarizationErrorRate(collar=0.0, skip_overlap=False).optimal_mapping(
        turns_annotation(ref), turns_annotation(turns))  # hyp label -> ref label
    lat = []
    for t_change, spk in speaker_changes(ref):
        hit = next((t for t, s in now if t >= t_change and s is not None and mapping.get(s) == spk), None)
        lat.append(MAX_LATENCY_S if hit is None else min(MAX_LATENCY_S, hit - t_change))
    return turns, wall, lat


def recordings(sets: list[str], out: Path, n_synth: int = 3):
    """(DiarizationFile, number of reference speakers) for the chosen sets."""
    from analysis.evaluation import DiarizationFile, dev_set, single_speaker_set
    from analysis.timeline import read_rttm

    items: list[tuple[DiarizationFile, int]] = []
    have_shared = SHARED_AUDIO.is_dir()
    if not have_shared and ({"dev", "single"} & set(sets)):
        print(f"(shared recordings not found at {SHARED_AUDIO}; dev and single sets skipped)")
    if "dev" in sets and have_shared:
        items += [(f, len({t.speaker for t in read_rttm(f.rttm)})) for f in dev_set(SHARED_AUDIO)]
    if "single" in sets and have_shared:
        items += [(f, 1) for f in single_speaker_set(SHARED_AUDIO)]
    if "assembled" in sets and have_shared:
        from analysis.assembled import assembled_set

        items += assembled_set(SHARED_AUDIO, out / "assembled")
    if "imbalanced" in sets and have_shared:
        from analysis.assembled import imbalanced_set

        items += imbalanced_set(SHARED_AUDIO, out / "imbalanced")
    if "heldout" in sets:
        from audio.synth import heldout_dialogues

        for h in heldout_dialogues(out / "heldout"):
            items.append((DiarizationFile(f"heldout/{h.name}", h.wav, h.rttm, 0.0, "checked"), h.n_speakers))
    if "synth" in sets:
        from audio.synth import demo_script, random_script, render

        scripts = [("synth/demo0", demo_script(0))] + [(f"synth/rand{s}", random_script(s))
                                                       for s in range(1, n_synth)]
        scripts.append(("synth/rand7-3spk", random_script(7, n_speakers=3)))
        for name, script in scripts:
            wav = out / f"{name.replace('/', '_')}.wav"
            truth = render(script, wav)
            items.append((DiarizationFile(name, wav, wav.with_suffix(".rttm"), 0.0, "checked"),
                          len({t.speaker for t in truth.turns})))
    return items


def run_long(out: Path, minutes: float, sizes: tuple[int, ...], windows: list[float],
             counts: tuple[bool, ...] = (False, True), cache: Path | None = None) -> None:
    """The windowed-diarization check of ``--long`` (see the module docstring). ``counts``: False for the
    automatic count, True for the count given; every window size with the first, then with the next.
    ``cache``: each window's diarization is kept there (keyed by its samples and the count) and reused,
    so that a change of the linking is measured in seconds; delete it when diarization changes."""
    import hashlib
    import pickle

    from analysis.assembled import long_set
    from analysis.diarization import DiarizationOptions, diarize
    from analysis.evaluation import der_breakdown, speaker_map
    from analysis.pipeline import AnalysisOptions, decode_and_detect
    from analysis.timeline import read_rttm
    from analysis.windowed_diarization import diarize_windows
    from bench.common import loadavg

    print(f"windowed diarization on long conversations of real voices ({minutes:g} min; load {loadavg()})")
    head = (f"{'recording':<32} {'ref':>3} {'window s':>8} {'n win':>5} {'count':<5} |  DER   miss    fa  conf"
            f" spk split | speakers per window {'RTF':>5}")
    print(head)
    print("-" * len(head))
    for f, n_ref in long_set(SHARED_AUDIO, out / "long", sizes, minutes * 60):
        ref = read_rttm(f.rttm)
        _info, store, regions = decode_and_detect(f.wav, AnalysisOptions().vad)
        try:
            spans = [(r.start, r.end) for r in regions]
            for given, w in [(g, w) for g in counts for w in windows]:
                num = n_ref if given else None
                per_window: list[int] = []

                def counted(audio, options, progress=None, per_window=per_window):
                    key = hashlib.sha1(audio.tobytes()).hexdigest()[:20]
                    path = None if cache is None else cache / f"{key}-{options.num_speakers or 0}.pkl"
                    if path is not None and path.is_file():
                        res = pickle.loads(path.read_bytes())
                    else:
                        res = diarize(audio, options, progress=progress)
                        if path is not None:
                            cache.mkdir(parents=True, exist_ok=True)
                            path.write_bytes(pickle.dumps(res))
                    per_window.append(len(res.speakers))
                    return res

                t = time.perf_counter()
                res = diarize_windows(store.read, store.duration, spans,
                                      DiarizationOptions(num_speakers=num), window_s=w, diarize=counted)
                rtf = (time.perf_counter() - t) / store.duration
                b = der_breakdown(ref, res.turns, f.collar)
                found = res.speakers
                split = len(found) - len(set(speaker_map(res.turns, ref, found).values()))
                wins = ",".join(map(str, per_window))
                print(f"{f.name.split('/')[-1]:<32} {n_ref:3d} {w:>8g} {len(per_window):5d} "
                      f"{'given' if given else 'auto':<5} | {b['der']:5.3f} {b['missed']:5.3f} "
                      f"{b['false_alarm']:5.3f} {b['confusion']:5.3f} {len(found):3d} {split:5d} | "
                      f"{wins:<19} {rtf:5.2f}", flush=True)
        finally:
            store.close()
    print(f"(load {loadavg()})")


def leave_one_out(rows: list[dict]) -> None:
    """For each tuning file: the one-vs-many threshold re-derived from the other tuning files (midway
    between the largest two-voice fraction of a one-speaker file whose voices form groups, i.e. that the
    silhouette floor does not already settle, and the smallest of a conversation), and whether the
    file's decision would change."""
    from analysis.speaker_count import CONVERSATION_MIN_SILHOUETTE, TWO_VOICE_MIN_FRACTION

    tuned = [r for r in rows if r["use"] == "tuned" and r.get("fraction") is not None]
    if len(tuned) < 3:
        return
    print(f"\nleave-one-recording-out, one vs. many (shipped threshold {TWO_VOICE_MIN_FRACTION:.2f}):")
    changed = 0
    for r in tuned:
        others = [o for o in tuned if o is not r]
        one = [o["fraction"] for o in others if o["ref"] == 1 and o["grouped"] >= CONVERSATION_MIN_SILHOUETTE]
        many = [o["fraction"] for o in others if o["ref"] > 1]
        if not one or not many:
            continue
        thr = (max(one) + min(many)) / 2
        grouped = r["grouped"] >= CONVERSATION_MIN_SILHOUETTE
        now = grouped and r["fraction"] >= TWO_VOICE_MIN_FRACTION
        loo = grouped and r["fraction"] >= thr
        changed += now != loo
        print(f"  {r['name']:<40} fraction {r['fraction']:.2f}  threshold without it {thr:.2f}"
              f"  {'same decision' if now == loo else 'DECISION CHANGES'}")
    print(f"  decisions that change when the file is left out: {changed} of {len(tuned)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="dev,single,heldout", help="comma-separated: dev, single, heldout, assembled, imbalanced, synth")
    ap.add_argument("--synth", type=int, default=3, help="older generated two-person dialogues in 'synth'")
    ap.add_argument("--no-live", action="store_true", help="offline diarizer only")
    ap.add_argument("--no-offline", action="store_true", help="live diarizer only")
    ap.add_argument("--only", default="", help="only recordings whose name contains one of these (comma-separated)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--out", type=Path, help="folder for generated dialogues (default: a temp folder)")
    ap.add_argument("--long", action="store_true", help="windowed diarization on long conversations instead")
    ap.add_argument("--long-minutes", type=float, default=40.0, help="with --long: minutes per conversation")
    ap.add_argument("--long-sizes", default="2,3", help="with --long: people per conversation (comma-separated)")
    ap.add_argument("--long-counts", default="auto,given", help="with --long: auto, given or both, in order")
    ap.add_argument("--long-cache", type=Path, help="with --long: keep and reuse each window's diarization here")
    ap.add_argument("--long-windows", default="inf,default,300",
                    help="with --long: diarization windows, s (inf: whole at once; default: the pipeline's)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    import torch

    import analysis  # noqa: F401  (offline mode before pyannote)

    torch.set_num_threads(max(1, args.threads))
    from analysis.diarization import DiarizationOptions, _models, diarize
    from analysis.evaluation import der_breakdown, load_file
    from analysis.speaker_count import GROUPS_UP_TO
    from analysis.timeline import read_rttm
    from audio import SAMPLE_RATE

    out = args.out or Path(tempfile.mkdtemp(prefix="attune-bench-diar-"))
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    _models()
    print(f"models loaded in {time.perf_counter() - t:.1f} s")
    diarize(np.zeros(SAMPLE_RATE * 2, np.float32) + 1e-4)  # warm-up (pyannote probes the embedding model)
    if args.long:
        from analysis.pipeline import AnalysisOptions

        windows = [AnalysisOptions().diarize_window_s if w == "default" else float(w)
                   for w in args.long_windows.split(",")]
        counts = tuple(c == "given" for c in args.long_counts.split(","))
        run_long(out, args.long_minutes, tuple(int(n) for n in args.long_sizes.split(",")), windows, counts,
                 args.long_cache)
        return 0
    only = [x for x in args.only.split(",") if x]
    items = [(f, n) for f, n in recordings(args.sets.split(","), out, args.synth)
             if not only or any(x in f.name for x in only)]

    def fmt(b: dict, spk: int) -> str:
        return f"{b['der']:6.3f} {b['missed']:5.3f} {b['false_alarm']:5.3f} {b['confusion']:5.3f} {spk:3d}"

    head = (f"{'recording':<40} {'use':<7} {'dur':>5} {'ref':>3} | offline auto: DER   miss    fa  conf spk"
            f" {'2v frac':>7} {'RTF':>5} | given: DER spk")
    if not args.no_live:
        head += " | live auto: DER spk | live given: DER spk"
    print(head)
    print("-" * len(head))
    rows, lat_all = [], []
    for f, n_ref in items:
        wave = load_file(f)
        ref = read_rttm(f.rttm) if n_ref > 1 else []
        dur = len(wave) / SAMPLE_RATE
        t = time.perf_counter()
        res = diarize(wave) if not args.no_offline else None
        rtf = (time.perf_counter() - t) / dur
        if res is None:  # live only
            line = f"{f.name:<40} {f.use:<7} {dur:5.0f} {n_ref:3d} |"
            row = {"name": f.name, "use": f.use, "ref": n_ref, "spk": 0, "fraction": None}
            for num in (None, n_ref):
                turns, wall, lat = run_live(wave, ref, num)
                live_spk = len({x.speaker for x in turns})
                d = der_breakdown(ref, turns, f.collar) if n_ref > 1 else None
                if d is not None:
                    row["live_given" if num else "live_auto"] = d["der"]
                    lat_all += lat if num else []
                line += (f" live {'given' if num else 'auto '}: {fmt(d, live_spk) if d else f'{live_spk:3d}'}"
                         f" RTF {wall / dur:5.2f} |")
            rows.append(row)
            print(line, flush=True)
            continue
        spk = len({x.speaker for x in res.turns})
        frac = res.count.two_voice_fraction if res.count else None
        grouped = max((v for k, v in res.count.silhouettes.items() if k <= GROUPS_UP_TO), default=-1.0) \
            if res.count else -1.0
        row = {"name": f.name, "use": f.use, "ref": n_ref, "spk": spk, "fraction": frac, "grouped": grouped}
        line = f"{f.name:<40} {f.use:<7} {dur:5.0f} {n_ref:3d} |"
        if n_ref > 1:
            b = der_breakdown(ref, res.turns, f.collar)
            row["der"] = b["der"]
            line += f" {'':12}{fmt(b, spk)}"
        else:
            line += f" {'':12}{'-':>6} {'':5} {'':5} {'':5} {spk:3d}"
        line += f" {frac if frac is not None else float('nan'):7.2f} {rtf:5.2f} |"
        if n_ref > 1:
            given = res if spk == n_ref else diarize(wave, DiarizationOptions(num_speakers=n_ref))
            row["der_given"] = der_breakdown(ref, given.turns, f.collar)["der"]
            line += f" {row['der_given']:6.3f} {len({x.speaker for x in given.turns}):3d}"
        else:
            line += f" {'':10}"
        if not args.no_live:
            for num in (None, n_ref):
                turns, wall, lat = run_live(wave, ref, num)
                live_spk = len({x.speaker for x in turns})
                if n_ref > 1:
                    d = der_breakdown(ref, turns, f.collar)["der"]
                    row["live_given" if num else "live_auto"] = d
                    line += f" | {d:6.3f} {live_spk:3d}"
                    if num:
                        lat_all += lat
                else:
                    line += f" | {'-':>6} {live_spk:3d}"
        rows.append(row)
        print(line, flush=True)

    print("\nsummary (two-or-more-person recordings; DER means over files):")

    def mean(sel: list[dict], key: str) -> str:
        vals = [r[key] for r in sel if key in r]
        return f"{np.mean(vals):.3f}" if vals else "  -  "

    for use in ("tuned", "checked"):
        sel = [r for r in rows if r["use"] == use and r["ref"] > 1]
        if not sel:
            continue
        two = [r for r in sel if r["ref"] == 2]
        line = f"  {use:<7} n={len(sel):2d}"
        if not args.no_offline:
            merged = sum(r["spk"] < 2 for r in two)
            within = sum(abs(r["spk"] - r["ref"]) <= 1 for r in sel if r["ref"] > 2)
            many = sum(1 for r in sel if r["ref"] > 2)
            line += (f"  two-person merged into one: {merged} of {len(two)}  mean DER two-person auto"
                     f" {mean(two, 'der')} given {mean(two, 'der_given')}"
                     f"  3+ within one of the true count: {within} of {many}")
        if not args.no_live:
            line += f"  live two-person auto {mean(two, 'live_auto')} given {mean(two, 'live_given')}"
        print(line)
    singles = [r for r in rows if r["ref"] == 1]
    if singles:
        print(f"  one-speaker recordings given one speaker: {sum(r['spk'] == 1 for r in singles)} of {len(singles)}")
    leave_one_out(rows)
    if lat_all:
        print(f"\nlive label latency with the count given (n={len(lat_all)} changes): median "
              f"{np.median(lat_all):.2f} s, p90 {np.percentile(lat_all, 90):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
