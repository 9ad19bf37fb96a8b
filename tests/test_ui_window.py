"""The real window, driven with pytest-qt on a generated dialogue replayed through the file source.

The pipeline is the real :class:`analysis.live.LivePipeline` (VAD, cue engine, recorder) on the
worker thread. Speakers come from an oracle streaming diarizer that releases the dialogue's true
turns as the audio passes, so what the widgets show can be checked against the dialogue's truth
exactly (diarization quality is tested elsewhere). No test sleeps: they wait for signals.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel, QPlainTextEdit, QSpinBox, QWidget

from analysis.live import LiveOptions, LivePipeline
from analysis.scripted_diarizer import ScriptedDiarizer
from app.qt_worker import SessionConfig, SessionController
from tests.store_util import open_test_store, saved_session
from tests.ui_session import start_through_dialog
from ui.main_window import MainWindow
from ui.widgets import BalanceBar

SPEED = 12.0  # the 84-s dialogue replays in about 7 s


class WordsTranscriber:
    """Stands in for Whisper: every stretch of speech becomes one line of placeholder words."""

    model = object()

    def transcribe(self, audio, offset: float = 0.0):
        from analysis.timeline import Utterance

        return [Utterance("?", offset, offset + len(audio) / 16_000, "some spoken words")]


@pytest.fixture
def window(qtbot, dialogue):
    _, truth = dialogue

    def pipeline_factory(config, on_record):
        return LivePipeline(LiveOptions(transcribe=True), diarizer=ScriptedDiarizer(truth.turns),
                            on_record=on_record, transcriber=WordsTranscriber())

    controller = SessionController(pipeline_factory=pipeline_factory)
    win = MainWindow(controller=controller, file_speed=SPEED)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.controller.shutdown()
    win.strip.close()


def visible_texts(widgets) -> list[str]:
    out = []
    for w in widgets:
        if not w.isVisible():
            continue
        if isinstance(w, QLabel | QAbstractButton):
            text = w.text()
        elif isinstance(w, QPlainTextEdit):
            text = w.toPlainText()
        elif isinstance(w, BalanceBar):
            text = w.text()
        elif isinstance(w, QComboBox):
            text = w.currentText()
        elif isinstance(w, QSpinBox):
            text = w.text()
        else:
            continue
        if text.strip():
            out.append(text)
    return out


def test_live_session_shows_the_dialogue_truth(qtbot, window, dialogue):
    wav, truth = dialogue
    win = window
    start_through_dialog(qtbot, win, wav)
    view = win.live_view
    assert not win.loading_row.isVisible()
    assert not view.transcript.isVisible()  # hidden by default

    # mid-session: who is speaking now follows the dialogue
    seen: set[str] = set()

    def both_seen() -> bool:
        seen.add(view.speaking_label.text())
        return {"You are speaking", "Client is speaking"} <= seen

    qtbot.waitUntil(both_seen, timeout=20_000)
    assert view.clock_label.text() != "00:00"

    with qtbot.waitSignal(win.controller.finished, timeout=30_000) as finished:
        pass
    result = finished.args[0]
    assert not result.interrupted

    # the final view and the summary against the truth (S1 therapist, S2 client)
    share = truth.talk_share
    assert view.session_bar.left[0] == "You" and view.session_bar.right[0] == "Client"
    left, right = view.session_bar.shares()
    assert left == pytest.approx(share["S1"], abs=0.01)
    assert right == pytest.approx(share["S2"], abs=0.01)
    assert f"You {round(100 * share['S1'])} %" in view.session_bar.text()
    for sid, role in (("S1", "therapist"), ("S2", "client")):
        card = view.card(role)
        made = sum(1 for e in truth.events if e.kind == "interruption" and e.by == sid)
        received = sum(1 for e in truth.events if e.kind == "interruption" and e.of == sid)
        backchannels = sum(1 for e in truth.events if e.kind == "backchannel" and e.by == sid)
        assert card.values["interruptions_made"].text() == str(made)
        assert card.values["interruptions_received"].text() == str(received)
        assert card.values["backchannels"].text() == str(backchannels)
    assert view.speaking_label.text() == "Quiet"

    # stop flow: summary, a note, save
    qtbot.waitUntil(lambda: win.summary_dialog is not None and win.summary_dialog.isVisible())
    summary = win.summary_dialog
    assert summary.values["You: talk"].text().endswith(f"({round(100 * share['S1'])} %)")
    summary.note.setPlainText("Client opened up about work.")
    with qtbot.waitSignal(win.session_saved, timeout=5_000) as saved:
        qtbot.mouseClick(summary.save_button, Qt.MouseButton.LeftButton)
    session = saved_session(saved.args[0])
    meta = session.meta
    assert meta["status"] == "finished" and meta["consent"] == {  # the most private answers by default
        "analysis": True, "audio": False, "transcript": False}
    assert meta["roles"] == {"S1": "therapist", "S2": "client"}
    assert session.read_doc("note").decode().strip() == "Client opened up about work."
    assert session.has("timeline")
    assert not session.has("audio", stream=True)  # "no audio kept" keeps only timeline and cues
    assert "encrypted" in win.idle_message.text()
    assert win.pages.currentWidget() is win.idle_page
    assert win.controller.thread is None  # the worker thread was joined


def test_privacy_blank_hides_every_text(qtbot, window, dialogue):
    wav, _ = dialogue
    win = window
    start_through_dialog(qtbot, win, wav, keep_transcript=True)
    view = win.live_view
    qtbot.mouseClick(view.transcript_button, Qt.MouseButton.LeftButton)  # one click shows it
    qtbot.waitUntil(lambda: "some spoken words" in view.transcript.toPlainText(), timeout=20_000)
    assert view.transcript.isVisible() and view.transcript.toPlainText().startswith(("You:", "Client:"))
    everything = win.findChildren(QWidget) + win.strip.findChildren(QWidget)
    assert len(visible_texts(everything)) > 10

    qtbot.keyClick(win, Qt.Key.Key_F12)  # the one key
    assert win.blanked
    assert visible_texts(everything) == []
    image = win.grab().toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) == 1  # one flat colour: no text, no bar, nothing

    win.set_strip_mode(True)  # the strip blanks too
    assert win.strip.isVisible() and visible_texts(win.strip.findChildren(QWidget)) == []
    win.set_strip_mode(False)
    qtbot.keyClick(win, Qt.Key.Key_F12)
    assert not win.blanked and win.live_view.clock_label.isVisible()
    with qtbot.waitSignal(win.session_saved, timeout=30_000):
        win.close()


def test_consent_refused_means_no_session(qtbot, window, dialogue):
    wav, _ = dialogue
    win = window
    dialog = win.begin_session()
    dialog.set_source(f"file:{wav}")
    qtbot.waitUntil(lambda: dialog.meter.db > -60, timeout=10_000)  # the level meter hears the input
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.no_audio_radio.isChecked()  # "no audio kept" is the default
    assert not dialog.start_button.isEnabled()
    dialog.accept()  # even a forced accept does nothing without consent
    assert dialog.isVisible()
    qtbot.mouseClick(dialog.decline_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert not win.controller.running and win.controller.thread is None
    assert win.pages.currentWidget() is win.idle_page
    assert "did not agree" in win.idle_message.text()
    assert not win.start_session(SessionConfig(source=f"file:{wav}", consent_analysis=False))
    from app.settings import sessions_dir

    assert list(sessions_dir().iterdir()) == [] and open_test_store().session_ids() == []  # nothing recorded


def test_closing_mid_session_saves(qtbot, window, dialogue):
    wav, _ = dialogue
    win = window
    win.file_speed = 1.0  # real time: the session is certainly still running when the window closes
    start_through_dialog(qtbot, win, wav, keep_audio=True)
    # past 2 s of audio (not at it: the recorder may hold exactly the 2.0 s the clock shows when it closes)
    qtbot.waitUntil(lambda: win.controller.latest is not None and win.controller.latest.t >= 2.5,
                    timeout=20_000)
    with qtbot.waitSignal(win.session_saved, timeout=30_000) as saved:
        win.close()
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=5_000)
    session = saved_session(saved.args[0])
    meta = session.meta
    timeline = session.read_json("timeline")
    assert meta["status"] == "finished" and meta["consent"]["audio"] is True
    assert 2.0 <= timeline["duration"] < 30.0
    assert session.audio_reader().duration > 2.0 and not session.unsealed_roles()
    assert win.controller.thread is None and not win.controller.running


def test_transcript_strip_and_theme_settings(qtbot, window):
    win = window
    view = win.live_view
    assert not view.transcript.isVisible()
    win.pages.setCurrentWidget(win.live_page)
    qtbot.mouseClick(view.transcript_button, Qt.MouseButton.LeftButton)
    assert view.transcript.isVisible() and view.transcript_button.text() == "Hide transcript"
    qtbot.mouseClick(view.transcript_button, Qt.MouseButton.LeftButton)
    assert not view.transcript.isVisible()

    win.set_strip_mode(True)
    assert win.strip.isVisible() and not win.isVisible()
    assert win.strip.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
    win.strip.expand_requested.emit()
    assert win.isVisible() and not win.strip.isVisible()

    win.pages.setCurrentWidget(win.idle_page)
    win.theme_combo.setCurrentText("dim")
    win.share_spin.setValue(65)
    from app.settings import load_settings

    saved = load_settings()
    assert saved.theme == "dim" and saved.nudge_talk_share == pytest.approx(0.65)
    assert win.theme.name == "dim"


def test_attune_gui_main_runs_the_pipeline_in_its_analysis_process(qtbot, dialogue):
    """``app.gui.main --play`` reviews a recording: the default pipeline runs in a separate analysis
    process and states still arrive on the GUI thread. A review asks no consent and creates no session:
    the sessions folder stays empty and the review's private working folder is gone afterwards."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app import gui
    from app.settings import sessions_dir

    wav, _ = dialogue
    seen: dict = {}

    def watch() -> None:
        win = next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)
                    and w.isVisible()), None)
        if win is None:
            return
        if "window" not in seen:
            seen["window"] = win
            seen["review_dir"] = win.review_dir
            seen["dialogs"] = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w is not win]
            win.session_saved.connect(lambda d: seen.setdefault("saved", d))
            win.review_finished.connect(lambda: seen.setdefault("review_finished", True))
        latest = win.controller.latest
        if latest is not None and latest.t >= 3.0 and "closed_at" not in seen:
            seen["closed_at"] = latest.t
            seen["states"] = win.controller.state_count
            seen["isolated"] = win.controller.worker.isolate
            win.close()

    timer = QTimer()
    timer.timeout.connect(watch)
    timer.start(50)
    QTimer.singleShot(60_000, QApplication.instance().quit)  # safety net
    code = gui.main(["--play", str(wav), "--speed", "2", "--no-transcribe"])
    timer.stop()
    assert code == 0
    assert seen.get("isolated") is True and seen["states"] > 5
    assert seen["dialogs"] == []  # no consent asked
    assert seen.get("review_finished") and "saved" not in seen
    assert seen["review_dir"] is not None and not seen["review_dir"].exists()
    assert list(sessions_dir().iterdir()) == [] and open_test_store().session_ids() == []  # no session
    assert seen["window"].controller.thread is None


def test_installed_pyside6_keeps_its_references_to_none_and_true(qtbot):
    """PySide6 6.12.0 took a reference from None/True/False on every void call or emit, and Python < 3.12
    aborts once None's count runs out (a live view paints at 12 Hz). The version pin in pyproject.toml
    excludes that release, so the app carries no workaround; this probes the installed build."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        sig = Signal(object)

    label, emitter = QLabel(), Emitter()
    emitter.sig.connect(lambda _x: None)
    before = {name: sys.getrefcount(obj) for name, obj in (("None", None), ("True", True))}
    for i in range(300):  # an affected build loses 300 from each (few enough not to abort Python)
        label.setText("x")
        emitter.sig.emit(i)
    for name, obj in (("None", None), ("True", True)):
        assert sys.getrefcount(obj) > before[name] - 100, name
