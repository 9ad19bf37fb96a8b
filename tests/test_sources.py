"""Audio sources: the file source's blocks and pacing; the microphone source against a fake PortAudio."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from audio.decode import load
from audio.sources import BLOCK_S, SAMPLE_RATE, DeviceError, FileSource, MicrophoneSource, level_dbfs

BLOCK = round(BLOCK_S * SAMPLE_RATE)


@pytest.fixture(scope="module")
def tone_file(tmp_path_factory):
    """2.35 s of a 440 Hz tone at 44.1 kHz stereo (so the file source must resample and mix)."""
    path = tmp_path_factory.mktemp("src") / "tone.wav"
    sr = 44_100
    t = np.arange(int(2.35 * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(path, np.stack([x, x], axis=1).astype(np.float32), sr)
    return path


def test_file_source_fast_emits_exact_blocks(tone_file):
    src = FileSource(tone_file)
    src.start()
    blocks = list(src)
    assert all(len(b.samples) == BLOCK for b in blocks[:-1])
    assert 0 < len(blocks[-1].samples) <= BLOCK
    for a, b in zip(blocks, blocks[1:], strict=False):
        assert b.t0 == pytest.approx(a.t1)
    assert blocks[0].t0 == 0.0
    joined = np.concatenate([b.samples for b in blocks])
    np.testing.assert_array_equal(joined, load(tone_file))  # same samples as the offline decoder
    assert src.time == pytest.approx(len(joined) / SAMPLE_RATE)
    assert -14 < src.level_dbfs < -9  # 0.3 * sine: -13.5 dBFS... within a block of the end
    assert src.read() is None


def test_file_source_paced_in_real_time(tone_file):
    src = FileSource(tone_file, realtime=True)
    t = time.monotonic()
    src.start()
    walls = []
    for b in src:
        walls.append((b.t1, b.wall, time.monotonic()))
    elapsed = time.monotonic() - t
    assert 2.3 <= elapsed < 2.9
    for t1, wall, got in walls:  # each block is released when its last sample would be captured
        assert wall - t == pytest.approx(t1, abs=0.05)
        assert got >= wall - 0.005


def test_file_source_stop_from_another_thread(tone_file):
    src = FileSource(tone_file, realtime=True)
    src.start()
    threading.Timer(0.35, src.stop).start()
    t = time.monotonic()
    n = sum(1 for _ in src)
    assert time.monotonic() - t < 0.6
    assert 2 <= n <= 5


def test_file_source_says_where_a_damaged_file_stops(tmp_path):
    from tests.audio_files import damaged_m4a

    src = FileSource(damaged_m4a(tmp_path / "damaged.m4a"))
    src.start()
    heard = sum(len(b.samples) for b in src) / SAMPLE_RATE
    assert 1.0 < heard < 5.5  # declared 6 s
    assert len(src.warnings) == 1 and "unreadable audio data after" in src.warnings[0]


def test_level_dbfs():
    assert level_dbfs(np.zeros(100, np.float32)) == -100.0
    assert level_dbfs(np.ones(100, np.float32)) == pytest.approx(0.0)
    assert level_dbfs(np.full(100, 0.1, np.float32)) == pytest.approx(-20.0)


def test_sounddevice_is_imported_lazily():
    code = "import sys, audio.sources; print('sounddevice' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- a fake PortAudio -------------------------------------------------------------------------------
class PortAudioError(Exception):
    pass


class FakeStream:
    def __init__(self, sd, device, channels, samplerate, dtype, blocksize, callback):
        self.sd, self.rate, self.blocksize, self.callback = sd, samplerate, blocksize, callback
        self.channels = channels
        self.active = False
        self.phase = 0
        self._stop = threading.Event()
        sd.streams.append(self)

    def push(self, n=1):
        for _ in range(n):
            t = (self.phase + np.arange(self.blocksize)) / self.rate
            self.phase += self.blocksize
            x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            self.callback(np.repeat(x[:, None], self.channels, axis=1), self.blocksize, None, 0)

    def _run(self):
        while not self._stop.is_set() and not self.sd.gone:
            self.push()
            time.sleep(self.blocksize / self.rate / self.sd.speed)
        self.active = False

    def start(self):
        if self.sd.open_error:
            raise PortAudioError(self.sd.open_error)
        self.active = True
        if self.sd.auto:
            threading.Thread(target=self._run, daemon=True).start()

    def stop(self):
        self._stop.set()
        self.active = False

    def close(self):
        self.stop()


class FakeSD:
    PortAudioError = PortAudioError

    def __init__(self, devices=None, rates=(16_000,), open_error=None, auto=False, speed=4.0):
        self.devices = devices if devices is not None else [
            {"name": "Speakers", "max_input_channels": 0, "default_samplerate": 48_000},
            {"name": "USB Mic", "max_input_channels": 1, "default_samplerate": 48_000},
        ]
        self.rates, self.open_error, self.auto, self.speed = set(rates), open_error, auto, speed
        self.gone = False
        self.streams: list[FakeStream] = []

    def query_devices(self, device=None, kind=None):
        devs = [] if self.gone else self.devices
        if kind == "input":
            ins = [d for d in devs if d["max_input_channels"] > 0]
            if not ins:
                raise PortAudioError("no default input")
            return ins[0]
        return devs

    def check_input_settings(self, device, channels, samplerate, dtype):
        if self.gone:
            raise PortAudioError("Invalid device [PaErrorCode -9996]")
        if samplerate not in self.rates:
            raise PortAudioError("Invalid sample rate [PaErrorCode -9997]")

    def InputStream(self, **kw):  # noqa: N802 (sounddevice's name)
        return FakeStream(self, **kw)


def test_no_input_device():
    sd = FakeSD(devices=[{"name": "Speakers", "max_input_channels": 0, "default_samplerate": 48_000}])
    with pytest.raises(DeviceError, match="no audio input device"):
        MicrophoneSource(sd_module=sd).start()


def test_unknown_device_name_lists_inputs():
    with pytest.raises(DeviceError, match=r"no input device 'Blue Yeti' \(inputs: 1: USB Mic\)"):
        MicrophoneSource("Blue Yeti", sd_module=FakeSD()).start()


def test_device_by_partial_name_and_index():
    for dev in ("usb", 1, "1"):
        src = MicrophoneSource(dev, sd_module=FakeSD())
        src.start()
        assert src.device_name == "USB Mic" and src.device_rate == 16_000
        src.stop()


def test_refused_rate_falls_back_to_default_and_resamples():
    sd = FakeSD(rates=(48_000,))
    src = MicrophoneSource(sd_module=sd)
    src.start()
    assert src.device_rate == 48_000
    sd.streams[-1].push(30)  # 3 s at 48 kHz
    blocks = [src.read() for _ in range(25)]
    src.stop()
    assert all(len(b.samples) == BLOCK for b in blocks)
    x = np.concatenate([b.samples for b in blocks])[SAMPLE_RATE // 2:]
    peak_hz = np.argmax(np.abs(np.fft.rfft(x))) * SAMPLE_RATE / len(x)
    assert peak_hz == pytest.approx(440, abs=2)


def test_all_rates_refused():
    with pytest.raises(DeviceError, match="refuses a sample rate"):
        MicrophoneSource(sd_module=FakeSD(rates=(44_100,))).start()


def test_permission_blocked():
    sd = FakeSD(open_error="Error opening InputStream: Permission denied [PaErrorCode -9986]")
    with pytest.raises(DeviceError, match="access to the microphone is blocked") as err:
        MicrophoneSource(sd_module=sd).start()
    assert "\n" not in str(err.value)


def test_overflow_is_counted_and_the_clock_keeps_pace():
    sd = FakeSD()
    src = MicrophoneSource(sd_module=sd, queue_blocks=2)
    src.start()
    sd.streams[-1].push(5)  # nobody reads: 3 of 5 callbacks find the queue full
    blocks = [src.read() for _ in range(5)]
    assert src.overflows == 1
    assert src.lost_s == pytest.approx(0.3)
    assert blocks[-1].t1 == pytest.approx(0.5)  # lost audio became silence: the clock did not slip
    assert sum(float(np.abs(b.samples).max()) == 0.0 for b in blocks) == 3
    src.stop()
    assert src.read() is None


def test_device_vanishes_and_returns(monkeypatch):
    import audio.sources as s

    monkeypatch.setattr(s, "STALL_S", 0.3)
    sd = FakeSD(auto=True, speed=4.0)
    src = MicrophoneSource(sd_module=sd)
    src.start()
    got = [src.read() for _ in range(5)]
    sd.gone = True  # unplugged: the stream stops
    t = time.monotonic()
    while time.monotonic() - t < 1.5:
        got.append(src.read())
    assert src.status == "device lost" and "stopped delivering audio" in src.error
    sd.gone = False  # plugged back in
    t = time.monotonic()
    while src.status != "running" and time.monotonic() - t < 3:
        got.append(src.read())
    for _ in range(5):
        got.append(src.read())
    src.stop()
    assert src.status == "stopped" and len(sd.streams) >= 2
    assert any(b.gap for b in got) and not got[-1].gap
    assert src.gaps and src.gaps[0][1] > src.gaps[0][0]
    for a, b in zip(got, got[1:], strict=False):
        assert b.t0 == pytest.approx(a.t1)  # one contiguous clock through the gap


def test_device_vanishes_without_reconnect(monkeypatch):
    import audio.sources as s

    monkeypatch.setattr(s, "STALL_S", 0.3)
    sd = FakeSD(auto=True)
    src = MicrophoneSource(sd_module=sd, reconnect=False)
    src.start()
    src.read()
    sd.gone = True
    with pytest.raises(DeviceError, match="stopped delivering audio"):
        for _ in range(100):
            src.read()


def test_live_session_keeps_recording_through_a_device_gap(tmp_path, monkeypatch):
    import json

    import audio.sources as s
    from analysis.live import LiveOptions
    from app.live_session import LiveSession

    monkeypatch.setattr(s, "STALL_S", 0.3)
    sd = FakeSD(auto=True, speed=1.0)
    seen = []
    heard_1s, lost = threading.Event(), threading.Event()

    def on_block(state):  # the analysis thread, after each block: the test acts on what it reports
        seen.append(state)
        if state.t >= 1.0:
            heard_1s.set()
        if state.status == "device lost":
            lost.set()

    session = LiveSession(MicrophoneSource(sd_module=sd), tmp_path / "s", LiveOptions(transcribe=False, diarize=False),
                          duration=4.0, on_block=on_block)
    session.start()
    assert heard_1s.wait(30)  # a second of audio analysed
    sd.gone = True
    assert lost.wait(30)  # the stall was noticed and a gap block (silence) analysed
    sd.gone = False
    tl = session.run()  # already started: run() only waits and finishes
    assert tl.duration == pytest.approx(4.0, abs=0.11)
    statuses = [st.status for st in seen]
    assert "device lost" in statuses and statuses[-1] == "listening"
    assert any(st.error and "stopped delivering audio" in st.error for st in seen)
    events = [json.loads(line) for line in (tmp_path / "s" / "events.jsonl").read_text().splitlines()]
    gaps = [e for e in events if e["type"] == "gap"]
    assert gaps and gaps[0]["end"] > gaps[0]["start"]
    y, sr = sf.read(tmp_path / "s" / "audio.wav")
    assert len(y) / sr == pytest.approx(4.0, abs=0.11)  # the recording spans the gap (silence there)


def test_live_session_without_a_device_fails_cleanly(tmp_path):
    import json

    from analysis.live import LiveOptions
    from app.live_session import LiveSession

    sd = FakeSD(devices=[])
    session = LiveSession(MicrophoneSource(sd_module=sd), tmp_path / "s", LiveOptions(transcribe=False, diarize=False))
    with pytest.raises(DeviceError, match="no audio input device"):
        session.start()
    meta = json.loads((tmp_path / "s" / "session.json").read_text())
    assert meta["status"] == "failed" and "no audio input device" in meta["error"]


def test_a_slow_starting_input_is_not_taken_for_a_lost_one(monkeypatch):
    """An input whose first audio comes later than a stall would allow (a PulseAudio monitor source:
    0.7-2 s; a Bluetooth headset) is waited for, up to FIRST_DATA_S: no gap, no reconnection, nothing
    lost from the start. Once it delivers, a stall of STALL_S is a lost device again."""
    import audio.sources as s

    monkeypatch.setattr(s, "STALL_S", 0.2)
    monkeypatch.setattr(s, "FIRST_DATA_S", 3.0)
    sd = FakeSD(auto=False)
    src = MicrophoneSource(sd_module=sd)
    src.start()
    late = threading.Timer(0.8, lambda: sd.streams[0].push(3))  # first audio after 4 stalls' time
    late.start()
    first = src.read()
    late.join()
    assert not first.gap and first.t0 == 0.0 and float(np.abs(first.samples).max()) > 0.1
    assert src.status == "running" and src.gaps == [] and len(sd.streams) == 1
    assert [src.read().gap for _ in range(2)] == [False, False]
    block = src.read()  # nothing more comes: now a stall is noticed after STALL_S
    assert block.gap and src.status == "device lost"
    src.stop()
