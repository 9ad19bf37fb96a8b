"""Who is in the room: the start dialog asks, the live diarizer is bounded by it, session.json keeps it,
and re-analysing a stored session (after a recovery too) uses it as the speaker count.

The sessions run the real ``make_pipeline`` → ``LiveOptions`` → ``make_diarizer`` path; only
``analysis.streaming_diarization.StreamingDiarizer`` is replaced by a scripted diarizer that records
the options it was built with (diarization quality is tested elsewhere).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt

import analysis.streaming_diarization as streaming
from analysis.scripted_diarizer import ScriptedDiarizer
from app.qt_worker import SessionController
from app.recorder import Recorder, people_in_room, read_session, recover, stored_people_count
from app.session_runner import SessionConfig, drive_session, make_pipeline, make_source
from app.settings import load_settings, save_settings
from ui.start_dialog import StartDialog


@pytest.fixture
def built(monkeypatch, dialogue):
    """Replace the streaming diarizer with a scripted one; returns the options of each one built."""
    _, truth = dialogue
    made: list = []

    class RecordingDiarizer(ScriptedDiarizer):
        def __init__(self, anchor=None, options=None) -> None:
            made.append(options)
            super().__init__(truth.turns)

    monkeypatch.setattr(streaming, "StreamingDiarizer", RecordingDiarizer)
    return made


def new_dialog(qtbot) -> StartDialog:
    dialog = StartDialog(load_settings(), probe_level=False)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def choose(dialog: StartDialog, key: str) -> None:
    dialog.people_combo.setCurrentIndex(dialog.people_combo.findData(key))


def agree_and_start(qtbot, dialog: StartDialog) -> None:
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.consent_box, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)


# -- the start dialog ------------------------------------------------------------------------------
def test_dialog_choices_give_the_number_of_people(qtbot):
    dialog = new_dialog(qtbot)
    assert dialog.people_combo.currentText() == "Individual session (2)"
    assert dialog.config().num_speakers == 2 and dialog.config().people_choice == "individual"
    assert not dialog.people_spin.isVisible()
    assert dialog.people_hint.text() == "Attune will never find more voices than this."

    choose(dialog, "couple")
    assert dialog.config().num_speakers == 3 and dialog.config().people_choice == "couple"
    assert not dialog.people_spin.isVisible()

    choose(dialog, "family")
    assert dialog.people_spin.isVisible() and dialog.people_spin.value() == 4  # the default
    assert (dialog.people_spin.minimum(), dialog.people_spin.maximum()) == (2, 10)
    dialog.people_spin.setFocus()
    qtbot.keyClick(dialog.people_spin, Qt.Key.Key_Up)  # 4 → 5, as the clinician would
    assert dialog.config().num_speakers == 5 and dialog.config().people_choice == "family"

    choose(dialog, "not_sure")
    assert dialog.config().num_speakers is None and dialog.config().people_choice == "not_sure"
    assert not dialog.people_spin.isVisible()
    assert "work out" in dialog.people_hint.text()


def test_each_new_dialog_starts_at_an_individual_session(qtbot):
    """The choice is per session: the next dialog (built from the settings the window saved) is back at
    "Individual session (2)"."""
    first = new_dialog(qtbot)
    choose(first, "family")
    first.people_spin.setValue(7)
    with qtbot.waitSignal(first.accepted, timeout=5_000):
        agree_and_start(qtbot, first)
    assert first.config().num_speakers == 7
    save_settings(first.chosen_settings())  # what MainWindow.start_session does

    second = new_dialog(qtbot)
    assert second.people_combo.currentData() == "individual"
    assert second.config().num_speakers == 2
    assert not second.people_spin.isVisible() and second.people_spin.value() == 4


# -- the choice reaches the diarizer and session.json -----------------------------------------------
def test_couple_from_the_dialog_reaches_the_diarizer_and_the_session(qtbot, dialogue, built):
    from ui.main_window import MainWindow

    wav, _ = dialogue
    pipelines = []

    def pipeline_factory(config, on_record):  # the real one; no speech models (no transcription)
        pipelines.append(make_pipeline(replace(config, transcribe=False), on_record))
        return pipelines[-1]

    win = MainWindow(controller=SessionController(pipeline_factory=pipeline_factory), file_speed=12.0)
    qtbot.addWidget(win)
    win.show()
    try:
        dialog = win.begin_session()
        dialog.set_source(f"file:{wav}")
        choose(dialog, "couple")
        with qtbot.waitSignal(win.controller.ready, timeout=60_000):
            agree_and_start(qtbot, dialog)
        qtbot.waitUntil(lambda: win.controller.latest is not None and win.controller.latest.t >= 2.0,
                        timeout=20_000)
        with qtbot.waitSignal(win.controller.finished, timeout=30_000) as finished:
            win.stop_session()
        stored = finished.args[0].session  # a session of the encrypted store
        assert read_session(stored)["people_in_room"] == {"choice": "couple", "count": 3}
        with qtbot.waitSignal(win.session_saved, timeout=10_000):  # closing saves (note, roles)
            win.close()
    finally:
        win.controller.shutdown()
        win.strip.close()
    assert pipelines[0].options.num_speakers == 3
    assert [o.num_speakers for o in built] == [3]
    from tests.store_util import saved_session

    meta = read_session(saved_session(stored.dir))  # re-read: the description was completed after
    assert meta["status"] == "finished" and meta["people_in_room"] == {"choice": "couple", "count": 3}
    for name in ("session.enc", "timeline.enc", "events.stream"):  # session data stays private
        assert stat.S_IMODE(os.stat(stored.dir / name).st_mode) == 0o600, name


def test_not_sure_leaves_the_diarizer_automatic(tmp_path, dialogue, built):
    wav, _ = dialogue
    cfg = SessionConfig(source=f"file:{wav}", realtime=False, consent_analysis=True, transcribe=False,
                        num_speakers=None, people_choice="not_sure")
    sent: list[tuple[str, object]] = []
    blocks = iter(range(40))  # stop after a few seconds of audio
    drive_session(cfg, tmp_path / "s", make_pipeline, make_source,
                  lambda: next(blocks, None) is None, lambda kind, payload=None: sent.append((kind, payload)))
    assert [k for k, _ in sent if k in ("finished", "failed")] == ["finished"]
    assert [o.num_speakers for o in built] == [None]
    assert read_session(tmp_path / "s")["people_in_room"] == {"choice": "not_sure", "count": None}


def test_attune_live_speakers_reaches_the_diarizer_and_the_session(tmp_path, dialogue, built, capsys):
    from app.cli import main

    wav, _ = dialogue
    out = tmp_path / "live"
    code = main(["live", "--file", str(wav), "--out", str(out), "--speakers", "3", "--no-transcribe",
                 "--duration", "3", "-q"])
    assert code == 0, capsys.readouterr().err
    assert [o.num_speakers for o in built] == [3]
    from tests.store_util import only_session

    session = only_session(out)  # --out DIR is an encrypted store rooted there
    assert read_session(session)["people_in_room"] == {"choice": "couple", "count": 3}
    assert session.meta["status"] == "finished" and session.has("timeline")
    assert not list(out.rglob("*.json")) and not list(out.rglob("*.wav"))  # nothing in plain


# -- stored sessions: recovery and re-analysis -------------------------------------------------------
def test_people_in_room_record():
    assert people_in_room(None) == {"choice": "not_sure", "count": None}
    assert people_in_room(2) == {"choice": "individual", "count": 2}
    assert people_in_room(3) == {"choice": "couple", "count": 3}
    assert people_in_room(6) == {"choice": "family", "count": 6}
    assert people_in_room(3, "family") == {"choice": "family", "count": 3}
    with pytest.raises(ValueError):
        people_in_room(3, "crowd")
    assert stored_people_count({"people_in_room": {"choice": "family", "count": 5}}) == 5
    for meta in ({}, {"people_in_room": None}, {"people_in_room": {"count": None}},
                 {"people_in_room": {"count": 0}}, {"people_in_room": {"count": "3"}},
                 {"people_in_room": {"count": True}}):
        assert stored_people_count(meta) is None, meta


def crashed_session(folder: Path, room: dict) -> Path:
    """A session folder left behind by a crash: 2 s of audio, still "recording"."""
    rec = Recorder(folder, keep_audio=True, meta={"people_in_room": room})
    rec.write(np.zeros(32_000, np.float32))
    os.close(rec._fd)  # the process dies: nothing is closed properly
    rec._events.close()
    return folder


def test_recovered_session_is_reanalysed_with_the_stored_count(tmp_path, monkeypatch):
    import analysis.pipeline
    from analysis.pipeline import AnalysisOptions, DiarizationOptions
    from analysis.timeline import Timeline
    from app.live_session import OFFLINE_TIMELINE_NAME, reanalyze

    seen: list[AnalysisOptions] = []

    def fake_analyze(path, options=None, progress=None):
        seen.append(options)
        return SimpleNamespace(timeline=Timeline(duration=2.0))

    monkeypatch.setattr(analysis.pipeline, "analyze_file", fake_analyze)

    family = crashed_session(tmp_path / "family", people_in_room(5, "family"))
    recover(family)
    meta = read_session(family)
    assert meta["status"] == "recovered" and meta["people_in_room"] == {"choice": "family", "count": 5}
    reanalyze(family)
    assert seen[-1].diarization.num_speakers == 5
    assert stat.S_IMODE(os.stat(family / OFFLINE_TIMELINE_NAME).st_mode) == 0o600
    # the caller's own speaker hints win over the stored count; other options are kept
    reanalyze(family, AnalysisOptions(transcribe=False, diarization=DiarizationOptions(max_speakers=2)))
    assert seen[-1].diarization.num_speakers is None and seen[-1].diarization.max_speakers == 2
    reanalyze(family, AnalysisOptions(transcribe=False))
    assert seen[-1].diarization.num_speakers == 5 and seen[-1].transcribe is False

    unsure = crashed_session(tmp_path / "unsure", people_in_room(None))
    recover(unsure)
    reanalyze(unsure)
    assert seen[-1].diarization.num_speakers is None

    old = crashed_session(tmp_path / "old", {})
    meta = read_session(old)
    del meta["people_in_room"]  # a session from before the question
    (old / "session.json").write_text(json.dumps(meta))
    recover(old)
    reanalyze(old)
    assert seen[-1].diarization.num_speakers is None
