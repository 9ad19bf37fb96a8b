"""Import the plain session folders of earlier versions into the encrypted store (issue 13).

Earlier versions wrote each session as a plain folder under ``<data dir>/sessions/``
(:func:`app.settings.sessions_dir`): ``audio.wav`` (16-bit PCM, the recorder's plain form),
``events.jsonl``, ``session.json``, ``timeline.json`` and ``note.txt``, and after a review
``notes.json``, ``corrections.json`` and ``timeline.offline.json``. :func:`import_plain_sessions` turns
each into a store session:

- the old ``session.json`` becomes the session's description (its ``schema``, ``audio`` and ``note``
  fields restated for the store; ``imported_from`` names the source folder and a fingerprint of its
  ``session.json``);
- ``audio.wav`` is copied block by block (:data:`BLOCK_S` seconds at a time, never whole in memory)
  into ``session.audio_writer``; ``events.jsonl`` line by line into ``session.event_log()``; the JSON
  files through ``write_json``, ``note.txt`` through ``write_doc``;
- everything is read back (the audio's samples hashed against the source's, the number of events, each
  document) before the description gets its final status; only then is the plain folder removed (renamed
  to a hidden name first, so a crash during the removal leaves no half folder that looks like a session).

A folder that cannot be imported (a damaged ``session.json``, WAV or JSON file, a file Attune does not
know) is left exactly as it was, the half-made session (if any) is deleted, and one line says why. A
folder still being recorded by a running old version is skipped. Running it again is harmless: a session
whose import was interrupted (description status ``importing``) is replaced, and a folder whose import
had completed is only removed. An interrupted old session (``recording``, its process gone) is imported
as ``recovered``, its timeline made from its event log as :func:`app.recorder.recover` would. One import
runs at a time per store (an OS lock on ``<store>/import.lock``). Each session imported is an ``import``
entry in the audit log. Qt-free.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from app.store import PCM_SCALE  # AudioWriter's scale: int16 k -> k / 32767 -> back to k exactly
from audio import SAMPLE_RATE

log = logging.getLogger(__name__)

AUDIO_NAME = "audio.wav"
EVENTS_NAME = "events.jsonl"
SESSION_NAME = "session.json"
TIMELINE_NAME = "timeline.json"
NOTE_NAME = "note.txt"
# the other JSON files a plain folder may hold -> the role of their encrypted copy
JSON_ROLES = {TIMELINE_NAME: "timeline", "timeline.offline.json": "timeline_offline",
              "notes.json": "notes", "corrections.json": "corrections"}
KNOWN_FILES = {AUDIO_NAME, EVENTS_NAME, SESSION_NAME, NOTE_NAME, *JSON_ROLES}
IMPORTING = "importing"  # the description's status until the copy is read back
BLOCK_S = 10.0  # seconds of audio read, written and verified at a time
LOCK_NAME = "import.lock"
_DONE_RE = re.compile(r"^\.(?P<name>.+)\.imported-(?P<id>[0-9a-f]{32})$")


class ImportFailed(Exception):
    """A folder that cannot be imported; ``str(err)`` is one line."""


@dataclass
class ImportResult:
    imported: list[str] = field(default_factory=list)  # ids of the sessions made
    sources: dict[str, Path] = field(default_factory=dict)  # session id -> the folder it came from
    removed: list[Path] = field(default_factory=list)  # folders already imported, only removed now
    failed: list[tuple[Path, str]] = field(default_factory=list)  # folder, why (left as it was)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # folder, why (e.g. still recording)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def plain_session_folders(root: Path) -> list[Path]:
    """The folders directly under ``root`` that hold a ``session.json`` (hidden folders excluded)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / SESSION_NAME).is_file())


