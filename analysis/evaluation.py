"""Evaluation helpers shared by tests and benchmarks: word error rate and reference readers."""

from __future__ import annotations

import re
from collections.abc import Sequence
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


def diarization_error_rate(reference, hypothesis) -> float:
    """DER of two sequences of turns with pyannote.metrics: no collar, overlapped speech scored."""
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    def annotation(turns) -> Annotation:
        a = Annotation()
        for i, t in enumerate(turns):
            if t.end > t.start:
                a[Segment(t.start, t.end), i] = t.speaker
        return a

    return float(DiarizationErrorRate(collar=0.0, skip_overlap=False)(annotation(reference),
                                                                        annotation(hypothesis)))
