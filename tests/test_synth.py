"""The synthetic dialogue generator: placement, cuts, truth, files and caching."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from analysis.timeline import read_rttm
from app.synth import (
    CUT_AFTER_S,
    SAMPLE_RATE,
    Line,
    Script,
    Truth,
    Voice,
    demo_script,
    heldout_dialogues,
    random_script,
    render,
    speak,
)

# espeak-ng comes with ./setup.sh; without it the rendering fails (a skip would hide it)

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
    # the lines as placed (utterances: one per line, the extent of its trimmed, possibly cut, audio)
    s1a, s2a, bc, s1b, s2b, s1c = sorted(truth.utterances, key=lambda u: u.start)
    assert s1a.start == pytest.approx(0.7)
    assert s2a.start - s1a.end == pytest.approx(1.0, abs=1e-3)
    assert bc.start - s2a.start == pytest.approx(1.5, abs=0.15) and bc.end < s2a.end  # inside S2's line
    assert s1b.start - s2a.end == pytest.approx(0.5, abs=1e-3)  # gap from the anchor, not the backchannel
    # the interruption: S2 starts 1.5 s into S1's line, S1 stops CUT_AFTER_S later
    assert s2b.start - s1b.start == pytest.approx(1.5, abs=0.15)
    assert s2b.start < s1b.end <= s2b.start + CUT_AFTER_S + 1e-3
    assert s1b.end > s2b.start + 0.2  # really overlapping speech
    assert s1c.start - s2b.end == pytest.approx(3.5, abs=1e-3)
    # the truth turns are the speech as rendered: here each line sounds as one stretch (no pause of 0.3 s
    # or more inside), so they follow the lines to within the 5-ms envelope window
    turns = sorted(truth.turns, key=lambda t: t.start)
    assert [t.speaker for t in turns] == [u.speaker for u in (s1a, s2a, bc, s1b, s2b, s1c)]
    for t, u in zip(turns, (s1a, s2a, bc, s1b, s2b, s1c), strict=True):
        assert t.start == pytest.approx(u.start, abs=0.006) and t.end == pytest.approx(u.end, abs=0.006)
    # truth extents are real speech: energy at the edges of each turn, silence outside every turn
    for turn in turns:
        a, b = int(turn.start * sr), int(turn.end * sr)
        assert rms(x[a: a + int(0.03 * sr)]) > 1e-3 and rms(x[b - int(0.03 * sr): b]) > 1e-3
    assert rms(x[: int(0.65 * sr)]) < 1e-4
    assert rms(x[int((turns[4].end + 0.05) * sr): int((turns[5].start - 0.05) * sr)]) < 1e-4


def measured_speech(path, min_rms=3e-3, frame_s=0.01, bridge_s=0.3):
    """The test's own measurement of where a WAV sounds: 10-ms frames above ``min_rms`` (about -50 dBFS),
    pauses shorter than ``bridge_s`` closed. [(start, end)] in seconds."""
    x, sr = sf.read(str(path), dtype="float32")
    n = int(frame_s * sr)
    on = np.sqrt(np.mean(x[: len(x) // n * n].reshape(-1, n).astype(np.float64) ** 2, axis=1)) > min_rms
    out = []
    for i in np.flatnonzero(on):
        a, b = i * frame_s, (i + 1) * frame_s
        if out and a - out[-1][1] < bridge_s:
            out[-1][1] = b
        else:
            out.append([a, b])
    return out


def test_truth_is_what_each_voice_sounds(rendered, tmp_path):
    """Each speaker's truth turns and talk time are where that voice alone sounds: the same script rendered
    with every other voice muted (gain -200 dB; gain changes no placement) and measured on the WAV."""
    from dataclasses import replace

    _, truth, _, _ = rendered
    for sp in ("S1", "S2"):
        muted = replace(SCRIPT, voices=tuple(v if v.id == sp else replace(v, gain_db=-200.0) for v in VOICES))
        render(muted, tmp_path / f"{sp}.wav")
        heard = measured_speech(tmp_path / f"{sp}.wav")
        mine = [t for t in truth.turns if t.speaker == sp]
        assert len(heard) == len(mine), (sp, heard, mine)
        for (a, b), t in zip(heard, mine, strict=True):
            assert abs(a - t.start) <= 0.02 and abs(b - t.end) <= 0.02, (sp, (a, b), t)
        assert truth.talk_time[sp] == pytest.approx(sum(b - a for a, b in heard), abs=0.05)
    # pace: words of the script's lines (S2's are never cut) per minute of S2's voice as heard
    s2_words = sum(len(ln.text.split()) for ln in SCRIPT.lines if ln.speaker == "S2")
    assert truth.words["S2"] == s2_words == 27
    heard_s2 = sum(b - a for a, b in measured_speech(tmp_path / "S2.wav"))
    assert truth.wpm["S2"] == pytest.approx(60 * s2_words / heard_s2, rel=0.02)


def test_truth_events_and_figures(rendered):
    _, truth, _, _ = rendered
    ev = {(e.kind, e.by, e.of) for e in truth.events}
    assert ("backchannel", "S1", "S2") in ev and ("interruption", "S2", "S1") in ev
    sil = truth.events_of("silence")
    assert len(sil) == 1 and sil[0].end - sil[0].start == pytest.approx(3.5, abs=0.01)
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
    assert truth.reference().longest_monologue("S2") >= 15.0  # a floor turn (its segments split at pauses)
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


# -- the voice bank, the Piper voice and the held-out set ---------------------------------------
def test_existing_scripts_keep_their_voices():
    """The benchmark's and tests' dialogues must not change when the bank or random_script grow."""
    pinned = {(1, 2): [("en-us+belinda", 70, 185, "therapist"), ("en-029+grandma", 56, 156, "client")],
              (2, 2): [("en-us+belinda", 67, 184, "therapist"), ("en-029+grandma", 53, 169, "client")],
              (7, 3): [("en-029+grandma", 55, 168, None), ("en-us", 25, 156, None),
                       ("en-us+belinda", 66, 166, None)]}
    for (seed, n), voices in pinned.items():
        assert [(v.voice, v.pitch, v.wpm, v.role) for v in random_script(seed, n_speakers=n).voices] == voices
    assert [(v.voice, v.pitch, v.wpm) for v in demo_script().voices] == [("en-us", 32, 150),
                                                                         ("en-us+belinda", 66, 178)]


def test_voice_bank_is_large_new_and_known_to_espeak():
    import subprocess

    from app.voices import ESPEAK_BASES, PITCH_RANGE, WPM_RANGE, draw_voices, used_voices, voice_bank

    bank = voice_bank()
    assert len(bank) >= 200 and len({v.spec for v in bank}) == len(bank)
    assert {"en-us", "en-us+belinda", "en-029+grandma", "en-gb+f3", "en-gb+f4"} <= used_voices()
    assert not {v.spec for v in bank} & used_voices()
    # nor, in any accent, a variant that they use (or a near-copy of one)
    assert not {v.variant for v in bank} & {"belinda", "linda", "grandma", "Andy", "Lee", "iven3", "iven2", "m7",
                                           "klatt2", "f4"}
    assert "en-us-nyc+m3" in {v.spec for v in bank} and "en-gb-x-rp" in {v.spec for v in bank}
    # every accent and variant is one that espeak-ng knows (a typo would silently give the default voice)
    langs = subprocess.run(["espeak-ng", "--voices=en"], capture_output=True, text=True, check=True).stdout
    variants = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True,
                              check=True).stdout
    known_langs = {line.split()[1] for line in langs.splitlines()[1:]}
    known_variants = {line.split()[-1].removeprefix("!v/") for line in variants.splitlines()[1:]}
    assert set(ESPEAK_BASES) <= known_langs
    assert {v.variant for v in bank if v.engine == "espeak" and v.variant} <= known_variants
    for seed in range(30):
        voices = draw_voices(seed, 4, piper=seed % 2 == 0)
        assert len({v.voice for v in voices}) == 4 and not {v.voice for v in voices} & used_voices()
        assert all(PITCH_RANGE[0] <= v.pitch <= PITCH_RANGE[1] and WPM_RANGE[0] <= v.wpm <= WPM_RANGE[1]
                   for v in voices)
        assert sum(v.voice.startswith("piper:") for v in voices) == (seed % 2 == 0)
        assert [v.role for v in voices] == ["therapist", "client", "client", "client"]
    assert draw_voices(5, 3) == draw_voices(5, 3) != draw_voices(6, 3)


def _median_f0(x: np.ndarray) -> float:
    import parselmouth

    f0 = parselmouth.Sound(x.astype(np.float64), SAMPLE_RATE).to_pitch(pitch_floor=60, pitch_ceiling=500)
    f = f0.selected_array["frequency"]
    return float(np.median(f[f > 0]))


def test_close_pairs_are_close():
    from app.voices import CLOSE_PITCH, CLOSE_WPM_MAX, bank_voice, draw_voices, is_close

    for seed in range(40):
        for kw in ({"sex": "m"}, {"sex": "f"}, {"piper": True}):
            a, b = draw_voices(seed, 2, close=True, **kw)
            va, vb = bank_voice(a.voice), bank_voice(b.voice)
            accent = {v.base if v.engine == "espeak" else "en-us" for v in (va, vb)}
            assert len(accent) == 1 and va.sex == vb.sex == kw.get("sex", "m") and va.spec != vb.spec
            assert CLOSE_PITCH[0] <= abs(a.pitch - b.pitch) <= CLOSE_PITCH[1]
            assert abs(a.wpm - b.wpm) <= CLOSE_WPM_MAX and is_close(a, b)
            assert ("piper:" in a.voice + b.voice) == bool(kw.get("piper"))
        assert not is_close(*draw_voices(seed, 2)) and not is_close(*draw_voices(seed, 2, piper=True))
    # and they really sound close in pitch: measured median F0 within 12 % (a man and a woman: > 1.5x)
    text = "I went back to work on Monday, and the first day was really hard."
    for seed, kw in ((1, {"sex": "m"}), (2, {"sex": "f"}), (3, {"piper": True})):
        f_a, f_b = (_median_f0(speak(v, text)) for v in draw_voices(seed, 2, close=True, **kw))
        assert max(f_a, f_b) / min(f_a, f_b) < 1.12, (seed, f_a, f_b)
    man, woman = draw_voices(1, 2, close=True, sex="m")[0], draw_voices(2, 2, close=True, sex="f")[0]
    assert _median_f0(speak(woman, text)) / _median_f0(speak(man, text)) > 1.5


@pytest.fixture
def no_network(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access during synthesis")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


PIPER_VOICES = (Voice("S1", "piper:joe", 50, 160, "therapist"),
                Voice("S2", "en-gb-x-rp+m3", 46, 170, "client"))
PIPER_SCRIPT = Script(PIPER_VOICES, (
    Line("S1", "How have you been sleeping this week? Tell me about the nights."),
    Line("S2", "Not very well, I keep waking up at four in the morning.", 0.8),
    Line("S1", "mm-hmm", kind="backchannel", at=1.2),
    Line("S1", "What goes through your mind when you wake up?", 3.5),
), lead_in=0.6, tail=0.5)


def test_piper_voice_renders_offline(no_network, tmp_path, monkeypatch):
    import os

    import app.synth as synth
    import app.voices as voices

    text = "What would a good week look like for you?"
    # the first line really loads the model and synthesises (no cache) with sockets blocked
    shared_cache = os.environ.get("ATTUNE_SYNTH_CACHE")
    monkeypatch.setattr(voices, "_PIPER", {})
    monkeypatch.setattr(synth, "_MEM", {})
    monkeypatch.setenv("ATTUNE_SYNTH_CACHE", str(tmp_path / "cache"))
    x = speak(Voice("S1", "piper:joe", 50, 160), text)
    assert voices._PIPER and list((tmp_path / "cache").glob("*.npy"))
    if shared_cache is None:
        monkeypatch.delenv("ATTUNE_SYNTH_CACHE")
    else:
        monkeypatch.setenv("ATTUNE_SYNTH_CACHE", shared_cache)
    assert x.dtype == np.float32 and 1.5 * SAMPLE_RATE < len(x) < 4 * SAMPLE_RATE
    assert rms(x) > 0.02 and 0.3 < np.max(np.abs(x)) < 1.5
    # pitch: a resampling shift of 0.5 % per step (+-5 % at 40 / 60); rate: the length scale
    low, high = (speak(Voice("S1", "piper:joe", p, 160), text) for p in (40, 60))
    assert _median_f0(high) / _median_f0(low) == pytest.approx(1.05 / 0.95, abs=0.04)
    assert len(low) == pytest.approx(len(x), rel=0.08) and len(high) == pytest.approx(len(x), rel=0.08)
    slow, fast = (speak(Voice("S1", "piper:joe", 50, w), text) for w in (140, 185))
    assert len(slow) / len(fast) == pytest.approx(185 / 140, rel=0.12)
    calm = speak(Voice("S1", "piper:joe+calm", 50, 160), text)
    assert len(calm) != len(x) or not np.allclose(calm, x)
    with pytest.raises(ValueError):
        speak(Voice("S1", "piper:joe+shouty", 50, 160), text)
    # a dialogue: 16 kHz, speech at the edges of every turn, silence outside the turns
    path = tmp_path / "piper.wav"
    truth = render(PIPER_SCRIPT, path)
    y, sr = sf.read(str(path), dtype="float32")
    assert sr == SAMPLE_RATE and y.ndim == 1 and len(y) / sr == pytest.approx(truth.duration, abs=1e-3)
    t1, t2, bc, t3 = sorted(truth.utterances, key=lambda t: t.start)  # the lines as placed
    assert t1.speaker == bc.speaker == t3.speaker == "S1" and t2.start < bc.start < bc.end < t2.end
    assert ("backchannel", "S1", "S2") in {(e.kind, e.by, e.of) for e in truth.events}
    for turn in truth.turns:  # as rendered: Piper's first line has a pause of about 0.37 s between sentences
        a, b = int(turn.start * sr), int(turn.end * sr)
        assert rms(y[a: a + int(0.03 * sr)]) > 1e-3 and rms(y[b - int(0.03 * sr): b]) > 1e-3
        assert rms(y[a: b]) > 0.03
    assert rms(y[: int(0.55 * sr)]) < 1e-4
    assert rms(y[int((t2.end + 0.05) * sr): int((t3.start - 0.05) * sr)]) < 1e-4
    assert rms(y[int((t3.end + 0.02) * sr):]) < 1e-4
    u1 = truth.utterances[0]
    assert u1.speaker == "S1" and len(u1.words) == 12 and u1.words[-1].end <= u1.end + 1e-6


RENDER_IN_A_NEW_PROCESS = """
import sys
from app.synth import Voice, random_script, render, speak
from app.voices import draw_voices
if sys.argv[2] == "after-other-lines":  # Piper's noise generator has moved on: the result must not change
    speak(Voice("S9", "piper:joe+lively", 45, 150), "Something else entirely, first.")
