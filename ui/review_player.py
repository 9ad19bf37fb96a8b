"""Playback for review: QMediaPlayer on the decoded 16 kHz mono WAV, with a smooth position.

The player reports its position a few times a second; :class:`ReviewPlayer` interpolates between
reports (last report + elapsed wall time x rate) and emits ``position_changed`` from a 30-Hz timer
while playing, so the playhead moves smoothly. A seek before the media is loaded is kept and applied
when it is. Speeds 0.5x-2x use ``setPlaybackRate``; pitch compensation is switched on where the Qt
backend offers it (``QMediaPlayer.setPitchCompensation``, Qt 6.10 and later). When the audio outputs
change, playback moves to the new default output. Where QtMultimedia has no output but PortAudio does,
:func:`make_player` gives :class:`SoundDevicePlayer` instead (same interface).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QTimer, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer

from audio import SAMPLE_RATE

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


class SoundDevicePlayer(QObject):
    """The fallback where QtMultimedia cannot play (no Qt audio output, or its backend fails): the same
    interface as :class:`ReviewPlayer`, playing the decoded 16 kHz mono audio through PortAudio
    (sounddevice). The audio callback only copies samples from the array and advances a counter; the
    GUI reads the counter from a 30-Hz timer. Speeds other than 1x are played by stepping through the
    samples (the pitch shifts with the speed: no pitch compensation here)."""

    position_changed = Signal(float)
    playing_changed = Signal(bool)
    loaded = Signal()
    error = Signal(str)
    pitch_compensation = False

    def __init__(self, parent: QObject | None = None) -> None:
        import threading

        super().__init__(parent)
        self._audio = None  # float32 mono
        self._rate_hz = SAMPLE_RATE
        self._pos = 0.0  # samples; written by the audio callback while playing
        self._rate = 1.0
        self._stream = None
        self._lock = threading.Lock()
        self._ended = False
        self._duration = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(SMOOTH_MS)
        self._timer.timeout.connect(self._tick)

    # -- media
    def _set_audio(self, audio, rate_hz: int, duration: float) -> None:
        import numpy as np

        self.stop()
        audio = np.asarray(audio, dtype=np.float32)
        self._audio = audio.mean(axis=1) if audio.ndim == 2 else audio
        self._rate_hz = int(rate_hz)
        self._duration = len(self._audio) / self._rate_hz if len(self._audio) else duration
        self._pos = 0.0
        self.loaded.emit()

    def set_source(self, wav_path: str, duration: float) -> None:
        import soundfile as sf

        try:
            audio, sr = sf.read(wav_path, dtype="float32", always_2d=False)
        except Exception as exc:  # noqa: BLE001 - one line for the window
            self.error.emit(f"cannot play the recording ({type(exc).__name__})")
            return
        self._set_audio(audio, sr, duration)

    def set_source_bytes(self, wav: bytes, duration: float) -> None:
        import io

        import soundfile as sf

        audio, sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=False)
        self._set_audio(audio, sr, duration)

    @property
    def is_loaded(self) -> bool:
        return self._audio is not None

    # -- the audio callback (PortAudio's thread): copy, advance, nothing else
    def _callback(self, out, frames, _time, _status) -> None:
        import numpy as np
        import sounddevice as sd

        with self._lock:
            audio, pos, rate = self._audio, self._pos, self._rate
            idx = (pos + np.arange(frames) * rate).astype(np.int64)
            ok = idx < len(audio)
            out[:, 0] = 0.0
            out[ok, 0] = audio[idx[ok]]
            self._pos = pos + frames * rate
            if not ok.all():
                self._pos = float(len(audio))
                self._ended = True
                raise sd.CallbackStop

    def _tick(self) -> None:
        self.position_changed.emit(self.position())
        if self._ended:
            self._close_stream()
            self._timer.stop()
            self.playing_changed.emit(False)

    # -- control
    def position(self) -> float:
        return min(self._pos / self._rate_hz, self._duration) if self._rate_hz else 0.0

    def is_playing(self) -> bool:
        return self._stream is not None and not self._ended

    def seek(self, t: float) -> None:
        t = max(0.0, min(float(t), self._duration or float(t)))
        with self._lock:
            self._pos = t * self._rate_hz
            self._ended = False
        self.position_changed.emit(t)

    def play(self) -> None:
        import sounddevice as sd

        if self._audio is None or self.is_playing():
            return
        if self._pos >= len(self._audio):
            self._pos = 0.0
        self._ended = False
        try:
            self._stream = sd.OutputStream(samplerate=self._rate_hz, channels=1, dtype="float32",
                                           callback=self._callback)
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - no output device: one line, never a traceback
            self._stream = None
            self.error.emit(f"no audio output to play on ({type(exc).__name__})")
            return
        self._timer.start()
        self.playing_changed.emit(True)

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001 - the device went away: nothing left to release
                pass

    def pause(self) -> None:
        was = self.is_playing()
        self._close_stream()
        self._timer.stop()
        self.position_changed.emit(self.position())
        if was:
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        if self.is_playing():
            self.pause()
        else:
            self.play()

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self._rate = float(rate)

    @property
    def rate(self) -> float:
        return self._rate

    def stop(self) -> None:
        self.pause()


def qt_can_play() -> bool:
    """QtMultimedia has an audio output to play on."""
    return bool(QMediaDevices.audioOutputs())


def make_player(parent: QObject | None = None) -> QObject:
    """The review's player: QtMultimedia where it has an audio output; else the sounddevice fallback
    when PortAudio can open an output stream (probed once per process); ``ATTUNE_PLAYER=qt`` or
    ``sounddevice`` chooses. With neither, the Qt player: it still keeps time, so the window works
    silently."""
    import os

    choice = os.environ.get("ATTUNE_PLAYER", "").strip().lower()
    if choice == "sounddevice" or (choice != "qt" and not qt_can_play() and _portaudio_can_play()):
        return SoundDevicePlayer(parent)
    return ReviewPlayer(parent)


_PORTAUDIO_PROBE: list[bool] = []


def _portaudio_can_play() -> bool:
    if not _PORTAUDIO_PROBE:
        ok = False
        try:
            import sounddevice as sd

            if any(d.get("max_output_channels", 0) > 0 for d in sd.query_devices()):
                sd.OutputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32").close()
                ok = True
        except Exception:  # noqa: BLE001 - no PortAudio library or no output: no fallback
            ok = False
        _PORTAUDIO_PROBE.append(ok)
    return _PORTAUDIO_PROBE[0]
