"""The start page offers to recover a session that a crash left behind (issue 5, "Nothing lost").

The interrupted session is made the real way: a child process records with
:class:`app.recorder.Recorder` and is killed with SIGKILL before it can close anything. No test
sleeps: they wait for the bar's signals.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from analysis.timeline import Timeline
from app.qt_worker import SessionController
from app.recorder import AUDIO_NAME, TIMELINE_NAME, find_interrupted, is_interrupted, read_session
from app.settings import sessions_dir
from tests.store_util import open_test_store
from ui.main_window import MainWindow
from ui.recovery_bar import format_duration

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 2.5

CRASHING_CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {root!r})
    import numpy as np
    from analysis.timeline import Turn
    from app.recorder import Recorder
    from tests.store_util import open_test_store
    session = open_test_store().create_session()
    print(session.id, flush=True)
    rec = Recorder(session, keep_audio={keep_audio!r})
    rng = np.random.default_rng(0)
    for _ in range(int({seconds!r} * 10)):  # 100-ms blocks, as the live source delivers them
        rec.write((rng.standard_normal(1600) * 0.1).astype(np.float32))
    rec.log_record("turn", Turn("S1", 0.2, 1.0))
    rec.log_record("turn", Turn("S2", 1.1, 2.4))
    os.kill(os.getpid(), signal.SIGKILL)  # a crash: nothing is closed or sealed
""")


def crashed_session(keep_audio: bool = True) -> str:
    """The id of a store session whose recording process was killed."""
    code = CRASHING_CHILD.format(root=str(ROOT), keep_audio=keep_audio, seconds=SECONDS)
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONUNBUFFERED": "1"},
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == -9, proc.stderr
    sid = proc.stdout.split()[0]
    session = open_test_store().session(sid)
    assert read_session(session)["status"] == "recording" and is_interrupted(session)
    assert session.unsealed_roles()
    return sid


@pytest.fixture
def open_window(qtbot):
    made: list[MainWindow] = []

    def make() -> MainWindow:
        win = MainWindow(controller=SessionController(), probe_level=False)
        qtbot.addWidget(win)
        win.show()
        made.append(win)
        qtbot.waitUntil(lambda: win.recovery_bar.found is not None, timeout=10_000)  # scan finished
        return win

    yield make
    for win in made:
        win.strip.close()


def test_interrupted_session_is_offered_and_recovered(qtbot, open_window):
    sid = crashed_session()
    win = open_window()
    bar = win.recovery_bar
    assert bar.isVisible() and [s.id for s in bar.found] == [sid]
    session = open_test_store().session(sid)
    started = datetime.fromisoformat(read_session(session)["started_at"]).astimezone()
    text = bar.label.text()
    assert f"{started.day} {started:%b}, {started:%H:%M}" in text, text
    assert f"({format_duration(SECONDS)} recorded)" in text and "interrupted" in text
    assert bar.recover_button.isVisible() and bar.close_button.text() == "Not now"

    with qtbot.waitSignal(bar.recovered, timeout=10_000) as done:
        qtbot.mouseClick(bar.recover_button, Qt.MouseButton.LeftButton)
    assert done.args[0] == [str(session.dir)]
    session = open_test_store().session(sid)
    assert not is_interrupted(session) and not session.unsealed_roles()
    meta = read_session(session)
    assert meta["status"] == "recovered" and meta["analysable"]
    assert session.audio_reader().samples == round(SECONDS * 16_000)
    timeline = Timeline.from_dict(session.read_json("timeline"))
    assert [t.speaker for t in timeline.turns] == ["S1", "S2"]
    assert timeline.duration == pytest.approx(SECONDS)
    assert find_interrupted(open_test_store()) == []
    # the bar says it is done, and can be closed
    assert bar.isVisible() and "recovered" in bar.label.text()
    assert not bar.recover_button.isVisible() and bar.folder_button.isVisible()
    qtbot.mouseClick(bar.close_button, Qt.MouseButton.LeftButton)
    assert not bar.isVisible()


def test_not_now_hides_the_bar_and_keeps_the_session(qtbot, open_window):
    sid = crashed_session(keep_audio=False)  # "no audio kept": the duration comes from the event log
    win = open_window()
    bar = win.recovery_bar
    assert bar.isVisible() and f"({format_duration(2.4)} recorded)" in bar.label.text()
    qtbot.mouseClick(bar.close_button, Qt.MouseButton.LeftButton)
    assert not bar.isVisible()
    assert is_interrupted(open_test_store().session(sid))  # left as it was; offered again at the next start
    assert open_window().recovery_bar.isVisible()


def test_no_bar_without_interrupted_sessions(qtbot, open_window):
    store = open_test_store()
    store.create_session({"status": "finished", "started_at": "2026-11-25T10:00:00+00:00"})
    store.close()
    win = open_window()
    assert win.recovery_bar.found == []
    assert not win.recovery_bar.isVisible()
    assert win.idle_page.isVisible() and win.start_button.isVisible()


def test_plain_folders_of_earlier_versions_can_still_be_recovered(qtbot):
    """A folder of plain session folders (before the store) given to the bar is still searched."""
    from app.recorder import Recorder
    from ui.recovery_bar import RecoveryBar

    d = sessions_dir() / "2026-11-25_140211"
    rec = Recorder(d, keep_audio=True)
    rec.write(np.zeros(16_000, np.float32))
    os.close(rec._fd)  # the process dies: nothing is closed properly
    rec._events.close()
    rec.update(pid=0)  # a process that is gone
    bar = RecoveryBar(root=sessions_dir())
    qtbot.addWidget(bar)
    with qtbot.waitSignal(bar.scanned, timeout=10_000):
        bar.scan()
    assert bar.found == [d]
    with qtbot.waitSignal(bar.recovered, timeout=10_000) as done:
        bar.recover()
    assert done.args[0] == [str(d)] and read_session(d)["status"] == "recovered"
    assert (d / AUDIO_NAME).is_file() and (d / TIMELINE_NAME).is_file()
