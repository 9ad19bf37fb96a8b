"""What the review window reads and writes, behind one small interface (issue 14).

:func:`open_review` takes a session folder (``timeline.json`` + ``audio.wav``), a timeline file
(``<stem>.timeline.json`` from ``attune analyze``) or an audio file, and returns a
:class:`ReviewSession`: the machine's timeline, the audio to play, the clinician's notes and bookmarks,
and a corrections layer. Everything the review window knows about storage is here, so that the
encrypted store (issue 13) can replace the plain files later without touching the window.

Saved beside the timeline, never inside it (the machine's output stays as it was made):

- ``notes.json`` (``attune.notes/1``): bookmarks and notes at moments;
- ``corrections.json`` (``attune.corrections/1``): the ordered list of corrections (rename, merge,
  roles, reassign a turn). :meth:`ReviewSession.timeline` applies them to the original and recomputes
  the cue metrics and events with :func:`analysis.cues.compute_cues`.

Both are private (0600) and written atomically. An audio file opened directly has no session folder:
its notes and corrections live only while the window is open.

A session of the encrypted store (issue 13: its folder ``<store>/sessions/<id>`` or its id) is opened
through the app's unlocked store (:func:`app.unlock.app_store`, logged as ``open`` in the audit log):
the timeline is decrypted into memory, the notes and corrections are written encrypted whole
(``notes.enc``, ``corrections.enc``), and the audio for playback is decrypted into memory
(:func:`playback_from_session`: a WAV in a bytes buffer, never a file).

Qt-free. Nothing here logs transcript text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from analysis.timeline import Speaker, Timeline, Turn, Utterance

log = logging.getLogger(__name__)

TIMELINE_NAME = "timeline.json"
AUDIO_NAME = "audio.wav"
NOTES_NAME = "notes.json"
CORRECTIONS_NAME = "corrections.json"
NOTES_SCHEMA = "attune.notes/1"
CORRECTIONS_SCHEMA = "attune.corrections/1"
TIMELINE_SUFFIX = ".timeline.json"
TIMELINE_ROLE = "timeline"  # the roles of a store session's encrypted files (app.store)
NOTES_ROLE = "notes"
CORRECTIONS_ROLE = "corrections"
OFFLINE_ROLE = "timeline_offline"  # the review-quality re-analysis of a live session (app.live_session)
OFFLINE_NAME = "timeline.offline.json"  # the same beside a session folder's timeline.json
BASES = ("live", "offline")  # which machine timeline the corrections apply to


class ReviewError(Exception):
    """The path cannot be reviewed; the message is one line for the user."""


# -- notes and bookmarks ---------------------------------------------------------------------------
# What a clinician files a moment under (for their own review and for supervision): one list, used by
# the review window and carried into exports as the note's category.
NOTE_CATEGORIES = ("for supervision", "rupture or repair", "client insight", "my reaction", "follow up")


@dataclass(frozen=True)
class Note:
    """A bookmark (``text`` empty) or a note at a moment of the session."""

    t: float
    text: str = ""
    kind: str = "bookmark"  # "bookmark" or "note"
    category: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "t": round(float(self.t), 3), "kind": self.kind, "text": self.text,
                "category": self.category}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Note:
        return cls(t=float(d["t"]), text=str(d.get("text", "")), kind=str(d.get("kind", "bookmark")),
                   category=str(d.get("category", "")), id=str(d.get("id") or uuid.uuid4().hex[:12]))


# -- corrections -----------------------------------------------------------------------------------
CORRECTION_OPS = ("rename", "merge", "swap_roles", "set_role", "reassign_turn", "reassign_utterance",
                  "move_boundary", "edit_word", "rediarize")
# corrections that change who spoke when (or what was said), after which the cues are computed again
# (names and roles change no figure: the cue engine's metrics are per speaker id)
STRUCTURAL_OPS = ("merge", "reassign_turn", "reassign_utterance", "move_boundary", "edit_word", "rediarize")
NAMING_OPS = ("rename", "swap_roles", "set_role")  # change only the speakers' names and roles
MIN_TURN_S = 0.05  # a moved boundary leaves each of its two turns at least this long
CACHED_RESULTS = 8  # corrected timelines kept (undo and redo of a recent correction are instant)


def _name_speakers(speakers: dict[str, Speaker], op: dict[str, Any]) -> dict[str, Speaker]:
    """A naming correction (rename, roles) applied to the speakers by id."""
    speakers = dict(speakers)
    kind = op["op"]
    if kind == "rename" and op["speaker"] in speakers:
        speakers[op["speaker"]] = replace(speakers[op["speaker"]], label=str(op["label"]))
    elif kind == "swap_roles":
        swap = {"therapist": "client", "client": "therapist"}
        speakers = {k: replace(s, role=swap.get(s.role, s.role)) for k, s in speakers.items()}
    elif kind == "set_role" and op["speaker"] in speakers:
        role = op.get("role")
        if role == "therapist":  # one therapist: whoever had the role becomes the client
            speakers = {k: replace(s, role="client") if s.role == "therapist" else s for k, s in speakers.items()}
        speakers[op["speaker"]] = replace(speakers[op["speaker"]], role=role)
    return speakers


def _check_op(op: dict[str, Any]) -> dict[str, Any]:
    if op.get("op") not in CORRECTION_OPS:
        raise ValueError(f"unknown correction {op.get('op')!r}")
    return dict(op)


def _mid(u: Utterance) -> float:
    return (u.start + u.end) / 2


def apply_corrections(original: Timeline, ops: list[dict[str, Any]], recompute: bool = True) -> Timeline:
    """The original timeline with the corrections applied in order; with ``recompute`` (and at least one
    correction of who spoke when or of a word) the cue metrics and events are computed again from the
    corrected turns and utterances. See :func:`corrected_turns` for how corrections name turns."""
    return corrected(original, ops, recompute)[0]


def corrected(original: Timeline, ops: list[dict[str, Any]], recompute: bool = True
              ) -> tuple[Timeline, list[Any]]:
    """:func:`apply_corrections` and, for each turn of the result, the id corrections name it by.

    A turn of the original is named by its index in the original (``reassign_turn``, ``move_boundary``),
    so a correction keeps meaning the same stretch of speech whatever came before it. A turn made by
    giving one utterance to another speaker is ``"u<index of the utterance>"``; the turns of a
    re-diarization (``rediarize``, the n-th correction) are ``"r<n>.<index in its turns>"``. Utterances
    are never split: they are named by their index in the original.
    """
    if not ops:
        return original, list(range(len(original.turns)))
    speakers = {s.id: s for s in original.speakers}
    order = [s.id for s in original.speakers]
    # the turns as pieces [speaker, start, end, id]; reassigning an utterance cuts a piece in two
    pieces: list[list[Any]] = [[t.speaker, t.start, t.end, i] for i, t in enumerate(original.turns)]
    utts = list(original.utterances)
    utt_sp = [u.speaker for u in utts]
    moved = False
    for n, op in enumerate(ops):
        kind = op["op"]
        if kind in NAMING_OPS:
            speakers = _name_speakers(speakers, op)
        elif kind == "merge" and op["from"] in speakers and op["into"] in speakers and op["from"] != op["into"]:
            src, dst = op["from"], op["into"]
            for pc in pieces:
                if pc[0] == src:
                    pc[0] = dst
            utt_sp = [dst if s == src else s for s in utt_sp]
            del speakers[src]
            order.remove(src)
        elif kind == "reassign_turn" and op["to"] in speakers:
            # an utterance follows the turn it lies in (by its midpoint), as long as it had that turn's speaker
            dst = op["to"]
            for pc in (pc for pc in pieces if pc[3] == op["turn"]):
                src, pc[0] = pc[0], dst
                for j, u in enumerate(utts):
                    if utt_sp[j] == src and pc[1] <= _mid(u) <= pc[2]:
                        utt_sp[j] = dst
        elif kind == "reassign_utterance" and op["to"] in speakers and 0 <= int(op["utterance"]) < len(utts):
            j, dst = int(op["utterance"]), op["to"]
            u, src, uid = utts[j], utt_sp[j], f"u{int(op['utterance'])}"
            utt_sp[j] = dst
            cut: list[list[Any]] = []
            for pc in pieces:  # the utterance's time is cut out of its former speaker's turns
                if pc[3] == uid:
                    continue
                if pc[0] == src and pc[1] < u.end and u.start < pc[2]:
                    cut += [[pc[0], pc[1], u.start, pc[3]], [pc[0], u.end, pc[2], pc[3]]]
                else:
                    cut.append(pc)
            pieces = [pc for pc in cut if pc[2] - pc[1] > 1e-6] + [[dst, u.start, u.end, uid]]
            moved = True
        elif kind == "move_boundary":
            a = [pc for pc in pieces if pc[3] == op["turn"]]
            b = [pc for pc in pieces if "next" in op and pc[3] == op["next"]]
            if not a or ("next" in op and not b):
                continue
            first, last = min(a, key=lambda pc: pc[1]), max(a, key=lambda pc: pc[2])
            x = float(op["t"])
            if b:  # the end of one turn and the start of the next move together
                nxt = min(b, key=lambda pc: pc[1])
                x = min(max(x, last[1] + MIN_TURN_S), nxt[2] - MIN_TURN_S)
                lo, hi = min(last[2], nxt[1], x), max(last[2], nxt[1], x)
                last[2], nxt[1] = x, x
                for j, u in enumerate(utts):  # who said what follows the new boundary
                    if utt_sp[j] in (last[0], nxt[0]) and lo <= _mid(u) <= hi:
                        utt_sp[j] = last[0] if _mid(u) < x else nxt[0]
            elif op.get("edge") == "start":
                first[1] = min(max(0.0, x), first[2] - MIN_TURN_S)
            else:
                last[2] = max(min(original.duration, x), last[1] + MIN_TURN_S)
            moved = True
        elif kind == "edit_word" and 0 <= int(op["utterance"]) < len(utts):
            j, k, text = int(op["utterance"]), int(op["word"]), str(op["text"]).strip()
            u = utts[j]
            if u.words and 0 <= k < len(u.words):
                words = list(u.words)
                words[k] = replace(words[k], text=text)
                words = [w for w in words if w.text]
                utts[j] = replace(u, words=tuple(words), text=" ".join(w.text for w in words))
            elif not u.words:
                tokens = u.text.split()
                if 0 <= k < len(tokens):
                    tokens[k] = text
                    utts[j] = replace(u, text=" ".join(t for t in tokens if t))
        elif kind == "rediarize":
            new = [Speaker(str(i), str(label), role) for i, label, role in op["speakers"]]
            speakers = {sp.id: sp for sp in new}
            order = [sp.id for sp in new]
            pieces = [[sp, float(a), float(b), f"r{n}.{k}"] for k, (sp, a, b) in enumerate(op["turns"])]
            given = list(op["utterances"])
            utt_sp = [given[j] if j < len(given) else utt_sp[j] for j in range(len(utts))]
            moved = True
    if moved:
        pieces.sort(key=lambda pc: (pc[1], str(pc[0])))
    turns = tuple(Turn(pc[0], pc[1], pc[2]) for pc in pieces)
    utts_out = tuple(replace(u, speaker=sp) for sp, u in zip(utt_sp, utts, strict=True))
    tl = original.with_(speakers=tuple(speakers[k] for k in order), turns=turns, utterances=utts_out)
    if recompute and any(op["op"] in STRUCTURAL_OPS for op in ops):
        tl = recompute_cues(tl, original)
    return tl, [pc[3] for pc in pieces]


TONE_KEYS = (("pitch_median_st", "pitch_median_rel_st"), ("pitch_variability_st", "pitch_variability_rel_st"),
             ("loudness_dbfs", "loudness_rel_db"))


def recompute_cues(tl: Timeline, original: Timeline | None = None) -> Timeline:
    """The cue metrics and events of ``tl`` computed again from its turns and utterances. Without the
    audio the tone cannot be measured again: each floor turn (``turn_cues``) takes the tone measured on
    the original at the same time (the turn of the same speaker that shares the most time, else any),
    and its figures against the speaker's own usual are recomputed from those; the per-speaker tone
    figures are left out."""
    import statistics

    from analysis.cues import compute_cues

    metrics, events = compute_cues(tl.turns, tl.utterances, tl.duration, speakers=[s.id for s in tl.speakers])
    old = list((original.metrics.session or {}).get("turn_cues") or []) if original is not None else []
    rows = [dict(r) for r in (metrics.session or {}).get("turn_cues") or []]
    if old and rows:
        for r in rows:
            def shared(o, r=r):
                return _overlap(r["start"], r["end"], o["start"], o["end"])
            cands = [o for o in old if shared(o) > 0]
            if not cands:
                continue
            best = max(cands, key=lambda o: (o.get("speaker") == r["speaker"], shared(o)))
            for key, _rel in TONE_KEYS:
                if r.get(key) is None and best.get(key) is not None:
                    r[key] = best[key]
        for key, rel in TONE_KEYS:
            for sp in {r["speaker"] for r in rows}:
                vals = [r[key] for r in rows if r["speaker"] == sp and r.get(key) is not None]
                base = statistics.median(vals) if vals else None
                for r in rows:
                    if r["speaker"] == sp:
                        r[rel] = round(r[key] - base, 3) if base is not None and r.get(key) is not None else None
        metrics = replace(metrics, session={**metrics.session, "turn_cues": rows})
    return tl.with_(metrics=metrics, events=events)


def speech_regions(turns, gap: float = 0.3) -> list[tuple[float, float]]:
    """The union of the turns as sorted regions (those closer than ``gap`` joined): where there is speech."""
    out: list[list[float]] = []
    for t in sorted(turns, key=lambda t: t.start):
        if out and t.start <= out[-1][1] + gap:
            out[-1][1] = max(out[-1][1], t.end)
        else:
            out.append([t.start, t.end])
    return [(a, b) for a, b in out]


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def rediarize_op(tl: Timeline, count: int, read, diarize=None, progress=None) -> dict[str, Any]:
    """A ``rediarize`` correction: the recording (``read(start_s, end_s)`` -> 16 kHz float32) diarized
    again with ``count`` speakers, over the speech of ``tl``'s turns; the transcript is kept and each
    utterance goes to the speaker who covers most of its words. A new speaker who mostly matches an old
    one (by shared time) keeps that speaker's id, name and role, so names carry over.

    ``diarize`` replaces :func:`analysis.diarization.diarize` (tests)."""
    from analysis.diarization import DiarizationOptions
    from analysis.windowed_diarization import diarize_windows

    regions = speech_regions(tl.turns)
    result = diarize_windows(read, tl.duration, regions, DiarizationOptions(num_speakers=int(count)),
                             progress=progress, diarize=diarize)
    new_turns = sorted(result.turns, key=lambda t: (t.start, t.speaker))
    new_ids = list(dict.fromkeys(t.speaker for t in new_turns))
    # names carry over: the pairs (new, old) that share the most time, each used once
    shared = sorted(((sum(_overlap(a.start, a.end, b.start, b.end) for a in new_turns if a.speaker == n
                          for b in tl.turns if b.speaker == o), n, o)
                     for n in new_ids for o in (s.id for s in tl.speakers)), reverse=True)
    mapping: dict[str, str] = {}
    for amount, n, o in shared:
        if amount > 0 and n not in mapping and o not in mapping.values():
            mapping[n] = o
    used = set(mapping.values())
    k = 1
    for n in new_ids:
        if n not in mapping:
            while f"S{k}" in used:
                k += 1
            mapping[n] = f"S{k}"
            used.add(f"S{k}")
    speakers = []
    for n in new_ids:
        old = tl.speaker(mapping[n])
        speakers.append([mapping[n], old.label if old else f"Speaker {mapping[n][1:]}", old.role if old else None])
    turns = [[mapping[t.speaker], round(t.start, 3), round(t.end, 3)] for t in new_turns]
    utt_sp = []
    for u in tl.utterances:
        spans = [(w.start, w.end) for w in u.words] or [(u.start, u.end)]
        cover = {sp: sum(_overlap(a, b, t[1], t[2]) for a, b in spans for t in turns if t[0] == sp)
                 for sp in mapping.values()}
        best = max(cover, key=lambda sp: cover[sp]) if cover else u.speaker
        utt_sp.append(best if cover.get(best, 0) > 0 else u.speaker if u.speaker in cover else best)
    return {"op": "rediarize", "count": int(count), "speakers": speakers, "turns": turns, "utterances": utt_sp}


class Corrections:
    """An ordered list of corrections with undo and redo."""

    def __init__(self, ops: list[dict[str, Any]] | None = None) -> None:
        self.ops: list[dict[str, Any]] = [_check_op(o) for o in ops or ()]
        self.redo_stack: list[dict[str, Any]] = []

    def add(self, op: dict[str, Any]) -> None:
        self.ops.append(_check_op(op))
        self.redo_stack.clear()

    def can_undo(self) -> bool:
        return bool(self.ops)

    def can_redo(self) -> bool:
        return bool(self.redo_stack)

    def undo(self) -> bool:
        if not self.ops:
            return False
        self.redo_stack.append(self.ops.pop())
        return True

    def redo(self) -> bool:
        if not self.redo_stack:
            return False
        self.ops.append(self.redo_stack.pop())
        return True


# -- files -----------------------------------------------------------------------------------------
def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _read_json(path: Path, schema: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ReviewError(f"{path.name} cannot be read ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("schema") != schema:
        raise ReviewError(f"{path.name} is not an {schema} file")
    return data


@dataclass
class ReviewSession:
    """One recording under review. ``original`` is None until an audio file has been analysed."""

    source: Path  # what was opened
    audio_path: Path | None
    original: Timeline | None
    notes_path: Path | None = None  # None: nothing is saved (an audio file opened directly)
    corrections_path: Path | None = None
    notes: list[Note] = field(default_factory=list)
    corrections: Corrections = field(default_factory=Corrections)
    store_session: Any = None  # an app.store.Session: notes, corrections and audio live there, encrypted
    base: str = "live"  # the machine timeline shown: "live" (timeline) or "offline" (the re-analysis)
    set_aside: list[dict[str, Any]] = field(default_factory=list)  # corrections of the live timeline,
    # kept (not applied) after the re-analysis was adopted
    _results: dict[int, tuple[Timeline, list]] = field(default_factory=dict, repr=False)

    @property
    def has_audio(self) -> bool:
        if self.store_session is not None:
            return self.store_session.has("audio", stream=True)
        return self.audio_path is not None

    @property
    def needs_analysis(self) -> bool:
        return self.original is None

    @property
    def saved(self) -> bool:
        return self.notes_path is not None or self.store_session is not None

    def set_analysis(self, timeline: Timeline) -> None:
        self.original = with_speakers_filled(timeline)
        self._results = {}

    # -- a session recorded live: its review-quality re-analysis
    def meta(self) -> dict[str, Any]:
        """The session's description (store: its encrypted description; folder: session.json), or {}."""
        try:
            if self.store_session is not None:
                return dict(self.store_session.meta)
            if self.notes_path is not None and self.source.is_dir():
                data = json.loads((self.source / "session.json").read_text(encoding="utf-8"))
                return data if isinstance(data, dict) else {}
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        except Exception:  # an undecryptable description: nothing to say about it
            log.warning("the session description could not be read")
        return {}

    @property
    def recorded_live(self) -> bool:
        return self.meta().get("mode") == "live"

    @property
    def reanalysis_target(self) -> Any:
        """What :func:`app.live_session.reanalyze` takes: the store session or the session folder."""
        return self.store_session if self.store_session is not None else self.source

    @property
    def offers_reanalysis(self) -> bool:
        """A live session shown with its live timeline, whose recording was kept: the review-quality
        re-analysis can replace the live timeline."""
        return self.saved and self.base == "live" and self.recorded_live and self.has_audio

    def adopt_reanalysis(self, timeline: Timeline) -> None:
        """Show the re-analysis from now on. Corrections made on the live timeline name its turns and
        speakers, which the re-analysis does not share: they are kept apart (``set_aside`` in the
        corrections file), not applied."""
        self.set_aside = self.set_aside + list(self.corrections.ops)
        self.corrections = Corrections()
        self.base = "offline"
        self.set_analysis(timeline)
        self.save_corrections()

    def ops_key(self, ops: list[dict[str, Any]] | None = None) -> int:
        return hash(json.dumps(self.corrections.ops if ops is None else ops, sort_keys=True))

    def cached(self) -> tuple[Timeline, list] | None:
        """The corrected timeline and its turn ids if already computed for the corrections as they are."""
        return self._results.get(self.ops_key())

    def keep_result(self, key: int, tl: Timeline, ids: list) -> None:
        self._results.pop(key, None)
        self._results[key] = (tl, ids)
        while len(self._results) > CACHED_RESULTS:
            self._results.pop(next(iter(self._results)))

    def timeline(self) -> Timeline:
        """The corrected timeline (the original when there is no correction), metrics recomputed."""
        if self.original is None:
            raise ReviewError("the recording has not been analysed yet")
        key = self.ops_key()
        if key not in self._results:
            self.keep_result(key, *corrected(self.original, self.corrections.ops))
        return self._results[key][0]

    def turn_ids(self) -> list[Any]:
        """For each turn of :meth:`timeline`, the id corrections name it by (see :func:`corrected`)."""
        hit = self.cached()
        if hit is not None:
            return list(hit[1])
        return corrected(self.original, self.corrections.ops, recompute=False)[1]

    # -- corrections
    def correct(self, op: dict[str, Any], compute: bool = True) -> Timeline | None:
        """Add a correction (saved at once) and return the corrected timeline (``compute=False``: only
        when that needs no recomputation, else None). A rename or a role is applied to the timeline
        already computed, without computing the cues again."""
        before = self._results.get(self.ops_key())
        self.corrections.add(op)
        self.save_corrections()
        if before is not None and op["op"] in NAMING_OPS:
            tl, ids = before
            speakers = _name_speakers({sp.id: sp for sp in tl.speakers}, op)
            self.keep_result(self.ops_key(), tl.with_(speakers=tuple(speakers[sp.id] for sp in tl.speakers)),
                             ids)
        if compute or self.cached() is not None:
            return self.timeline()
        return None

    def undo(self) -> bool:
        done = self.corrections.undo()
        if done:
            self.save_corrections()
        return done

    def redo(self) -> bool:
        done = self.corrections.redo()
        if done:
            self.save_corrections()
        return done

    def _corrections_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"schema": CORRECTIONS_SCHEMA, "ops": self.corrections.ops, "base": self.base}
        if self.set_aside:
            doc["set_aside"] = self.set_aside
        return doc

    def save_corrections(self) -> None:
        if self.store_session is not None:
            self.store_session.write_json(CORRECTIONS_ROLE, self._corrections_doc())
        elif self.corrections_path is not None:
            _write_private(self.corrections_path, json.dumps(self._corrections_doc(), indent=1,
                                                             ensure_ascii=False))

    # -- notes
    def add_note(self, t: float, text: str = "", kind: str | None = None, category: str = "") -> Note:
        note = Note(t=max(0.0, float(t)), text=text, kind=kind or ("note" if text else "bookmark"),
                    category=category)
        self.notes.append(note)
        self.notes.sort(key=lambda n: n.t)
        self.save_notes()
        return note

    def set_note_category(self, note_id: str, category: str) -> None:
        """File a note or bookmark under one of :data:`NOTE_CATEGORIES` (or none: "")."""
        if category and category not in NOTE_CATEGORIES:
            raise ValueError(f"unknown note category {category!r}")
        self.notes = [replace(n, category=category) if n.id == note_id else n for n in self.notes]
        self.save_notes()

    def remove_note(self, note_id: str) -> None:
        self.notes = [n for n in self.notes if n.id != note_id]
        self.save_notes()

    def save_notes(self) -> None:
        if self.store_session is not None:
            self.store_session.write_json(NOTES_ROLE, {"schema": NOTES_SCHEMA,
                                                       "notes": [n.to_dict() for n in self.notes]})
        elif self.notes_path is not None:
            _write_private(self.notes_path, json.dumps(
                {"schema": NOTES_SCHEMA, "notes": [n.to_dict() for n in self.notes]}, indent=1,
                ensure_ascii=False))


