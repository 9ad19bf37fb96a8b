"""Attributing transcript words and utterances to the speakers of the diarization turns.

Each word goes to the speaker whose turns overlap it most (the nearest turn when none overlaps); an
utterance whose words change speaker is split at that word, and each part's text is rebuilt from its
words (an utterance that is not split keeps its text). An utterance without words goes, whole, to the speaker with the most overlap (nearest turn when
none). Turns of different speakers may overlap: overlap is counted per speaker, so in a stretch of
simultaneous speech the speaker covering more of the word wins. Ties go to the speaker already
speaking (the previous word's), then to the first turn in time.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from analysis.timeline import Turn, Utterance, Word


class _TurnIndex:
    """Turns sorted by start, for overlap and nearest-turn queries."""

    def __init__(self, turns: Sequence[Turn]) -> None:
        self.turns = sorted((t for t in turns if t.end >= t.start), key=lambda t: (t.start, t.end))
        self.starts = [t.start for t in self.turns]
        self.max_len = max((t.duration for t in self.turns), default=0.0)
        # index of the turn with the latest end among turns[: i + 1]
        self.latest: list[int] = []
        for i, t in enumerate(self.turns):
            best = self.latest[-1] if self.latest else i
            self.latest.append(i if t.end > self.turns[best].end else best)

    def overlaps(self, start: float, end: float) -> dict[str, float]:
        """Seconds of overlap per speaker with [start, end]."""
        out: dict[str, float] = {}
        lo = bisect.bisect_left(self.starts, start - self.max_len)
        hi = bisect.bisect_right(self.starts, end)
        for t in self.turns[lo:hi]:
            ov = min(end, t.end) - max(start, t.start)
            if ov > 0 or (ov == 0 and start == end and t.start <= start <= t.end):
                out[t.speaker] = out.get(t.speaker, 0.0) + max(ov, 0.0)
        return out

    def nearest(self, start: float, end: float) -> str | None:
        i = bisect.bisect_right(self.starts, end)
        before = self.turns[self.latest[i - 1]] if i > 0 else None
        after = self.turns[i] if i < len(self.turns) else None
        if before is None:
            return after.speaker if after else None
        if after is None or max(start - before.end, 0.0) <= after.start - end:
            return before.speaker
        return after.speaker

    def speaker_for(self, start: float, end: float, prefer: str | None = None) -> str | None:
        ov = self.overlaps(start, end)
        if ov:
            top = max(ov.values())
            winners = [s for s, v in ov.items() if v >= top - 1e-9]
            if prefer in winners:
                return prefer
            return winners[0]
        return self.nearest(start, end)


def _join(words: Sequence[Word]) -> str:
    return " ".join(w.text.strip() for w in words if w.text.strip())


def attribute(utterances: Sequence[Utterance], turns: Sequence[Turn]) -> list[Utterance]:
    """Return the utterances re-labelled (and split where the speaker changes) by the turns.

    With no turns at all, the utterances are returned unchanged.
    """
    index = _TurnIndex(turns)
    if not index.turns:
        return list(utterances)
    out: list[Utterance] = []
    for utt in utterances:
        if not utt.words:
            speaker = index.speaker_for(utt.start, utt.end, prefer=utt.speaker) or utt.speaker
            out.append(Utterance(speaker, utt.start, utt.end, utt.text, ()))
            continue
        labels: list[str] = []
        prev: str | None = None
        for w in utt.words:
            prev = index.speaker_for(w.start, w.end, prefer=prev) or utt.speaker
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
