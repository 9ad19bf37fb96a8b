"""The session's audio as WAV (``soundfile``), whole or a time range, for supervision. A de-identified
export has no audio: voices identify people, so ``deidentify=True`` refuses (:class:`ExportError`)."""

from __future__ import annotations

from pathlib import Path

from analysis.export.common import ExportError, out_files
from analysis.timeline import Timeline


def write_wav(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
              words: bool = True, audio_path: str | Path | None = None, start: float | None = None,
              end: float | None = None, audio_reader=None, **_: object) -> list[Path]:
    """``audio_path``: an audio file; else ``audio_reader()``: an object with ``sample_rate``,
    ``samples`` and ``read(start_s, end_s)`` -> mono float32 (an encrypted session's audio, decrypted a
    slice at a time)."""
    import soundfile as sf

    if deidentify:
        raise ExportError("audio cannot be de-identified (voices identify people): export wav without "
                          "de-identification")
    if (audio_path is None or not Path(audio_path).is_file()) and audio_reader is not None:
        return _write_from_reader(audio_reader(), out_path, start, end)
    if audio_path is None or not Path(audio_path).is_file():
        raise ExportError("this session has no audio kept")
    path = out_files(out_path, ".wav")
    try:
        with sf.SoundFile(str(audio_path)) as src:
            sr = src.samplerate
            a = 0 if start is None else max(0, int(round(start * sr)))
            b = src.frames if end is None else min(src.frames, int(round(end * sr)))
            if b <= a:
                raise ExportError(f"empty time range ({start} - {end} s)")
            src.seek(a)
            with sf.SoundFile(str(path), "w", samplerate=sr, channels=src.channels, subtype="PCM_16",
                              format="WAV") as dst:
                left = b - a
                while left > 0:
                    block = src.read(min(left, sr * 60), dtype="int16", always_2d=True)
                    if not len(block):
                        break
                    dst.write(block)
                    left -= len(block)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ExportError(f"the audio cannot be read ({str(exc).splitlines()[0][:120]})") from None
    return [path]


def _write_from_reader(reader, out_path: str | Path, start: float | None, end: float | None) -> list[Path]:
    import soundfile as sf

    sr = int(reader.sample_rate)
    total = reader.samples / sr
    a = 0.0 if start is None else max(0.0, float(start))
    b = total if end is None else min(total, float(end))
    if b <= a:
        raise ExportError(f"empty time range ({start} - {end} s)")
    path = out_files(out_path, ".wav")
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=1, subtype="PCM_16", format="WAV") as dst:
        t = a
        while t < b:
            dst.write(reader.read(t, min(b, t + 60.0)))
            t += 60.0
    return [path]
