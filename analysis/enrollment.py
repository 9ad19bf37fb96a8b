"""Therapist enrolment: a voiceprint from a clean voice sample, and matching it to diarized speakers.

A voiceprint is the CAM++ embedding (the diarization's embedding model, see
:mod:`analysis.diarization`) of the speech in the sample, L2-normalised. Silence is dropped first
with the project's VAD so that it does not dilute the embedding's statistics.

:func:`assign_roles` compares it with each diarized speaker's centroid by cosine similarity: the best
matching speaker, if its similarity reaches ``threshold``, becomes ``"therapist"`` and every other
speaker ``"client"``. With no voiceprint (nothing enrolled), or when no speaker reaches the threshold
(the enrolled clinician is not in this recording), every role is ``None``: the app shows neutral
"Speaker N" labels, and the user can still swap/assign roles by hand.

:func:`enroll` first checks the sample (:func:`check_sample`): it must hold enough speech and one
voice. The sample is diarized (the offline diarizer, default options); when a second voice holds a
real share of the speech (at least :data:`SECOND_VOICE_MIN_SHARE` of it and
:data:`SECOND_VOICE_MIN_S`), enrolment is refused, since a voiceprint of two people would match
either of them. Less than :data:`SHORT_SPEECH_S` of speech gives a warning (the voiceprint is less
steady), less than :data:`MIN_SPEECH_S` a refusal.

:func:`enrolled_voice_heard` says whether the enrolled voice is among a session's speakers, for the
app to say so plainly when it is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from audio import SAMPLE_RATE

MIN_SPEECH_S = 2.0  # s of detected speech needed for a usable voiceprint
# Cosine similarity at or above which a speaker is taken to be the enrolled therapist. Measured
# (docs/diarization.md): voiceprint from one generated dialogue vs the same espeak voice's centroid in
# another 0.91, the other voice 0.27; clean stretches of one human voice (AMI, sample) 0.4-0.8 apart
# from each other, different people below 0.5 (mostly below 0.2).
DEFAULT_THRESHOLD = 0.55
SHORT_SPEECH_S = 10.0  # s of speech below which enrolment warns (30-60 s is best)
# A second diarized voice holding at least this share of the sample's speech AND this many seconds
# makes the sample a conversation, not one voice: enrolment is refused. Below either, it is taken as
# a diarization stray or a brief background voice (the SpokenWOZ phone call: the second voice holds
# about half of every 30 s; the JFK clip: one voice).
SECOND_VOICE_MIN_SHARE = 0.15
SECOND_VOICE_MIN_S = 3.0  # s
# The app says "your voice is not heard" only after this much speech in the session (s): earlier,
# the clinician may simply not have spoken yet.
HEARD_MIN_SPEECH_S = 30.0


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


@dataclass(frozen=True)
class SampleCheck:
    """What :func:`check_sample` found in an enrolment sample."""

    speech_s: float  # seconds of VAD-detected speech
    voices: dict[str, float]  # diarized seconds of speech per speaker, most first
    embeddings: dict[str, np.ndarray]  # the diarized speakers' centroids
    warnings: tuple[str, ...] = ()  # one line each, for the user


def _talk(turns) -> dict[str, float]:
    from analysis.cues import _length, _union

    out: dict[str, float] = {}
    for sp in {t.speaker for t in turns}:
        out[sp] = _length(_union((t.start, t.end) for t in turns if t.speaker == sp))
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def check_sample(waveform: np.ndarray) -> SampleCheck:
    """Check a 16 kHz mono enrolment sample: enough speech, one voice.

    Raises :class:`EnrollmentError` (one line) when it is silent, holds less than
    :data:`MIN_SPEECH_S` of speech, or holds two voices (see :data:`SECOND_VOICE_MIN_SHARE`).
    """
    from analysis.diarization import diarize

    audio = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if audio.size == 0 or not np.any(audio):
        raise EnrollmentError("the voice sample is silent")
    speech_s = speech_only(audio).size / SAMPLE_RATE
    if speech_s < MIN_SPEECH_S:
        raise EnrollmentError(f"the voice sample holds only {speech_s:.1f} s of speech; "
                              f"at least {MIN_SPEECH_S:.0f} s are needed (30-60 s is best)")
    result = diarize(audio)
    voices = _talk(result.turns)
    total = sum(voices.values())
    if len(voices) >= 2:
        second = list(voices.values())[1]
        if second >= SECOND_VOICE_MIN_S and second >= SECOND_VOICE_MIN_SHARE * total:
            raise EnrollmentError(
                f"the voice sample holds {len(voices)} voices (the second speaks {second:.0f} s, "
                f"{100 * second / total:.0f}% of the speech); record yourself alone")
    warnings = []
    if speech_s < SHORT_SPEECH_S:
        warnings.append(f"the voice sample holds only {speech_s:.1f} s of speech; the voiceprint may "
                        f"be unreliable (30-60 s of you alone is best)")
    return SampleCheck(round(speech_s, 2), voices, dict(result.embeddings), tuple(warnings))


def enroll(waveform: np.ndarray) -> tuple[np.ndarray, SampleCheck]:
    """Check the sample (:func:`check_sample`), then its voiceprint (:func:`voiceprint`)."""
    check = check_sample(waveform)
    return voiceprint(waveform), check


def enrolled_voice_heard(centroids: Mapping[str, np.ndarray], voiceprint: np.ndarray | None,
                         speech_s: float | None = None, threshold: float = DEFAULT_THRESHOLD,
                         min_speech_s: float = HEARD_MIN_SPEECH_S) -> bool | None:
    """Is the enrolled voice among the session's speakers?

    ``centroids``: the session's speaker voiceprints (offline ``DiarizationResult.embeddings``; live
    ``StreamingDiarizer.centroids()``); ``speech_s``: the session's speech so far (``metrics.session
    ["speech_time"]``), or None when unknown.

    * ``None`` (cannot say yet): nothing enrolled, no speaker yet, or less than ``min_speech_s`` of
      speech;
    * ``True``: a speaker's centroid reaches ``threshold`` (the rule of :func:`assign_roles`);
    * ``False``: the enrolled voice is not heard: no speaker resembles it.
    """
    if voiceprint is None or not centroids:
        return None
    if speech_s is not None and speech_s < min_speech_s:
        return None
    return max(cosine(v, voiceprint) for v in centroids.values()) >= threshold


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
