"""How many people are speaking: the automatic speaker count of the offline diarizer.

A single clustering threshold cannot hold across recordings: how far apart two voices' embeddings lie
depends on the voices, the microphone and the channel (telephone speech squeezes every CAM++ embedding
together), so a threshold that separates two generated voices merges two real callers, and one that
separates the callers splits a single speaker of another file. The count is therefore taken from
evidence inside the recording itself, with no absolute distance threshold:

* **Conversation evidence** (one vs. more). pyannote's segmentation model separates the speakers *inside*
  each 10-s window without any clustering. A window in which two local speakers each talk for at least
  ``TWO_VOICE_MIN_S`` and whose two embeddings lie farther apart than the recording's median pair is a
  window in which two different voices were heard. When such windows make up at least
  ``TWO_VOICE_MIN_FRACTION`` of the windows with speech, and the embeddings do fall into two groups
  (best silhouette of 2..``GROUPS_UP_TO`` groups at least ``CONVERSATION_MIN_SILHOUETTE``: one person
  whom segmentation splits now and then forms no groups), the recording holds a conversation and is never given one speaker (merging two
  people would credit one with the other's talk and hide every interruption). Without that evidence the
  recording is one speaker unless the embeddings form clearly separated groups anyway (the lower end of
  the two-group silhouette's one-standard-error interval at least ``SINGLE_SPLIT_SILHOUETTE``).
* **How many** (two or more). The (window, speaker) embeddings are clustered bottom-up (average linkage,
  cosine) and each cut of 2..``MAX_AUTO_SPEAKERS`` clusters is scored by its mean silhouette (how much
  closer each embedding lies to its own group than to the next). The fewest speakers whose silhouette is
  within one standard error of the best is chosen (the one-standard-error rule of model selection): a
  further split must be better by more than the noise of the score to add a person, and the noise is
  measured on the recording itself (a 30-s clip has few embeddings and a wide error; an hour, many).
* **Pieces of one voice** (:func:`join_pieces`). One person who talks most of the time beside a quiet
  second voice gives embeddings whose silhouette rises the finer they are cut, so the rule above takes
  4-6 people; a chosen cut into more than two groups has its groups joined while their voiceprints are
  as alike as pieces of one voice (``PIECES_MIN_SIMILARITY``).
* **A second voice that segmentation never separated** (:func:`second_voice`). When the count above is
  one, the diarizer embeds short windows (1.5 s) of the speech and cuts them in two; two halves of real
  size whose voiceprints are less alike than one person's halves ever are hold two people (a meeting-room
  clip where every 10-s window heard both voices as one local speaker, AMI dev00).
* **Two alike voices merged** (:func:`split_merged_groups`). The silhouette scores a whole cut: where two
  pairs of alike voices talk, one group per pair scores best. Each chosen group is cut in two on its own
  and split when its halves' voiceprints are less alike than one person's halves ever are.

Everything here is numpy/scipy/scikit-learn on arrays; it is called from the pyannote clustering step
(:mod:`analysis.diarization`) and is unit-tested on synthetic embeddings. The constants were chosen by
leave-one-recording-out on the real two-person calls of the development set and checked on held-out
files (docs/diarization.md gives the per-file figures and which files were used for what).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_AUTO_SPEAKERS = 6  # upper bound of the automatic count
TWO_VOICE_MIN_S = 1.0  # s each of two local speakers must talk in one window to count as two voices
TWO_VOICE_MIN_FRACTION = 0.12  # of the windows with speech: at least this many distinct two-voice windows
TWO_VOICE_MIN_WINDOWS = 2  # and at least this many
CONVERSATION_MIN_SILHOUETTE = 0.30  # two-voice windows count only if the voices also form groups this well
GROUPS_UP_TO = 4  # ... as 2 to this many groups (one voice cut into ever more pieces scores best at 5-6)
SINGLE_SPLIT_SILHOUETTE = 0.50  # without conversation evidence, two groups must be this well separated
#                                 (the lower end of the score's one-standard-error interval)
MIN_SPLIT_EMBEDDINGS = 10  # and there must be this many clustered embeddings (about 30 s of speech):
#                            fewer give a silhouette that means nothing (20 s of one voice scored 0.60)
MIN_EXTRA_SPEAKER_EMBEDDINGS = 3  # a third (fourth...) speaker must be heard alone in at least this many
#                                  windows (about 6 s of window positions at the 2-s step); below it a cut
#                                  into k > 2 groups is a split of a voice's few odd windows, not a person
EXTRA_SPEAKER_MIN_SILHOUETTE = 0.42  # a cut into more groups than the least allowed must score at least
#   this mean silhouette: one voice with a quiet second, cut ever finer, scored 0.27 -> 0.39 from 2 to 6
#   groups and was counted as 5 people; every chosen cut of 3-4 real people (assembled files, tuning and
#   checked) scored >= 0.48: the middle of 0.36 (the 5-group cut taken) and 0.48. Not enough: on the
#   imbalanced files one main voice still reaches 0.43-0.47 at 4-6 groups; join_pieces takes those
PIECES_MIN_SIMILARITY = 0.80  # groups of a cut into more than two whose voiceprints (centroids) are at least
#   this alike (cosine) are pieces of one voice and are joined (see join_pieces): every chosen group of 3-4
#   real people lay at <= 0.71 to the others (assembled files), pieces of one voice at 0.80-0.96 (imbalanced
#   tuning files' cuts into 3-6 groups); 0.78-0.82 gave the same counts on every cached file
COUNT_SE_FACTOR = 1.0  # the fewest speakers whose silhouette is within this many standard errors of the best
SPLIT_MAX_SIMILARITY = 0.74  # a group whose own two halves' voiceprints (centroids) are less alike than
#                             this (cosine) holds two people and is split (tuned: see split_merged_groups)
SPLIT_MIN_FRACTION = 0.2  # ... each half at least this fraction of the group
SPLIT_MIN_EMBEDDINGS = 10  # ... and at least this many clustered windows (about 20 s of window positions)
SECOND_VOICE_MAX_SIMILARITY = 0.80  # short windows of the speech cut in two whose halves' voiceprints are
#                                     less alike than this hold two people (see second_voice)
SECOND_VOICE_MIN_FRACTION = 0.2  # ... each half at least this fraction of the windows
SECOND_VOICE_MIN_WINDOWS = 6  # ... and at least this many windows (1.5 s every 0.5 s: about 4 s of speech)
QUIET_MAX_SIMILARITY = 0.35  # a turn whose own embedding is this unlike the main voice's print (cosine) may be
#                              a quiet second voice's (see quiet_voice)
QUIET_MIN_TURNS = 3  # ... at least this many such turns
QUIET_MIN_PAIR_SIMILARITY = 0.45  # ... and alike one another on average (one voice, not odd noises)
QUIET_MIN_TURNS_KNOWN = 1  # ... but when two people are known to be there (given, or heard apart), one such
#                            turn will do and the turns need not be alike: the other reading, two halves
#                            of the main voice, is wrong for certain
QUIET_MIN_TURN_S = 0.5  # s: shorter turns are not embedded (too little speech for a voiceprint)
MAIN_TURN_MIN_S = 3.0  # s: the main voice's print comes from the turns at least this long
ONE_VOICE_CLUSTERS_SIMILARITY = 0.85  # clusters whose voiceprints are all this alike (cosine) may be pieces
#   of one voice: then a quiet voice is looked for (two real callers' clusters: 0.39-0.83 on the dev calls;
#   one main voice cut in two beside a quiet one: 0.87-0.95 on the tuning series)
CLEAN_MIN_FRACTION = 0.2  # a (window, speaker) embedding is clustered when its speaker talks alone this
#                           much of the window (pyannote's own filter, kept identical)


@dataclass(frozen=True)
class SpeakerCount:
    """The automatic count and the evidence behind it (kept for logs, tests and the benchmark)."""

    count: int
    silhouettes: dict[int, float] = field(default_factory=dict)  # candidate count -> silhouette
    two_voice_windows: int = 0  # windows whose two local voices differ more than a typical pair
    speech_windows: int = 0  # windows with any speech
    conversation: bool = False  # the two-voice windows were enough to rule out a single speaker
    pieces_joined: int = 0  # groups of the chosen cut joined as pieces of one voice (join_pieces)
    second_voice_similarity: float | None = None  # one found, then a second in short windows (cosine)
    quiet_turns: int = 0  # the turns of a quiet second voice found from turn embeddings (quiet_voice)

    @property
    def two_voice_fraction(self) -> float:
        return self.two_voice_windows / self.speech_windows if self.speech_windows else 0.0


def clustered_mask(activity: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """(windows, local) mask of the embeddings that are clustered: valid, and their speaker talks alone
    for at least ``CLEAN_MIN_FRACTION`` of the window."""
    act = np.asarray(activity, dtype=np.float32)
    alone = (act * (act.sum(axis=2, keepdims=True) == 1)).sum(axis=1)
    return (alone >= CLEAN_MIN_FRACTION * act.shape[1]) & ~np.any(np.isnan(embeddings), axis=2)


def distinct_two_voice_windows(embeddings: np.ndarray, activity: np.ndarray, frame_s: float,
                               typical: float) -> tuple[int, int]:
    """(windows in which two local speakers each talk >= ``TWO_VOICE_MIN_S`` *and* their embeddings are
    farther apart than ``typical``, windows with speech). ``embeddings`` (windows, local, dim),
    ``activity`` binary (windows, frames, local)."""
    talk = np.asarray(activity, dtype=np.float32).sum(axis=1) * frame_s  # (windows, local) seconds
    if not talk.size:
        return 0, 0
    speech = int(np.count_nonzero(talk.max(axis=1) > 0))
    ok = (talk >= TWO_VOICE_MIN_S) & ~np.any(np.isnan(embeddings), axis=2)
    unit = _unit_rows(np.nan_to_num(embeddings).reshape(-1, embeddings.shape[-1])).reshape(embeddings.shape)
    two = 0
    for w in np.flatnonzero(ok.sum(axis=1) >= 2):
        e = unit[w, ok[w]]
        dist = 1.0 - e @ e.T
        two += bool(dist.max() > typical)
    return two, speech


def silhouettes(embeddings: np.ndarray, max_k: int) -> dict[int, tuple[float, float]]:
    """(mean silhouette, its standard error) of the average-linkage (cosine) cut into k clusters,
    k = 2..max_k; a cut with k > 2 in which a cluster has fewer than ``MIN_EXTRA_SPEAKER_EMBEDDINGS``
    members is not a candidate."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import silhouette_samples

    x = _unit_rows(embeddings)
    n = len(x)
    if n < 3:
        return {}
    tree = linkage(x, method="average", metric="cosine")
    out: dict[int, tuple[float, float]] = {}
    for k in range(2, min(max_k, n - 1) + 1):
        labels = fcluster(tree, k, criterion="maxclust")
        sizes = np.bincount(labels)[1:]
        if np.count_nonzero(sizes) == k and (k == 2 or sizes.min() >= MIN_EXTRA_SPEAKER_EMBEDDINGS):
            per_point = silhouette_samples(x, labels, metric="cosine")
            out[k] = (float(per_point.mean()), float(per_point.std(ddof=1) / np.sqrt(n)))
    return out


