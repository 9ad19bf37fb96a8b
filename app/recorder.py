"""Crash-safe session recording: audio, an append-only event log and a session description.

A session folder holds:

- ``audio.wav``: 16 kHz mono 16-bit PCM appended block by block as it arrives. Every block goes to
  the operating system at once (``os.write``), so a killed process loses only what it had not yet
  received; the file is fsynced every ``FSYNC_EVERY_S`` against power loss. Its header carries
  placeholder sizes until :meth:`Recorder.close` (or :func:`recover`) patches them.
- ``events.jsonl``: one JSON object per line (``{"type": "turn" | "utterance" | "event" | ..., ...}``),
  written and flushed line by line, so nothing already logged is lost.
- ``session.json``: schema version, status (``recording`` → ``finished``, or ``recovered`` after a
  crash), consent flags, start time, the recording process id, and what the caller adds (e.g.
  ``people_in_room``: who the clinician said is in the room, see :func:`people_in_room`).

In "no audio kept" mode (consent) only the event log and the session description are written. The
folder is private (0700) and so is every file written in it (0600).

**Encrypted sessions (issue 13).** Given a :class:`app.store.Session` instead of a folder, the recorder
writes the same three things into the encrypted store: the audio as ``audio.stream`` (one authenticated
record per block, :meth:`Session.audio_writer`), the events as ``events.stream`` (one record per event,
:meth:`Session.event_log`) and the description as ``session.enc`` (:meth:`Session.update`); both streams
are fsynced every second and sealed by :meth:`Recorder.close`. After a crash, :func:`find_interrupted`
(given the :class:`app.store.Store`), :func:`is_interrupted`, :func:`recover` and
:func:`recorded_seconds` work on such sessions too: the torn last record is cut off, the streams are
sealed and the logged events become the encrypted ``timeline``. The plain folder form remains for
callers not yet moved to the store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from audio import SAMPLE_RATE

log = logging.getLogger(__name__)

SESSION_SCHEMA = "attune.session/1"
AUDIO_NAME = "audio.wav"
EVENTS_NAME = "events.jsonl"
SESSION_NAME = "session.json"
TIMELINE_NAME = "timeline.json"
FSYNC_EVERY_S = 1.0  # seconds of wall time between fsyncs of the audio and event log
STALE_S = 30.0  # a "recording" session whose files have not changed for this long is interrupted
WAV_HEADER_BYTES = 44
_PLACEHOLDER = 0xFFFFFFFF  # RIFF/data size while recording (readers treat it as "to end of file")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _wav_header(n_bytes: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    riff = _PLACEHOLDER if n_bytes == _PLACEHOLDER else 36 + n_bytes
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
            + b"data" + struct.pack("<I", n_bytes))


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _jsonable(x: Any) -> Any:
    if is_dataclass(x) and not isinstance(x, type):
        return {k: _jsonable(v) for k, v in asdict(x).items()}
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float):
        return round(x, 3)
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    return x


def _is_store_session(x: Any) -> bool:
    """A session of the encrypted store (:class:`app.store.Session`) rather than a plain folder."""
    return hasattr(x, "audio_writer") and hasattr(x, "event_log")


def read_session(session_dir: Any) -> dict[str, Any]:
    """session.json (or a store session's description) as a dict; OSError or ValueError (one line) when
    it cannot be read or is not an object."""
    if _is_store_session(session_dir):
        return session_dir.meta
    meta = json.loads((Path(session_dir) / SESSION_NAME).read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"{SESSION_NAME} is not a JSON object")
    return meta


# -- who is in the room -----------------------------------------------------------------------------
# The clinician's answer to "who is in the room" (start dialog, ``attune live --speakers``), kept in
# session.json as ``"people_in_room": {"choice": ..., "count": N}``. ``count`` (people, therapist
# included) bounds the diarizer live and fixes the speaker count when the session is re-analysed;
# null means "not sure" (automatic).
PEOPLE_CHOICES = ("individual", "couple", "family", "not_sure")
PEOPLE_COUNTS = {"individual": 2, "couple": 3}  # the choices that fix the number by themselves
MAX_PEOPLE = 10  # the largest number of people in the room the app accepts


def people_in_room(count: int | None, choice: str | None = None) -> dict[str, Any]:
    """The ``people_in_room`` record of session.json. Without ``choice`` (the command line) it is named
    from the count: 2 individual, 3 couple, None not sure, any other number family / group."""
    if choice is None:
        choice = ("not_sure" if count is None else
                  next((c for c, n in PEOPLE_COUNTS.items() if n == count), "family"))
    if choice not in PEOPLE_CHOICES:
        raise ValueError(f"unknown people_in_room choice {choice!r}")
    return {"choice": choice, "count": None if count is None else int(count)}


def stored_people_count(meta: Mapping[str, Any]) -> int | None:
    """The number of people a stored session says were in the room; None when the clinician was not
    sure, the session predates the question, or the value is not a plausible count."""
    record = meta.get("people_in_room")
    count = record.get("count") if isinstance(record, Mapping) else None
    if isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= MAX_PEOPLE:
        return count
    return None


class Recorder:
    """Writes one session folder. ``write(block)`` for audio, ``log(type, **fields)`` for events.

    ``keep_audio=False`` honours a "no audio kept" consent: no audio file is ever created.
    """

    def __init__(self, session_dir: Any, keep_audio: bool = True, keep_transcript: bool = True,
                 sample_rate: int = SAMPLE_RATE, meta: Mapping[str, Any] | None = None) -> None:
        self.store_session = session_dir if _is_store_session(session_dir) else None
        self.keep_audio = keep_audio
        self.keep_transcript = keep_transcript
        self.sample_rate = sample_rate
        self._samples = 0
        self._last_sync = time.monotonic()
        self._fd: int | None = None
        self._audio = None  # the store's AudioWriter
        self._event_log = None  # the store's EventLog
        encrypted = self.store_session is not None
        self.session: dict[str, Any] = {
            "schema": SESSION_SCHEMA,
            "status": "recording",
            "started_at": _now_iso(),
            "consent": {"audio": keep_audio, "transcript": keep_transcript},
            "audio": ({"sample_rate": sample_rate, "channels": 1, "format": "pcm_s16le-records"} if encrypted
                      else {"file": AUDIO_NAME, "sample_rate": sample_rate, "channels": 1,
                            "format": "wav-pcm16"}) if keep_audio else None,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            **(dict(meta) if meta else {}),
        }
        from app.retention import consent_record
        from app.store import _user

        self.session.setdefault("consent_recorded", consent_record(self.session["started_at"], _user()))
        if encrypted:
            s = self.store_session
            self.dir = s.dir
            self.session.pop("schema")  # the store's description has its own schema
            if s.has("audio", stream=True) or s.has("events", stream=True):
                raise FileExistsError(f"session {s.id}: already holds a recording")
            # the files are made at the first write, log or update (SessionRunner: right after the
            # input has started), so that their few fsyncs never delay opening the microphone
            self._opened = False
            self._open_lock = threading.Lock()
            self.closed = False
            return
        self.dir = Path(session_dir)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)  # private whatever the umask, and if it existed already
        if (self.dir / SESSION_NAME).exists():
            raise FileExistsError(f"{self.dir}: already holds a session")
        if keep_audio:
            self._fd = os.open(self.dir / AUDIO_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(self._fd, _wav_header(_PLACEHOLDER, sample_rate))
        self._events = open(self.dir / EVENTS_NAME, "a", encoding="utf-8")  # noqa: SIM115
        os.chmod(self.dir / EVENTS_NAME, 0o600)
        _write_json_atomic(self.dir / SESSION_NAME, self.session)
        self.closed = False

    def _open(self) -> None:
        """(store sessions) Create the streams and write the description, once."""
        if self.store_session is None or self._opened:
            return
        with self._open_lock:
            if self._opened:
                return
            s = self.store_session
            if self.keep_audio:
                self._audio = s.audio_writer(self.sample_rate)
            self._event_log = s.event_log()
            self.session = dict(s.update(**_jsonable(self.session)))
            self._opened = True

    @property
    def duration(self) -> float:
        """Seconds of audio written (0 in "no audio kept" mode)."""
        return self._samples / self.sample_rate

    def write(self, samples: np.ndarray) -> None:
        """Append float32 samples (16 kHz mono) to the audio file, at once."""
        if self.store_session is not None:
            self._open()
            if self._audio is None:  # "no audio kept"
                return
        if self._audio is not None:
            self._audio.write(samples)
            self._samples = self._audio.samples
            return
        if self._fd is None:
            return
        pcm = np.clip(np.rint(np.asarray(samples, dtype=np.float32) * 32767.0), -32768, 32767).astype("<i2")
        os.write(self._fd, pcm.tobytes())
        self._samples += len(pcm)
        self._maybe_sync()

    def log(self, type_: str, **fields: Any) -> None:
        """Append one event line (``{"type": type_, **fields}``); dataclass values are expanded.

        Transcript text is dropped when the transcript consent is off.
        """
        if not self.keep_transcript and type_ == "utterance":
            fields = {k: v for k, v in fields.items() if k not in ("text", "words")}
        if self.store_session is not None:
            self._open()
            self._event_log.append({"type": type_, **_jsonable(fields)})
            return
        self._events.write(json.dumps({"type": type_, **_jsonable(fields)}, ensure_ascii=False) + "\n")
        self._events.flush()
        self._maybe_sync()

    def log_record(self, type_: str, record: Any) -> None:
        """Append a dataclass record (Turn, Utterance, Event) as one event line."""
        self.log(type_, **_jsonable(record))

    def _maybe_sync(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_sync >= FSYNC_EVERY_S:
            self._last_sync = now
            if self._fd is not None:
                os.fsync(self._fd)
            os.fsync(self._events.fileno())

    def update(self, **fields: Any) -> None:
        """Merge fields into session.json (rewritten atomically)."""
        self.session.update(_jsonable(fields))
        if self.store_session is not None:
            if not self._opened:
                self._open()  # writes the whole description, these fields included
                return
            self.store_session.update(**_jsonable(fields))
            return
        _write_json_atomic(self.dir / SESSION_NAME, self.session)

    def close(self, status: str = "finished", **fields: Any) -> None:
        if self.closed:
            return
        self.closed = True
        if self.store_session is not None:
            self._open()
            for writer in (self._audio, self._event_log):
                if writer is not None:
                    writer.close()  # the final record: sealed
            self.update(status=status, finished_at=_now_iso(), duration=round(self.duration, 3), **fields)
            return
        if self._fd is not None:
            os.pwrite(self._fd, _wav_header(self._samples * 2, self.sample_rate), 0)
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        self._events.flush()
        os.fsync(self._events.fileno())
        self._events.close()
        self.update(status=status, finished_at=_now_iso(), duration=round(self.duration, 3), **fields)


# -- after a crash --------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _interrupted_meta(meta: Mapping[str, Any], newest_mtime: Any) -> bool:
    if meta.get("status") != "recording":
        return False
    try:
        pid = int(meta.get("pid") or 0)
    except (TypeError, ValueError):  # a damaged description: treated as a process that is gone
        pid = 0
    same_host = meta.get("host") in (None, socket.gethostname())
    if pid == os.getpid() and same_host:
        return False
    if not same_host or not pid or not _pid_alive(pid):
        return True
    return time.time() - newest_mtime() > STALE_S


def _store_session_mtime(session: Any) -> float:
    return max((p.stat().st_mtime for p in session.dir.iterdir() if p.is_file()), default=0.0)


def is_interrupted(session_dir: Any) -> bool:
    """A session left in ``recording`` state by a process that is gone (or silent for ``STALE_S``).
    ``session_dir``: a plain session folder or a store session."""
    if _is_store_session(session_dir):
        try:
            meta = session_dir.meta
        except Exception:  # noqa: BLE001 - unreadable: not offered for recovery (the store reports it)
            return False
        return _interrupted_meta(meta, lambda: _store_session_mtime(session_dir))
    d = Path(session_dir)
    try:
        meta = read_session(d)
    except (OSError, ValueError):
        return False

    def newest_mtime() -> float:
        files = [d / n for n in (AUDIO_NAME, EVENTS_NAME, SESSION_NAME) if (d / n).exists()]
        return max((f.stat().st_mtime for f in files), default=0.0)

    return _interrupted_meta(meta, newest_mtime)


def find_interrupted(root: Any) -> list:
    """Interrupted session folders directly under ``root`` (or ``root`` itself), oldest first; given an
    :class:`app.store.Store`, its interrupted sessions (:class:`app.store.Session`), oldest first."""
    if hasattr(root, "unsealed_sessions"):
        out = []
        for sid in root.unsealed_sessions():
            with contextlib.suppress(Exception):
                session = root.session(sid)
                if is_interrupted(session):
                    out.append(session)
        return sorted(out, key=lambda s: str(s.meta.get("started_at") or ""))
    root = Path(root)
    if not root.is_dir():
        return []
    candidates = [root] if (root / SESSION_NAME).exists() else []
    candidates += sorted(p for p in root.iterdir() if p.is_dir() and (p / SESSION_NAME).exists())
    return [p for p in candidates if is_interrupted(p)]


def read_events(session_dir: str | Path) -> list[dict[str, Any]]:
    """Every complete line of ``events.jsonl`` (a torn last line from a crash is skipped)."""
    path = Path(session_dir) / EVENTS_NAME
    out = []
    if not path.exists():
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):  # a damaged log can hold any JSON value on a line
                out.append(event)
    return out


def recorded_seconds(session_dir: Any) -> float:
    """Seconds a session recorded (for the recovery bar): its duration once recovered, else the audio
    on disk, else the last end time in its event log ("no audio kept")."""
    if _is_store_session(session_dir):
        s = session_dir
        meta = s.meta
        if isinstance(meta.get("duration"), int | float):
            return float(meta["duration"])
        if s.has("audio", stream=True):
            return s.audio_reader().duration
        return _last_end(s.read_events())
    d = Path(session_dir)
    try:
        meta = read_session(d)
    except (OSError, ValueError):
        meta = {}
    if isinstance(meta.get("duration"), int | float):  # set once recovered
        return float(meta["duration"])
    try:
        rate = int((meta.get("audio") or {}).get("sample_rate") or SAMPLE_RATE)
    except (AttributeError, TypeError, ValueError):
        rate = SAMPLE_RATE
    audio = d / AUDIO_NAME
    if audio.exists():
        return max(0, audio.stat().st_size - WAV_HEADER_BYTES) // 2 / max(rate, 1)
    end = 0.0
    try:  # its last complete line is the latest
        with open(d / EVENTS_NAME, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            for line in f.read().splitlines():
                if b'"end"' in line:
                    try:
                        end = max(end, float(json.loads(line).get("end", 0.0)))
                    except (ValueError, TypeError, AttributeError):
                        continue
    except OSError:
        pass
    return end


def fix_wav(path: str | Path, sample_rate: int = SAMPLE_RATE) -> float:
    """Patch the sizes in a WAV header written by :class:`Recorder`; returns its duration in seconds."""
    path = Path(path)
    size = path.stat().st_size
    n_bytes = max(0, size - WAV_HEADER_BYTES)
    n_bytes -= n_bytes % 2
    with open(path, "r+b") as f:
        f.truncate(WAV_HEADER_BYTES + n_bytes)
        f.seek(0)
        f.write(_wav_header(n_bytes, sample_rate))
        f.flush()
        os.fsync(f.fileno())
    return n_bytes / 2 / sample_rate


def timeline_from_events(events: Iterable[Mapping[str, Any]], duration: float, source: Mapping[str, Any]):
    """A :class:`~analysis.timeline.Timeline` of the turns, utterances and cue events in a log."""
    from analysis.timeline import Event, Speaker, Timeline, Turn, Utterance, Word

    turns, utts, evs, speakers = [], [], [], {}
    for e in events:
        kind = e.get("type")
        try:
            if kind == "turn":
                turns.append(Turn(e["speaker"], float(e["start"]), float(e["end"])))
            elif kind == "utterance":
                words = tuple(Word(float(w["start"]), float(w["end"]), w["text"], float(w["p"]))
                              for w in e.get("words") or ())
                utts.append(Utterance(e["speaker"], float(e["start"]), float(e["end"]), e.get("text", ""),
                                      words))
            elif kind == "event":
                evs.append(Event(e["kind"], float(e["start"]), float(e["end"]), e.get("by"), e.get("of")))
            elif kind == "speaker":
                speakers[e["id"]] = Speaker(e["id"], e.get("label") or e["id"], e.get("role"))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    def sound(x, *texts) -> bool:  # a damaged log: NaN/infinite times, a number or null for a name or text
        return math.isfinite(x.start) and math.isfinite(x.end) and all(isinstance(t, str) for t in texts)

    turns = [t for t in turns if sound(t, t.speaker)]
    utts = [u for u in utts if sound(u, u.speaker, u.text) and all(isinstance(w.text, str) for w in u.words)]
    evs = [e for e in evs if sound(e, e.kind)]
    for t in turns:
        speakers.setdefault(t.speaker, Speaker(t.speaker, f"Speaker {t.speaker.lstrip('S')}", None))
    end = max([duration] + [t.end for t in turns] + [u.end for u in utts])
    return Timeline(duration=end, speakers=tuple(speakers[k] for k in sorted(speakers)),
                    turns=tuple(sorted(turns, key=lambda t: t.start)),
                    utterances=tuple(sorted(utts, key=lambda u: u.start)),
                    events=tuple(sorted(evs, key=lambda e: e.start)), source=dict(source),
                    provenance={"app": "attune", "mode": "live", "recovered": True})


def _last_end(events: Iterable[Mapping[str, Any]]) -> float:
    ends = []
    for e in events:
        try:
            ends.append(float(e["end"]))
        except (KeyError, TypeError, ValueError):
            continue
    return max([0.0] + [x for x in ends if math.isfinite(x)])


def recover_store_session(session: Any) -> float:
    """Recover an interrupted session of the encrypted store: the streams a crash left open are sealed
    (a torn last record cut off; a record that fails to authenticate raises
    :class:`app.crypto_stream.AuthenticationError` and nothing is changed), the logged events become the
    encrypted ``timeline`` and the description says ``recovered``. Returns the seconds recorded."""
    session.recover()
    meta = session.meta
    try:
        rate = int((meta.get("audio") or {}).get("sample_rate") or SAMPLE_RATE)
    except (AttributeError, TypeError, ValueError, OverflowError):
        rate = SAMPLE_RATE
    if not 1_000 <= rate <= 768_000:
        rate = SAMPLE_RATE
    has_audio = session.has("audio", stream=True)
    events = session.read_events()
    events = [e for e in events if isinstance(e, dict)]
    duration = session.audio_reader(rate).duration if has_audio else _last_end(events)
    source = {"file": None, "sample_rate": rate, "channels": 1, "live": True, "session": session.id}
    timeline = timeline_from_events(events, duration, source)
    session.write_json("timeline", timeline.to_dict())
    session.update(status="recovered", recovered_at=_now_iso(), duration=round(duration, 3),
                   analysable=has_audio, events_recovered=len(events))
    log.info("recovered session %s: %.1f s of audio, %d events", session.id, duration, len(events))
    return duration


def recover(session_dir: Any) -> Path:
    """Turn an interrupted session into a normal one; returns the audio file (or the timeline).

    The audio header is patched to the length actually on disk, the events logged before the crash
    become ``timeline.json`` (the live timeline, analysable and reviewable), and session.json is marked
    ``recovered``. Running it twice is harmless. A store session: :func:`recover_store_session` (returns
    its folder).
    """
    if _is_store_session(session_dir):
        recover_store_session(session_dir)
        return session_dir.dir
    d = Path(session_dir)
    meta = read_session(d)
    try:
        rate = int((meta.get("audio") or {}).get("sample_rate") or SAMPLE_RATE)
    except (AttributeError, TypeError, ValueError, OverflowError):  # damaged session.json
        rate = SAMPLE_RATE
    if not 1_000 <= rate <= 768_000:
        rate = SAMPLE_RATE  # what the recorder writes; an absurd rate would make the duration absurd
    audio = d / AUDIO_NAME
    duration = fix_wav(audio, rate) if audio.exists() else 0.0
    events = read_events(d)
    if not audio.exists():
        ends = []
        for e in events:
            try:
                ends.append(float(e["end"]))
            except (KeyError, TypeError, ValueError):
                continue
        duration = max([duration] + [x for x in ends if math.isfinite(x)])
    source = {"file": AUDIO_NAME if audio.exists() else None, "sample_rate": rate, "channels": 1,
              "live": True}
    timeline = timeline_from_events(events, duration, source)
    timeline.save(d / TIMELINE_NAME)
    os.chmod(d / TIMELINE_NAME, 0o600)
    meta.update(status="recovered", recovered_at=_now_iso(), duration=round(duration, 3),
                analysable=audio.exists(), events_recovered=len(events))
    _write_json_atomic(d / SESSION_NAME, meta)
    log.info("recovered session %s: %.1f s of audio, %d events", d.name, duration, len(events))
    return audio if audio.exists() else d / TIMELINE_NAME
