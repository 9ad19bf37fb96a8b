"""The Settings window (issue 16): goals, retention and the session preferences are set in the app, not by
editing settings.json. OK saves through app.settings.save_settings only when every value is valid (else a
message, and the file is untouched); Cancel changes nothing; a goal set there appears on the live
dashboard. Each test has its own data folder (tests/conftest.py), so settings.json is this test's."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from app.settings import (
    LIMITS,
    Settings,
    goal_problems,
    load_settings,
    save_settings,
    settings_path,
    settings_problems,
)
from tests.ui_session import scripted_controller, start_through_dialog
from ui.settings_dialog import GOALS_TAB, PRIVACY_TAB, SESSION_TAB, SettingsDialog, privacy_key_problem

SPEED = 12.0


@pytest.fixture
def dialog(qtbot):
    d = SettingsDialog(load_settings())
    qtbot.addWidget(d)
    d.show()
    return d


def click_ok(qtbot, d: SettingsDialog) -> None:
    qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)


def file_state() -> tuple[bytes, int] | None:
    path = settings_path()
    return (path.read_bytes(), path.stat().st_mtime_ns) if path.exists() else None


# -- the rules, without a window -------------------------------------------------------------------------
def test_each_number_has_one_range_and_goals_are_checked_in_plain_words():
    s = Settings(session_minutes=1000, nudge_talk_share=0.1, retention_days=-3, idle_lock_minutes=99999)
    assert (s.session_minutes, s.nudge_talk_share, s.retention_days, s.idle_lock_minutes) == \
        (LIMITS["session_minutes"][1], LIMITS["nudge_talk_share"][0], 0, LIMITS["idle_lock_minutes"][1])
    assert isinstance(s.session_minutes, int) and isinstance(s.nudge_talk_share, float)
    assert goal_problems(["client_talk_share>=60", "interruptions_per_hour<=2"]) == []
    assert goal_problems(["client_talk_share>=150"]) == \
        ["A goal for the client's talk share is a percentage from 0 to 100, not 150."]
    assert goal_problems(["client_talk_share>=70", "client_talk_share<=50"]) == \
        ["No session can have the client's talk share at least 70 and at most 50: change one of the two goals."]
    assert "two \u201cat least\u201d goals" in goal_problems(["client_talk_share>=60", "client_talk_share>=70"])[0]
    assert goal_problems(["nonsense"]) and not settings_problems(Settings())
    assert settings_problems(Settings(session_minutes=20, end_cue_minutes=25))[0].startswith("The closing cue")
    assert settings_problems(Settings(session_minutes=20, end_cue_minutes=25, nudge_end=False)) == []


def test_the_privacy_key_must_not_be_a_typing_or_review_key():
    assert privacy_key_problem(QKeySequence("F12")) is None
    assert privacy_key_problem(QKeySequence("Ctrl+Shift+B")) is None
    for key in ("B", "Space", "Left", "Shift+B"):
        assert "used for typing or by the review window" in privacy_key_problem(QKeySequence(key)), key
    assert "already used by Attune" in privacy_key_problem(QKeySequence("Ctrl+E"))
    assert privacy_key_problem(QKeySequence()).startswith("Choose a key")


# -- the window ------------------------------------------------------------------------------------------
def test_a_goal_added_in_settings_is_saved_and_read_back_as_the_dashboard_will(qtbot, dialog):
    assert file_state() is None and dialog.goal_rows == []
    assert dialog.tabs.tabText(GOALS_TAB) == "Goals"
    qtbot.mouseClick(dialog.add_goal_button, Qt.MouseButton.LeftButton)
    assert len(dialog.goal_rows) == 1
    row = dialog.goal_rows[0]
    row.set_goal("client_talk_share", True, "")
    qtbot.keyClicks(row.value, "60")
    assert row.unit.text() == " %"
    assert row.preview.text() == "\u2192 the client talks at least 60 %"
    assert dialog.goal_preview.text() == "Goal: the client talks at least 60 %"
    click_ok(qtbot, dialog)
    assert dialog.result() == SettingsDialog.DialogCode.Accepted and not dialog.isVisible()
    assert load_settings().goals == ("client_talk_share>=60",)
    assert json.loads(settings_path().read_text())["goals"] == ["client_talk_share>=60"]
    assert dialog.saved == load_settings()


def test_invalid_values_are_refused_with_a_message_and_nothing_is_written(qtbot):
    save_settings(Settings(goals=("interruptions_per_hour<=2",)))
    before = file_state()
    d = SettingsDialog(load_settings())
    qtbot.addWidget(d)
    d.show()
    row = d.add_goal()
    cases = [("client_talk_share", True, "150", "is a percentage from 0 to 100, not 150"),
             ("client_talk_share", True, "lots", "must be a number, 0 or more (e.g. 60), not \u201clots\u201d"),
             ("response_latency_median", True, "", "Type a target for the goal on median response latency"),
             ("interruptions_per_hour", True, "5", "No session can have interruptions per hour at least 5 "
                                                  "and at most 2")]
    for figure, at_least, value, message in cases:
        row.set_goal(figure, at_least, value)
        d.tabs.setCurrentIndex(SESSION_TAB)
        click_ok(qtbot, d)
        assert d.isVisible() and d.saved is None, value
        assert d.message.isVisible() and message in d.message.text(), (value, d.message.text())
        assert d.tabs.currentIndex() == GOALS_TAB  # the tab with the problem is shown
        assert file_state() == before
    row.set_goal("client_talk_share", True, "150")
    assert "percentage from 0 to 100" in row.preview.text()  # said as it is typed, too
    assert d.goal_preview.text() == "Goal: at most 2 interruptions per hour"  # the dashboard line: valid goals only
    assert "percentage from 0 to 100" in d.message.text()  # the refusal follows the edit
    d.remove_goal(row)
    assert not d.message.isVisible()  # nothing wrong any more

    d.length_spin.setValue(20)
    d.end_spin.setValue(25)
    d.key_edit.setKeySequence(QKeySequence("B"))
    d.tabs.setCurrentIndex(PRIVACY_TAB)
    click_ok(qtbot, d)
    assert d.isVisible() and d.tabs.currentIndex() == SESSION_TAB
    assert "The closing cue (25 min before the end) must come after the session starts" in d.message.text()
    assert "B alone is used for typing" in d.message.text()
    assert file_state() == before

    d.end_spin.setValue(5)
    d.key_edit.setKeySequence(QKeySequence("Ctrl+Shift+B"))
    click_ok(qtbot, d)
    assert not d.isVisible() and not d.message.isVisible()
    saved = load_settings()
    assert (saved.session_minutes, saved.end_cue_minutes, saved.privacy_key) == (20, 5, "Ctrl+Shift+B")
    assert saved.goals == ("interruptions_per_hour<=2",)


def test_retention_and_the_other_privacy_settings_are_persisted(qtbot, dialog):
    assert dialog.retention_spin.text() == "keep everything" and dialog.idle_spin.value() == 15
    assert "kept until you delete the session" in dialog.retention_now.text()
    dialog.tabs.setCurrentIndex(PRIVACY_TAB)
    dialog.retention_spin.setValue(90)
    assert "Today that means sessions started before" in dialog.retention_now.text()
    dialog.idle_spin.setValue(0)
    assert dialog.idle_spin.text() == "never"
    dialog.reanalyse_box.setChecked(True)
    click_ok(qtbot, dialog)
    data = json.loads(settings_path().read_text())
    assert (data["retention_days"], data["idle_lock_minutes"], data["review_reanalyse"]) == (90, 0, True)
    assert settings_path().stat().st_mode & 0o777 == 0o600  # written by save_settings, nobody else
    s = load_settings()
    assert (s.retention_days, s.idle_lock_minutes, s.review_reanalyse) == (90, 0, True)


def test_cancel_leaves_settings_json_untouched(qtbot):
    save_settings(Settings(goals=("client_talk_share>=60",), retention_days=30, theme="dim"))
    before = file_state()
    d = SettingsDialog(load_settings())
    qtbot.addWidget(d)
    d.show()
    assert [r.spec() for r in d.goal_rows] == ["client_talk_share>=60"]
    d.remove_goal(d.goal_rows[0])
    d.add_goal().set_goal("interruptions_per_hour", False, "3")
    d.retention_spin.setValue(7)
    d.theme_combo.setCurrentText("dark")
    qtbot.mouseClick(d.cancel_button, Qt.MouseButton.LeftButton)
    assert d.result() == SettingsDialog.DialogCode.Rejected and d.saved is None
    assert file_state() == before
    s = load_settings()
    assert (s.goals, s.retention_days, s.theme) == (("client_talk_share>=60",), 30, "dim")


def test_goals_are_edited_and_removed(qtbot):
    save_settings(Settings(goals=("client_talk_share>=60", "interruptions_per_hour<=2")))
    d = SettingsDialog(load_settings())
    qtbot.addWidget(d)
    d.show()
    first, second = d.goal_rows
    assert (first.value.text(), second.direction.currentText()) == ("60", "at most")
    assert d.goal_preview.text() == "Goals: the client talks at least 60 %; at most 2 interruptions per hour"
    qtbot.mouseClick(first.remove, Qt.MouseButton.LeftButton)
    assert d.goal_rows == [second]
    second.set_goal("response_latency_median", True, "2,5")  # a decimal comma is a decimal point
    assert second.unit.text() == " s"
    assert d.goal_preview.text() == "Goal: wait 2.5 s before answering (median)"
    click_ok(qtbot, d)
    assert load_settings().goals == ("response_latency_median>=2.5",)


# -- from the main window to the live dashboard ----------------------------------------------------------
@pytest.fixture
def win(qtbot):
    from ui.main_window import MainWindow

    def make(turns=()):
        window = MainWindow(controller=scripted_controller(turns), file_speed=SPEED, probe_level=False)
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    made = []
    yield make
    for window in made:
        window.controller.shutdown()
        window.strip.close()


def test_a_goal_set_in_settings_appears_on_the_dashboard(qtbot, win, dialogue):
    """The issue's done-when: Settings… (Ctrl+,) → add "client talks at least 60 %" → OK; the next session's
    live dashboard shows the goal and where it stands."""
    wav, truth = dialogue
    w = win(truth.turns)
    assert w.settings_action.shortcut() == QKeySequence("Ctrl+,") and w.settings_action in w.actions()
    qtbot.mouseClick(w.settings_button, Qt.MouseButton.LeftButton)
    d = w.settings_dialog
    assert isinstance(d, SettingsDialog) and d.isVisible()
    d.add_goal().set_goal("client_talk_share", True, "60")
    click_ok(qtbot, d)
    assert load_settings().goals == ("client_talk_share>=60",) and w.settings.goals == ("client_talk_share>=60",)

    start_through_dialog(qtbot, w, wav)
    label = w.live_view.goal_label
    qtbot.waitUntil(lambda: "\u00b7 now" in label.text(), timeout=30_000)
    assert label.isVisible() and label.property("muted")
    client = next(p for p in w.live_view.cues.people if p.role == "client")
    assert label.text() == f"Goal: the client talks at least 60 % \u00b7 now {round(100 * client.share, 1):g} %"


def test_what_the_window_saves_the_main_window_keeps_and_applies(qtbot, win):
    """The start page's own controls save the window's settings: after OK they must carry the new goals,
    retention and key, not the values the window had before (which would undo the dialog)."""
    from PySide6.QtWidgets import QApplication

    w = win()
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5_000)
    qtbot.keyClick(QApplication.focusWidget() or w, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    d = w.settings_dialog  # Ctrl+, opened it
    assert isinstance(d, SettingsDialog) and d.isVisible()
    d.add_goal().set_goal("interruptions_per_hour", False, "2")
    d.retention_spin.setValue(60)
    d.idle_spin.setValue(5)
    d.theme_combo.setCurrentText("dim")
    d.share_spin.setValue(80)
    d.key_edit.setKeySequence(QKeySequence("F9"))
    click_ok(qtbot, d)
    assert w.theme_combo.currentText() == "dim" and w.share_spin.value() == 80 and w.theme.name == "dim"
    assert w.idle_lock.minutes == 5
    assert w.privacy_key == QKeySequence("F9") and w.blank_button.text() == "Blank (F9)"
    assert w.blank_shortcut.key() == QKeySequence("F9")
    w.nudges_box.setChecked(not w.nudges_box.isChecked())  # the start page saves its copy now
    s = load_settings()
    assert (s.goals, s.retention_days, s.idle_lock_minutes, s.privacy_key, s.nudge_talk_share) == \
        (("interruptions_per_hour<=2",), 60, 5, "F9", 0.8)
    w.close()  # closing saves the window's settings too
    assert load_settings().goals == ("interruptions_per_hour<=2",)


def test_the_clinician_set_in_settings_is_recorded_with_each_new_session(qtbot, dialog, tmp_path):
    """Trends per clinician (issue 16): the name set in the window is saved, and a session created after
    it records that clinician (none set: none recorded, the installation's own)."""
    from tests.store_util import open_test_store

    store = open_test_store(tmp_path / "store")
    before = store.create_session({})
    dialog.clinician_edit.setText("  Dr Lee ")
    click_ok(qtbot, dialog)
    assert load_settings().clinician == "Dr Lee"
    after = store.create_session({})
    assert "clinician" not in before.meta and after.meta["clinician"] == "Dr Lee"
