"""The cue engine against the exact truth of generated dialogues (espeak-ng voices).

The truth is what was rendered: each voice's speech intervals measured on its own track, and the cues
of those intervals by the reference computation of docs/cues.md (``analysis/cue_reference.py``), which
shares no code or threshold object with the engine (``app/synth.py``). Three levels: truth turns alone
(does the engine compute the documented definitions?); truth turns with the real transcription
(analyze_file's words); and the real pipeline's own turns (audio -> VAD -> diarization -> transcription
-> cues; a timeline with fewer than two speakers is a diarization failure and fails the test).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import soundfile as sf

from analysis.cues import CueOptions, compute_cues
from analysis.evaluation import EVENT_MATCH_S, match_events, precision_recall, speaker_map
from analysis.timeline import Turn
from app.synth import demo_script, random_script, render

# espeak-ng comes with ./setup.sh; without it the rendering fails (a skip would hide it)

SCRIPTS = {"demo": lambda: demo_script(0), "r1": lambda: random_script(1), "r2": lambda: random_script(2),
           "r3": lambda: random_script(3, p_interruption=0.3), "r4": lambda: random_script(4, n_speakers=3),
           "r5": lambda: random_script(5, n_speakers=3, p_interruption=0.3)}
# the dialogues that also go through analyze_file (VAD, diarization, transcription: about a minute
# for the demo on two free cores, much more on a loaded machine)
TRANSCRIBED = ("demo",)


@pytest.fixture(scope="session")
def dialogues(tmp_path_factory):
    out = tmp_path_factory.mktemp("dialogues")
    return {name: (out / f"{name}.wav", render(make(), out / f"{name}.wav")) for name, make in SCRIPTS.items()}


@pytest.fixture(scope="session")
def analysed(dialogues):
    from analysis.pipeline import analyze_file

    return {name: analyze_file(dialogues[name][0]) for name in TRANSCRIBED}


def unlabelled(utterances):
    """The pipeline's utterances without their speaker label (meaningless before diarization)."""
    return [replace(u, speaker="") for u in utterances]


def reader(path):
    x, sr = sf.read(str(path), dtype="float32")
    return lambda a, b: x[int(a * sr): int(b * sr)]


def check_events(name, events, truth, counts):
    inter = [e for e in events if e.kind == "interruption"]
    counts["interruption"].append(match_events(inter, truth.events_of("interruption")))
    counts["backchannel"].append(match_events([e for e in events if e.kind == "backchannel"],
                                       truth.events_of("backchannel")))
    # no backchannel is counted as an interruption
    for bc in truth.events_of("backchannel"):
        assert not any(abs(e.start - bc.start) <= EVENT_MATCH_S and e.by == bc.by for e in inter), (name, bc)
    for s in truth.events_of("silence"):
        assert any(e.kind == "silence" and abs(e.start - s.start) <= EVENT_MATCH_S and abs(e.end - s.end) <= EVENT_MATCH_S
                   for e in events), (name, "silence not found", s)


def test_cues_on_truth_turns(dialogues):
    """Fed the rendered intervals, the engine finds the reference's events and figures."""
    counts = {"interruption": [], "backchannel": [], "quick_response": []}
    for name, (_, truth) in dialogues.items():
        ref = truth.reference()
        assert [(e.kind, e.start, e.by) for e in ref.events] == [(e.kind, e.start, e.by) for e in truth.events]
        # the truth's text is the scripts' punctuated lines; a line cut by an interruption keeps no final
        # mark ("Do you remember when this feeling") and is no question in the truth (unfinished), so the
        # text is declared punctuated rather than judged per utterance
        m, events = compute_cues(truth.turns, truth.utterances, truth.duration, CueOptions(punctuated=True))
        check_events(name, events, truth, counts)
        counts["quick_response"].append(match_events([e for e in events if e.kind == "quick_response"],
                                              truth.events_of("quick_response")))
        assert m.session["overlaps"] == ref.overlaps, name
        for sp, share in truth.talk_share.items():
            assert m.speakers[sp]["talk_share"] == pytest.approx(share, abs=0.005), (name, sp)
            # 2 %: the truth's word timings are approximate (spread over the line when its phrases and
            # voiced runs do not pair up), so a word can sit in a pause where the other speaker's
            # backchannel is, and go to them (r1: S2's "quiet." over S1's "right", 2 of 127 words)
            assert m.speakers[sp]["wpm"] == pytest.approx(truth.wpm[sp], rel=0.02), (name, sp)
            assert m.speakers[sp]["questions"] == truth.questions[sp], (name, sp)
            assert m.speakers[sp]["turns"] == ref.turns(sp), (name, sp)
            assert m.speakers[sp]["longest_monologue"] == pytest.approx(ref.longest_monologue(sp), abs=1e-3)
            lat = ref.response_latency_median(sp)
            assert m.speakers[sp]["response_latency_median"] == (None if lat is None else pytest.approx(lat, abs=1e-3))
    for kind, c in counts.items():
        p, r, n = precision_recall(c)
        assert n >= 5, kind  # the dialogues really contain these events
        assert p >= 0.9 and r >= 0.9, (kind, p, r, c)