def _checked(data: Any, name: str, schema: str) -> dict[str, Any] | None:
    if not isinstance(data, dict) or data.get("schema") != schema:
        raise ReviewError(f"{name} is not an {schema} file")
    return data


def _load_store_layers(session: ReviewSession) -> ReviewSession:
    s = session.store_session
    if s.has(NOTES_ROLE):
        data = _checked(s.read_json(NOTES_ROLE), "notes", NOTES_SCHEMA)
        session.notes = sorted((Note.from_dict(n) for n in data.get("notes", [])), key=lambda n: n.t)
    data = None
    if s.has(CORRECTIONS_ROLE):
        data = _checked(s.read_json(CORRECTIONS_ROLE), "corrections", CORRECTIONS_SCHEMA)
        _set_corrections(session, data, "corrections")
    if _wants_offline(session, data) and s.has(OFFLINE_ROLE):
        try:
            session.original = with_speakers_filled(Timeline.from_dict(s.read_json(OFFLINE_ROLE)))
            session.base = "offline"
        except (ValueError, KeyError, TypeError):
            log.warning("the re-analysis of a session cannot be read; showing its live timeline")
    return session


def _set_corrections(session: ReviewSession, data: dict[str, Any], name: str) -> None:
    try:
        session.corrections = Corrections(list(data.get("ops", [])))
        session.set_aside = list(data.get("set_aside", []))
    except (ValueError, KeyError, TypeError) as exc:
        raise ReviewError(f"{name}: {exc}") from None


