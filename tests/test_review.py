"""The review window (issue 14) on the generated demo dialogue, whose truth is known: a session folder
is made from the rendered audio and the truth turns and utterances (the cue engine's figures on them),
then opened as a clinician would."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading

import pytest
from PySide6.QtCore import QPoint, Qt

from analysis.cues import compute_cues
from analysis.talk import talk_time
from analysis.timeline import Speaker, Timeline
from app.review_session import (
    NOTES_NAME,
    ReviewError,
    apply_corrections,
    open_review,
)
from tests.conftest import ROOT


@pytest.fixture
def session_dir(tmp_path, dialogue):
    wav, truth = dialogue
    ids = [s["id"] for s in truth.speakers]
    metrics, events = compute_cues(truth.turns, truth.utterances, truth.duration, speakers=ids)
    tl = Timeline(duration=truth.duration,
                  speakers=tuple(Speaker(s["id"], f"Voice {s['id']}", s["role"]) for s in truth.speakers),
                  turns=tuple(truth.turns), utterances=tuple(truth.utterances), events=events,
                  metrics=metrics, source={"file": "audio.wav"})
    d = tmp_path / "2026-12-01_100000"
    d.mkdir()
    tl.save(d / "timeline.json")
    shutil.copy(wav, d / "audio.wav")
    return d


@pytest.fixture
def open_window(qtbot):
    windows = []

    def _open(path, wait_audio=True):
        from ui.review_window import ReviewWindow

        w = ReviewWindow(open_review(path))
        qtbot.addWidget(w)
        w.show()
        w.activateWindow()
        qtbot.waitUntil(w.isActiveWindow, timeout=5000)  # key shortcuts reach an active window only
        windows.append(w)
        if wait_audio:
            qtbot.waitUntil(lambda: w.player.is_loaded, timeout=20000)
        return w

    yield _open
    for w in windows:
        w.shutdown()


def _talk(tl, sp):
    return talk_time([t for t in tl.turns if t.speaker == sp])[sp]


def test_session_opens_with_lanes_transcript_and_audio(session_dir, open_window, dialogue):
    _, truth = dialogue
    w = open_window(session_dir)
    assert w.transcript.count() == len(truth.utterances)
    assert set(w.timeline_view._speaker_lane) == {"S1", "S2"}
    assert len(w._markers["interruption"]) == len(truth.events_of("interruption"))
    assert w.timeline_view.has_loudness, "the loudness overview is drawn once the audio is decoded"
    wav = w._tmpdir / "review.wav"
    assert stat.S_IMODE(os.stat(wav).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(w._tmpdir).st_mode) == 0o700
    w.close()
    assert not w._tmpdir.exists(), "the decoded audio is deleted when the window closes"


def test_click_transcript_line_seeks_player(session_dir, open_window, qtbot, dialogue):
    _, truth = dialogue
    w = open_window(session_dir)
    row = 7
    u = w._tl.utterances[w.transcript.item(row).data(Qt.ItemDataRole.UserRole)]
    assert u.start > 5
    w.transcript.scrollToItem(w.transcript.item(row))
    rect = w.transcript.visualItemRect(w.transcript.item(row))
    qtbot.mouseClick(w.transcript.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    # the media player itself, not only the window's idea of it
    qtbot.waitUntil(lambda: abs(w.player._player.position() / 1000 - u.start) < 0.02, timeout=5000)
    assert abs(w.player.position() - u.start) < 0.02
    assert abs(w.timeline_view.playhead - u.start) < 0.02


def test_click_timeline_seeks(session_dir, open_window, qtbot):
    w = open_window(session_dir)
    view = w.timeline_view
    x = view.mapFromScene(40.0, 30).x()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 30))
    px = 1.0 / view._pxs
    qtbot.waitUntil(lambda: abs(w.player._player.position() / 1000 - 40.0) < px + 0.01, timeout=5000)


def test_next_interruption_lands_on_the_true_one(session_dir, open_window, qtbot, dialogue):
    _, truth = dialogue
    true_starts = [e.start for e in truth.events_of("interruption")]
    w = open_window(session_dir)
    w.seek(0.0)
    assert w.jump_marker("interruption") == pytest.approx(true_starts[0], abs=0.01)
    qtbot.waitUntil(lambda: abs(w.player._player.position() / 1000 - true_starts[0]) < 0.02, timeout=5000)
    assert w.jump_marker("interruption") == pytest.approx(true_starts[1], abs=0.01)
    assert w.jump_marker("interruption", forward=False) == pytest.approx(true_starts[0], abs=0.01)


def test_play_advances_and_space_toggles(session_dir, open_window, qtbot):
    w = open_window(session_dir)
    w.seek(10.0)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.player.is_playing(), timeout=5000)
    qtbot.waitUntil(lambda: w.player.position() > 10.3, timeout=5000)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not w.player.is_playing(), timeout=5000)
    p = w.player.position()
    qtbot.keyClick(w, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: abs(w.player.position() - (p + 5)) < 0.05, timeout=5000)


def test_replay_turn_and_speed(session_dir, open_window, qtbot):
    w = open_window(session_dir)
    turn = w._tl.turns[4]
    w.seek((turn.start + turn.end) / 2)
    qtbot.keyClick(w, Qt.Key.Key_R)
    qtbot.waitUntil(w.player.is_playing, timeout=5000)
    assert w.player._player.position() / 1000 == pytest.approx(turn.start, abs=0.3)
    w.speed.setCurrentIndex(w.speed.findData(2.0))
    assert w.player._player.playbackRate() == 2.0 and w.player.rate == 2.0
    from PySide6.QtMultimedia import QMediaPlayer

    if w.player._player.pitchCompensationAvailability() == QMediaPlayer.PitchCompensationAvailability.Available:
        assert w.player._player.pitchCompensation(), "no pitch shift at 2x where the backend can avoid it"
    w.player.pause()
    qtbot.waitUntil(lambda: not w.player.is_playing(), timeout=5000)


def test_rename_and_merge_change_metrics(session_dir, open_window, qtbot):
    w = open_window(session_dir, wait_audio=False)
    before = w._tl.metrics.speakers
    w.rename_speaker("S2", "Alex")
    assert w._tl.speaker("S2").label == "Alex"
    assert "Alex" in w.figures.text()
    assert any("Alex:" in w.transcript.item(i).text() for i in range(w.transcript.count()))
    assert w._tl.metrics.speakers["S2"]["talk_time"] == pytest.approx(before["S2"]["talk_time"], abs=0.01)
    w.merge_speakers("S2", "S1")
    tl = w._tl
    assert [s.id for s in tl.speakers] == ["S1"]
    assert tl.metrics.speakers["S1"]["talk_share"] == pytest.approx(1.0)
    assert tl.metrics.speakers["S1"]["talk_time"] == pytest.approx(_talk(tl, "S1"), abs=0.01)
    assert tl.metrics.speakers["S1"]["talk_time"] > before["S1"]["talk_time"] + 30
    assert not [e for e in tl.events if e.kind == "interruption"], "one speaker cannot interrupt itself"
    assert set(w.timeline_view._speaker_lane) == {"S1"}
    w.undo()
    assert [s.id for s in w._tl.speakers] == ["S1", "S2"]
    assert w._tl.speaker("S2").label == "Alex"
    w.undo()
    assert w._tl.speaker("S2").label == "Voice S2"
    assert w._tl.metrics.speakers == before
    w.redo()
    assert w._tl.speaker("S2").label == "Alex"


def test_reassign_turn_moves_talk_by_its_length(session_dir, open_window):
    w = open_window(session_dir, wait_audio=False)
    tl0 = w._tl
    i = 0
    t = tl0.turns[i]
    assert t.speaker == "S1"
    others = [o for o in tl0.turns if o.speaker == "S2"]
    assert not any(o.start < t.end and t.start < o.end for o in others), "a turn nobody overlaps"
    s1, s2 = (tl0.metrics.speakers[s]["talk_time"] for s in ("S1", "S2"))
    w.reassign_turn(i, "S2")
    m = w._tl.metrics.speakers
    assert m["S2"]["talk_time"] == pytest.approx(s2 + t.duration, abs=0.01)
    assert m["S1"]["talk_time"] == pytest.approx(s1 - t.duration, abs=0.01)
    total = s1 + s2
    assert m["S2"]["talk_share"] == pytest.approx((s2 + t.duration) / total, abs=0.006)
    # the utterance inside the turn follows it
    u = next(u for u in w._tl.utterances if t.start <= (u.start + u.end) / 2 <= t.end)
    assert u.speaker == "S2"
    w.undo()
    assert w._tl.metrics.speakers["S2"]["talk_time"] == pytest.approx(s2, abs=1e-6)
    # corrections are saved beside the timeline; the timeline itself is untouched
    w.reassign_turn(i, "S2")
    w.close()
    saved = json.loads((session_dir / "corrections.json").read_text())
    assert saved["ops"] == [{"op": "reassign_turn", "turn": 0, "to": "S2"}]
    assert Timeline.load(session_dir / "timeline.json").turns[0].speaker == "S1"
    again = open_review(session_dir)
    assert again.timeline().turns[0].speaker == "S2"


def test_swap_and_set_roles(session_dir, open_window):
    w = open_window(session_dir, wait_audio=False)
    w.swap_roles()
    assert w._tl.speaker("S1").role == "client"
    w.set_role("S2", None)
    assert w._tl.speaker("S2").role is None
    assert "Voice S1 (client)" in w.figures.text()
    w.undo()
    w.undo()
    assert w._tl.speaker("S1").role == "therapist"
    s = open_review(session_dir)
    s.corrections.ops.clear()
    tl = s.correct({"op": "swap_roles"})
    assert tl.speaker("S1").role == "client" and tl.speaker("S2").role == "therapist"
    tl = s.correct({"op": "set_role", "speaker": "S1", "role": "therapist"})
    assert tl.speaker("S1").role == "therapist" and tl.speaker("S2").role == "client"


def test_notes_and_bookmarks_survive_reopen(session_dir, open_window, qtbot):
    w = open_window(session_dir)
    w.seek(12.5)
    qtbot.keyClick(w, Qt.Key.Key_B)
    assert len(w.session.notes) == 1
    w.add_note("client went quiet here", t=30.0)
    assert w.notes_list.count() == 2
    assert w._markers["bookmark"] == [(12.5, 12.5), (30.0, 30.0)]
    w.close()
    path = session_dir / NOTES_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    w2 = open_window(session_dir)
    assert [(n.t, n.kind, n.text) for n in w2.session.notes] == [
        (12.5, "bookmark", ""), (30.0, "note", "client went quiet here")]
    assert w2.notes_list.count() == 2
    w2.notes_list.setCurrentRow(1)
    w2.play_from_note()
    qtbot.waitUntil(lambda: w2.player.is_playing() and w2.player.position() >= 30.0, timeout=5000)
    w2.player.pause()


def test_notes_filed_under_a_category_keep_it_and_show_it(session_dir, open_window):
    from app.review_session import NOTE_CATEGORIES
    from ui.review_window import NOTE_CATEGORY_COLOURS

    w = open_window(session_dir, wait_audio=False)
    w.add_note("ask about this in supervision", t=20.0)
    w.add_note("she laughed", t=40.0)
    w.notes_list.setCurrentRow(0)
    i = w.note_category.findData("for supervision")
    w.note_category.setCurrentIndex(i)
    w.note_category.activated.emit(i)  # as a user picking it
    assert [n.category for n in w.session.notes] == ["for supervision", ""]
    item = w.notes_list.item(0)
    assert "[for supervision]" in item.text()
    assert item.foreground().color().name() == NOTE_CATEGORY_COLOURS[NOTE_CATEGORIES.index("for supervision")]
    assert w.notes_list.currentRow() == 0  # the selection stays on the note
    w.close()
    w2 = open_window(session_dir, wait_audio=False)
    assert [n.category for n in w2.session.notes] == ["for supervision", ""]
    w2.notes_list.setCurrentRow(0)
    assert w2.note_category.currentData() == "for supervision"
    w2.notes_list.setCurrentRow(1)
    assert w2.note_category.currentData() == ""
    with pytest.raises(ValueError):
        w2.session.set_note_category(w2.session.notes[0].id, "not a category")


def test_search_next_previous(session_dir, open_window):
    w = open_window(session_dir, wait_audio=False)
    word = w._tl.utterances[3].text.split()[0].strip(",.?!")
    hits = [r for r in range(w.transcript.count())
            if word.lower() in w._tl.utterances[w.transcript.item(r).data(Qt.ItemDataRole.UserRole)].text.lower()]
    w.search.setText(word)
    w.transcript.setCurrentRow(-1)
    assert w.find() == hits[0]
    if len(hits) > 1:
        assert w.find() == hits[1]
        assert w.find(forward=False) == hits[0]
    w.search.setText("zzqxj-not-there")
    assert w.find() is None and w.search_status.text() == "not found"


def test_zoom_and_scroll(session_dir, open_window, qtbot):
    w = open_window(session_dir, wait_audio=False)
    view = w.timeline_view
    t0, t1 = view.visible_range()
    assert t1 - t0 == pytest.approx(view.duration, rel=0.02)
    qtbot.keyClick(w, Qt.Key.Key_Plus)
    a, b = view.visible_range()
    assert b - a == pytest.approx((t1 - t0) / 1.5, rel=0.03)
    view.zoom(100)
    a, b = view.visible_range()
    assert b - a == pytest.approx(2.0, rel=0.05)
    view.scroll_by(10)
    assert view.visible_range()[0] == pytest.approx(a + 10, abs=0.05)
    # follow: the playhead is kept in view
    w.seek(70.0)
    a, b = view.visible_range()
    assert a <= 70.0 <= b


def test_corrections_pure(session_dir):
    s = open_review(session_dir)
    tl = s.timeline()
    assert apply_corrections(tl, []) is tl
    merged = apply_corrections(tl, [{"op": "merge", "from": "S1", "into": "S2"}])
    assert {t.speaker for t in merged.turns} == {"S2"}
    with pytest.raises(ValueError):
        s.correct({"op": "explode"})


def test_open_errors(tmp_path):
    with pytest.raises(ReviewError, match="does not exist"):
        open_review(tmp_path / "nope")
    with pytest.raises(ReviewError, match="not a session folder"):
        open_review(tmp_path)
    bad = tmp_path / "bad.timeline.json"
    bad.write_text("{not json")
    with pytest.raises(ReviewError, match="not a readable timeline"):
        open_review(bad)
    txt = tmp_path / "notes.mp3"
    txt.write_text("this is not audio")
    with pytest.raises(ReviewError):
        open_review(txt)


def test_cli_review_bad_file_one_line(tmp_path, capsys):
    from app.cli import main

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage")
    assert main(["review", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("attune: error:") and "\n" not in err and "Traceback" not in err
    assert main(["review", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not exist" in err and "\n" not in err


def test_cli_review_opens_the_window(session_dir, qtbot, monkeypatch):
    """`attune review DIR` builds the window on the folder and runs the event loop (replaced here by one
    that checks the window and closes it)."""
    from PySide6.QtWidgets import QApplication

    from app.cli import main
    from ui.review_window import ReviewWindow

    seen = []

    def fake_exec(*_a):
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, ReviewWindow) and w.isVisible()]
        seen.extend(wins)
        for w in wins:
            w.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert main(["review", str(session_dir)]) == 0
    assert len(seen) == 1 and seen[0].session.source == session_dir
    assert seen[0].transcript.count() > 0


def test_list_sessions_newest_first(session_dir, capsys):
    from app.cli import main
    from app.settings import sessions_dir

    root = sessions_dir()
    old, new = root / "2026-11-01_090000", root / "2026-12-01_090000"
    for i, d in enumerate((old, new)):
        shutil.copytree(session_dir, d)
        os.utime(d / "timeline.json", (1_800_000_000 + i, 1_800_000_000 + i))
    (root / "not-a-session").mkdir()
    assert main(["review", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [str(new), str(old)]
    assert "1.4 min, 2 speaker(s), 0 note(s)" in lines[0]


def test_audio_file_analysis_can_be_cancelled(dialogue, open_window, qtbot):
    wav, _ = dialogue
    w = open_window(wav, wait_audio=False)
    assert w.session.needs_analysis
    assert w.progress_row.isVisible(), w.statusBar().currentMessage()
    job = w._jobs[0]
    cancelled = threading.Event()  # set from the job's worker thread (see the test below)
    job.cancelled.connect(cancelled.set)
    qtbot.mouseClick(w.cancel_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(cancelled.is_set, timeout=120000)
    qtbot.waitUntil(lambda: not w.progress_row.isVisible(), timeout=5000)
    assert w.session.needs_analysis
    assert "Cancelled" in w.statusBar().currentMessage(), w.statusBar().currentMessage()


def test_audio_file_is_analysed_in_the_background(dialogue, qtbot):
    """An audio file opened directly: analysed on a QThread with progress while the GUI thread keeps
    serving a 20-ms timer, then shown (diarization and transcription off to keep the test short)."""
    import time

    from PySide6.QtCore import QTimer

    from analysis.pipeline import AnalysisOptions
    from ui.review_window import ReviewWindow

    wav, truth = dialogue
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    w = ReviewWindow(open_review(wav), analysis_options=AnalysisOptions(transcribe=False, diarize=False))
    qtbot.addWidget(w)
    w.show()
    try:
        values: list[int] = []
        w.progress.valueChanged.connect(values.append)
        with qtbot.waitSignal(w.timeline_shown, timeout=120000):
            pass
        timer.stop()
        assert not w.session.needs_analysis
        assert values and max(values) > 0, "the progress bar moved"
        assert len(w._tl.turns) > 5 and w._tl.duration == pytest.approx(truth.duration, abs=0.1)
        assert w.timeline_view._spans, "the speaker lane is drawn"
        gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
        assert len(ticks) > 5 and max(gaps) < 1.0, "the window stayed responsive during the analysis"
        qtbot.waitUntil(lambda: w.player.is_loaded, timeout=20000)
        assert not w.session.saved and w.notes_list.count() == 0
    finally:
        w.shutdown()


def test_no_torch_on_the_review_start_up_path():
    code = ("import sys; import app.cli, app.review_session, ui.review_window, ui.review_timeline; "
            "print('torch' in sys.modules, 'faster_whisper' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr[-500:]


# -- the app's way in: Sessions..., Open recording..., the privacy key, the re-analysis of a live session
def _store_session(tl, wav, meta):
    """A session of the test's encrypted store holding ``tl`` and the recording ``wav``."""
    import soundfile as sf

    from tests.store_util import open_test_store

    session = open_test_store().create_session(meta)
    x, _sr = sf.read(wav, dtype="float32")
    aw = session.audio_writer()
    aw.write(x)
    aw.close()
    session.write_json("timeline", tl.to_dict())
    return session


