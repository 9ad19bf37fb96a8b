"""From a live ``SessionState`` to what the dashboard shows: pure Python, no Qt, easy to test.

:class:`CueModel` keeps the little history the nudges need (interruption counts over the last five
minutes) and turns each state snapshot into a :class:`Cues` value the widgets render. Words follow
the trust article's language: active listening, room to fully express themselves, without
interruption, boundaries, a collaborative partnership. Nudges are short, kind and never alarming.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

WINDOW_S = 300.0  # "last 5 minutes"
MIN_WINDOW_SPEECH_S = 30.0  # no talk-share nudge before this much speech in the window


@dataclass(frozen=True)
class Person:
    id: str
    label: str
    role: str | None
    share: float  # of the session's speech, 0..1
    share_window: float  # of the last 5 minutes' speech
    talk_s: float
    interruptions_made: int
    interruptions_received: int
    backchannels: int
    quick_responses: int
    pace: str  # "calmer" / "as usual" / "more animated" / "" (no baseline yet)
    tone: str
    speaking: bool


@dataclass(frozen=True)
class Nudge:
    key: str  # "talk_share", "interruptions", "end"
    text: str  # the small line of text
    tip: str  # the tooltip, in the article's words


@dataclass(frozen=True)
class Cues:
    t: float
    clock: str  # "23:41"
    planned: str  # "/ 50:00"
    remaining_s: float
    end_cue: bool
    people: tuple[Person, ...]
    speaking_now: tuple[str, ...]  # labels
    speaking_text: str  # "You are speaking", "Client is speaking", "Both speaking", "Quiet"
    silence_s: float | None  # the pause timer; None while someone speaks
    silence_label: str
    nudges: tuple[Nudge, ...] = ()
    status: str = ""
    level_dbfs: float = -100.0
    health: str = ""  # overflow / dropped-ASR note, empty when all is well
    transcript: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (label, text)

    @property
    def therapist(self) -> Person | None:
        return next((p for p in self.people if p.role == "therapist"), None)

    @property
    def client(self) -> Person | None:
        return next((p for p in self.people if p.role == "client"), None)

    def pair(self) -> tuple[Person | None, Person | None]:
        """The two sides of the balance bar: therapist and client, or the first two voices."""
        a, b = self.therapist, self.client
        others = [p for p in self.people if p is not a and p is not b]
        if a is None and others:
            a = others.pop(0)
        if b is None and others:
            b = others.pop(0)
        return a, b


def mmss(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def display_name(p: Person) -> str:
    """What the clinician reads: "You" for the therapist, "Client", or the voice's label."""
    return {"therapist": "You", "client": "Client"}.get(p.role or "", p.label)


def _finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, not a number or NaN."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if v != v else v


def describe_rel(value: float | None, band: float = 0.15) -> str:
    """A relative pace value as words. ``value`` is the ratio to the speaker's own baseline
    (1.0 = as usual, the pipeline's ``pace_rel``); None means no baseline yet."""
    v = _finite(value)
    if v is None:
        return ""
    if v < 1.0 - band:
        return "calmer"
    if v > 1.0 + band:
        return "more animated"
    return "as usual"


def describe_st(value: float | None, band_st: float = 1.5) -> str:
    """A relative tone value (semitones above the speaker's own median pitch) as words."""
    v = _finite(value)
    if v is None:
        return ""
    return describe_rel(1.0 + v / band_st * 0.5, 0.5)


def _get(mapping: Any, key: str, default: Any = 0) -> Any:
    if isinstance(mapping, Mapping):
        v = mapping.get(key, default)
        return default if v is None else v
    return default


