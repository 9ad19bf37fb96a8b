"""Catching up at the start of a session: speech captured while the speech models load is transcribed
late, in one burst, but every utterance and in order (issue 11 d: one was dropped during the burst)."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from analysis.asr_worker import MAX_BATCH_S, SAMPLE_RATE, AsrWorker, Segment
from analysis.live import LiveOptions, LivePipeline
from analysis.timeline import Utterance, Word
from audio.sources import FileSource

GATE_TIMEOUT_S = 30.0  # a broken test fails instead of hanging


class GatedTranscriber:
    """A stand-in recogniser whose model "loads" until ``loaded`` is set (as at a session's start).

    ``transcribe`` returns one word per stretch of non-zero samples (one per segment of a batch, as the
    segments below are constant tones between the worker's silent gaps), with the text "secret".
    """

    def __init__(self) -> None:
        self.loaded = threading.Event()
        self.on_call = None  # called with no argument at the start of each transcription
        self.calls = 0

    @property
    def model(self):
        assert self.loaded.wait(GATE_TIMEOUT_S)
        return object()

    def transcribe(self, audio, offset=0.0, speaker="S1"):
        self.calls += 1
        if self.on_call is not None:
            self.on_call()
        voiced = np.flatnonzero(np.diff(np.concatenate([[0], (audio != 0).astype(np.int8), [0]])))
        words = tuple(Word(offset + a / SAMPLE_RATE, offset + b / SAMPLE_RATE, "secret", 0.9)
                      for a, b in zip(voiced[::2], voiced[1::2], strict=True))
        return [Utterance(speaker, w.start, w.end, w.text, (w,)) for w in words]


def _segment(i: int, length_s: float) -> Segment:
    start = 3.0 * i
    return Segment(start, start + length_s, np.full(int(length_s * SAMPLE_RATE), 0.1, np.float32), 0.0)


def test_a_backlog_submitted_at_once_is_transcribed_whole_and_in_order(caplog):
    """More utterances than the live queue size, all waiting while the model loads: none is dropped."""
    rec = GatedTranscriber()
    queue = LiveOptions().asr_queue
    worker = AsrWorker(None, queue, transcriber=rec)  # the live setting: submit never waits
    worker.start()
    n = 4 * queue
    length_s = 2.0
    assert n * length_s > 2 * MAX_BATCH_S  # a recogniser call takes at most MAX_BATCH_S: several batches
    with caplog.at_level(logging.WARNING):
        for i in range(n):
            worker.submit(_segment(i, length_s))
        rec.loaded.set()
        assert worker.drain(GATE_TIMEOUT_S)
    out = worker.results()
    worker.stop()
    assert [seg.start for seg, _ in out] == [3.0 * i for i in range(n)]
    assert worker.dropped == 0 and worker.pending == 0
    assert 2 < rec.calls < n  # the backlog went through in several batches
    for seg, utts in out:  # each segment's words come back on its own clock
        assert [(u.start, u.end) for u in utts] == [pytest.approx((seg.start, seg.end), abs=1e-3)]
    assert "behind" in caplog.text and "secret" not in caplog.text


def test_segments_still_waiting_when_stopped_are_counted_never_lost_silently(caplog):
    rec = GatedTranscriber()
    worker = AsrWorker(None, 8, transcriber=rec)
    worker.start()
    rec.on_call = worker.stop  # the session ends while the first batch is being transcribed
    long_s = 0.8 * MAX_BATCH_S  # one segment per batch
    for i in range(4):
        worker.submit(Segment(30.0 * i, 30.0 * i + long_s, np.full(int(long_s * SAMPLE_RATE), 0.1, np.float32),
                              0.0))
    with caplog.at_level(logging.WARNING):
        rec.loaded.set()
        assert worker.drain(GATE_TIMEOUT_S)
    assert [seg.start for seg, _ in worker.results()] == [0.0]
    assert worker.dropped == 3
    assert "3 utterances" in caplog.text and "secret" not in caplog.text


def test_dialogue_spoken_while_the_model_loads_is_transcribed_whole(dialogue):
    """The whole demo dialogue reaches the pipeline (live options, no waiting) before the recogniser's
    model has loaded, as the buffered start of a session does: every piece is transcribed, in order."""
    wav, _truth = dialogue
    rec = GatedTranscriber()
    pipe = LivePipeline(LiveOptions(diarize=False), transcriber=rec)
    submitted, collected = [], []
    submit, results = pipe.asr.submit, pipe.asr.results

    def spy_submit(seg):
        submitted.append(seg)
        submit(seg)

    def spy_results():
        out = results()
        collected.extend(seg for seg, _ in out)
        return out

    pipe.asr.submit, pipe.asr.results = spy_submit, spy_results
    src = FileSource(wav)
    src.start()
    for block in src:
        pipe.process(block)
    assert len(submitted) > 2 * pipe.options.asr_queue  # more than the queue holds wait for the model
    rec.loaded.set()
    tl = pipe.finish()
    assert [(s.start, s.end) for s in collected] == [(s.start, s.end) for s in submitted]
    assert pipe.state().asr_dropped == 0 and tl.provenance["asr_dropped"] == 0
    assert tl.utterances
