"""Makers of small test recordings in every container Attune must read."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tone(freq: float, seconds: float, sr: int, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_av(path: Path, samples: np.ndarray, sr: int, fmt: str, codec: str, video: bool = False) -> Path:
    """Encode (channels, n) float32 samples with PyAV (AAC in MP4/M4A/MKV, optionally with a video track)."""
    import av

    layout = {1: "mono", 2: "stereo"}[samples.shape[0]]
    with av.open(str(path), "w", format=fmt) as c:
        if video:
            v = c.add_stream("mpeg4", rate=10)
            v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream(codec, rate=sr)
        a.layout = layout
        for i in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, i:i + 1024]),
                                               format="fltp", layout=layout)
            frame.sample_rate = sr
            for p in a.encode(frame):
                c.mux(p)
        if video:
            for _ in range(int(10 * samples.shape[1] / sr)):
                img = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
                for p in v.encode(img):
                    c.mux(p)
            for p in v.encode():
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path


def damaged_m4a(path: Path) -> Path:
    """6 s of a 300-Hz tone, AAC in MP4, whose middle tenth of bytes is zeroed: FFmpeg's decoder stops
    with "invalid data" about 3 s in (a recording damaged on disk)."""
    x = tone(300, 6.0, 48_000)
    write_av(path, x[None, :], 48_000, "mp4", "aac")
    data = bytearray(path.read_bytes())
    a, n = len(data) // 2, len(data) // 10
    data[a:a + n] = bytes(n)
    path.write_bytes(bytes(data))
    return path
