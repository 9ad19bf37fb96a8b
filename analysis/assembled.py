"""Three- and four-person conversations assembled from real voices, for checking the speaker count.

The shared recordings hold no real three- or four-person conversation with more than a word from the
extra people (AMI trn05: one speaker talks 23 s of 30, three others a word each). These check files are
built from the real one-speaker sides of the development calls (:func:`analysis.evaluation.
single_speaker_set`: a side on which the other caller is at least 40 dB down): each speaker's own
utterances, cut from their own channel at the reference boundaries, are laid end to end in a random
turn order with short gaps and an occasional overlap, each voice at its own level. The voices and the
telephone channels are real (two sides of one call are two people on one line); the turn-taking is not,
so these files check *how many* and *who*, not the timing cues. Truth is where each utterance was placed.

Deterministic for a seed. Files: ``<out>/assembled-<n>spk-<k>.wav`` and ``.rttm``.

:func:`long_set` lays the same material into long conversations (default 40 min, longer than one
diarization window, ``analysis.windowed_diarization.WINDOW_S``), for checking that the windows' speakers
are linked into the right people: each side has only 1-2 min of speech, so its utterances come round again
and again, in the same cycling order; the voices are those of different calls. Files:
``<out>/assembled-<n>spk-<k>-<m>min.wav`` and ``.rttm``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from analysis.evaluation import DEV_COLLAR_S, DiarizationFile, load_file, single_speaker_set
from analysis.timeline import Turn, read_rttm, write_rttm
from audio import SAMPLE_RATE

TARGET_S = 150.0  # s of conversation per assembled file
LONG_S = 2400.0  # s of conversation per long file (:func:`long_set`): 40 min, more than one 30-min window
MIN_UTTERANCE_S = 0.8  # s: shorter reference turns are not used (clipped words)
GAP_S = (0.2, 0.9)  # s: silence between turns, uniform
OVERLAP_P = 0.1  # chance that a turn starts before the previous one ends
OVERLAP_S = 0.4  # s of such an overlap
LEVEL_DBFS = (-26.0, -18.0)  # each voice's speech level, uniform per speaker
PAD_S = 0.05  # s kept around each utterance
SAME_VOICE_COSINE = 0.75  # sides whose mean voiceprints are this alike may be one person (a call-centre
#                           agent on two calls: MUL1423-ch0 / SNG1640-ch0 score 0.91, SNG0072-ch0 /
#                           SNG0480-ch1 0.79; the next pair 0.68) and never go into one file


@dataclass(frozen=True)
class Side:
    """One real speaker: their channel's audio and their own utterances (start, end) in it."""

    name: str
    audio: np.ndarray
    utterances: list[tuple[float, float]]


def real_sides(shared_audio: Path) -> list[Side]:
    """The clean one-speaker sides of the development calls, whole (not the 90-s excerpts)."""
    out = []
    for item in single_speaker_set(shared_audio):
        turns = read_rttm(item.rttm)
        labels = sorted({t.speaker for t in turns})
        own = labels[item.channel] if item.channel is not None else item.wav.stem.rsplit("_", 1)[-1]
        whole = replace(item, excerpt_s=None)
        audio = load_file(whole)
        mine = [(t.start, t.end) for t in turns if t.speaker == own and t.end - t.start >= MIN_UTTERANCE_S
                and not any(u.speaker != own and u.start < t.end and u.end > t.start for u in turns)]
        if mine:
            out.append(Side(item.name.split("/", 1)[-1], audio, mine))
    return out


def assemble(sides: list[Side], seed: int, target_s: float = TARGET_S) -> tuple[np.ndarray, list[Turn]]:
    """A conversation among ``sides`` (16 kHz mono) and its turns."""
    rng = np.random.default_rng(seed)
    gains = _gains(sides, rng)
    next_utt = {s.name: int(rng.integers(len(s.utterances))) for s in sides}
    talk = {s.name: 0.0 for s in sides}
    pieces: list[tuple[int, np.ndarray]] = []
    turns: list[Turn] = []
    t, prev = 0.0, None
    while t < target_s:
        others = [s for s in sides if s.name != prev]
        side = min(others, key=lambda s: talk[s.name]) if rng.random() < 0.5 else others[rng.integers(len(others))]
        a, b = side.utterances[next_utt[side.name] % len(side.utterances)]
        next_utt[side.name] += 1
        start = t + (-OVERLAP_S if prev is not None and rng.random() < OVERLAP_P else rng.uniform(*GAP_S))
        t = _place(side, (a, b), max(0.0, start), gains[side.name], pieces, turns)
        talk[side.name] += b - a
        prev = side.name
    mix = _mix(pieces)
    peak = float(np.max(np.abs(mix))) if mix.size else 0.0
    if peak > 0.99:
        mix *= 0.99 / peak
    return mix, turns


