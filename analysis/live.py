"""The live pipeline: VAD, speaking-now, streaming diarization, transcription and cues per audio block.

:class:`LivePipeline` is step-wise and Qt-free: a capture thread (any driver) calls ``process(block)``
for each :class:`~audio.sources.AudioBlock`; every call updates the state and publishes an immutable
:class:`~analysis.session_state.SessionState` that any thread reads with ``state()``. Utterances are
transcribed on a worker thread, every one and in order (behind, it catches up in bigger batches); only
what still waits when ``finish()`` times out is lost, counted (``asr_dropped``) and logged (times only,
never text). ``finish()`` drains the work and returns a :class:`~analysis.timeline.Timeline` with the
same schema as ``analyze_file``.

Speakers: a streaming diarizer (``process(samples) -> [Turn]``, ``flush()``, ``reset()``, a current
speaker) plugs in through ``diarizer=``; without one every speech region is a turn of ``"S1"``.

The enrolled voice (``LiveOptions.anchor``): every ``HEARD_EVERY_S`` the state says whether it has been
heard (``SessionState.enrolled_heard``, :func:`analysis.enrollment.enrolled_voice_heard`), comparing it
with the diarizer's ``heard_voiceprints()`` (what was actually heard: never the centroids, which the
enrolled voiceprint itself seeds). Once heard, it stays heard.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from analysis.asr_worker import AsrWorker, Segment
from analysis.attribution import TurnIndex, attribute
from analysis.cue_adapter import CueAdapter
from analysis.heap import trim_heap
from analysis.latency import LatencyStats
from analysis.live_audio import AudioRing, PauseDetector
from analysis.live_diarizer import ThreadedDiarizer
from analysis.session_state import RECENT_TURNS_S, TRANSCRIPT_TAIL, WINDOW_S, Latency, SessionState
from analysis.talk import TalkTime, talk_share, talk_time
from analysis.timeline import Metrics, Speaker, Timeline, Turn, Utterance
from analysis.transcribe import LIVE_WINDOW_S, TranscriberOptions
from analysis.vad import VadOptions, VadStage
from audio import SAMPLE_RATE

log = logging.getLogger(__name__)

SINGLE_SPEAKER = "S1"  # the speaker of every turn when no diarizer is plugged in
UNKNOWN_SPEAKER = "?"  # speaking now, but the diarizer has not named the speaker yet
MAX_SEGMENT_S = 15.0  # seconds: long speech is sent to transcription in pieces of at most this
MIN_PIECE_S = 0.5  # seconds: open speech this long is cut for transcription at the next pause
MIN_TAIL_S = 0.25  # seconds: a region's remainder after its last cut shorter than this is not sent
HISTORY_S = 60.0  # seconds of per-block history kept (provisional talk time, label latency)
TRIM_EVERY_S = 30.0  # seconds of session audio between returns of freed heap memory to the system
LATENCY_EVERY_S = 1.0  # seconds between recomputations of the latency percentiles
HEARD_EVERY_S = 2.0  # seconds of session audio between checks that the enrolled voice has been heard

RecordFn = Callable[[str, Any], None]  # (type, dataclass record) → e.g. Recorder.log_record


class StreamingDiarizerLike(Protocol):
    def process(self, block: np.ndarray) -> list[Turn]: ...
    def flush(self) -> list[Turn]: ...
    def reset(self) -> None: ...


@dataclass(frozen=True)
class LiveOptions:
    """Options of the live pipeline.

    transcribe: run transcription (off: a "no transcript" consent, or no model).
    asr_queue: utterances waiting for transcription before ``submit`` waits (with backpressure only).
    diarize: plug in :mod:`analysis.streaming_diarization` when it is available.
    max_segment_s: long speech is transcribed in pieces of at most this many seconds.
    torch_threads: intra-op threads of torch (the streaming diarizer). Transcription and diarization
        run side by side; one torch thread leaves a core to the recogniser instead of making the two
        fight over both (process-wide: the live pipeline owns its process). 0 leaves torch's default.
    """

    vad: VadOptions = field(default_factory=VadOptions)
    transcriber: TranscriberOptions = field(
        default_factory=lambda: TranscriberOptions(beam_size=1, encoder_window_s=LIVE_WINDOW_S))
    transcribe: bool = True
    asr_queue: int = 8
    diarize: bool = True
    max_segment_s: float = MAX_SEGMENT_S
    cues: Any = None  # options object of analysis.cues (None: its defaults)
    anchor: Any = None  # enrolled therapist voiceprint (np.ndarray) for the streaming diarizer
    backpressure: bool = False  # replaying a file fast: wait for transcription/diarization, drop nothing
    torch_threads: int = 1
    num_speakers: int | None = None  # people in the room, when the clinician said (None: "not sure")


def make_diarizer(options: LiveOptions) -> StreamingDiarizerLike | None:
    """The streaming diarizer if it is installed in this tree, else None (single-speaker turns)."""
    if not options.diarize:
        return None
    try:
        from analysis.streaming_diarization import StreamingDiarizer
    except ImportError:
        return None
    try:
        if options.torch_threads > 0:
            import torch

            torch.set_num_threads(options.torch_threads)
        from analysis.streaming_diarization import StreamingOptions

        inner = StreamingDiarizer(anchor=options.anchor,
                                  options=StreamingOptions(num_speakers=options.num_speakers))
    except Exception as exc:  # models missing: carry on with one speaker
        log.error("streaming diarization is unavailable (%s); all speech counts as one speaker", exc)
        return None
    return ThreadedDiarizer(inner, backpressure=options.backpressure)


def _current_speaker(diarizer: Any) -> str | None:
    for name in ("current_speaker", "speaker_now", "current"):
        value = getattr(diarizer, name, None)
        if callable(value):
            value = value()
        if value is not None:
            return str(value)
    return None


class LivePipeline:
    def __init__(self, options: LiveOptions | None = None, diarizer: StreamingDiarizerLike | None = None,
                 on_record: RecordFn | None = None, transcriber: Any = None) -> None:
        self.options = options or LiveOptions()
        self.diarizer = diarizer if diarizer is not None else make_diarizer(self.options)
        self.on_record = on_record
        self._lock = threading.Lock()
        self._state = SessionState(status="listening")
        self.vad = VadStage(self.options.vad)
        self.pauses = PauseDetector()
        self.ring = AudioRing(max(HISTORY_S, 2 * self.options.max_segment_s + 5))
        self.cues = CueAdapter(self.options.cues, self.ring.read)
        self.lat_state = LatencyStats()
        self.lat_transcript = LatencyStats()
        self.lat_label = LatencyStats()
        self._latency = Latency()
        self._latency_at = 0.0
        self.asr: AsrWorker | None = None
        if self.options.transcribe:
            self.asr = AsrWorker(self.options.transcriber, self.options.asr_queue, transcriber=transcriber,
                                 backpressure=self.options.backpressure)
            self.asr.start()
        self.turns: list[Turn] = []  # closed turns, in order of closing
        self.utterances: list[Utterance] = []
        self._speakers: dict[str, Speaker] = {}
        self._talk = TalkTime()  # closed turns' talk time per speaker (analysis.talk: the one rule)
        self._closed_upto = 0.0  # closed turns account for speech up to here
        self._recent: deque[Turn] = deque()  # closed turns ending within WINDOW_S
        self._history: deque[tuple[float, float, float, str | None]] = deque()  # (t0, t1, wall, speaker)
        self._walls: deque[tuple[float, float]] = deque()  # (t1, wall) per block: capture clock
        self._open_start: float | None = None  # estimated start of the open VAD region
        self._cut = 0.0  # audio before this was already sent to transcription
        self._last_speech = 0.0
        self.t = 0.0
        self.level_dbfs = -100.0
        self.overflows = 0
        self.lost_s = 0.0
        self.status = "listening"
        self.error: str | None = None  # a pipeline problem (e.g. diarization switched off)
        self._source_error: str | None = None  # the device message while capture is interrupted
        self._enrolled_heard: bool | None = None
        self._heard_checked_at = 0.0  # session time of the last check
        self.finished = False

    # -- helpers ------------------------------------------------------------------------------------
    def _emit(self, kind: str, record: Any) -> None:
        if self.on_record is not None:
            try:
                self.on_record(kind, record)
            except Exception:  # the log must never stop the analysis
                log.exception("could not log a %s record", kind)

    def capture_wall(self, t: float) -> float:
        """The monotonic wall time at which the sample at session time ``t`` was captured."""
        if not self._walls:
            return time.monotonic()
        best = self._walls[-1]
        for t1, wall in reversed(self._walls):  # the earliest block ending at or after t
            if t1 < t - 1e-9:
                break
            best = (t1, wall)
        return best[1] + (t - best[0])

    def _speaker(self, sid: str, known_only: bool = True) -> None:
        if sid not in self._speakers and (sid != UNKNOWN_SPEAKER or not known_only):
            label = "Unattributed" if sid == UNKNOWN_SPEAKER else f"Speaker {sid.lstrip('S') or sid}"
            spk = Speaker(sid, label, None)
            self._speakers[sid] = spk
            self._emit("speaker", spk)

    def _close_turn(self, turn: Turn, wall: float) -> None:
        if turn.end <= turn.start:
            return
        self._speaker(turn.speaker, known_only=False)
        self.turns.append(turn)
        self._recent.append(turn)
        self._talk.add_turn(turn)
        self._closed_upto = max(self._closed_upto, turn.end)
        self._last_speech = max(self._last_speech, turn.end)
        shown = next((w for t0, t1, w, s in self._history if t1 > turn.start and s == turn.speaker), wall)
        self.lat_label.add(shown - self.capture_wall(turn.start))
        self._emit("turn", turn)
        self.cues.add_turn(turn)

    def _turns_for(self, samples: np.ndarray | None, regions: list) -> list[Turn]:
        """Closed turns: from the diarizer (``samples`` None: flush it), else the VAD regions."""
        if self.diarizer is None:
            return [Turn(SINGLE_SPEAKER, r.start, r.end) for r in regions]
        turns = self.diarizer.process(samples) if samples is not None else self.diarizer.flush()
        off = getattr(self.diarizer, "disabled_at", None)
        if off is not None:  # switched off (too slow): the speech after that is unattributed
            turns += [Turn(UNKNOWN_SPEAKER, max(r.start, off), r.end) for r in regions if r.end > off]
            self.error = self.error or getattr(self.diarizer, "error", None)
        return turns

    def _submit(self, start: float, end: float, final: bool) -> None:
        if self.asr is None or end - start < 0.1:
            return
        audio = self.ring.read(start, end)
        if audio.size == 0:
            return
        self.asr.submit(Segment(start, end, audio, self.capture_wall(end), final))

    def _attribute(self, u: Utterance) -> list[Utterance]:
        """A freshly transcribed utterance, labelled (and split where the speaker changes) by the one
        word rule (:func:`analysis.attribution.attribute`) over the closed turns near it. While no closed
        turn is near it yet (the diarizer closes a turn a little after its end), it goes whole, for now,
        to the speaker shown speaking during most of it; :meth:`finish` attributes every utterance again
        with all the turns, so the timeline and its figures follow the one rule."""
        turns = list(self._recent)[-50:] if self._recent else self.turns[-50:]
        if TurnIndex(turns).near(u.start, u.end):
            return attribute([u], turns)
        spk = [s for t0, t1, _w, s in self._history if s and s != UNKNOWN_SPEAKER and u.start <= t1 and t0 <= u.end]
        best = max(set(spk), key=spk.count) if spk else None
        return [Utterance(best or (SINGLE_SPEAKER if self.diarizer is None else UNKNOWN_SPEAKER),
                          u.start, u.end, u.text, u.words)]

    def _collect_transcripts(self) -> None:
        if self.asr is None:
            return
        now = time.monotonic()
        for _seg, utts in self.asr.results():
            for heard in utts:
                self.lat_transcript.add(now - self.capture_wall(heard.end))
                for u in self._attribute(heard):
                    self.utterances.append(u)
                    self._emit("utterance", u)
                    self.cues.add_utterance(u)

    # -- the per-block step ---------------------------------------------------------------------------
    def process(self, block: Any, measure: bool = True) -> None:
        """Consume one :class:`~audio.sources.AudioBlock` (``t0``, ``samples``, ``wall``) and publish.

        ``measure=False``: a block captured before the pipeline existed (buffered while the models
        loaded); its late analysis is not counted in the per-block latency figure.
        """
        if self.finished:
            raise RuntimeError("the pipeline is finished")
        samples = np.asarray(block.samples, dtype=np.float32)
        wall_in = getattr(block, "wall", 0.0) or time.monotonic()
        t1 = block.t0 + len(samples) / SAMPLE_RATE
        self.ring.write(samples)
        self._walls.append((t1, wall_in))
        if t1 // TRIM_EVERY_S > self.t // TRIM_EVERY_S:
            trim_heap()
        self.t = t1
        was_speaking = self._open_start is not None
        pause = self.pauses.process(block.t0, samples)
        regions = self.vad.process(samples)
        turns = self._turns_for(samples, regions)
        for r in regions:
            start = max(r.start, self._cut) if was_speaking else r.start
            if start == r.start or r.end - start >= MIN_TAIL_S:  # skip the silent tail after a cut
                self._submit(start, r.end, final=True)
            self._cut = r.end
            self._last_speech = max(self._last_speech, r.end)
        speaking = self.vad.speaking
        if speaking and (not was_speaking or regions):
            onset = self.options.vad.onset_ms / 1000
            self._open_start = max(self._last_speech, self.vad.time - onset)
            self._cut = self._open_start
        elif not speaking:
            self._open_start = None
        if speaking and not regions and was_speaking:
            # open speech: transcribe what is there up to a short pause, or at the hard limit
            if pause is not None and pause - self._cut >= MIN_PIECE_S:
                self._submit(self._cut, pause, final=False)
                self._cut = pause
            elif self.vad.time - self._cut >= self.options.max_segment_s:
                self._submit(self._cut, self.vad.time, final=False)
                self._cut = self.vad.time
        for turn in turns:
            self._close_turn(turn, wall_in)
        self._collect_transcripts()
        current = None
        if speaking:
            current = (_current_speaker(self.diarizer) if self.diarizer is not None else SINGLE_SPEAKER) \
                or UNKNOWN_SPEAKER
            self._speaker(current)
        for ev in self.cues.refresh(t1):
            self._emit("event", ev)
        self._publish(block.t0, t1, current, wall_in, measure=measure)

    def set_backpressure(self, on: bool) -> None:
        """Make the transcription queue and the diarizer wait instead of dropping (catching up on audio
        buffered while the models loaded); off again restores the options' setting."""
        on = bool(on or self.options.backpressure)
        if self.asr is not None:
            self.asr.backpressure = on
        if isinstance(self.diarizer, ThreadedDiarizer):
            self.diarizer.backpressure = on

    def note_source(self, source: Any) -> None:
        """Copy level, overflow and device status from an :class:`~audio.sources.AudioSource`."""
        self.level_dbfs = source.level_dbfs
        self.overflows = source.overflows
        self.lost_s = source.lost_s
        lost = source.status == "device lost"
        self._source_error = source.error if lost else None
        if lost or self.status == "device lost":
            self.status = "device lost" if lost else "listening"

    # -- the snapshot ---------------------------------------------------------------------------------
    def _check_enrolled_voice(self, t: float, force: bool = False) -> None:
        """Has the enrolled voice been heard (after enough speech)? Checked every ``HEARD_EVERY_S``."""
        anchor = self.options.anchor
        due = force or t - self._heard_checked_at >= HEARD_EVERY_S
        if anchor is None or self._enrolled_heard or not due:
            return
        self._heard_checked_at = t
        heard = getattr(self.diarizer, "heard_voiceprints", None)
        if not callable(heard):
            return
        from analysis.enrollment import enrolled_voice_heard

        try:
            self._enrolled_heard = enrolled_voice_heard(heard(), anchor,
                                                          speech_s=sum(self._talk.seconds().values()))
        except Exception:  # the check must never stop the analysis
            log.exception("could not compare the enrolled voice with the voices heard")

    def _provisional(self, now: float) -> dict[str, float]:
        """Speech since the last closed turn, attributed per block to the speaker shown then."""
        prov: dict[str, float] = {}
        for t0, t1, _w, s in self._history:
            if s and s != UNKNOWN_SPEAKER and t1 > self._closed_upto:
                prov[s] = prov.get(s, 0.0) + t1 - max(t0, self._closed_upto)
        return prov

    def _publish(self, t0: float, t1: float, current: str | None, wall_in: float, measure: bool = True
                 ) -> None:
        if measure or t1 > t0:
            self._history.append((t0, t1, time.monotonic(), current))
        while self._history and self._history[0][1] < t1 - HISTORY_S:
            self._history.popleft()
        while len(self._walls) > 2 and self._walls[0][0] < t1 - HISTORY_S:
            self._walls.popleft()
        while self._recent and self._recent[0].end < t1 - max(WINDOW_S, RECENT_TURNS_S):
            self._recent.popleft()
        prov = self._provisional(t1)
        # the provisional speech lies after every closed turn, so it adds to the closed turns' union
        talk = self._talk.seconds()
        win = talk_time(self._recent, t1 - WINDOW_S, t1)
        for s, v in prov.items():
            talk[s] = talk.get(s, 0.0) + v
            win[s] = win.get(s, 0.0) + v
        recent = [t for t in self._recent if t.end >= t1 - RECENT_TURNS_S]
        if current and current != UNKNOWN_SPEAKER and self._open_start is not None:
            recent.append(Turn(current, max(self._open_start, self._closed_upto), t1))
        if current:
            self._last_speech = t1
        now = time.monotonic()
        if now - self._latency_at >= LATENCY_EVERY_S:
            self._latency_at = now
            self._latency = Latency(*self.lat_state.p90_max(), *self.lat_transcript.p90_max(),
                                    *self.lat_label.p90_max(), self.asr.backlog if self.asr else 0)
        self._check_enrolled_voice(t1, force=self.status == "finished")
        cue = self.cues.fields()
        state = SessionState(
            t=t1, status=self.status, speaking_now=(current,) if current else (),
            speakers=tuple(self._speakers[k] for k in sorted(self._speakers)),
            talk_time=talk, talk_share=talk_share(talk), talk_share_window=talk_share(win),
            silence_s=0.0 if current else max(0.0, t1 - self._last_speech),
            recent_turns=tuple(recent), transcript_tail=tuple(self.utterances[-TRANSCRIPT_TAIL:]),
            level_dbfs=self.level_dbfs, overflows=self.overflows, lost_s=self.lost_s,
            asr_dropped=self.asr.dropped if self.asr else 0, latency=self._latency, error=self._source_error or self.error,
            transcribing=self.asr is not None, enrolled_heard=self._enrolled_heard, **cue)
        with self._lock:
            self._state = state
        if measure:
            self.lat_state.add(time.monotonic() - wall_in)

    def state(self) -> SessionState:
        """The latest snapshot (immutable; safe from any thread)."""
        with self._lock:
            return self._state

    def latency_summary(self) -> dict[str, Any]:
        """Latency figures (seconds) and the workers' loads, for the exit report and the benchmark."""
        out: dict[str, Any] = {"state": self.lat_state.summary(), "transcript": self.lat_transcript.summary(),
                               "label": self.lat_label.summary(), "asr_dropped": self.asr.dropped if self.asr else 0}
        if self.asr is not None:
            out["asr"] = {"calls": self.asr.calls, "busy_s": round(self.asr.busy_s, 2),
                          "audio_s": round(self.asr.audio_s, 2)}
        if isinstance(self.diarizer, ThreadedDiarizer):
            out["diarizer"] = {"busy_s": round(self.diarizer.busy_s, 2),
                               "max_backlog_s": round(self.diarizer.max_backlog_s, 2)}
        out["cues"] = self.cues.snapshot_s.summary()
        return out

    # -- the end --------------------------------------------------------------------------------------
    def finish(self, timeout: float = 120.0, source: dict | None = None, audio: Any = None) -> Timeline:
        """Close open speech, drain transcription (up to ``timeout`` s) and return the timeline.

        ``audio`` (``read(start_s, end_s) -> samples`` over the whole recording) lets the final cues
        measure tone; without it (no audio kept) the tone measured live, while each turn was in the
        ring, is used.
        """
        if self.finished:
            raise RuntimeError("finish() was already called")
        self.status = "finishing"
        wall = time.monotonic()
        was_speaking = self._open_start is not None
        regions = self.vad.flush()
        turns = self._turns_for(None, regions)
        for r in regions:
            self._submit(max(r.start, self._cut if was_speaking else r.start), r.end, final=True)
        for turn in turns:
            self._close_turn(turn, wall)
        if self.asr is not None:
            self.asr.drain(timeout)
            self._collect_transcripts()
            self.asr.stop()
        self.finished = True
        turns_sorted = tuple(sorted(self.turns, key=lambda t: (t.start, t.speaker)))
        self.turns = list(turns_sorted)
        self._recent = deque(turns_sorted)
        # every word attributed again, with all the turns, by the rule the cue engine counts words with
        utts = tuple(sorted(attribute(sorted(self.utterances, key=lambda u: u.start), turns_sorted),
                            key=lambda u: u.start))
        duration = self.t
        metrics, events = self.cues.final(turns_sorted, utts, duration, audio)
        if metrics is None:
            talk = talk_time(turns_sorted, speakers=self._speakers)
            share = talk_share(talk)
            speech = sum(talk_time(Turn("", t.start, t.end) for t in turns_sorted).values())
            metrics = Metrics(session={"speech_time": round(speech, 3)},
                              speakers={s: {"talk_time": round(v, 3), "talk_share": round(share[s], 4)}
                                        for s, v in talk.items()})
        from analysis import __version__

        prov: dict[str, Any] = {"app": "attune", "version": __version__, "mode": "live",
                                "vad": {"engine": "webrtcvad", **vars(self.options.vad)},
                                "diarization": type(self.diarizer).__name__ if self.diarizer else None,
                                "asr_dropped": self.asr.dropped if self.asr else 0}
        if self.asr is not None:
            from analysis.transcribe import model_description

            try:
                prov["transcription"] = {"engine": "faster-whisper",
                                         **model_description(self.options.transcriber)}
            except Exception:
                prov["transcription"] = {"engine": "faster-whisper"}
        self.status = "finished"
        self._latency_at = 0.0
        self._publish(self.t, self.t, None, time.monotonic(), measure=False)
        return Timeline(duration=duration, speakers=tuple(self._speakers[k] for k in sorted(self._speakers)),
                        turns=turns_sorted, utterances=utts, events=tuple(events), metrics=metrics,
                        source=dict(source or {"live": True, "sample_rate": SAMPLE_RATE, "channels": 1}),
                        provenance=prov)

    def close(self) -> None:
        """Stop the workers without finishing (on an error path)."""
        self.cues.stop()
        if self.asr is not None:
            self.asr.stop()
        if hasattr(self.diarizer, "stop"):
            self.diarizer.stop()
