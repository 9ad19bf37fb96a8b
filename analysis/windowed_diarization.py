"""Offline diarization of a long recording in bounded windows read from the PCM store.

Diarizing a whole recording at once costs memory that grows faster than its length: the waveform is
held as float32 (230 MB an hour), the speaker count and pyannote's clustering compare every (window,
speaker) embedding with every other (memory in the square of the length: about 0.26 GB for one hour's
embeddings, 1 GB for two), and the re-segmentation keeps CAM++ frame features for the whole recording
(0.7 GB an hour). A recording longer than ``window_s`` (default :data:`WINDOW_S`) is therefore cut into
equal windows of at most that length, each boundary moved into the longest pause near it so that no
speech is cut; each window is read from the store and diarized on its own (with the same options,
speaker count included), and the windows' speakers are linked by their voiceprints
(:func:`link_speakers`). Peak memory is then that of one window, whatever the length: each window of a
recording longer than ``ISOLATE_MIN_S`` is diarized in a child process of its own
(:mod:`analysis.diarize_process`), since in one process the allocators' fragmentation raised the peak
from one window to the next.

A recording no longer than ``window_s`` is diarized exactly as before: one call over all of it (in a
child process when it is longer than ``ISOLATE_MIN_S``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from analysis.diarization import DiarizationOptions, DiarizationResult
from analysis.timeline import Turn

log = logging.getLogger(__name__)

WINDOW_S = 1800.0  # s: the longest stretch diarized at once (30 min; see the module docstring)
CUT_SEARCH_S = 60.0  # s either side of a window's nominal end searched for the longest pause to cut in
# Cosine similarity of two windows' speaker voiceprints (pyannote centroids of CAM++ embeddings) at or
# above which they may be the same person when the count is automatic. Measured on the 8 dev calls, each
# diarized in two halves: the same person 0.63-0.97 (27 pairs, median 0.89), different people 0.35-0.87
# (27 pairs; 14 above 0.6, voices of one phone line). So the similarity alone does not tell people
# apart; what does is that two speakers of one window are never joined, and with the count given (the
# app's re-analysis) no threshold is used at all.
LINK_MIN_SIMILARITY = 0.6
# s: a recording longer than this is diarized in child processes (analysis/diarize_process.py), one per
# window, a shorter one here. Starting a process and loading the models there costs about 12 s; diarizing
# 15 min takes 180-300 s on 2 cores (RTF 0.2-0.33), so above this the cost is at most about 6 %, and a
# recording of 15-30 min is then diarized the way a longer one's windows are (the same peak memory: one
# window's, whatever the length). Shorter recordings stay here, where a process that analyses many
# (batch, tests) loads the models once.
ISOLATE_MIN_S = 900.0
TOUCH_S = 0.05  # s: a speaker's turns ending and starting this close to a window cut are one turn
#                (a cut falls in speech only when no pause is found; pyannote's frames are 17 ms)

Reader = Callable[[float, float], np.ndarray]  # (start s, end s) -> float32 samples
DiarizeFn = Callable[..., DiarizationResult]  # analysis.diarization.diarize's signature


def window_bounds(duration: float, regions: Sequence[tuple[float, float]], window_s: float = WINDOW_S,
                  search_s: float = CUT_SEARCH_S) -> list[tuple[float, float]]:
    """Windows ``(start, end)`` covering ``[0, duration]``: ``ceil(duration / window_s)`` of equal length,
    each inner boundary moved to the middle of the longest pause between speech ``regions`` (sorted
    ``(start, end)`` seconds) within ``search_s`` of it; where speech fills that stretch, the nominal
    boundary stays. The search reaches at most a quarter of ``window_s``, so a window is at most 1.5
    times ``window_s`` long (at the defaults, ``window_s + search_s``)."""
    n = max(1, math.ceil(duration / window_s))
    search_s = min(search_s, window_s / 4)
    cuts = [0.0]
    for i in range(1, n):
        nominal = i * duration / n
        lo, hi = max(cuts[-1], nominal - search_s), nominal + search_s
        best, best_len = nominal, 0.0
        prev_end = 0.0
        for start, end in list(regions) + [(duration, duration)]:
            a, b = max(prev_end, lo), min(start, hi)  # the pause before this region, inside the search
            if b - a > best_len:
                best, best_len = (a + b) / 2, b - a
            prev_end = max(prev_end, end)
        cuts.append(best)
    cuts.append(duration)
    return list(zip(cuts[:-1], cuts[1:], strict=True))


@dataclass
class _Member:
    window: int
    local: str
    vector: np.ndarray | None  # unit voiceprint, None when the window gave none
    talk_s: float


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def link_speakers(members: Sequence[_Member], options: DiarizationOptions,
                  min_similarity: float = LINK_MIN_SIMILARITY) -> list[list[int]]:
    """Group the windows' speakers into people: bottom-up, the pair of groups whose talk-weighted mean
    voiceprints are most alike is joined first; two speakers of one window are never joined (the window
    already told them apart). Joining stops below ``min_similarity``, unless there are more groups than
    the count allows (``num_speakers`` or ``max_speakers``), and never goes below ``num_speakers`` or
    ``min_speakers``. Returns groups of indices into ``members``."""
    groups = [[i] for i in range(len(members))]
    most = options.num_speakers or options.max_speakers or len(members)
    least = options.num_speakers or options.min_speakers or 1

    def centre(g: list[int]) -> np.ndarray | None:
        vs = [(members[i].vector, max(members[i].talk_s, 1e-3)) for i in g if members[i].vector is not None]
        return _unit(sum(w * v for v, w in vs)) if vs else None

    while len(groups) > least:
        best, pair = -np.inf, None
        centres = [centre(g) for g in groups]
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if centres[a] is None or centres[b] is None:
                    continue
                if {members[i].window for i in groups[a]} & {members[i].window for i in groups[b]}:
                    continue
                sim = float(centres[a] @ centres[b])
                if sim > best:
                    best, pair = sim, (a, b)
        if pair is None or (best < min_similarity and len(groups) <= most):
            break
        a, b = pair
        groups[a] = sorted(groups[a] + groups[b])
        del groups[b]
    return groups


def diarize_windows(read: Reader, duration: float, regions: Sequence[tuple[float, float]],
                    options: DiarizationOptions | None = None, progress: Callable[[float], None] | None = None,
                    window_s: float = WINDOW_S, diarize: DiarizeFn | None = None,
                    isolate: bool = True) -> DiarizationResult:
    """Diarize the recording that ``read(start, end)`` returns (``duration`` s, speech ``regions``) in
    windows of at most about ``window_s`` (see the module docstring). ``diarize`` defaults to
    :func:`analysis.diarization.diarize`; with the default and ``isolate``, a recording longer than
    :data:`ISOLATE_MIN_S` is diarized in a child process per window
    (:func:`analysis.diarize_process.diarize_in_child`: peak memory does not creep up from window to
    window, and this process never loads the models), unless this process may not have children."""
    options = options or DiarizationOptions()
    in_child = None
    if diarize is None:
        from analysis.diarize_process import can_start_child, diarize_in_child

        if isolate and duration > min(window_s, ISOLATE_MIN_S) and can_start_child():
            in_child = diarize_in_child
        from analysis.diarization import diarize
    if duration <= window_s:
        if in_child is not None:
            return in_child(read, 0.0, duration, options, progress=progress)
        return diarize(read(0.0, duration), options, progress=progress)
    bounds = window_bounds(duration, regions, window_s)
    members: list[_Member] = []
    window_turns: list[list[Turn]] = []
    for w, (a, b) in enumerate(bounds):
        part = None if progress is None else (lambda f, w=w: progress((w + f) / len(bounds)))
        if in_child is not None:
            result = in_child(read, a, b, options, progress=part)  # the window's audio sent in slices
        else:
            result = diarize(read(a, b), options, progress=part)  # one window's audio in memory at a time
        turns = [Turn(t.speaker, round(a + t.start, 3), round(a + t.end, 3)) for t in result.turns]
        window_turns.append(turns)
        for sid in result.speakers:
            vec = result.embeddings.get(sid)
            members.append(_Member(w, sid, None if vec is None else _unit(vec),
                                   sum(t.duration for t in turns if t.speaker == sid)))
        log.info("diarization window %d/%d (%.0f-%.0f s): %d speakers", w + 1, len(bounds), a, b,
                 len(result.speakers))
    groups = link_speakers(members, options)
    # global ids S1, S2, ... in order of first speech, as diarize() numbers them
    first = [min((t.start for i in g for t in window_turns[members[i].window]
                  if t.speaker == members[i].local), default=math.inf) for g in groups]
    order = sorted(range(len(groups)), key=lambda k: first[k])
    ids = {}
    for n, k in enumerate(order, 1):
        for i in groups[k]:
            ids[members[i].window, members[i].local] = f"S{n}"
    parts = [[Turn(ids[w, t.speaker], t.start, t.end) for t in ts] for w, ts in enumerate(window_turns)]
    turns = sorted(_join_at_cuts(parts, [a for a, _ in bounds[1:]]), key=lambda t: (t.start, t.end))
    embeddings = {}
    for n, k in enumerate(order, 1):
        vs = [(members[i].vector, max(members[i].talk_s, 1e-3)) for i in groups[k] if members[i].vector is not None]
        if vs:
            embeddings[f"S{n}"] = (sum(w * v for v, w in vs) / sum(w for _, w in vs)).astype(np.float32)
    if progress:
        progress(1.0)
    return DiarizationResult(turns=turns, embeddings=embeddings)


def _join_at_cuts(parts: list[list[Turn]], cuts: list[float]) -> list[Turn]:
    """The windows' turns (global ids) as one list; where a speaker's turn ends at a cut (within
    ``TOUCH_S``) and their turn in the next window starts there, the two are one turn."""
    out = list(parts[0])
    for cut, nxt in zip(cuts, parts[1:], strict=True):
        for t in nxt:
            if t.start - cut <= TOUCH_S:
                i = next((k for k in range(len(out) - 1, -1, -1) if out[k].speaker == t.speaker
                          and abs(out[k].end - cut) <= TOUCH_S), None)
                if i is not None:
                    out[i] = Turn(t.speaker, out[i].start, max(out[i].end, t.end))
                    continue
            out.append(t)
    return out
