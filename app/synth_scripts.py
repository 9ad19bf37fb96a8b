"""Scripts for :mod:`app.synth`: the demo counselling dialogue, random dialogues and the held-out set.

Kept apart from the renderer so that both stay short. Import the functions from :mod:`app.synth`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from app.synth import Line, Script, Voice

# Voices are chosen so that a speaker-embedding model tells them apart: with the CAM++ embeddings of
# analysis/diarization.py, en-us / en-us+belinda / en-029+grandma have cosine similarities of 0.14-0.26,
# while plain variants of one voice (en-us vs en-gb+f3) reach 0.72 and merge into one speaker.
THERAPIST = Voice("S1", "en-us", pitch=32, wpm=150, role="therapist")
CLIENT = Voice("S2", "en-us+belinda", pitch=66, wpm=178, role="client")

# (voice, pitch, wpm) for random scripts: the three distinct voices come first (in a seeded order),
# then further variants for dialogues with more than three speakers
DISTINCT_VOICES = (("en-us", 30, 150), ("en-us+belinda", 68, 175), ("en-029+grandma", 55, 160))
VOICE_POOL = DISTINCT_VOICES + (
    ("en-gb-scotland+Andy", 35, 170), ("en+f4", 75, 160), ("en-us+klatt2", 40, 165),
    ("en-gb+iven3", 45, 155), ("en-us+m7", 28, 185),
)

QUESTIONS = (
    "How have things been at home since we last met?",
    "What would you like to focus on today?",
    "Can you tell me more about what happened on Friday?",
    "What did you notice in your body when that happened?",
    "How did you respond when she said that?",
    "What would a good week look like for you?",
    "Do you remember when this feeling started?",
    "What helps you when the evenings get difficult?",
)
REFLECTIONS = (
    "It sounds like you have been carrying a lot on your own.",
    "You felt let down, and it hurt that nobody noticed.",
    "So part of you wants to change this, and part of you is afraid to.",
    "You are tired of always being the one who keeps the peace.",
    "It seems that the evenings are the hardest time for you.",
)
STATEMENTS = (
    "I went back to work on Monday, and the first day was really hard.",
    "My sister called me twice this week, but I did not pick up the phone.",
    "I have been sleeping a little better, maybe six hours a night.",
    "Sometimes I feel like nobody at work really listens to what I say.",
    "I tried the breathing exercise before the meeting, and it helped a bit.",
    "We had another argument about money, and he walked out of the room.",
    "I keep telling myself that it is fine, but it does not feel fine.",
    "The weekend was quiet. I mostly stayed at home and watched television.",
    "I am not sure what I want anymore. Everything feels a bit grey.",
    "My manager asked me to stay late again, and I just said yes as usual.",
)
INTERRUPTIONS = (
    "Wait, can I just say something about that first?",
    "No, that is not really what I meant at all.",
    "Sorry, before we move on, I need to explain that part.",
    "Actually, I think it was the other way around.",
)
BACKCHANNELS = ("mm-hmm", "yeah", "right", "okay", "I see", "uh-huh")


def demo_script(seed: int = 0) -> Script:
    """A ~80 s counselling-style dialogue, therapist S1 and client S2, with every cue kind.

    It has interruptions in both directions, backchannels, quick responses, a silence of about 4 s,
    questions and reflections, and a long client monologue. ``seed`` jitters the gaps slightly.
    """
    rng = random.Random(seed)
    j = lambda g: round(g + rng.uniform(-0.1, 0.1), 2) if g > 0.3 else g  # noqa: E731
    T, C = "S1", "S2"
    lines = (
        Line(T, "Hello, thank you for coming in. How has your week been?"),
        Line(C, "Honestly, it has been a hard week, and I barely slept.", j(0.9)),
        Line(T, "It sounds like you have been carrying a lot.", j(0.6)),
        Line(C, "Yes, and on Tuesday my manager asked me to stay late again, and I just said yes, "
                "like I always do, even though I was exhausted.", 0.1),
        Line(T, "mm-hmm", kind="backchannel", at=2.4),
        Line(T, "What happened after you said yes?", j(0.7)),
        Line(C, "I went home after nine. I was so angry with myself. I kept thinking about all the "
                "times I have done this before. My sister says I never stand up for myself, and maybe "
                "she is right. I sat in the kitchen for an hour, and I did not even eat dinner. Then I "
                "could not fall asleep until three in the morning.",
             j(1.0)),
        Line(T, "yeah", kind="backchannel", at=4.2),
        Line(T, "right", kind="backchannel", at=11.0),
        Line(T, "You felt angry with yourself for saying yes again, and it kept you awake.", j(0.8)),
        Line(C, "Not angry exactly, more disappointed, because I know what I should do.",
             kind="interruption", at=2.2),
        Line(T, "Disappointed. Can you tell me more about what you think you should do?", j(0.7)),
        Line(C, "I should tell him that I cannot stay late every single week.", 3.8),
        Line(T, "That sounds important to you, and it also sounds frightening to say out loud.", j(0.6)),
        Line(C, "It is frightening.", -0.08),
        Line(C, "Last time I tried, he just looked at me and I completely froze, and then I started "
                "apologising for even asking.", j(0.5)),
        Line(T, "Let us slow down for a moment, because what you noticed there really matters.",
             kind="interruption", at=3.0),
        Line(C, "okay", kind="backchannel", at=1.2),
        Line(C, "What do you mean?", j(0.5)),
        Line(T, "You froze, and then you apologised. It sounds like asking for anything feels risky.", 0.15),
        Line(C, "Exactly, I want to ask calmly, and then wait for his answer.", kind="interruption",
             at=2.0),
        Line(T, "What could help you practise that before next Tuesday?", j(0.9)),
    )
    return Script((THERAPIST, CLIENT), lines, lead_in=0.6, tail=0.8)


def _voices(rng: random.Random, n: int) -> tuple[Voice, ...]:
    first, rest = list(DISTINCT_VOICES), list(VOICE_POOL[len(DISTINCT_VOICES):])
    rng.shuffle(first)
    rng.shuffle(rest)
    pool = [(v, max(0, min(99, p + rng.randint(-5, 5))), w + rng.randint(-10, 10)) for v, p, w in first + rest]
    roles = ["therapist", "client"] + [None] * max(0, n - 2)
    return tuple(Voice(f"S{i + 1}", v, p, w, roles[i] if n == 2 else None)
                 for i, (v, p, w) in enumerate(pool[:n]))


def random_script(seed: int, n_speakers: int = 2, n_lines: int = 18, p_interruption: float = 0.15,
                  p_backchannel: float = 0.2, p_silence: float = 0.08, p_quick: float = 0.2,
                  voices: Sequence[Voice] | None = None) -> Script:
    """A random dialogue: ``n_speakers`` distinct voices, ``n_lines`` turns plus backchannels.

    Each turn picks a question, reflection or statement; with the given probabilities a turn is an
    interruption of the previous speaker, a backchannel is dropped into the previous turn, the gap is a
    silence of 3.5-5 s, or a quick response (gap 0-0.15 s or a 0.05-0.1 s overlap). At most one of
    these per turn, and no backchannel in a turn that is then interrupted. ``voices`` (e.g. from
    :func:`app.voices.draw_voices`) replaces the voices drawn from :data:`VOICE_POOL` and sets
    ``n_speakers``.
    """
    if voices is not None:
        n_speakers = len(voices)
    elif n_speakers < 1 or n_speakers > len(VOICE_POOL):
        raise ValueError(f"n_speakers must be 1..{len(VOICE_POOL)}")
    rng = random.Random(seed)
    voices = _voices(rng, n_speakers) if voices is None else tuple(voices)
    if not voices:
        raise ValueError("no voices")
    ids = [v.id for v in voices]
    lines: list[Line] = []
    prev = None
    for _ in range(n_lines):
        others = [s for s in ids if s != prev] or ids
        sp = rng.choice(others)
        r = rng.random()
        if prev is not None and sp != prev and r < p_interruption and lines[-1].kind == "turn" \
                and len(lines[-1].text) > 40:
            lines.append(Line(sp, rng.choice(INTERRUPTIONS), kind="interruption",
                              at=round(rng.uniform(1.2, 2.5), 2)))
            prev = sp
            continue
        pool = rng.choice((QUESTIONS, REFLECTIONS, STATEMENTS, STATEMENTS))
        text = rng.choice(pool)
        if r < p_interruption + p_silence:
            gap = round(rng.uniform(3.5, 5.0), 2)
        elif r < p_interruption + p_silence + p_quick:
            gap = round(rng.choice((rng.uniform(0.0, 0.15), -rng.uniform(0.05, 0.1))), 2)
        else:
            gap = round(rng.uniform(0.4, 1.4), 2)
        lines.append(Line(sp, text, gap))
        if n_speakers > 1 and len(text) > 50 and rng.random() < p_backchannel:
            bc_by = rng.choice([s for s in ids if s != sp])
            lines.append(Line(bc_by, rng.choice(BACKCHANNELS), kind="backchannel",
                              at=round(rng.uniform(0.8, 1.6), 2)))
            # a backchannel's anchor must not be interrupted: force a plain turn next
            lines.append(Line(rng.choice([s for s in ids if s != sp]), rng.choice(QUESTIONS + STATEMENTS),
                              round(rng.uniform(0.4, 1.2), 2)))
            prev = lines[-1].speaker
            continue
        prev = sp
    return Script(voices, tuple(lines), lead_in=round(rng.uniform(0.3, 1.0), 2),
                  tail=round(rng.uniform(0.3, 1.0), 2))


# -- the held-out set ----------------------------------------------------------------------------
# Two-person dialogues cycle through these plans: (close pair?, Piper voice?, sex of a close pair)
HELDOUT_PLAN = ((True, False, "m"), (True, True, None), (False, False, None), (True, False, "f"),
                (False, True, None), (False, False, None))
HELDOUT_LINES = 18  # turns of a two-person dialogue (about 80-100 s)
HELDOUT_GROUP_LINES = 24  # turns of the 3- and 4-person dialogues
HELDOUT_GROUP_SEED = 500  # the 3- and 4-person dialogues use seed + 500 and + 501 (the same for any n)


class HeldoutDialogue(NamedTuple):
    name: str  # e.g. "heldout1001-2spk-close-piper"
    wav: Path
    rttm: Path
    n_speakers: int
    voices: str  # a short description of the voices (see app.voices.describe)


def heldout_scripts(n: int = 6, seed: int = 1000) -> list[tuple[str, Script, str]]:
    """``(name, script, voice description)`` of the held-out set (see :func:`heldout_dialogues`)."""
    from app.voices import describe, draw_voices

    plans = [(seed + i, 2, *HELDOUT_PLAN[i % len(HELDOUT_PLAN)]) for i in range(n)]
    plans += [(seed + HELDOUT_GROUP_SEED, 3, True, False, None),
              (seed + HELDOUT_GROUP_SEED + 1, 4, False, True, None)]
    out = []
    for s, k, close, piper, sex in plans:
        voices = draw_voices(s, k, close=close, piper=piper, sex=sex)
        n_lines = HELDOUT_LINES if k == 2 else HELDOUT_GROUP_LINES
        script = random_script(s, n_lines=n_lines, voices=voices)
        while len({ln.speaker for ln in script.lines}) < k:  # every voice must speak (rarely needed)
            n_lines += 2
            script = random_script(s, n_lines=n_lines, voices=voices)
        name = f"heldout{s}-{k}spk" + ("-close" if close else "") + ("-piper" if piper else "")
        out.append((name, script, describe(voices)))
    return out


def heldout_dialogues(out_dir: str | os.PathLike, n: int = 6, seed: int = 1000) -> list[HeldoutDialogue]:
    """Render the held-out set into ``out_dir``: ``n`` two-person counselling dialogues (therapist S1,
    client S2), then one 3-person and one 4-person dialogue (S1 therapist, the others clients).

    All voices come from the bank of :mod:`app.voices`, none of them a voice of the other scripts.
    Two-person dialogues cycle through :data:`HELDOUT_PLAN`: a close male pair, a close pair of the
    Piper voice and a male en-us espeak voice, a free pair, a close female pair, the Piper voice with a
    free partner, a free pair; the 3-person dialogue has a close pair (S1/S2), the 4-person one the
    Piper voice. Two-person dialogue ``i`` uses seed ``seed + i`` for its script and voices, the
    3- and 4-person ones ``seed + 500`` and ``seed + 501`` (so a smaller ``n`` gives a subset);
    rendering is deterministic and cached (a dialogue already in ``out_dir`` is not rendered again).
    Names are ``heldout<seed>-<k>spk[-close][-piper]``.
    """
    from app.synth import render

    out_dir = Path(out_dir)
    result = []
    for name, script, desc in heldout_scripts(n, seed):
        wav = out_dir / f"{name}.wav"
        render(script, wav)
        result.append(HeldoutDialogue(name, wav, wav.with_suffix(".rttm"), len(script.voices), desc))
    return result
