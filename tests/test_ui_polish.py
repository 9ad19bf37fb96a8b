"""Polish (issue 11, point 12): the window keeps its width, dark-theme arrows are visible, the start
page has a plain Cancel, the meter hint fits a recording, the strip's bars are labelled and still,
"Stop session" does not stay at "Saving…", the summary has pace, tone, questions and silences and
fits four voices."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QSpinBox

from analysis.timeline import Turn
from app.synth import demo_script, render
from tests.ui_session import scripted_controller, start_through_dialog, voices_state
from ui import theme as themes
from ui.main_window import MainWindow
from ui.start_dialog import METER_HINT, StartDialog


@pytest.fixture
def win(qtbot):
    window = MainWindow(controller=scripted_controller(()), probe_level=False)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.controller.shutdown()
    window.strip.close()


def show(win: MainWindow, state) -> None:
    win.controller.latest = state
    win.repaint_state()
    QApplication.processEvents()


def test_the_window_does_not_grow_as_content_changes(qtbot, win):
    screen = win.screen().availableGeometry()
    win.pages.setCurrentWidget(win.live_page)
    show(win, voices_state(30, {"S1": 10.0, "S2": 12.0}))
    width = win.width()
    many = {f"S{i}": 200.0 + i for i in range(1, 7)}
    voice = {name: {sid: value for sid in many} for name, value in (  # the longest pace and tone words
        ("wpm_rel", 1.5), ("pitch_median_rel_st", 3.0), ("pitch_variability_rel_st", 2.0), ("loudness_rel_db", 5.0))}
    show(win, voices_state(3000, many, speaking=("S5",), overflows=12, asr_dropped=30,
                           interruptions_made={"S1": 40}, **voice))
    assert win.live_view.cues.people[0].tone == "pitch higher and more varied, louder than usual"
    qtbot.wait(50)
    assert win.width() == width <= screen.width()
    assert win.frameGeometry().right() <= screen.right() + 1 or win.width() <= screen.width()


def test_dark_theme_spin_box_arrows_are_visible(qtbot):
    t = themes.DARK
    themes.apply(QApplication.instance(), t)
    spin = QSpinBox()
    spin.setRange(0, 10)
    spin.resize(120, 32)
    qtbot.addWidget(spin)
    spin.show()
    image = spin.grab().toImage()
    text = QColor(t.text)
    right = range(image.width() - 18, image.width())
    bright = [(x, y) for x in right for y in range(image.height())
              if QColor(image.pixel(x, y)).lightness() >= text.lightness() - 40]
    up = [p for p in bright if p[1] < image.height() // 2]
    down = [p for p in bright if p[1] >= image.height() // 2]
    assert len(up) >= 6 and len(down) >= 6  # both arrows drawn in the text colour


def test_start_page_has_a_plain_cancel_and_a_hint_for_recordings(qtbot, win, tmp_path):
    dialog = win.begin_session()
    assert isinstance(dialog, StartDialog)
    assert dialog.cancel_button.isVisible() and not dialog.decline_button.isVisible()
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.decline_button.isVisible() and not dialog.cancel_button.isVisible()
    qtbot.mouseClick(dialog.back_button, Qt.MouseButton.LeftButton)
    dialog.probe_level = True
    dialog.set_source(f"file:{tmp_path / 'x.wav'}")
    assert dialog.meter_hint.text() != METER_HINT and "recording" in dialog.meter_hint.text()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and not win.controller.running
    assert win.idle_message.text() == "No session started."


def test_strip_bars_are_labelled_and_do_not_shift(qtbot, win):
    win.pages.setCurrentWidget(win.live_page)
    show(win, voices_state(30, {"S1": 10.0, "S2": 12.0}))
    win.set_strip_mode(True)
    strip = win.strip
    assert [c.text() for c in strip.bar_captions] == ["Session", "5 min"]
    assert all(c.isVisible() for c in strip.bar_captions)
    show(win, voices_state(31, {"S1": 10.0, "S2": 12.0}, speaking=("S1",)))
    x = strip.session_bar.mapTo(strip, strip.session_bar.rect().topLeft()).x()
    w = strip.session_bar.width()
    show(win, voices_state(32, {"S1": 10.0, "S2": 12.0, "S3": 200.0}, speaking=("S1", "S2", "S3")))
    assert strip.speaking_label.text() == "Several speaking"
    assert strip.session_bar.mapTo(strip, strip.session_bar.rect().topLeft()).x() == x
    assert strip.session_bar.width() == w
    win.set_strip_mode(False)


@pytest.fixture(scope="module")
def four_voices(tmp_path_factory):
    """The demo dialogue with each voice split in two (S1/S3, S2/S4), alternately."""
    wav = tmp_path_factory.mktemp("polish") / "demo0.wav"
    truth = render(demo_script(0), wav)
    turns, n = [], {}
    for tr in truth.turns:
        n[tr.speaker] = n.get(tr.speaker, 0) + 1
        other = {"S1": "S3", "S2": "S4"}.get(tr.speaker)
        turns.append(Turn(other, tr.start, tr.end) if other and n[tr.speaker] % 2 == 0 else tr)
    return wav, turns


def test_summary_has_pace_tone_questions_silences_and_fits_four_voices(qtbot, four_voices):
    wav, turns = four_voices
    window = MainWindow(controller=scripted_controller(turns), file_speed=12.0, probe_level=False)
    qtbot.addWidget(window)
    window.show()
    try:
        start_through_dialog(qtbot, window, wav)
        qtbot.waitUntil(lambda: window.summary_dialog is not None, timeout=45_000)
        summary = window.summary_dialog
        assert window.stop_button.text() != "Saving…"
        people = window.live_view.cues.cards
        assert len(people) >= 3
        for caption in ("pace", "tone", "questions", "talk"):
            for p in people:
                assert f"{p.name or {'therapist': 'You', 'client': 'Client'}.get(p.role, p.label)}: {caption}" \
                    in summary.values, caption
        assert "Silences" in summary.values and "Length" in summary.values
        screen = summary.screen().availableGeometry()
        assert summary.sizeHint().width() <= screen.width() and summary.width() <= screen.width()
        with qtbot.waitSignal(window.session_saved, timeout=10_000):
            summary.accept()
        assert window.stop_button.text() != "Saving…"
    finally:
        window.controller.shutdown()
        window.strip.close()