def assembled_set(shared_audio: Path, out_dir: Path, sizes: tuple[int, ...] = (3, 4),
                  per_size: int = 3, target_s: float = TARGET_S,
                  distinct_calls: bool = False) -> list[tuple[DiarizationFile, int]]:
    """``per_size`` assembled conversations of each size (written once into ``out_dir``), each from
    different real speakers (``distinct_calls``: from different calls too, so no two are the two sides
    of one call), about ``target_s`` long, as (DiarizationFile, number of speakers); checked only, never
    tuned on."""
    import soundfile as sf

    sides = real_sides(shared_audio)
    out_dir.mkdir(parents=True, exist_ok=True)
    items = []
    prints = None
    suffix = "" if target_s == TARGET_S else f"-{target_s / 60:g}min"
    for n in sizes:
        if len({_call(s.name) if distinct_calls else s.name for s in sides}) < n:
            continue
        for k in range(per_size):
            seed = 1000 * n + k
            name = f"assembled-{n}spk-{k}{suffix}"
            wav, rttm = out_dir / f"{name}.wav", out_dir / f"{name}.rttm"
            if not (wav.is_file() and rttm.is_file()):
                prints = _voiceprints(sides) if prints is None else prints
                rng = np.random.default_rng(seed)
                while True:
                    pick = rng.choice(len(sides), size=n, replace=False)
                    sim = prints[pick] @ prints[pick].T
                    calls = {_call(sides[i].name) for i in pick}
                    if sim[np.triu_indices(n, 1)].max() < SAME_VOICE_COSINE and (
                            not distinct_calls or len(calls) == n):
                        break
                audio, turns = assemble([sides[i] for i in sorted(pick)], seed, target_s)
                sf.write(str(wav), audio, SAMPLE_RATE, subtype="PCM_16")
                write_rttm(turns, rttm, name)
            items.append((DiarizationFile(f"assembled/{name}", wav, rttm, DEV_COLLAR_S, "checked"), n))
    return items


def long_set(shared_audio: Path, out_dir: Path, sizes: tuple[int, ...] = (2, 3),
             target_s: float = LONG_S) -> list[tuple[DiarizationFile, int]]:
    """One long conversation of each size from voices of different calls (see the module docstring)."""
    return assembled_set(shared_audio, out_dir, sizes, per_size=1, target_s=target_s, distinct_calls=True)


MINORITY_MAX_UTTERANCE_S = 2.5  # s: the quiet voice of an :func:`imbalanced` file says only this much at a time
MAJORITY_RUN = (2, 8)  # the main voice's utterances between two of the quiet voice's (uniform, end excluded)
IMBALANCED_MIN_MAJORITY_S = 40.0  # s: a side needs this much speech of its own to be the main voice
IMBALANCED_PER_MAJORITY = 2  # checked files per main voice (seeds 0, 1)


def imbalanced(major: Side, minor: Side, seed: int) -> tuple[np.ndarray, list[Turn]]:
    """A two-person conversation in which one voice talks and the other listens: the main voice's
    utterances, each used once and in order (no utterance comes round again, which would give its
    windows twin embeddings), with one short utterance of the quiet voice (at most
    ``MINORITY_MAX_UTTERANCE_S``; its short ones cycled) after every few of them, as a counsellor's
    "mm-hm, and then?" between a client's sentences. The quiet voice holds about 3-20 % of the talk."""
    rng = np.random.default_rng(seed)
    gains = _gains([major, minor], rng)
    short = [u for u in minor.utterances if u[1] - u[0] <= MINORITY_MAX_UTTERANCE_S] or minor.utterances
    order: list[tuple[Side, tuple[float, float]]] = []
    k, wait = 0, int(rng.integers(*MAJORITY_RUN))
    for i, utt in enumerate(major.utterances):
        order.append((major, utt))
        wait -= 1
        if wait == 0 and i + 1 < len(major.utterances):
            order.append((minor, short[k % len(short)]))
            k, wait = k + 1, int(rng.integers(*MAJORITY_RUN))
    pieces: list[tuple[int, np.ndarray]] = []
    turns: list[Turn] = []
    t = 0.0
    for side, utt in order:
        t = _place(side, utt, t + rng.uniform(*GAP_S), gains[side.name], pieces, turns)
    return _mix(pieces), turns


