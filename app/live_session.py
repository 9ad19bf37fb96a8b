"""A headless live session (``attune live``): :class:`app.session_runner.SessionRunner` with the
pipeline built from :class:`~analysis.live.LiveOptions`.

``LiveSession(source, out_dir).run()`` records and analyses until the source ends, ``stop()`` is
called or ``duration`` seconds of audio have been captured; it then drains pending work, writes
``timeline.json`` beside the recording and returns the :class:`~analysis.timeline.Timeline`. Capture
starts at ``start()``; the speech models load meanwhile (audio is buffered and analysed in order).
``reanalyze()`` runs the full offline analysis (``analysis.pipeline.analyze_file``) on the recording
for review quality, with the number of people in the room that session.json records (``people_in_room``,
from ``LiveOptions.num_speakers``) as the speaker count. No Qt here: a GUI reads ``state()`` from its
own timer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from analysis.live import LiveOptions, LivePipeline
from analysis.session_state import SessionState
from analysis.timeline import Timeline
from app.recorder import AUDIO_NAME, people_in_room, read_session, stored_people_count
from app.session_runner import (  # noqa: F401  (re-exported for the benchmarks)
    SessionRunner,
    SessionStats,
    peak_rss_mb,
    recording_reader,
    rss_mb,
)
from audio.sources import AudioSource

log = logging.getLogger(__name__)

OFFLINE_TIMELINE_NAME = "timeline.offline.json"


class LiveSession(SessionRunner):
    """A :class:`SessionRunner` whose pipeline is ``LivePipeline(options, diarizer)``."""

    def __init__(self, source: AudioSource, out_dir: Any, options: LiveOptions | None = None,
                 keep_audio: bool = True, keep_transcript: bool = True, duration: float | None = None,
                 diarizer: Any = None, on_block: Callable[[SessionState], None] | None = None) -> None:
        options = options or LiveOptions()
        if not keep_transcript:  # consent: no words are kept anywhere, so none are produced
            options = replace(options, transcribe=False)
        self.options = options

        def factory(on_record):
            return LivePipeline(options, diarizer=diarizer, on_record=on_record)

        super().__init__(source, out_dir, factory, keep_audio=keep_audio, keep_transcript=keep_transcript,
                         meta={"mode": "live", "people_in_room": people_in_room(options.num_speakers),
                               "consent": {"audio": keep_audio, "transcript": keep_transcript}},
                         duration=duration, on_block=on_block)

    def run(self, on_tick: Callable[[SessionState], None] | None = None, tick_s: float = 0.25) -> Timeline:
        """Start (unless started), wait until the source ends (or ``stop()``/Ctrl-C), finish.

        ``on_tick`` gets the state every ``tick_s`` seconds.
        """
        if self._capture is None:
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
        """Full offline analysis of the recording; writes ``timeline.offline.json`` (a store session: its
        encrypted ``timeline_offline``). Needs kept audio."""
        if not self.recorder.keep_audio:
            raise RuntimeError("no audio was kept for this session (consent), so it cannot be re-analysed")
        if self.timeline is None:
            self.finish()
        return reanalyze(self.store_session or self.dir, options, progress)


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


def reanalyze(session_dir: Any, options: Any = None, progress: Any = None):
    """``analyze_file`` on a session folder's recording (speaker count from its session.json, see
    :func:`stored_session_options`); saves ``timeline.offline.json``. A session of the encrypted store:
    its audio is decrypted slice by slice into memory (``analyze_samples``) and the result is saved
    encrypted as its ``timeline_offline``."""
    from analysis.pipeline import analyze_file

    if hasattr(session_dir, "audio_reader"):
        from analysis.pipeline import analyze_samples

        session = session_dir
        if not session.has("audio", stream=True):
            raise FileNotFoundError(f"session {session.id}: the session has no recording to re-analyse")
        reader = session.audio_reader()
        kwargs = {"progress": progress} if progress is not None else {}
        result = analyze_samples(reader.read, reader.duration, stored_session_options(session, options),
                                 source={"session": session.id}, **kwargs)
        session.write_json("timeline_offline", result.timeline.to_dict())
        return result

    audio = Path(session_dir) / AUDIO_NAME
    if not audio.exists():
        raise FileNotFoundError(f"{session_dir}: the session has no recording to re-analyse")
    options = stored_session_options(session_dir, options)
    kwargs = {"progress": progress} if progress is not None else {}
    result = analyze_file(audio, options, **kwargs)
    result.timeline.save(Path(session_dir) / OFFLINE_TIMELINE_NAME)
    os.chmod(Path(session_dir) / OFFLINE_TIMELINE_NAME, 0o600)  # holds the transcript, like timeline.json
    return result
