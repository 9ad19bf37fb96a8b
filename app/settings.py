"""Persisted desktop settings: a small JSON file in Attune's data folder.

The data folder is ``$ATTUNE_HOME`` when set (tests give every test its own), otherwise the
platform's user data folder (``platformdirs.user_data_dir("attune")``). The file is
``settings.json``; unknown keys are ignored and missing ones take their defaults, so old files keep
working. Nothing here imports Qt: the settings are plain data the UI reads and edits.

Only preferences are kept, never a session's choices or anything about a client: no consent answer,
no replayed recording (a ``file:`` input is never saved nor restored, so the next session cannot
replay an old file instead of listening), no transcript switch. The data folder and ``sessions/``
are 0700 and ``settings.json`` is 0600.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

THEMES = ("dark", "dim")
SETTINGS_FILE = "settings.json"


def data_dir() -> Path:
    """Attune's per-user data folder (created on first use, mode 0700)."""
    home = os.environ.get("ATTUNE_HOME")
    if home:
        path = Path(home)
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("attune", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    return path


def sessions_dir() -> Path:
    """Where sessions are kept (created on first use, mode 0700)."""
    path = data_dir() / "sessions"
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    return path


RENAMED = {"tone_band_st": "pitch_band_st"}  # old settings.json key -> its name now (still read)
NOT_ENROLLED = ""  # therapist_voice when the clinician chose "Not enrolled" (None: not chosen yet)


def is_recording(device: str | None) -> bool:
    """Whether an input is a replayed recording (``file:<path>``) rather than a device."""
    return bool(device) and str(device).startswith("file:")


# The allowed range of each number (one definition: the dataclass clamps a hand-edited file to it, the
# settings window refuses a value outside it with a message). Integers for integer settings.
LIMITS: dict[str, tuple[int, int] | tuple[float, float]] = {
    "session_minutes": (5, 240),
    "end_cue_minutes": (0, 30),
    "nudge_talk_share": (0.5, 0.95),
    "nudge_interruptions": (1, 20),
    "pace_band": (0.02, 1.0),
    "pitch_band_st": (0.2, 12.0),
    "pitch_variability_band_st": (0.2, 12.0),
    "loudness_band_db": (0.5, 30.0),
    "retention_days": (0, 36500),
    "idle_lock_minutes": (0, 24 * 60),
}
# The range of a goal's target, by the unit of its figure (app.library.FIGURES)
GOAL_LIMITS: dict[str, tuple[float, float, str]] = {  # unit -> (lowest, highest, how it is written)
    "%": (0.0, 100.0, "a percentage from 0 to 100"),
    "/h": (0.0, 120.0, "a number per hour from 0 to 120"),
    "s": (0.0, 600.0, "a number of seconds from 0 to 600"),
}


@dataclass(frozen=True)
class Settings:
    """What the clinician chose last time. Thresholds are the gentle-nudge triggers.

    device: input device name (None: the system default). Never a recording: ``file:`` inputs are
        dropped when loading and saving.
    session_minutes: the planned session length (the clock shows a cue near its end).
    end_cue_minutes: how long before the planned end the clock starts its gentle cue.
    therapist_voice: name of the enrolled therapist voiceprint to use; ``NOT_ENROLLED`` ("") when the
        clinician chose "Not enrolled"; None when never chosen (the newest enrolled voice is offered).
    theme: "dark" or "dim".
    nudges: master switch for the gentle nudges (colour change and a small line of text).
    nudge_talk_share: the therapist's share of the last 5 minutes that earns a nudge (0..1).
    nudge_interruptions: interruptions by the therapist within the last 5 minutes that earn a nudge.
    nudge_end: whether the clock's near-end cue is shown.
    privacy_key: the one key that blanks the window (and shows it again).
    strip_on_top: whether the compact strip stays above other windows.
    pace_band: the relative change of words per minute (e.g. 0.15 = 15 %) beyond a speaker's own
        baseline that reads as "faster than usual" or "slower than usual"; within the band "as usual".
    pitch_band_st: the same for the pitch level (median pitch), in semitones: "pitch higher/lower than
        usual" (saved as ``tone_band_st`` before; that name is still read).
    pitch_variability_band_st: the same for how much the pitch moves, in semitones: "pitch more varied /
        flatter than usual".
    loudness_band_db: the same for the speech level, in dB: "louder / quieter than usual".
    The bands are chosen, not tuned on recordings (docs/cues.md, Tone).
    review_reanalyse: when a session recorded live is opened for review, run its review-quality
        re-analysis at once (otherwise the review window offers it).
    retention_days: sessions older than this keep only de-identified figures (recording and words
        deleted, app/retention.py); 0 keeps everything.
    goals: personal goals, each ``"<figure><op><value>"`` (``client_talk_share>=60``,
        ``interruptions_per_hour<=2``, ``response_latency_median>=2``; app/goals.py): one discreet line on
        the live dashboard, a target line on the library's trends.
    clinician: the clinician's name or code, recorded with each new session so that a shared
        installation's library can show trends per clinician; "" records none (the installation's own).
    idle_lock_minutes: the app locks the store (keys wiped from memory, session windows hidden) after
        this many minutes without a key press or mouse use, never while a session is running; 0: never.
    """

    device: str | None = None
    session_minutes: int = 50
    end_cue_minutes: int = 5
    therapist_voice: str | None = None
    theme: str = "dark"
    nudges: bool = True
    nudge_talk_share: float = 0.70
    nudge_interruptions: int = 2
    nudge_end: bool = True
    privacy_key: str = "F12"
    strip_on_top: bool = True
    pace_band: float = 0.15
    pitch_band_st: float = 1.5
    pitch_variability_band_st: float = 1.0
    loudness_band_db: float = 3.0
    review_reanalyse: bool = False
    retention_days: int = 0
    idle_lock_minutes: int = 15
    goals: tuple = ()
    clinician: str = ""

    def __post_init__(self) -> None:
        if is_recording(self.device):
            object.__setattr__(self, "device", None)  # a preference, never a session's recording
        if self.theme not in THEMES:
            object.__setattr__(self, "theme", "dark")
        for name, (lo, hi) in LIMITS.items():  # out-of-range values from an edited file are clamped
            object.__setattr__(self, name, type(lo)(min(hi, max(lo, getattr(self, name)))))
        from app.goals import parse_goal

        object.__setattr__(self, "goals", tuple(str(g) for g in self.goals if parse_goal(str(g)) is not None))

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Settings:
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        d = {**{new: d[old] for old, new in RENAMED.items() if old in d and new not in d}, **d}
        for key, value in d.items():
            if key not in known:
                continue
            default = known[key].default
            if default is not None and value is not None and not isinstance(value, type(default)):
                try:
                    value = type(default)(value)
                except (TypeError, ValueError):
                    continue
            kwargs[key] = value
        return cls(**kwargs)


def settings_path() -> Path:
    return data_dir() / SETTINGS_FILE


def load_settings() -> Settings:
    """The saved settings, or the defaults when there are none or the file is unreadable."""
    path = settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return Settings.from_dict(data)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("settings file unreadable, using defaults: %s", exc)
    return Settings()


def save_settings(settings: Settings) -> Path:
    """Write the settings atomically, readable by the user only (0600); returns the file path."""
    path = settings_path()
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(asdict(settings), indent=2))
    os.chmod(tmp, 0o600)  # an old tmp file may have had another mode
    tmp.replace(path)
    return path


