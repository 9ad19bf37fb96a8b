"""Bounded shutdown of the live diarizer's thread (:class:`analysis.live_diarizer.ThreadedDiarizer`).

A fake diarizer blocks inside ``process`` on a :class:`threading.Event`, so each test decides exactly
when the worker is mid-block and when that block ends; no sleeps decide the order of events.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

from analysis import live_diarizer
from analysis.live_diarizer import FEED_MAX_S, SAMPLE_RATE, ThreadedDiarizer
from analysis.timeline import Turn

WAIT_S = 10.0  # s: generous bound on an event that must happen (a failure, not a pause, if it does not)
QUEUED_S = 10.0  # s of audio queued in one block, five times FEED_MAX_S


class SlowDiarizer:
    """``process`` says it has started (``entered``), then waits for ``release``; records each call."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[int] = []
        self.flushed = 0
        self.speaker_now = None

    def process(self, block: np.ndarray) -> list[Turn]:
        self.calls.append(len(block))
        self.entered.set()
        if not self.release.wait(WAIT_S):
            raise RuntimeError("the test never released the slow diarizer")
        return [Turn("S1", 0.0, len(block) / SAMPLE_RATE)]

    def flush(self) -> list[Turn]:
        self.flushed += 1
        return []

    def reset(self) -> None:
        pass


def _in_thread(fn, *args, **kwargs) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run() -> None:
        t = time.monotonic()
        out["value"] = fn(*args, **kwargs)
        out["elapsed"] = time.monotonic() - t

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, out


def _mid_block() -> tuple[SlowDiarizer, ThreadedDiarizer]:
    slow = SlowDiarizer()
    d = ThreadedDiarizer(slow)
    d.process(np.zeros(int(QUEUED_S * SAMPLE_RATE), np.float32))
    assert slow.entered.wait(WAIT_S), "the worker never started diarizing"
    return slow, d


def test_stop_waits_for_the_block_in_progress_then_the_thread_is_gone(caplog):
    slow, d = _mid_block()
    with caplog.at_level(logging.WARNING):
        stopper, out = _in_thread(d.stop, timeout=WAIT_S)
        assert d.stopping.wait(WAIT_S)  # stop() has been asked: now let the block in progress finish
        slow.release.set()
        stopper.join(WAIT_S)
    assert not stopper.is_alive() and out["value"] is True
    assert not d._thread.is_alive()  # joined: nothing left running
    # only the block in progress was diarized (at most FEED_MAX_S); the rest of the queue was abandoned
    assert slow.calls == [int(FEED_MAX_S * SAMPLE_RATE)]
    # ... and reported, not silently lost
    assert d.disabled_at == pytest.approx(FEED_MAX_S)
    assert d.undiarized_s == pytest.approx(QUEUED_S - FEED_MAX_S)
    assert d.error and "not separated" in d.error and "not separated" in caplog.text


def test_stop_returns_within_its_timeout_while_the_diarizer_is_stuck(caplog):
    slow, d = _mid_block()
    timeout = 0.2
    with caplog.at_level(logging.WARNING):
        stopper, out = _in_thread(d.stop, timeout=timeout)
        stopper.join(WAIT_S)
        assert not stopper.is_alive(), "stop() did not return while the diarizer was mid-block"
        assert out["value"] is False and out["elapsed"] < timeout + 2.0
        assert d.disabled_at == 0.0 and d.undiarized_s == pytest.approx(QUEUED_S)
        assert "still busy" in caplog.text
        slow.release.set()  # the stuck call ends: the thread ends without taking more audio
        d._thread.join(WAIT_S)
    assert not d._thread.is_alive()
    assert len(slow.calls) == 1


def test_flush_gives_up_at_its_deadline_and_leaves_the_busy_diarizer_alone(monkeypatch):
    monkeypatch.setattr(live_diarizer, "STOP_JOIN_S", 0.2)
    slow, d = _mid_block()
    flusher, out = _in_thread(d.flush, timeout=0.2)
    flusher.join(WAIT_S)
    try:
        assert not flusher.is_alive(), "flush() did not return while the diarizer was mid-block"
        assert out["elapsed"] < 0.2 + 0.2 + 2.0
        assert out["value"] == [] and slow.flushed == 0  # never called from a second thread
        assert d.disabled_at == 0.0 and d.error and "not separated" in d.error
    finally:
        slow.release.set()
        d._thread.join(WAIT_S)
    assert not d._thread.is_alive()


def test_flush_after_the_queue_is_diarized_closes_every_turn_and_reports_nothing():
    slow = SlowDiarizer()
    slow.release.set()  # no waiting: every block is diarized at once
    d = ThreadedDiarizer(slow)
    d.process(np.zeros(int(QUEUED_S * SAMPLE_RATE), np.float32))
    turns = d.flush(timeout=WAIT_S)
    assert sum(slow.calls) == int(QUEUED_S * SAMPLE_RATE) and max(slow.calls) <= FEED_MAX_S * SAMPLE_RATE
    assert len(turns) == len(slow.calls) and slow.flushed == 1
    assert not d._thread.is_alive()
    assert d.disabled_at is None and d.error is None and d.undiarized_s == 0.0
