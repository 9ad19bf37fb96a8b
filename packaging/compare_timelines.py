"""Compare two Attune timelines of the same recording (the bundle's against the development install's).

    python3 packaging/compare_timelines.py REFERENCE.timeline.json CANDIDATE.timeline.json

Standard library only (runs with any Python 3). The bundle uses a CPU-only torch of another release than
the development install, so floating-point results may differ in the last bits; the check is on what a
user sees, with small tolerances:
  - speakers: on a 10 ms grid, the share of the reference's speech time where both timelines name the same
    speaker (labels are compared as given: both runs number speakers the same way) must be >= 0.98;
  - transcript: the word sequences' similarity (difflib ratio over the lower-cased words) >= 0.97;
  - events: the count of each cue kind may differ by at most 1;
  - exact equality of turns and words is reported, not required.
Prints one line per check and a summary line; exit status 1 if a check fails.
"""
from __future__ import annotations

import difflib
import json
import sys
from collections import Counter
from pathlib import Path

GRID = 0.01


def _labels(turns: list[dict], n: int) -> list[str | None]:
    grid: list[str | None] = [None] * n
    for t in turns:
        for i in range(int(round(t["start"] / GRID)), min(n, int(round(t["end"] / GRID)))):
            grid[i] = t["speaker"]
    return grid


def _words(tl: dict) -> list[str]:
    return [w["text"].strip().lower() for u in tl["utterances"] for w in u["words"]]


def compare(ref: dict, got: dict) -> list[tuple[str, bool, str]]:
    checks = []
    n = int(max(ref["duration"], got["duration"]) / GRID) + 1
    a, b = _labels(ref["turns"], n), _labels(got["turns"], n)
    speech = [i for i in range(n) if a[i] is not None]
    agree = sum(1 for i in speech if a[i] == b[i]) / max(1, len(speech))
    checks.append(("speaker agreement", agree >= 0.98,
                   f"{agree:.4f} of {len(speech) * GRID:.1f} s of speech; {len(ref['turns'])} vs "
                   f"{len(got['turns'])} turns, identical: {ref['turns'] == got['turns']}"))
    wa, wb = _words(ref), _words(got)
    ratio = difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).ratio() if (wa or wb) else 1.0
    checks.append(("transcript", ratio >= 0.97, f"word similarity {ratio:.4f} ({len(wa)} vs {len(wb)} words), "
                   f"identical: {wa == wb}"))
    ca, cb = Counter(e["kind"] for e in ref["events"]), Counter(e["kind"] for e in got["events"])
    worst = max((abs(ca[k] - cb[k]) for k in set(ca) | set(cb)), default=0)
    checks.append(("events", worst <= 1, f"{dict(sorted(ca.items()))} vs {dict(sorted(cb.items()))}"))
    checks.append(("speakers", len(ref["speakers"]) == len(got["speakers"]),
                   f"{len(ref['speakers'])} vs {len(got['speakers'])}"))
    return checks


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    ref, got = (json.loads(Path(p).read_text(encoding="utf-8")) for p in argv)
    checks = compare(ref, got)
    for name, ok, detail in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    ok = all(c[1] for c in checks)
    print(("same analysis: " if ok else "different analysis: ") + "; ".join(f"{n} {d.split(',')[0]}" for n, _, d in checks[:2]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
