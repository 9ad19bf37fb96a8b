"""Crash-safe recorder: clean sessions, "no audio kept", and recovery after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from analysis.timeline import Event, Timeline, Turn, Utterance, Word
from app.recorder import (
    AUDIO_NAME,
    EVENTS_NAME,
    TIMELINE_NAME,
    Recorder,
    find_interrupted,
    read_events,
    read_session,
    recover,
)

ROOT = Path(__file__).resolve().parents[1]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * 16_000)) * 0.1).astype(np.float32)


def test_clean_session(tmp_path):
    d = tmp_path / "s1"
    rec = Recorder(d, meta={"mode": "test"})
    x = _noise(2.5)
    for i in range(0, len(x), 1600):
        rec.write(x[i:i + 1600])
    rec.log_record("turn", Turn("S1", 0.5, 1.25))
    rec.log_record("utterance", Utterance("S1", 0.5, 1.25, "hello there", (Word(0.5, 0.9, "hello", 0.9),)))
    rec.log_record("event", Event("interruption", 1.0, 1.2, "S2", "S1"))
    meta = read_session(d)
    assert meta["status"] == "recording" and meta["consent"] == {"audio": True, "transcript": True}
    assert meta["schema"] == "attune.session/1" and meta["mode"] == "test" and meta["started_at"]
    assert find_interrupted(tmp_path) == []  # our own live session is not "interrupted"
    rec.close()
    assert read_session(d)["status"] == "finished"
    assert read_session(d)["duration"] == pytest.approx(2.5)
    y, sr = sf.read(d / AUDIO_NAME, dtype="float32")
    assert sr == 16_000 and len(y) == len(x)
    np.testing.assert_allclose(y, x, atol=1e-4)  # 16-bit PCM
    ev = read_events(d)
    assert [e["type"] for e in ev] == ["turn", "utterance", "event"]
    assert ev[1]["text"] == "hello there" and ev[1]["words"][0]["text"] == "hello"
    assert oct(os.stat(d / AUDIO_NAME).st_mode & 0o777) == "0o600"
    with pytest.raises(FileExistsError):
        Recorder(d)


def test_no_audio_kept(tmp_path):
    d = tmp_path / "s2"
    rec = Recorder(d, keep_audio=False, keep_transcript=False)
    rec.write(_noise(1.0))
    rec.log_record("utterance", Utterance("S1", 0.1, 0.9, "private words"))
    rec.close()
    assert not (d / AUDIO_NAME).exists()
    assert read_session(d)["audio"] is None
    assert read_session(d)["consent"] == {"audio": False, "transcript": False}
    text = (d / EVENTS_NAME).read_text()
    assert "private words" not in text and '"utterance"' in text


def test_recover_after_crash_written_by_hand(tmp_path):
    d = tmp_path / "crashed"
    rec = Recorder(d)
    x = _noise(3.0)
    rec.write(x)
    rec.log_record("turn", Turn("S1", 0.2, 1.0))
    rec.log_record("turn", Turn("S2", 1.1, 2.0))
    rec._events.write('{"type": "turn", "speaker": "S1", "sta')  # torn last line
    rec._events.flush()
    meta = read_session(d)
    meta["pid"] = _dead_pid()
    (d / "session.json").write_text(json.dumps(meta))
    (tmp_path / "finished").mkdir()
    assert find_interrupted(tmp_path) == [d]
    path = recover(d)
    assert path == d / AUDIO_NAME
    y, sr = sf.read(path, dtype="float32")
    assert len(y) == len(x)
    meta = read_session(d)
    assert meta["status"] == "recovered" and meta["analysable"] and meta["duration"] == pytest.approx(3.0)
    tl = Timeline.load(d / TIMELINE_NAME)
    assert [t.speaker for t in tl.turns] == ["S1", "S2"] and tl.duration == pytest.approx(3.0)
    assert find_interrupted(tmp_path) == []
    recover(d)  # twice is harmless
    assert len(sf.read(path)[0]) == len(x)


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from analysis.live import LiveOptions
    from app.live_session import LiveSession
    from audio.sources import FileSource
    src = FileSource({audio!r}, realtime=True)
    session = LiveSession(src, {out!r}, LiveOptions(transcribe=False, diarize=False))
    session.start()
    print("started", time.monotonic(), flush=True)
    session.wait()
    print("ended", flush=True)
""")


def test_kill_9_loses_at_most_2_s(tmp_path, shared_audio):
    audio = shared_audio / "pyannote_sample" / "sample.wav"
    out = tmp_path / "killed"
    code = CHILD.format(root=str(ROOT), audio=str(audio), out=str(out))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = child.stdout.readline()
        assert line.startswith("started"), line
        started = float(line.split()[1])
        time.sleep(6.0)
        killed_at = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    captured = killed_at - started  # seconds of audio the source had delivered
    assert read_session(out)["status"] == "recording"
    assert find_interrupted(out.parent) == [out]
    path = recover(out)
    y, sr = sf.read(path, dtype="float32")
    got = len(y) / sr
    assert captured - 2.0 <= got <= captured + 0.2, (captured, got)
    np.testing.assert_allclose(y, sf.read(audio, dtype="float32", frames=len(y))[0], atol=2.0 / 32767)
    tl = Timeline.load(out / TIMELINE_NAME)
    assert tl.turns and all(t.end <= got + 0.5 for t in tl.turns)  # the turns logged before the kill
    assert read_session(out)["status"] == "recovered"


@pytest.mark.parametrize("keep_audio", [True, False])
def test_session_folder_is_0700_and_its_files_0600(tmp_path, keep_audio):
    """The folder of a session is private (0700), whatever the umask, and so is everything in it,
    after recording, closing, recovery and the note (issue 11, point 10)."""
    import stat

    from app.session_folder import save_after_session

    old = os.umask(0o022)  # a usual umask: without an explicit mode, folders come out 0755
    try:
        d = tmp_path / "sessions" / "2024-01-01_120000"
        rec = Recorder(d, keep_audio=keep_audio)
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
        rec.write(_noise(0.5))
        rec.log_record("turn", Turn("S1", 0.1, 0.4))
        rec.close()
        recover(d)  # writes timeline.json
        save_after_session(d, "a private note", {"S1": "therapist"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    files = sorted(p.name for p in d.iterdir())
    assert files == sorted([EVENTS_NAME, "note.txt", "session.json", TIMELINE_NAME]
                           + ([AUDIO_NAME] if keep_audio else []))
    assert {p.name: oct(stat.S_IMODE(os.stat(p).st_mode)) for p in d.iterdir()} == {n: "0o600" for n in files}


def test_an_existing_session_folder_is_made_private(tmp_path):
    import stat

    d = tmp_path / "s"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    Recorder(d).close()
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
