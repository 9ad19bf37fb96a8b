"""Synthetic dialogues with exact ground truth, spoken by ``espeak-ng`` voices.

A :class:`Script` lists who says what and how each line is placed on the timeline (a gap after the
previous line, an overlap, a backchannel inside the other speaker's line, an interruption that makes
the first speaker stop). :func:`render` speaks every line with the ``espeak-ng`` binary, trims
espeak's leading and trailing silence, resamples to 16 kHz with soxr, places each line on its voice's
own track, mixes the tracks and writes ``<stem>.wav``, ``<stem>.truth.json`` and ``<stem>.rttm``.

The truth is what was rendered, not what the script meant: each speaker's speech intervals (the truth
turns) are measured on that voice's own track before mixing (:func:`sounding`: 5-ms RMS envelope above
:data:`TRIM_RMS`, pauses shorter than ``analysis.cue_reference.SEGMENT_BRIDGE_S`` bridged), and the events
(interruption, backchannel, overlap, quick_response, silence) and talk times come from those intervals
through the reference computation of the documented cue definitions (:mod:`analysis.cue_reference`),
which shares nothing with the cue engine. The script's line kinds only place the lines.
The returned :class:`Truth` also holds the utterances (with approximate word timings) and per-speaker
words, pace and questions.

Voices whose name starts with ``piper:`` are spoken by the Piper neural voice instead
(:mod:`app.voices`, which also holds a bank of held-out voices for :func:`heldout_dialogues`).

Rendering is cached twice: each spoken line in memory and on disk (keyed by voice, pitch, speed and
text), and a whole dialogue is not re-rendered when its WAV and truth (same script hash) exist.

CLI: ``python -m app.synth OUT.wav [--seed N] [--random] [--speakers N]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.timeline import Event, Turn, Utterance, Word, write_rttm
from audio import SAMPLE_RATE

if TYPE_CHECKING:
    from app.synth_scripts import HeldoutDialogue

SYNTH_VERSION = 2  # bump when the rendering of a line changes (invalidates the line caches)
TRUTH_VERSION = 2  # bump when the truth derived from a rendering changes (re-renders dialogues)
TRUTH_SCHEMA = "attune.synth-truth/2"  # 2: turns are the rendered speech intervals, events the reference's
LINE_KINDS = ("turn", "backchannel", "interruption")
CUT_AFTER_S = 0.4  # placement: the interrupted speaker's audio is cut this long after the interrupter's onset
CUT_FADE_S = 0.02  # fade-out at the cut, avoids a click
TRIM_RMS = 0.004  # frame RMS (full scale 1.0) below which a voice counts as silent (trim and truth)
TRIM_FRAME_S = 0.005
SOUNDING_HOP_S = 0.001  # hop of the truth envelope (its window is TRIM_FRAME_S)
PAUSE_MIN_S = 0.12  # internal pauses at least this long split a line into phrases (word timing)
PEAK = 0.89  # mix normalised to this peak (about -1 dBFS)
DEFAULT_BC_AT = 0.45  # fraction of the anchor line when ``at`` is None
DEFAULT_INT_AT = 0.55


@dataclass(frozen=True)
class Voice:
    id: str  # speaker id in the truth, e.g. "S1"
    voice: str  # espeak-ng voice, e.g. "en-us", "en-gb+m3", "en+f3"; or Piper, "piper:joe[+style]"
    pitch: int = 50  # espeak pitch 0..99 (Piper: a shift of 0.5 % per step from 50, at most 5 %)
    wpm: int = 160  # espeak speed, words per minute (Piper: the length scale giving the same speed)
    role: str | None = None  # "therapist", "client" or None
    gain_db: float = 0.0  # level of this voice in the mix


@dataclass(frozen=True)
class Line:
    """One spoken line.

    gap: seconds from the end of the previous line's (possibly cut) speech to this line's start;
        negative overlaps the previous line. Backchannels are not "previous lines" for this purpose:
        the anchor is the latest turn or interruption.
    kind: "turn", "backchannel" (short speech inside the anchor line, ``at`` seconds after its start,
        the anchor speaker carries on) or "interruption" (starts ``at`` seconds after the anchor's start;
        the anchor's audio is cut :data:`CUT_AFTER_S` after the onset).
    at: for backchannels/interruptions; None picks a point inside the anchor line.
    """

    speaker: str
    text: str
    gap: float = 0.6
    kind: str = "turn"
    at: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in LINE_KINDS:
            raise ValueError(f"kind must be one of {LINE_KINDS}, not {self.kind!r}")


@dataclass(frozen=True)
class Script:
    voices: tuple[Voice, ...]
    lines: tuple[Line, ...]
    lead_in: float = 0.5
    tail: float = 0.5

    def voice(self, speaker: str) -> Voice:
        for v in self.voices:
            if v.id == speaker:
                return v
        raise KeyError(f"no voice for speaker {speaker!r}")

    def digest(self) -> str:
        payload = json.dumps({"v": SYNTH_VERSION, "truth": TRUTH_VERSION, "script": asdict(self)},
                             sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]


def count_words(text: str) -> int:
    return len(_words(text))


def _words(text: str) -> list[str]:
    return [w for w in text.split() if re.search(r"[A-Za-z0-9]", w)]


@dataclass
class Truth:
    duration: float
    turns: list[Turn] = field(default_factory=list)  # each voice's rendered speech intervals (sounding)
    utterances: list[Utterance] = field(default_factory=list)  # one per line, placed extent
    events: list[Event] = field(default_factory=list)  # the reference cues of the turns (cue_reference)
    talk_time: dict[str, float] = field(default_factory=dict)  # seconds of rendered speech per speaker
    words: dict[str, int] = field(default_factory=dict)  # words spoken per speaker (cut lines: approx.)
    wpm: dict[str, float] = field(default_factory=dict)  # words per minute of speaking time
    questions: dict[str, int] = field(default_factory=dict)  # lines ending with "?"
    speakers: list[dict[str, Any]] = field(default_factory=list)  # the voices (id, voice, pitch, wpm, role)
    script_hash: str = ""

    @property
    def talk_share(self) -> dict[str, float]:
        total = sum(self.talk_time.values()) or 1.0
        return {k: v / total for k, v in self.talk_time.items()}

    def events_of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def reference(self):
        """The reference cues of the truth turns (:func:`analysis.cue_reference.reference_cues`): the
        events above plus floor turns, response latencies, longest monologue, ..."""
        from analysis.cue_reference import intervals_of, reference_cues

        ivs = {s["id"]: [] for s in self.speakers} if self.speakers else {}
        ivs.update(intervals_of(self.turns))
        return reference_cues(ivs, self.duration)

    def to_dict(self) -> dict[str, Any]:
        r = lambda x: round(float(x), 4)  # noqa: E731
        return {
            "schema": TRUTH_SCHEMA, "script_hash": self.script_hash, "duration": r(self.duration),
            "speakers": self.speakers,
            "turns": [{"speaker": t.speaker, "start": r(t.start), "end": r(t.end)} for t in self.turns],
            "utterances": [{"speaker": u.speaker, "start": r(u.start), "end": r(u.end), "text": u.text,
                            "words": [[r(w.start), r(w.end), w.text] for w in u.words]}
                           for u in self.utterances],
            "events": [{"kind": e.kind, "start": r(e.start), "end": r(e.end), "by": e.by, "of": e.of}
                       for e in self.events],
            "talk_time": {k: r(v) for k, v in self.talk_time.items()}, "words": dict(self.words),
            "wpm": {k: r(v) for k, v in self.wpm.items()}, "questions": dict(self.questions),
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Truth:
        if d.get("schema") != TRUTH_SCHEMA:
            raise ValueError(f"not an {TRUTH_SCHEMA} document")
        return cls(
            duration=float(d["duration"]),
            turns=[Turn(t["speaker"], t["start"], t["end"]) for t in d["turns"]],
            utterances=[Utterance(u["speaker"], u["start"], u["end"], u["text"],
                                  tuple(Word(a, b, t, 1.0) for a, b, t in u["words"]))
                        for u in d["utterances"]],
            events=[Event(e["kind"], e["start"], e["end"], e.get("by"), e.get("of")) for e in d["events"]],
            talk_time=dict(d["talk_time"]), words=dict(d["words"]), wpm=dict(d["wpm"]),
            questions=dict(d.get("questions", {})), speakers=list(d.get("speakers", [])),
            script_hash=d.get("script_hash", ""))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Truth:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")


# -- speaking one line ---------------------------------------------------------------------------
_MEM: dict[tuple, np.ndarray] = {}
_MEM_LOCK = threading.Lock()


def _cache_dir() -> Path:
    d = os.environ.get("ATTUNE_SYNTH_CACHE")
    path = Path(d) if d else Path(tempfile.gettempdir()) / f"attune-synth-cache-{os.getuid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _trim(x: np.ndarray, sr: int) -> np.ndarray:
    fr = max(1, int(sr * TRIM_FRAME_S))
    n = len(x) // fr
    if n == 0:
        return x[:0]
    rms = np.sqrt(np.mean(x[: n * fr].reshape(n, fr) ** 2, axis=1))
    on = np.flatnonzero(rms > TRIM_RMS)
    if on.size == 0:
        return x[:0]
    return x[on[0] * fr: (on[-1] + 1) * fr]


def speak(voice: Voice, text: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``text`` spoken by ``voice`` as float32 mono at ``sample_rate``, leading/trailing silence trimmed."""
    key: tuple = (voice.voice, voice.pitch, voice.wpm, text, sample_rate, SYNTH_VERSION)
    if voice.voice.startswith("piper:"):
        from app.voices import PIPER_VERSION

        key += ("piper", PIPER_VERSION)
    with _MEM_LOCK:
        if key in _MEM:
            return _MEM[key]
    digest = hashlib.sha1(repr(key).encode()).hexdigest()
    cached = _cache_dir() / f"{digest}.npy"
    x = None
    if cached.exists():
        try:
            x = np.load(cached)
        except (OSError, ValueError):
            x = None
    if x is None:
        import soundfile as sf
        import soxr

        if voice.voice.startswith("piper:"):  # neural voice (app/voices.py)
            from app.voices import piper_line

            raw, sr = piper_line(voice.voice, voice.pitch, voice.wpm, text)
        else:
            with tempfile.TemporaryDirectory(prefix="attune-espeak-") as tmp:
                out = Path(tmp) / "line.wav"
                subprocess.run(["espeak-ng", "-v", voice.voice, "-p", str(int(voice.pitch)),
                                "-s", str(int(voice.wpm)), "-w", str(out), "--", text],
                               check=True, capture_output=True, timeout=60)
                raw, sr = sf.read(str(out), dtype="float32", always_2d=True)
            raw = raw.mean(axis=1)
        if sr != sample_rate:
            raw = soxr.resample(raw, sr, sample_rate).astype(np.float32)
        x = np.ascontiguousarray(_trim(raw, sample_rate), dtype=np.float32)
        tmp_path = cached.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp.npy")
        np.save(tmp_path, x)
        os.replace(tmp_path, cached)
    with _MEM_LOCK:
        _MEM[key] = x
    return x


def _runs(x: np.ndarray, sr: int) -> list[tuple[float, float]]:
    """Voiced runs (seconds from the clip start) separated by pauses of at least PAUSE_MIN_S."""
    fr = max(1, int(sr * TRIM_FRAME_S))
    n = len(x) // fr
    if n == 0:
        return []
    voiced = np.sqrt(np.mean(x[: n * fr].reshape(n, fr) ** 2, axis=1)) > TRIM_RMS
    runs: list[list[float]] = []
    min_gap = int(PAUSE_MIN_S / TRIM_FRAME_S)
    last_on = -10**9
    for i in np.flatnonzero(voiced):
        if runs and i - last_on <= min_gap:
            runs[-1][1] = (i + 1) * TRIM_FRAME_S
        else:
            runs.append([i * TRIM_FRAME_S, (i + 1) * TRIM_FRAME_S])
        last_on = i
    return [(a, b) for a, b in runs]


def _weight(word: str) -> float:
    return 1.0 + len(re.sub(r"[^A-Za-z0-9]", "", word))


def word_timings(text: str, x: np.ndarray, sr: int = SAMPLE_RATE) -> list[tuple[float, float, str]]:
    """Approximate word timings (seconds from the clip start) for a spoken clip.

    Phrases (split at punctuation) are matched to voiced runs when their numbers agree; words share
    their phrase's (else the whole line's voiced) time in proportion to their length.
    """
    runs = _runs(x, sr)
    words = _words(text)
    if not runs or not words:
        return []
    phrases = [p for p in (_words(s) for s in re.split(r"(?<=[,.?!;:])\s+", text.strip())) if p]
    if len(phrases) != len(runs):
        phrases, runs = [words], [(runs[0][0], runs[-1][1])]
    out = []
    for phrase, (a, b) in zip(phrases, runs, strict=True):
        w = np.array([_weight(p) for p in phrase])
        edges = a + (b - a) * np.concatenate([[0.0], np.cumsum(w) / w.sum()])
        out.extend((float(edges[i]), float(edges[i + 1]), phrase[i]) for i in range(len(phrase)))
    return out


# -- placing lines and rendering -----------------------------------------------------------------
@dataclass
class _Placed:
    line: Line
    audio: np.ndarray
    start: float
    end: float  # end of speech after any cut
    anchor: int | None = None  # index of the line it sits in / interrupts / follows


def _first_voiced_at_or_after(x: np.ndarray, sr: int, t: float) -> float:
    for a, b in _runs(x, sr):
        if b > t + 0.05:
            return max(a, t)
    return t


def _place(script: Script, clips: Sequence[np.ndarray], sr: int) -> list[_Placed]:
    placed: list[_Placed] = []
    anchor: int | None = None  # latest turn/interruption
    for i, (line, x) in enumerate(zip(script.lines, clips, strict=True)):
        dur = len(x) / sr
        if anchor is None:
            start = script.lead_in
        elif line.kind == "turn":
            prev = placed[anchor]
            start = max(prev.end + line.gap, prev.start + 0.1)
        else:
            prev = placed[anchor]
            pdur = prev.end - prev.start
            frac = DEFAULT_BC_AT if line.kind == "backchannel" else DEFAULT_INT_AT
            at = line.at if line.at is not None else frac * pdur
            lo, hi = 0.3, pdur - (0.3 + dur if line.kind == "backchannel" else CUT_AFTER_S + 0.3)
            at = float(np.clip(at, lo, max(lo, hi)))
            # start while the anchor is actually voiced, so an interruption really overlaps speech
            at = _first_voiced_at_or_after(prev.audio, sr, at)
            start = prev.start + at
            if line.kind == "interruption":
                cut = start + CUT_AFTER_S
                if cut < prev.end:
                    n = int(round((cut - prev.start) * sr))
                    y = prev.audio[:n].copy()
                    nf = min(len(y), int(CUT_FADE_S * sr))
                    if nf:
                        y[-nf:] *= np.linspace(1.0, 0.0, nf, dtype=np.float32)
                    y = _trim(y, sr) if len(y) else y
                    prev.audio = y
                    prev.end = prev.start + len(y) / sr
        placed.append(_Placed(line, x, start, start + dur, anchor))
        if line.kind != "backchannel":
            anchor = i
    return placed


def sounding(track: np.ndarray, sr: int, threshold: float = TRIM_RMS,
             bridge_s: float | None = None) -> list[tuple[float, float]]:
    """Where one voice's own track sounds: ``TRIM_FRAME_S`` RMS windows every ``SOUNDING_HOP_S`` above
    ``threshold`` (the level :func:`speak` trims at), pauses shorter than ``bridge_s`` (default: the
    reference's segment bridge) closed. Seconds from the track's start."""
    from analysis.cue_reference import SEGMENT_BRIDGE_S, bridge, runs

    win, hop = max(1, int(round(TRIM_FRAME_S * sr))), max(1, int(round(SOUNDING_HOP_S * sr)))
    if len(track) < win:
        return []
    c = np.concatenate([[0.0], np.cumsum(np.asarray(track, dtype=np.float64) ** 2)])
    starts = np.arange(0, len(track) - win + 1, hop)
    rms = np.sqrt(np.maximum(c[starts + win] - c[starts], 0.0) / win)
    ivs = bridge(runs(rms > threshold, hop / sr, win / sr), SEGMENT_BRIDGE_S if bridge_s is None else bridge_s)
    return [(round(a, 4), round(b, 4)) for a, b in ivs]  # as stored in the truth file (0.1 ms)


def _tracks(script: Script, placed: list[_Placed], n: int, sr: int) -> dict[str, np.ndarray]:
    """Each voice's own track (its placed lines, before gain and mixing)."""
    tracks = {v.id: np.zeros(n, dtype=np.float32) for v in script.voices}
    for p in placed:
        i = int(round(p.start * sr))
        seg = p.audio[: max(0, n - i)]
        tracks[p.line.speaker][i: i + len(seg)] += seg
    return tracks


def _truth(script: Script, placed: list[_Placed], tracks: dict[str, np.ndarray], duration: float,
           sr: int) -> Truth:
    from analysis.cue_reference import reference_cues

    ids = [v.id for v in script.voices]
    intervals = {sp: sounding(tracks[sp], sr) for sp in ids}
    ref = reference_cues(intervals, duration)
    turns = sorted((Turn(sp, a, b) for sp, ivs in intervals.items() for a, b in ivs),
                   key=lambda t: (t.start, t.speaker))
    utts = []
    words = dict.fromkeys(ids, 0)
    questions = dict.fromkeys(ids, 0)
    for p in placed:
        sp = p.line.speaker
        full = speak(script.voice(sp), p.line.text, sr)
        wt = [(p.start + a, p.start + b, w) for a, b, w in word_timings(p.line.text, full, sr)]
        kept = [w for w in wt if (w[0] + w[1]) / 2 <= p.end + 1e-6]  # a cut keeps words half spoken
        cut = len(kept) < len(wt)
        text = " ".join(w[2] for w in kept) if cut else p.line.text
        words[sp] += len(kept) if wt else count_words(p.line.text)
        questions[sp] += int(not cut and p.line.text.rstrip().endswith("?"))
        utts.append(Utterance(sp, p.start, p.end, text,
                              tuple(Word(a, min(b, p.end), w, 1.0) for a, b, w in kept)))
    utts.sort(key=lambda u: (u.start, u.speaker))
    talk = dict(ref.talk_time)
    wpm = {k: (60.0 * words[k] / talk[k] if talk[k] > 0 else 0.0) for k in ids}
    return Truth(duration, turns, utts, list(ref.events), talk, words, wpm, questions,
                 [asdict(v) for v in script.voices], script.digest())


def render(script: Script, wav_path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> Truth:
    """Speak, place and mix the script; write the WAV, ``<stem>.truth.json`` and ``<stem>.rttm``."""
    import soundfile as sf

    wav_path = Path(wav_path)
    truth_path = wav_path.with_suffix(".truth.json")
    rttm_path = wav_path.with_suffix(".rttm")
    digest = script.digest()
    if wav_path.exists() and truth_path.exists() and rttm_path.exists():
        try:
            old = Truth.load(truth_path)
            if old.script_hash == digest and sf.info(str(wav_path)).samplerate == sample_rate:
                return old
        except (ValueError, KeyError, OSError, RuntimeError):
            pass
    if not script.lines:
        raise ValueError("the script has no lines")
    known = {v.id for v in script.voices}
    for line in script.lines:
        if line.speaker not in known:
            raise ValueError(f"line speaker {line.speaker!r} has no voice")
    with ThreadPoolExecutor(max_workers=2) as pool:
        clips = list(pool.map(lambda ln: speak(script.voice(ln.speaker), ln.text, sample_rate),
                              script.lines))
    placed = _place(script, clips, sample_rate)
    duration = max(p.end for p in placed) + script.tail
    n = int(round(duration * sample_rate))
    tracks = _tracks(script, placed, n, sample_rate)
    mix = np.zeros(n, dtype=np.float32)
    for v in script.voices:
        mix += tracks[v.id] * np.float32(10 ** (v.gain_db / 20))
    peak = float(np.max(np.abs(mix))) if n else 0.0
    if peak > 0:
        mix *= np.float32(PEAK / peak)
    duration = n / sample_rate
    truth = _truth(script, placed, tracks, duration, sample_rate)
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(wav_path), mix, sample_rate, subtype="PCM_16")
    write_rttm(truth.turns, rttm_path, wav_path.stem)
    truth.save(truth_path)
    return truth


# -- scripts (texts live in app/synth_scripts.py) ----------------------------------------------
def demo_script(seed: int = 0) -> Script:
    """A ~80 s counselling-style dialogue (therapist S1, client S2) containing every cue kind."""
    from app.synth_scripts import demo_script as make

    return make(seed)


def random_script(seed: int, n_speakers: int = 2, n_lines: int = 18, p_interruption: float = 0.15,
                  p_backchannel: float = 0.2, p_silence: float = 0.08, p_quick: float = 0.2,
                  voices: Sequence[Voice] | None = None) -> Script:
    """A varied random dialogue with distinct voices, or ``voices`` (see :mod:`app.synth_scripts`)."""
    from app.synth_scripts import random_script as make

    return make(seed, n_speakers=n_speakers, n_lines=n_lines, p_interruption=p_interruption,
                p_backchannel=p_backchannel, p_silence=p_silence, p_quick=p_quick, voices=voices)


def heldout_dialogues(out_dir: str | os.PathLike, n: int = 6, seed: int = 1000) -> list[HeldoutDialogue]:
    """Render ``n`` two-person, one 3- and one 4-person dialogue with voice-bank voices that no other
    script uses, some of them close pairs or the Piper voice (see :mod:`app.synth_scripts`)."""
    from app.synth_scripts import heldout_dialogues as make

    return make(out_dir, n=n, seed=seed)


__all__ = ["Line", "Script", "Truth", "Voice", "count_words", "demo_script", "heldout_dialogues",
           "random_script", "render", "sounding", "speak", "word_timings"]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import time

    ap = argparse.ArgumentParser(prog="python -m app.synth", description=__doc__.split("\n")[0])
    ap.add_argument("out", help="output WAV path (truth JSON and RTTM are written beside it)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--random", action="store_true", help="a random dialogue instead of the demo")
    ap.add_argument("--speakers", type=int, default=2, help="speakers in a --random dialogue")
    args = ap.parse_args(argv)
    script = (random_script(args.seed, n_speakers=args.speakers) if args.random
              else demo_script(args.seed))
    t0 = time.perf_counter()
    truth = render(script, args.out)
    kinds: dict[str, int] = {}
    for e in truth.events:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    print(f"{args.out}: {truth.duration:.1f} s, {len(truth.turns)} turns, "
          f"rendered in {time.perf_counter() - t0:.2f} s")
    for sp in truth.talk_time:
        print(f"  {sp}: talk {truth.talk_time[sp]:.1f} s ({100 * truth.talk_share[sp]:.0f} %), "
              f"{truth.words[sp]} words, {truth.wpm[sp]:.0f} wpm")
    print("  events: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def scripted_timeline(turns: Sequence[Turn], duration: float | None = None) -> Any:
    """A two-person timeline (S1 the therapist, S2 the client) of scripted turns with the cue engine's
    figures and events, no audio and no words: test and screenshot data for views that need only turns."""
    from analysis.cues import compute_cues
    from analysis.timeline import Speaker, Timeline

    end = max((t.end for t in turns), default=0.0) if duration is None else duration
    metrics, events = compute_cues(list(turns), (), end, speakers=["S1", "S2"])
    return Timeline(duration=end, speakers=(Speaker("S1", "Therapist", "therapist"), Speaker("S2", "Client", "client")),
                    turns=tuple(turns), utterances=(), events=events, metrics=metrics, source={}, provenance={})
