"""The live pipeline from the file source (fast and paced) on a generated dialogue with exact truth."""

from __future__ import annotations

import logging
import sys
import time
from types import MappingProxyType

import numpy as np
import pytest

from analysis.cues import _union
from analysis.evaluation import wer
from analysis.live import LiveOptions, LivePipeline
from analysis.live_audio import PauseDetector
from analysis.session_state import SessionState
from analysis.timeline import SCHEMA, Timeline, Utterance
from analysis.vad import frame_accuracy
from app.live_session import LiveSession
from app.recorder import read_events, read_session
from audio.sources import FileSource

# Word error rate (substitutions, deletions and insertions; analysis.evaluation.wer) of the live transcript
# against the script: measured 0.221 (whole dialogue, nothing dropped) and 0.258 (first 12 s, paced).
FAST_WER_MAX = 0.3
PACED_WER_MAX = 0.35
PACED_CPU_MAX = 1.0  # cores: the live pipeline's target (docs/live.md); measured 0.40 here (no diarizer)
DRAIN_MAX_S = 10.0  # s from the end of the audio to the timeline (measured 1.7 s on the loaded 2-core
#                     machine; a finish that waits for its 30-s timeout fails here)


@pytest.fixture(scope="module")
def fast_run(dialogue):
    """The whole dialogue through the live pipeline as fast as possible (no transcription dropped)."""
    wav, truth = dialogue
    src = FileSource(wav)
    pipe = LivePipeline(LiveOptions(asr_queue=10_000, diarize=False))
    states: list[SessionState] = []
    src.start()
    for block in src:
        pipe.process(block)
        states.append(pipe.state())
    return pipe, pipe.finish(), states, truth


def test_fast_turns_cover_the_truth(fast_run):
    pipe, tl, states, truth = fast_run
    assert tl.duration == pytest.approx(truth.duration, abs=0.11)
    hyp = _union((t.start, t.end) for t in tl.turns)
    ref = _union((t.start, t.end) for t in truth.turns)
    assert frame_accuracy(hyp, ref, truth.duration) >= 0.9
    live_talk = sum(e - s for s, e in hyp)
    assert live_talk == pytest.approx(sum(e - s for s, e in ref), rel=0.1)
    if pipe.diarizer is None:
        assert {t.speaker for t in tl.turns} == {"S1"}
    else:
        assert len(tl.speakers) >= 2


def test_fast_transcript_matches_the_script(fast_run):
    _pipe, tl, _states, truth = fast_run
    ref = " ".join(u.text for u in sorted(truth.utterances, key=lambda u: u.start))
    assert wer(ref, " ".join(u.text for u in tl.utterances)) <= FAST_WER_MAX
    assert all(a.start <= b.start for a, b in zip(tl.utterances, tl.utterances[1:], strict=False))
    for u in tl.utterances:  # every transcribed stretch lies in detected speech
        assert any(t.start - 0.5 <= u.start and u.end <= t.end + 0.5 for t in tl.turns)
        assert u.words and u.words[0].start >= u.start - 1e-6


def test_fast_cues_and_schema(fast_run):
    _pipe, tl, _states, truth = fast_run
    d = tl.to_dict()
    assert d["schema"] == SCHEMA and d["provenance"]["mode"] == "live"
    again = Timeline.from_dict(d)
    assert again.turns == tuple(type(t)(t.speaker, round(t.start, 3), round(t.end, 3)) for t in tl.turns)
    for sp in tl.speakers:
        assert tl.metrics.speakers[sp.id]["talk_time"] > 0
    long_silences = [e for e in truth.events if e.kind == "silence"]
    assert long_silences
    found = [e for e in tl.events if e.kind == "silence"]
    for ref in long_silences:
        assert any(min(ref.end, e.end) - max(ref.start, e.start) > 0.5 * (ref.end - ref.start) for e in found)


