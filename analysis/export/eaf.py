"""ELAN ``.eaf`` via ``pympi-ling``: a tier per speaker (utterances, or turns without words), an events
tier, a bookmarks tier (notes at their moment, 0.5 s long: ELAN has no point annotations) and the
audio linked as the media file (not when de-identified). ELAN tiers hold no overlapping annotations: overlaps go to a second
tier ("Client (2)")."""

from __future__ import annotations

from pathlib import Path

from analysis.export.common import event_spans, out_files, pack_intervals, prepare, spoken_lines
from analysis.timeline import Timeline

BOOKMARK_MS = 500


def _ms(t: float) -> int:
    return int(round(t * 1000))


def write_eaf(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
              words: bool = True, audio_path: str | Path | None = None, **_: object) -> list[Path]:
    import pympi

    p = prepare(tl, notes, deidentify=deidentify, words=words)
    t = p.timeline
    path = out_files(out_path, ".eaf")
    eaf = pympi.Elan.Eaf(author="Attune")
    eaf.remove_tier("default")
    if audio_path is not None and not deidentify:  # de-identified: no file name (and no audio exported)
        media = Path(audio_path)
        # ELAN tries the absolute address, then the relative one: the WAV an export writes beside this file
        eaf.add_linked_file(media.resolve().as_uri(), relpath="./" + path.name[: -len(".eaf")] + ".wav",
                            mimetype="audio/x-wav")

    def tier(name: str, items) -> None:
        rows = pack_intervals([(_ms(s), _ms(e), v) for s, e, v in items]) or [[]]
        for i, row in enumerate(rows):
            tid = name if i == 0 else f"{name} ({i + 1})"
            eaf.add_tier(tid)
            for s, e, v in row:
                eaf.add_annotation(tid, s, e, v)

    lines = spoken_lines(p)
    speakers = [s.id for s in t.speakers] + sorted({sp for sp, *_r in lines} - {s.id for s in t.speakers})
    for sp in speakers:
        tier(p.name(sp), [(s, e, text) for who, s, e, text in lines if who == sp])
    tier("events", event_spans(p))
    tier("bookmarks", [(b.t, min(max(t.duration, b.t + 0.001), b.t + BOOKMARK_MS / 1000), b.text or b.kind)
                       for b in p.notes])
    eaf.to_file(str(path))
    return [path]
