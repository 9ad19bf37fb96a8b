"""No network, proven (issue 13 point 5): analysis, live mode, review and export run with every socket
call blocked (tests/net_guard.py) and none is attempted. The models are loaded for real (transcription
and diarization on), from the local files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.net_guard import no_network, read_attempts, subprocess_env
from tests.store_util import open_test_store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def short_dialogue(tmp_path_factory):
    """A 12-s two-voice exchange (espeak-ng)."""
    from app.synth import Line, Script, render
    from app.synth_scripts import CLIENT, THERAPIST

    script = Script(voices=(THERAPIST, CLIENT), lines=(
        Line("S1", "Good morning. How has the week been for you?"),
        Line("S2", "Busy, and a little hard. I slept badly most nights."),
        Line("S1", "Tell me more about the nights."),
    ))
    wav = tmp_path_factory.mktemp("short") / "short.wav"
    render(script, wav)
    return wav


def test_the_subprocess_guard_sees_an_attempt(tmp_path):
    """The guard is really installed in a child (and its children): a connection is refused and logged."""
    env = subprocess_env(tmp_path)
    code = ("import socket, subprocess, sys\n"
            "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\nexcept OSError as e:\n"
            "    print('refused', e)\n"
            "subprocess.run([sys.executable, '-c', 'import socket; socket.getaddrinfo(\"example.org\", 443)'])\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "refused" in out.stdout and "blocked" in out.stdout
    attempts = read_attempts(tmp_path)
    assert len(attempts) == 2 and "192.0.2.1" in attempts[0] and "example.org" in attempts[1]


@pytest.mark.slow
def test_analysis_live_review_and_export_attempt_no_connection(short_dialogue, tmp_path, qtbot, capsys):
    from app.cli import main

    # live mode, in its own process (its analysis helpers inherit the guard)
    env = subprocess_env(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "app.cli", "live", "--file", str(short_dialogue),
                           "--duration", "5", "-q", "--client", "NET-1"],
                          env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert read_attempts(tmp_path) == []

    with no_network() as attempts:
        # analysis into the store (transcription and diarization on)
        assert main(["analyze", str(short_dialogue)]) == 0
        store = open_test_store()
        sessions = store.list_sessions()
        assert len(sessions) == 2 and {s.client for s in sessions} >= {"NET-1"}
        live_id = next(s.id for s in sessions if s.client == "NET-1")
        # review: the window on the live session, its audio decoded for playback
        from app.review_session import open_review
        from ui.review_window import ReviewWindow

        w = ReviewWindow(open_review(live_id))
        qtbot.addWidget(w)
        qtbot.waitUntil(lambda: w.player.is_loaded, timeout=60000)
        w.close()
        # export: report, subtitles, audio
        out = tmp_path / "export"
        assert main(["export", live_id, "-f", "html,srt,wav", "-o", str(out)]) == 0
        assert sorted(p.suffix for p in out.iterdir()) == [".html", ".srt", ".wav"]
    assert attempts == []
    capsys.readouterr()
