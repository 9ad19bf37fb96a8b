"""A stand-in for the streaming diarizer that replays known turns (demos, screenshots and tests).

It has the streaming diarizer's interface (``process``/``flush``/``reset``/``current_speaker``) and
releases each turn once the audio clock passes its end, so a live session on a generated dialogue
shows that dialogue's exact speakers.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from analysis.timeline import Turn
from audio import SAMPLE_RATE


class ScriptedDiarizer:
    def __init__(self, turns: Iterable[Turn]) -> None:
        self.turns = sorted(turns, key=lambda t: t.end)
        self.reset()

    def reset(self) -> None:
        self.t, self._i = 0.0, 0

    def process(self, samples: np.ndarray) -> list[Turn]:
        self.t += len(samples) / SAMPLE_RATE
        out = []
        while self._i < len(self.turns) and self.turns[self._i].end <= self.t:
            out.append(self.turns[self._i])
            self._i += 1
        return out

    def flush(self) -> list[Turn]:
        out, self._i = self.turns[self._i:], len(self.turns)
        return out

    def current_speaker(self) -> str | None:
        active = [t for t in self.turns if t.start <= self.t < t.end]
        return max(active, key=lambda t: t.start).speaker if active else None