def _wants_offline(session: ReviewSession, data: dict[str, Any] | None) -> bool:
    """The re-analysis is shown when the corrections were made on it, or when there are none yet."""
    if data is not None and data.get("base") in BASES:
        return data["base"] == "offline"
    return not session.corrections.ops


def is_store_session_ref(path: str | os.PathLike) -> bool:
    """A session of the encrypted store: its id, or its folder (``<store>/sessions/<id>``)."""
    text = os.fspath(path)
    if isinstance(text, str) and re.fullmatch(r"[0-9a-f]{32}", text) and not Path(text).exists():
        return True
    p = Path(text)
    return p.is_dir() and (p / "session.key").is_file()


def open_store_review(ref: str | os.PathLike) -> ReviewSession:
    """Open a store session (id or folder) for review through the app's unlocked store (audited)."""
    from app.store import Store, StoreError
    from app.unlock import app_store

    store = app_store()
    text = os.fspath(ref)
    if Path(text).is_dir():
        folder = Path(text).resolve()
        sid = folder.name
        if folder.parent.parent != store.root.resolve():
            store = Store.open(store.master, root=folder.parent.parent)
    else:
        sid = text
    try:
        session = store.open_session(sid, purpose="review")
    except StoreError as exc:
        raise ReviewError(str(exc)) from None
    if not session.has(TIMELINE_ROLE):
        raise ReviewError(f"session {sid} has no timeline yet (interrupted? try: attune recover)")
    try:
        tl = with_speakers_filled(Timeline.from_dict(session.read_json(TIMELINE_ROLE)))
    except (ValueError, KeyError, TypeError) as exc:
        msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise ReviewError(f"session {sid}: not a readable timeline ({msg})") from None
    return _load_store_layers(ReviewSession(source=session.dir, audio_path=None, original=tl,
                                            store_session=session))


