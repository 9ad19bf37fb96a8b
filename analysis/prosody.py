"""Tone measurements with Praat's pitch tracker (praat-parselmouth): pitch and loudness, nothing more.

What is measured (see ``docs/cues.md``): the fundamental frequency of voiced 10-ms frames, in
semitones re 100 Hz; its median and its variability (a robust standard deviation, 1.4826 x the median
absolute deviation, in semitones); and the loudness as the RMS level of the speech in dBFS (0 dBFS is a
full-scale square wave). These describe the voice, not emotions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from audio import SAMPLE_RATE

PITCH_STEP_S = 0.01
REF_HZ = 100.0  # semitone reference
MAD_TO_SD = 1.4826
SILENCE_DBFS = -120.0  # level reported for digital silence


@dataclass(frozen=True)
class ProsodyOptions:
    """pitch_floor_hz / pitch_ceiling_hz: Praat's pitch search range (covers low male to child voices).
    min_voiced_frames: fewer voiced frames than this give no pitch figures (None)."""

    pitch_floor_hz: float = 75.0
    pitch_ceiling_hz: float = 500.0
    min_voiced_frames: int = 10


@dataclass(frozen=True)
class Frames:
    """Per-stretch raw material, pooled across a turn's clean parts: voiced pitch frames and energy."""

    pitch_st: np.ndarray  # semitones re 100 Hz, voiced frames only
    sum_sq: float  # sum of squared samples
    n_samples: int

    @staticmethod
    def empty() -> Frames:
        return Frames(np.zeros(0, dtype=np.float32), 0.0, 0)


def frames(x: np.ndarray, options: ProsodyOptions | None = None, sr: int = SAMPLE_RATE) -> Frames:
    """Pitch frames and energy of one stretch of mono audio."""
    o = options or ProsodyOptions()
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        return Frames.empty()
    sum_sq = float(np.dot(x, x))
    st = np.zeros(0, dtype=np.float32)
    # Praat needs at least three periods of the floor pitch in the window
    if x.size >= int(sr * 3.0 / o.pitch_floor_hz) + 2 and sum_sq > 0:
        import parselmouth

        snd = parselmouth.Sound(x, sampling_frequency=sr)
        pitch = snd.to_pitch_ac(time_step=PITCH_STEP_S, pitch_floor=o.pitch_floor_hz,
                                pitch_ceiling=o.pitch_ceiling_hz)
        f0 = pitch.selected_array["frequency"]
        f0 = f0[f0 > 0]
        st = (12.0 * np.log2(f0 / REF_HZ)).astype(np.float32)
    return Frames(st, sum_sq, int(x.size))


def pool(parts: Sequence[Frames]) -> Frames:
    parts = [p for p in parts if p.n_samples]
    if not parts:
        return Frames.empty()
    return Frames(np.concatenate([p.pitch_st for p in parts]), float(sum(p.sum_sq for p in parts)),
                  int(sum(p.n_samples for p in parts)))


def summarise(f: Frames, options: ProsodyOptions | None = None) -> dict[str, float | None]:
    """``pitch_median_st``, ``pitch_variability_st``, ``loudness_dbfs`` (None where not measurable)."""
    o = options or ProsodyOptions()
    out: dict[str, float | None] = {"pitch_median_st": None, "pitch_variability_st": None,
                                    "loudness_dbfs": None}
    if f.pitch_st.size >= o.min_voiced_frames:
        med = float(np.median(f.pitch_st))
        out["pitch_median_st"] = med
        out["pitch_variability_st"] = float(MAD_TO_SD * np.median(np.abs(f.pitch_st - med)))
    if f.n_samples:
        ms = f.sum_sq / f.n_samples
        out["loudness_dbfs"] = float(10 * np.log10(2 * ms)) if ms > 0 else SILENCE_DBFS
    return out


def st_to_hz(st: float) -> float:
    return REF_HZ * 2 ** (st / 12.0)
