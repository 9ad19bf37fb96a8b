"""Evaluation helpers shared by tests and benchmarks: word error rate, reference readers, diarization
error rate, and the comparison of a result with a reference (speaker mapping, event matching).

Tests and benchmarks import these; neither keeps its own copy (``tests/test_quality.py`` checks that no
function is defined both in ``bench/`` and in ``tests/``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_PUNCT = re.compile(r"[^\w\s']")


def normalise_words(text: str) -> list[str]:
    """Lower-case words without punctuation ("Hello, there." -> ["hello", "there"])."""
    text = text.lower().replace("-", " ")
    return [w.strip("'") for w in _PUNCT.sub(" ", text).split() if w.strip("'")]


def word_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance between two word sequences (substitutions + deletions + insertions)."""
    prev = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        cur = [i] + [0] * len(hypothesis)
        for j, h in enumerate(hypothesis, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return word_errors(ref, hyp) / len(ref)


def read_stm_text(path: str | Path) -> str:
    """The reference transcript of an STM file, utterances in time order."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and not line.startswith(";;"):
            rows.append((float(parts[3]), parts[5]))
    return " ".join(text for _, text in sorted(rows))


EVENT_MATCH_S = 0.5  # s: a found cue event matches a reference event when their starts are this close


def speaker_overlaps(turns, ref_turns) -> dict[tuple[str, str], float]:
    """Seconds during which a speaker of ``turns`` and a speaker of ``ref_turns`` speak together, per
    ``(speaker, reference speaker)`` pair (only pairs that overlap). Turns are anything with
    ``speaker``, ``start`` and ``end``."""
    out: dict[tuple[str, str], float] = {}
    for t in turns:
        for r in ref_turns:
            o = min(t.end, r.end) - max(t.start, r.start)
            if o > 0:
                out[t.speaker, r.speaker] = out.get((t.speaker, r.speaker), 0.0) + o
    return out


def speaker_map(turns, ref_turns, speakers=None) -> dict[str, str]:
    """Each speaker of ``turns`` (or of ``speakers``) -> the reference speaker they overlap most; several
    may map to one (a voice split in two adds up). One who overlaps nobody maps to the first reference
    speaker."""
    ov = speaker_overlaps(turns, ref_turns)
    refs = list(dict.fromkeys(r.speaker for r in ref_turns))
    ids = list(dict.fromkeys(t.speaker for t in turns)) if speakers is None else list(speakers)
    return {sp: max(refs, key=lambda r: ov.get((sp, r), 0.0)) for sp in ids} if refs else {}


def match_speakers(turns, ref_turns) -> dict[str, str]:
    """One-to-one: the pairs ``speaker -> reference speaker`` taken greedily by decreasing overlap (each
    reference speaker at most once; a speaker left without a partner is not in the map)."""
    out: dict[str, str] = {}
    for (sp, ref), _ in sorted(speaker_overlaps(turns, ref_turns).items(), key=lambda kv: -kv[1]):
        if sp not in out and ref not in out.values():
            out[sp] = ref
    return out


def match_events(found, truth, tolerance_s: float = EVENT_MATCH_S) -> tuple[int, int, int]:
    """(true positives, found, truth): each truth event matched at most once, to a found event with the
    same ``by`` and ``of`` starting within ``tolerance_s`` of it."""
    used, tp = set(), 0
    for t in truth:
        for k, f in enumerate(found):
            if k not in used and abs(f.start - t.start) <= tolerance_s and (f.by, f.of) == (t.by, t.of):
                used.add(k)
                tp += 1
                break
    return tp, len(found), len(truth)


def precision_recall(counts) -> tuple[float, float, int]:
    """(precision, recall, truth events) of :func:`match_events` counts, one triple or a list of them
    summed (1.0 when there is nothing to find or nothing found)."""
    counts = [counts] if counts and isinstance(counts[0], int) else list(counts)
    tp, found, truth = (sum(c[i] for c in counts) for i in range(3))
    return (tp / found if found else 1.0), (tp / truth if truth else 1.0), truth


def attribution_mismatches(timeline, punctuated: bool | None = None) -> list[str]:
    """Where a timeline's figures disagree with its utterances' speakers (empty when they agree).

    Each speaker's ``words``, ``wpm`` (from those words and their ``talk_time``), ``questions``,
    ``open_questions`` and ``reflections`` are recomputed from the utterances labelled with that speaker,
    every word taken as the utterance's speaker's (``punctuated``: as the cue engine was told, ``None``
    judged per utterance, the live engine ``False``). One rule for who said a word
    (``analysis/attribution.py``) makes them agree; a second rule would show here."""
    from analysis import questions

    per = timeline.metrics.speakers or {}
    words: dict[str, int] = {sp: 0 for sp in per}
    kinds: list = []
    for u in timeline.utterances:
        if u.speaker in per:
            words[u.speaker] += len(u.words)
            kinds += questions.kinds_by_speaker(u, lambda _w, sp=u.speaker: sp, punctuated)
    out = []
    for sp, m in per.items():
        if m.get("words") != words[sp]:
            out.append(f"{sp}: {m.get('words')} words counted, {words[sp]} in their utterances")
        talk = float(m.get("talk_time") or 0.0)
        wpm = 60.0 * words[sp] / talk if talk > 0 and words[sp] else None
        if (wpm is None) != (m.get("wpm") is None) or (wpm is not None and abs(wpm - m["wpm"]) > 0.1):
            out.append(f"{sp}: wpm {m.get('wpm')}, {wpm} from their utterances")
        mine = questions.counts_for(sp, kinds)
        for key in ("questions", "open_questions", "reflections"):
            if m.get(key) != mine[key]:
                out.append(f"{sp}: {m.get(key)} {key} counted, {mine[key]} in their utterances")
    return out


def diarization_error_rate(reference, hypothesis) -> float:
    """DER of two sequences of turns with pyannote.metrics: no collar, overlapped speech scored."""
    return der_breakdown(reference, hypothesis)["der"]


# -- diarization development set ------------------------------------------------------------------------
DEV_COLLAR_S = 0.5  # pyannote collar (total width): +-0.25 s around reference boundaries, as the dev set's
#                     README asks for its energy-derived RTTMs; hand-labelled references are scored with none
SINGLE_EXCERPT_S = 90.0  # s of one channel of a dev call used as a one-speaker recording
MIN_CROSSTALK_DB = 40.0  # a channel is one speaker alone only if the other voice is at least this far down


@dataclass(frozen=True)
class DiarizationFile:
    """A recording with who-spoke-when truth. ``use`` says what it served for: ``"tuned"`` (the automatic
    count's constants were chosen on these, leave-one-recording-out) or ``"checked"`` (never tuned on)."""

    name: str
    wav: Path
    rttm: Path
    collar: float
    use: str
    channel: int | None = None  # one channel of a multi-channel file (a one-speaker recording)
    excerpt_s: float | None = None  # only the first seconds


def dev_set(shared_audio: Path) -> list[DiarizationFile]:
    """The real two-person calls of ``shared/audio/dev`` (tuned on) and the other real recordings of
    ``shared/audio`` (checked only)."""
    out = []
    dev = shared_audio / "dev"
    for folder in sorted(p for p in dev.iterdir() if p.is_dir() and p.name != "tools") if dev.is_dir() else ():
        rttm = next(folder.glob("*.derived-vad.rttm"), None)
        mix = next(folder.glob("*.derived-mix.wav"), None) or next(
            (p for p in folder.glob("*.wav") if not p.stem.endswith(("_agent", "_caller"))), None)
        if rttm and mix:
            out.append(DiarizationFile(f"dev/{folder.name}", mix, rttm, DEV_COLLAR_S, "tuned"))
    for stem in ("pyannote_sample/sample", "ami/dev00", "ami/trn05"):
        wav = shared_audio / f"{stem}.wav"
        if wav.is_file():
            out.append(DiarizationFile(stem, wav, wav.with_suffix(".rttm"), 0.0, "checked"))
    return out


def single_speaker_set(shared_audio: Path) -> list[DiarizationFile]:
    """One speaker alone: the first ``SINGLE_EXCERPT_S`` of each side of every dev call (a channel of a
    stereo SpokenWOZ file, or an LCA agent/caller file). Real one-person recordings for the count's
    one-vs-two decision (tuned on); their RTTM is the call's, used only for the speaker count. A side on
    which the other voice is less than ``MIN_CROSSTALK_DB`` down (crosstalk a model still hears) is
    left out: it is not one speaker alone."""
    from analysis.timeline import read_rttm

    out = []
    dev = shared_audio / "dev"
    for folder in sorted(p for p in dev.iterdir() if p.is_dir() and p.name != "tools") if dev.is_dir() else ():
        rttm = next(folder.glob("*.derived-vad.rttm"), None)
        if rttm is None:
            continue
        turns = read_rttm(rttm)
        labels = sorted({t.speaker for t in turns})
        sides = sorted(folder.glob("*_agent.wav")) + sorted(folder.glob("*_caller.wav"))
        if sides:  # one file per side; the RTTM labels are "agent" and "caller"
            cands = [(DiarizationFile(f"single/{p.stem}", p, rttm, DEV_COLLAR_S, "tuned",
                                      excerpt_s=SINGLE_EXCERPT_S), p.stem.rsplit("_", 1)[-1]) for p in sides]
        else:  # one stereo file; channel i is the i-th speaker label
            wav = next((p for p in folder.glob("*.wav") if "derived" not in p.name), None)
            cands = [] if wav is None else [
                (DiarizationFile(f"single/{folder.name}-ch{ch}", wav, rttm, DEV_COLLAR_S, "tuned", channel=ch,
                                 excerpt_s=SINGLE_EXCERPT_S), labels[ch]) for ch in range(min(2, len(labels)))]
        for item, own in cands:
            if _crosstalk_db(item, turns, own) >= MIN_CROSSTALK_DB:
                out.append(item)
    return out


def _crosstalk_db(item: DiarizationFile, turns, own: str) -> float:
    """How far (dB) the other speakers' solo stretches lie below ``own``'s on this side's audio."""
    import numpy as np
    import soundfile as sf

    x, sr = sf.read(str(item.wav), dtype="float32", always_2d=True)
    x = x[:, item.channel] if item.channel is not None else x.mean(axis=1)

    def level(mine: bool) -> float:
        parts = [x[int(t.start * sr): int(t.end * sr)] for t in turns
                 if (t.speaker == own) == mine and (item.excerpt_s is None or t.start < item.excerpt_s)
                 and not any(u.speaker != t.speaker and u.start < t.end and u.end > t.start for u in turns)]
        v = np.concatenate(parts) if parts else np.zeros(1, np.float32)
        return 10 * np.log10(float(np.mean(v.astype(np.float64) ** 2)) + 1e-12)

    return level(True) - level(False)


def load_file(item: DiarizationFile):
    """16 kHz mono float32 of a :class:`DiarizationFile` (one channel / excerpt when it says so)."""
    import numpy as np
    import soundfile as sf
    import soxr

    from audio import SAMPLE_RATE
    from audio.decode import load

    if item.channel is None and item.excerpt_s is None:
        return load(item.wav)
    x, sr = sf.read(str(item.wav), dtype="float32", always_2d=True)
    x = x[:, item.channel] if item.channel is not None else x.mean(axis=1)
    if item.excerpt_s is not None:
        x = x[: int(item.excerpt_s * sr)]
    return np.ascontiguousarray(soxr.resample(x, sr, SAMPLE_RATE), dtype=np.float32)


def der_breakdown(reference, hypothesis, collar: float = 0.0) -> dict[str, float]:
    """DER and its parts (missed, false alarm, confusion), as fractions of the reference speech."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    d = DiarizationErrorRate(collar=collar, skip_overlap=False)(
        turns_annotation(reference), turns_annotation(hypothesis), detailed=True)
    total = d["total"] or 1.0
    return {"der": d["diarization error rate"], "missed": d["missed detection"] / total,
            "false_alarm": d["false alarm"] / total, "confusion": d["confusion"] / total}


def turns_annotation(turns):
    from pyannote.core import Annotation, Segment

    a = Annotation()
    for i, t in enumerate(turns):
        if t.end > t.start:
            a[Segment(t.start, t.end), i] = t.speaker
    return a


def call_channels(item: DiarizationFile) -> dict[str, tuple]:
    """The two sides of a dev call, each one speaker alone, as ``{RTTM label: (samples, sample_rate)}``:
    the channels of a stereo SpokenWOZ file (channel i is the i-th label in sorted order, as its README
    verified) or an LCA call's ``_agent``/``_caller`` files. Original rate (8 kHz), float32."""
    import numpy as np
    import soundfile as sf

    from analysis.timeline import read_rttm

    folder = item.wav.parent
    sides = sorted(folder.glob("*_agent.wav")) + sorted(folder.glob("*_caller.wav"))
    if sides:
        out = {}
        for p in sides:
            x, sr = sf.read(str(p), dtype="float32", always_2d=True)
            out[p.stem.rsplit("_", 1)[-1]] = (x.mean(axis=1), sr)
        return out
    wav = next(p for p in sorted(folder.glob("*.wav")) if "derived" not in p.name)
    x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    labels = sorted({t.speaker for t in read_rttm(item.rttm)})
    if x.shape[1] != len(labels):
        raise ValueError(f"{wav}: {x.shape[1]} channels for speakers {labels}")
    return {lab: (np.ascontiguousarray(x[:, ch]), sr) for ch, lab in enumerate(labels)}