def imbalanced_set(shared_audio: Path, out_dir: Path,
                   seeds: tuple[int, ...] = tuple(range(IMBALANCED_PER_MAJORITY))) -> list[tuple[DiarizationFile, int]]:
    """Two-person conversations with one main voice and one quiet voice (:func:`imbalanced`): every side
    with at least ``IMBALANCED_MIN_MAJORITY_S`` of speech is the main voice of one file per seed, each with
    a quiet voice of another call (never as alike as one person's). The default seeds (0, 1) are the
    checked set; others (2-4 were used to tune :func:`analysis.speaker_count.quiet_voice`) are for tuning."""
    import soundfile as sf

    sides = real_sides(shared_audio)
    out_dir.mkdir(parents=True, exist_ok=True)
    prints = None
    items = []
    for i, major in enumerate(sides):
        if sum(b - a for a, b in major.utterances) < IMBALANCED_MIN_MAJORITY_S:
            continue
        for k in seeds:
            name = f"imbalanced-{major.name}-{k}"
            wav, rttm = out_dir / f"{name}.wav", out_dir / f"{name}.rttm"
            if not (wav.is_file() and rttm.is_file()):
                prints = _voiceprints(sides) if prints is None else prints
                others = [j for j in range(len(sides)) if _call(sides[j].name) != _call(major.name)
                          and float(prints[i] @ prints[j]) < SAME_VOICE_COSINE]
                rng = np.random.default_rng(5000 + 10 * i + k)
                minor = sides[others[int(rng.integers(len(others)))]]
                audio, turns = imbalanced(major, minor, 5000 + 10 * i + k)
                sf.write(str(wav), audio, SAMPLE_RATE, subtype="PCM_16")
                write_rttm(turns, rttm, name)
            role = "checked" if k < IMBALANCED_PER_MAJORITY else "tuned"
            items.append((DiarizationFile(f"imbalanced/{name}", wav, rttm, DEV_COLLAR_S, role), 2))
    return items


def _gains(sides: list[Side], rng: np.random.Generator) -> dict[str, float]:
    """Each side's gain to a speech level drawn from ``LEVEL_DBFS``."""
    return {s.name: 10 ** (rng.uniform(*LEVEL_DBFS) / 20) / max(_speech_rms(s), 1e-6) for s in sides}


def _place(side: Side, utterance: tuple[float, float], start: float, gain: float,
           pieces: list[tuple[int, np.ndarray]], turns: list[Turn]) -> float:
    """Lay one utterance (with ``PAD_S`` around it) at ``start`` s: its clip goes into ``pieces``, its
    speech into ``turns`` (the truth). Returns where the clip ends (s)."""
    a, b = utterance
    lo, hi = int(max(0.0, a - PAD_S) * SAMPLE_RATE), int(min(len(side.audio), (b + PAD_S) * SAMPLE_RATE))
    pieces.append((int(round(start * SAMPLE_RATE)), side.audio[lo:hi] * gain))
    speech_start = start + (a - lo / SAMPLE_RATE)
    turns.append(Turn(side.name, round(speech_start, 3), round(speech_start + (b - a), 3)))
    return start + (hi - lo) / SAMPLE_RATE


def _mix(pieces: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """The clips added at their sample offsets."""
    mix = np.zeros(max(s0 + len(c) for s0, c in pieces), np.float32)
    for s0, clip in pieces:
        mix[s0: s0 + len(clip)] += clip.astype(np.float32)
    return mix


def _call(side_name: str) -> str:
    """The call a side belongs to: ``Auto_Repairs_40_UTC_agent`` -> ``Auto_Repairs_40_UTC``,
    ``spokenwoz_SNG0072-ch0`` -> ``spokenwoz_SNG0072``."""
    for tail in ("_agent", "_caller"):
        if side_name.endswith(tail):
            return side_name[: -len(tail)]
    head, sep, ch = side_name.rpartition("-ch")
    return head if sep and ch.isdigit() else side_name


def _voiceprints(sides: list[Side]) -> np.ndarray:
    """Unit mean CAM++ embedding of each side's speech (3-s windows of its first 40 utterances)."""
    from analysis.diarization import window_embeddings

    out = []
    for side in sides:
        speech = np.concatenate([side.audio[int(a * SAMPLE_RATE): int(b * SAMPLE_RATE)]
                                 for a, b in side.utterances[:40]])
        _, emb = window_embeddings(speech, 3.0, 3.0)
        mean = emb.mean(axis=0)
        out.append(mean / max(float(np.linalg.norm(mean)), 1e-9))
    return np.array(out)


def _speech_rms(side: Side) -> float:
    parts = [side.audio[int(a * SAMPLE_RATE): int(b * SAMPLE_RATE)] for a, b in side.utterances]
    x = np.concatenate(parts).astype(np.float64) if parts else np.zeros(1)
    return float(np.sqrt(np.mean(x ** 2)))