@pytest.fixture
def main_window(qtbot):
    """A factory: the app's window is made after the test's store sessions (its recovery scan opens the
    store on another thread at start-up)."""
    from ui.main_window import MainWindow

    wins = []

    def _make():
        win = MainWindow(probe_level=False)
        qtbot.addWidget(win)
        win.show()
        wins.append(win)
        return win

    yield _make
    for win in wins:
        for w in list(win.review_windows):
            w.shutdown()
        win.controller.shutdown()
        win.strip.close()


def _press_f12(qtbot, window):
    from PySide6.QtWidgets import QApplication

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_F12)


def test_app_sessions_list_newest_first_opens_review_and_f12_blanks_it(session_dir, main_window, qtbot):
    from app.settings import sessions_dir

    tl = open_review(session_dir).timeline()
    old = _store_session(tl, session_dir / "audio.wav", {"started_at": "2026-11-01T10:00:00+00:00",
                                                         "duration": tl.duration, "status": "finished"})
    new = _store_session(tl, session_dir / "audio.wav", {"started_at": "2026-11-20T10:00:00+00:00",
                                                         "duration": tl.duration, "status": "finished"})
    folder = sessions_dir() / "2026-11-10_100000"
    shutil.copytree(session_dir, folder)
    stamp = 1_794_300_000  # 2026-11-10
    os.utime(folder / "timeline.json", (stamp, stamp))
    win = main_window()
    dialog = win.show_sessions()
    assert dialog.refs() == [new.id, str(folder), old.id], dialog.note.text()
    assert "84 s" in dialog.list.item(0).text() or "1 min" in dialog.list.item(0).text()
    dialog.open_selected()  # the first one
    assert len(win.review_windows) == 1
    review = win.review_windows[0]
    assert review.session.store_session is not None and review.session.store_session.id == new.id
    assert review.transcript.count() == len(tl.utterances)
    qtbot.waitUntil(lambda: review.player.is_loaded, timeout=20000)
    _press_f12(qtbot, review)  # the app's privacy key, pressed in the review window
    qtbot.waitUntil(lambda: win.blanked and not review.isVisible(), timeout=5000)
    _press_f12(qtbot, win)
    qtbot.waitUntil(lambda: not win.blanked and review.isVisible(), timeout=5000)