# -- the WAV the plain recorder wrote ------------------------------------------------------------------
def wav_layout(path: Path) -> tuple[int, int, int]:
    """``(sample_rate, data offset, data bytes)`` of a 16-bit mono PCM WAV. A data size left as the
    recorder's placeholder (an interrupted session) means "to the end of the file"; a declared size
    beyond the file is cut to what is there. Raises :class:`ImportFailed`."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ImportFailed(f"{AUDIO_NAME} is not a WAV file")
        rate = None
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk, n = struct.unpack("<4sI", f.read(8))
            if chunk == b"fmt ":
                fmt = f.read(16)
                if len(fmt) < 16:
                    break
                tag, channels, rate, _bps, _align, bits = struct.unpack("<HHIIHH", fmt)
                if tag != 1 or channels != 1 or bits != 16 or not 1_000 <= rate <= 768_000:
                    raise ImportFailed(f"{AUDIO_NAME} is not 16-bit mono PCM (format {tag}, {channels} "
                                       f"channel(s), {bits} bits, {rate} Hz)")
            elif chunk == b"data":
                if rate is None:
                    break
                start = pos + 8
                available = size - start
                n = available if n == 0xFFFFFFFF else min(n, available)
                return rate, start, n - n % 2
            pos += 8 + n + (n & 1)
    raise ImportFailed(f"{AUDIO_NAME} has no readable format or data chunk")


def _pcm_blocks(path: Path, offset: int, n_bytes: int, block_bytes: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(offset)
        left = n_bytes
        while left > 0:
            data = f.read(min(block_bytes, left))
            if not data:
                raise ImportFailed(f"{AUDIO_NAME} ended early (the file changed while it was read)")
            left -= len(data)
            yield data


# -- one folder ---------------------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ImportFailed(f"{path.name} is not UTF-8 text") from None
    except ValueError as exc:
        raise ImportFailed(f"{path.name} is not valid JSON ({str(exc).splitlines()[0][:80]})") from None


def _events(path: Path) -> Iterator[dict[str, Any]]:
    """The events of ``events.jsonl``: a torn last line (a crash) that does not parse is dropped; any
    other line that is not a JSON object makes the folder fail."""
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                if not line.endswith(b"\n"):
                    return  # torn by a crash, as the recorder's recovery treats it
                raise ImportFailed(f"{EVENTS_NAME} line {n} is damaged") from None
            if not isinstance(event, dict):
                raise ImportFailed(f"{EVENTS_NAME} line {n} is not an event")
            yield event


def _fingerprint(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:32]


def _existing_imports(store) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(folder name, fingerprint) -> [(session id, status)] of the store's imported sessions."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for sid in store.session_ids():
        try:
            meta = store.session(sid).meta
        except Exception:  # noqa: BLE001 - an unreadable session is not ours to judge here
            continue
        src = meta.get("imported_from")
        if isinstance(src, dict) and isinstance(src.get("folder"), str):
            key = (src["folder"], str(src.get("fingerprint")))
            out.setdefault(key, []).append((sid, str(meta.get("status"))))
    return out


def _remove_plain(folder: Path, session_id: str) -> None:
    """Remove an imported plain folder: renamed to a hidden name first (atomic), then deleted."""
    gone = folder.with_name(f".{folder.name}.imported-{session_id}")
    folder.rename(gone)
    shutil.rmtree(gone)


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise ImportFailed(f"the copy of {what} did not read back the same")


def _import_folder(store, folder: Path, raw_meta: bytes, old: dict[str, Any], interrupted: bool) -> str:
    """Copy one plain folder into a new store session and read it back; returns the session id. On
    failure the half-made session is deleted and the folder is untouched."""
    from app.recorder import timeline_from_events

    docs: dict[str, Any] = {}  # role -> parsed JSON, all checked before anything is written
    for name, role in JSON_ROLES.items():
        if (folder / name).is_file():
            docs[role] = _read_json(folder / name)
            if not isinstance(docs[role], dict):
                raise ImportFailed(f"{name} is not a JSON object")
    if "timeline" in docs:
        from analysis.timeline import Timeline

        try:
            Timeline.from_dict(docs["timeline"])
        except Exception as exc:  # noqa: BLE001 - any malformed timeline: one line
            raise ImportFailed(f"{TIMELINE_NAME} is not a readable timeline ({str(exc)[:80]})") from None
    note = (folder / NOTE_NAME).read_bytes() if (folder / NOTE_NAME).is_file() else None
    audio = folder / AUDIO_NAME
    layout = wav_layout(audio) if audio.is_file() else None

    meta = {k: v for k, v in old.items() if k not in ("schema", "id", "created_at", "pid", "host")}
    final_status = "recovered" if interrupted else old.get("status") or "finished"
    meta.update(status=IMPORTING, imported_from={"folder": folder.name, "fingerprint": _fingerprint(raw_meta),
                                                 "schema": old.get("schema"), "at": _now_iso()})
    session = store.create_session(meta)
    try:
        fields: dict[str, Any] = {"status": final_status}
        seconds = 0.0
        if layout is not None:
            rate, offset, n_bytes = layout
            digest = hashlib.sha256()
            writer = session.audio_writer(rate, fsync_interval_s=None)
            try:
                for data in _pcm_blocks(audio, offset, n_bytes, int(BLOCK_S * rate) * 2):
                    digest.update(data)
                    writer.write(np.frombuffer(data, dtype="<i2").astype(np.float32) / np.float32(PCM_SCALE))
            finally:
                writer.close()
            # read back: every record decrypted and hashed, the stream sealed, the same number of samples
            reader = session.stream_reader("audio")
            back = hashlib.sha256()
            n_back = 0
            for data in reader:
                back.update(data)
                n_back += len(data)
            _check(reader.sealed and n_back == n_bytes and back.digest() == digest.digest(), AUDIO_NAME)
            seconds = n_bytes / 2 / rate
            _check(abs(session.audio_reader(rate).duration - seconds) < 1e-9, f"{AUDIO_NAME}'s duration")
            fields["audio"] = {"sample_rate": rate, "channels": 1, "format": "pcm_s16le-records"}
        elif old.get("audio"):
            fields["audio"] = None  # the description named audio the folder does not hold
        events: list[dict[str, Any]] = []
        if (folder / EVENTS_NAME).is_file():
            elog = session.event_log(fsync_interval_s=None)
            try:
                for event in _events(folder / EVENTS_NAME):
                    elog.append(event)
                    if interrupted and "timeline" not in docs:
                        events.append(event)  # for the timeline made from the log
                    fields["events_imported"] = fields.get("events_imported", 0) + 1
            finally:
                elog.close()
            _check(len(session.read_events()) == fields.get("events_imported", 0), EVENTS_NAME)
        if interrupted:
            rate = layout[0] if layout else SAMPLE_RATE
            duration = seconds if layout is not None else max(
                [0.0] + [float(e["end"]) for e in events
                         if isinstance(e.get("end"), int | float) and np.isfinite(e["end"])])
            if "timeline" not in docs:
                source = {"file": None, "sample_rate": rate, "channels": 1, "live": True, "session": session.id}
                docs["timeline"] = timeline_from_events(events, duration, source).to_dict()
            fields.update(recovered_at=_now_iso(), duration=round(duration, 3), analysable=layout is not None)
        elif not isinstance(old.get("duration"), int | float) and layout is not None:
            fields["duration"] = round(seconds, 3)
        for role, obj in docs.items():
            session.write_json(role, obj)
            _check(session.read_json(role) == obj, role)
        if note is not None:
            session.write_doc("note", note)
            _check(session.read_doc("note") == note, NOTE_NAME)
        fields["note"] = "note" if note else None
        session.update(**fields)
        _check(session.store.session(session.id).meta.get("status") == final_status, SESSION_NAME)
    except Exception:
        with contextlib.suppress(Exception):
            store.delete_session(session.id)
        raise
    store.audit("import", session=session.id, source="plain folder", audio_s=round(seconds, 1),
                events=fields.get("events_imported", 0))
    return session.id


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImportFailed):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        name = Path(os.fsdecode(exc.filename)).name if exc.filename else ""
        return f"{exc.strerror}{': ' + name if name else ''}"
    return f"{type(exc).__name__}: {str(exc)[:120]}"


def _one(store, folder: Path, existing, result: ImportResult) -> None:
    from app.recorder import is_interrupted

    unknown = sorted(p.name for p in folder.iterdir()
                     if p.name not in KNOWN_FILES and not p.name.endswith(".tmp") and not p.name.startswith("."))
    if unknown:
        raise ImportFailed(f"it holds files Attune does not import: {', '.join(unknown[:3])}"
                           f"{', ...' if len(unknown) > 3 else ''}")
    raw = (folder / SESSION_NAME).read_bytes()
    try:
        old = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ImportFailed(f"{SESSION_NAME} is not valid JSON") from None
    if not isinstance(old, dict):
        raise ImportFailed(f"{SESSION_NAME} is not a JSON object")
    interrupted = False
    if old.get("status") == "recording":
        if not is_interrupted(folder):
            result.skipped.append((folder, "still being recorded"))
            return
        interrupted = True
    earlier = existing.get((folder.name, _fingerprint(raw)), [])
    done = [sid for sid, status in earlier if status != IMPORTING]
    if done:  # imported and read back before; the removal did not happen (a crash): only remove it
        _remove_plain(folder, done[0])
        result.removed.append(folder)
        return
    for sid, _status in earlier:  # an import interrupted half-way: replaced
        store.delete_session(sid)
    sid = _import_folder(store, folder, raw, old, interrupted)
    result.imported.append(sid)
    result.sources[sid] = folder
    with contextlib.suppress(OSError):  # a folder left behind is removed by the next run
        _remove_plain(folder, sid)


@contextlib.contextmanager
def _import_lock(store):
    """An OS lock on ``<store>/import.lock`` (released when the process ends, however it ends);
    yields False when another process holds it."""
    path = Path(store.root) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def import_plain_folders(store, plain_root: str | os.PathLike | None = None,
                         report: Callable[[str], None] | None = None) -> ImportResult:
    """Import every plain session folder under ``plain_root`` (default: ``<data dir>/sessions``) into
    ``store``. ``report(line)`` gets one line per folder that fails or is skipped (default: logged)."""
    from app.settings import sessions_dir

    root = Path(plain_root) if plain_root is not None else sessions_dir()
    report = report or log.warning
    result = ImportResult()
    folders = plain_session_folders(root)
    leftovers = [p for p in root.iterdir() if p.is_dir() and _DONE_RE.match(p.name)] if root.is_dir() else []
    if not folders and not leftovers:
        return result
    with _import_lock(store) as locked:
        if not locked:
            report(f"{root}: another Attune is importing these sessions; not imported now")
            result.skipped.extend((f, "another import is running") for f in folders)
            return result
        ids = set(store.session_ids())
        for p in leftovers:  # removals a crash interrupted, of sessions already in the store
            if _DONE_RE.match(p.name)["id"] in ids:
                shutil.rmtree(p, ignore_errors=True)
        existing = _existing_imports(store)
        for folder in plain_session_folders(root):
            try:
                _one(store, folder, existing, result)
            except Exception as exc:  # noqa: BLE001 - one folder's failure never stops the others
                why = _reason(exc)
                result.failed.append((folder, why))
                report(f"{folder}: not imported: {why}; the folder is left as it was")
        for folder, why in result.skipped:
            report(f"{folder}: not imported: {why}")
    return result


def import_plain_sessions(store, plain_root: str | os.PathLike | None = None,
                          report: Callable[[str], None] | None = None) -> list[str]:
    """:func:`import_plain_folders`, returning the ids of the sessions made."""
    return import_plain_folders(store, plain_root, report).imported


def import_plain_at_startup(store) -> ImportResult:
    """The desktop app's start-up step (after unlocking): never fatal."""
    try:
        result = import_plain_folders(store)
    except Exception as exc:  # noqa: BLE001 - the import must not stop the app from opening
        log.warning("the plain sessions of earlier versions could not be imported: %s", exc)
        return ImportResult()
    if result.imported:
        log.info("imported %d plain session folder(s) of earlier versions into the encrypted store",
                 len(result.imported))
    return result


__all__ = ["ImportFailed", "ImportResult", "import_plain_at_startup", "import_plain_folders",
           "import_plain_sessions", "plain_session_folders", "wav_layout"]
