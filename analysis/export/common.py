"""What every export format shares: the clinician's notes, display names, de-identification and times.

Pure Python, Qt-free (``analysis/`` never imports Qt or ``app/``). Each format module calls
:func:`prepare` first, so that corrections, names, notes and de-identification mean the same thing in
every file: the timeline handed to a writer is already the *corrected* one (``app.review_session``
applies the review's corrections), and the notes are its bookmarks and notes.

De-identification (``deidentify=True``), the documented rule set (docs/export.md, tested in
tests/test_export.py):

* speakers are named by role only: Therapist, Client, Client 2, ...; a speaker without a role is
  Speaker 1, Speaker 2, ... (their ids S1, S2 are kept: they carry no name);
* in the transcript, the notes and the bookmarks, each of these is replaced by a bracketed tag:
  the speakers' own names as given in review, whole and each word of them (not words such as
  "Speaker" or "Client" of default labels, nor parts with digits) (``[NAME]``); e-mail addresses (``[EMAIL]``); web
  addresses (``[URL]``); dates: a month or weekday name, ``12/03/2024``-style and ISO dates, ordinals
  such as "3rd" (``[DATE]``); numbers, in digits or in words from eleven up, and phone numbers
  (``[NUMBER]``); any capitalised word that does not begin a sentence, which catches names of
  people and places (``[NAME]``), except "I" and its contractions and a short list of words that are
  capitalised anyway (days are already dates; "OK", "TV", ...);
* word-level timings are kept (their text is redacted the same way), word probabilities too;
* the source (file name, sample rate, container, declared duration) is removed; the provenance keeps
  only the app, its version and ``deidentified: true`` (options can hold folder paths);
* ``words=False`` (metrics only, for research) removes every word: utterances are dropped, the notes'
  text too (their times are kept), and the cue figures stay.

What is kept: every time, turn, event and figure; the roles; the note and bookmark times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from analysis.timeline import Speaker, Timeline, Utterance, Word


@dataclass(frozen=True)
class Bookmark:
    """A bookmark (empty ``text``) or a note at a moment of the session, as made in review."""

    t: float
    text: str = ""
    kind: str = "bookmark"  # "bookmark" or "note"
    category: str = ""


def as_bookmarks(notes: Iterable[Any] | None) -> list[Bookmark]:
    """Bookmarks from any objects (or mappings) with ``t`` and optionally ``text``, ``kind``,
    ``category`` (the review's ``Note`` among them), sorted by time."""
    out = []
    for n in notes or ():
        get = n.get if isinstance(n, Mapping) else (lambda k, d=None, _n=n: getattr(_n, k, d))
        out.append(Bookmark(float(get("t")), str(get("text", "") or ""), str(get("kind", "bookmark") or "bookmark"),
                            str(get("category", "") or "")))
    return sorted(out, key=lambda b: b.t)


# -- names -----------------------------------------------------------------------------------------
def role_names(speakers: Sequence[Speaker]) -> dict[str, str]:
    """Speaker id -> a name by role only: Therapist (Therapist 2, ...), Client, Client 2, ...; a speaker
    without a role: Speaker 1, Speaker 2, ..."""
    counts: dict[str, int] = {}
    out = {}
    for s in speakers:
        base = {"therapist": "Therapist", "client": "Client"}.get(s.role or "", "Speaker")
        counts[base] = counts.get(base, 0) + 1
        n = counts[base]
        out[s.id] = f"{base} {n}" if base == "Speaker" or n > 1 else base
    return out


def display_names(tl: Timeline) -> dict[str, str]:
    """Speaker id -> the name to show (the label given in review, else the id)."""
    names = {s.id: (s.label or s.id) for s in tl.speakers}
    for t in tl.turns:
        names.setdefault(t.speaker, t.speaker)
    for u in tl.utterances:
        names.setdefault(u.speaker, u.speaker)
    return names


# -- redaction -------------------------------------------------------------------------------------
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
NUMBER_WORDS = ["eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million"]
# capitalised anyway, not a name (sentence-initial words are never redacted as names)
# words of default or role labels ("Speaker 1", "Voice S2", "Client 2"), not names: never masked alone
GENERIC_LABEL_WORDS = {"speaker", "client", "therapist", "voice", "person", "patient", "counsellor", "counselor",
                       "unknown", "dr", "mr", "mrs", "ms"}
KEEP_CAPITALISED = {"i", "i'm", "i've", "i'd", "i'll", "ok", "okay", "tv", "mr", "mrs", "ms", "dr"}
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_DATE_NUM = re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b")
_ORDINAL = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)\b", re.IGNORECASE)
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ()-]{6,}\d\b")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def redact_text(text: str, names: Iterable[str] = ()) -> str:
    """``text`` with names, places, dates, numbers, e-mail and web addresses replaced by tags (the rule
    set in this module's docstring)."""
    full = {n.strip() for n in names if n and n.strip()}
    parts = {p for n in full for p in n.split() if not any(c.isdigit() for c in p)
             and p.lower() not in GENERIC_LABEL_WORDS} - full
    for part in sorted(full, key=len, reverse=True) + sorted(parts, key=len, reverse=True):  # whole names first
        if len(part) >= 2 and part.lower() not in KEEP_CAPITALISED:
            text = re.sub(rf"\b{re.escape(part)}\b", "[NAME]", text, flags=re.IGNORECASE)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _URL.sub("[URL]", text)
    text = _DATE_NUM.sub("[DATE]", text)
    text = _ORDINAL.sub("[DATE]", text)
    text = _PHONE.sub("[NUMBER]", text)
    text = _NUMBER.sub("[NUMBER]", text)
    out = []
    pos = 0
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        low = word.lower().strip("'’-")
        if m.start() and text[m.start() - 1] == "[":  # a tag put in by the rules above
            continue
        before = text[:m.start()].rstrip()
        sentence_start = not before or before[-1] in ".!?…:\"“"
        tag = None
        if low in MONTHS and (word[0].isupper() or low not in ("may", "march", "mar", "jan", "sept")) \
                or low in WEEKDAYS:
            tag = "[DATE]"
        elif low in NUMBER_WORDS or re.fullmatch(r"(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)-\w+",
                                                 low):
            tag = "[NUMBER]"
        elif word[0].isupper() and not sentence_start and low not in KEEP_CAPITALISED:
            tag = "[NAME]"
        if tag:
            out.append(text[pos:m.start()])
            out.append(tag)
            pos = m.end()
    out.append(text[pos:])
    return "".join(out)


