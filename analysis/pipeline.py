"""The offline analysis of a recorded session: decode → VAD → (diarization) → transcription → timeline.

``analyze_file`` streams the file through decoding and VAD block by block into a disk-backed store,
then the later stages read back only what they need: diarization one window of at most
``diarize_window_s`` (30 min) at a time, transcription one chunk of speech (at most 28 s) at a time,
tone one turn at a time, so that peak memory does not grow with the recording's length. Each stage's
wall time is recorded so that the benchmark can print real-time factors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from analysis.attribution import attribute
from analysis.cues import CueOptions, compute_cues
from analysis.diarization import DiarizationOptions
from analysis.timeline import Speaker, Timeline, Turn, write_rttm
from analysis.transcribe import Transcriber, TranscriberOptions, model_description
from analysis.vad import SpeechRegion, VadOptions, VadStage
from analysis.windowed_diarization import WINDOW_S as DIARIZE_WINDOW_S
from audio import SAMPLE_RATE
from audio.decode import AudioDecodeError, AudioInfo, iter_blocks, probe
from audio.store import PcmStore

ProgressFn = Callable[[str, float], None]  # (stage name, fraction done 0..1)
TRUNCATION_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class AnalysisOptions:
    """What ``analyze_file`` does. ``therapist_voiceprint`` is an enrolled voice (see
    ``analysis/enrollment.py``): the matching speaker gets ``role: "therapist"``, the others ``"client"``."""

    vad: VadOptions = field(default_factory=VadOptions)
    transcriber: TranscriberOptions = field(default_factory=TranscriberOptions)
    diarization: DiarizationOptions = field(default_factory=DiarizationOptions)
    cues: CueOptions = field(default_factory=CueOptions)
    transcribe: bool = True
    diarize: bool = True
    therapist_voiceprint: np.ndarray | None = field(default=None, compare=False)
    therapist_name: str | None = None
    # s: a longer recording is diarized in windows of at most about this (analysis/windowed_diarization.py)
    diarize_window_s: float = DIARIZE_WINDOW_S


@dataclass
class AnalysisResult:
    timeline: Timeline
    info: AudioInfo
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)


def _noop(stage: str, fraction: float) -> None:
    pass


def decode_and_detect(path: str | Path, vad_options: VadOptions, progress: ProgressFn = _noop,
                      stage_seconds: dict[str, float] | None = None, warnings: list[str] | None = None
                      ) -> tuple[AudioInfo, PcmStore, list[SpeechRegion]]:
    """Stream the file once: decode (and resample) each block, store it and run VAD on it. A decoder
    error after some audio ends the stream there and is appended to ``warnings``."""
    times = stage_seconds if stage_seconds is not None else {}
    t0 = time.perf_counter()
    info = probe(path)
    total = info.duration or 1.0
    store = PcmStore(SAMPLE_RATE)
    vad = VadStage(vad_options)
    regions: list[SpeechRegion] = []
    t_decode = time.perf_counter() - t0
    t_vad = 0.0
    try:
        blocks = iter_blocks(path, info=info, on_progress=lambda s: progress("decode", min(1.0, s / total)),
                             on_warning=None if warnings is None else warnings.append)
        while True:
            t1 = time.perf_counter()
            try:
                block = next(blocks)
            except StopIteration:
                t_decode += time.perf_counter() - t1
                break
            store.append(block)
            t2 = time.perf_counter()
            t_decode += t2 - t1
            regions.extend(vad.process(block))
            t_vad += time.perf_counter() - t2
        regions.extend(vad.flush())
    except BaseException:
        store.close()
        raise
    progress("decode", 1.0)
    times["decode"] = t_decode
    times["vad"] = t_vad
    if len(store) == 0:
        store.close()
        raise AudioDecodeError(f"{path}: contains no audio samples")
    return info, store, regions


def analyze_file(path: str | Path, options: AnalysisOptions | None = None,
                 progress: ProgressFn = _noop) -> AnalysisResult:
    """Analyse one recording. Raises :class:`AudioDecodeError` for files that cannot be read."""
    options = options or AnalysisOptions()
    stage_seconds: dict[str, float] = {}
    warnings: list[str] = []
    info, store, regions = decode_and_detect(path, options.vad, progress, stage_seconds, warnings)
    try:
        duration = store.duration
        if info.duration and info.duration - duration > TRUNCATION_TOLERANCE_S:
            warnings.append(f"the file seems truncated: its header declares {info.duration:.1f} s "
                            f"but only {duration:.1f} s could be read; analysed what is there")
        source = {"file": Path(path).name, "sample_rate": info.sample_rate, "channels": info.channels,
                  "format": info.format, "declared_duration": round(info.duration, 3)}
        return _analyze_stored(store.read, duration, regions, info, source, options, progress,
                               stage_seconds, warnings)
    finally:
        store.close()


READ_BLOCK_S = 60.0  # s: analyze_samples reads its audio in slices this long for the VAD


def analyze_samples(read: Callable[[float, float | None], np.ndarray], duration: float,
                    options: AnalysisOptions | None = None, progress: ProgressFn = _noop,
                    source: dict | None = None) -> AnalysisResult:
    """Analyse audio that is already 16 kHz mono and readable by time (``read(start_s, end_s)`` ->
    float32), e.g. a session of the encrypted store decrypted slice by slice: nothing is written to
    disk (the VAD reads it once in :data:`READ_BLOCK_S` slices; the later stages read what they need)."""
    options = options or AnalysisOptions()
    stage_seconds: dict[str, float] = {}
    warnings: list[str] = []
    t0 = time.perf_counter()
    vad = VadStage(options.vad)
    regions: list[SpeechRegion] = []
    t = 0.0
    while t < duration:
        end = min(duration, t + READ_BLOCK_S)
        regions.extend(vad.process(read(t, end)))
        progress("decode", min(1.0, end / duration) if duration else 1.0)
        t = end
    regions.extend(vad.flush())
    stage_seconds["vad"] = time.perf_counter() - t0
    progress("decode", 1.0)
    info = AudioInfo(path="", duration=duration, sample_rate=SAMPLE_RATE, channels=1, format="pcm_s16le",
                     backend="memory")
    return _analyze_stored(read, duration, regions, info, {**(source or {}), "sample_rate": SAMPLE_RATE,
                                                            "channels": 1}, options, progress, stage_seconds,
                           warnings)


def _analyze_stored(read, duration: float, regions: list[SpeechRegion], info: AudioInfo, source: dict,
                    options: AnalysisOptions, progress: ProgressFn, stage_seconds: dict[str, float],
                    warnings: list[str]) -> AnalysisResult:
    """The stages after decoding and VAD, reading the audio through ``read(start_s, end_s)``."""
    if not regions:
        warnings.append("no speech was detected")

    speaker_ids, turns = ["S1"], [Turn("S1", r.start, r.end) for r in regions]
    roles: dict[str, str | None] = {}
    match: float | None = None
    if options.diarize and regions:
        from analysis.windowed_diarization import diarize_windows

        t = time.perf_counter()
        diarized = diarize_windows(read, duration, [(r.start, r.end) for r in regions],
                                   options.diarization, progress=lambda f: progress("diarize", f),
                                   window_s=options.diarize_window_s)
        stage_seconds["diarize"] = time.perf_counter() - t
        if diarized.turns:
            speaker_ids, turns = diarized.speakers, list(diarized.turns)
        if options.therapist_voiceprint is not None and diarized.embeddings:
            from analysis.enrollment import assign_roles

            roles, _matched, match = assign_roles(diarized.embeddings, options.therapist_voiceprint)
        progress("diarize", 1.0)

    utterances: tuple = ()
    if options.transcribe and regions:
        t = time.perf_counter()
        transcriber = Transcriber(options.transcriber)
        transcriber.model  # noqa: B018  (load once, timed apart from the transcription itself)
        stage_seconds["model_load"] = time.perf_counter() - t
        t = time.perf_counter()
        utterances = tuple(transcriber.transcribe_regions(
            read, [(r.start, r.end) for r in regions], duration,
            on_progress=lambda f: progress("transcribe", f)))
        stage_seconds["transcribe"] = time.perf_counter() - t
    progress("transcribe", 1.0)
    if utterances:  # who said each word: the one rule the cue engine counts words with, one speaker or more
        utterances = tuple(attribute(utterances, turns))

    t = time.perf_counter()
    metrics, events = compute_cues(turns, utterances, duration, options.cues, audio=read,
                                   speakers=speaker_ids)
    warnings.extend(metrics.session.get("warnings", ()))  # e.g. tone that could not be measured
    stage_seconds["cues"] = time.perf_counter() - t
    if match is not None:
        metrics = replace(metrics, session={**metrics.session, "therapist_match": round(match, 3)})
    timeline = Timeline(
        duration=duration,
        speakers=label_speakers(speaker_ids, roles, options.therapist_name),
        turns=tuple(sorted(turns, key=lambda t: (t.start, t.speaker))),
        utterances=tuple(sorted(utterances, key=lambda u: u.start)),
        events=events,
        metrics=metrics,
        source=source,
        provenance=_provenance(options),
    )
    return AnalysisResult(timeline, info, warnings, stage_seconds)


def label_speakers(ids: list[str], roles: dict[str, str | None], therapist_name: str | None
                   ) -> tuple[Speaker, ...]:
    """Display labels: the enrolled name (or "Therapist") and "Client"/"Client 2"..., else "Speaker N"."""
    clients = [i for i in ids if roles.get(i) == "client"]
    out = []
    for n, sid in enumerate(ids, 1):
        role = roles.get(sid)
        if role == "therapist":
            label = therapist_name or "Therapist"
        elif role == "client":
            label = "Client" if len(clients) == 1 else f"Client {clients.index(sid) + 1}"
        else:
            label = f"Speaker {n}"
        out.append(Speaker(sid, label, role))
    return tuple(out)


def _provenance(options: AnalysisOptions) -> dict:
    from analysis import __version__

    prov = {"app": "attune", "version": __version__, "vad": {"engine": "webrtcvad", **vars(options.vad)}}
    if options.diarize:
        from analysis.diarization import model_description as diarization_models

        prov["diarization"] = {**diarization_models(), **vars(options.diarization)}
    if options.transcribe:
        prov["transcription"] = {"engine": "faster-whisper", **model_description(options.transcriber),
                                 "language": options.transcriber.language}
    return prov


def write_outputs(result: AnalysisResult, out_dir: Path, stem: str) -> list[Path]:
    """Write ``<stem>.timeline.json`` and ``<stem>.rttm`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    timeline_path = out_dir / f"{stem}.timeline.json"
    rttm_path = out_dir / f"{stem}.rttm"
    result.timeline.save(timeline_path)
    write_rttm(result.timeline.turns, rttm_path, stem)
    return [timeline_path, rttm_path]
