"""The one session runner (app/session_runner.py): roles in live timelines, the "no transcript" consent,
and the input that delivers nothing. A generated dialogue replayed through the file source; speakers
from its truth (ScriptedDiarizer), words from its script (a stand-in recogniser), no speech models."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import numpy as np
import pytest

from analysis.live import LiveOptions, LivePipeline
from analysis.scripted_diarizer import ScriptedDiarizer
from analysis.timeline import Utterance
from app.session_folder import save_after_session
from app.session_runner import SessionConfig, SessionRunner, drive_session, make_source
from audio.sources import AudioSource


class ScriptTranscriber:
    """Stands in for Whisper: a stretch of speech becomes the script's words spoken in it."""

    model = object()

    def __init__(self, truth) -> None:
        self.truth = truth

    def transcribe(self, audio, offset: float = 0.0):
        end = offset + len(audio) / 16_000
        text = " ".join(u.text for u in self.truth.utterances if u.start < end and u.end > offset)
        return [Utterance("?", offset, end, text)] if text else []


def run(cfg: SessionConfig, dialogue, folder: Path, seconds: float = 30.0):
    wav, truth = dialogue

    def factory(config, on_record):  # transcribes whatever the consent (the runner must keep no words)
        return LivePipeline(LiveOptions(transcribe=True), diarizer=ScriptedDiarizer(truth.turns),
                            on_record=on_record, transcriber=ScriptTranscriber(truth))

    sent: list = []
    t0 = time.monotonic()
    drive_session(cfg, folder, factory, make_source, lambda: time.monotonic() - t0 > seconds / cfg.speed,
                  lambda kind, payload=None: sent.append((kind, payload)))
    assert [k for k, _ in sent if k in ("finished", "failed")] == ["finished"], sent[-1]
    return sent


def test_live_timeline_has_the_roles_session_json_has(tmp_path, dialogue):
    wav, _ = dialogue
    cfg = SessionConfig(source=f"file:{wav}", consent_analysis=True, speed=6.0, num_speakers=2)
    folder = tmp_path / "s"
    run(cfg, dialogue, folder)
    timeline = json.loads((folder / "timeline.json").read_text())
    meta = json.loads((folder / "session.json").read_text())
    roles = {s["id"]: s["role"] for s in timeline["speakers"]}
    assert roles == {"S1": "therapist", "S2": "client"}  # the first voice heard is the therapist's
    assert {s["id"]: s["role"] for s in meta["speakers"]} == roles
    # the clinician swaps them in the view: both files follow
    save_after_session(folder, "", {"S1": "client", "S2": "therapist"})
    timeline = json.loads((folder / "timeline.json").read_text())
    meta = json.loads((folder / "session.json").read_text())
    assert {s["id"]: s["role"] for s in timeline["speakers"]} == {"S1": "client", "S2": "therapist"}
    assert meta["roles"] == {"S1": "client", "S2": "therapist"}
    assert {s["id"]: s["role"] for s in meta["speakers"]} == meta["roles"]
    assert (folder / "timeline.json").stat().st_mode & 0o777 == 0o600


def test_no_transcript_keeps_no_words_anywhere(tmp_path, dialogue, caplog):
    wav, truth = dialogue
    words = {w.lower() for u in truth.utterances for w in re.findall(r"[A-Za-z]{6,}", u.text)
             if u.end < 30}
    assert len(words) > 10
    caplog.set_level(logging.DEBUG)
    cfg = SessionConfig(source=f"file:{wav}", consent_analysis=True, keep_audio=False, keep_transcript=False,
                        speed=6.0, num_speakers=2)
    folder = tmp_path / "s"
    sent = run(cfg, dialogue, folder)
    states = [p for k, p in sent if k == "state"]
    assert all(not s.transcript_tail and not s.transcribing for s in states)
    kept = " ".join(p.read_text(errors="replace").lower() for p in folder.rglob("*") if p.is_file())
    assert sorted(w for w in words if w in kept) == []
    assert not [w for w in words if w in caplog.text.lower()]
    timeline = json.loads((folder / "timeline.json").read_text())
    assert timeline["utterances"] == [] and timeline["turns"]  # the cues without words are all there
    assert {"pace", "questions"} <= set(timeline["provenance"]["unavailable"])
    assert json.loads((folder / "session.json").read_text())["consent"]["transcript"] is False


