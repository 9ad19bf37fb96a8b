"""Decoding any audio (or video) file into 16 kHz mono float32 blocks.

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis/Opus and MP3; PyAV (FFmpeg) reads everything else,
including M4A/AAC and the audio track of video containers. Channels are averaged to mono and the
result is resampled with soxr's streaming resampler, block by block, so a long file never has to be
held in memory whole.

A file that cannot be read at all raises :class:`AudioDecodeError`. A decoder error after some audio (a
damaged stretch in the middle of a compressed stream) ends the stream there: what was decoded is kept,
and the error is logged and passed to ``on_warning`` as one line, never swallowed. libsndfile is read a
second at a time (a truncated FLAC keeps what precedes the cut); a compressed file libsndfile cannot decode
from its start is handed to FFmpeg. NaN or infinite samples (float WAVs) become silence, counted in one
warning, and float samples beyond full scale are clipped, so nothing downstream sees a non-finite number.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio import SAMPLE_RATE

BLOCK_S = 10.0  # seconds of source audio decoded at a time
SF_READ_S = 1.0  # seconds per libsndfile read (a damaged stretch loses at most this much before it)

log = logging.getLogger(__name__)
WarnFn = Callable[[str], None]  # receives one line for the user (no transcript text: decoding knows none)


class AudioDecodeError(Exception):
    """A file that cannot be read as audio. ``str(err)`` is a one-line message for the user."""


class _SoundfileFailed(Exception):
    """libsndfile failed before decoding any audio (iter_blocks then tries PyAV)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class AudioInfo:
    path: str
    duration: float  # seconds, as declared by the container (may be 0 when unknown)
    sample_rate: int
    channels: int
    format: str
    backend: str  # "soundfile" or "pyav"


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioDecodeError(f"{path}: no such file")
    if path.is_dir():
        raise AudioDecodeError(f"{path}: is a folder, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioDecodeError(f"{path}: cannot be read (permission denied)")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"{path}: the file is empty (0 bytes)")


def _sf_info(path: Path) -> AudioInfo | None:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # libsndfile does not know the format (or the file is broken)
        return None
    if info.samplerate <= 0 or info.channels <= 0:
        return None
    duration = info.frames / info.samplerate
    if info.format == "WAV":
        declared = _declared_wav_seconds(path)
        duration = max(duration, declared or 0.0)
    return AudioInfo(str(path), duration, int(info.samplerate), int(info.channels), info.format, "soundfile")


def _av_info(path: Path) -> AudioInfo:
    import av

    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise AudioDecodeError(f"{path}: the file has no audio track")
            st = streams[0]
            if st.codec_context is None:
                raise AudioDecodeError(f"{path}: its audio track cannot be decoded (unknown codec or a damaged "
                                       "header)")
            rate = st.codec_context.sample_rate or st.rate
            channels = st.codec_context.channels if hasattr(st.codec_context, "channels") else 0
            if not channels:
                channels = st.codec_context.layout.nb_channels if st.codec_context.layout else 1
            if st.duration is not None and st.time_base is not None:
                duration = float(st.duration * st.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            else:
                duration = 0.0
            if not rate:
                raise AudioDecodeError(f"{path}: the audio track declares no sample rate")
            return AudioInfo(str(path), duration, int(rate), int(channels), container.format.name, "pyav")
    except AudioDecodeError:
        raise
    except Exception as exc:  # av.error.InvalidDataError and friends
        raise AudioDecodeError(f"{path}: not a recognised audio or video file ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    """The gist of a library error, without errno codes or the repeated file name."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    text = re.sub(r":\s*'[^']*'$", "", text)
    return text[:120].lower()


def _declared_wav_seconds(path: Path) -> float | None:
    """Duration a RIFF/WAVE header declares for its data chunk (to spot truncated recordings)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            byte_rate = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = f.read(size)
                    byte_rate = struct.unpack("<I", fmt[8:12])[0] if len(fmt) >= 12 else None
                    f.seek(size % 2, 1)
                elif cid == b"data":
                    if not byte_rate or size in (0, 0xFFFFFFFF):  # streaming writers leave these
                        return None
                    return size / byte_rate
                else:
                    f.seek(size + size % 2, 1)
    except OSError:
        return None


def probe(path: str | os.PathLike) -> AudioInfo:
    """Describe a file without decoding it; raises :class:`AudioDecodeError` with a clear message."""
    p = Path(path)
    _check_file(p)
    return _sf_info(p) or _av_info(p)


def _stream_error(info: AudioInfo, exc: BaseException, frames: int, on_warning: WarnFn | None) -> None:
    """A decoder error in the middle of a stream: nothing decoded yet raises; otherwise the stream ends
    here, and the cut is logged and reported to ``on_warning``."""
    if frames == 0:
        raise AudioDecodeError(f"{info.path}: unreadable audio data ({_short(exc)})") from None
    message = (f"unreadable audio data after {frames / info.sample_rate:.1f} s ({_short(exc)}); "
               "the rest of the file could not be read")
    log.warning("%s: %s", info.path, message)
    if on_warning is not None:
        on_warning(message)


def _raw_blocks_sf(info: AudioInfo, block_frames: int, on_warning: WarnFn | None = None
                   ) -> Iterator[np.ndarray]:
    import soundfile as sf

    # Read at most SF_READ_S at a time: when libsndfile hits a corrupt or truncated stretch, a read
    # fails whole, so small reads keep the audio before the damage.
    step = max(1, min(block_frames, int(SF_READ_S * info.sample_rate)))
    done = 0
    with sf.SoundFile(info.path) as f:
        pending: list[np.ndarray] = []
        n_pending = 0
        while True:
            try:
                data = f.read(step, dtype="float32", always_2d=True)
            except Exception as exc:  # a corrupt stretch in the middle of a compressed stream
                if done + n_pending == 0 and info.format != "WAV":
                    raise _SoundfileFailed(exc) from None
                _stream_error(info, exc, done + n_pending, on_warning)
                break
            if data.size == 0:
                break
            pending.append(data)
            n_pending += len(data)
            if n_pending >= block_frames:
                done += n_pending
                yield np.concatenate(pending)
                pending, n_pending = [], 0
        if pending:
            yield np.concatenate(pending)


def _raw_blocks_av(info: AudioInfo, block_frames: int, on_warning: WarnFn | None = None
                   ) -> Iterator[np.ndarray]:
    import av

    # Convert to packed float32 at the source rate and layout; soxr does the resampling.
    try:
        container = av.open(info.path)
    except Exception as exc:
        raise AudioDecodeError(f"{info.path}: not a recognised audio or video file ({_short(exc)})") from None
    with container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout=None, rate=None)
        pending: list[np.ndarray] = []
        n_pending = done = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    arr = out.to_ndarray()  # packed: shape (1, samples * channels)
                    ch = len(out.layout.channels)
                    arr = arr.reshape(-1, ch)
                    pending.append(arr)
                    n_pending += len(arr)
                if n_pending >= block_frames:
                    yield np.concatenate(pending)
                    done += n_pending
                    pending, n_pending = [], 0
        except av.error.FFmpegError as exc:
            _stream_error(info, exc, done + n_pending, on_warning)
        if pending:
            yield np.concatenate(pending)


def iter_blocks(
    path: str | os.PathLike,
    block_s: float = BLOCK_S,
    info: AudioInfo | None = None,
    on_progress: Callable[[float], None] | None = None,
    on_warning: WarnFn | None = None,
) -> Iterator[np.ndarray]:
    """Yield consecutive 16 kHz mono float32 blocks of the file (about ``block_s`` seconds each).

    ``on_progress`` receives the number of source seconds decoded so far; ``on_warning`` one line when
    a decoder error cuts the stream short (also logged).
    """
    import soxr

    info = info or probe(path)
    block_frames = max(1, int(block_s * info.sample_rate))
    raw = _raw_blocks_sf if info.backend == "soundfile" else _raw_blocks_av
    blocks = raw(info, block_frames, on_warning)
    try:
        first = next(blocks, None)
    except _SoundfileFailed as exc:
        # libsndfile could not decode even the start (a damaged FLAC/OGG/MP3): FFmpeg may do better.
        try:
            av_info = _av_info(Path(info.path))
        except AudioDecodeError:
            raise AudioDecodeError(f"{info.path}: unreadable audio data ({_short(exc.error)})") from None
        info = av_info
        blocks = _raw_blocks_av(info, max(1, int(block_s * info.sample_rate)), on_warning)
        first = next(blocks, None)
    resampler = None
    if info.sample_rate != SAMPLE_RATE:
        resampler = soxr.ResampleStream(info.sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    done = 0
    bad = 0
    for block in itertools.chain(() if first is None else (first,), blocks):
        finite = np.isfinite(block)
        if not finite.all():  # NaN/Inf samples (float WAVs can hold them): silence, counted, reported
            bad += int(block.size - np.count_nonzero(finite))
            block = np.where(finite, block, np.float32(0.0))
        block = np.clip(block, -1.0, 1.0)  # float formats can exceed full scale by any amount
        mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
        mono = np.ascontiguousarray(mono, dtype=np.float32)
        done += len(block)
        if resampler is not None:
            mono = resampler.resample_chunk(mono, last=False)
        if on_progress:
            on_progress(done / info.sample_rate)
        if mono.size:
            yield mono
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if tail.size:
            yield tail
    if bad:
        message = f"{bad} sample(s) were not numbers (NaN or infinite) and were replaced with silence"
        log.warning("%s: %s", info.path, message)
        if on_warning is not None:
            on_warning(message)


def load(path: str | os.PathLike, on_warning: WarnFn | None = None) -> np.ndarray:
    """The whole file as one 16 kHz mono float32 array (for short files and tests)."""
    blocks = list(iter_blocks(path, on_warning=on_warning))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
