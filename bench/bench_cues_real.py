"""Attune's timing cues on real two-person calls against truth from their separate channels.

    .venv/bin/python bench/bench_cues_real.py [--only NAME ...] [--counts given,auto] [--cache FILE]

The calls of ``../shared/audio/dev`` carry one speaker per channel (SpokenWOZ: the two channels of one
file; LCA: an agent and a caller file). The truth is computed from each channel alone: speech intervals by
webrtcvad on that channel (``analysis.cue_reference.channel_intervals``: 30-ms frames, aggressiveness 3,
runs under 90 ms dropped, pauses under 0.3 s bridged), then the cues by the reference computation written
from docs/cues.md (``analysis.cue_reference.reference_cues``), which shares nothing with the cue engine.
As a check on the truth itself, the same reference computation also runs on the dataset's own
energy-derived RTTM (``*.derived-vad.rttm``, a different VAD): the spread between the two truths is how
far the truth is uncertain.

Attune runs as the app does, ``analysis.pipeline.analyze_file`` on the mono mix (the stereo file, which
it downmixes, or the call's ``*.derived-mix.wav``), without transcription (the timing cues need none),
with the speaker count given (2, as the start dialog gives it) and automatic. Attune's speakers are
mapped to the channels by the largest overlap (two found speakers on one channel add up).

Per call: talk-share error (percentage points, the larger over the two speakers), overlap events,
median response latency of each speaker (channel order), quick responses, silences (>= 3 s),
interruptions and backchannels, truth vs Attune; then the means. Analyses are cached in ``--cache`` (JSON)
so that the table can be printed again without re-running the diarizer.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_AUDIO = ROOT.parent / "shared" / "audio"

from analysis.cue_reference import Reference, channel_intervals, intervals_of, reference_cues  # noqa: E402
from analysis.evaluation import call_channels, dev_set, speaker_map  # noqa: E402
from analysis.timeline import Turn, read_rttm  # noqa: E402
from bench.common import loadavg  # noqa: E402


def calls(only: list[str] | None = None):
    items = [it for it in dev_set(SHARED_AUDIO) if it.name.startswith("dev/")]
    if only:
        items = [it for it in items if any(o in it.name for o in only)]
    return items


def channel_truth(item) -> tuple[Reference, Reference]:
    """(reference cues from the channel VAD, reference cues from the dataset's derived RTTM)."""
    ch = call_channels(item)
    duration = min(len(x) / sr for x, sr in ch.values())
    ivs = {lab: channel_intervals(x, sr) for lab, (x, sr) in ch.items()}
    derived = {lab: [] for lab in ch}
    derived.update(intervals_of(read_rttm(item.rttm)))
    return reference_cues(ivs, duration), reference_cues(derived, duration)


def analyse(item, num_speakers: int | None) -> dict:
    """Attune's figures (analyze_file, no transcription) as plain data."""
    from analysis.diarization import DiarizationOptions
    from analysis.pipeline import AnalysisOptions, analyze_file

    opts = AnalysisOptions(transcribe=False, diarization=DiarizationOptions(num_speakers=num_speakers))
    t = time.perf_counter()
    res = analyze_file(item.wav, opts)
    tl = res.timeline
    return {"wall_s": time.perf_counter() - t, "duration": tl.duration,
            "turns": [[x.speaker, x.start, x.end] for x in tl.turns],
            "session": {k: tl.metrics.session[k] for k in ("overlaps", "silences", "interruptions", "backchannels")},
            "speakers": {sp: {k: m[k] for k in ("talk_share", "quick_responses", "response_latency_median",
                                               "responses")}
                         for sp, m in tl.metrics.speakers.items()}}


def compare(att: dict, ref: Reference) -> dict:
    # Attune speaker -> channel label, by the largest overlap with the channel's speech
    mp = speaker_map([Turn(*t) for t in att["turns"]], ref.segments, speakers=att["speakers"])
    share = {lab: 0.0 for lab in ref.speakers}
    for sp, m in att["speakers"].items():
        share[mp[sp]] += m["talk_share"] or 0.0
    lat = {}
    for lab in ref.speakers:  # the mapped speaker with most responses speaks for the channel
        mine = [m for sp, m in att["speakers"].items() if mp[sp] == lab and m["responses"]]
        best = max(mine, key=lambda m: m["responses"], default=None)
        lat[lab] = None if best is None else best["response_latency_median"]
    return {"share_pp": 100 * max(abs(share[lab] - ref.talk_share[lab]) for lab in ref.speakers),
            "overlaps": att["session"]["overlaps"], "latency": lat,
            "quick": sum(m["quick_responses"] for m in att["speakers"].values()),
            "silences": att["session"]["silences"], "interruptions": att["session"]["interruptions"],
            "backchannels": att["session"]["backchannels"], "found": len(att["speakers"])}


def ref_row(ref: Reference) -> dict:
    return {"overlaps": ref.overlaps, "latency": {lab: ref.response_latency_median(lab) for lab in ref.speakers},
            "quick": ref.quick_responses, "silences": ref.silences,
            "interruptions": ref.count("interruption"), "backchannels": ref.count("backchannel")}


def fmt_lat(lat: dict) -> str:
    return "/".join("  - " if v is None else f"{v:4.2f}" for v in lat.values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="calls whose name contains one of these")
    ap.add_argument("--counts", default="given,auto", help="given (2), auto, or both")
    ap.add_argument("--cache", default=None, help="JSON file keeping the analyses between runs")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(max(1, args.threads))
    modes = [m for m in args.counts.split(",") if m]
    cache_path = Path(args.cache) if args.cache else None
    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.exists() else {}
    print(f"load {loadavg()}; truth: channel VAD (webrtcvad) per channel, reference cues of docs/cues.md")
    rows = []
    for item in calls(args.only):
        ref, alt = channel_truth(item)
        name = item.name.removeprefix("dev/")
        spread = 100 * max(abs(ref.talk_share[lab] - alt.talk_share[lab]) for lab in ref.speakers)
        for mode in modes:
            key = f"{name}:{mode}"
            if key not in cache:
                cache[key] = analyse(item, 2 if mode == "given" else None)
                if cache_path:
                    cache_path.write_text(json.dumps(cache, indent=1))
            att = cache[key]
            rows.append((name, mode, ref, alt, spread, compare(att, ref), att))
            print(f"  {name} {mode}: {att['wall_s']:.0f} s (load {loadavg()})", file=sys.stderr)

    print(f"\n{'call':22s} {'count':5s} {'spk':>3s} {'share pp':>8s} {'overlaps':>8s} "
          f"{'latency A/B ref | Attune (s)':>29s} {'quick':>7s} {'silences':>8s} {'interr.':>7s} {'backch.':>7s}"
          f" | truth spread: share pp, latency ref(derived RTTM)")
    for name, mode, ref, alt, spread, c, _ in rows:
        r = ref_row(ref)
        print(f"{name:22s} {mode:5s} {c['found']:3d} {c['share_pp']:8.2f} {r['overlaps']:3d}/{c['overlaps']:<4d} "
              f"{fmt_lat(r['latency']):>14s} | {fmt_lat(c['latency']):<12s} {r['quick']:3d}/{c['quick']:<3d} "
              f"{r['silences']:3d}/{c['silences']:<4d} {r['interruptions']:3d}/{c['interruptions']:<3d} "
              f"{r['backchannels']:3d}/{c['backchannels']:<3d} | {spread:5.2f}, {fmt_lat(ref_row(alt)['latency'])}")
    for mode in modes:
        sel = [x for x in rows if x[1] == mode]
        if not sel:
            continue
        n = len(sel)

        def mean(f, sel=sel, n=n):
            return sum(f(x) for x in sel) / n

        lat_err = [abs(a - b) for _, _, ref, _, _, c, _ in sel for lab in ref.speakers
                   if (a := ref.response_latency_median(lab)) is not None and (b := c["latency"][lab]) is not None]
        print(f"mean ({mode}, {n} calls): share error {mean(lambda x: x[5]['share_pp']):.2f} pp "
              f"(max {max(x[5]['share_pp'] for x in sel):.2f}); overlaps {mean(lambda x: x[2].overlaps):.1f} / "
              f"{mean(lambda x: x[5]['overlaps']):.1f}; median latency |error| {sum(lat_err) / max(1, len(lat_err)):.2f} s"
              f" ({len(lat_err)} speakers); quick responses {mean(lambda x: x[2].quick_responses):.1f} / "
              f"{mean(lambda x: x[5]['quick']):.1f}; silences {mean(lambda x: x[2].silences):.2f} / "
              f"{mean(lambda x: x[5]['silences']):.2f}; truth spread (share) {mean(lambda x: x[4]):.2f} pp")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
