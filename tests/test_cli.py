"""The attune command line: outputs, summaries, and one-line errors that never stop the batch."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ATTUNE = str(Path(sys.executable).parent / "attune")


def run(*args, timeout=600):
    return subprocess.run([ATTUNE, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("attune ")


def test_analyze_writes_timeline_and_rttm(shared_audio, tmp_path):
    out = run("analyze", shared_audio / "jfk" / "jfk.flac", "--out", tmp_path / "o", "--no-diarize")
    assert out.returncode == 0, out.stderr
    tl = json.loads((tmp_path / "o" / "jfk.timeline.json").read_text())
    assert tl["schema"] == "attune.timeline/1" and tl["duration"] > 10
    assert "country" in " ".join(u["text"] for u in tl["utterances"]).lower()
    rttm = (tmp_path / "o" / "jfk.rttm").read_text().splitlines()
    assert rttm and all(line.startswith("SPEAKER jfk 1 ") for line in rttm)
    assert "duration 11.0 s" in out.stdout


def test_broken_inputs_give_one_line_errors_and_the_batch_carries_on(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 50)
    good = tmp_path / "stereo8k.wav"
    t = np.arange(8000 * 2) / 8000
    sf.write(good, np.stack([np.sin(2 * np.pi * 200 * t)] * 2, axis=1) * 0.2, 8000)
    surround = tmp_path / "six.wav"
    sf.write(surround, np.zeros((48_000, 6), np.float32), 48_000)
    out = run("analyze", tmp_path / "missing.wav", empty, text, good, surround, "--out", tmp_path / "o",
              "--no-transcribe", "--no-diarize")
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("attune: error:")]
    assert len(errors) == 3
    assert "no such file" in errors[0] and "empty" in errors[1] and "not a recognised audio" in errors[2]
    assert "Traceback" not in out.stderr
    assert (tmp_path / "o" / "stereo8k.timeline.json").is_file()
    assert (tmp_path / "o" / "six.timeline.json").is_file()
    assert "3 of 5 file(s) could not be analysed" in out.stderr


def test_bad_model_directory_is_one_line(tmp_path, shared_audio):
    out = run("analyze", shared_audio / "jfk" / "jfk.flac", "--out", tmp_path, "--model", tmp_path / "nope")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "model" in out.stderr


def test_bad_speaker_hint(tmp_path, shared_audio):
    out = run("analyze", shared_audio / "jfk" / "jfk.flac", "--out", tmp_path, "--speakers", "0")
    assert out.returncode == 2 and "--speakers" in out.stderr


def test_live_bad_number_of_people_is_one_line(tmp_path):
    wav = tmp_path / "tone.wav"
    sf.write(wav, np.zeros(16_000, np.float32), 16_000)
    for bad in ("0", "11"):
        out = run("live", "--file", wav, "--out", tmp_path / "s", "--speakers", bad)
        assert out.returncode == 2, out.stderr
        assert out.stderr == "attune: error: --speakers must be between 1 and 10\n"
        assert not (tmp_path / "s").exists()  # nothing was recorded


def test_demo_generates_a_dialogue_and_compares_with_its_truth(tmp_path):
    out = run("demo", "--out", tmp_path, "--no-transcribe", "--no-diarize", "-q")
    assert out.returncode == 0, out.stderr
    for name in ("demo-session.wav", "demo-session.truth.json", "demo-session.timeline.json",
                 "demo-session.rttm"):
        assert (tmp_path / name).is_file()
    truth_line = next(line for line in out.stdout.splitlines() if "ground truth" in line)
    assert "S1 talk" in truth_line and "S2 talk" in truth_line


def test_summary_says_who_interrupted_whom():
    """'interrupted 2x' read as 'was interrupted twice'; the summary now says both directions, and
    counts the cue engine's turns, not the diarizer's segments."""
    from types import SimpleNamespace

    from analysis.timeline import Metrics, Speaker, Timeline, Turn
    from app.cli import summary_lines

    tl = Timeline(duration=30.0, speakers=(Speaker("S1", "Speaker 1", None), Speaker("S2", "Speaker 2", None)),
                  turns=(Turn("S1", 0.0, 0.017), Turn("S2", 0.017, 5.0), Turn("S1", 4.0, 9.0)),
                  metrics=Metrics({}, {"S1": {"talk_share": 0.5, "turns": 1, "interruptions_made": 2,
                                              "interruptions_received": 0},
                                       "S2": {"talk_share": 0.5, "turns": 1, "interruptions_made": 0,
                                              "interruptions_received": 2}}))
    lines = summary_lines(SimpleNamespace(timeline=tl, warnings=[]))
    assert "2 turns" in lines[0]
    assert lines[1] == "  Speaker 1: talk 50% interrupted others 2x, was interrupted 0x"
    assert lines[2] == "  Speaker 2: talk 50% interrupted others 0x, was interrupted 2x"


def test_live_warns_when_it_cannot_look_for_interrupted_sessions(tmp_path, monkeypatch, caplog):
    """attune live points at sessions a crash left behind in the store; a store it cannot look in is
    said, not passed over in silence (the session itself goes on)."""
    import logging
    from types import SimpleNamespace

    from app.cmd_live import _mention_interrupted

    def unreadable():
        raise PermissionError(13, "Permission denied", str(tmp_path / "not-a-folder"))

    with caplog.at_level(logging.WARNING, logger="app.cmd_live"):
        _mention_interrupted(SimpleNamespace(unsealed_sessions=unreadable, root=tmp_path))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "interrupted sessions" in warnings[0] and "not-a-folder" in warnings[0]
