"""The check files laid together from real sides (analysis/assembled.py): the imbalanced conversations
must hold what their truth says, since every figure measured on them stands on that truth."""

from __future__ import annotations

import numpy as np

from analysis.assembled import MINORITY_MAX_UTTERANCE_S, Side, imbalanced
from audio import SAMPLE_RATE


def _side(name: str, utterances: list[tuple[float, float]], freq: float, length_s: float) -> Side:
    """A side whose utterances are tones of ``freq`` (silence elsewhere), so the mix shows who is where."""
    audio = np.zeros(int(length_s * SAMPLE_RATE), np.float32)
    for a, b in utterances:
        t = np.arange(int(a * SAMPLE_RATE), int(b * SAMPLE_RATE))
        audio[t] = 0.1 * np.sin(2 * np.pi * freq * t / SAMPLE_RATE)
    return Side(name, audio, utterances)


def _power_at(x: np.ndarray, freq: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    bins = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    return float(spectrum[np.argmin(np.abs(bins - freq))])


def test_imbalanced_uses_the_main_voice_once_and_the_quiet_voice_briefly():
    major_utts = [(1.0 + 6.0 * i, 1.0 + 6.0 * i + 3.0 + (i % 3)) for i in range(20)]  # 3-5 s each
    minor_utts = [(1.0, 2.0), (4.0, 8.0), (10.0, 11.5), (13.0, 14.2)]  # one too long for a quiet voice
    major = _side("client", major_utts, 300.0, 130.0)
    minor = _side("counsellor", minor_utts, 1200.0, 20.0)
    mix, turns = imbalanced(major, minor, seed=3)

    mine = [t for t in turns if t.speaker == "client"]
    quiet = [t for t in turns if t.speaker == "counsellor"]
    # every one of the main voice's utterances once, in order, at its own length
    assert [round(t.end - t.start, 3) for t in mine] == [round(b - a, 3) for a, b in major_utts]
    assert quiet and all(t.end - t.start <= MINORITY_MAX_UTTERANCE_S + 1e-6 for t in quiet)
    share = sum(t.end - t.start for t in quiet) / sum(t.end - t.start for t in turns)
    assert 0.03 <= share <= 0.25, share
    ordered = sorted(turns, key=lambda t: t.start)
    assert all(a.end <= b.start for a, b in zip(ordered, ordered[1:], strict=False))  # turns follow one another
    assert ordered[0].speaker == "client" and ordered[-1].speaker == "client"
    # the truth says where each voice is: the quiet voice's tone inside its turns, not the client's
    for t in quiet:
        seg = mix[int(t.start * SAMPLE_RATE) + 160: int(t.end * SAMPLE_RATE) - 160]
        assert _power_at(seg, 1200.0) > 100 * _power_at(seg, 300.0)
    for t in mine[:5]:
        seg = mix[int(t.start * SAMPLE_RATE) + 160: int(t.end * SAMPLE_RATE) - 160]
        assert _power_at(seg, 300.0) > 100 * _power_at(seg, 1200.0)
    # deterministic for a seed
    mix2, turns2 = imbalanced(major, minor, seed=3)
    assert turns2 == turns and np.array_equal(mix2, mix)
