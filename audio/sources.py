"""Live audio sources: one :class:`AudioSource` interface, a microphone and a file behind it.

Every source emits :class:`AudioBlock` objects of exactly ``block_s`` seconds (the last block of a file
may be shorter) of 16 kHz mono float32 on the session's sample clock: ``t0`` is the number of samples
emitted before the block divided by 16 000, so the clock never drifts from the audio itself. Samples
lost to an overflow or a device gap are replaced by silence so that the clock keeps pace with the
wall clock and everything downstream (recorder, VAD, timeline) stays aligned.

The microphone's PortAudio callback only copies the raw input into a bounded queue (and counts what
it could not queue); mixing to mono, resampling and re-blocking happen in :meth:`AudioSource.read`,
on the caller's (capture) thread. ``sounddevice`` is imported lazily: it fails without libportaudio2.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audio import SAMPLE_RATE
from audio.decode import iter_blocks, probe

log = logging.getLogger(__name__)

BLOCK_S = 0.1  # seconds per emitted block (1600 samples)
QUEUE_BLOCKS = 200  # raw callback blocks held before the oldest new ones are dropped (~20 s at 0.1 s)
STALL_S = 2.0  # seconds without a callback before an open stream is considered gone
# ... before its first callback: some inputs take longer to start (a PulseAudio monitor source delivers
# its first block 0.7-2 s after opening; Bluetooth headsets switch profiles first)
FIRST_DATA_S = 5.0
RECONNECT_EVERY_S = 1.0  # seconds between attempts to reopen a vanished device
SILENCE_DBFS = -100.0  # level reported for digital silence


class DeviceError(Exception):
    """An input device problem. ``str(err)`` is a one-line message for the user."""


@dataclass(frozen=True)
class AudioBlock:
    """``samples`` (16 kHz mono float32) starting at ``t0`` seconds on the session clock.

    ``wall`` is the ``time.monotonic()`` moment the block's last sample became available (for
    latency measurements); ``gap`` marks silence inserted for audio that was lost.
    """

    t0: float
    samples: np.ndarray
    wall: float = 0.0
    gap: bool = False

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def t1(self) -> float:
        return self.t0 + self.duration


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of the samples in dB relative to full scale (floored at ``SILENCE_DBFS``)."""
    if samples.size == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(SILENCE_DBFS, 20.0 * math.log10(rms)) if rms > 0 else SILENCE_DBFS


@dataclass
class _Rebuffer:
    """Cuts a stream of arbitrary-length arrays into blocks of exactly ``size`` samples."""

    size: int
    _parts: list[np.ndarray] = field(default_factory=list)
    _n: int = 0

    def push(self, x: np.ndarray) -> None:
        if x.size:
            self._parts.append(np.asarray(x, dtype=np.float32))
            self._n += x.size

    def pop(self, final: bool = False) -> np.ndarray | None:
        if self._n < self.size and not (final and self._n):
            return None
        data = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
        out, rest = data[:self.size], data[self.size:]
        self._parts = [rest] if rest.size else []
        self._n = rest.size
        return np.ascontiguousarray(out, dtype=np.float32)

    def clear(self) -> None:
        self._parts, self._n = [], 0


