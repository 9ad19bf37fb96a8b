"""The desktop window on a real capture: a PulseAudio virtual microphone (see ``tests/test_microphone.py``).

The whole app runs in a child process (PortAudio reads the sound setup once, at import, and the window's
analysis process must be spawned with the virtual microphone's environment): the start dialog with its
level meter, consent, "Start session", the analysis process with its microphone helper, stop, summary,
save. Issue 11: the level meter follows what the microphone hears (point 5), and the saved audio and
timeline start within 0.3 s of "Start session" (done-when).
"""

from __future__ import annotations

import os

import soundfile as sf

from tests.store_util import saved_session
from tests.test_microphone import CUT_S, _child, _offset, pulse, short_dialogue  # noqa: F401 (fixtures)
from tests.test_ui_level import alternating_levels

START_BOUND_S = 0.3  # the recording starts at most this long after "Start session" (issue 11)

WINDOW = """
import json, subprocess, sys, time
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

app = QApplication(["attune"])
from ui.main_window import MainWindow

def wait(cond, timeout_s, what):
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            sys.exit(f"timed out waiting for {what}")
        QTest.qWait(10)

def paplay(path):  # a 50-ms latency: the null sink renders in real time (see test_microphone.py)
    return subprocess.Popen(["paplay", "--device=attune_sink", "--latency-msec=50", path])

win = MainWindow()
win.show()
saved = []
win.session_saved.connect(saved.append)
dialog = win.begin_session()
dialog.set_source("pulse")

# the level meter follows the microphone: loud and quiet half-seconds, one after the other
sides = []
def meter_moves():
    db = dialog.meter.db
    side = "loud" if db > -30 else "quiet" if db < -45 else None
    if side and (not sides or sides[-1] != side):
        sides.append(side)
    return len(sides) >= 6
levels = paplay(LEVELS)
wait(meter_moves, 30, "the level meter to follow the input")
wait(lambda: levels.poll() is not None, 30, "the level recording to end")

dialog.next_button.click()
dialog.consent_box.setChecked(True)
dialog.keep_audio_radio.setChecked(True)
# asking the client takes longer than the analysis process needs to start (it started with the dialog)
wait(lambda: win.controller.prepared is not None and win.controller.prepared.ready, 60,
     "the analysis process")
play = paplay(DIALOGUE)  # the first words come as "Start session" is pressed
dialog.start_button.click()
wait(lambda: play.poll() is not None, 60, "the playback")
wait(lambda: win.controller.latest is not None and win.controller.latest.t >= CUT_S + 1.5, 120,
     "the session clock to pass the dialogue")
win.stop_session()
wait(lambda: win.summary_dialog is not None, 240, "the summary")
win.summary_dialog.accept()
wait(lambda: saved, 60, "the saved session")
print(json.dumps({"dir": saved[0], "sides": sides}))
"""


def test_window_meter_is_live_and_recording_starts_when_start_is_pressed(
        pulse, short_dialogue, tmp_path):  # noqa: F811 (the fixtures imported above)
    wav, turns = short_dialogue
    levels = alternating_levels(tmp_path / "levels.wav", seconds=4.0)
    env = {**pulse["env"], "ATTUNE_HOME": os.environ["ATTUNE_HOME"],  # the test's own encrypted store
           "ATTUNE_PASSPHRASE": os.environ["ATTUNE_PASSPHRASE"], "QT_QPA_PLATFORM": "offscreen"}
    code = (WINDOW.replace("LEVELS", repr(str(levels))).replace("DIALOGUE", repr(str(wav)))
            .replace("CUT_S", repr(CUT_S)))
    info = _child(code, env, timeout=600)
    assert info["sides"][:6] == ["quiet", "loud", "quiet", "loud", "quiet", "loud"], info["sides"]

    session = saved_session(info["dir"])
    meta = session.meta
    assert meta["status"] == "finished" and meta["source"]["kind"] == "microphone"
    opened = meta["stats"]["open_delay_s"]  # "Start session" pressed → the microphone open
    recorded = session.audio_reader().read_all()
    played = sf.read(wav, dtype="float32")[0]
    offset = _offset(recorded, played)  # where the dialogue, started with the click, begins in the recording
    timeline = session.read_json("timeline")
    first = min(t["start"] for t in timeline["turns"])
    print(f"microphone open {opened:.3f} s after Start; the dialogue begins {offset:+.3f} s into the "
          f"recording; first turn at {first:.2f} s in the timeline, {offset + turns[0].start:.2f} s "
          f"in the audio")
    assert 0 <= opened <= START_BOUND_S
    assert -START_BOUND_S <= offset <= START_BOUND_S
    assert offset + turns[0].start >= 0  # the first words are all there
    assert abs(first - (offset + turns[0].start)) <= START_BOUND_S