# -- the prepared session --------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """A timeline and its notes ready for one export: names chosen, de-identified if asked."""

    timeline: Timeline
    notes: tuple[Bookmark, ...]
    names: Mapping[str, str]  # speaker id -> display name in this export
    deidentified: bool
    words: bool  # False: metrics only, no text at all

    def name(self, speaker: str | None) -> str:
        return "" if speaker is None else self.names.get(speaker, speaker)

    def roles(self) -> dict[str, str | None]:
        return {s.id: s.role for s in self.timeline.speakers}


def prepare(tl: Timeline, notes: Iterable[Any] | None = None, *, deidentify: bool = False,
            words: bool = True) -> Prepared:
    """The timeline and notes as an export shows them (see the module docstring)."""
    marks = as_bookmarks(notes)
    known = display_names(tl)
    speakers = list(tl.speakers) + [Speaker(i, i) for i in known if tl.speaker(i) is None]
    if deidentify:
        names = role_names(speakers)
        real = [s.label for s in speakers if s.label and s.label not in names.values()]
        red = lambda s: redact_text(s, real)  # noqa: E731
        utts = tuple(
            Utterance(u.speaker, u.start, u.end, red(u.text),
                      tuple(Word(w.start, w.end, red(w.text), w.p) for w in u.words))
            for u in tl.utterances)
        marks = [replace(b, text=red(b.text), category=red(b.category)) for b in marks]
        prov = {"app": tl.provenance.get("app", "attune"), "version": tl.provenance.get("version"),
                "deidentified": True}
        tl = tl.with_(speakers=tuple(Speaker(s.id, names[s.id], s.role) for s in speakers), utterances=utts,
                      source={}, provenance=prov)
    else:
        names = dict(known)
        tl = tl.with_(speakers=tuple(speakers))
    if not words:
        tl = tl.with_(utterances=())
        marks = [replace(b, text="", category="") for b in marks]
        tl = tl.with_(provenance={**tl.provenance, "words": False})
    return Prepared(tl, tuple(marks), names, deidentify, words)


