"""Subtitles with speaker names: SubRip (``srt``) and WebVTT (``webvtt-py``, voice tags ``<v Name>``).
One cue per utterance; without words (metrics only, or no transcript) one cue per turn that names the
speaker only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from analysis.atomic import atomic_write
from analysis.export.common import out_files, prepare, spoken_lines
from analysis.timeline import Timeline


def _cue_text(name: str, text: str) -> str:
    return text if text else "(speaking)"


def write_srt(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
              words: bool = True, **_: object) -> list[Path]:
    import srt

    p = prepare(tl, notes, deidentify=deidentify, words=words)
    subs = [srt.Subtitle(index=i, start=dt.timedelta(seconds=round(s, 3)), end=dt.timedelta(seconds=round(e, 3)),
                         content=f"{p.name(sp)}: {_cue_text(p.name(sp), text)}")
            for i, (sp, s, e, text) in enumerate(spoken_lines(p), 1)]
    path = out_files(out_path, ".srt")
    atomic_write(path, srt.compose(subs, reindex=False).encode("utf-8"))
    return [path]


def _vtt_time(t: float) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def write_vtt(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
              words: bool = True, **_: object) -> list[Path]:
    import webvtt

    p = prepare(tl, notes, deidentify=deidentify, words=words)
    vtt = webvtt.WebVTT()
    for sp, s, e, text in spoken_lines(p):
        name = p.name(sp).replace(">", "")
        body = _cue_text(name, text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        vtt.captions.append(webvtt.Caption(_vtt_time(s), _vtt_time(e), f"<v {name}>{body}"))
    path = out_files(out_path, ".vtt")
    atomic_write(path, vtt.content.encode("utf-8"))
    return [path]
