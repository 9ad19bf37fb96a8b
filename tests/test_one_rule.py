"""One rule per job (issue 12, point 3): who said a word, talk time and share each have one definition,
used everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.evaluation import attribution_mismatches
from analysis.live import LiveOptions, LivePipeline
from analysis.scripted_diarizer import ScriptedDiarizer
from analysis.talk import TalkTime, talk_share, talk_time
from analysis.timeline import Turn
from audio import SAMPLE_RATE
from audio.sources import AudioBlock, FileSource


# -- who said a word -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live_run(dialogue):
    """The demo dialogue live, its exact speakers (the rendered turns) and the real recogniser."""
    wav, truth = dialogue
    pipe = LivePipeline(LiveOptions(asr_queue=10_000, backpressure=True), diarizer=ScriptedDiarizer(truth.turns))
    src = FileSource(wav)
    src.start()
    for block in src:
        pipe.process(block)
    return pipe.finish(), truth


def test_live_timeline_speakers_and_figures_agree(live_run):
    """Each speaker's words, pace and questions in the live timeline are those of the utterances
    labelled with that speaker (was: utterances went whole to the speaker of the turn they overlapped
    most, while the figures gave each word to the speaker of its own turn)."""
    from analysis.cue_adapter import LIVE_PUNCTUATED

    tl, truth = live_run
    per = tl.metrics.speakers
    assert set(truth.talk_time) <= set(per)
    assert all(per[sp]["words"] >= 20 for sp in truth.talk_time)  # both speak: the check has something to check
    assert sum(per[sp]["questions"] for sp in per) >= 2
    assert attribution_mismatches(tl, LIVE_PUNCTUATED) == []


# -- talk time and share -------------------------------------------------------------------------------
def test_talk_time_is_the_union_of_each_speakers_turns():
    turns = [Turn("A", 0.0, 2.0), Turn("A", 1.0, 3.0), Turn("A", 3.0, 4.0),  # overlapping, touching
             Turn("A", 0.5, 1.5),  # inside
             Turn("B", 5.0, 6.0), Turn("B", 5.0, 6.0)]  # twice the same
    assert talk_time(turns) == {"A": 4.0, "B": 1.0}
    assert talk_time(turns, 2.5, 5.5) == {"A": 1.5, "B": 0.5}
    assert talk_time(turns, speakers=["C"]) == {"C": 0.0, "A": 4.0, "B": 1.0}
    assert talk_share({"A": 3.0, "B": 1.0}) == {"A": 0.75, "B": 0.25}
    assert talk_share({"A": 0.0}) == {"A": 0.0}
    # fed out of order, turn by turn: the same figure
    acc = TalkTime()
    for t in reversed(turns):
        acc.add_turn(t)
    assert acc.seconds() == pytest.approx(talk_time(turns))


def test_live_talk_share_follows_the_cue_engines_rule():
    """The live state's talk time and share (session and window) and the timeline's are one figure, even
    for turns of one speaker that overlap or repeat (was: the live state summed turn durations)."""
    turns = [Turn("S1", 0.0, 4.0), Turn("S1", 2.0, 6.0), Turn("S2", 6.5, 8.0), Turn("S2", 6.5, 8.0),
             Turn("S1", 8.5, 9.0)]
    pipe = LivePipeline(LiveOptions(transcribe=False), diarizer=ScriptedDiarizer(turns))
    block = int(0.1 * SAMPLE_RATE)
    for k in range(100):
        pipe.process(AudioBlock(k * 0.1, np.zeros(block, np.float32)))
    tl = pipe.finish()
    state = pipe.state()
    for sp in ("S1", "S2"):
        m = tl.metrics.speakers[sp]
        assert state.talk_time[sp] == pytest.approx(m["talk_time"], abs=1e-3)
        assert state.talk_share[sp] == pytest.approx(m["talk_share"], abs=1e-3)
        assert state.talk_share_window[sp] == pytest.approx(m["talk_share_window"], abs=1e-3)
    assert state.talk_time["S1"] == pytest.approx(6.5)
