"""The session summary shows each voice's tone (issue 11, point 12): the final snapshot carries it even
when no audio is kept, from what the live engine measured while each turn was in its ring, and the
figures are the same as with the whole recording. The demo dialogue, speakers from its truth."""

from __future__ import annotations

import pytest

from analysis.live import LiveOptions, LivePipeline
from analysis.scripted_diarizer import ScriptedDiarizer
from app.session_runner import final_state
from audio.sources import FileSource
from tests.ui_session import scripted_controller, start_through_dialog
from ui.cues import CueModel
from ui.main_window import MainWindow
from ui.summary_dialog import TONE_NOT_MEASURED, TONE_TOO_LITTLE, summary_rows


def replay(wav, turns, keep_audio: bool):
    """The live pipeline over the dialogue at 8x real time; the timeline and the final snapshot."""
    pipe = LivePipeline(LiveOptions(transcribe=False, backpressure=True), diarizer=ScriptedDiarizer(turns))
    src = FileSource(wav, realtime=True, speed=8.0)
    src.start()
    audio = []
    for block in src:
        pipe.process(block)
        audio.append(block.samples)
    import numpy as np

    x = np.concatenate(audio)
    reader = (lambda a, b: x[int(a * 16_000):int(b * 16_000)]) if keep_audio else None
    timeline = pipe.finish(audio=reader)
    return timeline, final_state(timeline, pipe.state())


def test_tone_without_the_audio_is_the_tone_with_it(dialogue):
    wav, truth = dialogue
    kept, final_kept = replay(wav, truth.turns, keep_audio=True)
    none, final_none = replay(wav, truth.turns, keep_audio=False)
    for sp in ("S1", "S2"):
        with_audio, without = kept.metrics.speakers[sp], none.metrics.speakers[sp]
        assert without["pitch_median_st"] is not None and without["pitch_variability_st"] is not None, sp
        assert without["pitch_median_st"] == pytest.approx(with_audio["pitch_median_st"], abs=0.5)
        assert without["pitch_variability_st"] == pytest.approx(with_audio["pitch_variability_st"], abs=0.5)
        for name in ("pitch_median_rel_st", "pitch_variability_rel_st", "loudness_rel_db"):
            assert getattr(final_none, name)[sp] is not None, (sp, name)
    # the therapist's voice is lower than the client's (espeak pitch 32 and 66)
    assert none.metrics.speakers["S1"]["pitch_median_st"] < none.metrics.speakers["S2"]["pitch_median_st"] - 6


def test_summary_shows_each_voice_tone_without_the_audio(qtbot, dialogue):
    wav, truth = dialogue
    win = MainWindow(controller=scripted_controller(truth.turns), file_speed=8.0, probe_level=False)
    qtbot.addWidget(win)
    win.show()
    try:
        start_through_dialog(qtbot, win, wav)  # no audio kept, no transcript: the most private answers
        qtbot.waitUntil(lambda: win.summary_dialog is not None, timeout=60_000)
        summary = win.summary_dialog
        tones = {who: summary.values[f"{who}: tone"].text() for who in ("You", "Client")}
        for who, text in tones.items():
            figures = text.splitlines()[0]
            assert figures.endswith(" st") and " Hz ±" in figures, (who, text)
        hz = {who: int(text.split(" Hz")[0]) for who, text in tones.items()}
        assert 60 < hz["You"] < hz["Client"] < 400, hz
        with qtbot.waitSignal(win.session_saved, timeout=10_000):
            summary.accept()
    finally:
        win.controller.shutdown()
        win.strip.close()


def test_summary_says_why_a_tone_is_missing():
    from app.settings import Settings
    from tests.ui_session import voices_state

    cues = CueModel(Settings()).update(voices_state(600.0, {"S1": 300.0, "S2": 200.0}))

    class Timeline:
        utterances = ()

        def __init__(self, per):
            self.metrics = type("M", (), {"speakers": per, "session": {}})()

    measured = {"S1": {"pitch_median_st": 12.0, "pitch_variability_st": 2.0, "talk_time": 300.0},
                "S2": {"pitch_median_st": None, "talk_time": 200.0}}
    rows = dict(summary_rows(cues, Timeline(measured)))
    assert rows["You: tone"] == "200 Hz ±2.0 st"  # 12 semitones above 100 Hz
    assert rows["Client: tone"] == TONE_TOO_LITTLE
    rows = dict(summary_rows(cues, Timeline({"S1": {"talk_time": 300.0}, "S2": {"talk_time": 200.0}})))
    assert rows["You: tone"] == rows["Client: tone"] == TONE_NOT_MEASURED
