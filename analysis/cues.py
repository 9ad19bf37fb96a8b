"""The conversation cue engine: talk share, turns, pace, interruptions, backchannels, overlap, response
latency, silences, tone and questions, from who-spoke-when (turns) and what-was-said (utterances).

Pure Python (numpy; parselmouth for tone), never Qt. Every definition and threshold is documented in
``docs/cues.md``; every threshold is a field of :class:`CueOptions`.

The same code serves review and the live view: :class:`CueEngine` is fed turns and utterances as they
arrive (``add_turn``, ``add_utterance``, ``advance(now)``) and ``snapshot()`` returns the figures so
far; :func:`compute_cues` feeds a whole timeline to an engine and takes one snapshot, so the batch and
incremental figures agree by construction (``tests/test_cues.py`` checks it). A snapshot recomputes the
figures from the stored turns (a few milliseconds for an hour, see ``bench/bench_cues.py``); the costly
part, tone, is measured once per turn and cached.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import takewhile
from statistics import median
from typing import Any

import numpy as np

from analysis import prosody, questions
from analysis.attribution import WORD_TOLERANCE_S, TurnIndex
from analysis.session_state import WINDOW_S
from analysis.talk import talk_share, talk_time
from analysis.timeline import Event, Metrics, Turn, Utterance, Word

log = logging.getLogger(__name__)

AudioReader = Callable[[float, float], np.ndarray]  # read(start_s, end_s) -> 16 kHz mono float32
EVENT_KINDS = ("interruption", "backchannel", "overlap", "silence", "quick_response")
# A diarized segment shorter than this is a fragment, not a turn: its speech counts in talk time and its
# words count, but it takes part in no turn, backchannel, interruption, overlap or response (docs/cues.md).
MIN_TURN_S = 0.15  # s
# A response (latency, quick response) needs both floor turns, the one answered and the answer, to
# last at least this long, start to end: about one short word ("yes", "no").
MIN_RESPONSE_TURN_S = 0.3  # s
# No one speaking at least this long is a silence (the summary says so with this figure).
SILENCE_MIN_S = 3.0  # s


@dataclass(frozen=True)
class CueOptions:
    """Thresholds of the cue engine (seconds unless stated). See ``docs/cues.md`` for each cue."""

    window_s: float = WINDOW_S  # rolling window of the live figures (talk_share_window, *_rel)
    silence_min_s: float = SILENCE_MIN_S  # no one speaking at least this long is a silence
    backchannel_max_s: float = 1.0  # a backchannel is at most this long ...
    backchannel_max_words: int = 3  # ... and at most this many words (when words are known)
    floor_gap_s: float = 0.3  # the other speaker holds the floor: speaks within this before and after
    interruption_min_overlap_s: float = 0.2  # A still speaks at least this long after B's onset
    interruption_stop_s: float = 1.5  # ... and stops within this after B's onset
    interruption_resume_s: float = 0.5  # ... and does not resume within this after stopping
    overlap_min_s: float = 0.1  # shorter simultaneous speech is not an overlap event
    quick_response_s: float = 0.2  # a reply starting within this of the other's end (or before it)
    response_max_gap_s: float = 10.0  # a longer gap is not a response (latency not counted)
    turn_merge_gap_s: float = 1.5  # same-speaker speech with shorter pauses is one turn
    word_snap_s: float = WORD_TOLERANCE_S  # words go to a speaker within this of their turn (attribution)
    min_turn_s: float = MIN_TURN_S  # shorter segments are fragments: talk time and words only
    response_min_turn_s: float = MIN_RESPONSE_TURN_S  # both turns of a response last at least this
    pace_min_words: int = 3  # per-turn pace only for turns with at least this many words
    # the transcript's "?" marks its questions (True), or not (False: a sentence opening with a question
    # word counts too; the live recogniser drops "?"), or None: judged per utterance from its own text
    punctuated: bool | None = None
    tone: bool = True  # measure pitch/loudness when audio is given
    tone_min_clean_s: float = 0.1  # un-overlapped stretches shorter than this are not measured
    prosody: prosody.ProsodyOptions = field(default_factory=prosody.ProsodyOptions)


@dataclass(frozen=True)
class _Seg:
    speaker: str
    start: float
    end: float

    @property
    def dur(self) -> float:
        return self.end - self.start


@dataclass
class _Floor:
    speaker: str
    segs: list[int]
    start: float
    end: float


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _med(xs: Sequence[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(median(xs)) if xs else None


def _union(ivs: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for s, e in sorted(ivs):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _length(ivs: Iterable[tuple[float, float]], lo: float = -np.inf, hi: float = np.inf) -> float:
    return float(sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in ivs))


def _subtract(s: float, e: float, holes: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out, t = [], s
    for hs, he in holes:
        if he <= t or hs >= e:
            continue
        if hs > t:
            out.append((t, hs))
        t = max(t, he)
    if t < e:
        out.append((t, e))
    return out


class CueEngine:
    """Incremental cue engine. Feed turns/utterances in any order; ``snapshot()`` at any time."""

    def __init__(self, options: CueOptions | None = None, audio: AudioReader | None = None,
                 speakers: Iterable[str] = ()) -> None:
        self.options = options or CueOptions()
        self.audio = audio
        self.now = 0.0
        self._speakers: list[str] = list(dict.fromkeys(speakers))
        self._turns: list[Turn] = []
        self._utts: list[Utterance] = []
        self._tone_cache: dict[tuple, prosody.Frames] = {}
        self._word_cache: dict[int, tuple] = {}  # id(utterance) -> (utterance, nearby segments, result)
        self._syllables: dict[int, int] = {}  # id(word) -> syllables, for the snapshot being computed
        self._tone_failed: dict[tuple, str] = {}  # turn key -> error, for the snapshot being computed
        self._tone_logged: set[str] = set()

    # -- feeding -----------------------------------------------------------------------------------
    def add_speaker(self, speaker: str) -> None:
        if speaker not in self._speakers:
            self._speakers.append(speaker)

    def add_turn(self, turn: Turn) -> None:
        self.add_speaker(turn.speaker)
        self._turns.append(turn)
        self.now = max(self.now, float(turn.end))

    def add_utterance(self, utterance: Utterance) -> None:
        self._utts.append(utterance)
        self.now = max(self.now, float(utterance.end))

    def advance(self, now: float) -> None:
        """Move the session clock (the live view calls this with the audio clock)."""
        self.now = max(self.now, float(now))

    def process(self, turns: Iterable[Turn] = (), utterances: Iterable[Utterance] = (),
                now: float | None = None) -> tuple[dict[str, Any], list[Event]]:
        for t in turns:
            self.add_turn(t)
        for u in utterances:
            self.add_utterance(u)
        if now is not None:
            self.advance(now)
        return self.snapshot()

    # -- computing ---------------------------------------------------------------------------------
    def snapshot(self, duration: float | None = None) -> tuple[dict[str, Any], list[Event]]:
        """``({"session": {...}, "speakers": {id: {...}}}, events)`` for everything fed so far.

        ``duration`` (default: the clock set by ``advance``/the latest turn end) bounds the session;
        turns reaching outside ``[0, duration]`` are clipped to it.
        """
        o = self.options
        self._tone_failed = {}
        dur = max(0.0, float(self.now if duration is None else duration))
        segs = sorted({_Seg(t.speaker, max(0.0, float(t.start)), min(float(t.end), dur))
                       for t in self._turns}, key=lambda s: (s.start, s.end, s.speaker))
        segs = [s for s in segs if s.end > s.start]
        self._max_dur = max((s.dur for s in segs), default=0.0)
        by_sp: dict[str, list[int]] = {sp: [] for sp in self._speakers}
        for i, s in enumerate(segs):
            by_sp.setdefault(s.speaker, []).append(i)
        speakers = list(by_sp)
        assigned, sentence_kinds = self._assign_words(segs)
        seg_words: list[list[Word]] = [[] for _ in segs]
        for w, i in assigned:
            seg_words[i].append(w)
        for ws in seg_words:
            ws.sort(key=lambda w: (w.start, w.end))

        events: list[Event] = []
        frag = {i for i, s in enumerate(segs) if s.dur < o.min_turn_s}  # talk time and words only
        bc = self._backchannels(segs, by_sp, seg_words, frag, events)
        skip = bc | frag
        floors, floor_of = self._floors(segs, skip)
        inter_pairs = self._interruptions(segs, by_sp, skip, floors, floor_of, events)
        simultaneous = self._overlaps(segs, skip, inter_pairs, events)
        latencies = self._responses(floors, inter_pairs, events)
        union = _union((s.start, s.end) for s in segs)
        self._silences(union, dur, events)
        events.sort(key=lambda e: (e.start, e.end, EVENT_KINDS.index(e.kind), e.by or ""))

        lo = max(0.0, dur - o.window_s)
        talk, talk_w = talk_time(segs, speakers=speakers), talk_time(segs, lo, dur, speakers=speakers)
        share, share_w = talk_share(talk), talk_share(talk_w)
        turn_cues = self._turn_cues(segs, floors, seg_words)
        per_sp: dict[str, dict[str, Any]] = {}
        for sp in speakers:
            per_sp[sp] = self._speaker_metrics(sp, segs, by_sp[sp], bc, floors, seg_words, turn_cues,
                                               talk[sp], talk_w[sp], share[sp], share_w[sp], lo,
                                               latencies, events, sentence_kinds)
        n_overlap = sum(1 for e in events if e.kind == "overlap")
        session = {
            "duration": _r(dur), "speech_time": _r(_length(union)),
            "silence_time": _r(max(0.0, dur - _length(union))),
            "overlap_time": _r(sum(e.end - e.start for e in events if e.kind == "overlap")),
            "overlaps": n_overlap, "simultaneous_time": _r(simultaneous),
            "silences": sum(1 for e in events if e.kind == "silence"),
            "interruptions": sum(1 for e in events if e.kind == "interruption"),
            "backchannels": sum(1 for e in events if e.kind == "backchannel"),
            "window_s": o.window_s, "window_start": _r(lo),
            "talk_share_window": {sp: _r(share_w[sp]) for sp in speakers},
            "turn_cues": [{k: (_r(v) if isinstance(v, float) else v) for k, v in tc.items()}
                          for tc in turn_cues],
            "warnings": [f"tone (pitch, loudness) not measured for {n} turn(s): {err}"
                         for err, n in Counter(self._tone_failed.values()).items()],
        }
        return {"session": session, "speakers": per_sp}, events

    def metrics(self, duration: float | None = None) -> tuple[Metrics, tuple[Event, ...]]:
        m, ev = self.snapshot(duration)
        return Metrics(m["session"], m["speakers"]), tuple(ev)

    # -- stages --------------------------------------------------------------------------------------
    def _assign_words(self, segs: list[_Seg]
                      ) -> tuple[list[tuple[Word, int]], list[tuple[questions.SentenceKind, str]]]:
        """(word, segment index) pairs and (sentence kind, speaker) pairs, per utterance, cached.

        Who said each word is decided by the one attribution rule (:class:`analysis.attribution.
        TurnIndex`, tolerance ``word_snap_s``), preferring the utterance's own speaker, then the
        previous word's; the word then counts in the segment the rule picked. Words no speaker can
        have said are not counted. A cached result is reused while the segments near the utterance
        are unchanged (not for words far from every segment: their nearest segment may be anywhere)."""
        o = self.options
        starts = [s.start for s in segs]
        index = {s: i for i, s in enumerate(segs)}
        turns = TurnIndex(segs, o.word_snap_s)
        pairs: list[tuple[Word, int]] = []
        kinds: list[tuple[questions.SentenceKind, str]] = []
        cache: dict[int, tuple] = {}
        self._syllables = {}
        for u in sorted(self._utts, key=lambda u: (u.start, u.end, u.speaker)):
            lo = bisect.bisect_left(starts, u.start - o.word_snap_s - self._max_dur)
            hi = bisect.bisect_right(starts, u.end + o.word_snap_s)
            near = tuple(s for s in segs[lo:hi] if s.end >= u.start - o.word_snap_s)
            hit = self._word_cache.get(id(u))
            if hit is None or hit[0] is not u or hit[1] != near:
                hit = (u, near, *self._assign_utterance(u, turns))
            if hit[4]:
                cache[id(u)] = hit
            pairs += [(w, index[seg]) for w, seg in hit[2]]
            kinds += hit[3]
            self._syllables.update(hit[5])
        self._word_cache = cache
        return pairs, kinds

    def _assign_utterance(self, u: Utterance, turns: TurnIndex):
        """((word, segment) pairs, (sentence kind, speaker) pairs, cacheable, {id(word): syllables})."""
        out: list[tuple[Word, _Seg]] = []
        prev: str | None = None
        cacheable = True
        for w in u.words:
            if not turns.near(w.start, w.end):
                cacheable = False
            k = turns.pick(w.start, w.end, prefer=(u.speaker, prev))
            if k is not None:
                seg = turns.turns[k]
                prev = seg.speaker
                out.append((w, seg))
        who = {id(w): s.speaker for w, s in out}
        kinds = questions.kinds_by_speaker(u, lambda w: who.get(id(w)), self.options.punctuated)
        return out, kinds, cacheable, {id(w): questions.syllables(w.text) for w in u.words}

    def _syllable_count(self, words: Iterable[Word]) -> int:
        return sum(self._syllables[id(w)] for w in words)

    def _backchannels(self, segs, by_sp, seg_words, frag, events) -> set[int]:
        o = self.options
        short = {i for i, s in enumerate(segs) if s.dur <= o.backchannel_max_s and i not in frag
                 and (not seg_words[i] or len(seg_words[i]) <= o.backchannel_max_words)}
        holders = {}
        for sp, idx in by_sp.items():  # the floor holders: each speaker's longer segments
            hs = [segs[j] for j in idx if j not in short and j not in frag]
            holders[sp] = ([a.start for a in hs], np.maximum.accumulate([a.end for a in hs]) if hs else [])
        bc: set[int] = set()
        for i in sorted(short):
            b = segs[i]
            for sp, (starts, max_end) in holders.items():
                if sp == b.speaker or not starts:
                    continue
                k1 = bisect.bisect_right(starts, b.start) - 1
                k2 = bisect.bisect_right(starts, b.end + o.floor_gap_s) - 1
                before = k1 >= 0 and max_end[k1] >= b.start - o.floor_gap_s
                after = k2 >= 0 and max_end[k2] > b.end
                if before and after:
                    bc.add(i)
                    events.append(Event("backchannel", b.start, b.end, b.speaker, sp))
                    break
        return bc

    def _floors(self, segs, skip) -> tuple[list[_Floor], dict[int, int]]:
        floors: list[_Floor] = []
        floor_of: dict[int, int] = {}
        for i, s in enumerate(segs):
            if i in skip:
                continue
            f = floors[-1] if floors else None
            if f and f.speaker == s.speaker and s.start - f.end < self.options.turn_merge_gap_s:
                f.segs.append(i)
                f.end = max(f.end, s.end)
            else:
                floors.append(_Floor(s.speaker, [i], s.start, s.end))
            floor_of[i] = len(floors) - 1
        return floors, floor_of

    def _interruptions(self, segs, by_sp, skip, floors, floor_of, events) -> set[tuple[int, int]]:
        o = self.options
        pairs: set[tuple[int, int]] = set()
        starts = {sp: [segs[j].start for j in idx] for sp, idx in by_sp.items()}
        for i, b in enumerate(segs):
            if i in skip or floors[floor_of[i]].segs[0] != i:
                continue
            if floors[floor_of[i]].end - b.start <= o.backchannel_max_s:
                continue  # B does not go on past a backchannel's length
            best = None
            for sp, idx in by_sp.items():
                if sp == b.speaker:
                    continue
                k0 = bisect.bisect_left(starts[sp], b.start)
                for k in range(max(0, k0 - 4), k0):  # A's segments that start just before B's onset
                    j = idx[k]
                    a = segs[j]
                    if j in skip or not (a.start < b.start and
                                       b.start + o.interruption_min_overlap_s <= a.end
                                       <= b.start + o.interruption_stop_s):
                        continue
                    nxt = next((segs[m] for m in idx[k + 1:] if m not in skip and segs[m].start >= a.end), None)
                    if nxt is not None and nxt.start < a.end + o.interruption_resume_s:
                        continue
                    if best is None or a.end > segs[best].end:
                        best = j
            if best is not None:
                pairs.add((best, i))
                a = segs[best]
                events.append(Event("interruption", b.start, min(a.end, b.end), b.speaker, a.speaker))
        return pairs

    def _overlaps(self, segs, skip, inter_pairs, events) -> float:
        """Overlap events (simultaneous speech that is neither a backchannel nor an interruption);
        returns the total time during which two or more people speak."""
        o = self.options
        active: list[int] = []
        for i, b in enumerate(segs):
            active = [j for j in active if segs[j].end > b.start]
            for j in active:
                a = segs[j]
                if a.speaker == b.speaker or i in skip or j in skip or (j, i) in inter_pairs:
                    continue
                s, e = b.start, min(a.end, b.end)
                if e - s >= o.overlap_min_s:
                    events.append(Event("overlap", s, e, b.speaker, a.speaker))
            active.append(i)
        # time with >= 2 speakers: sweep over per-speaker unions
        pts = []
        for sp in {s.speaker for s in segs}:
            for s, e in _union((x.start, x.end) for x in segs if x.speaker == sp):
                pts += [(s, 1), (e, -1)]
        pts.sort(key=lambda p: (p[0], p[1]))
        n, last, sim = 0, 0.0, 0.0
        for t, d in pts:
            if n >= 2:
                sim += t - last
            n += d
            last = t
        return sim

    def _responses(self, floors, inter_pairs, events) -> dict[str, list[float]]:
        """Latency of each turn that follows another speaker's turn; quick responses as events."""
        o = self.options
        interrupting = {i for _, i in inter_pairs}
        lat: dict[str, list[float]] = {}
        for k in range(1, len(floors)):
            f, p = floors[k], floors[k - 1]
            if f.speaker == p.speaker:
                continue
            if min(f.end - f.start, p.end - p.start) < o.response_min_turn_s:
                continue  # a blip answers nothing and is answered by nothing
            gap = f.start - p.end
            if gap > o.response_max_gap_s:
                continue
            lat.setdefault(f.speaker, []).append(gap)
            if gap <= o.quick_response_s and f.segs[0] not in interrupting:
                events.append(Event("quick_response", min(f.start, p.end), max(f.start, p.end),
                                    f.speaker, p.speaker))
        return lat

    def _silences(self, union, dur, events) -> None:
        t = 0.0
        for s, e in union + [(dur, dur)]:
            if s - t >= self.options.silence_min_s:
                events.append(Event("silence", t, s))
            t = max(t, e)

    def _tone(self, segs, i) -> prosody.Frames:
        o = self.options
        s = segs[i]
        if self.audio is None or not o.tone:
            return prosody.Frames.empty()
        near = list(takewhile(lambda x: x.start >= s.start - self._max_dur, reversed(segs[:i])))
        near += takewhile(lambda x: x.start < s.end, segs[i + 1:])
        others = _union((x.start, x.end) for x in near if x.speaker != s.speaker and x.end > s.start)
        clean = tuple((a, b) for a, b in _subtract(s.start, s.end, others) if b - a >= o.tone_min_clean_s)
        key = (s.speaker, s.start, s.end, clean)
        if key not in self._tone_cache:
            try:  # audio no longer held (the live ring) reads as empty; an error is a real failure
                parts = [prosody.frames(self.audio(a, b), o.prosody) for a, b in clean]
            except Exception as exc:  # reported, not cached: the next snapshot measures the turn again
                err = f"{type(exc).__name__}: {exc}"[:200]
                self._tone_failed[key] = err
                if err not in self._tone_logged:
                    self._tone_logged.add(err)
                    log.warning("tone could not be measured (%s); those turns have no pitch or loudness", err)
                return prosody.Frames.empty()
            self._tone_cache[key] = prosody.pool(parts)
        return self._tone_cache[key]

    def _turn_cues(self, segs, floors, seg_words) -> list[dict[str, Any]]:
        o = self.options
        rows = []
        for f in floors:
            ws = [w for i in f.segs for w in seg_words[i]]
            speech = _length(_union((segs[i].start, segs[i].end) for i in f.segs))
            art_t = _length(_union((w.start, w.end) for w in ws))
            n = len(ws)
            row: dict[str, Any] = {
                "speaker": f.speaker, "start": f.start, "end": f.end, "speech_time": speech, "words": n,
                "wpm": 60.0 * n / speech if n >= o.pace_min_words and speech > 0 else None,
                "articulation_rate": (self._syllable_count(ws) / art_t
                                      if n >= o.pace_min_words and art_t > 0 else None),
            }
            row.update(prosody.summarise(prosody.pool([self._tone(segs, i) for i in f.segs]), o.prosody))
            rows.append(row)
        base: dict[tuple[str, str], float | None] = {}
        for key in ("wpm", "articulation_rate", "pitch_median_st", "pitch_variability_st", "loudness_dbfs"):
            for sp in {r["speaker"] for r in rows}:
                base[sp, key] = _med([r[key] for r in rows if r["speaker"] == sp])
        for r in rows:
            for key in ("wpm", "articulation_rate"):
                b = base[r["speaker"], key]
                r[key + "_rel"] = r[key] / b if r[key] is not None and b else None
            for key, rel in (("pitch_median_st", "pitch_median_rel_st"),
                             ("pitch_variability_st", "pitch_variability_rel_st"),
                             ("loudness_dbfs", "loudness_rel_db")):
                b = base[r["speaker"], key]
                r[rel] = r[key] - b if r[key] is not None and b is not None else None
        return rows

    def _speaker_metrics(self, sp, segs, idx, bc, floors, seg_words, turn_cues, talk, talk_w, share,
                         share_w, lo, latencies, events, sentence_kinds) -> dict[str, Any]:
        mine = [f for f in floors if f.speaker == sp]
        rows = [r for r in turn_cues if r["speaker"] == sp]
        recent = [r for r in rows if r["end"] > lo]
        lengths = [f.end - f.start for f in mine]
        ws = [w for i in idx for w in seg_words[i]]
        ws_w = [w for i in idx for w in seg_words[i] if w.end > lo]
        art_t = _length(_union((w.start, w.end) for w in ws))
        n = len(ws)
        lat = latencies.get(sp, [])
        wpm_med = _med([r["wpm"] for r in rows])
        art_med = _med([r["articulation_rate"] for r in rows])
        wpm_w = 60.0 * len(ws_w) / talk_w if talk_w > 0 and ws_w else None
        art = self._syllable_count(ws) / art_t if art_t > 0 else None
        m: dict[str, Any] = {
            "talk_time": _r(talk), "talk_share": _r(share),
            "talk_time_window": _r(talk_w), "talk_share_window": _r(share_w),
            "turns": len(mine), "median_turn": _r(_med(lengths) or 0.0),
            "longest_monologue": _r(max(lengths, default=0.0)),
            "words": n, "wpm": _r(60.0 * n / talk if talk > 0 and n else None, 1),
            "wpm_median_turn": _r(wpm_med, 1), "wpm_window": _r(wpm_w, 1),
            "wpm_rel": _r(wpm_w / wpm_med if wpm_w is not None and wpm_med else None),
            "articulation_rate": _r(art), "articulation_rate_median_turn": _r(art_med),
            "articulation_rate_rel": _r(_med([r["articulation_rate_rel"] for r in recent])),
            "interruptions_made": sum(1 for e in events if e.kind == "interruption" and e.by == sp),
            "interruptions_received": sum(1 for e in events if e.kind == "interruption" and e.of == sp),
            "backchannels": sum(1 for e in events if e.kind == "backchannel" and e.by == sp),
            "overlaps_started": sum(1 for e in events if e.kind == "overlap" and e.by == sp),
            "quick_responses": sum(1 for e in events if e.kind == "quick_response" and e.by == sp),
            "responses": len(lat), "response_latency_median": _r(_med(lat)),
            "response_latency_p25": _r(float(np.percentile(lat, 25)) if lat else None),
            "response_latency_p75": _r(float(np.percentile(lat, 75)) if lat else None),
        }
        for key, rel in (("pitch_median_st", "pitch_median_rel_st"),
                         ("pitch_variability_st", "pitch_variability_rel_st"),
                         ("loudness_dbfs", "loudness_rel_db")):
            m[key] = _r(_med([r[key] for r in rows]))
            m[rel] = _r(_med([r[rel] for r in recent]))
        m.update(questions.counts_for(sp, sentence_kinds))
        return m


def compute_cues(turns: Sequence[Turn], utterances: Sequence[Utterance], duration: float,
                 options: CueOptions | None = None, audio: AudioReader | None = None,
                 speakers: Iterable[str] = ()) -> tuple[Metrics, tuple[Event, ...]]:
    """Batch entry point: the cues of a whole timeline (``audio`` is ``read(start, end)`` for tone).

    ``speakers`` lists speaker ids to report even if they never speak. Turns are clipped to
    ``[0, duration]``.
    """
    engine = CueEngine(options, audio, speakers)
    for t in turns:
        engine.add_turn(t)
    for u in utterances:
        engine.add_utterance(u)
    return engine.metrics(duration)
