"""Therapist enrolment end to end: voiceprint from one dialogue, role labelling in another."""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pytest

from analysis.enrollment import DEFAULT_THRESHOLD, assign_roles, cosine

THERAPIST_VOICE = ("en-us", 32, 150)
CLIENT_A = ("en-us+belinda", 66, 178)
CLIENT_B = ("en-029+grandma", 55, 160)


def _dialogue(tmp_dir, name, seed, therapist_id, client_voice):
    """A random dialogue re-voiced: the therapist voice speaks as ``therapist_id``."""
    from app.synth import Voice, random_script, render

    base = random_script(seed, n_lines=10)
    other = "S2" if therapist_id == "S1" else "S1"
    voices = (Voice(therapist_id, *THERAPIST_VOICE, role="therapist"), Voice(other, *client_voice, role="client"))
    script = dataclasses.replace(base, voices=tuple(sorted(voices, key=lambda v: v.id)))
    return render(script, tmp_dir / f"{name}.wav"), tmp_dir / f"{name}.wav"


def _solo_speech(wave, truth, speaker):
    """The stretches where only ``speaker`` talks, concatenated."""
    sr = 16000
    keep = np.zeros(len(wave), bool)
    for t in truth.turns:
        if t.speaker == speaker:
            keep[int(t.start * sr): int(t.end * sr)] = True
    for t in truth.turns:
        if t.speaker != speaker:
            keep[int(t.start * sr): int(t.end * sr)] = False
    return wave[keep]


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory):
    import torch

    from analysis.diarization import diarize
    from analysis.enrollment import voiceprint
    from audio.decode import load

    tmp = tmp_path_factory.mktemp("enrol")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        truth_a, wav_a = _dialogue(tmp, "a", 11, "S1", CLIENT_A)
        wave_a = load(wav_a)
        solo = _solo_speech(wave_a, truth_a, "S1")
        vp = voiceprint(solo)
        truth_b, wav_b = _dialogue(tmp, "b", 12, "S2", CLIENT_B)  # the therapist is the second voice
        result = diarize(load(wav_b))
    finally:
        torch.set_num_threads(threads)
    return {"voiceprint": vp, "solo": solo, "truth_b": truth_b, "result": result, "tmp": tmp}


@pytest.mark.slow
def test_enrolled_voice_is_labelled_therapist_in_another_dialogue(enrolled):
    result, truth = enrolled["result"], enrolled["truth_b"]
    roles, matched, confidence = assign_roles(result.embeddings, enrolled["voiceprint"])
    assert matched is not None and roles[matched] == "therapist"
    assert confidence is not None and confidence >= DEFAULT_THRESHOLD
    assert sorted(r for r in roles.values()) == ["client", "therapist"]
    # the matched speaker's turns are the therapist's (truth S2) for most of their time
    ov = {"S1": 0.0, "S2": 0.0}
    for t in result.turns:
        if t.speaker != matched:
            continue
        for r in truth.turns:
            ov[r.speaker] += max(0.0, min(t.end, r.end) - max(t.start, r.start))
    assert ov["S2"] > 0.8 * (ov["S1"] + ov["S2"])
    other = next(s for s in result.embeddings if s != matched)
    assert cosine(result.embeddings[other], enrolled["voiceprint"]) < confidence - 0.2


def test_assign_roles_without_voiceprint_gives_no_roles():
    emb = {"S1": np.ones(4), "S2": -np.ones(4)}
    assert assign_roles(emb, None) == ({"S1": None, "S2": None}, None, None)
    assert assign_roles({}, np.ones(4)) == ({}, None, None)


def test_assign_roles_below_threshold_gives_no_roles():
    emb = {"S1": np.array([1.0, 0, 0]), "S2": np.array([0, 1.0, 0])}
    roles, matched, conf = assign_roles(emb, np.array([0, 0, 1.0]), threshold=0.5)
    assert roles == {"S1": None, "S2": None} and matched is None and conf == pytest.approx(0.0)
    roles, matched, conf = assign_roles(emb, np.array([0.1, 1.0, 0]), threshold=0.5)
    assert roles == {"S1": "client", "S2": "therapist"} and matched == "S2" and conf > 0.9


def test_voiceprint_store_round_trip():
    from app import voiceprints

    vec = np.random.default_rng(0).normal(size=192).astype(np.float32)
    path = voiceprints.save("Dr Lee", vec)
    assert path.is_file() and path.parent.name == "voiceprints"
    got = voiceprints.load("Dr Lee")
    assert got is not None and got.name == "Dr Lee"
    np.testing.assert_allclose(got.vector, vec, rtol=1e-5, atol=1e-6)
    voiceprints.save("Someone Else", -vec)
    assert voiceprints.latest().name == "Someone Else"
    assert {v.name for v in voiceprints.list_all()} == {"Dr Lee", "Someone Else"}
    assert voiceprints.delete("Dr Lee") and voiceprints.load("Dr Lee") is None


