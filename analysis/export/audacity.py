"""Audacity labels: a tab-separated text file (start, end, label; seconds), imported with File > Import
> Labels beside the recording. Utterances (or turns) as "Name: text", cue events, and notes and
bookmarks as point labels."""

from __future__ import annotations

import csv
from pathlib import Path

from analysis.export.common import event_label, out_files, prepare, spoken_lines
from analysis.timeline import Timeline


def write_audacity(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
                   words: bool = True, **_: object) -> list[Path]:
    p = prepare(tl, notes, deidentify=deidentify, words=words)
    rows = [(s, e, f"{p.name(sp)}: {text}" if text else p.name(sp)) for sp, s, e, text in spoken_lines(p)]
    rows += [(e.start, e.end, event_label(p, e.kind, e.by, e.of)) for e in p.timeline.events]
    rows += [(b.t, b.t, f"{b.kind}: {b.text}" if b.text else b.kind) for b in p.notes]
    path = out_files(out_path, ".labels.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\")
        for s, e, label in sorted(rows, key=lambda r: (r[0], r[1])):
            w.writerow([f"{s:.6f}", f"{e:.6f}", " ".join(label.split())])
    return [path]
