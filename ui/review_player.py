"""Playback for review: QMediaPlayer on the decoded 16 kHz mono WAV, with a smooth position.

The player reports its position a few times a second; :class:`ReviewPlayer` interpolates between
reports (last report + elapsed wall time x rate) and emits ``position_changed`` from a 30-Hz timer
while playing, so the playhead moves smoothly. A seek before the media is loaded is kept and applied
when it is. Speeds 0.5x-2x use ``setPlaybackRate``; pitch compensation is switched on where the Qt
backend offers it (``QMediaPlayer.setPitchCompensation``, Qt 6.10 and later). When the audio outputs
change, playback moves to the new default output.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QTimer, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer

SMOOTH_MS = 33
SPEEDS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


class ReviewPlayer(QObject):
    position_changed = Signal(float)  # seconds (smooth)
    playing_changed = Signal(bool)
    loaded = Signal()
    error = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._player = QMediaPlayer(self)
        self._out = QAudioOutput(self)
        self._player.setAudioOutput(self._out)
        self._duration = 0.0
        self._pending: float | None = None
        self._loaded = False
        self._rate = 1.0
        self._report_ms = 0
        self._report_at = time.monotonic()
        self._timer = QTimer(self)
        self._timer.setInterval(SMOOTH_MS)
        self._timer.timeout.connect(self._tick)
        self._player.positionChanged.connect(self._on_position)
        self._player.mediaStatusChanged.connect(self._on_status)
        self._player.playbackStateChanged.connect(self._on_state)
        self._player.errorOccurred.connect(lambda _e, s: self.error.emit(s))
        # follow the system's default output when devices come and go (headphones plugged, a USB
        # device removed); untested here: the test machine has no audio output
        self._devices = QMediaDevices(self)
        self._devices.audioOutputsChanged.connect(self._on_outputs_changed)
        self.pitch_compensation = False
        if hasattr(self._player, "setPitchCompensation"):
            try:
                self._player.setPitchCompensation(True)
                self.pitch_compensation = bool(self._player.pitchCompensation())
            except Exception:  # an old backend: plain rate change
                self.pitch_compensation = False

    def _on_outputs_changed(self) -> None:
        default = QMediaDevices.defaultAudioOutput()
        if not default.isNull() and default != self._out.device():
            self._out.setDevice(default)

    # -- media
    def set_source(self, wav_path: str, duration: float) -> None:
        self._duration = duration
        self._loaded = False
        self._player.setSource(QUrl.fromLocalFile(wav_path))

    def set_source_bytes(self, wav: bytes, duration: float) -> None:
        """Play a WAV held in memory (a session of the encrypted store: nothing decrypted on disk)."""
        self._duration = duration
        self._loaded = False
        self._buffer = QBuffer(self)
        self._buffer.setData(QByteArray(wav))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._player.setSourceDevice(self._buffer, QUrl("review.wav"))

    @property
    def is_loaded(self) -> bool:
        return self._loaded

    def _on_status(self, status) -> None:
        if status in (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia) \
                and not self._loaded:
            self._loaded = True
            if self._player.duration() > 0:
                self._duration = self._player.duration() / 1000.0
            if self._pending is not None:
                self._player.setPosition(round(self._pending * 1000))
                self._pending = None
            self.loaded.emit()
        elif status == QMediaPlayer.MediaStatus.EndOfMedia:
            self._timer.stop()

    def _on_position(self, ms: int) -> None:
        self._report_ms = ms
        self._report_at = time.monotonic()
        if not self.is_playing():
            self.position_changed.emit(ms / 1000.0)

    def _on_state(self, state) -> None:
        playing = state == QMediaPlayer.PlaybackState.PlayingState
        if playing:
            self._report_ms = self._player.position()
            self._report_at = time.monotonic()
            self._timer.start()
        else:
            self._timer.stop()
            self.position_changed.emit(self.position())
        self.playing_changed.emit(playing)

    def _tick(self) -> None:
        self.position_changed.emit(self.position())

    # -- control
    def position(self) -> float:
        """Seconds; between the player's reports it is interpolated while playing."""
        if self._pending is not None:
            return self._pending
        ms = self._report_ms
        if self.is_playing():
            ms += (time.monotonic() - self._report_at) * 1000.0 * self._rate
            ms = min(ms, self._report_ms + 500 * self._rate)  # never run far ahead of a stalled player
        return min(ms / 1000.0, self._duration) if self._duration else ms / 1000.0

    def is_playing(self) -> bool:
        return self._player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def seek(self, t: float) -> None:
        t = max(0.0, min(float(t), self._duration or float(t)))
        if not self._loaded:
            self._pending = t
            self.position_changed.emit(t)
            return
        self._player.setPosition(round(t * 1000))
        self._report_ms = round(t * 1000)
        self._report_at = time.monotonic()
        self.position_changed.emit(t)

    def play(self) -> None:
        if self._loaded or self._player.source().isValid():
            self._player.play()

    def pause(self) -> None:
        self._player.pause()

    def toggle(self) -> None:
        if self.is_playing():
            self.pause()
        else:
            self.play()

    def set_rate(self, rate: float) -> None:
        self._report_ms = round(self.position() * 1000)
        self._report_at = time.monotonic()
        self._rate = float(rate)
        self._player.setPlaybackRate(self._rate)

    @property
    def rate(self) -> float:
        return self._rate

    def stop(self) -> None:
        """Release the media. Not ``QMediaPlayer.stop()``: with the FFmpeg backend of Qt 6.11 it can
        deadlock after a rate change (seen at 2x, paused, no audio device); clearing the source after a
        pause releases the same resources and did not hang in the same reproduction."""
        self._timer.stop()
        if self.is_playing():
            self._player.pause()
        self._loaded = False
        self._player.setSource(QUrl())
