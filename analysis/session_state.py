"""The live session state: one immutable snapshot that a UI (or a terminal) reads.

:class:`~analysis.live.LivePipeline` publishes a new :class:`SessionState` after every audio block; a
reader on any thread gets the latest one with ``pipeline.state()`` and never sees it change. Times are
seconds on the session's sample clock; dicts are keyed by speaker id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from analysis.timeline import Speaker, Turn, Utterance

WINDOW_S = 300.0  # seconds: the "recent" talk-share window (last 5 minutes)
RECENT_TURNS_S = 120.0  # seconds of turns kept for a timeline strip
TRANSCRIPT_TAIL = 20  # utterances kept for a live transcript

_EMPTY: Mapping = MappingProxyType({})


def frozen_map(d: Mapping | None) -> Mapping:
    """A read-only view of a copy of ``d`` (so a snapshot never changes under its reader)."""
    return MappingProxyType(dict(d)) if d else _EMPTY


@dataclass(frozen=True)
class Latency:
    """Latency figures in seconds (90th percentile and the worst) over the session so far."""

    state_p90: float | None = None  # block available → state published
    state_max: float | None = None
    transcript_p90: float | None = None  # utterance end captured → its transcript published
    transcript_max: float | None = None
    label_p90: float | None = None  # turn start captured → its speaker shown as speaking
    label_max: float | None = None
    asr_backlog: int = 0  # utterances waiting for transcription


@dataclass(frozen=True)
class SessionState:
    t: float = 0.0  # session seconds (audio consumed)
    status: str = "idle"  # idle | listening | device lost | finishing | finished
    speaking_now: tuple[str, ...] = ()
    speakers: tuple[Speaker, ...] = ()
    talk_time: Mapping[str, float] = field(default_factory=lambda: _EMPTY)  # seconds
    talk_share: Mapping[str, float] = field(default_factory=lambda: _EMPTY)  # 0..1, whole session
    talk_share_window: Mapping[str, float] = field(default_factory=lambda: _EMPTY)  # 0..1, last WINDOW_S
    interruptions_made: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    interruptions_received: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    backchannels: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    quick_responses: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    silence_s: float = 0.0  # seconds since anyone last spoke (0 while someone speaks)
    # the voice over the last WINDOW_S against the speaker's own baseline, the cue engine's figures of the
    # same names (docs/cues.md); None: no baseline yet
    wpm_rel: Mapping[str, float | None] = field(default_factory=lambda: _EMPTY)  # pace, ratio (1 = usual)
    pitch_median_rel_st: Mapping[str, float | None] = field(default_factory=lambda: _EMPTY)  # pitch level
    pitch_variability_rel_st: Mapping[str, float | None] = field(default_factory=lambda: _EMPTY)  # pitch moves
    loudness_rel_db: Mapping[str, float | None] = field(default_factory=lambda: _EMPTY)  # speech level
    recent_turns: tuple[Turn, ...] = ()  # turns ending in the last RECENT_TURNS_S (open one included)
    transcript_tail: tuple[Utterance, ...] = ()
    level_dbfs: float = -100.0
    overflows: int = 0
    lost_s: float = 0.0  # seconds of input replaced by silence (overflow, device gap)
    asr_dropped: int = 0  # utterances never transcribed (still waiting when the session's end timed out)
    latency: Latency = field(default_factory=Latency)
    error: str | None = None  # a one-line device message while capture is interrupted
    no_input_s: float = 0.0  # seconds the input has delivered only digital silence, or nothing at all
    backlog_s: float = 0.0  # seconds of captured audio still waiting for analysis (models loading)
    transcribing: bool = True  # words are recognised (False: "no transcript" consent or no recogniser)
    # the enrolled therapist voice was heard in the session (True), not heard after enough speech (False),
    # or cannot be said: nothing enrolled, or too early (None); see analysis.enrollment.enrolled_voice_heard
    enrolled_heard: bool | None = None

    def __post_init__(self) -> None:  # freeze every mapping so a reader can never change a snapshot
        for name in _MAP_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, frozen_map(value))

    def share_text(self) -> str:
        """``S1 62% S2 38%`` (for a terminal status line)."""
        return " ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(self.talk_share.items())) or "-"


_MAP_FIELDS = ("talk_time", "talk_share", "talk_share_window", "interruptions_made", "interruptions_received",
               "backchannels", "quick_responses", "wpm_rel", "pitch_median_rel_st", "pitch_variability_rel_st",
               "loudness_rel_db")
