"""Who said a word: the one rule that attributes transcript words to the speakers of the turns.

Both the pipeline (:func:`attribute`, which relabels and splits utterances) and the cue engine
(:mod:`analysis.cues`, which counts words per speaker and per turn) use :class:`TurnIndex.pick`, so a
word is never given to one speaker in the timeline and to another in the figures.

The rule, for a word ``[start, end]`` and a tolerance ``tol`` (:data:`WORD_TOLERANCE_S`, 0.5 s):

1. **Within or next to a turn.** The candidates are the turns that overlap the word or lie within
   ``tol`` of it. The word goes to the speaker whose candidate turns overlap it most (overlap is
   summed per speaker, so in simultaneous speech the speaker covering more of the word wins); when
   no candidate overlaps it, to the speaker of the nearest candidate. Ties go to the preferred
   speakers in order (the utterance's own speaker when it is already attributed, then the previous
   word's: a speaker goes on until they stop), then to the earlier turn.
2. **Far from every turn** (diarization missed the speech that the transcriber heard): the word goes
   to the speaker of the nearest turn, among the speakers who have already started speaking, i.e.
   never to a speaker whose first turn starts more than ``tol`` after the word.
3. **Before anyone's first turn, by more than ``tol``:** no speaker (``None``); :func:`attribute`
   labels such words :data:`UNATTRIBUTED` and the cue engine does not count them.

Word times from the transcriber are loose (a first word can be stretched back over a second of
silence), which is why the word's whole span, not only its midpoint, is compared with the turns.

:func:`attribute` splits an utterance at each word where the speaker changes and rebuilds each part's
text from its words (an utterance that is not split keeps its text). An utterance without words goes,
whole, to the speaker the same rule gives for its whole span.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Protocol

from analysis.timeline import Turn, Utterance, Word

WORD_TOLERANCE_S = 0.5  # s: a word goes to a speaker only within this of one of their turns (rule 1)
UNATTRIBUTED = "?"  # speaker id of words that no speaker can have said (same as analysis.live's "?")


class _Span(Protocol):
    speaker: str
    start: float
    end: float


def _gap(t: _Span, start: float, end: float) -> float:
    return max(t.start - end, start - t.end, 0.0)


def _overlap(t: _Span, start: float, end: float) -> float:
    return max(0.0, min(end, t.end) - max(start, t.start))


class TurnIndex:
    """Turns sorted by ``(start, end)``, for the word rule. ``turns`` are any objects with
    ``speaker``, ``start`` and ``end`` (timeline turns, or the cue engine's segments)."""

    def __init__(self, turns: Iterable[_Span], tolerance: float = WORD_TOLERANCE_S) -> None:
        self.tolerance = float(tolerance)
        self.turns = sorted((t for t in turns if t.end >= t.start), key=lambda t: (t.start, t.end))
        self.starts = [t.start for t in self.turns]
        self.max_len = max((t.end - t.start for t in self.turns), default=0.0)
        self.first_start: dict[str, float] = {}
        for t in self.turns:
            self.first_start.setdefault(t.speaker, t.start)
        # index of the turn with the latest end among turns[: i + 1]
        self.latest: list[int] = []
        for i, t in enumerate(self.turns):
            best = self.latest[-1] if self.latest else i
            self.latest.append(i if t.end > self.turns[best].end else best)

    def near(self, start: float, end: float) -> list[int]:
        """Indices of the turns overlapping ``[start, end]`` or within the tolerance of it."""
        tol = self.tolerance
        lo = bisect.bisect_left(self.starts, start - tol - self.max_len)
        hi = bisect.bisect_right(self.starts, end + tol)
        return [i for i in range(lo, hi) if _gap(self.turns[i], start, end) <= tol]

    def pick(self, start: float, end: float, prefer: Sequence[str | None] = ()) -> int | None:
        """Index (into ``self.turns``) of the turn a word ``[start, end]`` belongs to, or ``None``."""
        cands = self.near(start, end)
        if cands:
            return self._best(cands, start, end, prefer)
        return self._far(start, end)

    def speaker(self, start: float, end: float, prefer: Sequence[str | None] = ()) -> str | None:
        i = self.pick(start, end, prefer)
        return None if i is None else self.turns[i].speaker

    def _best(self, cands: list[int], start: float, end: float, prefer: Sequence[str | None]) -> int:
        ov: dict[str, float] = {}
        gap: dict[str, float] = {}
        for i in cands:
            t = self.turns[i]
            ov[t.speaker] = ov.get(t.speaker, 0.0) + _overlap(t, start, end)
            gap[t.speaker] = min(gap.get(t.speaker, float("inf")), _gap(t, start, end))
        rank: dict[str, int] = {}
        for sp in prefer:
            if sp:
                rank.setdefault(sp, len(rank))
        first = {}
        for i in cands:
            first.setdefault(self.turns[i].speaker, i)
        speaker = min(ov, key=lambda sp: (-round(ov[sp], 9), round(gap[sp], 9),
                                          rank.get(sp, len(rank)), first[sp]))
        # the speaker's own turn: most overlap, then nearest, then longest
        mine = [i for i in cands if self.turns[i].speaker == speaker]
        return min(mine, key=lambda i: (-round(_overlap(self.turns[i], start, end), 9),
                                        round(_gap(self.turns[i], start, end), 9),
                                        -(self.turns[i].end - self.turns[i].start), i))

    def _far(self, start: float, end: float) -> int | None:
        """Nearest turn of a speaker who has started speaking by ``end + tolerance`` (rule 2)."""
        if not self.turns:
            return None
        k = bisect.bisect_right(self.starts, end)
        best, best_gap = None, float("inf")
        if k > 0:  # the turn ending last among those starting before the word: always allowed
            best = self.latest[k - 1]
            best_gap = _gap(self.turns[best], start, end)
        for i in range(k, len(self.turns)):
            t = self.turns[i]
            if t.start - end >= best_gap:
                break
            if self.first_start[t.speaker] <= end + self.tolerance:
                best, best_gap = i, _gap(t, start, end)
                break
        return best


def _join(words: Sequence[Word]) -> str:
    return " ".join(w.text.strip() for w in words if w.text.strip())


def attribute(utterances: Sequence[Utterance], turns: Sequence[Turn],
              tolerance: float = WORD_TOLERANCE_S) -> list[Utterance]:
    """Return the utterances re-labelled (and split where the speaker changes) by the turns.

    With no turns at all, the utterances are returned unchanged. Words no speaker can have said
    (rule 3) are labelled :data:`UNATTRIBUTED`.
    """
    index = TurnIndex(turns, tolerance)
    if not index.turns:
        return list(utterances)
    out: list[Utterance] = []
    for utt in utterances:
        if not utt.words:
            speaker = index.speaker(utt.start, utt.end) or UNATTRIBUTED
            out.append(Utterance(speaker, utt.start, utt.end, utt.text, ()))
            continue
        labels: list[str] = []
        prev: str | None = None
        for w in utt.words:
            prev = index.speaker(w.start, w.end, prefer=(prev,)) or UNATTRIBUTED
            labels.append(prev)
        groups: list[tuple[str, list[Word]]] = []
        for w, s in zip(utt.words, labels, strict=True):
            if groups and groups[-1][0] == s:
                groups[-1][1].append(w)
            else:
                groups.append((s, [w]))
        if len(groups) == 1:
            out.append(Utterance(groups[0][0], utt.start, utt.end, utt.text, tuple(utt.words)))
            continue
        for i, (speaker, words) in enumerate(groups):
            start = utt.start if i == 0 else words[0].start
            end = utt.end if i == len(groups) - 1 else words[-1].end
            out.append(Utterance(speaker, min(start, words[0].start), max(end, words[-1].end),
                                 _join(words), tuple(words)))
    return out
