"""Consent, what is remembered, and what is kept private (issue 11, points 2, 7, 9 and 10).

- The consent page asks three separate questions (live analysis, keeping the audio, keeping a
  transcript), each starting at its most private answer for every session, never restored.
- session.json's ``consent.transcript`` is the answer given.
- Restarting remembers preferences only: never a replayed recording, never the transcript panel;
  "Not enrolled" stays "Not enrolled".
- settings.json is 0600, the data and sessions folders 0700; no recording's path in settings.json
  nor in Qt's own config.
- Replaying a recording is a review: no consent asked, no session created; ``attune --play FILE``.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QLabel

from app.settings import (
    NOT_ENROLLED,
    Settings,
    data_dir,
    load_settings,
    save_settings,
    sessions_dir,
    settings_path,
)
from tests.store_util import open_test_store, saved_session
from tests.ui_session import SPEED, scripted_controller, start_through_dialog
from ui.main_window import MainWindow, documents_dir
from ui.start_dialog import StartDialog


@pytest.fixture
def qt_config(tmp_path):
    """Qt's own per-user config (QtProject.conf) goes to a temporary folder for the test."""
    folder = tmp_path / "qt-config"
    folder.mkdir()
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
    return folder


def new_dialog(qtbot, settings: Settings | None = None) -> StartDialog:
    dialog = StartDialog(settings or load_settings(), probe_level=False)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def make_window(qtbot, turns, configs=None) -> MainWindow:
    win = MainWindow(controller=scripted_controller(turns, configs), file_speed=SPEED, probe_level=False)
    qtbot.addWidget(win)
    win.show()
    return win


def close_window(win: MainWindow) -> None:
    win.controller.shutdown()
    win.strip.close()


def test_consent_page_asks_three_questions_each_at_its_most_private_answer(qtbot):
    dialog = new_dialog(qtbot)
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    # three separate answers, plainly worded, each at the most private choice
    assert not dialog.consent_box.isChecked()
    assert dialog.no_audio_radio.isChecked() and not dialog.keep_audio_radio.isChecked()
    assert dialog.no_transcript_radio.isChecked() and not dialog.keep_transcript_radio.isChecked()
    assert dialog.no_audio_radio.text() == "Don't keep the audio"
    assert "transcript" in dialog.no_transcript_radio.text()
    assert "no audio, no words" in dialog.kept_label.text()  # says what will be stored
    assert dialog.config().keep_audio is False and dialog.config().keep_transcript is False
    assert not dialog.start_button.isEnabled()

    # the answers are separate: keeping a transcript does not keep the audio, and the reverse
    qtbot.mouseClick(dialog.keep_transcript_radio, Qt.MouseButton.LeftButton)
    assert dialog.config().keep_transcript is True and dialog.config().keep_audio is False
    assert "the transcript" in dialog.kept_label.text() and "no audio" in dialog.kept_label.text()
    qtbot.mouseClick(dialog.keep_audio_radio, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.consent_box, Qt.MouseButton.LeftButton)
    assert dialog.config().keep_audio is True and dialog.config().keep_transcript is True
    with qtbot.waitSignal(dialog.accepted, timeout=5_000):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    save_settings(dialog.chosen_settings())  # what the window does when a session starts

    # never carried over, not even through a restart (settings read back from disk)
    saved = json.loads(settings_path().read_text())
    assert not any("audio" in key or "transcript" in key or "consent" in key for key in saved)
    again = new_dialog(qtbot, load_settings())
    assert not again.consent_box.isChecked()
    assert again.no_audio_radio.isChecked() and again.no_transcript_radio.isChecked()
    # an old settings file that still remembers "keep the audio" is ignored
    settings_path().write_text(json.dumps({"keep_audio_default": True, "show_transcript": True}))
    old = new_dialog(qtbot, load_settings())
    assert old.no_audio_radio.isChecked() and old.no_transcript_radio.isChecked()


@pytest.mark.parametrize("keep_transcript", [True, False])
def test_session_json_records_the_transcript_answer(qtbot, dialogue, keep_transcript):
    wav, truth = dialogue
    configs: list = []
    win = make_window(qtbot, truth.turns, configs)
    try:
        start_through_dialog(qtbot, win, wav, keep_transcript=keep_transcript)
        with qtbot.waitSignal(win.controller.finished, timeout=30_000) as finished:
            win.stop_session()
        folder = Path(finished.args[0].session_dir)
        with qtbot.waitSignal(win.session_saved, timeout=10_000):
            win.close()
    finally:
        close_window(win)
    assert configs[0].keep_transcript is keep_transcript
    meta = saved_session(folder).meta
    assert meta["consent"] == {"analysis": True, "audio": False, "transcript": keep_transcript}


