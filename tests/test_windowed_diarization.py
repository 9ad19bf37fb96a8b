"""Offline diarization in bounded windows (:mod:`analysis.windowed_diarization`) and its use by
``analyze_file``: never more than one window's audio at once, windows cut in pauses, the windows'
speakers linked into the same people. A fake diarizer stands in for pyannote (the real one is measured
in bench/bench_analyze.py --hours)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.diarization import DiarizationOptions, DiarizationResult
from analysis.timeline import Turn
from analysis.windowed_diarization import _Member, diarize_windows, link_speakers, window_bounds
from audio import SAMPLE_RATE as SR

RNG = np.random.default_rng(7)
VOICES = {name: v / np.linalg.norm(v) for name, v in (("A", RNG.normal(size=192)), ("B", RNG.normal(size=192)),
                                                       ("C", RNG.normal(size=192)))}


class Reader:
    """``read(start, end)`` over a recording of ``duration`` s whose every sample holds its own time."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.reads: list[tuple[float, float]] = []

    def __call__(self, start: float, end: float) -> np.ndarray:
        self.reads.append((start, end))
        return (start + np.arange(int(round((end - start) * SR)), dtype=np.float64) / SR).astype(np.float32)


class FakeDiarizer:
    """Diarizes a window by the truth: its turns clipped to the window, each window naming the voices
    in its own order (``local``: voice -> local id), voiceprints near the voices'."""

    def __init__(self, truth: list[Turn], local: list[dict[str, str]]) -> None:
        self.truth, self.local, self.calls = truth, local, []

    def __call__(self, waveform, options=None, progress=None) -> DiarizationResult:
        a = float(waveform[0]) if len(waveform) else 0.0
        b = a + len(waveform) / SR
        w = len(self.calls)
        self.calls.append((a, b))
        names = self.local[w]
        turns = [Turn(names[t.speaker], max(t.start, a) - a, min(t.end, b) - a)
                 for t in self.truth if t.end > a and t.start < b]
        heard = {t.speaker for t in self.truth if t.end > a and t.start < b}
        emb = {names[v]: (VOICES[v] + 0.2 * RNG.normal(size=192) / np.sqrt(192)).astype(np.float32) for v in heard}
        return DiarizationResult(turns=turns, embeddings=emb)


def test_window_bounds_are_equal_windows_cut_in_the_longest_nearby_pause():
    # 100 s in three windows (nominal cuts 33.3 and 66.7 s); pauses at 30-31 (1 s), 35-35.5 and 70-72 s
    regions = [(0.0, 30.0), (31.0, 35.0), (35.5, 70.0), (72.0, 100.0)]
    assert window_bounds(100.0, regions, window_s=40.0, search_s=10.0) == [(0.0, 30.5), (30.5, 71.0),
                                                                           (71.0, 100.0)]
    # no pause within reach: the nominal cut stays
    nominal = window_bounds(100.0, [(0.0, 100.0)], window_s=40.0, search_s=10.0)
    assert [x for w in nominal for x in w] == pytest.approx([0.0, 100 / 3, 100 / 3, 200 / 3, 200 / 3, 100.0])
    assert window_bounds(30.0, regions, window_s=40.0) == [(0.0, 30.0)]


def test_a_short_recording_is_diarized_in_one_call_as_before():
    read = Reader(30.0)
    got = []
    whole = DiarizationResult(turns=[Turn("S1", 0.0, 30.0)])

    def fake(waveform, options=None, progress=None):
        got.append(len(waveform))
        return whole

    assert diarize_windows(read, 30.0, [(0.0, 30.0)], window_s=40.0, diarize=fake) is whole
    assert got == [30 * SR] and read.reads == [(0.0, 30.0)]


def test_a_long_recording_is_read_one_window_at_a_time_and_its_speakers_linked():
    # 120 s: A and B alternate in 5-s turns with 1-s pauses; each window names the voices differently
    truth, t, who = [], 0.0, "A"
    while t + 5 <= 120:
        truth.append(Turn(who, t, t + 5.0))
        t, who = t + 6.0, "B" if who == "A" else "A"
    local = [{"A": "S1", "B": "S2"}, {"A": "S2", "B": "S1"}, {"A": "S1", "B": "S2"}]
    fake = FakeDiarizer(truth, local)
    read = Reader(120.0)
    regions = [(x.start, x.end) for x in truth]
    result = diarize_windows(read, 120.0, regions, DiarizationOptions(), window_s=45.0, diarize=fake)
    assert len(fake.calls) == 3
    assert max(b - a for a, b in read.reads) <= 45.0 * 1.25 + 1e-9  # never the whole recording
    for a, _b in read.reads[1:]:  # every cut in a pause
        assert not any(x.start < a < x.end for x in truth)
    # the same person keeps one id across windows, numbered by first speech (A spoke first)
    names = {"A": "S1", "B": "S2"}
    assert result.turns == [Turn(names[x.speaker], x.start, x.end) for x in truth]
    assert set(result.embeddings) == {"S1", "S2"}
    assert float(result.embeddings["S1"] @ VOICES["A"]) / np.linalg.norm(result.embeddings["S1"]) > 0.9


