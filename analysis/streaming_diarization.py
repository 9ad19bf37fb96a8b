"""Live (incremental) speaker diarization in the manner of diart.

Audio arrives in 16 kHz mono float32 blocks of any size. Every ``step`` seconds the latest ``window``
seconds (left-padded with silence at the start of a session) go through pyannote segmentation-3.0,
which says, frame by frame, which of up to 3 *local* speakers is active in that window. Each local
speaker with enough speech gets a CAM++ embedding (weighted by its non-overlapped frames; the network
trunk runs once per window, see :mod:`analysis.diarization`), and an incremental clustering maps local
speakers to *global* speakers: a constrained (Hungarian) assignment to the nearest centroids by cosine
distance, a new global speaker when a long enough local speaker is farther than ``delta_new`` from all
of them, and centroid updates from long enough local speakers only. An enrolled therapist voiceprint
(``anchor``) seeds the first centroid, so that voice keeps one id from the first word.

Mapped activations of overlapping windows are averaged (Hamming-weighted) on a global frame grid and
finalised ``latency`` seconds behind the audio; a speaker's turn is emitted once it has ended (silent
for ``min_off`` seconds in the finalised frames). :meth:`StreamingDiarizer.process` returns those
finalised turns (each once, never revised); :attr:`StreamingDiarizer.speaker_now` is the provisional
speaker of the latest ``step`` of audio, available with only one step of delay: the dominant mapped
voice, or a newer voice that has come in over it (interruption, backchannel) once that one is mapped,
so that a short turn in overlap is named while it lasts rather than hidden behind the longer one.

Public ids are ``S1``, ``S2``, ... in order of first appearance, stable for the whole session (until
:meth:`reset`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.timeline import Turn
from audio import SAMPLE_RATE


@dataclass(frozen=True)
class StreamingOptions:
    """Tuning of :class:`StreamingDiarizer` (times in seconds; distances are cosine distances 0..2)."""

    window: float = 5.0  # s of audio per segmentation window
    step: float = 0.5  # s between windows
    latency: float = 3.0  # s between the audio clock and finalised frames (step <= latency <= window)
    tau_active: float = 0.5  # activity probability above which a frame counts as speech
    delta_new: float = 0.75  # a long local speaker farther than this from every centroid is new
    # ... and, while fewer voices have been heard than the clinician said are in the room, farther than
    # this: the count says more voices will come, and a third or fourth real voice often lies nearer
    # than delta_new to one already heard (chosen on real three- and four-person conversations assembled
    # from the dev calls; two-person calls unchanged; docs/diarization.md). None: delta_new.
    delta_open: float | None = 0.5
    min_embed: float = 0.3  # s of speech a local speaker needs in a window to be embedded and mapped
    min_update: float = 1.0  # s of speech a local speaker needs to update (or create) a centroid
    max_speakers: int = 8
    # People in the room when the clinician knows (start dialog): the diarizer never creates more than
    # this many speakers. None: automatic (bounded by ``max_speakers``).
    num_speakers: int | None = None
    embed_every: int = 4  # windows between embedding passes (in between, the mapping is stitched)
    min_stitch: float = 0.5  # s of shared activity with the previous window to carry a mapping over
    anchor_weight: float = 4.0  # the anchor counts as this many window embeddings in its centroid
    min_off: float = 0.25  # s of silence that ends a turn
    min_on: float = 0.1  # s: shorter turns are dropped
    new_voice: float = 0.3  # mean activity over the latest step for a newer voice to be named over another
    # Two speakers whose voiceprints have come to be at least this alike (cosine), each from at least
    # ``join_min`` window embeddings, are pieces of one voice: the later joins the earlier and its id is
    # free for the next new voice (see StreamingDiarizer._join_pieces). None: never joined.
    join_similarity: float | None = 0.85
    join_min: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.step <= self.latency <= self.window:
            raise ValueError("need 0 < step <= latency <= window")


class StreamingDiarizer:
    """Incremental diarizer: ``process(block) -> [Turn]``, ``flush() -> [Turn]``, ``reset()``.

    ``anchor`` is an enrolled voiceprint (see :mod:`analysis.enrollment`); the speaker it matches is
    reported by :attr:`anchor_speaker`.
    """

    def __init__(self, anchor: np.ndarray | None = None, options: StreamingOptions | None = None) -> None:
        from analysis.diarization import embedding_model, segmentation_model

        self.options = options or StreamingOptions()
        self._seg = segmentation_model()
        self._emb = embedding_model()
        self._anchor = None if anchor is None else _unit(np.asarray(anchor, dtype=np.float32))
        # never more voices than the clinician said are in the room
        self.max_speakers = min(self.options.max_speakers, self.options.num_speakers or self.options.max_speakers)
        self._win_n = int(round(self.options.window * SAMPLE_RATE))
        self._step_n = int(round(self.options.step * SAMPLE_RATE))
        self._frames = self._num_frames()
        self._res = self.options.window / self._frames  # s per frame
        self._hamming = np.maximum(np.hamming(self._frames), 0.05).astype(np.float32)
        from pyannote.audio.utils.powerset import Powerset

        spec = self._seg.specifications
        self._powerset = Powerset(len(spec.classes), spec.powerset_max_classes)
        self.reset()

    # -- state ------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the session: audio, speakers and ids (the anchor is kept)."""
        self._audio = np.zeros(0, dtype=np.float32)
        self._audio_t0 = 0  # sample index of self._audio[0]
        self._fed = 0  # samples received
        self._next_end = self._step_n  # sample index at which the next window ends
        self._sums: list[np.ndarray] = []  # per global speaker: sum of unit embeddings
        self._heard: list[int] = []  # per global speaker: window embeddings in its sum
        self._free: set[int] = set()  # global speakers joined into another: their slot takes the next voice
        self.joins: list[tuple] = []  # (audio time s, kept, joined, cosine, embeddings each): for logs and tests
        if self._anchor is not None:
            self._sums.append(self._anchor * self.options.anchor_weight)
            self._heard.append(0)
        self._acc = np.zeros((0, self.options.max_speakers), dtype=np.float32)
        self._wsum = np.zeros(0, dtype=np.float32)
        self._base = 0  # global frame index of self._acc[0]
        self._final = 0  # global frames < this are finalised
        self._open: dict[int, list[float]] = {}  # global speaker -> [start, last active end] (s)
        self._ids: dict[int, str] = {}
        self._now: int | None = None
        self._prev: tuple[np.ndarray, dict[int, int]] | None = None
        self._last_embedded = -(10**9)
        self.windows = 0

    @property
    def speakers(self) -> list[str]:
        return list(self._ids.values())

    @property
    def anchor_speaker(self) -> str | None:
        """Public id of the speaker seeded by the anchor, once that speaker has appeared."""
        return self._ids.get(0) if self._anchor is not None else None

    @property
    def speaker_now(self) -> str | None:
        """Speaker of the latest step of audio (provisional); None in silence or while the speaker
        of new speech is not identified yet."""
        return None if self._now is None else self._public(self._now)

    def current_speaker(self) -> str | None:
        return self.speaker_now

    def centroids(self) -> dict[str, np.ndarray]:
        """Current voiceprint per public speaker id (unit vectors). The anchor's speaker includes the
        anchor itself: compare :meth:`heard_voiceprints` with the enrolled voiceprint instead."""
        return {sid: _unit(self._sums[g]) for g, sid in self._ids.items() if g not in self._free}

    def heard_voiceprints(self) -> dict[str, np.ndarray]:
        """Per public speaker id, the mean of the embeddings of what was actually heard (unit vectors):
        the anchor's seed left out, and the anchor's speaker left out while nothing heard has joined it.
        Safe to call from another thread while ``process`` runs (it reads copies)."""
        sums, ids, free = list(self._sums), dict(self._ids), set(self._free)
        out = {}
        for g, sid in ids.items():
            if g >= len(sums) or g in free:
                continue
            heard = sums[g]
            if g == 0 and self._anchor is not None:  # the seed: the enrolled voice, not anything heard
                heard = heard - self._anchor * self.options.anchor_weight
            if float(np.linalg.norm(heard)) > 1e-3:  # an embedding is a unit vector: less is rounding
                out[sid] = _unit(heard)
        return out

    @property
    def time(self) -> float:
        return self._fed / SAMPLE_RATE

    def _public(self, g: int) -> str:
        if g not in self._ids:
            self._ids[g] = f"S{len(self._ids) + 1}"
        return self._ids[g]

    def _num_frames(self) -> int:
        import torch

        with torch.inference_mode():
            return int(self._seg(torch.zeros(1, 1, self._win_n)).shape[1])

    # -- processing ---------------------------------------------------------------------------------------
    def process(self, block: np.ndarray) -> list[Turn]:
        """Consume a block; return the turns finalised by it (each returned once)."""
        x = np.asarray(block, dtype=np.float32).reshape(-1)
        self._audio = np.concatenate([self._audio, x])
        self._fed += x.size
        ends = []
        while self._next_end <= self._fed:
            ends.append(self._next_end)
            self._next_end += self._step_n
        out: list[Turn] = []
        for i in range(0, len(ends), 16):  # batch the windows of a large block
            out.extend(self._run(ends[i: i + 16]))
        keep_from = self._next_end - self._win_n
        if keep_from > self._audio_t0:
            self._audio = self._audio[keep_from - self._audio_t0:]
            self._audio_t0 = keep_from
        return out

    def flush(self) -> list[Turn]:
        """End of the session: process the remaining audio and close every open turn."""
        out: list[Turn] = []
        if self._fed > self._next_end - self._step_n:
            pad = self._next_end - self._fed
            fed = self._fed
            out.extend(self.process(np.zeros(pad, dtype=np.float32)))
            self._fed = fed
        out.extend(self._finalise(self._base + len(self._wsum), self._fed / SAMPLE_RATE, closing=True))
        self._now = None
        return out

    def _window_audio(self, end: int) -> np.ndarray:
        start = end - self._win_n
        lo, hi = start - self._audio_t0, end - self._audio_t0
        w = self._audio[max(lo, 0): max(hi, 0)]
        if lo < 0:
            w = np.concatenate([np.zeros(-lo, dtype=np.float32), w])
        if w.size < self._win_n:
            w = np.concatenate([w, np.zeros(self._win_n - w.size, dtype=np.float32)])
        return w

    def _run(self, ends: list[int]) -> list[Turn]:
        import torch

        o = self.options
        waves = np.stack([self._window_audio(e) for e in ends])
        with torch.inference_mode():
            logp = self._seg(torch.from_numpy(waves)[:, None, :])
            acts = self._powerset.to_multilabel(logp, soft=True).numpy()  # (B, F, 3)
        out: list[Turn] = []
        for b, end in enumerate(ends):
            act = acts[b]
            active = act >= o.tau_active
            speech = active.sum(axis=0) * self._res  # s per local speaker
            candidates = [k for k in range(act.shape[1]) if speech[k] >= o.min_embed]
            mapping = self._stitch(active, candidates)
            due = self.windows - self._last_embedded >= o.embed_every
            if candidates and (due or any(k not in mapping for k in candidates)):
                mapping = self._cluster(self._embed(waves[b], active, candidates), active)
                self._last_embedded = self.windows
            self._prev = (active, mapping)
            self._aggregate(end, act, mapping)
            self._speaker_now(act, mapping)
            self.windows += 1
            frontier = int(np.floor((end / SAMPLE_RATE - o.latency) / self._res))
            out.extend(self._finalise(frontier, end / SAMPLE_RATE, closing=False))
        return out

    def _embed(self, wave: np.ndarray, active: np.ndarray, local: list[int]) -> list[tuple[int, np.ndarray]]:
        """Unit embeddings of the given local speakers (non-overlapped frames when enough)."""
        import torch

        clean = active.sum(axis=1) <= 1
        masks = []
        for k in local:
            m = active[:, k] & clean
            masks.append(m if m.sum() * self._res >= self.options.min_embed else active[:, k])
        x = torch.from_numpy(np.repeat(wave[None, None, :], len(local), axis=0))
        with torch.inference_mode():
            embs = self._emb(x, weights=torch.from_numpy(np.stack(masks).astype(np.float32))).numpy()
        return [(k, _unit(e)) for k, e in zip(local, embs, strict=True)]

    def _stitch(self, active: np.ndarray, local: list[int]) -> dict[int, int]:
        """Carry the previous window's mapping over by matching activity on the shared frames."""
        from scipy.optimize import linear_sum_assignment

        if self._prev is None or not local:
            return {}
        prev_active, prev_map = self._prev
        shift = int(round(self.options.step / self._res))
        cur = active[: self._frames - shift].astype(np.float32)
        old = prev_active[shift:].astype(np.float32)
        n = min(len(cur), len(old))
        agree = cur[:n].T @ old[:n] * self._res  # (3, 3) s of shared activity
        rows, cols = linear_sum_assignment(-agree)
        mapping = {}
        for k, j in zip(rows, cols, strict=True):
            if k in local and j in prev_map and agree[k, j] >= self.options.min_stitch:
                mapping[int(k)] = prev_map[j]
        return mapping

    def _cluster(self, local: list[tuple[int, np.ndarray]], active: np.ndarray) -> dict[int, int]:
        """Map local speakers (with embeddings) to global speakers; update/create centroids."""
        from scipy.optimize import linear_sum_assignment

        o = self.options
        if not local:
            return {}
        speech = {k: active[:, k].sum() * self._res for k, _ in local}
        mapping: dict[int, int] = {}
        dist = None
        full = len(self._sums) - len(self._free) >= self.max_speakers  # as many voices as people in the room
        new_at = o.delta_new
        if o.num_speakers and not full and o.delta_open is not None:
            new_at = o.delta_open
        if self._sums:
            cents = np.stack([_unit(s) for s in self._sums])
            dist = 1.0 - np.stack([e for _, e in local]) @ cents.T  # (L, C)
            held = [g for g in range(len(self._sums)) if g not in self._free]  # a joined speaker's slot: no voice
            dist[:, sorted(self._free)] = 2.0 + o.delta_new  # never near enough
            rows, cols = linear_sum_assignment(dist[:, held])
            for r, c in zip(rows, (held[c] for c in cols), strict=True):
                k = local[r][0]
                if dist[r, c] <= new_at or full:  # no new voice can be added: the nearest one
                    mapping[k] = int(c)
            # unassigned and not long enough for a new speaker: nearest centroid not already used
            for r, (k, _e) in enumerate(local):
                if k in mapping or speech[k] >= o.min_update:
                    continue
                free = [c for c in np.argsort(dist[r]) if c not in mapping.values()]
                if free and dist[r, free[0]] <= o.delta_new + 0.15:
                    mapping[k] = int(free[0])
        for r, (k, e) in enumerate(local):
            if k in mapping:
                # a voice forced onto the nearest speaker (room full) does not move that speaker's print
                if speech[k] >= o.min_update and (dist is None or dist[r, mapping[k]] <= o.delta_new):
                    self._sums[mapping[k]] = self._sums[mapping[k]] + e
                    self._heard[mapping[k]] += 1
            elif speech[k] >= o.min_update and len(self._sums) - len(self._free) < self.max_speakers:
                if self._free:  # the slot (and public id) of a speaker joined into another
                    g = min(self._free)
                    self._free.discard(g)
                    self._sums[g], self._heard[g] = e.copy(), 1
                else:
                    self._sums.append(e.copy())
                    self._heard.append(1)
                    g = len(self._sums) - 1
                mapping[k] = g
        return self._join_pieces(mapping)

    def _join_pieces(self, mapping: dict[int, int]) -> dict[int, int]:
        """Join speakers whose voiceprints have come to be as alike as pieces of one voice
        (``join_similarity``, each from ``join_min`` embeddings or more): the later speaker's print and
        its unfinalised activity go to the earlier one, and its slot is free for the next new voice, under
        the same public id. Telephone and room noise make a 5-s window of one person now and then lie
        farther than ``delta_open`` from that person's print; such a window opens a new speaker, which
        segmentation's splits of the one voice then feed until its print is the same voice's (cosine
        0.88-0.95 at the end of imbalanced tuning conversations, where a real second person's lay at
        0.38-0.72). Turns already finalised keep their id (live turns are never revised). Returns
        ``mapping`` with joined speakers replaced."""
        o = self.options
        if o.join_similarity is None:
            return mapping
        while True:
            ready = [g for g in range(len(self._sums)) if g not in self._free and self._heard[g] >= o.join_min]
            if len(ready) < 2:
                return mapping
            prints = np.stack([_unit(self._sums[g]) for g in ready])
            sim = prints @ prints.T
            np.fill_diagonal(sim, -np.inf)
            i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
            if sim[i, j] < o.join_similarity:
                return mapping
            keep, gone = min(ready[i], ready[j]), max(ready[i], ready[j])
            self.joins.append((round(self._fed / SAMPLE_RATE, 2), keep, gone, round(float(sim[i, j]), 3),
                               self._heard[keep], self._heard[gone]))
            self._sums[keep] = self._sums[keep] + self._sums[gone]
            self._heard[keep] += self._heard[gone]
            self._sums[gone] = np.zeros_like(self._sums[gone])
            self._heard[gone] = 0
            self._free.add(gone)
            self._acc[:, keep] = np.maximum(self._acc[:, keep], self._acc[:, gone])
            self._acc[:, gone] = 0.0
            mapping = {k: keep if g == gone else g for k, g in mapping.items()}  # _run keeps it as _prev
            if self._now == gone:
                self._now = keep

    def _aggregate(self, end: int, act: np.ndarray, mapping: dict[int, int]) -> None:
        start_s = end / SAMPLE_RATE - self.options.window
        g0 = int(round(start_s / self._res))
        need = g0 + self._frames - self._base
        if need > len(self._wsum):
            grow = need - len(self._wsum)
            self._acc = np.concatenate([self._acc, np.zeros((grow, self._acc.shape[1]), np.float32)])
            self._wsum = np.concatenate([self._wsum, np.zeros(grow, np.float32)])
        lo = max(g0, self._final, 0)  # finalised frames and the padding before t=0 are left alone
        if lo >= g0 + self._frames:
            return
        i0 = lo - g0
        sl = slice(lo - self._base, g0 + self._frames - self._base)
        w = self._hamming[i0:]
        glob = np.zeros((self._frames - i0, self._acc.shape[1]), dtype=np.float32)
        for k, g in mapping.items():
            glob[:, g] = np.maximum(glob[:, g], act[i0:, k])
        self._acc[sl] += glob * w[:, None]
        self._wsum[sl] += w

    def _speaker_now(self, act: np.ndarray, mapping: dict[int, int]) -> None:
        """The dominant speaker of the latest step, or, when a newer voice has come in over it (an
        interruption, a backchannel), that newer voice as soon as it is identified."""
        o = self.options
        n = max(1, int(round(o.step / self._res)))
        recent = act[-n:].mean(axis=0)
        best = int(np.argmax(recent))
        if recent[best] < o.tau_active:
            self._now = None
            return
        onset = {k: self._onset(act[:, k] >= o.tau_active) for k in mapping if recent[k] >= o.new_voice}
        newer = [k for k in onset if k != best and onset[k] > onset.get(best, self._frames)]
        if newer:
            best = max(newer, key=lambda k: onset[k])
        # speech from a speaker not identified yet: say so rather than repeat the last one
        self._now = mapping.get(best)
        if self._now is not None:
            self._public(self._now)

    def _onset(self, active: np.ndarray) -> int:
        """Frame at which the current run of activity began (gaps shorter than ``min_off`` bridged)."""
        idx = np.flatnonzero(active)
        if idx.size == 0:
            return -1
        gaps = np.flatnonzero(np.diff(idx) * self._res > self.options.min_off)
        return int(idx[gaps[-1] + 1]) if gaps.size else int(idx[0])

    def _finalise(self, frontier: int, now_s: float, closing: bool) -> list[Turn]:
        """Finalise frames [self._final, frontier) into turns; drop them from the buffers."""
        o = self.options
        frontier = min(frontier, self._base + len(self._wsum))
        out: list[Turn] = []
        if frontier > self._final:
            sl = slice(self._final - self._base, frontier - self._base)
            probs = self._acc[sl] / np.maximum(self._wsum[sl], 1e-6)[:, None]
            on = probs >= o.tau_active
            for i, row in enumerate(on):
                t0 = (self._final + i) * self._res
                for g in list(self._open):
                    if not row[g] and t0 - self._open[g][1] >= o.min_off:
                        out.extend(self._emit(g, self._open[g]))
                for g in np.flatnonzero(row):
                    span = self._open.setdefault(int(g), [t0, t0])
                    span[1] = t0 + self._res
            self._final = frontier
            drop = self._final - self._base
            self._acc, self._wsum = self._acc[drop:], self._wsum[drop:]
            self._base = self._final
        if closing:
            for g in list(self._open):
                out.extend(self._emit(g, self._open[g]))
        return sorted(out, key=lambda t: (t.start, t.speaker))

    def _emit(self, g: int, span: list[float]) -> list[Turn]:
        del self._open[g]
        start, end = max(0.0, span[0]), min(span[1], self._fed / SAMPLE_RATE)
        if end - start < self.options.min_on:
            return []
        return [Turn(self._public(g), round(start, 3), round(end, 3))]


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def diarize_stream(waveform: np.ndarray, block_s: float = 0.5, anchor: np.ndarray | None = None,
                   options: StreamingOptions | None = None) -> list[Turn]:
    """Feed a whole recording block by block (as live) and return every turn (for tests/benchmarks)."""
    d = StreamingDiarizer(anchor=anchor, options=options)
    n = max(1, int(block_s * SAMPLE_RATE))
    x = np.asarray(waveform, dtype=np.float32).reshape(-1)
    turns: list[Turn] = []
    for i in range(0, x.size, n):
        turns.extend(d.process(x[i: i + n]))
    turns.extend(d.flush())
    return turns
