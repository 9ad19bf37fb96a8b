"""A headless live session: a capture thread feeding the recorder and the live pipeline.

``LiveSession(source, out_dir).run()`` records and analyses until the source ends, ``stop()`` is
called or ``duration`` seconds of audio have been captured; it then drains pending work, writes
``timeline.json`` beside the recording and returns the :class:`~analysis.timeline.Timeline`.
``reanalyze()`` runs the full offline analysis (``analysis.pipeline.analyze_file``) on the recording
for review quality, with the number of people in the room that session.json records (``people_in_room``,
from ``LiveOptions.num_speakers``) as the speaker count. No Qt here: a GUI reads ``state()`` from its
own timer.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from analysis.live import LiveOptions, LivePipeline
from analysis.session_state import SessionState
from analysis.timeline import Timeline
from audio.recorder import (
    AUDIO_NAME,
    TIMELINE_NAME,
    WAV_HEADER_BYTES,
    Recorder,
    people_in_room,
    read_session,
    stored_people_count,
)
from audio.sources import AudioSource, DeviceError

log = logging.getLogger(__name__)

OFFLINE_TIMELINE_NAME = "timeline.offline.json"


def recording_reader(path: Path) -> Callable[[float, float], np.ndarray]:
    """``read(start_s, end_s)`` over a recording that may still be open (16-bit PCM after 44 bytes)."""

    def read(start: float, end: float) -> np.ndarray:
        a = max(0, int(round(start * 16_000)))
        b = max(a, int(round(end * 16_000)))
        with open(path, "rb") as f:
            f.seek(WAV_HEADER_BYTES + 2 * a)
            data = f.read(2 * (b - a))
        data = data[:len(data) - len(data) % 2]
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767.0

    return read


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident memory of this process, in MB."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


@dataclass
class SessionStats:
    wall_s: float = 0.0  # wall time of the session
    audio_s: float = 0.0  # seconds of audio captured
    cpu_s: float = 0.0  # process CPU seconds (all threads) during the session
    peak_rss_mb: float = 0.0
    rss_mb: float = 0.0
    latency: dict[str, Any] = field(default_factory=dict)
    overflows: int = 0
    lost_s: float = 0.0
    asr_dropped: int = 0
    error: str | None = None

    @property
    def cpu_cores(self) -> float:
        """Average CPU use in cores (1.0 = one core fully busy)."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def lines(self) -> list[str]:
        def ms(d: dict, key: str) -> str:
            v = (d or {}).get(key)
            return "-" if v is None else f"{1000 * v:.0f} ms"

        lat = self.latency
        return [
            f"audio {self.audio_s:.1f} s in {self.wall_s:.1f} s; CPU {self.cpu_cores:.2f} cores on average; "
            f"memory {self.rss_mb:.0f} MB (peak {self.peak_rss_mb:.0f} MB)",
            f"latency p90/max: speaking-now & talk share {ms(lat.get('state'), 'p90')}/"
            f"{ms(lat.get('state'), 'max')}; transcript {ms(lat.get('transcript'), 'p90')}/"
            f"{ms(lat.get('transcript'), 'max')}; speaker label {ms(lat.get('label'), 'p90')}/"
            f"{ms(lat.get('label'), 'max')}",
            f"input overflows {self.overflows} ({self.lost_s:.1f} s replaced by silence); "
            f"utterances not transcribed (backlog) {self.asr_dropped}",
        ]


