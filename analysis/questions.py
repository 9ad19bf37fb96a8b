"""Questions, reflections and syllables in transcribed speech: a first, documented heuristic (see ``docs/cues.md``).

Each utterance is split into sentences. A sentence is a **question** when it ends with "?" or, when
the recogniser left no punctuation, when it opens with a question word or an auxiliary verb
("what", "how", "do you", "can you", ...). A question is **open** when it opens with "what", "how",
"why", "tell me", "describe" ... (it invites more than yes/no). A sentence is a **reflection** when it
is not a question and restates the other person's experience: it opens with a reflective stem such as
"it sounds like", "so you", "you feel", "you are", "part of you". This is wording only, not meaning;
it is a cue for the clinician, not a coding of the session.

Whether the text is punctuated is passed in, never assumed: the live recogniser drops the "?" of about
one question in three (docs/live.md), so the live cue engine says its text is unpunctuated and the
wording counts too. Nothing here keeps transcript text: there is no cache.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

QUESTION_OPENERS = (
    "what", "how", "why", "when", "where", "who", "whom", "whose", "which",
    "do", "does", "did", "are", "is", "was", "were", "can", "could", "would", "will", "should",
    "have", "has", "had", "may", "might", "shall", "isn't", "aren't", "don't", "doesn't", "didn't",
)
OPEN_OPENERS = ("what", "how", "why", "tell me", "describe", "in what way", "say more", "help me understand")
REFLECTION_STEMS = (
    "it sounds like", "sounds like", "it sounds as if", "it seems", "it seems like", "so you", "so, you",
    "you feel", "you felt", "you are", "you're", "you were", "you have been", "you've been", "you want",
    "you wanted", "you would like", "you'd like", "you seem", "you don't", "you do not", "you didn't",
    "you did not", "you think", "you thought", "you wish", "you need", "part of you", "on the one hand",
    "what i hear", "i hear that", "i'm hearing", "i am hearing", "it's like you", "it is like you",
)
MIN_REFLECTION_WORDS = 3  # "You feel." is too short to count

_SENT = re.compile(r"[^.?!]+[.?!]*")


@dataclass(frozen=True)
class SentenceKind:
    text_len: int  # characters (the text itself is never kept in cue output)
    question: bool
    open_question: bool
    reflection: bool


def _norm(s: str) -> str:
    s = s.lower().replace("\u2019", "'")
    return re.sub(r"[^a-z' ]+", " ", s).strip()


def _opens(norm: str, stems: tuple[str, ...]) -> bool:
    return any(norm == st or norm.startswith(st + " ") for st in stems)


def sentences(text: str) -> list[str]:
    return [m.group(0).strip() for m in _SENT.finditer(text or "") if m.group(0).strip()]


def is_punctuated(text: str) -> bool:
    """Whether a text carries punctuation at all (".", "?", "!" or ",")."""
    return bool(re.search(r"[.?!,]", text or ""))


def classify_sentence(sentence: str, punctuated: bool = True) -> SentenceKind:
    """Classify one sentence. ``punctuated``: its "?" can be trusted to mark a question; when False
    (no punctuation, or a recogniser that drops "?"), a sentence opening with a question word is one too."""
    s = sentence.strip()
    norm = _norm(s)
    question = s.endswith("?") or (not punctuated and _opens(norm, QUESTION_OPENERS))
    open_q = question and _opens(norm, OPEN_OPENERS)
    reflection = (not question and len(norm.split()) >= MIN_REFLECTION_WORDS
                  and _opens(norm, REFLECTION_STEMS))
    return SentenceKind(len(s), question, open_q, reflection)


def classify(text: str, punctuated: bool | None = None) -> list[SentenceKind]:
    """Classify every sentence of an utterance's text (``punctuated`` None: judged from the text)."""
    punctuated = is_punctuated(text) if punctuated is None else punctuated
    return [classify_sentence(s, punctuated) for s in sentences(text)]


def count(text: str, punctuated: bool | None = None) -> tuple[int, int, int]:
    """(questions, open questions, reflections) in a text."""
    kinds = classify(text, punctuated)
    return (sum(k.question for k in kinds), sum(k.open_question for k in kinds),
            sum(k.reflection for k in kinds))


_VOWELS = re.compile(r"[aeiouy]+")


def syllables(word: str) -> int:
    """Heuristic English syllable count of a written word (vowel groups; digits count one each)."""
    w = re.sub(r"[^a-z0-9]", "", word.lower())
    if not w:
        return 0
    digits = sum(c.isdigit() for c in w)
    letters = re.sub(r"[0-9]", "", w)
    n = len(_VOWELS.findall(letters))
    if letters.endswith("e") and not letters.endswith(("le", "ee", "ye")) and n > 1:
        n -= 1
    return digits + (max(1, n) if letters else 0)


def sentences_by_speaker(utterances: Iterable[Any], speaker_of: Callable[[Any], str | None]
                         ) -> list[tuple[str, str]]:
    """(sentence, speaker) pairs. Utterances with word timings are split at the words' own
    punctuation and each sentence goes to the speaker who said most of its words (``speaker_of(word)``,
    falling back to the utterance's speaker); utterances without words go whole to their speaker."""
    out: list[tuple[str, str]] = []
    for u in sorted(utterances, key=lambda u: (u.start, u.end, u.speaker)):
        if not u.words:
            out += [(s, u.speaker) for s in sentences(u.text)]
            continue
        cur: list[Any] = []
        for n, w in enumerate(u.words):
            cur.append(w)
            if re.search(r"[.?!]['\")]*$", w.text) or n == len(u.words) - 1:
                votes: dict[str, int] = {}
                for x in cur:
                    sp = speaker_of(x) or u.speaker
                    votes[sp] = votes.get(sp, 0) + 1
                out.append((" ".join(x.text for x in cur), max(votes, key=lambda k: votes[k])))
                cur = []
    return out


def kinds_by_speaker(utterance: Any, speaker_of: Callable[[Any], str | None], punctuated: bool | None = None
                     ) -> list[tuple[SentenceKind, str]]:
    """(kind, speaker) of each sentence of one utterance (:func:`sentences_by_speaker`, then
    :func:`classify_sentence`); ``punctuated`` None: judged from the utterance's own text."""
    punctuated = is_punctuated(utterance.text) if punctuated is None else punctuated
    return [(classify_sentence(s, punctuated), sp) for s, sp in sentences_by_speaker([utterance], speaker_of)]


def counts_for(speaker: str, kinds: Iterable[tuple[SentenceKind, str]]) -> dict[str, Any]:
    """``questions``, ``open_questions``, ``reflections`` and ``reflection_question_ratio`` of a speaker,
    from the (kind, speaker) pairs of :func:`kinds_by_speaker` (classified with their punctuation flag)."""
    q = oq = refl = 0
    for k, sp in kinds:
        if sp == speaker:
            q, oq, refl = q + k.question, oq + k.open_question, refl + k.reflection
    return {"questions": q, "open_questions": oq, "reflections": refl,
            "reflection_question_ratio": round(refl / q, 3) if q else None}
