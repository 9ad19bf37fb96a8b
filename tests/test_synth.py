"""The synthetic dialogue generator: placement, cuts, truth, files and caching."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from analysis.timeline import read_rttm
from audio.synth import (
    CUT_AFTER_S,
    SAMPLE_RATE,
    Line,
    Script,
    Truth,
    Voice,
    demo_script,
    random_script,
    render,
    speak,
)

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

VOICES = (Voice("S1", "en-us", 35, 160, "therapist"), Voice("S2", "en-gb+f3", 70, 180, "client"))
SCRIPT = Script(VOICES, (
    Line("S1", "How have you been sleeping this week, since we last talked?"),
    Line("S2", "Not very well, I keep waking up at four in the morning and I cannot get back to sleep.", 1.0),
    Line("S1", "mm-hmm", kind="backchannel", at=1.5),
    Line("S1", "That sounds exhausting, and I wonder what goes through your mind then.", 0.5),
    Line("S2", "Mostly work, the same worries again and again.", kind="interruption", at=1.5),
    Line("S1", "What kind of worries?", 3.5),
), lead_in=0.7, tail=0.6)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "small.wav"
    truth = render(SCRIPT, path)
    x, sr = sf.read(str(path), dtype="float32")
    return path, truth, x, sr


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0


def test_files_and_format(rendered):
    path, truth, x, sr = rendered
    assert sr == SAMPLE_RATE and x.ndim == 1
    assert len(x) / sr == pytest.approx(truth.duration, abs=1e-3)
    assert 0.5 < np.max(np.abs(x)) < 0.95  # normalised, no clipping
    assert Truth.load(path.with_suffix(".truth.json")).to_dict() == truth.to_dict()
    rttm = read_rttm(path.with_suffix(".rttm"))
    assert [(t.speaker, round(t.start, 3)) for t in rttm] == [(t.speaker, round(t.start, 3)) for t in truth.turns]


def test_placement_gaps_and_speech_extents(rendered):
    _, truth, x, sr = rendered
    t = sorted(truth.turns, key=lambda t: t.start)
    s1a, s2a, bc, s1b, s2b, s1c = t
    assert s1a.start == pytest.approx(0.7)
    assert s2a.start - s1a.end == pytest.approx(1.0, abs=1e-3)
    assert bc.start - s2a.start == pytest.approx(1.5, abs=0.15) and bc.end < s2a.end  # inside S2's line
    assert s1b.start - s2a.end == pytest.approx(0.5, abs=1e-3)  # gap from the anchor, not the backchannel
    # the interruption: S2 starts 1.5 s into S1's line, S1 stops CUT_AFTER_S later
    assert s2b.start - s1b.start == pytest.approx(1.5, abs=0.15)
    assert s2b.start < s1b.end <= s2b.start + CUT_AFTER_S + 1e-3
    assert s1b.end > s2b.start + 0.2  # really overlapping speech
    assert s1c.start - s2b.end == pytest.approx(3.5, abs=1e-3)
    # truth extents are real speech: energy at the edges of each turn, silence outside every turn
    for turn in (s1a, s2a, s1c):
        a, b = int(turn.start * sr), int(turn.end * sr)
        assert rms(x[a: a + int(0.03 * sr)]) > 1e-3 and rms(x[b - int(0.03 * sr): b]) > 1e-3
    assert rms(x[: int(0.65 * sr)]) < 1e-4
    assert rms(x[int((s2b.end + 0.05) * sr): int((s1c.start - 0.05) * sr)]) < 1e-4


def test_truth_events_and_figures(rendered):
    _, truth, _, _ = rendered
    ev = {(e.kind, e.by, e.of) for e in truth.events}
    assert ("backchannel", "S1", "S2") in ev and ("interruption", "S2", "S1") in ev
    sil = truth.events_of("silence")
    assert len(sil) == 1 and sil[0].end - sil[0].start == pytest.approx(3.5, abs=1e-3)
    for sp in ("S1", "S2"):
        talk = sum(t.end - t.start for t in truth.turns if t.speaker == sp)
        assert truth.talk_time[sp] == pytest.approx(talk)
        assert truth.wpm[sp] == pytest.approx(60 * truth.words[sp] / talk)
    assert truth.questions == {"S1": 2, "S2": 0}
    assert sum(truth.talk_share.values()) == pytest.approx(1.0)
    # the cut line keeps only the words spoken before the cut
    cut = next(u for u in truth.utterances if u.speaker == "S1" and u.text.startswith("That"))
    assert 2 <= len(cut.words) < 12 and cut.words[-1].end <= cut.end + 1e-6


def test_word_timings_are_inside_the_speech(rendered):
    _, truth, _, _ = rendered
    for u in truth.utterances:
        assert u.words, u
        assert all(u.start - 1e-6 <= w.start < w.end <= u.end + 1e-6 for w in u.words)
        assert all(a.end <= b.start + 1e-6 for a, b in zip(u.words, u.words[1:], strict=False))


def test_render_is_cached(rendered, tmp_path):
    path, truth, _, _ = rendered
    mtime = path.stat().st_mtime_ns
    again = render(SCRIPT, path)
    assert path.stat().st_mtime_ns == mtime and again.to_dict() == truth.to_dict()
    other = render(SCRIPT, tmp_path / "copy.wav")  # same script elsewhere: identical audio
    x1, _ = sf.read(str(path))
    x2, _ = sf.read(str(tmp_path / "copy.wav"))
    assert np.array_equal(x1, x2) and other.to_dict() == truth.to_dict()


def test_voices_differ():
    a, b = speak(VOICES[0], "hello there"), speak(VOICES[1], "hello there")
    assert a.dtype == np.float32 and len(a) > 0.3 * SAMPLE_RATE
    assert abs(len(a) - len(b)) > 0.02 * SAMPLE_RATE or not np.allclose(a[:1000], b[:1000])


def test_demo_script_has_every_cue(tmp_path_factory):
    truth = render(demo_script(), tmp_path_factory.mktemp("demo") / "demo.wav")
    assert 60 <= truth.duration <= 90
    inter = truth.events_of("interruption")
    assert len(inter) >= 3 and {(e.by, e.of) for e in inter} == {("S1", "S2"), ("S2", "S1")}
    assert len(truth.events_of("backchannel")) >= 3 and truth.events_of("quick_response")
    assert any(e.end - e.start >= 3.0 for e in truth.events_of("silence"))
    assert max(t.end - t.start for t in truth.turns if t.speaker == "S2") >= 15.0
    assert truth.questions["S1"] >= 2
    assert {s["role"] for s in truth.speakers} == {"therapist", "client"}


def test_random_scripts_are_deterministic_and_varied():
    a, b = random_script(3), random_script(3)
    assert a == b and random_script(4) != a
    three = random_script(5, n_speakers=3)
    assert len({(v.voice, v.pitch) for v in three.voices}) == 3
    assert {ln.speaker for ln in three.lines} == {"S1", "S2", "S3"}
    kinds = {ln.kind for s in range(6) for ln in random_script(s).lines}
    assert kinds == {"turn", "backchannel", "interruption"}


def test_invalid_scripts():
    with pytest.raises(ValueError):
        Line("S1", "hi", kind="shout")
    with pytest.raises(ValueError):
        render(Script(VOICES, (Line("S9", "hello"),)), "/tmp/never-written.wav")