def _run(path, name="Dr Lee"):
    from app.cmd_enroll import run

    return run(argparse.Namespace(voice=str(path), name=name))


@pytest.mark.parametrize("content", [b"", b"this is not audio at all" * 50, None])
def test_enroll_bad_file_one_line_error(tmp_path, capsys, content):
    path = tmp_path / "voice.wav"
    if content is not None:
        path.write_bytes(content)
    assert _run(path) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("attune enroll: error:") and "\n" not in err and "Traceback" not in err


def test_enroll_silent_file_one_line_error(tmp_path, capsys):
    import soundfile as sf

    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(16000 * 3, np.float32), 16000)
    assert _run(path) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("attune enroll: error:") and "\n" not in err


@pytest.mark.slow
def test_enroll_command_stores_voiceprint(enrolled, capsys):
    import soundfile as sf

    from app import voiceprints

    path = enrolled["tmp"] / "me.wav"
    sf.write(str(path), enrolled["solo"], 16000)
    assert _run(path) == 0
    assert "Dr Lee" in capsys.readouterr().out
    stored = voiceprints.load("Dr Lee")
    assert stored is not None and stored.vector.shape == (192,)
    assert cosine(stored.vector, enrolled["voiceprint"]) > 0.99


# -- issue 8: enrolment accepts one voice only, and the app can say when it is not heard -------------
def _call_cut(shared_audio, tmp_path, start_s=0, seconds=30):
    """30 s of a real two-person phone call, as the user cut it (8 kHz stereo, one person a channel)."""
    import soundfile as sf

    src = shared_audio / "dev" / "spokenwoz_SNG0480" / "SNG0480.wav"
    assert src.exists(), f"{src} is missing"
    x, sr = sf.read(str(src), dtype="float32")
    path = tmp_path / "my-voice.wav"
    sf.write(str(path), x[start_s * sr:(start_s + seconds) * sr], sr)
    return path


@pytest.fixture
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_enroll_refuses_a_two_person_phone_call(shared_audio, tmp_path, capsys, one_thread):
    from app import voiceprints

    assert _run(_call_cut(shared_audio, tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("attune enroll: error:") and "\n" not in err
    assert "2 voices" in err and "alone" in err
    assert voiceprints.list_all() == []


@pytest.mark.slow
def test_enroll_accepts_one_voice(shared_audio, capsys, one_thread):
    from app import voiceprints

    assert _run(shared_audio / "jfk" / "jfk.flac") == 0
    out = capsys.readouterr()
    assert "enrolled" in out.out and "warning" not in out.err
    assert voiceprints.load("Dr Lee") is not None


@pytest.mark.slow
def test_enroll_warns_when_the_speech_is_short(shared_audio, tmp_path, capsys, one_thread):
    import soundfile as sf

    from analysis.enrollment import SHORT_SPEECH_S
    from audio.decode import load

    path = tmp_path / "short.wav"
    sf.write(str(path), load(shared_audio / "jfk" / "jfk.flac")[: 6 * 16000], 16000)
    assert _run(path) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("attune enroll: warning:") and "s of speech" in err[0]
    assert SHORT_SPEECH_S > 6


@pytest.mark.slow
def test_enrolled_voice_not_heard_in_a_session_without_it(shared_audio, tmp_path, one_thread):
    from analysis.diarization import diarize
    from analysis.enrollment import enrolled_voice_heard, voiceprint
    from audio.decode import load

    jfk = load(shared_audio / "jfk" / "jfk.flac")
    vp = voiceprint(jfk)
    call = diarize(load(_call_cut(shared_audio, tmp_path, 30)))
    assert len(call.embeddings) == 2
    assert enrolled_voice_heard(call.embeddings, vp, speech_s=30.0) is False
    assert enrolled_voice_heard(diarize(jfk).embeddings, vp) is True


def test_enrolled_voice_heard_rules():
    from analysis.enrollment import HEARD_MIN_SPEECH_S, enrolled_voice_heard

    me, other = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    assert enrolled_voice_heard({"S1": other, "S2": me + 0.1 * other}, me) is True
    assert enrolled_voice_heard({"S1": other}, me, speech_s=HEARD_MIN_SPEECH_S + 1) is False
    assert enrolled_voice_heard({"S1": other}, me, speech_s=HEARD_MIN_SPEECH_S - 1) is None  # too early
    assert enrolled_voice_heard({"S1": other}, None) is None  # nothing enrolled
    assert enrolled_voice_heard({}, me) is None  # no one has spoken
