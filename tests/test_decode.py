"""Decoding: every container, any rate and channel count, streamed, with clear errors."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from audio import SAMPLE_RATE
from audio.decode import AudioDecodeError, iter_blocks, load, probe
from tests.audio_files import damaged_m4a, tone, write_av


def dominant_freq(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spec)])


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_soundfile_formats_resampled_to_16k_mono(tmp_path, ext):
    x = tone(440, 2.0, 44_100)
    path = tmp_path / f"t.{ext}"
    sf.write(path, np.stack([x, x], axis=1), 44_100)
    info = probe(path)
    assert (info.sample_rate, info.channels, info.backend) == (44_100, 2, "soundfile")
    y = load(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) / SAMPLE_RATE - 2.0) < 0.06  # mp3 adds encoder padding
    assert abs(dominant_freq(y) - 440) < 3


@pytest.mark.parametrize("name,fmt,video", [("t.m4a", "mp4", False), ("t.mp4", "mp4", True),
                                            ("t.mkv", "matroska", True)])
def test_pyav_containers_and_video_audio_tracks(tmp_path, name, fmt, video):
    x = tone(300, 1.5, 48_000)
    path = write_av(tmp_path / name, np.stack([x, x]), 48_000, fmt, "aac", video=video)
    info = probe(path)
    assert info.backend == "pyav" and info.sample_rate == 48_000 and info.channels == 2
    y = load(path)
    assert abs(len(y) / SAMPLE_RATE - 1.5) < 0.1
    assert abs(dominant_freq(y) - 300) < 3


def test_video_without_audio_track_is_a_clear_error(tmp_path):
    import av

    path = tmp_path / "silent-film.mp4"
    with av.open(str(path), "w", format="mp4") as c:
        v = c.add_stream("mpeg4", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for _ in range(5):
            for p in v.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
    with pytest.raises(AudioDecodeError, match="no audio track"):
        probe(path)


def test_8khz_stereo_downmixed_and_upsampled(tmp_path):
    left, right = tone(200, 1.0, 8000, 0.4), tone(200, 1.0, 8000, 0.2)
    path = tmp_path / "phone.wav"
    sf.write(path, np.stack([left, right], axis=1), 8000)
    y = load(path)
    assert len(y) == pytest.approx(16_000, abs=2)
    # mono is the mean of the channels: amplitude 0.3
    assert np.max(np.abs(y[1000:-1000])) == pytest.approx(0.3, abs=0.01)


def test_48khz_six_channels(tmp_path):
    chans = [tone(500, 1.0, 48_000, 0.1 * (k + 1)) for k in range(6)]
    path = tmp_path / "surround.wav"
    sf.write(path, np.stack(chans, axis=1), 48_000)
    assert probe(path).channels == 6
    y = load(path)
    assert len(y) == pytest.approx(16_000, abs=2)
    assert np.max(np.abs(y[1000:-1000])) == pytest.approx(0.35, abs=0.01)
    assert abs(dominant_freq(y) - 500) < 3


def test_streamed_blocks_equal_whole_file(tmp_path):
    x = np.random.default_rng(0).standard_normal(44_100 * 3).astype(np.float32) * 0.1
    path = tmp_path / "noise.wav"
    sf.write(path, x, 44_100, subtype="FLOAT")
    blocks = list(iter_blocks(path, block_s=0.37))
    assert len(blocks) > 5
    whole = np.concatenate(blocks)
    assert len(whole) == pytest.approx(48_000, abs=2)
    again = np.concatenate(list(iter_blocks(path, block_s=5.0)))
    np.testing.assert_allclose(whole[:47_000], again[:47_000], atol=1e-4)


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"this is a text file, not audio\n" * 20, "not a recognised audio"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a recognised audio"),
])
def test_broken_files_raise_one_line_errors(tmp_path, content, message):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError, match=message) as err:
        load(path)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(AudioDecodeError, match="no such file"):
        probe(tmp_path / "nope.wav")


def test_truncated_wav_reads_what_is_there_and_says_so(tmp_path):
    from analysis.pipeline import AnalysisOptions, analyze_file

    path = tmp_path / "cut.wav"
    sf.write(path, tone(300, 4.0, 16_000), 16_000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert probe(path).duration == pytest.approx(4.0, abs=0.01)  # what the header declares
    result = analyze_file(path, AnalysisOptions(transcribe=False, diarize=False))
    assert result.timeline.duration == pytest.approx(2.0, abs=0.01)
    assert any("truncated" in w for w in result.warnings)


def test_three_hour_silent_file_streams_in_bounded_memory(tmp_path):
    """3 h of 8 kHz audio: decoded, resampled and VAD-scanned without holding it in memory."""
    path = tmp_path / "silent-3h.wav"
    with sf.SoundFile(path, "w", samplerate=8000, channels=1, subtype="PCM_16") as f:
        zeros = np.zeros(8000 * 600, dtype=np.int16)
        for _ in range(18):
            f.write(zeros)
    code = (
        "import re\n"
        "from analysis.pipeline import AnalysisOptions, analyze_file\n"
        f"r = analyze_file({str(path)!r}, AnalysisOptions(diarize=False))\n"
        "print(r.timeline.duration, len(r.timeline.turns), '|'.join(r.warnings))\n"
        # VmHWM is this process's own peak (ru_maxrss would carry pytest's peak across exec)
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    first, rss_mb = out.stdout.strip().splitlines()
    duration, n_turns, warnings = first.split(" ", 2)
    assert float(duration) == pytest.approx(10_800, abs=0.1)
    assert n_turns == "0" and "no speech" in warnings
    # 3 h of 16 kHz float32 would be 691 MB; streaming keeps the process far below that
    assert int(rss_mb) < 400


def test_decoder_error_mid_stream_keeps_the_audio_before_it_and_says_so(tmp_path, caplog):
    import logging

    path = damaged_m4a(tmp_path / "damaged.m4a")
    assert probe(path).duration == pytest.approx(6.0, abs=0.1)
    seen: list[str] = []
    with caplog.at_level(logging.WARNING, logger="audio.decode"):
        y = load(path, on_warning=seen.append)  # the error comes while a partial block is pending
    assert 1.0 < len(y) / SAMPLE_RATE < 5.5
    assert len(seen) == 1 and "unreadable audio data after" in seen[0] and "\n" not in seen[0]
    assert "unreadable audio data" in caplog.text
    # the same when the error comes right after a block was handed out (nothing pending)
    seen.clear()
    blocks = list(iter_blocks(path, block_s=1024 / 48_000, on_warning=seen.append))
    assert len(np.concatenate(blocks)) == pytest.approx(len(y), abs=SAMPLE_RATE * 0.1)
    assert len(seen) == 1


def test_analysis_of_a_damaged_file_warns_of_the_decoder_error(tmp_path):
    from analysis.pipeline import AnalysisOptions, analyze_file

    result = analyze_file(damaged_m4a(tmp_path / "damaged.m4a"), AnalysisOptions(transcribe=False, diarize=False))
    assert 1.0 < result.timeline.duration < 5.5
    assert any("unreadable audio data after" in w for w in result.warnings), result.warnings
