"""The privacy key blanks every Attune window from any Attune window (issue 11, point 3).

The key is pressed in each window as the clinician would, with that window active: the main window,
the start dialog (modal), the summary dialog (modal), the compact strip, the file picker. Each time
every window goes blank or hides, and the same key shows everything again.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from tests.test_ui_window import visible_texts
from tests.ui_session import SPEED, scripted_controller
from ui.main_window import MainWindow


@pytest.fixture
def win(qtbot, dialogue):
    _, truth = dialogue
    window = MainWindow(controller=scripted_controller(truth.turns), file_speed=SPEED, probe_level=False)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.controller.shutdown()
    window.strip.close()


def press_in(qtbot, window: QWidget) -> None:
    """Press the privacy key with ``window`` active, as the clinician would."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_F12)


def all_texts(win: MainWindow) -> list[str]:
    widgets = []
    for top in QApplication.topLevelWidgets():
        if top.isVisible():
            widgets += [top, *top.findChildren(QWidget)]
    return visible_texts(widgets)


def assert_blank(win: MainWindow) -> None:
    assert win.blanked
    assert all_texts(win) == []
    visible = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    assert set(visible) <= {win, win.strip}


def test_the_key_works_in_the_main_window_and_the_start_dialog(qtbot, win, dialogue):
    wav, _ = dialogue
    press_in(qtbot, win)
    assert_blank(win)
    press_in(qtbot, win)
    assert not win.blanked and win.start_button.isVisible()

    dialog = win.begin_session()  # modal: today it swallows the key
    dialog.set_source(f"file:{wav}")
    qtbot.waitUntil(dialog.isVisible)
    press_in(qtbot, dialog)
    assert_blank(win)
    press_in(qtbot, win)  # the dialog is hidden: the key is pressed where the clinician is
    assert not win.blanked and dialog.isVisible()
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    press_in(qtbot, dialog)  # on the consent page too
    assert_blank(win)
    press_in(qtbot, win)
    assert dialog.isVisible() and dialog.pages.currentIndex() == 1  # back where it was
    dialog.reject()


def test_the_key_works_in_the_strip_and_the_summary(qtbot, win, dialogue):
    wav, _ = dialogue
    assert win.start_review(str(wav))
    qtbot.waitUntil(lambda: win.controller.latest is not None and win.controller.latest.t >= 2.0,
                    timeout=30_000)
    win.set_strip_mode(True)
    assert not win.isVisible() and win.strip.isVisible()
    press_in(qtbot, win.strip)  # the main window is hidden: its own shortcut cannot fire
    assert win.blanked and visible_texts(win.strip.findChildren(QWidget)) == []
    press_in(qtbot, win.strip)
    assert not win.blanked and win.strip.clock_label.isVisible()
    win.set_strip_mode(False)

    win.stop_session()
    qtbot.waitUntil(lambda: win.summary_dialog is not None and win.summary_dialog.isVisible(),
                    timeout=30_000)
    summary = win.summary_dialog
    press_in(qtbot, summary)  # modal: today it swallows the key
    assert_blank(win)
    assert not summary.isVisible()
    press_in(qtbot, win)
    assert not win.blanked and summary.isVisible()
    summary.accept()


def test_the_key_works_in_the_file_picker(qtbot, win):
    picker = win.choose_recording()
    qtbot.waitUntil(picker.isVisible)
    press_in(qtbot, picker)
    assert_blank(win)
    press_in(qtbot, win)
    assert not win.blanked and picker.isVisible()
    picker.reject()
