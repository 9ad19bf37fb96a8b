"""Cue sanity on a real recording (issue 11): ``attune analyze`` on the pyannote sample.

The real pipeline (VAD -> diarization -> transcription -> cues) runs once for the module (about a
minute on two free cores). Its diarization leaves 17-34 ms fragments at speaker changes and Whisper
stretches the first word back over the silence before it; the cues must not turn those into turns,
quick responses or misattributed words. The reference turns (``sample.rttm``) go through the same cue
engine to say which quick responses are real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.attribution import UNATTRIBUTED, WORD_TOLERANCE_S
from analysis.cues import MIN_TURN_S, compute_cues
from analysis.evaluation import EVENT_MATCH_S, attribution_mismatches, speaker_map
from analysis.timeline import Timeline, Turn

pytestmark = pytest.mark.slow
ATTUNE = str(Path(sys.executable).parent / "attune")


@pytest.fixture(scope="module")
def analysed(shared_audio, tmp_path_factory):
    wav = shared_audio / "pyannote_sample" / "sample.wav"
    assert wav.exists(), f"{wav} is missing"
    out = tmp_path_factory.mktemp("sample")
    run = subprocess.run([ATTUNE, "analyze", str(wav), "--out", str(out), "-q"], capture_output=True,
                         text=True, timeout=1800)
    assert run.returncode == 0, run.stderr
    tl = json.loads((out / "sample.timeline.json").read_text())
    ref = [line.split() for line in (wav.parent / "sample.rttm").read_text().splitlines() if line.strip()]
    ref_turns = [Turn(r[7], float(r[3]), float(r[3]) + float(r[4])) for r in ref]
    return tl, ref_turns, run.stdout


def _turns(tl):
    return [Turn(t["speaker"], t["start"], t["end"]) for t in tl["turns"]]


def test_no_turn_shorter_than_the_minimum(analysed):
    tl, _, _ = analysed
    rows = tl["metrics"]["session"]["turn_cues"]
    assert rows and min(r["end"] - r["start"] for r in rows) >= MIN_TURN_S
    for e in tl["events"]:
        if e["kind"] in ("quick_response", "interruption", "backchannel", "overlap"):
            # its author speaks then, in a turn that lasts the minimum
            assert any(t.speaker == e["by"] and t.end - t.start >= MIN_TURN_S
                       and t.start - 1e-3 <= e["end"] and e["start"] <= t.end + 1e-3 for t in _turns(tl)), e


def test_quick_responses_only_where_the_reference_has_them(analysed):
    tl, ref_turns, _ = analysed
    mapping = speaker_map(_turns(tl), ref_turns)
    _, ref_events = compute_cues(ref_turns, [], tl["duration"])
    ref_quick = [e for e in ref_events if e.kind == "quick_response"]
    quick = [e for e in tl["events"] if e["kind"] == "quick_response"]
    speech_start = min(t["start"] for t in tl["turns"])
    early = [e for e in quick if e["start"] < speech_start + 3.0]
    assert len(early) <= 1  # was 5 in the first 3 s of speech
    for e in quick:
        assert any(abs(r.start - e["start"]) <= EVENT_MATCH_S and r.by == mapping[e["by"]] for r in ref_quick), e


def test_every_word_is_near_a_turn_of_its_speaker(analysed):
    tl, _, _ = analysed
    turns = _turns(tl)
    n = 0
    for u in tl["utterances"]:
        for w in u["words"]:
            n += 1
            if u["speaker"] == UNATTRIBUTED:
                continue
            gap = min(max(t.start - w["end"], w["start"] - t.end, 0.0) for t in turns if t.speaker == u["speaker"])
            assert gap <= WORD_TOLERANCE_S, (u["speaker"], w["start"], w["end"])
    assert n > 50


def test_cue_figures_agree_with_the_timeline(analysed):
    """One attribution rule: the words, pace and questions counted per speaker are those of the
    utterances the timeline gives them."""
    tl, _, _ = analysed
    timeline = Timeline.from_dict(tl)
    assert sum(len(u.words) for u in timeline.utterances) > 50
    assert attribution_mismatches(timeline) == []


def test_printed_summary_says_who_interrupted_whom(analysed):
    tl, _, stdout = analysed
    for sp in tl["speakers"]:
        m = tl["metrics"]["speakers"][sp["id"]]
        assert (f"interrupted others {m['interruptions_made']}x, was interrupted "
                f"{m['interruptions_received']}x") in stdout
    assert f"{sum(m['turns'] for m in tl['metrics']['speakers'].values())} turns" in stdout