@pytest.mark.slow
def test_pace_and_tone_with_the_real_transcription(dialogues, analysed):
    for name in TRANSCRIBED:
        path, truth = dialogues[name]
        words = unlabelled(analysed[name].timeline.utterances)
        assert sum(len(u.words) for u in words) > 0.7 * sum(truth.words.values())
        m, _ = compute_cues(truth.turns, words, truth.duration, audio=reader(path))
        for sp in truth.talk_time:
            if truth.words[sp] >= 30:
                assert m.speakers[sp]["wpm"] == pytest.approx(truth.wpm[sp], rel=0.10), (name, sp)
            assert 2.0 < (m.speakers[sp]["articulation_rate"] or 0) < 9.0, (name, sp)
        # tone: the higher espeak pitch setting gives the higher measured pitch
        by_pitch = sorted(truth.speakers, key=lambda v: v["pitch"])
        measured = [m.speakers[v["id"]]["pitch_median_st"] for v in by_pitch]
        assert all(x is not None for x in measured) and measured == sorted(measured), (name, measured)
        assert all(-40 < m.speakers[sp]["loudness_dbfs"] < -3 for sp in truth.talk_time)
    # questions: the therapist's questions in the demo are found in the real transcript
    demo_truth = dialogues["demo"][1]
    m, _ = compute_cues(demo_truth.turns, unlabelled(analysed["demo"].timeline.utterances),
                        demo_truth.duration)
    assert abs(m.speakers["S1"]["questions"] - demo_truth.questions["S1"]) <= 1
    assert m.speakers["S1"]["reflections"] >= 1


@pytest.mark.slow
def test_silences_from_the_pipelines_speech_regions(dialogues, analysed):
    """The VAD's speech regions find every silence of 3 s or more, whatever the speaker labels."""
    for name in TRANSCRIBED:
        _, truth = dialogues[name]
        tl = analysed[name].timeline
        _, events = compute_cues(tl.turns, tl.utterances, tl.duration)
        assert truth.events_of("silence")
        for s in truth.events_of("silence"):
            assert any(e.kind == "silence" and abs(e.start - s.start) <= EVENT_MATCH_S
                       and abs(e.end - s.end) <= EVENT_MATCH_S for e in events), (name, s)
        speech = sum(t.end - t.start for t in _union(tl.turns))
        union = sum(t.end - t.start for t in _union(truth.turns))
        assert speech == pytest.approx(union, rel=0.1)


def _union(turns):
    out = []
    for t in sorted(turns, key=lambda t: t.start):
        if out and t.start <= out[-1].end:
            out[-1] = Turn("*", out[-1].start, max(out[-1].end, t.end))
        else:
            out.append(Turn("*", t.start, t.end))
    return out


@pytest.mark.slow
def test_through_the_real_pipeline(dialogues, analysed):
    """audio -> VAD -> diarization -> transcription -> cues, against the truth (issue 4 targets)."""
    single = [n for n in TRANSCRIBED if len({t.speaker for t in analysed[n].timeline.turns}) < 2]
    assert not single, f"analyze_file found fewer than 2 speakers in {single}: diarization failed"
    counts = {"interruption": [], "backchannel": []}
    for name in TRANSCRIBED:
        path, truth = dialogues[name]
        tl = analysed[name].timeline
        mapping = speaker_map(tl.turns, truth.turns)
        turns = [Turn(mapping[t.speaker], t.start, t.end) for t in tl.turns]
        utts = [replace(u, speaker=mapping.get(u.speaker, "")) for u in tl.utterances]
        m, events = compute_cues(turns, utts, tl.duration, audio=reader(path))
        check_events(name, events, truth, counts)
        for sp, share in truth.talk_share.items():
            assert (m.speakers.get(sp, {}).get("talk_share") or 0.0) == pytest.approx(share, abs=0.03)
            if truth.words[sp] >= 30:
                assert m.speakers[sp]["wpm"] == pytest.approx(truth.wpm[sp], rel=0.10), (name, sp)
    for kind, c in counts.items():
        p, r, _ = precision_recall(c)
        assert p >= 0.9 and r >= 0.9, (kind, c)