def estimate_speaker_count(embeddings: np.ndarray, activity: np.ndarray, frame_s: float,
                           min_speakers: int = 1, max_speakers: int = MAX_AUTO_SPEAKERS) -> SpeakerCount:
    """The number of speakers in a recording, bounded to ``[min_speakers, max_speakers]`` (and to
    ``MAX_AUTO_SPEAKERS``), from the segmentation's per-window local speakers: their embeddings
    ``(windows, local, dim)`` (NaN where none) and binary activity ``(windows, frames, local)`` with
    ``frame_s`` seconds per frame."""
    from scipy.spatial.distance import pdist

    embeddings = np.asarray(embeddings, dtype=np.float64)
    hi = max(1, min(max_speakers, MAX_AUTO_SPEAKERS))
    lo = max(1, min(min_speakers, hi))
    train = np.nan_to_num(embeddings)[clustered_mask(activity, embeddings)]
    typical = float(np.median(pdist(_unit_rows(train), "cosine"))) if len(train) >= 2 else 0.0
    two, speech = distinct_two_voice_windows(embeddings, activity, frame_s, typical)
    scored = silhouettes(train, max(hi, 2))
    sil = {k: mean for k, (mean, _se) in scored.items()}
    split = scored.get(2, (-1.0, 0.0))
    grouped = max((v for k, v in sil.items() if k <= GROUPS_UP_TO), default=-1.0)
    conversation = (two >= TWO_VOICE_MIN_WINDOWS and two >= TWO_VOICE_MIN_FRACTION * speech
                    and grouped >= CONVERSATION_MIN_SILHOUETTE)
    several = several_speakers(scored, max(lo, 2))
    joined = 0
    if several > max(lo, 2):
        kept = max(join_pieces(train, several), lo, 2)
        several, joined = kept, several - kept
    clear_split = len(train) >= MIN_SPLIT_EMBEDDINGS and split[0] - split[1] >= SINGLE_SPLIT_SILHOUETTE
    if lo >= 2 or conversation or clear_split:
        count = several
    else:
        count, joined = 1, 0
    count = int(min(max(count, lo), hi))
    if count >= 2 and count < hi and len(train) >= 2 * SPLIT_MIN_EMBEDDINGS:
        count = split_merged_groups(train, count, hi)
    return SpeakerCount(count=count, silhouettes=sil, two_voice_windows=two, speech_windows=speech,
                        conversation=conversation, pieces_joined=joined)


