"""Talk time and talk share: the one rule, used by the cue engine, the live state and the benchmarks.

A speaker's **talk time** is the length of the union of their turns: turns of one speaker that overlap
or touch count once (a repeated turn adds nothing), and within a window ``[lo, hi]`` only the part inside
it counts. Their **talk share** is their talk time over the sum of everyone's talk time (0 for everyone
when no one has spoken). Fragments and backchannels count like any other speech (docs/cues.md,
``talk_time`` and ``talk_share``).

:func:`talk_time` computes it for a set of turns; :class:`TalkTime` keeps it up to date turn by turn
(the live pipeline, which sees one closed turn at a time over hours). The reference computation of
docs/cues.md (``analysis/cue_reference.py``) and the generator's truth (``app/synth.py``) keep their
own arithmetic on purpose: they are the independent truth these figures are checked against.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Protocol


class _Span(Protocol):
    speaker: str
    start: float
    end: float


class TalkTime:
    """Talk time per speaker, fed turn by turn in any order (mostly in time order: then each turn costs
    O(1)). ``speakers`` are reported even before they speak, with 0."""

    def __init__(self, speakers: Iterable[str] = ()) -> None:
        self._ivs: dict[str, list[list[float]]] = {}  # speaker -> disjoint [start, end], sorted
        self._seconds: dict[str, float] = {}
        for sp in speakers:
            self._ivs.setdefault(sp, [])
            self._seconds.setdefault(sp, 0.0)

    def add(self, speaker: str, start: float, end: float) -> None:
        """Count ``[start, end]`` for ``speaker`` (nothing when it is empty; the speaker is then known)."""
        ivs = self._ivs.setdefault(speaker, [])
        self._seconds.setdefault(speaker, 0.0)
        start, end = float(start), float(end)
        if end <= start:
            return
        if not ivs or start > ivs[-1][1]:  # after everything so far: the usual case
            ivs.append([start, end])
            self._seconds[speaker] += end - start
            return
        lo = bisect.bisect_left(ivs, start, key=lambda iv: iv[1])  # first one ending at or after start
        hi = bisect.bisect_right(ivs, end, key=lambda iv: iv[0])  # past the last one starting by end
        if lo < hi:
            merged = [min(start, ivs[lo][0]), max(end, ivs[hi - 1][1])]
            removed = sum(b - a for a, b in ivs[lo:hi])
        else:
            merged, removed = [start, end], 0.0
        ivs[lo:hi] = [merged]
        self._seconds[speaker] += (merged[1] - merged[0]) - removed

    def add_turn(self, turn: _Span) -> None:
        self.add(turn.speaker, turn.start, turn.end)

    def seconds(self) -> dict[str, float]:
        """``{speaker: talk time in seconds}`` (a copy)."""
        return dict(self._seconds)


def talk_time(turns: Iterable[_Span], lo: float = float("-inf"), hi: float = float("inf"),
              speakers: Iterable[str] = ()) -> dict[str, float]:
    """``{speaker: seconds}``: the union of each speaker's turns within ``[lo, hi]``. Every speaker of
    ``turns`` and of ``speakers`` is in it (0 when none of their speech is inside the window)."""
    acc = TalkTime(speakers)
    for t in sorted(turns, key=lambda t: (t.start, t.end)):
        acc.add(t.speaker, max(t.start, lo), min(t.end, hi))
    return acc.seconds()


def talk_share(talk: Mapping[str, float]) -> dict[str, float]:
    """``{speaker: share}`` (0..1) of the talk times ``talk``; all 0 when no one spoke."""
    total = sum(talk.values())
    return {sp: (v / total if total > 0 else 0.0) for sp, v in talk.items()}
