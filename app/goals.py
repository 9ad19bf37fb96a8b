"""Personal goals (issue 16): a clinician's own target for one of the library's figures, e.g. "the client
talks at least 60 %", "at most 2 interruptions per hour", "wait 2 s before answering" (median response
latency at least 2 s). Written in the settings as ``"<figure><op><value>"`` (``client_talk_share>=60``);
shown discreetly on the live dashboard (one muted line) and tracked over sessions in the library's
trends. Qt-free.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.library import FIGURE_BY_KEY

# the figures a goal can be about, with the words for each direction
GOAL_WORDS: dict[str, tuple[str, str]] = {  # figure -> (at least, at most)
    "client_talk_share": ("the client talks at least {v:g} %", "the client talks at most {v:g} %"),
    "therapist_talk_share": ("I talk at least {v:g} %", "I talk at most {v:g} %"),
    "interruptions_per_hour": ("at least {v:g} interruptions per hour", "at most {v:g} interruptions per hour"),
    "response_latency_median": ("wait {v:g} s before answering (median)", "answer within {v:g} s (median)"),
    "longest_monologue": ("a longest monologue of at least {v:g} s", "no monologue of mine over {v:g} s"),
}
_GOAL_RE = re.compile(r"^\s*([a-z_]+)\s*(>=|<=)\s*([0-9]+(?:\.[0-9]+)?)\s*$")


@dataclass(frozen=True)
class Goal:
    figure: str  # a key of app.library.FIGURES (and of GOAL_WORDS)
    at_least: bool
    target: float

    @property
    def text(self) -> str:
        return GOAL_WORDS[self.figure][0 if self.at_least else 1].format(v=self.target)

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.target if self.at_least else value <= self.target

    def spec(self) -> str:
        return f"{self.figure}{'>=' if self.at_least else '<='}{self.target:g}"


def parse_goal(spec: str) -> Goal | None:
    """``"client_talk_share>=60"`` → Goal; None for anything else (a goal is a wish, not a reason to fail)."""
    m = _GOAL_RE.match(str(spec))
    if not m or m.group(1) not in GOAL_WORDS or m.group(1) not in FIGURE_BY_KEY:
        return None
    return Goal(m.group(1), m.group(2) == ">=", float(m.group(3)))


def parse_goals(specs: Iterable[str]) -> tuple[Goal, ...]:
    return tuple(g for g in (parse_goal(s) for s in specs) if g is not None)


def live_value(goal: Goal, cues: Any) -> float | None:
    """The figure so far in a live session, from the dashboard's cues (``ui.cues.Cues``): talk shares and
    the therapist's interruptions per hour; None when the live view has no such figure yet (response
    latency and monologues are shown after the session) or no therapist is known."""
    people = {p.role: p for p in getattr(cues, "people", ()) if getattr(p, "role", None)}
    if goal.figure == "client_talk_share" and "client" in people:
        return round(100 * people["client"].share, 1)
    if goal.figure == "therapist_talk_share" and "therapist" in people:
        return round(100 * people["therapist"].share, 1)
    if goal.figure == "interruptions_per_hour" and "therapist" in people and getattr(cues, "t", 0) >= 60:
        return round(people["therapist"].interruptions_made / (cues.t / 3600.0), 1)
    return None


def goal_line(goals: Sequence[Goal], cues: Any) -> str:
    """The dashboard's one line: each goal in the clinician's words and where it stands now."""
    parts = []
    for g in goals:
        v = live_value(g, cues)
        unit = FIGURE_BY_KEY[g.figure].unit
        now = "" if v is None else f" · now {v:g}{' %' if unit == '%' else ' /h' if unit == '/h' else ' s'}"
        parts.append(f"{g.text}{now}")
    return ("Goal: " if len(parts) == 1 else "Goals: ") + "; ".join(parts) if parts else ""


def sessions_meeting(goal: Goal, values: Sequence[float]) -> str:
    """For the trends: "goal met in 3 of 5 sessions"."""
    known = [v for v in values if v is not None]
    if not known:
        return "no session with this figure yet"
    return f"goal met in {sum(bool(goal.met(v)) for v in known)} of {len(known)} session(s)"
