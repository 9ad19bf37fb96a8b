"""The batch analysis of a generated dialogue with its rendered speaker turns in place of the diarizer, for
tests that need real analysed sessions cheaply (imported by the batch's worker processes).

``analyze(path, options)`` is :func:`app.batch.analyze_path` (decoding, VAD, role assignment, the cue
engine, the timeline) on a WAV rendered by :func:`app.synth.render`, except that the diarizer's answer is
the dialogue's truth beside it (``<stem>.truth.json``: each voice's rendered speech intervals) and each
speaker's voiceprint is :func:`voice` of its index (S1 -> ``voice(0)``), so an enrolled ``voice(0)`` makes
S1 the therapist through the real role assignment. Real diarization costs about 30 s of CPU per 30-s
dialogue on a two-core machine; the tests that exercise it are in test_cues_synth.py and test_batch.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

VOICE_DIM = 8


def voice(i: int) -> np.ndarray:
    """The stand-in voiceprint of the i-th speaker (S1 is 0): a unit vector."""
    v = np.zeros(VOICE_DIM, np.float32)
    v[i] = 1.0
    return v


def analyze(path: str, options) -> dict:
    from analysis import windowed_diarization
    from analysis.diarization import DiarizationResult
    from app.batch import analyze_path
    from app.synth import Truth

    truth = Truth.load(Path(path).with_suffix(".truth.json"))
    ids = sorted({t.speaker for t in truth.turns}, key=lambda s: int(s[1:]))

    def diarize_windows(*_args, **_kwargs) -> DiarizationResult:
        return DiarizationResult(turns=list(truth.turns), embeddings={sid: voice(int(sid[1:]) - 1) for sid in ids})

    real = windowed_diarization.diarize_windows
    windowed_diarization.diarize_windows = diarize_windows
    try:
        return analyze_path(path, options)
    finally:
        windowed_diarization.diarize_windows = real