def test_a_turn_cut_at_a_window_boundary_is_joined():
    truth = [Turn("A", 0.0, 100.0)]  # speech with no pause: the cut falls inside the turn
    fake = FakeDiarizer(truth, [{"A": "S1"}, {"A": "S1"}, {"A": "S2"}])
    result = diarize_windows(Reader(100.0), 100.0, [(0.0, 100.0)], window_s=40.0, diarize=fake)
    assert result.turns == [Turn("S1", 0.0, 100.0)]


def _member(window: int, voice: str, talk_s: float = 60.0) -> _Member:
    return _Member(window, voice, VOICES[voice], talk_s)


def test_linking_never_joins_two_speakers_of_one_window():
    # window 0 heard A twice (a voice split in two): they stay apart even when told there is one speaker
    members = [_member(0, "A"), _Member(0, "A2", VOICES["A"], 5.0), _member(1, "A")]
    groups = link_speakers(members, DiarizationOptions(num_speakers=1))
    assert len(groups) == 2 and sorted(map(sorted, groups)) == [[0, 2], [1]]


def test_linking_finds_a_new_voice_and_obeys_the_count():
    members = [_member(0, "A"), _member(0, "B"), _member(1, "B"), _member(1, "C"), _member(2, "A")]
    auto = sorted(map(sorted, link_speakers(members, DiarizationOptions())))
    assert auto == [[0, 4], [1, 2], [3]]  # C, heard only in window 1, is a third person
    forced = link_speakers(members, DiarizationOptions(max_speakers=2))
    assert len(forced) == 2  # told at most two: the closest allowed pair is joined too


def test_analyze_file_never_hands_diarization_more_than_one_window(shared_audio, monkeypatch):
    """The whole recording used to go to diarization in one array (``store.read()``)."""
    import analysis.diarization
    import analysis.diarize_process
    from analysis.pipeline import AnalysisOptions, analyze_file

    lengths = []

    def fake(waveform, options=None, progress=None):
        lengths.append(len(waveform) / SR)
        return DiarizationResult(turns=[Turn("S1", 0.0, len(waveform) / SR)],
                                 embeddings={"S1": VOICES["A"].astype(np.float32)})

    monkeypatch.setattr(analysis.diarization, "diarize", fake)
    # each window goes to a child process by default (analysis/diarize_process.py): here, in this one
    monkeypatch.setattr(analysis.diarize_process, "diarize_in_child",
                        lambda read, a, b, options, progress=None: fake(read(a, b), options, progress))
    window = 12.0
    result = analyze_file(shared_audio / "pyannote_sample" / "sample.wav",
                          AnalysisOptions(transcribe=False, diarize_window_s=window))
    assert len(lengths) == 3 and max(lengths) <= window * 1.25
    assert sum(lengths) == pytest.approx(result.timeline.duration, abs=1e-3)
    assert [s.id for s in result.timeline.speakers] == ["S1"]  # one voice throughout: linked into one


def test_a_recording_longer_than_the_isolation_length_is_diarized_in_a_child(monkeypatch):
    """One window or several: past ``ISOLATE_MIN_S`` every window goes to a child process (its peak
    memory then does not depend on what ran before); shorter recordings stay in this process."""
    import analysis.diarization
    import analysis.diarize_process
    import analysis.windowed_diarization as wd

    where = []

    def here(waveform, options=None, progress=None):
        where.append(("here", len(waveform) / SR))
        return DiarizationResult(turns=[Turn("S1", 0.0, len(waveform) / SR)],
                                 embeddings={"S1": VOICES["A"].astype(np.float32)})

    def child(read, a, b, options, progress=None):
        where.append(("child", b - a))
        return here(read(a, b), options, progress)

    monkeypatch.setattr(analysis.diarization, "diarize", here)
    monkeypatch.setattr(analysis.diarize_process, "diarize_in_child", child)
    monkeypatch.setattr(analysis.diarize_process, "can_start_child", lambda: True)
    monkeypatch.setattr(wd, "ISOLATE_MIN_S", 20.0)
    diarize_windows(Reader(15.0), 15.0, [(0.0, 15.0)], window_s=40.0)  # short: here
    assert [w for w, _ in where] == ["here"]
    where.clear()
    diarize_windows(Reader(30.0), 30.0, [(0.0, 30.0)], window_s=40.0)  # one window, in a child
    assert [w for w, _ in where] == ["child", "here"] and where[0][1] == pytest.approx(30.0)
    where.clear()
    diarize_windows(Reader(30.0), 30.0, [(0.0, 30.0)], window_s=40.0, isolate=False)  # told not to
    assert [w for w, _ in where] == ["here"]
    where.clear()
    monkeypatch.setattr(analysis.diarize_process, "can_start_child", lambda: False)  # e.g. a Dask worker
    diarize_windows(Reader(30.0), 30.0, [(0.0, 30.0)], window_s=40.0)
    assert [w for w, _ in where] == ["here"]
