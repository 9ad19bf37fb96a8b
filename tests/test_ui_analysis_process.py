"""The window starts its analysis process when the start dialog opens, so that "Start session" only has
to open the microphone (issue 11: the recording starts when Start is pressed; the timing itself is
measured on a real capture in ``tests/test_window_microphone.py``). Cancelling the dialog ends that
process; starting the session runs in it. The real analysis process, a replayed recording, no words."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.store_util import saved_session
from ui.main_window import MainWindow


def test_the_analysis_process_starts_with_the_dialog_and_runs_the_session(qtbot, dialogue):
    wav, _truth = dialogue
    win = MainWindow(file_speed=4.0, probe_level=False)
    qtbot.addWidget(win)
    win.show()
    try:
        dialog = win.begin_session()
        first = win.controller.prepared
        assert first is not None and first.proc.is_alive()  # started with the dialog, nothing asked yet
        qtbot.waitUntil(lambda: first.ready, timeout=60_000)  # started and waiting, microphone helper too
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        assert win.controller.prepared is None
        qtbot.waitUntil(lambda: not first.proc.is_alive(), timeout=10_000)  # no session: it ends

        dialog = win.begin_session()
        process = win.controller.prepared
        assert process is not None and process is not first
        dialog.set_source(f"file:{wav}")
        qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(dialog.consent_box, Qt.MouseButton.LeftButton)
        with qtbot.waitSignal(win.controller.ready, timeout=120_000):
            qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert win.controller.prepared is None and process.used and process.proc.is_alive()
        qtbot.waitUntil(lambda: win.controller.latest is not None and win.controller.latest.t >= 3.0,
                        timeout=60_000)
        win.stop_session()
        qtbot.waitUntil(lambda: win.summary_dialog is not None, timeout=120_000)
        with qtbot.waitSignal(win.session_saved, timeout=30_000) as saved:
            win.summary_dialog.accept()
        assert not process.proc.is_alive()
    finally:
        win.controller.shutdown()
        win.strip.close()
    meta = saved_session(saved.args[0]).meta
    assert meta["status"] == "finished" and meta["source"]["kind"] == "file"
    assert 0 <= meta["stats"]["open_delay_s"] < 5.0  # from "Start session" pressed (the window's click)