class SilentSource(AudioSource):
    """Delivers digital silence (``zeros``), nothing at all, or noise at a speaking level, as told;
    with ``status = "device lost"``, silence marked as a gap (as the microphone does)."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "zeros"
        self._stop = False

    def start(self) -> None:
        self.status = "running"

    def stop(self) -> None:
        self._stop = True

    def read(self):
        while not self._stop:
            time.sleep(self.block_s)
            if self.status == "device lost":  # as the microphone does: silence, marked as a gap
                return self._emit(np.zeros(self.block_len, np.float32), time.monotonic(), gap=True)
            if self.mode == "nothing":
                continue
            x = np.zeros(self.block_len, np.float32) if self.mode == "zeros" else \
                np.random.default_rng(self._emitted).normal(0, 0.05, self.block_len).astype(np.float32)
            return self._emit(x, time.monotonic())
        return None


def test_an_input_that_delivers_nothing_is_reported(tmp_path):
    src = SilentSource()
    runner = SessionRunner(src, tmp_path / "s", lambda rec: LivePipeline(
        LiveOptions(transcribe=False, diarize=False), on_record=rec), keep_audio=False)
    runner.start()
    try:
        time.sleep(1.5)
        assert 1.0 <= runner.state().no_input_s <= 2.5  # zeros: nothing heard since the start
        src.mode = "sound"
        time.sleep(0.5)
        assert runner.state().no_input_s < 0.3
        src.mode = "nothing"  # the device delivers no blocks at all
        time.sleep(1.2)
        st = runner.state()
        assert st.no_input_s >= 1.0 and st.t == pytest.approx(runner.state().t)
    finally:
        runner.stop()
        runner.finish(timeout=5)


def test_live_view_and_strip_say_when_nothing_is_heard(qtbot, monkeypatch):
    """pytest-qt: the banner appears when the input delivers only zeros, goes when sound returns,
    appears again when it delivers nothing at all, and says "Microphone lost" when the device is gone;
    the compact strip says the same in place of who is speaking."""
    import ui.live_view as live_view
    from app.qt_worker import SessionController
    from ui.main_window import MainWindow

    monkeypatch.setattr(live_view, "NO_INPUT_BANNER_S", 1.0)
    src = SilentSource()
    controller = SessionController(pipeline_factory=lambda cfg, rec: LivePipeline(
        LiveOptions(transcribe=False, diarize=False), on_record=rec), source_factory=lambda cfg: src)
    win = MainWindow(controller=controller, probe_level=False)
    qtbot.addWidget(win)
    win.show()
    banner = win.live_view.input_banner
    try:
        assert win.start_session(SessionConfig(source="test", consent_analysis=True))
        qtbot.waitUntil(lambda: not banner.isHidden(), timeout=10_000)
        assert "Not hearing anything" in banner.text() and "microphone" in banner.text()
        src.mode = "sound"
        qtbot.waitUntil(lambda: banner.isHidden(), timeout=5_000)
        src.mode = "nothing"
        win.set_strip_mode(True)
        qtbot.waitUntil(lambda: not banner.isHidden() and win.strip.speaking_label.text() == "Not hearing anything",
                        timeout=10_000)
        src.status = "device lost"
        qtbot.waitUntil(lambda: "Microphone lost" in banner.text(), timeout=5_000)
        qtbot.waitUntil(lambda: win.strip.speaking_label.text() == "Microphone lost", timeout=5_000)
        src.status, src.mode = "running", "sound"
        qtbot.waitUntil(lambda: banner.isHidden() and win.strip.speaking_label.text() != "Microphone lost",
                        timeout=10_000)
        with qtbot.waitSignal(controller.finished, timeout=30_000):
            win.stop_session()
    finally:
        controller.shutdown()
        win.strip.close()


def test_shutdown_keeps_a_thread_that_outlives_its_wait(qtbot):
    """A session thread still busy when shutdown's wait runs out (the analysis process joined under a
    heavy load) must stay referenced until it ends: a QThread destroyed while running aborts the whole
    process (seen once in a full test run: "Fatal Python error: Aborted" in shutdown)."""
    import gc
    import threading
    import weakref

    from PySide6.QtCore import QThread

    from app import qt_worker
    from app.qt_worker import SessionController

    release = threading.Event()

    class Busy(QThread):
        def run(self) -> None:  # ignores quit: ends when its work is done
            release.wait(30)

    controller = SessionController(isolate=False)
    busy = Busy()
    alive = weakref.ref(busy)
    controller.thread = busy
    busy.start()
    controller.shutdown(timeout_ms=50)
    del busy
    gc.collect()
    assert controller.thread is None
    assert alive() is not None and alive().isRunning()  # still running, and still referenced
    assert alive() in qt_worker._unfinished
    release.set()
    qtbot.waitUntil(lambda: alive() is None or alive() not in qt_worker._unfinished,
                    timeout=10_000)  # released once it has ended