def test_app_open_recording_analyses_in_a_review_window(dialogue, main_window, qtbot):
    wav, _ = dialogue
    win = main_window()
    picker = win.choose_recording_for_review()
    assert picker.windowTitle() == "Open a recording for review"
    picker.fileSelected.emit(str(wav))
    picker.close()
    assert len(win.review_windows) == 1
    review = win.review_windows[0]
    assert review.session.needs_analysis and review.progress_row.isVisible()
    job = review._jobs[0]
    # the job signals from its worker thread; polling a flag set by it cannot wait forever (a waitSignal
    # block here once hung for 20 min in a full run, past its own 120-s timeout)
    cancelled = threading.Event()
    job.cancelled.connect(cancelled.set)
    qtbot.mouseClick(review.cancel_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(cancelled.is_set, timeout=120000)
    qtbot.waitUntil(lambda: "Cancelled" in review.statusBar().currentMessage(), timeout=5000)
    assert win.open_review_window(str(wav) + ".missing") is None
    assert "Cannot open it for review" in win.idle_message.text()


def test_review_window_own_privacy_key_blanks_and_pauses(session_dir, open_window, qtbot):
    from tests.test_ui_window import visible_texts

    w = open_window(session_dir)
    w.seek(5.0)
    w.player.play()
    qtbot.waitUntil(w.player.is_playing, timeout=5000)
    qtbot.keyClick(w, Qt.Key.Key_F12)
    assert w.blanked and not w.player.is_playing()
    from PySide6.QtWidgets import QWidget

    assert visible_texts([w, *w.findChildren(QWidget)]) == [], "no word of the session is on screen"
    assert "2026" not in w.windowTitle()
    qtbot.keyClick(w, Qt.Key.Key_Space)  # no playback behind the blank
    assert not w.player.is_playing()
    qtbot.keyClick(w, Qt.Key.Key_F12)
    assert not w.blanked and w.transcript.isVisible() and "2026" in w.windowTitle()


def _live_folder(session_dir):
    (session_dir / "session.json").write_text(json.dumps({"mode": "live"}))
    return session_dir


def test_live_session_offers_the_reanalysis_and_adopts_it(session_dir, qtbot):
    from analysis.pipeline import AnalysisOptions
    from ui.review_window import ReviewWindow

    _live_folder(session_dir)
    s = open_review(session_dir)
    assert s.recorded_live and s.offers_reanalysis and s.base == "live"
    s.correct({"op": "rename", "speaker": "S1", "label": "Dr K"})
    w = ReviewWindow(s, analysis_options=AnalysisOptions(transcribe=False, diarize=False), reanalyse=False)
    qtbot.addWidget(w)
    w.show()
    try:
        assert w.banner.isVisible() and w.reanalyse_btn.isEnabled()
        n_live = len(w._tl.turns)
        with qtbot.waitSignal(w.reanalysed, timeout=120000):
            qtbot.mouseClick(w.reanalyse_btn, Qt.MouseButton.LeftButton)
        assert w.session.base == "offline" and not w.session.offers_reanalysis
        assert [s.id for s in w._tl.speakers] == ["S1"] and len(w._tl.turns) != n_live
        assert "set aside" in w.banner_label.text()
    finally:
        w.shutdown()
    assert (session_dir / "timeline.offline.json").is_file()
    saved = json.loads((session_dir / "corrections.json").read_text())
    assert saved["base"] == "offline" and saved["ops"] == [] and saved["set_aside"][0]["label"] == "Dr K"
    again = open_review(session_dir)
    assert again.base == "offline" and not again.offers_reanalysis
    assert len(again.timeline().turns) == len(w._tl.turns)


def test_live_session_reanalysis_runs_at_once_per_setting(session_dir, qtbot):
    from analysis.pipeline import AnalysisOptions
    from app.settings import Settings, save_settings
    from ui.review_window import ReviewWindow

    _live_folder(session_dir)
    save_settings(Settings(review_reanalyse=True))
    w = ReviewWindow(open_review(session_dir), analysis_options=AnalysisOptions(transcribe=False, diarize=False))
    qtbot.addWidget(w)
    try:
        assert w._reanalysing and not w.reanalyse_btn.isEnabled()
        with qtbot.waitSignal(w.reanalysed, timeout=120000):
            pass
        assert w.session.base == "offline"
    finally:
        w.shutdown()


# -- corrections: one utterance, a turn boundary (dialog and drag), a word, the speakers again ----------
def _inside(tl, u, sp):
    """The turn of ``sp`` that holds utterance ``u`` whole, and whether nobody else speaks during it."""
    turn = next((t for t in tl.turns if t.speaker == sp and t.start <= u.start and u.end <= t.end), None)
    clear = not any(o.speaker != sp and o.start < u.end and u.start < o.end for o in tl.turns)
    return turn, clear


def test_reassign_one_utterance_moves_its_length(session_dir, open_window):
    w = open_window(session_dir, wait_audio=False)
    tl0 = w._tl
    j, u = next((j, u) for j, u in enumerate(tl0.utterances) if u.speaker == "S1" and all(_inside(tl0, u, "S1")))
    d = u.end - u.start
    s1, s2 = (tl0.metrics.speakers[s]["talk_time"] for s in ("S1", "S2"))
    w.reassign_utterance(j, "S2")
    tl = w._tl
    assert tl.utterances[j].speaker == "S2"
    assert sum(1 for x in tl.utterances if x.speaker == "S2") == sum(1 for x in tl0.utterances if x.speaker == "S2") + 1
    assert tl.metrics.speakers["S2"]["talk_time"] == pytest.approx(s2 + d, abs=0.01)
    assert tl.metrics.speakers["S1"]["talk_time"] == pytest.approx(s1 - d, abs=0.01)
    row = w._utt_order.index(j)
    assert "Voice S2:" in w.transcript.item(row).text()
    # the turn was cut in two around it: a turn of S2 exactly on the utterance
    assert any(t.speaker == "S2" and t.start == u.start and t.end == u.end for t in tl.turns)
    w.undo()
    assert w._tl.metrics.speakers == tl0.metrics.speakers and w._tl.utterances[j].speaker == "S1"
    w.redo()
    w.reassign_turn(0, "S2")  # a turn is still named by its place in the original, whatever came before
    assert w.session.corrections.ops[-1] == {"op": "reassign_turn", "turn": 0, "to": "S2"}


def _boundary_pair(tl):
    """Rows (a, b): a turn of S1 followed by a turn of S2 starting after it ends, nobody else around."""
    for a, ta in enumerate(tl.turns):
        for b, tb in enumerate(tl.turns):
            if ta.speaker == "S1" and tb.speaker == "S2" and 0 <= tb.start - ta.end <= 1.0 \
                    and tb.end - tb.start > 2.0 and ta.end - ta.start > 1.0:
                others = [o for o in tl.turns if o not in (ta, tb) and o.start < tb.end and ta.start < o.end]
                if not others:
                    return a, b
    raise AssertionError("no boundary to move in the dialogue")


def test_move_boundary_dialog_recomputes(session_dir, open_window, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    w = open_window(session_dir, wait_audio=False)
    tl0 = w._tl
    a, b = _boundary_pair(tl0)
    ta, tb = tl0.turns[a], tl0.turns[b]
    x = tb.start + 1.0  # one second into the other's turn
    monkeypatch.setattr(QInputDialog, "getDouble", lambda *args, **kw: (x, True))
    w.ask_boundary(a)
    tl = w._tl
    m0, m = tl0.metrics.speakers, tl.metrics.speakers
    assert m["S1"]["talk_time"] == pytest.approx(m0["S1"]["talk_time"] + (x - ta.end), abs=0.01)
    assert m["S2"]["talk_time"] == pytest.approx(m0["S2"]["talk_time"] - 1.0, abs=0.01)
    for sp in ("S1", "S2"):
        assert m[sp]["talk_time"] == pytest.approx(_talk(tl, sp), abs=0.01)
    assert w.session.corrections.ops[-1]["next"] == b
    w.undo()
    assert w._tl.turns == tl0.turns


def test_drag_a_turn_edge_moves_the_boundary(session_dir, open_window, qtbot):
    w = open_window(session_dir, wait_audio=False)
    view = w.timeline_view
    tl0 = w._tl
    a, b = _boundary_pair(tl0)
    ta = tl0.turns[a]
    view.set_view(ta.end - 5.0, 10.0)
    y = int(view.mapFromScene(0, view._speaker_lane["S1"][0] + 5).y())
    x0 = view.mapFromScene(ta.end, 0).x()
    x1 = view.mapFromScene(ta.end - 0.8, 0).x()
    assert view.edge_at(QPoint(x0, y)) == (a, "end")
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x0, y))
    qtbot.mouseMove(view.viewport(), pos=QPoint(x1, y))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x1, y))
    op = w.session.corrections.ops[-1]
    assert op["op"] == "move_boundary" and op["turn"] == a and op["next"] == b
    assert op["t"] == pytest.approx(ta.end - 0.8, abs=2 / view._pxs)
    m0, m = tl0.metrics.speakers, w._tl.metrics.speakers
    assert m["S1"]["talk_time"] == pytest.approx(m0["S1"]["talk_time"] - (ta.end - op["t"]), abs=0.01)
    gained = tl0.turns[b].start - op["t"]
    assert m["S2"]["talk_time"] == pytest.approx(m0["S2"]["talk_time"] + gained, abs=0.01), \
        "the next turn starts earlier with it"


