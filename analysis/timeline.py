"""The session timeline: frozen dataclasses and their JSON form (``attune.timeline/1``).

Every time is a float number of seconds since the start of the session, on the audio sample clock.
The JSON layout is documented in ``docs/timeline.md``; field names here are the ones external tools
rely on, so rename nothing without bumping :data:`SCHEMA`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from analysis.atomic import atomic_write

SCHEMA = "attune.timeline/1"
ROLES = ("therapist", "client")
MAX_TIMELINE_BYTES = 512 << 20  # far beyond any real session (a 10-hour transcript is a few MB)


class TimelineError(ValueError):
    """A timeline file that cannot be read; ``str(err)`` is one line for the user."""


def _r(x: float) -> float:
    """Round a time for serialisation (1 ms is finer than any cue needs)."""
    return round(float(x), 3)


@dataclass(frozen=True)
class Speaker:
    id: str
    label: str
    role: str | None = None  # "therapist", "client" or None

    def __post_init__(self) -> None:
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES} or None, not {self.role!r}")


@dataclass(frozen=True)
class Turn:
    """A region in which one speaker is speaking. Turns of different speakers may overlap."""

    speaker: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    p: float  # recogniser's probability for the word, 0..1


@dataclass(frozen=True)
class Utterance:
    speaker: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Event:
    """A cue event: an interruption, backchannel, overlap, silence, ...

    ``by`` is the speaker who did it (e.g. who interrupted), ``of`` the speaker it was done to.
    """

    kind: str
    start: float
    end: float
    by: str | None = None
    of: str | None = None


@dataclass(frozen=True)
class Metrics:
    session: Mapping[str, Any] = field(default_factory=dict)
    speakers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Timeline:
    duration: float
    speakers: tuple[Speaker, ...] = ()
    turns: tuple[Turn, ...] = ()
    utterances: tuple[Utterance, ...] = ()
    events: tuple[Event, ...] = ()
    metrics: Metrics = field(default_factory=Metrics)
    source: Mapping[str, Any] = field(default_factory=dict)  # file name, sample rate, channels
    provenance: Mapping[str, Any] = field(default_factory=dict)  # app and model versions, options

    def with_(self, **changes: Any) -> Timeline:
        return replace(self, **changes)

    def speaker(self, speaker_id: str) -> Speaker | None:
        return next((s for s in self.speakers if s.id == speaker_id), None)

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "duration": _r(self.duration),
            "speakers": [asdict(s) for s in self.speakers],
            "turns": [{"speaker": t.speaker, "start": _r(t.start), "end": _r(t.end)} for t in self.turns],
            "utterances": [
                {
                    "speaker": u.speaker,
                    "start": _r(u.start),
                    "end": _r(u.end),
                    "text": u.text,
                    "words": [
                        {"start": _r(w.start), "end": _r(w.end), "text": w.text, "p": round(float(w.p), 4)}
                        for w in u.words
                    ],
                }
                for u in self.utterances
            ],
            "events": [
                {"kind": e.kind, "start": _r(e.start), "end": _r(e.end), "by": e.by, "of": e.of}
                for e in self.events
            ],
            "metrics": {"session": dict(self.metrics.session), "speakers": {
                k: dict(v) for k, v in self.metrics.speakers.items()}},
            "source": dict(self.source),
            "provenance": dict(self.provenance),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Timeline:
        if d.get("schema") != SCHEMA:
            raise ValueError(f"not an {SCHEMA} document (schema={d.get('schema')!r})")
        metrics = d.get("metrics") or {}
        return cls(
            duration=float(d["duration"]),
            speakers=tuple(Speaker(**s) for s in d.get("speakers", [])),
            turns=tuple(Turn(t["speaker"], float(t["start"]), float(t["end"])) for t in d.get("turns", [])),
            utterances=tuple(
                Utterance(
                    u["speaker"], float(u["start"]), float(u["end"]), u["text"],
                    tuple(Word(float(w["start"]), float(w["end"]), w["text"], float(w["p"]))
                          for w in u.get("words", [])),
                )
                for u in d.get("utterances", [])
            ),
            events=tuple(Event(e["kind"], float(e["start"]), float(e["end"]), e.get("by"), e.get("of"))
                         for e in d.get("events", [])),
            metrics=Metrics(metrics.get("session", {}), metrics.get("speakers", {})),
            source=d.get("source", {}),
            provenance=d.get("provenance", {}),
        )

    @classmethod
    def load(cls, path: str | Path) -> Timeline:
        """Read a timeline file. Anything that is not a readable ``attune.timeline/1`` document raises
        :class:`TimelineError` with a one-line message (never a KeyError or a JSON parser's traceback)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except IsADirectoryError:
            raise TimelineError(f"{path}: is a folder, not a timeline file") from None
        except OSError as exc:
            raise TimelineError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
        if len(data) > MAX_TIMELINE_BYTES:
            raise TimelineError(f"{path}: implausibly large for a timeline ({len(data) >> 20} MB)")
        try:
            doc = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise TimelineError(f"{path}: not a timeline (not UTF-8 text)") from None
        except (ValueError, RecursionError) as exc:
            where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
            raise TimelineError(f"{path}: not a timeline (damaged JSON{where})") from None
        if not isinstance(doc, dict):
            raise TimelineError(f"{path}: not a timeline (the JSON is not an object)")
        try:
            tl = cls.from_dict(doc)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            what = f"field {exc.args[0]!r} missing" if isinstance(exc, KeyError) else "a field has the wrong type"
            if isinstance(exc, ValueError) and str(exc).startswith("not an "):
                what = str(exc)[:120]
            raise TimelineError(f"{path}: damaged timeline ({what})") from None
        times = [tl.duration] + [x for t in tl.turns for x in (t.start, t.end)] + [
            x for u in tl.utterances for x in (u.start, u.end)] + [x for e in tl.events for x in (e.start, e.end)]
        if not all(math.isfinite(x) for x in times):
            raise TimelineError(f"{path}: damaged timeline (a time is not a finite number)")
        return tl

    def save(self, path: str | Path) -> None:
        """Write atomically: a temporary file, fsynced, renamed over ``path`` (removed if anything fails).
        A file name that is not valid UTF-8 (bytes on Linux) is kept, escaped, in ``source``."""
        text = self.to_json()
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from a non-UTF-8 file name: JSON escapes keep them
            data = json.dumps(self.to_dict(), indent=2, ensure_ascii=True, allow_nan=False).encode("ascii")
        atomic_write(path, data)


def rttm_lines(turns: Iterable[Turn], file_id: str) -> list[str]:
    """RTTM rows (``SPEAKER <file> 1 <start> <dur> <NA> <NA> <speaker> <NA> <NA>``) for the turns."""
    file_id = file_id.replace(" ", "_") or "session"
    return [
        f"SPEAKER {file_id} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>"
        for t in sorted(turns, key=lambda t: (t.start, t.speaker))
        if t.end > t.start
    ]


def write_rttm(turns: Iterable[Turn], path: str | Path, file_id: str) -> None:
    lines = rttm_lines(turns, file_id)
    # a file id from a non-UTF-8 file name gets U+FFFD for its undecodable bytes
    atomic_write(path, "".join(line + "\n" for line in lines).encode("utf-8", "replace"))


def read_rttm(path: str | Path) -> list[Turn]:
    turns = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, dur = float(parts[3]), float(parts[4])
            turns.append(Turn(parts[7], start, start + dur))
    return turns
