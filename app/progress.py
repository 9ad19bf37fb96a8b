"""Progress bars per analysis stage on a terminal (quiet when output is not a terminal)."""

from __future__ import annotations

import sys

STAGE_LABELS = {
    "decode": "decode + VAD",
    "diarize": "diarization",
    "transcribe": "transcription",
    "cues": "cues",
}


class StageProgress:
    """A ``ProgressFn`` (``(stage, fraction)``) drawing one tqdm bar per stage on stderr."""

    def __init__(self, enabled: bool = True, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self._bars: dict = {}

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            for other in self._bars.values():  # a new stage means the previous ones are done
                other.close()
            bar = tqdm(total=100, desc=f"  {STAGE_LABELS.get(stage, stage):<14}", file=self.stream,
                       bar_format="{desc} {bar} {percentage:3.0f}% {elapsed}", leave=True)
            self._bars[stage] = bar
        bar.n = round(100 * max(0.0, min(1.0, fraction)))
        bar.refresh()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