def test_edit_word_recomputes_words(session_dir, open_window):
    w = open_window(session_dir, wait_audio=False)
    tl0 = w._tl
    j, u = next((j, u) for j, u in enumerate(tl0.utterances) if len(u.words) >= 3)
    sp = u.speaker
    w.edit_word(j, 1, "banana")
    assert w._tl.utterances[j].words[1].text == "banana"
    assert "banana" in w._tl.utterances[j].text
    assert any("banana" in w.transcript.item(r).text() for r in range(w.transcript.count()))
    w.edit_word(j, 2, "")  # removed
    assert len(w._tl.utterances[j].words) == len(u.words) - 1
    assert w._tl.metrics.speakers[sp]["words"] == tl0.metrics.speakers[sp]["words"] - 1
    w.undo()
    w.undo()
    assert w._tl.utterances[j].text == u.text


def test_rediarize_with_a_given_count_keeps_the_transcript(session_dir, open_window, qtbot, dialogue):
    from analysis.diarization import DiarizationResult
    from analysis.timeline import Turn

    _, truth = dialogue
    w = open_window(session_dir)
    w.rename_speaker("S1", "Dr K")
    seen = {}

    def fake_diarize(x, options, progress=None):  # three voices where there were two
        seen["samples"], seen["count"] = len(x), options.num_speakers
        s2 = [t for t in truth.turns if t.speaker == "S2"]
        turns = [Turn("A" if t.speaker == "S1" else ("B" if s2.index(t) % 2 else "C"), t.start, t.end)
                 for t in truth.turns]
        return DiarizationResult(turns=turns)

    with qtbot.waitSignal(w.rediarized, timeout=30000):
        assert w.rediarize(3, diarize=fake_diarize)
    assert seen["count"] == 3 and seen["samples"] == pytest.approx(truth.duration * 16000, abs=400)
    tl = w._tl
    assert len(tl.speakers) == 3
    assert tl.speaker("S1").label == "Dr K", "names carry over to the speaker found again"
    new = next(s.id for s in tl.speakers if s.id not in ("S1", "S2"))
    s2 = [t for t in truth.turns if t.speaker == "S2"]
    assert tl.metrics.speakers[new]["talk_time"] == pytest.approx(_talk(tl, new), abs=0.01)
    assert [u.text for u in tl.utterances] == [u.text for u in truth.utterances], "no re-transcription"
    assert {u.speaker for u in tl.utterances} == {"S1", "S2", new}
    assert sum(t.end - t.start for t in s2[1::2]) == pytest.approx(
        sum(t.end - t.start for t in tl.turns if t.speaker in ("S2", new) and t.speaker == tl.turns[
            next(i for i, x in enumerate(tl.turns) if x.start == s2[1].start)].speaker), abs=0.01)
    w.undo()
    assert len(w._tl.speakers) == 2 and w._tl.speaker("S1").label == "Dr K"


