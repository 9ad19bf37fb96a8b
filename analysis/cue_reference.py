"""Reference computation of the timing cues, written from the definitions in ``docs/cues.md`` alone.

This is the *truth* side of the cue measurements: it takes each speaker's speech intervals as they
really are (measured on each voice's own rendered track by :mod:`app.synth`, or on each channel of a
two-channel call by :func:`channel_intervals`) and computes talk time and share, floor turns, turn
changes, backchannels, interruptions, overlaps, response latencies and quick responses, silences and the
longest monologue.

It deliberately shares no code and no option object with the cue engine (``analysis/cues.py``, which it
never imports): the thresholds below are the documented definitions (``docs/cues.md``, "Options"; a test
checks the two against each other), and the points the documentation left open are decided in
``docs/cues.md``, "Reference computation". When the engine and this module disagree on the same
intervals, one of them does not do what the documentation says.

Only timing cues: no words, so a backchannel is judged by its length alone (the documentation's word
limit applies "when its words are known"), and pace, tone and questions are not computed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from statistics import median

import numpy as np

from analysis.timeline import Event

# -- definitions (docs/cues.md, "Options": the documented defaults) --------------------------------


@dataclass(frozen=True)
class Definitions:
    """The thresholds of the cue definitions, named as in docs/cues.md's options table (seconds)."""

    silence_min_s: float = 3.0
    backchannel_max_s: float = 1.0
    floor_gap_s: float = 0.3
    interruption_min_overlap_s: float = 0.2
    interruption_stop_s: float = 1.5
    interruption_resume_s: float = 0.5
    overlap_min_s: float = 0.1
    quick_response_s: float = 0.2
    response_max_gap_s: float = 10.0
    turn_merge_gap_s: float = 1.5
    min_turn_s: float = 0.15
    response_min_turn_s: float = 0.3


DEFINITIONS = Definitions()
DEFINITION_NAMES = tuple(f.name for f in fields(Definitions))

# -- speech intervals from audio ---------------------------------------------------------------------
# A *segment* is a stretch of one speaker's speech: pauses shorter than this inside it are bridged
# (a stop consonant or a breath is not a pause in the conversation). The dev set's derived RTTMs bridge
# the same 0.3 s; Attune's VAD closes a region after about 0.27 s of non-speech.
SEGMENT_BRIDGE_S = 0.3
# Channel VAD (real calls, one speaker per channel): webrtcvad on the channel's own samples, 30-ms frames,
# aggressiveness 3 (the strictest: on the dev calls it marks 0-1 % of the frames where only the other
# person speaks and 0-7 % of silent frames, against 80-96 % of the channel's own speech), voiced runs
# shorter than 3 frames (90 ms: clicks) dropped, then pauses shorter than SEGMENT_BRIDGE_S bridged.
CHANNEL_VAD_FRAME_MS = 30
CHANNEL_VAD_AGGRESSIVENESS = 3
CHANNEL_VAD_MIN_FRAMES = 3


def runs(active: Sequence[bool] | np.ndarray, hop_s: float, frame_s: float | None = None,
         min_frames: int = 1) -> list[tuple[float, float]]:
    """Runs of consecutive active frames as ``(start, end)`` seconds; frame ``i`` covers
    ``[i·hop_s, i·hop_s + frame_s)``. Runs of fewer than ``min_frames`` frames are dropped."""
    a = np.asarray(active, dtype=bool)
    frame_s = hop_s if frame_s is None else frame_s
    if not a.any():
        return []
    d = np.diff(np.concatenate([[0], a.astype(np.int8), [0]]))
    on, off = np.flatnonzero(d == 1), np.flatnonzero(d == -1)  # off: one past the last active frame
    return [(float(i * hop_s), float((j - 1) * hop_s + frame_s)) for i, j in zip(on, off, strict=True)
            if j - i >= min_frames]


def bridge(intervals: Iterable[tuple[float, float]], max_gap_s: float = SEGMENT_BRIDGE_S
           ) -> list[tuple[float, float]]:
    """Union of the intervals, with gaps shorter than ``max_gap_s`` closed."""
    out: list[list[float]] = []
    for s, e in sorted(intervals):
        if e <= s:
            continue
        if out and s - out[-1][1] < max_gap_s:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(a, b) for a, b in out]


def channel_intervals(x: np.ndarray, sample_rate: int, bridge_s: float = SEGMENT_BRIDGE_S,
                      aggressiveness: int = CHANNEL_VAD_AGGRESSIVENESS, frame_ms: int = CHANNEL_VAD_FRAME_MS,
                      min_frames: int = CHANNEL_VAD_MIN_FRAMES) -> list[tuple[float, float]]:
    """Speech intervals of one channel that carries one speaker (webrtcvad on that channel alone).

    ``x`` is float mono at 8, 16, 32 or 48 kHz (webrtcvad's rates; the dev calls are 8 kHz)."""
    import webrtcvad

    if sample_rate not in (8000, 16000, 32000, 48000):
        raise ValueError(f"webrtcvad needs 8/16/32/48 kHz, not {sample_rate}")
    vad = webrtcvad.Vad(aggressiveness)
    n = sample_rate * frame_ms // 1000
    pcm = np.clip(np.asarray(x, dtype=np.float64) * 32767.0, -32768, 32767).astype(np.int16)
    frames = len(pcm) // n
    active = [vad.is_speech(pcm[i * n:(i + 1) * n].tobytes(), sample_rate) for i in range(frames)]
    return bridge(runs(active, frame_ms / 1000, min_frames=min_frames), bridge_s)