def several_speakers(scored: dict[int, tuple[float, float]], least: int = 2) -> int:
    """The count among the cuts ``scored`` ({k: (mean silhouette, standard error)}) of at least ``least``
    groups: the fewest within one standard error of the best (the one-standard-error rule). A cut into
    more than ``least`` groups is a candidate only if its silhouette reaches
    ``EXTRA_SPEAKER_MIN_SILHOUETTE``: below it the groups are no better than pieces of one voice cut ever
    finer. Without candidates (too few embeddings), ``least``."""
    candidates = {k: v for k, v in scored.items()
                  if k == least or (k > least and v[0] >= EXTRA_SPEAKER_MIN_SILHOUETTE)}
    if not candidates:
        return least
    best = max(candidates, key=lambda k: candidates[k][0])
    floor = candidates[best][0] - COUNT_SE_FACTOR * candidates[best][1]
    return min(k for k, (mean, _se) in candidates.items() if mean >= floor)


def join_pieces(embeddings: np.ndarray, count: int) -> int:
    """The number of groups left when the embeddings' cut into ``count`` groups (average linkage, cosine,
    as :func:`silhouettes`) has its groups joined, the most alike pair first, while their voiceprints
    (centroids of the joined groups) are at least ``PIECES_MIN_SIMILARITY`` alike. One person who talks
    most of the time, beside a quiet second voice, gives embeddings that a silhouette scores ever better
    the finer they are cut (0.35 at 2 groups to 0.47 at 6 on an imbalanced check file, counted as six
    people); its pieces stay alike one another (0.82-0.93), where different people's groups do not."""
    from scipy.cluster.hierarchy import fcluster, linkage

    x = _unit_rows(embeddings)
    labels = fcluster(linkage(x, method="average", metric="cosine"), count, criterion="maxclust")
    sums = [x[labels == g].sum(axis=0) for g in np.unique(labels)]
    while len(sums) > 1:
        prints = _unit_rows(np.stack(sums))
        sim = prints @ prints.T
        np.fill_diagonal(sim, -np.inf)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] < PIECES_MIN_SIMILARITY:
            break
        sums[i] = sums[i] + sums[j]
        del sums[j]
    return len(sums)


