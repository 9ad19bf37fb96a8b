"""CSV tables (stdlib ``csv``, UTF-8 with a header row): utterances (speaker, role, start, end, text),
turns, events, per-speaker metrics and notes, one file each: ``<stem>.<table>.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

from analysis.export.common import metric, out_files, prepare, spoken_lines
from analysis.timeline import Timeline

SPEAKER_FIELDS = ("talk_time", "talk_share", "turns", "median_turn", "longest_monologue", "words", "wpm",
                  "articulation_rate", "interruptions_made", "interruptions_received", "backchannels",
                  "overlaps_started", "quick_responses", "responses", "response_latency_median",
                  "pitch_median_st", "pitch_variability_st", "loudness_dbfs", "questions", "open_questions",
                  "reflections", "reflection_question_ratio")
TABLES = ("utterances", "turns", "events", "speakers", "notes")


def _write(path: Path, header: list[str], rows) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _num(x):
    return "" if x is None else (f"{x:.3f}" if isinstance(x, float) else x)


def write_csv(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
              words: bool = True, **_: object) -> list[Path]:
    p = prepare(tl, notes, deidentify=deidentify, words=words)
    t = p.timeline
    base = out_files(out_path, "")
    role = p.roles()
    stem = base.name
    paths = []
    rows = [(sp, p.name(sp), role.get(sp) or "", f"{s:.3f}", f"{e:.3f}", text)
            for sp, s, e, text in spoken_lines(p)] if t.utterances else []
    paths.append(_write(base.with_name(f"{stem}.utterances.csv"),
                        ["speaker_id", "speaker", "role", "start", "end", "text"], rows))
    paths.append(_write(base.with_name(f"{stem}.turns.csv"), ["speaker_id", "speaker", "role", "start", "end"],
                        [(x.speaker, p.name(x.speaker), role.get(x.speaker) or "", f"{x.start:.3f}", f"{x.end:.3f}")
                         for x in sorted(t.turns, key=lambda x: (x.start, x.end))]))
    paths.append(_write(base.with_name(f"{stem}.events.csv"), ["kind", "start", "end", "by", "of"],
                        [(e.kind, f"{e.start:.3f}", f"{e.end:.3f}", p.name(e.by), p.name(e.of))
                         for e in sorted(t.events, key=lambda e: (e.start, e.end))]))
    paths.append(_write(base.with_name(f"{stem}.speakers.csv"), ["speaker_id", "speaker", "role", *SPEAKER_FIELDS],
                        [(s.id, p.name(s.id), s.role or "",
                          *(_num(metric(t.metrics.speakers.get(s.id, {}), k)) for k in SPEAKER_FIELDS))
                         for s in t.speakers]))
    paths.append(_write(base.with_name(f"{stem}.notes.csv"), ["time", "kind", "category", "text"],
                        [(f"{b.t:.3f}", b.kind, b.category, b.text) for b in p.notes]))
    return paths