def test_long_session_recomputes_off_the_gui_thread(session_dir, open_window, qtbot):
    """Over BACKGROUND_MIN_S the cues are recomputed on a QThread (forced here on the short dialogue): the
    correction returns before the figures change, a stale result is dropped, and renames and undo of a
    recent correction come from the cache at once."""
    from app.review_worker import RecomputeJob

    w = open_window(session_dir, wait_audio=False)
    w.BACKGROUND_MIN_S = 0.0
    tl0 = w._tl
    s2 = tl0.metrics.speakers["S2"]["talk_time"]
    w.reassign_turn(0, "S2")
    assert w.recomputing and w._tl is tl0, "the window did not wait for the cue engine"
    w.reassign_turn(2, "S1")  # a second correction before the first result: only the last one is shown
    with qtbot.waitSignal(w.timeline_shown, timeout=20000):
        pass
    assert not w.recomputing
    # the first job may end after the second (they run side by side; seen under load in a full run): its
    # result is cached when it arrives, so the undo below is instant only after that
    qtbot.waitUntil(lambda: all(getattr(j, "_ended", False) for j in w._jobs if isinstance(j, RecomputeJob)),
                    timeout=20000)
    d0, d2 = tl0.turns[0].end - tl0.turns[0].start, tl0.turns[2].end - tl0.turns[2].start
    assert w._tl.metrics.speakers["S2"]["talk_time"] == pytest.approx(s2 + d0 - d2, abs=0.01)
    w.rename_speaker("S2", "Alex")  # a rename needs no recomputation
    assert not w.recomputing and w._tl.speaker("S2").label == "Alex"
    w.undo()
    w.undo()
    assert not w.recomputing, "undo of a recent correction is cached"
    assert w._tl.metrics.speakers["S2"]["talk_time"] == pytest.approx(s2 + d0, abs=0.01)