def test_fast_states_follow_the_speech(fast_run):
    _pipe, _tl, states, truth = fast_run
    ref = _union((t.start, t.end) for t in truth.turns)

    def speech_at(t):
        return any(s <= t <= e for s, e in ref)

    agree = [bool(s.speaking_now) == speech_at(s.t - 0.15) for s in states]
    assert np.mean(agree) >= 0.9
    assert [s.t for s in states] == sorted(s.t for s in states)
    last = states[-1]
    assert isinstance(last.talk_share, MappingProxyType)
    with pytest.raises(TypeError):
        last.talk_share["S1"] = 0.5
    assert sum(last.talk_share.values()) == pytest.approx(1.0)
    assert last.recent_turns
    final = _pipe.state()  # after finish(): everything transcribed is in the last snapshot
    assert final.status == "finished" and final.transcript_tail and not final.speaking_now
    # the 3.5-s pause in the demo: silence_s grows through it
    sil = max(truth.events_of("silence"), key=lambda e: e.end - e.start)
    inside = [s.silence_s for s in states if sil.start + 0.5 < s.t < sil.end - 0.1]
    assert inside and max(inside) >= sil.end - sil.start - 1.0
    assert all(b >= a for a, b in zip(inside, inside[1:], strict=False))


def test_paced_live_session(dialogue, tmp_path):
    """A real-time session of the first 12 s: recorder, timeline.json, latency figures."""
    wav, truth = dialogue
    out = tmp_path / "session"
    src = FileSource(wav, realtime=True)
    seen: list[SessionState] = []
    ticks: list[tuple[float, float]] = []  # (wall s since start, audio s analysed)
    session = LiveSession(src, out, LiveOptions(diarize=False), duration=12.0)
    t = time.monotonic()

    def tick(s: SessionState) -> None:
        seen.append(s)
        ticks.append((time.monotonic() - t, s.t))

    tl = session.run(on_tick=tick, tick_s=0.2)
    elapsed = time.monotonic() - t
    assert ticks and all(audio <= wall + 0.05 for wall, audio in ticks)  # paced: never ahead of the clock
    assert 11.8 <= elapsed <= 12.0 + DRAIN_MAX_S
    assert tl.duration == pytest.approx(12.0, abs=0.01)
    assert Timeline.load(out / "timeline.json").turns == Timeline.from_dict(tl.to_dict()).turns
    meta = read_session(out)
    assert meta["status"] == "finished" and meta["duration"] == pytest.approx(12.0)
    kinds = {e["type"] for e in read_events(out)}
    assert {"turn", "utterance", "speaker"} <= kinds
    lat = session.stats.latency
    assert lat["state"]["p90"] < 0.1
    assert lat["transcript"]["n"] >= 3 and session.stats.asr_dropped == 0
    assert tl.utterances and any(s.speaking_now for s in seen)
    # the script's utterances heard whole; the live words before the one the 12-s cut interrupts
    cut = min(u.start for u in truth.utterances if u.end > 12.0)
    ref = " ".join(u.text for u in truth.utterances if u.end <= 12.0)
    hyp = " ".join(w.text for u in tl.utterances for w in u.words if (w.start + w.end) / 2 < cut)
    assert wer(ref, hyp) <= PACED_WER_MAX
    assert 0 < session.stats.cpu_cores <= PACED_CPU_MAX


def test_pause_detector_cuts_deep_pauses_only():
    """Speech-level tone with two gaps: 0.2 s at -24 dB (cutting there was measured to fragment espeak
    speech into pieces the recogniser gets wrong: no cut) and 0.1 s at -40 dB (a pause: cut)."""
    sr = 16_000
    tone = lambda s: 0.3 * np.sin(2 * np.pi * 200 * np.arange(int(s * sr)) / sr)  # noqa: E731
    x = np.concatenate([tone(1.0), 10 ** (-24 / 20) * tone(0.2), tone(1.0), 10 ** (-40 / 20) * tone(0.1),
                        tone(1.0)]).astype(np.float32)
    det = PauseDetector()
    cuts = [c for i in range(0, len(x), 1600) if (c := det.process(i / sr, x[i:i + 1600])) is not None]
    assert cuts == pytest.approx([2.2 + det.CUT_PAD_S], abs=0.011)