def split_merged_groups(embeddings: np.ndarray, count: int, max_count: int) -> int:
    """The count after splitting every group that holds two people: the embeddings are cut into ``count``
    groups (average linkage, cosine, as :func:`silhouettes`); a group whose own two-way cut gives halves
    of at least ``SPLIT_MIN_FRACTION`` of it and ``SPLIT_MIN_EMBEDDINGS`` windows each, and whose halves'
    centroids are less alike than ``SPLIT_MAX_SIMILARITY``, is split (the least alike first), up to
    ``max_count``. A silhouette scores the whole cut, so two similar voices merged beside two others
    that differ more raise no score; the halves of one person's group stay alike (cosine >= 0.77 on the
    development set's sides, noisy phone lines included) where two people's fall below (0.65-0.71)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    x = _unit_rows(embeddings)
    labels = fcluster(linkage(x, method="average", metric="cosine"), count, criterion="maxclust")
    while len(np.unique(labels)) < max_count:
        best: tuple[float, np.ndarray] | None = None
        for group in np.unique(labels):
            idx = np.flatnonzero(labels == group)
            least = max(SPLIT_MIN_EMBEDDINGS, SPLIT_MIN_FRACTION * len(idx))
            if len(idx) < 2 * least:
                continue
            halves = fcluster(linkage(x[idx], method="average", metric="cosine"), 2, criterion="maxclust")
            a, b = x[idx[halves == 1]], x[idx[halves == 2]]
            if min(len(a), len(b)) < least:
                continue
            similarity = float(_unit_rows(a.mean(axis=0, keepdims=True))[0]
                               @ _unit_rows(b.mean(axis=0, keepdims=True))[0])
            if similarity < SPLIT_MAX_SIMILARITY and (best is None or similarity < best[0]):
                best = (similarity, idx[halves == 2])
        if best is None:
            break
        labels[best[1]] = labels.max() + 1
    return int(len(np.unique(labels)))


def second_voice(embeddings: np.ndarray,
                 max_similarity: float = SECOND_VOICE_MAX_SIMILARITY) -> tuple[np.ndarray, float] | None:
    """Evidence of a second person among short-window embeddings ``(n, dim)`` of speech that was
    credited to one speaker: the average-linkage (cosine) cut in two, when each half holds at least
    ``SECOND_VOICE_MIN_FRACTION`` of the windows and ``SECOND_VOICE_MIN_WINDOWS``, and the halves'
    centroids are less alike than ``max_similarity`` (``inf``: however alike, when two people are known
    to be there). Returns (labels 0/1 per window, the centroids' cosine) or None.

    Chosen on the development set's real voices (docs/diarization.md): the halves of one person's
    1.5-s windows stay at cosine >= 0.83 (11 one-speaker telephone sides, whole and every 30-s and 60-s
    stretch: 54 cases), two people's fall to <= 0.77 (the 8 calls and their stretches)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    x = _unit_rows(embeddings)
    least = max(SECOND_VOICE_MIN_WINDOWS, SECOND_VOICE_MIN_FRACTION * len(x))
    if len(x) < 2 * least:
        return None
    halves = fcluster(linkage(x, method="average", metric="cosine"), 2, criterion="maxclust") - 1
    a, b = x[halves == 0], x[halves == 1]
    if min(len(a), len(b)) < least:
        return None
    similarity = float(_unit_rows(a.mean(axis=0, keepdims=True))[0] @ _unit_rows(b.mean(axis=0, keepdims=True))[0])
    if similarity >= max_similarity:
        return None
    return halves.astype(int), similarity


def quiet_voice(durations: np.ndarray, embeddings: np.ndarray, known: bool = False) -> np.ndarray | None:
    """Which turns of one main voice's speech belong to a quiet second person: one who only puts in a
    short word now and then (a counsellor's "mm-hm, and then?"), too short for a segmentation window to
    hold 2 s of it alone (so it has no clustered embedding) or for the 1.5-s short windows to fit inside
    it. ``durations`` (n,) s and ``embeddings`` (n, dim), each turn's own CAM++ embedding. The main
    voice's print is the duration-weighted mean of the turns of at least ``MAIN_TURN_MIN_S``; the turns of
    at least ``QUIET_MIN_TURN_S`` less alike it than ``QUIET_MAX_SIMILARITY`` are the quiet voice's when
    there are at least ``QUIET_MIN_TURNS`` and they are alike one another (mean pairwise cosine at least
    ``QUIET_MIN_PAIR_SIMILARITY``). ``known``: two people are known to be in the recording (the count was
    given, or windows heard two voices apart), so ``QUIET_MIN_TURNS_KNOWN`` such turns will do, alike or
    not. Returns a boolean mask over the turns, or None.

    Chosen on tuning files only (docs/diarization.md): imbalanced conversations of other seeds than the
    checked ones (the quiet voice's turns at 0.08-0.48 to the main voice, the main voice's own short
    turns at 0.37 and above) and the one-speaker sides, on which it must never fire."""
    d = np.asarray(durations, dtype=np.float64)
    x = _unit_rows(embeddings)
    main = d >= MAIN_TURN_MIN_S
    if not main.any():
        return None
    voice = _unit_rows((x[main] * d[main, None]).sum(axis=0, keepdims=True))[0]
    quiet = (d >= QUIET_MIN_TURN_S) & (x @ voice < QUIET_MAX_SIMILARITY)
    n = int(quiet.sum())
    if known and n >= QUIET_MIN_TURNS_KNOWN:
        return quiet
    if n < QUIET_MIN_TURNS:
        return None
    pair = x[quiet] @ x[quiet].T
    if (pair.sum() - n) / (n * (n - 1)) < QUIET_MIN_PAIR_SIMILARITY:
        return None
    return quiet


def one_voice_clusters(voiceprints: list[np.ndarray]) -> bool:
    """Whether two or more clusters' voiceprints are all alike enough to be pieces of one voice
    (every pair at least ``ONE_VOICE_CLUSTERS_SIMILARITY``)."""
    if len(voiceprints) < 2:
        return False
    x = _unit_rows(np.stack(voiceprints))
    sim = x @ x.T
    return bool(sim[np.triu_indices(len(x), 1)].min() >= ONE_VOICE_CLUSTERS_SIMILARITY)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)