class CueModel:
    """Turns state snapshots into :class:`Cues`. ``settings`` is an :class:`app.settings.Settings`."""

    def __init__(self, settings: Any, planned_s: float | None = None, assume_first_is_therapist: bool = True
                 ) -> None:
        self.settings = settings
        self.planned_s = float(planned_s if planned_s is not None else settings.session_minutes * 60)
        self._int_hist: deque[tuple[float, int]] = deque()
        self.assume_first = assume_first_is_therapist
        self.roles: dict[str, str] = {}  # speaker id -> role chosen by the clinician
        self._heard: list[str] = []  # speaker ids in the order they were first heard
        self._pipeline_roles = False  # the pipeline named roles (enrolled voice)

    # -- roles ---------------------------------------------------------------------------------
    def _note_heard(self, state: Any) -> None:
        turns = sorted(getattr(state, "recent_turns", ()) or (), key=lambda tr: tr.start)
        for sid in [tr.speaker for tr in turns] + list(getattr(state, "speaking_now", ()) or ()):
            if sid not in self._heard and sid != "?":
                self._heard.append(sid)

    def role_of(self, speaker: Any) -> str | None:
        """The speaker's role: the pipeline's (enrolled voice), the clinician's choice, or by default
        the first voice heard is the therapist's (who usually opens) and the second the client's."""
        if speaker.id in self.roles:
            return self.roles[speaker.id]
        if speaker.role:
            return speaker.role
        if self._pipeline_roles:  # the enrolled voice decides; an unplaced voice stays unnamed
            return None
        if self.assume_first and not self.roles and speaker.id in self._heard[:2]:
            return ("therapist", "client")[self._heard.index(speaker.id)]
        return None

    def swap_roles(self, people: tuple[Person, ...]) -> None:
        """Swap who is taken for the therapist and who for the client (one click in the view)."""
        swap = {"therapist": "client", "client": "therapist"}
        self.roles = {p.id: swap[p.role] for p in people if p.role in swap}

    def _interruptions_in_window(self, t: float, total: int) -> int:
        """Interruptions made within the last 5 minutes, from the running total's history."""
        hist = self._int_hist
        if not hist or hist[-1][0] < t:
            hist.append((t, total))
        while len(hist) > 1 and hist[1][0] <= t - WINDOW_S:
            hist.popleft()
        base = hist[0][1] if hist[0][0] <= t - WINDOW_S else 0
        return max(0, total - base)

    def update(self, state: Any) -> Cues:
        s = self.settings
        t = float(getattr(state, "t", 0.0) or 0.0)
        speaking_ids = tuple(getattr(state, "speaking_now", ()) or ())
        speakers = tuple(getattr(state, "speakers", ()) or ())
        talk_time = getattr(state, "talk_time", {}) or {}
        share = getattr(state, "talk_share", {}) or {}
        share_w = getattr(state, "talk_share_window", {}) or {}
        self._note_heard(state)
        self._pipeline_roles = any(sp.role for sp in speakers)
        pace = getattr(state, "pace_rel", {}) or {}
        tone = getattr(state, "tone_rel", {}) or {}
        people = tuple(
            Person(
                id=sp.id, label=sp.label, role=self.role_of(sp),
                share=float(_get(share, sp.id, 0.0)), share_window=float(_get(share_w, sp.id, 0.0)),
                talk_s=float(_get(talk_time, sp.id, 0.0)),
                interruptions_made=int(_get(getattr(state, "interruptions_made", {}), sp.id)),
                interruptions_received=int(_get(getattr(state, "interruptions_received", {}), sp.id)),
                backchannels=int(_get(getattr(state, "backchannels", {}), sp.id)),
                quick_responses=int(_get(getattr(state, "quick_responses", {}), sp.id)),
                pace=describe_rel(_get(pace, sp.id, None), s.pace_band),
                tone=describe_st(_get(tone, sp.id, None), getattr(s, "tone_band_st", 1.5)),
                speaking=sp.id in speaking_ids,
            )
            for sp in speakers
        )
        labels = {p.id: p for p in people}
        now = tuple(labels[i].label if i in labels else str(i) for i in speaking_ids)
        if not speaking_ids:
            speaking_text = "Quiet"
        elif len(speaking_ids) > 1:
            speaking_text = "Both speaking" if len(speaking_ids) == 2 else "Several speaking"
        else:
            p = labels.get(speaking_ids[0])
            if p is not None and p.role == "therapist":
                speaking_text = "You are speaking"
            elif p is not None and p.role == "client":
                speaking_text = "Client is speaking"
            else:
                speaking_text = f"{p.label if p else 'Someone'} is speaking"

        silence_s, silence_label = self._silence(state, t, people, speaking_ids)
        remaining = self.planned_s - t
        end_cue = bool(s.nudge_end and s.end_cue_minutes > 0 and remaining <= s.end_cue_minutes * 60)
        cues = Cues(
            t=t, clock=mmss(t), planned=f"/ {mmss(self.planned_s)}", remaining_s=remaining,
            end_cue=end_cue, people=people, speaking_now=now, speaking_text=speaking_text,
            silence_s=silence_s, silence_label=silence_label,
            status=str(getattr(state, "status", "") or ""),
            level_dbfs=float(getattr(state, "level_dbfs", -100.0) or -100.0),
            health=self._health(state),
            transcript=tuple(
                (display_name(labels[u.speaker]) if u.speaker in labels else "…", u.text)
                for u in (getattr(state, "transcript_tail", ()) or ())
            ),
        )
        return Cues(**{**cues.__dict__, "nudges": self._nudges(cues, t)})

    # -- pieces --------------------------------------------------------------------------------
    @staticmethod
    def _silence(state: Any, t: float, people: tuple[Person, ...], speaking: tuple[str, ...]
                 ) -> tuple[float | None, str]:
        """The pause timer: seconds since the client last stopped speaking, while nobody speaks."""
        if speaking:
            return None, "Pause"
        turns = tuple(getattr(state, "recent_turns", ()) or ())
        client_ids = {p.id for p in people if p.role == "client"}
        last_end = max((tr.end for tr in turns), default=None)
        client_end = max((tr.end for tr in turns if tr.speaker in client_ids), default=None)
        if client_end is not None and last_end is not None and client_end >= last_end - 1e-6:
            return max(0.0, t - client_end), "Pause after client"
        silence = getattr(state, "silence_s", None)
        if silence is None:
            return (max(0.0, t - last_end), "Pause") if last_end is not None else (None, "Pause")
        return max(0.0, float(silence)), "Pause"

    @staticmethod
    def _health(state: Any) -> str:
        parts = []
        overflows = int(getattr(state, "overflows", 0) or 0)
        dropped = int(getattr(state, "asr_dropped", 0) or 0)
        if overflows:
            parts.append(f"audio gaps {overflows}")
        if dropped:
            parts.append(f"transcript skipped {dropped}")
        return " · ".join(parts)

    def _nudges(self, cues: Cues, t: float) -> tuple[Nudge, ...]:
        s = self.settings
        out: list[Nudge] = []
        th = cues.therapist
        if s.nudges and th is not None and cues.client is not None:
            window_speech = min(t, WINDOW_S)
            if window_speech >= MIN_WINDOW_SPEECH_S and th.share_window >= s.nudge_talk_share:
                out.append(Nudge(
                    "talk_share",
                    f"You have spoken {round(100 * th.share_window)} % of the last 5 minutes",
                    "Active listening: room for the client to fully express themselves "
                    "helps them feel heard and understood."))
            n = self._interruptions_in_window(t, th.interruptions_made)
            if n >= s.nudge_interruptions:
                out.append(Nudge(
                    "interruptions", f"{n} interruptions in the last 5 minutes",
                    "Listening attentively, without judgment or interruption, lets clients fully "
                    "express themselves."))
        if cues.end_cue:
            left = max(0, round(cues.remaining_s / 60))
            text = f"About {left} min left" if cues.remaining_s > 0 else "Planned time reached"
            out.append(Nudge(
                "end", text,
                "The importance of boundaries: keeping to the agreed session length builds trust."))
        return tuple(out)