TRIM_PROBE = """
import ctypes
import numpy as np
from analysis.heap import trim_heap
libc = ctypes.CDLL("libc.so.6")
libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: free() never gives the heap's top back by itself
libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD: 60-kB blocks come from the heap, not from mmap
def rss():
    return next(int(x.split()[1]) / 1024 for x in open("/proc/self/status") if x.startswith("VmRSS"))
blocks = []
for _ in range(2000):
    blocks += [np.ones(60_000, np.uint8), np.ones(100, np.uint8)]
keep = blocks[1::2]  # small blocks pin the freed ones inside the heap
r0 = rss()
del blocks
r1 = rss()
ok = trim_heap()
print(r0, r1, rss(), ok, len(keep))
"""


def test_trim_heap_returns_freed_memory():
    """120 MB freed stays resident until the heap is trimmed. In a fresh process whose allocator is
    told not to trim by itself, as a long session's threads' arenas behave. (glibc only: elsewhere
    trimming is a no-op that says so.)"""
    import subprocess

    if not sys.platform.startswith("linux"):
        from analysis.heap import trim_heap

        assert trim_heap() is False
        return

    out = subprocess.run([sys.executable, "-c", TRIM_PROBE], capture_output=True, text=True, timeout=60,
                         check=True).stdout.split()
    before, freed, trimmed = map(float, out[:3])
    assert out[3] == "True" and out[4] == "2000"
    assert freed > before - 20, out  # freed but still resident
    assert trimmed < before - 80, out


class SlowTranscriber:
    model = object()

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0

    def transcribe(self, audio, offset=0.0, speaker="S1"):
        self.calls += 1
        time.sleep(self.delay)
        return [Utterance(speaker, offset, offset + len(audio) / 16_000, "secret words")]


def test_pipeline_keeps_up_with_a_slow_recogniser(dialogue, caplog):
    wav, _truth = dialogue
    pipe = LivePipeline(LiveOptions(asr_queue=2, diarize=False), transcriber=SlowTranscriber(0.3))
    src = FileSource(wav)
    src.start()
    t = time.monotonic()
    with caplog.at_level(logging.INFO):
        for block in src:
            pipe.process(block)
            assert time.monotonic() - t < 30  # the capture side never waits for the recogniser
        tl = pipe.finish()
    assert pipe.state().asr_dropped == pipe.asr.dropped == 0  # slower, but nothing dropped (issue 11 d)
    assert tl.provenance["asr_dropped"] == 0
    assert tl.utterances and "secret" not in caplog.text


class OracleDiarizer:
    """A stand-in streaming diarizer that knows the truth: turns finalised 2 s late, speaker_now 0.5 s late."""

    def __init__(self, turns, delay: float = 0.0) -> None:
        self.turns = sorted(turns, key=lambda t: t.end)
        self.delay = delay
        self.t = 0.0
        self.sent = 0
        self.speaker_now = None
        self.emitted: list = []  # every turn handed to the pipeline

    def process(self, block):
        if self.delay:  # seconds of work per second of audio
            time.sleep(self.delay * len(block) / 16_000)
        self.t += len(block) / 16_000
        active = [t for t in self.turns if t.start <= self.t - 0.5 <= t.end]
        self.speaker_now = max(active, key=lambda t: t.start).speaker if active else None
        out = []
        while self.sent < len(self.turns) and self.turns[self.sent].end + 2.0 <= self.t:
            out.append(self.turns[self.sent])
            self.sent += 1
        self.emitted += out
        return out

    def flush(self):
        out, self.sent = self.turns[self.sent:], len(self.turns)
        self.emitted += out
        return out


