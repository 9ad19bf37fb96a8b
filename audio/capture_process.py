"""A microphone captured in a small helper process, so that nothing in the session's process can starve it.

PortAudio hands each block to a Python callback, which needs the interpreter lock. While the session's
process loads the speech models (importing torch, reading weights) or runs native code that holds the
lock, that callback can be starved for seconds: blocks are lost and the input looks "lost". A helper
process that only captures (numpy and sounddevice, nothing else) never waits for it.

:class:`ProcessMicrophone` is an :class:`~audio.sources.AudioSource` with the microphone's behaviour
(same blocks, clock, level, overflows, gaps, device-lost status and reconnection): the helper runs a
:class:`~audio.sources.MicrophoneSource` and sends each block over a pipe; the pipe and the helper's
own queue (``QUEUE_BLOCKS``) hold the audio while this process is busy. On Linux the helper is forked
(it starts in milliseconds, with nothing but this module's imports done); elsewhere it is spawned.

:meth:`ProcessMicrophone.prepare` starts the helper ahead of the session (the desktop app does it while
its start dialog is shown): it loads PortAudio, which scans the sound devices (a tenth of a second or
more), and waits. :meth:`~ProcessMicrophone.start` then only opens the device, in milliseconds, so the
capture begins the moment the session starts. A device PortAudio did not list when it was loaded (one
plugged in, or held by another program at that moment) is looked for again once, at the open.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import sys
from typing import Any

from audio.sources import AudioBlock, AudioSource, DeviceError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0  # seconds to wait for the helper to open the device


def _rescan_devices() -> None:
    """Have PortAudio list the sound devices afresh (it lists them once, when it is loaded)."""
    import sounddevice as sd

    with contextlib.suppress(Exception):
        sd._terminate()
        sd._initialize()


def _open(device, block_s: float, reconnect: bool, prepared: bool):
    """A started :class:`~audio.sources.MicrophoneSource`; raises DeviceError."""
    from audio.sources import MicrophoneSource

    src = MicrophoneSource(device, block_s=block_s, reconnect=reconnect)
    try:
        src.start()
    except DeviceError:
        if not prepared:
            raise
        _rescan_devices()  # the device list is from before the session: look once more
        src = MicrophoneSource(device, block_s=block_s, reconnect=reconnect)
        src.start()
    return src


def _helper(conn, device, block_s: float, reconnect: bool, prepared: bool = False) -> None:
    if prepared:  # load PortAudio now, then wait for the session's device
        with contextlib.suppress(Exception):
            import sounddevice  # noqa: F401
        try:
            conn.send(("prepared", None))
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if not (isinstance(msg, tuple) and msg[0] == "open"):
            return
        device = msg[1]
    try:
        src = _open(device, block_s, reconnect, prepared)
    except DeviceError as exc:
        conn.send(("error", str(exc)))
        return
    conn.send(("started", src.describe()))
    sent_gaps = 0
    try:
        while not conn.poll():
            block = src.read()
            if block is None:
                break
            gaps = list(src.gaps) if len(src.gaps) != sent_gaps or block.gap else None
            sent_gaps = len(src.gaps)
            conn.send(("block", block.t0, block.samples, block.wall, block.gap,
                       (src.level_dbfs, src.overflows, src.lost_s, src.status, src.error), gaps))
    except DeviceError as exc:
        conn.send(("error", str(exc)))
    except (BrokenPipeError, EOFError, OSError):
        pass
    finally:
        src.stop()
    with contextlib.suppress(BrokenPipeError, OSError):
        conn.send(("end", src.describe()))


class ProcessMicrophone(AudioSource):
    """A :class:`~audio.sources.MicrophoneSource` running in a helper process (see the module doc)."""

    def __init__(self, device: int | str | None = None, block_s: float = 0.1, reconnect: bool = True) -> None:
        super().__init__(block_s)
        self.device = device
        self.reconnect = reconnect
        self._conn = None
        self._proc = None
        self._described: dict[str, Any] = {"kind": "microphone", "device": "", "device_rate": 0,
                                           "sample_rate": self.sample_rate}
        self._ended = False
        self._prepared = self._ready = False

    def describe(self) -> dict:
        return dict(self._described)

    def _spawn(self, prepared: bool) -> None:
        ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_helper, name="attune-capture", daemon=True,
                                 args=(child, self.device, self.block_s, self.reconnect, prepared))
        self._proc.start()
        child.close()
        self._conn = parent
        self._prepared = prepared
        self._ready = False  # a prepared helper said it has loaded PortAudio

    def prepare(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Start the helper now and wait (at most ``timeout`` s) until it has loaded PortAudio; no
        device is opened. ``start()`` then opens ``device`` at once. True when the helper is ready.
        Cheap to throw away: ``stop()``."""
        if self._proc is None:
            self._spawn(prepared=True)
        return self._wait_prepared(timeout)

    def _wait_prepared(self, timeout: float) -> bool:
        if not self._ready and self._prepared and self._conn.poll(timeout):
            try:
                self._ready = self._conn.recv()[0] == "prepared"
            except (EOFError, OSError):
                self._ready = False
        return self._ready

    @property
    def prepared(self) -> bool:
        """The helper is running and waits for ``start()``."""
        return self._proc is not None and self._prepared and self._proc.is_alive()

    def start(self) -> None:
        if self.prepared and self._wait_prepared(START_TIMEOUT_S):
            try:
                self._conn.send(("open", self.device))
            except (BrokenPipeError, OSError):
                self.stop()
                raise DeviceError("the audio capture process ended before the session") from None
            self._prepared = False
        else:
            if self._proc is not None:  # a helper that ended before the session (or a second start)
                self.stop()
            self._spawn(prepared=False)
        parent = self._conn
        if not parent.poll(START_TIMEOUT_S):
            self.stop()
            raise DeviceError("the input device did not open in time")
        try:
            kind, payload = parent.recv()
        except (EOFError, OSError):
            self.stop()
            raise DeviceError("the audio capture process ended at start") from None
        if kind == "error":
            self.stop()
            raise DeviceError(payload)
        self._described = payload
        self.status = "running"
        self._ended = False

    def read(self) -> AudioBlock | None:
        if self._conn is None or self._ended:
            return None
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                self._ended = True
                return None
            kind = msg[0]
            if kind == "block":
                _, t0, samples, wall, gap, (level, overflows, lost_s, status, error), gaps = msg
                self._emitted = int(round(t0 * self.sample_rate)) + len(samples)
                self.level_dbfs, self.overflows, self.lost_s = level, overflows, lost_s
                self.status, self.error = status, error
                if gaps is not None:
                    self.gaps = [tuple(g) for g in gaps]
                return AudioBlock(t0, samples, wall, gap)
            if kind == "error":  # the device is gone and no reconnection was asked for
                self._ended = True
                self.status, self.error = "device lost", msg[1]
                raise DeviceError(msg[1])
            if kind == "end":
                self._ended = True
                self._described = msg[1] or self._described
                return None

    def stop(self) -> None:
        conn, proc = self._conn, self._proc
        self._prepared = False
        if conn is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send("stop")
        if proc is not None:
            proc.join(3)
            if proc.is_alive():
                proc.terminate()
                proc.join(2)
        self.status = "stopped"
