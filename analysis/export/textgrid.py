"""Praat TextGrid via ``praatio``: one interval tier per speaker (the utterances' text, or "speech" for
turns without words), an events tier (cue events, labelled "interruption: Client → Therapist"), and a
bookmarks point tier (notes and bookmarks). Tiers hold no overlapping intervals: where a speaker's
utterances or the events overlap, the overlapping ones go to a second tier ("Client (2)", "events (2)")."""

from __future__ import annotations

from pathlib import Path

from analysis.export.common import event_spans, out_files, pack_intervals, prepare, spoken_lines
from analysis.timeline import Timeline


def _tier_names(base: str, n: int) -> list[str]:
    return [base] + [f"{base} ({i})" for i in range(2, n + 1)]


def write_textgrid(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
                   words: bool = True, **_: object) -> list[Path]:
    from praatio import textgrid
    from praatio.utilities.constants import Interval, Point

    p = prepare(tl, notes, deidentify=deidentify, words=words)
    t = p.timeline
    end = max([t.duration] + [e for _s, e, _l in event_spans(p)] + [x.end for x in t.turns] + [u.end for u in t.utterances]
              + [b.t for b in p.notes])
    tg = textgrid.Textgrid(0.0, end)
    lines = spoken_lines(p)
    speakers = [s.id for s in t.speakers] + sorted({sp for sp, *_r in lines} - {s.id for s in t.speakers})
    for sp in speakers:
        items = [(round(s, 3), round(e, 3), text or "speech") for who, s, e, text in lines if who == sp]
        rows = pack_intervals(items) or [[]]
        for name, row in zip(_tier_names(p.name(sp), len(rows)), rows, strict=True):
            tg.addTier(textgrid.IntervalTier(name, [Interval(*x) for x in row], 0.0, end))
    ev = [(round(s, 3), round(e, 3), label) for s, e, label in event_spans(p)]
    rows = pack_intervals(ev) or [[]]
    for name, row in zip(_tier_names("events", len(rows)), rows, strict=True):
        tg.addTier(textgrid.IntervalTier(name, [Interval(*x) for x in row], 0.0, end))
    points, seen = [], set()
    for b in p.notes:
        tt = round(b.t, 3)
        while tt in seen:  # two marks at the same millisecond: a point tier holds one per time
            tt = round(tt + 0.001, 3)
        seen.add(tt)
        points.append(Point(tt, b.text or b.kind))
    tg.addTier(textgrid.PointTier("bookmarks", points, 0.0, end))
    path = out_files(out_path, ".TextGrid")
    tg.save(str(path), format="long_textgrid", includeBlankSpaces=True)
    return [path]