def goal_problems(specs: list[str] | tuple[str, ...]) -> list[str]:
    """Why these goals cannot be saved, in plain words ([] when they can): a goal that is not one
    (``app.goals.parse_goal``), a target outside its figure's range (``GOAL_LIMITS``), the same goal
    twice, or "at least" above "at most" for one figure (no session could meet both)."""
    from app.goals import parse_goal
    from app.library import FIGURE_BY_KEY

    problems: list[str] = []
    seen: dict[tuple[str, bool], float] = {}

    def add(problem: str) -> None:
        if problem not in problems:
            problems.append(problem)

    for spec in specs:
        goal = parse_goal(spec)
        if goal is None:
            add(f"\u201c{spec}\u201d is not a goal Attune knows (e.g. client_talk_share>=60).")
            continue
        noun = FIGURE_BY_KEY[goal.figure].noun
        lo, hi, words = GOAL_LIMITS[FIGURE_BY_KEY[goal.figure].unit]
        if not lo <= goal.target <= hi:
            add(f"A goal for {noun} is {words}, not {goal.target:.10g}.")
        key = (goal.figure, goal.at_least)
        if key in seen:
            add(f"There are two \u201c{'at least' if goal.at_least else 'at most'}\u201d goals for {noun}: "
                "keep one.")
        seen[key] = goal.target
    for (figure, at_least), low in seen.items():
        high = seen.get((figure, False)) if at_least else None
        if high is not None and low > high:
            add(f"No session can have {FIGURE_BY_KEY[figure].noun} at least {low:g} and at most {high:g}: "
                "change one of the two goals.")
    return problems


def settings_problems(settings: Settings) -> list[str]:
    """What the settings window must refuse beyond each number's own range (``LIMITS``): a closing cue
    (when shown) that would start before the session does, and the goals' problems (:func:`goal_problems`)."""
    problems = []
    if settings.nudge_end and settings.end_cue_minutes >= settings.session_minutes:
        problems.append(f"The closing cue ({settings.end_cue_minutes} min before the end) must come after "
                        f"the session starts: make it shorter than the session ({settings.session_minutes} min).")
    return problems + goal_problems(settings.goals)