def playback_from_session(session, on_progress=None, should_stop=None) -> tuple[bytes, Any, float]:
    """A store session's audio for playback, decrypted into memory only: (a 16-bit WAV as bytes, the
    loudness envelope in dB RMS per :data:`LOUDNESS_HOP_S`, the hop)."""
    import struct

    import numpy as np

    reader = session.audio_reader()
    rate = reader.sample_rate
    total = reader.samples
    hop = int(rate * LOUDNESS_HOP_S)
    step = hop * 600  # 60-s slices
    pcm = bytearray()
    env: list[float] = []
    for a in range(0, total, step):
        if should_stop is not None and should_stop():
            raise Cancelled()
        x = reader.read(a / rate, min(total, a + step) / rate)
        pcm += np.clip(np.rint(x * 32767.0), -32768, 32767).astype("<i2").tobytes()
        for i in range(0, len(x), hop):
            part = x[i:i + hop]
            env.append(float(20 * np.log10(np.sqrt(np.mean(np.square(part, dtype=np.float64))) + 1e-6)))
        if on_progress is not None:
            on_progress(min(1.0, (a + step) / max(total, 1)))
    header = (b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE" + b"fmt "
              + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", len(pcm)))
    return header + bytes(pcm), np.asarray(env, dtype=np.float32), LOUDNESS_HOP_S


def _load_layers(session: ReviewSession) -> ReviewSession:
    if session.notes_path is not None:
        data = _read_json(session.notes_path, NOTES_SCHEMA)
        if data:
            session.notes = sorted((Note.from_dict(n) for n in data.get("notes", [])), key=lambda n: n.t)
    data = None
    if session.corrections_path is not None:
        data = _read_json(session.corrections_path, CORRECTIONS_SCHEMA)
        if data:
            _set_corrections(session, data, session.corrections_path.name)
    offline = session.source / OFFLINE_NAME if session.source.is_dir() else None
    if offline is not None and offline.is_file() and _wants_offline(session, data):
        session.original = _load_timeline(offline)
        session.base = "offline"
    return session


def _load_timeline(path: Path) -> Timeline:
    try:
        return with_speakers_filled(Timeline.load(path))
    except FileNotFoundError:
        raise ReviewError(f"{path} does not exist") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise ReviewError(f"{path.name} is not a readable timeline ({msg})") from None


def open_review(path: str | os.PathLike) -> ReviewSession:
    """Open a session folder, a timeline file or an audio file for review (raises :class:`ReviewError`
    with a one-line message when it cannot). An audio file comes back with ``needs_analysis``."""
    if is_store_session_ref(path):
        return open_store_review(path)
    p = Path(path).expanduser()
    if not p.exists():
        raise ReviewError(f"{p} does not exist")
    if p.is_dir():
        tl_path = p / TIMELINE_NAME
        if not tl_path.is_file():
            raise ReviewError(f"{p} is not a session folder (no {TIMELINE_NAME})")
        audio = p / AUDIO_NAME
        return _load_layers(ReviewSession(
            source=p, audio_path=audio if audio.is_file() else None, original=_load_timeline(tl_path),
            notes_path=p / NOTES_NAME, corrections_path=p / CORRECTIONS_NAME))
    if p.name.endswith(".json"):
        tl = _load_timeline(p)
        stem = p.name[: -len(TIMELINE_SUFFIX)] if p.name.endswith(TIMELINE_SUFFIX) else p.stem
        audio = None
        src = (tl.source or {}).get("file")
        for cand in ([p.parent / Path(src).name] if src else []):
            if cand.is_file():
                audio = cand
        return _load_layers(ReviewSession(
            source=p, audio_path=audio, original=tl, notes_path=p.parent / f"{stem}.{NOTES_NAME}",
            corrections_path=p.parent / f"{stem}.{CORRECTIONS_NAME}"))
    from audio.decode import AudioDecodeError, probe

    try:
        info = probe(p)
    except AudioDecodeError as exc:
        raise ReviewError(str(exc).splitlines()[0] if str(exc) else f"{p}: not an audio file") from None
    if not info.duration:
        raise ReviewError(f"{p}: no audio in this file")
    return ReviewSession(source=p, audio_path=p, original=None)


LOUDNESS_HOP_S = 0.1


class Cancelled(Exception):
    """Raised inside a long job when the user cancelled it."""


def decode_for_playback(audio_path: str | os.PathLike, out_wav: str | os.PathLike,
                        on_progress=None, should_stop=None) -> tuple[Any, float]:
    """Decode the recording once to a 16 kHz mono int16 WAV at ``out_wav`` (created 0600), for exact
    seeking whatever the container, and return its loudness envelope (dB RMS per
    :data:`LOUDNESS_HOP_S`) and the hop. ``on_progress(fraction)``; ``should_stop()`` cancels."""
    import numpy as np
    import soundfile as sf

    from audio import SAMPLE_RATE
    from audio.decode import iter_blocks, probe

    info = probe(audio_path)
    total = info.duration or 1.0
    hop = int(SAMPLE_RATE * LOUDNESS_HOP_S)
    env: list[float] = []
    carry = np.zeros(0, dtype=np.float32)
    fd = os.open(out_wav, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    with sf.SoundFile(out_wav, "w", samplerate=SAMPLE_RATE, channels=1, subtype="PCM_16", format="WAV") as f:
        for block in iter_blocks(audio_path, info=info,
                                 on_progress=(lambda s: on_progress(min(1.0, s / total))) if on_progress
                                 else None):
            if should_stop is not None and should_stop():
                raise Cancelled()
            f.write(block)
            x = np.concatenate([carry, block]) if carry.size else block
            n = len(x) // hop * hop
            if n:
                rms = np.sqrt(np.mean(np.square(x[:n].reshape(-1, hop), dtype=np.float64), axis=1))
                env.extend((20 * np.log10(rms + 1e-6)).tolist())
            carry = x[n:]
    if carry.size:
        env.append(float(20 * np.log10(np.sqrt(np.mean(np.square(carry))) + 1e-6)))
    return np.asarray(env, dtype=np.float32), LOUDNESS_HOP_S


def markers(tl: Timeline, notes: list[Note] = ()) -> dict[str, list[tuple[float, float]]]:
    """Marker spans by kind: the cue events, questions and reflections (from the wording of each
    utterance, :mod:`analysis.questions`) and the bookmarks and notes, each sorted by start."""
    from analysis import questions

    out: dict[str, list[tuple[float, float]]] = {}
    for e in tl.events:
        out.setdefault(e.kind, []).append((e.start, e.end))
    for u in tl.utterances:
        kinds = questions.classify(u.text)
        if any(k.question for k in kinds):
            out.setdefault("question", []).append((u.start, u.end))
        if any(k.reflection for k in kinds):
            out.setdefault("reflection", []).append((u.start, u.end))
    out["bookmark"] = [(n.t, n.t) for n in notes]
    for spans in out.values():
        spans.sort()
    return out


def next_marker(spans: list[tuple[float, float]], t: float, forward: bool = True,
                eps: float = 0.05) -> float | None:
    """The start of the next (or previous) marker after (before) ``t``, or None."""
    if forward:
        return next((s for s, _e in spans if s > t + eps), None)
    return next((s for s, _e in reversed(spans) if s < t - eps), None)


@dataclass(frozen=True)
class SessionEntry:
    path: Path
    modified: float  # the timeline's modification time (epoch seconds)
    duration: float | None
    speakers: int | None
    notes: int


def list_sessions(root: str | os.PathLike | None = None) -> list[SessionEntry]:
    """The session folders under ``root`` (default: the app's sessions folder) that hold a timeline,
    newest first. Reads only each timeline's duration and speaker count (never its transcript)."""
    if root is None:
        from app.settings import sessions_dir

        root = sessions_dir()
    out = []
    for d in Path(root).iterdir() if Path(root).is_dir() else ():
        tl_path = d / TIMELINE_NAME
        if not tl_path.is_file():
            continue
        duration = speakers = None
        try:
            data = json.loads(tl_path.read_text(encoding="utf-8"))
            duration = float(data.get("duration"))
            speakers = len(data.get("speakers") or [])
        except (OSError, ValueError, TypeError):
            pass
        n_notes = 0
        with contextlib.suppress(OSError, ValueError, AttributeError):
            n_notes = len(json.loads((d / NOTES_NAME).read_text(encoding="utf-8")).get("notes", []))
        out.append(SessionEntry(d, tl_path.stat().st_mtime, duration, speakers, n_notes))
    return sorted(out, key=lambda e: (e.modified, e.path.name), reverse=True)


def recent_speaker_ids(tl: Timeline) -> list[str]:
    """Speaker ids in the timeline's order, plus any that only appear in turns."""
    ids = [s.id for s in tl.speakers]
    for t in tl.turns:
        if t.speaker not in ids:
            ids.append(t.speaker)
    return ids


def speaker_label(tl: Timeline, sp: str) -> str:
    s = tl.speaker(sp)
    return s.label if s else sp


def with_speakers_filled(tl: Timeline) -> Timeline:
    """A timeline whose speaker list names every speaker its turns use (older files may omit some)."""
    ids = recent_speaker_ids(tl)
    if len(ids) == len(tl.speakers):
        return tl
    known = {s.id for s in tl.speakers}
    extra = tuple(Speaker(i, i) for i in ids if i not in known)
    return tl.with_(speakers=tl.speakers + extra)


__all__ = ["Corrections", "Note", "ReviewError", "ReviewSession", "apply_corrections", "open_review",
           "speaker_label", "with_speakers_filled", "Utterance"]
