"""The cue engine on its own thread for the live pipeline (:class:`CueAdapter`)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from analysis.latency import LatencyStats
from analysis.timeline import Event, Metrics, Turn, Utterance

log = logging.getLogger(__name__)

CUE_EVERY_S = 0.5  # seconds (wall) between recomputations of the cue snapshot when turns change
# A snapshot covers the whole session, so it grows with it (measured 35 ms at 1 min, 206 ms at 2 h);
# the wait between snapshots grows with it so that they take at most this share of one core.
CUE_MAX_CPU_SHARE = 0.2
# The SessionState fields copied from the cue engine's per-speaker figures, under the same names
CUE_FIELDS = ("interruptions_made", "interruptions_received", "backchannels", "quick_responses",
              "wpm_rel",  # pace: recent words per minute / own median per turn (1.0 = usual)
              "pitch_median_rel_st",  # pitch level: recent median pitch - own baseline, semitones
              "pitch_variability_rel_st",  # how much the pitch moves: recent - own baseline, semitones
              "loudness_rel_db")  # recent speech level - own baseline, dB
# The live recogniser drops the "?" of about one question in three (docs/live.md: 25 of 36 kept), so the
# live transcript's punctuation is not trusted to mark questions: their wording counts too.
LIVE_PUNCTUATED = False


def _event_key(e: Event) -> tuple:
    return (e.kind, round(e.start, 2), e.by, e.of)


class CueAdapter:
    """Runs :class:`analysis.cues.CueEngine` on its own thread (tone and snapshots take tens of ms).

    The capture thread calls ``add_turn``/``add_utterance`` (queued), ``refresh(now)`` (returns the cue
    events found since the last call) and ``fields()`` (the cue fields of
    :class:`~analysis.session_state.SessionState` from the latest snapshot). The snapshot is recomputed
    when something changed, at most every ``CUE_EVERY_S``. ``final()`` runs the batch computation.
    ``sync()`` waits until everything queued so far is in a snapshot. Options whose ``punctuated`` is
    None (judged from the text) get ``LIVE_PUNCTUATED``.
    """

    def __init__(self, options: Any = None, audio: Any = None) -> None:
        self.options = options
        self.engine = None
        self._queued = 0  # turns/utterances queued (capture thread)
        self._done = 0  # ... of which the latest snapshot includes (cue thread)
        self._synced = threading.Condition()
        self._fields: dict[str, Any] = {}
        self._seen: set[tuple] = set()
        self._inbox: deque[tuple[str, Any]] = deque()
        self._new: deque[Event] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._now = 0.0
        self.snapshot_s = LatencyStats(2000)  # seconds per recomputation
        self._thread: threading.Thread | None = None
        try:
            from analysis import cues
        except ImportError:
            self.module = None
            return
        self.module = cues
        try:
            options = options if options is not None else cues.CueOptions()
            if options.punctuated is None:
                options = replace(options, punctuated=LIVE_PUNCTUATED)
            self.options = options
            self.engine = cues.CueEngine(options, audio)
        except Exception as exc:
            log.error("the cue engine could not start: %s", exc)
            return
        self._thread = threading.Thread(target=self._run, name="attune-cues", daemon=True)
        self._thread.start()

    def add_turn(self, turn: Turn) -> None:
        if self.engine is not None:
            self._queued += 1
            self._inbox.append(("turn", turn))
            self._wake.set()

    def add_utterance(self, utt: Utterance) -> None:
        if self.engine is not None:
            self._queued += 1
            self._inbox.append(("utterance", utt))
            self._wake.set()

    def sync(self, timeout: float = 30.0) -> bool:
        """Wait until every turn and utterance queued so far is in a published snapshot (``fields()``);
        False if that took longer than ``timeout`` s or the cue thread is not running."""
        target = self._queued
        with self._synced:
            return self._synced.wait_for(
                lambda: self._done >= target or self._thread is None or not self._thread.is_alive(),
                timeout) and self._done >= target

    def refresh(self, now: float) -> list[Event]:
        self._now = now
        out = []
        while self._new:
            out.append(self._new.popleft())
        return out

    def fields(self) -> dict[str, Any]:
        return self._fields

    def _run(self) -> None:
        from analysis.session_state import frozen_map

        last = 0.0  # seconds the previous snapshot took
        taken = 0  # records added to the engine since the last published snapshot
        while not self._stop:
            self._wake.wait()
            if self._stop:
                return
            # let a burst of turns/utterances arrive together; keep long sessions' snapshots in budget
            time.sleep(max(CUE_EVERY_S, last * (1 / CUE_MAX_CPU_SHARE - 1)))
            self._wake.clear()
            while self._inbox:
                kind, rec = self._inbox.popleft()
                (self.engine.add_turn if kind == "turn" else self.engine.add_utterance)(rec)
                taken += 1
            self.engine.advance(self._now)
            t = time.perf_counter()
            try:
                snap, events = self.engine.snapshot()
            except Exception:
                log.exception("cue engine snapshot failed")
                continue
            last = time.perf_counter() - t
            self.snapshot_s.add(last)
            per_sp = snap.get("speakers", {})
            self._fields = {name: frozen_map({sp: m.get(name) for sp, m in per_sp.items()})
                            for name in CUE_FIELDS}
            for e in events:
                if e.kind != "silence" and _event_key(e) not in self._seen:
                    self._seen.add(_event_key(e))
                    self._new.append(e)
            with self._synced:
                self._done, taken = self._done + taken, 0
                self._synced.notify_all()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._synced:
            self._synced.notify_all()

    def final(self, turns: Sequence[Turn], utterances: Sequence[Utterance], duration: float,
              audio: Any = None) -> tuple[Metrics | None, list[Event]]:
        """The batch computation over the whole session (``audio``: ``read(start, end)`` over the whole
        recording, for tone). Without it (no audio kept) tone comes from what the live engine measured
        while each turn was still in the live ring, and from the ring for what it still holds, so the
        session's tone figures are there all the same."""
        self.stop()
        if self.module is None:
            return None, []
        try:
            live = self.engine
            if audio is None and live is not None and live.audio is not None:
                engine = self.module.CueEngine(self.options, live.audio)
                cache = getattr(engine, "_tone_cache", None)  # per turn, measured live (cues.CueEngine)
                if isinstance(cache, dict):
                    cache.update(getattr(live, "_tone_cache", None) or {})
                for t in turns:
                    engine.add_turn(t)
                for u in utterances:
                    engine.add_utterance(u)
                metrics, events = engine.metrics(duration)
            else:
                metrics, events = self.module.compute_cues(list(turns), list(utterances), duration,
                                                           self.options, audio)
        except Exception:
            log.exception("batch cue computation failed")
            return None, []
        from analysis.session_state import frozen_map

        self._fields = {name: frozen_map({sp: m.get(name) for sp, m in metrics.speakers.items()})
                        for name in CUE_FIELDS}
        return metrics, list(events)