# -- the cues -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    speaker: str
    start: float
    end: float

    @property
    def dur(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class FloorTurn:
    speaker: str
    start: float
    end: float
    first: Segment  # the segment that opened it

    @property
    def dur(self) -> float:
        return self.end - self.start


@dataclass
class Reference:
    """The reference cues of one session (seconds)."""

    duration: float
    speakers: list[str]
    segments: list[Segment]
    talk_time: dict[str, float]
    speech_time: float  # union of everyone's speech
    simultaneous_time: float  # two or more people speaking
    floor_turns: list[FloorTurn]
    events: list[Event]
    latencies: dict[str, list[float]]  # response latencies of each speaker (as the one responding)
    defs: Definitions = field(default=DEFINITIONS)

    @property
    def talk_share(self) -> dict[str, float]:
        total = sum(self.talk_time.values())
        return {sp: (t / total if total else 0.0) for sp, t in self.talk_time.items()}

    @property
    def silence_time(self) -> float:
        return max(0.0, self.duration - self.speech_time)

    def events_of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def count(self, kind: str, by: str | None = None) -> int:
        return sum(1 for e in self.events if e.kind == kind and (by is None or e.by == by))

    @property
    def overlaps(self) -> int:
        return self.count("overlap")

    @property
    def overlap_time(self) -> float:
        return sum(e.end - e.start for e in self.events_of("overlap"))

    @property
    def silences(self) -> int:
        return self.count("silence")

    @property
    def quick_responses(self) -> int:
        return self.count("quick_response")

    @property
    def turn_changes(self) -> int:
        """Consecutive floor turns by different speakers."""
        return sum(1 for p, f in zip(self.floor_turns, self.floor_turns[1:], strict=False)
                   if p.speaker != f.speaker)

    def turns(self, speaker: str) -> int:
        return sum(1 for f in self.floor_turns if f.speaker == speaker)

    def longest_monologue(self, speaker: str | None = None) -> float:
        return max((f.dur for f in self.floor_turns if speaker is None or f.speaker == speaker), default=0.0)

    def response_latency_median(self, speaker: str | None = None) -> float | None:
        """Median response latency of ``speaker`` (of everyone's responses when None)."""
        xs = self.latencies.get(speaker, []) if speaker is not None else \
            [x for v in self.latencies.values() for x in v]
        return float(median(xs)) if xs else None


def reference_cues(intervals: Mapping[str, Iterable[tuple[float, float]]], duration: float,
                   defs: Definitions = DEFINITIONS) -> Reference:
    """The timing cues of per-speaker speech intervals ``{speaker: [(start, end), ...]}`` on a session
    of ``duration`` seconds, by the definitions of docs/cues.md."""
    duration = max(0.0, float(duration))
    speakers = list(intervals)
    segs: list[Segment] = []
    own: dict[str, list[Segment]] = {}
    for sp in speakers:
        clipped = ((max(0.0, float(s)), min(duration, float(e))) for s, e in intervals[sp])
        own[sp] = [Segment(sp, s, e) for s, e in bridge(clipped, 0.0)]  # union of touching/overlapping
        segs += own[sp]
    segs.sort(key=lambda s: (s.start, s.end, s.speaker))
    talk = {sp: sum(s.dur for s in own[sp]) for sp in speakers}

    fragment = {s for s in segs if s.dur < defs.min_turn_s}
    events: list[Event] = []
    backchannel = _backchannels(segs, own, fragment, defs, events)
    cue = [s for s in segs if s not in fragment and s not in backchannel]  # in start order
    floors = _floor_turns(cue, defs)
    inter = _interruptions(floors, cue, defs, events)
    _overlaps(cue, inter, defs, events)
    latencies = _responses(floors, {b for _, b in inter}, defs, events)
    union = bridge(((s.start, s.end) for s in segs), 0.0)
    _silences(union, duration, defs, events)
    events.sort(key=lambda e: (e.start, e.end, e.kind, e.by or ""))
    return Reference(duration, speakers, segs, talk, sum(b - a for a, b in union),
                     _simultaneous(own), floors, events, latencies, defs)


def _backchannels(segs, own, fragment, defs, events) -> set[Segment]:
    """A short segment of B inside another speaker A's floor: A has floor speech (a segment longer than
    a backchannel can be) that started before B's onset and reaches within ``floor_gap_s`` of it, and
    floor speech that goes on past B's end and starts no later than ``floor_gap_s`` after it."""
    floor = {sp: [s for s in ss if s.dur > defs.backchannel_max_s] for sp, ss in own.items()}
    out: set[Segment] = set()
    for b in segs:
        if b in fragment or b.dur > defs.backchannel_max_s:
            continue
        holders = []
        for sp, fs in floor.items():
            if sp == b.speaker:
                continue
            before = any(a.start < b.start and a.end >= b.start - defs.floor_gap_s for a in fs)
            after = any(a.end > b.end and a.start <= b.end + defs.floor_gap_s for a in fs)
            if before and after:
                near = sum(max(0.0, min(a.end, b.end + defs.floor_gap_s) - max(a.start, b.start - defs.floor_gap_s))
                           for a in fs)
                holders.append((-near, sp))
        if holders:
            out.add(b)
            events.append(Event("backchannel", b.start, b.end, b.speaker, min(holders)[1]))
    return out


def _floor_turns(cue: list[Segment], defs) -> list[FloorTurn]:
    """Runs of one speaker's cue segments, in start order, with pauses shorter than turn_merge_gap_s and
    no other speaker's cue segment starting in between."""
    floors: list[FloorTurn] = []
    for s in cue:
        last = floors[-1] if floors else None
        if last is not None and last.speaker == s.speaker and s.start - last.end < defs.turn_merge_gap_s:
            floors[-1] = FloorTurn(s.speaker, last.start, max(last.end, s.end), last.first)
        else:
            floors.append(FloorTurn(s.speaker, s.start, s.end, s))
    return floors


def _interruptions(floors, cue, defs, events) -> set[tuple[Segment, Segment]]:
    """(A's segment, B's segment) pairs. B's segment opens a floor turn lasting more than
    backchannel_max_s from its onset; A's cue segment started before B's onset, goes on at least
    interruption_min_overlap_s after it and ends within interruption_stop_s of it, and A's next cue
    segment starts interruption_resume_s or more after that end. Of several such A, the one who
    speaks longest after the onset."""
    by_sp: dict[str, list[Segment]] = {}
    for s in cue:
        by_sp.setdefault(s.speaker, []).append(s)
    pairs: set[tuple[Segment, Segment]] = set()
    for f in floors:
        b = f.first
        if f.end - b.start <= defs.backchannel_max_s:
            continue
        best = None
        for sp, ss in by_sp.items():
            if sp == b.speaker:
                continue
            for k, a in enumerate(ss):
                if not (a.start < b.start and b.start + defs.interruption_min_overlap_s <= a.end
                        <= b.start + defs.interruption_stop_s):
                    continue
                if k + 1 < len(ss) and ss[k + 1].start < a.end + defs.interruption_resume_s:
                    continue  # A resumed: A did not yield the floor
                if best is None or a.end > best.end:
                    best = a
        if best is not None:
            pairs.add((best, b))
            events.append(Event("interruption", b.start, best.end, b.speaker, best.speaker))
    return pairs


def _overlaps(cue, inter, defs, events) -> None:
    """One event per pair of overlapping cue segments of two speakers whose common part lasts at least
    overlap_min_s, unless the pair is an interruption; ``by`` is the one who started later."""
    for i, a in enumerate(cue):
        for b in cue[i + 1:]:
            if b.start >= a.end:
                break
            if a.speaker == b.speaker or (a, b) in inter or (b, a) in inter:
                continue
            s, e = max(a.start, b.start), min(a.end, b.end)
            if e - s >= defs.overlap_min_s:
                later, earlier = (b, a) if (b.start, b.end) >= (a.start, a.end) else (a, b)
                events.append(Event("overlap", s, e, later.speaker, earlier.speaker))


def _responses(floors, interrupting, defs, events) -> dict[str, list[float]]:
    """Latency ``B.start - A.end`` of each floor turn of B that follows a floor turn of A (A ≠ B), both
    at least response_min_turn_s long, gap at most response_max_gap_s; quick response when the latency
    is at most quick_response_s and B's turn is not an interruption."""
    lat: dict[str, list[float]] = {}
    for p, f in zip(floors, floors[1:], strict=False):
        if p.speaker == f.speaker or min(p.dur, f.dur) < defs.response_min_turn_s:
            continue
        gap = f.start - p.end
        if gap > defs.response_max_gap_s:
            continue
        lat.setdefault(f.speaker, []).append(gap)
        if gap <= defs.quick_response_s and f.first not in interrupting:
            events.append(Event("quick_response", min(p.end, f.start), max(p.end, f.start),
                                f.speaker, p.speaker))
    return lat


def _silences(union, duration, defs, events) -> None:
    edges = [0.0] + [x for s, e in union for x in (s, e)] + [duration]
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a >= defs.silence_min_s:
            events.append(Event("silence", a, b))


def _simultaneous(own: Mapping[str, list[Segment]]) -> float:
    points = sorted((t, d) for ss in own.values() for s in ss for t, d in ((s.start, 1), (s.end, -1)))
    n, last, total = 0, 0.0, 0.0
    for t, d in points:
        if n >= 2:
            total += t - last
        n, last = n + d, t
    return total


def intervals_of(turns: Iterable) -> dict[str, list[tuple[float, float]]]:
    """``{speaker: [(start, end)]}`` from objects with ``speaker``, ``start`` and ``end`` (e.g. Turns)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for t in turns:
        out.setdefault(t.speaker, []).append((float(t.start), float(t.end)))
    return out