class AudioSource:
    """Base of all sources: ``start()``, ``read() -> AudioBlock | None`` (None once ended), ``stop()``.

    Iterating a started source yields its blocks until it ends. ``time`` is the sample clock (seconds
    emitted), ``level_dbfs`` the level of the last block, ``overflows`` the number of times audio was
    lost, ``lost_s`` how many seconds of it were replaced by silence, ``status`` a short word.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, block_s: float = BLOCK_S) -> None:
        if block_s <= 0:
            raise ValueError("block_s must be positive")
        self.block_s = block_s
        self.block_len = max(1, round(block_s * SAMPLE_RATE))
        self._emitted = 0  # samples emitted: the sample clock
        self.level_dbfs = SILENCE_DBFS
        self.overflows = 0
        self.lost_s = 0.0
        self.status = "idle"
        self.error: str | None = None  # last device message while reconnecting
        self.gaps: list[tuple[float, float]] = []  # session-time spans filled with silence

    @property
    def time(self) -> float:
        return self._emitted / SAMPLE_RATE

    def _emit(self, samples: np.ndarray, wall: float, gap: bool = False) -> AudioBlock:
        block = AudioBlock(self.time, samples, wall, gap)
        self._emitted += len(samples)
        if not gap:
            self.level_dbfs = level_dbfs(samples)
        return block

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def read(self) -> AudioBlock | None:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"kind": type(self).__name__}

    def __iter__(self) -> Iterator[AudioBlock]:
        while (block := self.read()) is not None:
            yield block

    def __enter__(self) -> AudioSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FileSource(AudioSource):
    """A file replayed as if live: the same blocks a microphone gives, paced in real time or not.
    ``warnings``: one line per decoder problem (a damaged stretch ends the replay there; also logged)."""

    def __init__(self, path: str | Path, realtime: bool = False, block_s: float = BLOCK_S,
                 speed: float = 1.0, loop: bool = False) -> None:
        super().__init__(block_s)
        self.path = Path(path)
        self.info = probe(self.path)  # raises AudioDecodeError with a clear message
        self.realtime = realtime
        self.speed = speed  # pacing factor when realtime (2.0 = twice as fast)
        self.loop = loop  # start over at the end (benchmarks of long sessions)
        self._stopped = threading.Event()
        self._it: Iterator[np.ndarray] | None = None
        self._buf = _Rebuffer(self.block_len)
        self._wall0 = 0.0
        self._done = False
        self.warnings: list[str] = []

    def describe(self) -> dict:
        return {"kind": "file", "file": self.path.name, "sample_rate": self.info.sample_rate,
                "channels": self.info.channels, "realtime": self.realtime}

    def start(self) -> None:
        self._stopped.clear()
        self._it = iter_blocks(self.path, block_s=1.0, info=self.info, on_warning=self.warnings.append)
        self._wall0 = time.monotonic()
        self._done = False
        self.status = "running"

    def stop(self) -> None:
        self._stopped.set()
        self.status = "stopped"

    def _next_samples(self) -> np.ndarray | None:
        while True:
            out = self._buf.pop(final=self._done)
            if out is not None or self._done:
                return out
            try:
                self._buf.push(next(self._it))
            except StopIteration:
                if self.loop:
                    self._it = iter_blocks(self.path, block_s=1.0, info=self.info,
                                           on_warning=self.warnings.append)
                else:
                    self._done = True

    def read(self) -> AudioBlock | None:
        if self._it is None:
            raise RuntimeError("start() the source before reading")
        if self._stopped.is_set():
            return None
        samples = self._next_samples()
        if samples is None:
            self.status = "ended"
            return None
        wall = time.monotonic()
        if self.realtime:
            due = self._wall0 + (self._emitted + len(samples)) / SAMPLE_RATE / self.speed
            if due > wall and self._stopped.wait(due - wall):
                return None
            wall = due
        return self._emit(samples, wall)


def _default_sd():
    try:
        import sounddevice
    except OSError as exc:  # libportaudio2 is missing
        raise DeviceError(f"audio input is unavailable: PortAudio could not be loaded ({exc})") from None
    return sounddevice


def _classify(exc: BaseException, device: object, rate: int) -> DeviceError:
    """A one-line :class:`DeviceError` for a PortAudio failure."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = text.lower()
    name = f"'{device}'" if device is not None else "the default input device"
    if "sample rate" in low or "-9997" in low:
        return DeviceError(f"{name} refuses a sample rate of {rate} Hz ({text})")
    if "permission" in low or "not permitted" in low or "access denied" in low or "-9986" in low:
        return DeviceError(f"access to the microphone is blocked: allow microphone access for this app "
                           f"in the system privacy settings ({text})")
    if "unavailable" in low or "-9985" in low or "busy" in low:
        return DeviceError(f"{name} is unavailable or in use by another program ({text})")
    if "no input" in low or "invalid device" in low or "-9996" in low or "invalid number of channels" in low:
        return DeviceError(f"{name} is not an input device or no longer exists ({text})")
    return DeviceError(f"cannot open {name}: {text}")