def test_restart_remembers_preferences_never_per_session_choices(qtbot, dialogue):
    wav, truth = dialogue
    # an old settings file that remembers a replayed recording: it never comes back as the input
    settings_path().write_text(json.dumps({"device": f"file:{wav}", "session_minutes": 40}))
    assert load_settings().device is None and load_settings().session_minutes == 40
    dialog = new_dialog(qtbot)
    assert dialog.source() is None  # the microphone, not the old file
    dialog.set_source(f"file:{wav}")
    assert dialog.chosen_settings().device is None  # a recording is never remembered
    save_settings(Settings(device=f"file:{wav}"))
    assert str(wav) not in settings_path().read_text()

    # "Not enrolled" stays "Not enrolled" after a restart, even with an enrolled voice
    folder = data_dir() / "voiceprints"
    folder.mkdir()
    (folder / "lee.json").write_text(json.dumps({"name": "Dr Lee", "created": 1.0, "vector": [0.1]}))
    first = new_dialog(qtbot)
    assert first.voice_combo.currentData() == "Dr Lee"  # the enrolled voice is offered at first
    first.voice_combo.setCurrentIndex(first.voice_combo.findData(None))
    save_settings(first.chosen_settings())
    assert load_settings().therapist_voice == NOT_ENROLLED
    second = new_dialog(qtbot, load_settings())
    assert second.voice_combo.currentData() is None and second.config().therapist_voice is None

    # the transcript is hidden at the start of every session, even after it was shown in the last
    settings_path().write_text(json.dumps({"show_transcript": True}))
    win = make_window(qtbot, truth.turns)
    try:
        view = win.live_view
        for n in range(2):
            start_through_dialog(qtbot, win, wav)
            assert not view.transcript.isVisible(), f"session {n + 1}"
            qtbot.mouseClick(view.transcript_button, Qt.MouseButton.LeftButton)
            assert view.transcript.isVisible()
            with qtbot.waitSignal(win.controller.finished, timeout=30_000):
                win.stop_session()
            qtbot.waitUntil(lambda: win.summary_dialog is not None)
            with qtbot.waitSignal(win.session_saved, timeout=10_000):
                win.summary_dialog.accept()
    finally:
        close_window(win)
    saved = json.loads(settings_path().read_text())
    assert saved.get("device") is None and "show_transcript" not in saved


def test_settings_and_folders_are_private_and_hold_no_recording_path(qtbot, dialogue, qt_config,
                                                                     tmp_path, monkeypatch):
    wav, truth = dialogue
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOCUMENTS_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    path = save_settings(Settings(theme="dim"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data_dir()).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(sessions_dir()).st_mode) == 0o700

    win = make_window(qtbot, truth.turns)
    try:
        picker = win.choose_recording()  # "Replay a recording…" on the start page
        assert Path(documents_dir()) == home / "Documents"
        assert Path(picker.directory().absolutePath()) == home / "Documents"  # not the current folder
        picker.setDirectory(str(wav.parent))
        picker.selectFile(str(wav))
        with qtbot.waitSignal(win.review_finished, timeout=60_000):
            picker.accept()
            qtbot.waitUntil(lambda: win.summary_dialog is not None, timeout=45_000)
            win.summary_dialog.accept()
        QApplication.processEvents()
    finally:
        close_window(win)
    win.close()
    QApplication.sendPostedEvents(None, 0)  # the picker's deferred delete: Qt writes its config then
    for conf in qt_config.rglob("*"):
        if conf.is_file():
            text = conf.read_text(errors="replace")
            assert str(wav.parent) not in text and wav.name not in text, conf
    assert str(wav.parent) not in settings_path().read_text()
    assert list(sessions_dir().iterdir()) == []  # a review creates no session
    assert open_test_store().session_ids() == []


def test_a_review_asks_no_consent_and_creates_no_session(qtbot, dialogue):
    wav, truth = dialogue
    win = make_window(qtbot, truth.turns)
    try:
        assert win.start_review(str(wav))
        assert win.start_dialog is None  # no consent page: there is no client in the room
        folder = win.review_dir
        assert folder is not None and stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        assert win.stop_button.text() == "Stop review"
        qtbot.waitUntil(lambda: win.summary_dialog is not None, timeout=45_000)
        summary = win.summary_dialog
        assert "nothing was saved" in summary.findChild(QLabel, "saved_info").text()
        assert not summary.note.isVisible()
        with qtbot.waitSignal(win.review_finished, timeout=10_000):
            summary.accept()
    finally:
        close_window(win)
    assert not folder.exists()
    assert list(sessions_dir().iterdir()) == [] and open_test_store().session_ids() == []
    assert "nothing was saved" in win.idle_message.text()


def test_attune_play_opens_the_app_on_the_recording(monkeypatch, tmp_path):
    import app.gui
    from app import cli

    called = []
    monkeypatch.setattr(app.gui, "main", lambda argv: called.append(list(argv)) or 0)
    assert cli.main(["--play", str(tmp_path / "x.wav"), "--speed", "2"]) == 0
    assert called == [["--play", str(tmp_path / "x.wav"), "--speed", "2"]]
    assert app.gui.parse_args(called[0]).play == str(tmp_path / "x.wav")