def _talk_share_on_a_grid(turns, step: float = 0.01) -> dict[str, float]:
    """Each speaker's share of speaking time, counted on a 10-ms grid (not the cue engine's interval code)."""
    n = int(np.ceil(max(t.end for t in turns) / step)) + 1
    talk = {}
    for sp in {t.speaker for t in turns}:
        on = np.zeros(n, bool)
        for t in turns:
            if t.speaker == sp:
                on[int(round(t.start / step)):int(round(t.end / step))] = True
        talk[sp] = float(on.sum())
    return {sp: v / sum(talk.values()) for sp, v in talk.items()}

    def reset(self):
        self.t, self.sent = 0.0, 0


def test_diarizer_plugs_in_speakers_and_cues_follow_the_truth(dialogue):
    from analysis.live_diarizer import ThreadedDiarizer

    wav, truth = dialogue
    oracle = OracleDiarizer(truth.turns)
    diar = ThreadedDiarizer(oracle, backpressure=True)
    pipe = LivePipeline(LiveOptions(transcribe=False), diarizer=diar)
    src = FileSource(wav)
    src.start()
    states = []
    for block in src:
        pipe.process(block)
        states.append(pipe.state())
    # the cue engine runs on its own thread: wait until its snapshot holds every turn the pipeline has
    # (with backpressure the diarizer lags at most 15 s, so the turns up to ~65 s are in)
    assert pipe.cues.sync(30)
    pipe.process(type(block)(block.t1, np.zeros(1600, np.float32)))
    states.append(pipe.state())
    tl = pipe.finish()
    assert {s.id for s in tl.speakers} == {"S1", "S2"}
    # the timeline holds each turn the diarizer handed over, once and unchanged (the plumbing; the turns
    # are the oracle's own, so set against the truth they would only be compared with themselves)
    key = lambda t: (t.start, t.speaker)  # noqa: E731
    assert len(oracle.emitted) == len(truth.turns)
    assert sorted(tl.turns, key=key) == sorted(oracle.emitted, key=key)
    for sp, v in _talk_share_on_a_grid(truth.turns).items():  # the live talk share converges on it
        assert states[-1].talk_share[sp] == pytest.approx(v, abs=0.05)
    shown = {s.speaking_now for s in states if s.speaking_now}
    assert ("S1",) in shown and ("S2",) in shown
    n_true = len(truth.events_of("interruption"))
    live = max(sum(s.interruptions_made.values()) for s in states)  # engine snapshots on its own thread
    assert n_true and 1 <= live <= n_true + 1
    final = pipe.state()
    assert abs(sum(final.interruptions_made.values()) - n_true) <= 1
    assert sum(final.interruptions_made.values()) == sum(final.interruptions_received.values())
    assert abs(sum(1 for e in tl.events if e.kind == "interruption") - n_true) <= 1
    assert pipe.latency_summary()["label"]["p90"] < 2.0


def test_a_diarizer_too_slow_for_live_is_switched_off(dialogue, caplog):
    from analysis.live_diarizer import ThreadedDiarizer

    wav, truth = dialogue
    diar = ThreadedDiarizer(OracleDiarizer(truth.turns, delay=0.5), max_backlog_s=5.0)
    pipe = LivePipeline(LiveOptions(transcribe=False), diarizer=diar)
    src = FileSource(wav)
    src.start()
    with caplog.at_level(logging.WARNING):
        for block in src:
            pipe.process(block)
        tl = pipe.finish()
    assert diar.disabled_at is not None and diar.disabled_at < 20
    assert "switched off" in caplog.text and pipe.error and "switched off" in pipe.error
    assert any(t.speaker == "?" for t in tl.turns) and tl.speaker("?").label == "Unattributed"
    assert max(t.end for t in tl.turns) > truth.duration - 5