class MicrophoneSource(AudioSource):
    """Capture from an input device through sounddevice (PortAudio).

    ``device`` is an index, a (part of a) device name, or None for the system default. The device is
    opened at 16 kHz when it accepts it, else at its default rate and resampled with soxr. If the
    device disappears mid-session, ``read()`` keeps the clock running (silence, marked ``gap``) while it
    tries to reopen the device every ``RECONNECT_EVERY_S``; with ``reconnect=False`` it raises
    :class:`DeviceError` instead.
    """

    def __init__(self, device: int | str | None = None, block_s: float = BLOCK_S, reconnect: bool = True,
                 queue_blocks: int = QUEUE_BLOCKS, channels: int = 1, sd_module=None) -> None:
        super().__init__(block_s)
        self._sd = sd_module
        self.device = device
        self.reconnect = reconnect
        self.channels = channels
        self._q: queue.Queue = queue.Queue(maxsize=queue_blocks)
        self._dropped_frames = 0  # raw frames the callback could not queue (written on its thread only)
        self._status_flags = 0  # callbacks flagged input_overflow (written on its thread only)
        self._seen_dropped = 0
        self._seen_flags = 0
        self._stream = None
        self.device_rate = 0
        self.device_name = ""
        self._resampler = None
        self._buf = _Rebuffer(self.block_len)
        self._stopped = threading.Event()
        self._last_data = 0.0
        self._has_data = False
        self._lost_at: float | None = None  # wall time the device was lost
        self._next_try = 0.0
        self._gap_clock0 = 0.0  # sample clock when the device was lost
        self._lost_msg = ""

    # -- the PortAudio thread: copy, count, nothing else ------------------------------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        if status:
            self._status_flags += 1
        try:
            self._q.put_nowait((indata.copy(), time.monotonic()))
        except queue.Full:
            self._dropped_frames += frames

    # -- opening ----------------------------------------------------------------------------------
    @property
    def sd(self):
        if self._sd is None:
            self._sd = _default_sd()
        return self._sd

    def _resolve(self):
        sd = self.sd
        try:
            devices = sd.query_devices()
        except Exception as exc:
            raise DeviceError(f"cannot list audio devices: {exc}") from None
        inputs = [(i, d) for i, d in enumerate(devices) if d.get("max_input_channels", 0) > 0]
        if not inputs:
            raise DeviceError("no audio input device found: connect a microphone (or check that the "
                              "sound system is running)")
        dev = self.device
        if dev is None:
            try:
                info = sd.query_devices(kind="input")
            except Exception:
                return inputs[0]
            idx = next((i for i, d in inputs if d.get("name") == info.get("name")), inputs[0][0])
            return idx, info
        if isinstance(dev, int) or (isinstance(dev, str) and dev.isdigit()):
            idx = int(dev)
            match = [(i, d) for i, d in inputs if i == idx]
        else:
            match = [(i, d) for i, d in inputs if d.get("name") == dev]
            match = match or [(i, d) for i, d in inputs if str(dev).lower() in d.get("name", "").lower()]
        if not match:
            names = ", ".join(f"{i}: {d.get('name')}" for i, d in inputs)
            raise DeviceError(f"no input device '{dev}' (inputs: {names})")
        return match[0]

    def _open(self) -> None:
        import soxr

        sd = self.sd
        idx, info = self._resolve()
        rates = [SAMPLE_RATE]
        default = int(info.get("default_samplerate") or 0)
        if default and default != SAMPLE_RATE:
            rates.append(default)
        last: DeviceError | None = None
        for rate in rates:
            try:
                sd.check_input_settings(device=idx, channels=self.channels, samplerate=rate, dtype="float32")
                stream = sd.InputStream(device=idx, channels=self.channels, samplerate=rate, dtype="float32",
                                        blocksize=max(1, round(self.block_s * rate)), callback=self._callback)
                stream.start()
            except Exception as exc:  # sd.PortAudioError, ValueError from check_input_settings
                last = _classify(exc, info.get("name", idx), rate)
                if "refuses a sample rate" not in str(last):
                    raise last from None  # permission, busy, gone: another rate will not help
                continue
            self._stream = stream
            self.device_rate = rate
            self.device_name = str(info.get("name", idx))
            self._resampler = None if rate == SAMPLE_RATE else soxr.ResampleStream(
                rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
            self._last_data = time.monotonic()
            self._has_data = False  # no callback yet from this stream
            self.status = "running"
            self.error = None
            log.info("capturing from %s at %d Hz", self.device_name, rate)
            return
        assert last is not None
        raise last

    def describe(self) -> dict:
        return {"kind": "microphone", "device": self.device_name, "device_rate": self.device_rate,
                "sample_rate": SAMPLE_RATE}

    def start(self) -> None:
        self._stopped.clear()
        self._open()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.stop()
            with contextlib.suppress(Exception):
                stream.close()

    def stop(self) -> None:
        self._stopped.set()
        self._close_stream()
        self.status = "stopped"

    # -- the capture thread -----------------------------------------------------------------------
    def _account(self) -> None:
        dropped, flags = self._dropped_frames, self._status_flags
        if dropped != self._seen_dropped or flags != self._seen_flags:
            self.overflows += (flags - self._seen_flags) + (1 if dropped != self._seen_dropped else 0)
            if dropped != self._seen_dropped and self.device_rate:
                lost = (dropped - self._seen_dropped) / self.device_rate
                self.lost_s += lost
                n = round(lost * SAMPLE_RATE)
                self._buf.push(np.zeros(n, dtype=np.float32))
                log.warning("capture fell behind: %.2f s of audio replaced by silence", lost)
            self._seen_dropped, self._seen_flags = dropped, flags

    def _convert(self, raw: np.ndarray) -> np.ndarray:
        mono = raw.mean(axis=1, dtype=np.float32) if raw.ndim == 2 and raw.shape[1] > 1 else raw.reshape(-1)
        mono = np.ascontiguousarray(mono, dtype=np.float32)
        if self._resampler is not None:
            mono = self._resampler.resample_chunk(mono, last=False)
        return mono

    def _device_lost(self, why: str) -> None:
        self._close_stream()
        self._lost_at = time.monotonic()
        self._gap_clock0 = self.time
        self._next_try = self._lost_at + RECONNECT_EVERY_S
        self._buf.clear()
        self.overflows += 1
        self.status = "device lost"
        self.error = self._lost_msg = f"the input device '{self.device_name}' stopped delivering audio ({why})"
        log.warning("%s", self.error)
        if not self.reconnect:
            raise DeviceError(self.error)

    def _gap_block(self) -> AudioBlock | None:
        """While the device is gone: silence in real time, and a reconnection attempt now and then."""
        now = time.monotonic()
        if now >= self._next_try:
            self._next_try = now + RECONNECT_EVERY_S
            try:
                self._open()
            except DeviceError as exc:
                self.error = f"{self._lost_msg}; still unavailable: {exc}"
            else:
                lost_at, self._lost_at = self._lost_at, None
                log.info("input device is back after %.1f s", now - (lost_at or now))
                return None
        due = self._lost_at + (self._emitted + self.block_len) / SAMPLE_RATE - self._gap_clock0
        if self._stopped.wait(max(0.0, due - time.monotonic())):
            return None
        start = self.time
        self.lost_s += self.block_len / SAMPLE_RATE
        block = self._emit(np.zeros(self.block_len, dtype=np.float32), time.monotonic(), gap=True)
        if self.gaps and abs(self.gaps[-1][1] - start) < 1e-9:
            self.gaps[-1] = (self.gaps[-1][0], block.t1)
        else:
            self.gaps.append((start, block.t1))
        return block

    def read(self) -> AudioBlock | None:
        while not self._stopped.is_set():
            if self._lost_at is not None:
                block = self._gap_block()
                if block is not None:
                    return block
                continue
            out = self._buf.pop()
            if out is not None:
                return self._emit(out, self._last_data)
            try:
                raw, wall = self._q.get(timeout=0.1)
            except queue.Empty:
                stream = self._stream
                if self._stopped.is_set():
                    break
                inactive = stream is None or not getattr(stream, "active", True)
                stall = STALL_S if self._has_data else FIRST_DATA_S
                if inactive or time.monotonic() - self._last_data > stall:
                    self._device_lost("stream stopped" if inactive else f"no audio for {stall:.0f} s")
                continue
            self._last_data = wall
            self._has_data = True
            self._account()
            self._buf.push(self._convert(raw))
        return None
