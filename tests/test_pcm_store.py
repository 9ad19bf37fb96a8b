"""The disk-backed PCM store (audio/store.py): exact round trip, read-only once read, and reading does
not leave the recording in the process's resident memory (issue 12, point 7)."""

import sys

import numpy as np
import pytest

from audio import SAMPLE_RATE
from audio.store import PcmStore


def test_round_trip_in_pieces_and_clipped_ranges():
    rng = np.random.default_rng(1)
    x = np.clip(rng.standard_normal(SAMPLE_RATE * 7) * 0.3, -1, 1).astype(np.float32)
    with PcmStore() as store:
        for i in range(0, len(x), 12345):
            store.append(x[i: i + 12345])
        assert store.duration == pytest.approx(7.0)
        whole = store.read()
        assert whole.dtype == np.float32 and len(whole) == len(x)
        assert np.max(np.abs(whole - x)) <= 1.0 / 32767 + 1e-7  # int16 quantisation only
        np.testing.assert_array_equal(store.read(2.5, 3.0), whole[40000:48000])
        assert len(store.read(6.5, 99.0)) == SAMPLE_RATE // 2  # clipped to what is stored
        assert len(store.read(-1.0, 0.25)) == SAMPLE_RATE // 4
        assert len(store.read(5.0, 4.0)) == 0
        with pytest.raises(RuntimeError):
            store.append(x[:10])


def _rss_file_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssFile:"):
                return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_reading_everything_does_not_stay_resident():
    """Windowed diarization and the tone figures read the whole recording, a stretch at a time. Read
    through a memory map, every page read stayed in the resident set (peak RSS grew by the recording's
    size, 115 MB an hour); read with pread, nothing stays."""
    block = (np.random.default_rng(2).standard_normal(SAMPLE_RATE * 60) * 0.1).astype(np.float32)
    with PcmStore() as store:
        for _ in range(10):  # 10 min: 19 MB of int16
            store.append(block)
        before = _rss_file_kb()
        for start in range(0, 600, 60):
            assert len(store.read(start, start + 60)) == SAMPLE_RATE * 60
        assert _rss_file_kb() - before < 5 * 1024


def test_the_temporary_file_holds_no_plain_audio(tmp_path):
    """Issue 13: nothing decrypted into temp files. The file is key-stream noise; any stretch, at any
    sample offset, reads back exactly."""
    x = (np.sin(np.arange(SAMPLE_RATE * 3) * 0.05) * 0.5).astype(np.float32)
    with PcmStore(directory=str(tmp_path)) as store:
        store.append(x[:777])
        store.append(x[777:])
        (path,) = list(tmp_path.iterdir())
        store.read(0.0, 0.01)  # flushed
        raw = path.read_bytes()
        plain = np.clip(x * 32767.0, -32768, 32767).astype("<i2").tobytes()
        assert len(raw) == len(plain) and raw != plain
        assert plain[1000:1064] not in raw  # not even a stretch of it
        whole = store.read()
        for a in (1, 63, 777, 31_999):
            np.testing.assert_array_equal(store.read(a / SAMPLE_RATE, (a + 501) / SAMPLE_RATE), whole[a: a + 501])
    assert not list(tmp_path.iterdir())