class LiveSession:
    """Capture → recorder + live pipeline on one thread; ``state()`` from any thread."""

    def __init__(self, source: AudioSource, out_dir: str | Path, options: LiveOptions | None = None,
                 keep_audio: bool = True, keep_transcript: bool = True, duration: float | None = None,
                 diarizer: Any = None, on_block: Callable[[SessionState], None] | None = None) -> None:
        self.source = source
        self.dir = Path(out_dir)
        self.duration = duration
        self.on_block = on_block
        options = options or LiveOptions()
        if not keep_transcript:  # consent: no words are kept anywhere, so none are produced
            options = replace(options, transcribe=False)
        self.recorder = Recorder(self.dir, keep_audio=keep_audio, keep_transcript=keep_transcript,
                                 meta={"mode": "live", "source": source.describe(),
                                       "people_in_room": people_in_room(options.num_speakers)})
        self.pipeline = LivePipeline(options, diarizer=diarizer, on_record=self.recorder.log_record)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        self.timeline: Timeline | None = None
        self.stats = SessionStats()
        self._t0 = 0.0
        self._cpu0 = 0.0
        self._gaps_logged = 0

    # -- running ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the source and start capturing. Raises :class:`DeviceError` if it cannot open."""
        self._t0 = time.monotonic()
        self._cpu0 = time.process_time()
        try:
            self.source.start()
        except DeviceError as exc:
            self.error = str(exc)
            self.recorder.log("error", message=self.error)
            self.pipeline.close()
            self.recorder.close(status="failed", error=self.error)
            raise
        self.recorder.update(source=self.source.describe())
        self._thread = threading.Thread(target=self._capture, name="attune-capture", daemon=True)
        self._thread.start()

    def _capture(self) -> None:
        src, pipe, rec = self.source, self.pipeline, self.recorder
        try:
            while not self._stop.is_set():
                block = src.read()
                if block is None:
                    break
                rec.write(block.samples)
                if len(src.gaps) > self._gaps_logged or (src.gaps and block.gap):
                    self._log_gaps()
                pipe.note_source(src)
                pipe.process(block)
                if self.on_block is not None:
                    self.on_block(pipe.state())
                if self.duration is not None and block.t1 >= self.duration - 1e-9:
                    break
        except DeviceError as exc:  # the device is gone and no reconnection was asked for
            self.error = str(exc)
            log.error("%s", self.error)
            rec.log("error", message=self.error)
        except Exception as exc:  # keep the recording so far; report one line
            self.error = f"live analysis stopped: {type(exc).__name__}: {exc}"
            log.exception("capture thread failed")
            rec.log("error", message=self.error)
        finally:
            self._stop.set()

    def _log_gaps(self) -> None:
        gaps = self.source.gaps
        for start, end in gaps[self._gaps_logged:]:
            self.recorder.log("gap", start=start, end=end)
        self._gaps_logged = len(gaps)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def state(self) -> SessionState:
        return self.pipeline.state()

    def stop(self) -> None:
        """Ask the capture to stop (returns at once; ``finish()`` waits)."""
        self._stop.set()
        self.source.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the capture thread to end; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def finish(self, timeout: float = 120.0) -> Timeline:
        """Stop, drain pending transcription, write ``timeline.json`` and close the session folder."""
        if self.timeline is not None:
            return self.timeline
        self.stop()
        self.wait()
        src_meta = {**self.source.describe(), "live": True, "sample_rate": 16_000, "channels": 1}
        if self.recorder.keep_audio:
            src_meta["file"] = AUDIO_NAME
        reader = recording_reader(self.dir / AUDIO_NAME) if self.recorder.keep_audio else None
        self.timeline = self.pipeline.finish(timeout=timeout, source=src_meta, audio=reader)
        self.timeline.save(self.dir / TIMELINE_NAME)
        os.chmod(self.dir / TIMELINE_NAME, 0o600)
        self._collect_stats()
        self.recorder.close(status="finished", error=self.error,
                            speakers=[s.id for s in self.timeline.speakers],
                            stats={"cpu_cores": round(self.stats.cpu_cores, 3), "latency": self.stats.latency,
                                   "asr_dropped": self.stats.asr_dropped, "overflows": self.stats.overflows})
        return self.timeline

    def _collect_stats(self) -> None:
        s = self.stats
        s.wall_s = time.monotonic() - self._t0
        s.cpu_s = time.process_time() - self._cpu0
        s.audio_s = self.pipeline.t
        s.peak_rss_mb = peak_rss_mb()
        s.rss_mb = rss_mb()
        s.latency = self.pipeline.latency_summary()
        s.overflows = self.source.overflows
        s.lost_s = self.source.lost_s
        s.asr_dropped = s.latency.get("asr_dropped", 0)
        s.error = self.error

    def run(self, on_tick: Callable[[SessionState], None] | None = None, tick_s: float = 0.25) -> Timeline:
        """Start (unless started), wait until the source ends (or ``stop()``/Ctrl-C), finish.

        ``on_tick`` gets the state every ``tick_s`` seconds.
        """
        if self._thread is None:
            self.start()
        try:
            while not self.wait(tick_s):
                if on_tick is not None:
                    on_tick(self.state())
        except KeyboardInterrupt:
            log.info("stopping on request")
        return self.finish()

    # -- review quality -------------------------------------------------------------------------------
    def reanalyze(self, options: Any = None, progress: Any = None):
        """Full offline analysis of the recording; writes ``timeline.offline.json``. Needs kept audio."""
        if not self.recorder.keep_audio:
            raise RuntimeError("no audio was kept for this session (consent), so it cannot be re-analysed")
        if self.timeline is None:
            self.finish()
        return reanalyze(self.dir, options, progress)


def stored_session_options(session_dir: str | Path, options: Any = None):
    """Analysis options for re-analysing a stored session: ``options`` (default ``AnalysisOptions()``)
    with the number of people in the room from its session.json as ``DiarizationOptions.num_speakers``.
    Speaker hints already in ``options`` win; "not sure" or no record leaves the count automatic."""
    from analysis.pipeline import AnalysisOptions

    options = options or AnalysisOptions()
    hints = options.diarization
    if hints.num_speakers is not None or hints.min_speakers is not None or hints.max_speakers is not None:
        return options
    try:
        count = stored_people_count(read_session(session_dir))
    except (OSError, ValueError):  # no or unreadable session.json: automatic
        count = None
    if count is None:
        return options
    return replace(options, diarization=replace(hints, num_speakers=count))


def reanalyze(session_dir: str | Path, options: Any = None, progress: Any = None):
    """``analyze_file`` on a session folder's recording (speaker count from its session.json, see
    :func:`stored_session_options`); saves ``timeline.offline.json``."""
    from analysis.pipeline import analyze_file

    audio = Path(session_dir) / AUDIO_NAME
    if not audio.exists():
        raise FileNotFoundError(f"{session_dir}: the session has no recording to re-analyse")
    options = stored_session_options(session_dir, options)
    kwargs = {"progress": progress} if progress is not None else {}
    result = analyze_file(audio, options, **kwargs)
    result.timeline.save(Path(session_dir) / OFFLINE_TIMELINE_NAME)
    os.chmod(Path(session_dir) / OFFLINE_TIMELINE_NAME, 0o600)  # holds the transcript, like timeline.json
    return result
