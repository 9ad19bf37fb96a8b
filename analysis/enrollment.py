"""Therapist enrolment: a voiceprint from a clean voice sample, and matching it to diarized speakers.

A voiceprint is the CAM++ embedding (the diarization's embedding model, see
:mod:`analysis.diarization`) of the speech in the sample, L2-normalised. Silence is dropped first
with the project's VAD so that it does not dilute the embedding's statistics.

:func:`assign_roles` compares it with each diarized speaker's centroid by cosine similarity: the best
matching speaker, if its similarity reaches ``threshold``, becomes ``"therapist"`` and every other
speaker ``"client"``. With no voiceprint (nothing enrolled), or when no speaker reaches the threshold
(the enrolled clinician is not in this recording), every role is ``None``: the app shows neutral
"Speaker N" labels, and the user can still swap/assign roles by hand.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000  # Hz
MIN_SPEECH_S = 2.0  # s of detected speech needed for a usable voiceprint
# Cosine similarity at or above which a speaker is taken to be the enrolled therapist. Measured
# (docs/diarization.md): voiceprint from one generated dialogue vs the same espeak voice's centroid in
# another 0.91, the other voice 0.27; clean stretches of one human voice (AMI, sample) 0.4-0.8 apart
# from each other, different people below 0.5 (mostly below 0.2).
DEFAULT_THRESHOLD = 0.55


class EnrollmentError(ValueError):
    """The sample cannot give a voiceprint; ``str(err)`` is a one-line message for the user."""


def speech_only(waveform: np.ndarray) -> np.ndarray:
    """The VAD-detected speech of a 16 kHz mono waveform, concatenated (whole input if VAD finds none)."""
    from analysis.vad import VadStage

    audio = np.asarray(waveform, dtype=np.float32).reshape(-1)
    vad = VadStage()
    regions = vad.process(audio) + vad.flush()
    if not regions:
        return audio
    parts = [audio[int(r.start * SAMPLE_RATE): int(r.end * SAMPLE_RATE)] for r in regions]
    return np.concatenate(parts) if parts else audio


def voiceprint(waveform: np.ndarray) -> np.ndarray:
    """L2-normalised voiceprint (192 floats) of a clean single-voice 16 kHz mono sample.

    Raises :class:`EnrollmentError` when the sample holds less than :data:`MIN_SPEECH_S` of speech.
    """
    from analysis.diarization import embed_waveform

    audio = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if audio.size == 0 or not np.any(audio):
        raise EnrollmentError("the voice sample is silent")
    speech = speech_only(audio)
    if speech.size < MIN_SPEECH_S * SAMPLE_RATE:
        raise EnrollmentError(f"the voice sample holds only {speech.size / SAMPLE_RATE:.1f} s of speech; "
                              f"at least {MIN_SPEECH_S:.0f} s are needed (30-60 s is best)")
    return normalise(embed_waveform(speech)[0])


def normalise(vector: np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(normalise(a), normalise(b)))


def assign_roles(embeddings: dict[str, np.ndarray], therapist: np.ndarray | None,
                 threshold: float = DEFAULT_THRESHOLD
                 ) -> tuple[dict[str, str | None], str | None, float | None]:
    """Roles per speaker id, the speaker matched to the therapist, and its cosine similarity.

    * no voiceprint (``therapist is None``) or no speakers: all roles ``None``, ``(roles, None, None)``;
    * best similarity below ``threshold``: all roles ``None``, no match, the best similarity is still
      returned as the confidence (so the caller can say how close it came);
    * otherwise the best speaker is ``"therapist"``, all others ``"client"``.
    """
    roles: dict[str, str | None] = {sid: None for sid in embeddings}
    if therapist is None or not embeddings:
        return roles, None, None
    scores = {sid: cosine(vec, therapist) for sid, vec in embeddings.items()}
    best = max(scores, key=lambda s: scores[s])
    confidence = round(scores[best], 4)
    if scores[best] < threshold:
        return roles, None, confidence
    return {sid: ("therapist" if sid == best else "client") for sid in embeddings}, best, confidence