# -- small helpers ---------------------------------------------------------------------------------
def clock(t: float, ms: bool = False) -> str:
    """``H:MM:SS`` (``H:MM:SS.mmm`` with ``ms``) for a time in seconds."""
    t = max(0.0, float(t))
    total_ms = int(round(t * 1000))
    h, rem = divmod(total_ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, milli = divmod(rem, 1000)
    return f"{h}:{m:02d}:{s:02d}.{milli:03d}" if ms else f"{h}:{m:02d}:{s:02d}"


def spoken_lines(p: Prepared) -> list[tuple[str, float, float, str]]:
    """(speaker, start, end, text) to show as a transcript: the utterances, or, without words, each
    turn with an empty text."""
    if p.timeline.utterances:
        rows = [(u.speaker, u.start, u.end, u.text.strip()) for u in p.timeline.utterances if u.end > u.start]
    else:
        rows = [(t.speaker, t.start, t.end, "") for t in p.timeline.turns if t.end > t.start]
    return sorted(rows, key=lambda r: (r[1], r[2]))


def event_label(p: Prepared, kind: str, by: str | None, of: str | None) -> str:
    label = kind.replace("_", " ")
    if by and of:
        return f"{label}: {p.name(by)} → {p.name(of)}"
    if by:
        return f"{label}: {p.name(by)}"
    return label


MIN_MARK_S = 0.1  # a zero-length event (a quick response at the very end of a turn) shown this long


def event_spans(p: Prepared) -> list[tuple[float, float, str]]:
    """(start, end, label) of the cue events for tiers that need a length: a zero-length event lasts
    :data:`MIN_MARK_S` from its start."""
    end = max(p.timeline.duration, max((e.end for e in p.timeline.events), default=0.0))
    return [(e.start, e.end if e.end - e.start >= 0.001 else min(end + MIN_MARK_S, e.start + MIN_MARK_S),
             event_label(p, e.kind, e.by, e.of)) for e in p.timeline.events]


def pack_intervals(items: Sequence[tuple[float, float, Any]], min_gap: float = 0.0) -> list[list[tuple]]:
    """Spread intervals over as few rows as needed so that none overlap within a row (tiers of Praat and
    ELAN hold no overlapping intervals). Zero-length intervals are skipped."""
    rows: list[list[tuple]] = []
    for it in sorted(items, key=lambda x: (x[0], x[1])):
        if it[1] <= it[0]:
            continue
        for row in rows:
            if row[-1][1] <= it[0] - min_gap:
                row.append(it)
                break
        else:
            rows.append([it])
    return rows


def out_files(out_path: str | Path, suffix: str) -> Path:
    """``out_path`` with ``suffix`` unless it already ends so; its folder is created."""
    p = Path(out_path)
    if not p.name.endswith(suffix):
        p = p.with_name(p.name + suffix)
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def metric(m: Mapping[str, Any], key: str) -> Any:
    v = m.get(key)
    return None if isinstance(v, float) and v != v else v


class ExportError(Exception):
    """A format cannot be written for this session (e.g. audio asked for, none kept); one line."""
