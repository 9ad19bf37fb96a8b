"""Voice activity detection: webrtcvad frames smoothed by onset/offset hysteresis into speech regions.

A :class:`VadStage` takes consecutive 16 kHz mono float32 blocks (any length) and returns the speech
regions that have closed, in seconds on the session clock. It keeps only a partial frame and two
short ring buffers, so it runs in constant memory over a session of any length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from audio import SAMPLE_RATE  # webrtcvad accepts 8/16/32/48 kHz; Attune always feeds this rate

FRAME_MS_CHOICES = (10, 20, 30)


@dataclass(frozen=True)
class VadOptions:
    """Options of the voice activity detector. Durations are in milliseconds.

    frame_ms: webrtcvad frame length (10, 20 or 30 ms).
    aggressiveness: webrtcvad mode 0 (keeps most speech) .. 3 (rejects most non-speech).
    onset_ms / onset_ratio: a region opens when at least ``onset_ratio`` of the frames in the last
        ``onset_ms`` are voiced; it starts at the first frame of that window.
    offset_ms / offset_ratio: an open region closes when at least ``offset_ratio`` of the frames in
        the last ``offset_ms`` are unvoiced; it ends after its last voiced frame.
    pad_ms: added before each start and after each end (never across a neighbouring region).
    min_speech_ms: regions shorter than this (after padding) are dropped as clicks.
    """

    frame_ms: int = 30
    aggressiveness: int = 1
    onset_ms: int = 90
    onset_ratio: float = 0.66
    offset_ms: int = 300
    offset_ratio: float = 0.9
    pad_ms: int = 30
    min_speech_ms: int = 150

    def __post_init__(self) -> None:
        if self.frame_ms not in FRAME_MS_CHOICES:
            raise ValueError(f"frame_ms must be one of {FRAME_MS_CHOICES}")
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError("aggressiveness must be 0..3")


@dataclass(frozen=True)
class SpeechRegion:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


class VadStage:
    """Streaming webrtcvad with hysteresis: ``process(block) -> [SpeechRegion]``, ``flush()``, ``reset()``."""

    def __init__(self, options: VadOptions | None = None) -> None:
        import webrtcvad

        self.options = options or VadOptions()
        self._vad = webrtcvad.Vad(self.options.aggressiveness)
        self.frame_len = SAMPLE_RATE * self.options.frame_ms // 1000
        self.frame_s = self.options.frame_ms / 1000
        self._n_on = max(1, round(self.options.onset_ms / self.options.frame_ms))
        self._n_off = max(1, round(self.options.offset_ms / self.options.frame_ms))
        self.reset()

    def reset(self) -> None:
        self._rest = np.zeros(0, dtype=np.int16)
        self._frame_index = 0  # frames consumed so far
        self._ring: deque[tuple[int, bool]] = deque(maxlen=self._n_on)
        self._triggered = False
        self._start_frame = 0
        self._last_voiced = 0  # index of the last voiced frame while triggered
        self._last_end = 0.0  # end of the previous emitted region (padding never crosses it)
        self.voiced_frames = 0

    @property
    def time(self) -> float:
        """Seconds of audio consumed (frame-aligned)."""
        return self._frame_index * self.frame_s

    @property
    def speaking(self) -> bool:
        """True while a speech region is open (for live 'speaking now')."""
        return self._triggered

    def _frames(self, block: np.ndarray) -> Iterable[bytes]:
        pcm = np.clip(np.asarray(block, dtype=np.float32) * 32767.0, -32768, 32767).astype(np.int16)
        if self._rest.size:
            pcm = np.concatenate([self._rest, pcm])
        n = len(pcm) // self.frame_len
        self._rest = pcm[n * self.frame_len:].copy()
        for i in range(n):
            yield pcm[i * self.frame_len:(i + 1) * self.frame_len].tobytes()

    def process(self, block: np.ndarray) -> list[SpeechRegion]:
        out: list[SpeechRegion] = []
        for frame in self._frames(block):
            voiced = self._vad.is_speech(frame, SAMPLE_RATE)
            self.voiced_frames += voiced
            idx = self._frame_index
            self._frame_index += 1
            self._ring.append((idx, voiced))
            if not self._triggered:
                if sum(v for _, v in self._ring) >= self.options.onset_ratio * self._n_on:
                    self._triggered = True
                    self._start_frame = next(i for i, v in self._ring if v)
                    self._last_voiced = idx
                    self._ring = deque(self._ring, maxlen=self._n_off)
            else:
                if voiced:
                    self._last_voiced = idx
                unvoiced = sum(1 for _, v in self._ring if not v)
                if len(self._ring) == self._n_off and unvoiced >= self.options.offset_ratio * self._n_off:
                    region = self._close(self._last_voiced + 1)
                    if region:
                        out.append(region)
        return out

    def _close(self, end_frame: int) -> SpeechRegion | None:
        self._triggered = False
        self._ring = deque(maxlen=self._n_on)
        pad = self.options.pad_ms / 1000
        start = max(self._last_end, self._start_frame * self.frame_s - pad, 0.0)
        end = min(end_frame * self.frame_s + pad, self.time)
        if end - start < self.options.min_speech_ms / 1000:
            return None
        self._last_end = end
        return SpeechRegion(start, end)

    def flush(self) -> list[SpeechRegion]:
        """Close a region still open at the end of the audio."""
        if not self._triggered:
            return []
        region = self._close(self._last_voiced + 1)
        return [region] if region else []


def detect(blocks: Iterable[np.ndarray], options: VadOptions | None = None) -> list[SpeechRegion]:
    """Run VAD over all blocks and return every speech region."""
    stage = VadStage(options)
    regions: list[SpeechRegion] = []
    for block in blocks:
        regions.extend(stage.process(block))
    regions.extend(stage.flush())
    return regions


def frame_accuracy(
    hypothesis: Sequence[tuple[float, float]],
    reference: Sequence[tuple[float, float]],
    duration: float,
    step: float = 0.01,
) -> float:
    """Share of ``step``-second frames on which hypothesis and reference agree on speech/non-speech."""
    n = int(np.ceil(duration / step))
    if n == 0:
        return 1.0

    def mask(regions: Sequence[tuple[float, float]]) -> np.ndarray:
        m = np.zeros(n, dtype=bool)
        for s, e in regions:
            m[max(0, int(round(s / step))):max(0, int(round(e / step)))] = True
        return m

    return float(np.mean(mask(hypothesis) == mask(reference)))
