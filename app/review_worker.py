"""Background jobs of the review window, each a QObject run on its own QThread (only signals cross).

- :class:`AnalysisJob`: ``analysis.pipeline.analyze_file`` on an audio file opened directly, with its
  progress; cancelling raises :class:`~app.review_session.Cancelled` from the progress callback, so
  the pipeline stops at its next report (the analysis modules, and torch with them, are imported on the
  worker thread only).
- :class:`DecodeJob`: decodes the recording once to a private 16 kHz mono WAV for playback and
  computes the loudness overview.
- :class:`StoreDecodeJob`: the same for a session of the encrypted store, in memory only (the WAV is a
  bytes buffer; nothing decrypted is written).
- :class:`ReanalysisJob`: the review-quality re-analysis of a session recorded live
  (:func:`app.live_session.reanalyze`, which saves it with the session).
- :class:`RecomputeJob`: a long session's corrected timeline, its cues recomputed, off the GUI thread.
- :class:`RediarizeJob`: diarization again with a given speaker count, the transcript kept; returns a
  ``rediarize`` correction (:func:`app.review_session.rediarize_op`).

Nothing here logs transcript text.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.review_session import Cancelled, decode_for_playback, playback_from_session

log = logging.getLogger(__name__)


class _Job(QObject):
    progress = Signal(str, float)  # stage, fraction 0..1
    done = Signal(object)
    failed = Signal(str)  # one line
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    def stopped(self) -> bool:
        return self._stop.is_set()

    def _report(self, stage: str, fraction: float) -> None:
        if self._stop.is_set():
            raise Cancelled()
        self.progress.emit(stage, float(fraction))

    @Slot()
    def run(self) -> None:
        try:
            result = self.work()
        except Cancelled:
            self.cancelled.emit()
        except MemoryError:
            self.failed.emit("not enough memory")
        except Exception as exc:  # one line for the user, the details in the log (no transcript text)
            log.exception("review job failed")
            msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            self.failed.emit(msg)
        else:
            if self._stop.is_set():
                self.cancelled.emit()
            else:
                self.done.emit(result)

    def work(self):  # pragma: no cover - overridden
        raise NotImplementedError


class AnalysisJob(_Job):
    def __init__(self, audio_path: str | Path, transcribe: bool = True, options=None) -> None:
        super().__init__()
        self.audio_path = str(audio_path)
        self.transcribe = transcribe
        self.options = options  # an analysis.pipeline.AnalysisOptions, or None for the defaults

    def work(self):
        from analysis.pipeline import AnalysisOptions, analyze_file

        options = self.options or AnalysisOptions(transcribe=self.transcribe)
        return analyze_file(self.audio_path, options, progress=self._report).timeline


class DecodeJob(_Job):
    def __init__(self, audio_path: str | Path, out_wav: str | Path) -> None:
        super().__init__()
        self.audio_path = str(audio_path)
        self.out_wav = str(out_wav)

    def work(self):
        env, hop = decode_for_playback(self.audio_path, self.out_wav,
                                       on_progress=lambda f: self._report("decode", f),
                                       should_stop=self._stop.is_set)
        return self.out_wav, env, hop


class StoreDecodeJob(_Job):
    def __init__(self, session) -> None:
        super().__init__()
        self.session = session

    def work(self):
        return playback_from_session(self.session, on_progress=lambda f: self._report("decode", f),
                                     should_stop=self._stop.is_set)


class ReanalysisJob(_Job):
    def __init__(self, target, options=None) -> None:
        super().__init__()
        self.target = target  # an app.store.Session or a session folder
        self.options = options

    def work(self):
        from app.live_session import reanalyze

        return reanalyze(self.target, self.options, progress=self._report).timeline


class RediarizeJob(_Job):
    def __init__(self, timeline, count: int, read, diarize=None) -> None:
        super().__init__()
        self.timeline, self.count, self.read, self.diarize = timeline, count, read, diarize

    def work(self):
        from app.review_session import rediarize_op

        return rediarize_op(self.timeline, self.count, self.read, diarize=self.diarize,
                            progress=lambda f: self._report("diarize", f))


class RecomputeJob(_Job):
    """The corrected timeline (cues recomputed) of ``original`` under ``ops``: (key, timeline, turn ids)."""

    def __init__(self, original, ops, key) -> None:
        super().__init__()
        self.original, self.ops, self.key = original, ops, key

    def work(self):
        from app.review_session import corrected

        tl, ids = corrected(self.original, self.ops)
        return self.key, tl, ids


def start_job(job: _Job, parent: QObject | None = None) -> QThread:
    """Run ``job`` on a new QThread; the thread quits when the job ends (done, failed or cancelled)."""
    thread = QThread(parent)
    job.moveToThread(thread)
    thread.started.connect(job.run)
    for sig in (job.done, job.failed, job.cancelled):
        sig.connect(thread.quit)
    thread.start()
    return thread