# -- pace and pitch against the speaker's own usual; word-level seek -----------------------------------
@pytest.fixture
def toned_dir(session_dir):
    """The session with a pitch per floor turn (the demo's truth has none: no audio went into its cues):
    S1's turns alternate 2 st above and below its usual, S2's stay at its usual."""
    data = json.loads((session_dir / "timeline.json").read_text())
    rows = data["metrics"]["session"]["turn_cues"]
    k = 0
    for r in rows:
        if r["speaker"] == "S1":
            r["pitch_median_st"], r["pitch_median_rel_st"] = (12.0, 2.0) if k % 2 == 0 else (8.0, -2.0)
            k += 1
        else:
            r["pitch_median_st"], r["pitch_median_rel_st"] = 5.0, 0.0
    (session_dir / "timeline.json").write_text(json.dumps(data))
    return session_dir


def test_pace_and_pitch_curves_against_own_usual(toned_dir, open_window):
    from ui.review_timeline import CURVE_H, PITCH_RANGE_ST

    w = open_window(toned_dir, wait_audio=False)
    view = w.timeline_view
    rows = w._tl.metrics.session["turn_cues"]
    t0, pxs, width = 0.0, view._pxs, view.viewport().width()
    y, _series = view._curves["pitch"]
    mid, half = y + CURVE_H / 2, CURVE_H / 2 - 3
    pts = view.curve_points("pitch", t0, pxs, width)
    speakers = [s.id for s in w._tl.speakers]
    for sp, line in zip(speakers, pts, strict=True):
        mine = sorted(((r["start"] + r["end"]) / 2, r["pitch_median_rel_st"]) for r in rows if r["speaker"] == sp)
        assert len(line) == len(mine)
        for pt, (t, rel) in zip(line, mine, strict=True):
            assert pt.x() == pytest.approx(t * pxs, abs=0.01)
            assert pt.y() == pytest.approx(mid - rel / PITCH_RANGE_ST * half, abs=0.01), "above the middle: higher"
    pace = view.curve_points("pace", t0, pxs, width)
    n_pace = {sp: sum(1 for r in rows if r["speaker"] == sp and r.get("wpm_rel")) for sp in speakers}
    assert [len(line) for line in pace] == [n_pace[sp] for sp in speakers] and sum(n_pace.values()) > 5
    # zoomed in, only the visible points (and one either side) are drawn
    view.set_view(20.0, 10.0)
    a, _b = view.visible_range()
    near = view.curve_points("pitch", a, view._pxs, width)
    assert 0 < sum(len(x) for x in near) < sum(len(x) for x in pts)
    # a correction recomputes the cues without the audio: the tone measured at that time is kept
    w.reassign_turn(0, "S2")
    after = w._tl.metrics.session["turn_cues"]
    assert sum(1 for r in after if r.get("pitch_median_rel_st") is not None) == len(after)
    assert len(view._curves["pitch"][1]) == 2


