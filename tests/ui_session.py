"""Helpers for window tests: a generated dialogue replayed through the real live pipeline, speakers from
its truth (a scripted streaming diarizer), placeholder words for the transcript. No test sleeps."""

from __future__ import annotations

from analysis.live import LiveOptions, LivePipeline
from analysis.scripted_diarizer import ScriptedDiarizer
from analysis.session_state import SessionState
from analysis.timeline import Speaker, Turn
from app.qt_worker import SessionController

SPEED = 12.0  # the 84-s dialogue replays in about 7 s


class WordsTranscriber:
    """Stands in for Whisper: every stretch of speech becomes one line of placeholder words."""

    model = object()

    def transcribe(self, audio, offset: float = 0.0):
        from analysis.timeline import Utterance

        return [Utterance("?", offset, offset + len(audio) / 16_000, "some spoken words")]


def start_through_dialog(qtbot, win, wav, keep_audio: bool = False, keep_transcript: bool = False):
    """Start a replayed session the way a clinician does: the recording as input, Next, consent to the
    analysis, the audio and transcript answers, Start; returns once the pipeline is ready."""
    from PySide6.QtCore import Qt

    dialog = win.begin_session()
    dialog.set_source(f"file:{wav}")
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.consent_box, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.keep_audio_radio if keep_audio else dialog.no_audio_radio, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.keep_transcript_radio if keep_transcript else dialog.no_transcript_radio,
                     Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(win.controller.ready, timeout=30_000):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    return dialog


def scripted_controller(turns, configs: list | None = None) -> SessionController:
    """A controller whose pipeline takes its speakers from ``turns``; the configs it was given are
    appended to ``configs``."""

    def pipeline_factory(config, on_record):
        if configs is not None:
            configs.append(config)
        return LivePipeline(LiveOptions(transcribe=True), diarizer=ScriptedDiarizer(turns),
                            on_record=on_record, transcriber=WordsTranscriber())

    return SessionController(pipeline_factory=pipeline_factory)


def voices_state(t: float, talk: dict[str, float], roles: dict[str, str] | None = None,
                 speaking: tuple[str, ...] = (), **kw) -> SessionState:
    """A snapshot with the given talk time per voice (first heard in the given order)."""
    roles = roles or {}
    total = sum(talk.values()) or 1.0
    speakers = tuple(Speaker(sid, sid, roles.get(sid)) for sid in talk)
    turns, start = [], 0.0
    for sid in talk:
        turns.append(Turn(sid, start, start + 1.0))
        start += 1.5
    return SessionState(t=t, status="listening", speakers=speakers, talk_time=dict(talk),
                        talk_share={k: v / total for k, v in talk.items()},
                        talk_share_window={k: v / total for k, v in talk.items()},
                        recent_turns=tuple(turns), speaking_now=speaking, **kw)