render(random_script(7, n_lines=4, voices=draw_voices(7, 2, piper=True)), sys.argv[1])
"""


def test_renders_are_deterministic(tmp_path):
    """Same seed, same bytes: in two fresh processes with cold caches, whatever was spoken before."""
    import os
    import subprocess
    import sys

    from app.synth_scripts import heldout_scripts

    assert heldout_scripts(2, seed=7) == heldout_scripts(2, seed=7)
    assert [s for _, s, _ in heldout_scripts(2, seed=7)] != [s for _, s, _ in heldout_scripts(2, seed=8)]
    outputs = []
    for run, mode in enumerate(("alone", "after-other-lines")):
        wav = tmp_path / f"run{run}" / "d.wav"
        env = {**os.environ, "ATTUNE_SYNTH_CACHE": str(tmp_path / f"cache{run}")}
        subprocess.run([sys.executable, "-c", RENDER_IN_A_NEW_PROCESS, str(wav), mode], env=env, check=True,
                       timeout=300)
        outputs.append((wav.read_bytes(), wav.with_suffix(".rttm").read_bytes(),
                        wav.with_suffix(".truth.json").read_bytes()))
    assert outputs[0] == outputs[1]
    assert "piper:" in outputs[0][2].decode()


def test_heldout_set(tmp_path_factory):
    from app.synth_scripts import heldout_scripts
    from app.voices import is_close, used_voices

    plan = heldout_scripts()  # the default set: 6 two-person, one 3- and one 4-person dialogue
    pairs = [s for _, s, _ in plan if len(s.voices) == 2]
    assert len(pairs) == 6 and sorted(len(s.voices) for _, s, _ in plan)[-2:] == [3, 4]
    assert sum(is_close(*s.voices) for s in pairs) >= 2
    assert sum(any(v.voice.startswith("piper:") for v in s.voices) for s in pairs) >= 1
    assert not {v.voice for _, s, _ in plan for v in s.voices} & used_voices()
    assert all([v.role for v in s.voices] == ["therapist", "client"] for s in pairs)
    out = tmp_path_factory.mktemp("heldout")
    sets = heldout_dialogues(out, n=2)
    assert [d.name for d in sets] == [name for name, _, _ in plan[:2] + plan[-2:]]  # n=2: a subset
    for d in sets:
        truth = Truth.load(d.wav.with_suffix(".truth.json"))
        assert d.wav.exists() and sf.info(str(d.wav)).samplerate == SAMPLE_RATE
        assert len({t.speaker for t in read_rttm(d.rttm)}) == d.n_speakers == len(truth.speakers)
        assert d.voices.count(" wpm") == d.n_speakers and ("close" in d.name) == ("[close" in d.voices)
    assert {d.n_speakers for d in sets} == {2, 3, 4} and any("piper:" in d.voices for d in sets)
    mtimes = [d.wav.stat().st_mtime_ns for d in sets]
    assert [d.wav.stat().st_mtime_ns for d in heldout_dialogues(out, n=2)] == mtimes  # cached