def _click_word(qtbot, w, j, k):
    from PySide6.QtGui import QTextCursor

    doc = w.words_view.document()
    block = doc.begin()
    it = block.begin()
    while not it.atEnd():
        frag = it.fragment()
        if frag.charFormat().anchorHref() == f"w:{j}:{k}":
            cur = QTextCursor(doc)
            cur.setPosition(frag.position() + max(0, frag.length() // 2))
            qtbot.mouseClick(w.words_view.viewport(), Qt.MouseButton.LeftButton, pos=w.words_view.cursorRect(cur).center())
            return
        it += 1
    raise AssertionError(f"word {k} of utterance {j} is not shown")


def test_click_a_word_seeks_to_it_and_edits_it(session_dir, open_window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    w = open_window(session_dir)
    row = next(r for r in range(5, w.transcript.count())
               if len(w._tl.utterances[w.transcript.item(r).data(Qt.ItemDataRole.UserRole)].words) >= 5)
    w.transcript.scrollToItem(w.transcript.item(row))
    rect = w.transcript.visualItemRect(w.transcript.item(row))
    qtbot.mouseClick(w.transcript.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    j = w.transcript.item(row).data(Qt.ItemDataRole.UserRole)
    u = w._tl.utterances[j]
    assert len(u.words) >= 4 and w._word_utt == j
    k = 3
    _click_word(qtbot, w, j, k)
    qtbot.waitUntil(lambda: abs(w.player._player.position() / 1000 - u.words[k].start) < 0.02, timeout=5000)
    assert u.words[k].start > u.start + 0.3, "a word, not the line"
    assert w._word_sel == k
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **kw: ("pineapple", True))
    qtbot.mouseClick(w.edit_word_btn, Qt.MouseButton.LeftButton)
    assert w._tl.utterances[j].words[k].text == "pineapple"
    assert "pineapple" in w.words_view.toPlainText()


# -- the Summary tab ------------------------------------------------------------------------------------
def test_summary_charts_follow_the_figures_and_corrections(toned_dir, open_window, dialogue):
    from analysis.export.report import CUES
    from ui.review_summary import SummaryPanel

    _, truth = dialogue
    w = open_window(toned_dir, wait_audio=False)
    w.tabs.setCurrentWidget(w.summary)
    s: SummaryPanel = w.summary
    m = w._tl.metrics.speakers
    share = s.charts["talk_share"].data["share"]
    for sp in ("S1", "S2"):
        assert share[sp] == pytest.approx(m[sp]["talk_share"], abs=0.002)
    width, bins = s.charts["talk_over_time"].data["width"], s.charts["talk_over_time"].data["bins"]
    for sp in ("S1", "S2"):
        spoken = sum(b[sp] * min(width, w._tl.duration - i * width) for i, b in enumerate(bins))
        assert spoken == pytest.approx(m[sp]["talk_time"], abs=0.05), "over time adds up to the talk time"
    made = s.charts["interruptions"].data["made"]
    assert made == {sp: sum(1 for e in truth.events_of("interruption") if e.by == sp) for sp in ("S1", "S2")}
    assert sum(made.values()) > 0
    lat = s.charts["latency"].data["latency"]
    assert lat["S1"][1] == m["S1"]["response_latency_median"] and lat["S1"][3] == m["S1"]["responses"]
    q = s.charts["questions"].data["counts"]
    assert q["S1"] == (m["S1"]["questions"], m["S1"]["open_questions"], m["S1"]["reflections"])
    assert q["S1"][0] > 0 and q["S1"][2] > 0
    series = s.charts["pace_pitch"].data["series"]
    assert ("pitch_median_rel_st", "S1") in series and ("wpm_rel", "S2") in series
    # the explanations are the report's texts (one place for each)
    cue = {name: text for name, text, _t, _f in CUES}
    assert s.notes["interruptions"].text() == cue["Interruptions"]
    assert cue["Questions and reflections"] in s.notes["questions"].text()
    assert cue["Response latency and quick responses"] in s.notes["latency"].text()
    for chart in s.charts.values():  # each draws (an exception in paintEvent fails the test)
        assert not chart.grab().isNull()
    # a correction redraws them
    t = w._tl.turns[0]
    w.reassign_turn(0, "S2")
    assert s.charts["talk_share"].data["share"]["S2"] == pytest.approx(w._tl.metrics.speakers["S2"]["talk_share"],
                                                                         abs=0.002)
    assert s.charts["talk_share"].data["share"]["S2"] > share["S2"] + 0.9 * t.duration / w._tl.duration
    # two columns when the panel is wide, one when narrow
    w.resize(1280, 820)
    w.split.setSizes([300, 980])
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    assert s.columns == 2
    w.split.setSizes([900, 380])
    QApplication.processEvents()
    assert s.columns == 1


def test_curve_points_are_merged_per_two_pixels_when_zoomed_out(qtbot):
    """A 90-minute session zoomed out: at most one curve point per two pixel columns is drawn."""
    from analysis.timeline import Metrics, Speaker, Timeline, Turn
    from ui.review_timeline import ReviewTimeline

    rows = [{"speaker": "S1", "start": 2.7 * i, "end": 2.7 * i + 2.0, "wpm_rel": 1.0 + 0.1 * (i % 3),
             "pitch_median_rel_st": float(i % 5 - 2)} for i in range(2000)]
    tl = Timeline(duration=5400.0, speakers=(Speaker("S1", "A", "therapist"),),
                  turns=tuple(Turn("S1", r["start"], r["end"]) for r in rows),
                  metrics=Metrics(session={"turn_cues": rows}))
    view = ReviewTimeline()
    qtbot.addWidget(view)
    view.resize(1000, 400)
    view.show()
    view.set_timeline(tl, {})
    width = view.viewport().width()
    (pts,) = view.curve_points("pitch", 0.0, view._pxs, width)
    assert 0 < len(pts) <= width / 2 + 2
    assert [p.x() for p in pts] == sorted(p.x() for p in pts)
    view.set_view(100.0, 60.0)  # zoomed in: every point
    a, _b = view.visible_range()
    (near,) = view.curve_points("pitch", a, view._pxs, width)
    assert len(near) == sum(1 for r in rows if a <= (r["start"] + r["end"]) / 2 <= a + 60.0) + 2


def test_cancelled_recomputation_is_done_on_the_gui_thread(session_dir, open_window, qtbot):
    w = open_window(session_dir, wait_audio=False)
    w.BACKGROUND_MIN_S = 0.0
    s2 = w._tl.metrics.speakers["S2"]["talk_time"]
    w.reassign_turn(0, "S2")
    assert w.recomputing
    w.cancel_jobs()
    qtbot.waitUntil(lambda: not w.recomputing, timeout=20000)
    assert w._tl.turns[0].speaker == "S2" and w._tl.metrics.speakers["S2"]["talk_time"] > s2 + 1
