"""The encrypted session store: session folders, an encrypted index, voiceprints and the audit log.

Layout (everything under ``<data dir>/store/``, folders 0700, files 0600; the data dir is
``$ATTUNE_HOME`` or ``platformdirs.user_data_dir("attune")``, see :func:`app.settings.data_dir`)::

    vault.json                   the master key's slots (app/vault.py)
    index.db                     SQLCipher index of the sessions (rebuildable from the folders)
    audit/<time>-<pid>-<rand>.stream   encrypted append-only audit log, one segment per process
    voiceprints/<slug>.enc       enrolled voiceprints (biometric), encrypted whole
    sessions/<id>/session.key    the session's random key, wrapped by the master key
    sessions/<id>/session.enc    the session's description (consent, dates, metrics, ...), whole
    sessions/<id>/audio.stream   16-bit PCM, one record per captured block (app/crypto_stream.py)
    sessions/<id>/events.stream  the live event log, one record per JSON line
    sessions/<id>/<role>.enc     timeline, note, corrections, ... encrypted whole

A session id is 32 random hex digits: the folder names say nothing about the client or the date.
Every file is bound to its session id and role (:func:`app.vault.file_key` and the records' associated
data), so files swapped between sessions or roles fail to authenticate. Deleting a session destroys its
key file first, then removes the folder and its index row.

The index (``sessions`` and ``session_tags`` tables, versioned by ``schema_version`` and the ordered
:data:`MIGRATIONS`) holds only what the session descriptions hold, so :meth:`Store.rebuild_index` can
recreate it from the folders at any time; :meth:`Store.open` does so when it is missing, unreadable or
disagrees with the folders.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from app.crypto_stream import FSYNC_INTERVAL_S as STREAM_FSYNC_INTERVAL_S
from app.crypto_stream import (
    Binding,
    CryptoError,
    RecoveryReport,
    StreamContents,
    StreamReader,
    StreamWriter,
    read_sealed_file,
    read_stream,
    recover,
    write_sealed_file,
)
from app.vault import (
    SESSION_KEY_NAME,
    VAULT_NAME,
    MasterKey,
    SessionKeyError,
    create_session_key,
    destroy_session_key,
    file_key,
    load_session_key,
)

STORE_DIR = "store"
SESSIONS_DIR = "sessions"
INDEX_NAME = "index.db"
AUDIT_DIR = "audit"
VOICEPRINTS_DIR = "voiceprints"
INDEX_PURPOSE = "attune/index/1"
AUDIT_PURPOSE = "attune/audit/1"
VOICEPRINT_PURPOSE = "attune/voiceprint/1"
SESSION_SCHEMA = "attune.session/2"  # the encrypted session description (the plain one was /1)

# roles of a session's files; a role names the file: streams <role>.stream, whole files <role>.enc
ROLE_SESSION = "session"
ROLE_AUDIO = "audio"
ROLE_EVENTS = "events"
ROLE_TIMELINE = "timeline"
ROLE_OFFLINE_TIMELINE = "timeline_offline"
ROLE_NOTE = "note"
ROLE_CORRECTIONS = "corrections"
STREAM_ROLES = (ROLE_AUDIO, ROLE_EVENTS)

SAMPLE_RATE = 16_000  # Hz, the recorder's audio
PCM_SCALE = 32767.0  # float sample 1.0 -> int16
MAX_AUDIO_RECORD_SAMPLES = 10 * SAMPLE_RATE  # samples per audio record at most (10 s); larger blocks split
INDEX_BUSY_TIMEOUT_S = 10.0  # seconds to wait for another process's lock on the index

_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_ROLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class StoreError(Exception):
    """Base of the store's errors; ``str(err)`` is one line for the user."""


class SessionNotFoundError(StoreError):
    pass


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    return path


def store_root() -> Path:
    """``<data dir>/store`` (created 0700)."""
    from app.settings import data_dir

    return _private_dir(data_dir() / STORE_DIR)


def vault_path(root: str | Path | None = None) -> Path:
    """Where the vault file of a store lives (``<store>/vault.json``)."""
    return Path(root if root is not None else store_root()) / VAULT_NAME


def own_clinician() -> str | None:
    """The installation's clinician (the ``clinician`` setting), recorded in each new session; None when
    none is set (a session without a clinician is the installation's own)."""
    from app.settings import load_settings

    try:
        name = load_settings().clinician
    except Exception:  # unreadable settings: nothing recorded
        return None
    return name.strip() or None


def check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not _ID_RE.match(session_id):
        raise SessionNotFoundError(f"{session_id!r} is not a session id")
    return session_id


def _check_role(role: str) -> str:
    if not isinstance(role, str) or not _ROLE_RE.match(role):
        raise ValueError(f"{role!r} is not a file role")
    return role


# -- index ------------------------------------------------------------------------------------------
def _m1_sessions(con) -> None:
    con.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, client TEXT, started_at TEXT, duration_s REAL, "
                "status TEXT, metrics TEXT NOT NULL DEFAULT '{}', consent TEXT NOT NULL DEFAULT '{}', "
                "updated_at TEXT)")


def _m2_tags(con) -> None:
    con.execute("CREATE TABLE session_tags (session_id TEXT NOT NULL, tag TEXT NOT NULL, "
                "PRIMARY KEY (session_id, tag))")
    con.execute("CREATE INDEX sessions_started_at ON sessions (started_at)")


def _m3_doc_mtime(con) -> None:
    # when the session description was last written: a description changed while the index was closed
    # (the app locked during a recording) is noticed at the next open
    con.execute("ALTER TABLE sessions ADD COLUMN doc_mtime_ns INTEGER")


def _m4_clinician(con) -> None:
    # the clinician of a session (issue 16: trends per clinician); no session recorded one before
    con.execute("ALTER TABLE sessions ADD COLUMN clinician TEXT")


# MIGRATIONS[i] brings the index from schema version i to i + 1; append, never edit or reorder
MIGRATIONS: tuple[Callable[[Any], None], ...] = (_m1_sessions, _m2_tags, _m3_doc_mtime, _m4_clinician)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class SessionSummary:
    """A session as the index lists it."""

    id: str
    client: str | None = None  # pseudonym
    started_at: str | None = None  # ISO time
    duration_s: float | None = None  # seconds
    status: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # headline metrics
    consent: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    clinician: str | None = None  # None: the installation's own


def summary_from_meta(session_id: str, meta: Mapping[str, Any]) -> SessionSummary:
    """The index row of a session description (the only source of the index, so it can be rebuilt)."""
    def text(v):
        return None if v is None else str(v)

    duration = meta.get("duration")
    tags = meta.get("tags") or ()
    return SessionSummary(
        id=session_id, client=text(meta.get("client")), started_at=text(meta.get("started_at")),
        duration_s=float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None,
        status=text(meta.get("status")),
        metrics=dict(meta.get("metrics") or {}) if isinstance(meta.get("metrics"), Mapping) else {},
        consent=dict(meta.get("consent") or {}) if isinstance(meta.get("consent"), Mapping) else {},
        tags=tuple(sorted({str(t) for t in tags})) if isinstance(tags, list | tuple) else (),
        clinician=text(meta.get("clinician")))


class Index:
    """The SQLCipher index. Keyed with a raw 256-bit key (no SQLCipher passphrase derivation)."""

    def __init__(self, path: Path, key: bytes) -> None:
        import sqlcipher3

        self.path = path
        self._db = sqlcipher3
        self._lock = threading.RLock()
        if not path.exists():  # create it private before SQLite does
            with contextlib.suppress(FileExistsError):  # another process or thread did, just now
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self.con = sqlcipher3.connect(str(path), timeout=INDEX_BUSY_TIMEOUT_S, check_same_thread=False,
                                      isolation_level=None)
        try:
            self.con.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            self.con.execute("PRAGMA temp_store = MEMORY")  # no plaintext temp files
            self.con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails on a wrong key
            self.migrate()
        except BaseException:
            self.con.close()
            raise

    @property
    def DatabaseError(self):  # noqa: N802 - the DB-API exception class
        return self._db.DatabaseError

    def version(self) -> int:
        has = self.con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
                               ).fetchone()
        if not has:
            return 0
        row = self.con.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def migrate(self, upto: int = SCHEMA_VERSION) -> int:
        """Apply the migrations the index lacks, each in its own transaction; returns the version."""
        with self._lock:
            self.con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            while True:
                # the version is read inside the write transaction: another connection (the app's
                # recovery scan, a CLI command) may be migrating the same new index at this moment
                self.con.execute("BEGIN IMMEDIATE")
                try:
                    current = self.version()
                    if current > SCHEMA_VERSION:
                        raise StoreError(f"{self.path.name}: the index is from a newer Attune (schema {current})")
                    if current >= upto:
                        self.con.execute("COMMIT")
                        return current
                    MIGRATIONS[current](self.con)
                    self.con.execute("INSERT INTO schema_version (version) VALUES (?)", (current + 1,))
                    self.con.execute("COMMIT")
                except BaseException:
                    self.con.execute("ROLLBACK")
                    raise

    def upsert(self, s: SessionSummary, doc_mtime_ns: int | None = None) -> None:
        with self._lock:
            self.con.execute("BEGIN IMMEDIATE")
            try:
                self.con.execute(
                    "INSERT OR REPLACE INTO sessions (id, client, started_at, duration_s, status, metrics, "
                    "consent, updated_at, doc_mtime_ns, clinician) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (s.id, s.client, s.started_at, s.duration_s, s.status, json.dumps(s.metrics, sort_keys=True),
                     json.dumps(s.consent, sort_keys=True), _now_iso(), doc_mtime_ns, s.clinician))
                self.con.execute("DELETE FROM session_tags WHERE session_id = ?", (s.id,))
                self.con.executemany("INSERT INTO session_tags (session_id, tag) VALUES (?, ?)",
                                     [(s.id, t) for t in s.tags])
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise

    def delete(self, session_id: str) -> None:
        with self._lock:
            self.con.execute("BEGIN IMMEDIATE")
            self.con.execute("DELETE FROM session_tags WHERE session_id = ?", (session_id,))
            self.con.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            self.con.execute("COMMIT")

    def ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self.con.execute("SELECT id FROM sessions")}

    def doc_mtimes(self) -> dict[str, int | None]:
        """Each session's description write time (ns) as last indexed."""
        with self._lock:
            return dict(self.con.execute("SELECT id, doc_mtime_ns FROM sessions").fetchall())

    def list(self, tag: str | None = None, client: str | None = None) -> list[SessionSummary]:
        with self._lock:
            sql = ("SELECT id, client, started_at, duration_s, status, metrics, consent, clinician FROM sessions")
            where, args = [], []
            if tag is not None:
                where.append("id IN (SELECT session_id FROM session_tags WHERE tag = ?)")
                args.append(tag)
            if client is not None:
                where.append("client = ?")
                args.append(client)
            if where:
                sql += " WHERE " + " AND ".join(where)
            rows = self.con.execute(sql + " ORDER BY started_at DESC, id", args).fetchall()
            tags: dict[str, list[str]] = {}
            for sid, t in self.con.execute("SELECT session_id, tag FROM session_tags ORDER BY tag"):
                tags.setdefault(sid, []).append(t)
        return [SessionSummary(id=r[0], client=r[1], started_at=r[2], duration_s=r[3], status=r[4],
                               metrics=json.loads(r[5] or "{}"), consent=json.loads(r[6] or "{}"),
                               tags=tuple(tags.get(r[0], ())), clinician=r[7]) for r in rows]

    def close(self) -> None:
        with self._lock, contextlib.suppress(Exception):
            self.con.close()


# -- audio and events over streams -------------------------------------------------------------------
class AudioWriter:
    """Live audio into ``audio.stream``: ``write(float32 samples)`` appends one record of 16-bit PCM
    per call (blocks over 10 s are split). ``close()`` seals the stream."""

    def __init__(self, stream: StreamWriter, sample_rate: int = SAMPLE_RATE) -> None:
        self.stream = stream
        self.sample_rate = sample_rate
        self.samples = 0

    @property
    def duration(self) -> float:
        """Seconds of audio written."""
        return self.samples / self.sample_rate

    def write(self, samples: np.ndarray) -> None:
        pcm = np.clip(np.rint(np.asarray(samples, dtype=np.float32).reshape(-1) * PCM_SCALE),
                      -32768, 32767).astype("<i2")
        for i in range(0, len(pcm), MAX_AUDIO_RECORD_SAMPLES):
            chunk = pcm[i:i + MAX_AUDIO_RECORD_SAMPLES]
            self.stream.append(chunk.tobytes())
            self.samples += len(chunk)

    def close(self) -> None:
        self.stream.close()


class AudioReader:
    """Reads a session's audio by time, also while it is still being recorded (the growing stream is
    re-scanned from where it got to). Returns float32 arrays; nothing is written anywhere."""

    def __init__(self, reader: StreamReader, sample_rate: int = SAMPLE_RATE) -> None:
        self.reader = reader
        self.sample_rate = sample_rate
        self._starts = [0]  # sample offset of each record, and the total at the end
        self.refresh()

    def refresh(self) -> None:
        index = self.reader.scan()
        for info in index[len(self._starts) - 1:]:
            self._starts.append(self._starts[-1] + info.length // 2)

    @property
    def samples(self) -> int:
        return self._starts[-1]

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate

    def read(self, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
        """float32 samples between two times (seconds), clipped to what has been recorded."""
        if end_s is None or end_s * self.sample_rate > self.samples:
            self.refresh()
        a = max(0, int(round(start_s * self.sample_rate)))
        b = self.samples if end_s is None else min(self.samples, int(round(end_s * self.sample_rate)))
        if b <= a:
            return np.zeros(0, dtype=np.float32)
        import bisect

        first = bisect.bisect_right(self._starts, a) - 1
        last = bisect.bisect_left(self._starts, b)
        out = np.empty(self._starts[last] - self._starts[first], dtype=np.float32)
        pos = 0
        for data in self.reader.read_records(first, last):
            pcm = np.frombuffer(data, dtype="<i2")
            out[pos:pos + len(pcm)] = pcm
            pos += len(pcm)
        out /= PCM_SCALE
        return out[a - self._starts[first]:b - self._starts[first]]

    def read_all(self) -> np.ndarray:
        return self.read(0.0, None)

    def __call__(self, start_s: float, end_s: float) -> np.ndarray:  # the session runner's reader
        return self.read(start_s, end_s)


class EventLog:
    """The live event log into ``events.stream``: ``append({"type": ..., ...})`` writes one record per
    event (a JSON line). The caller drops transcript text when the transcript is not kept."""

    def __init__(self, stream: StreamWriter) -> None:
        self.stream = stream

    def append(self, event: Mapping[str, Any]) -> None:
        self.stream.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    def close(self) -> None:
        self.stream.close()


# -- sessions -----------------------------------------------------------------------------------------
class Session:
    """One session folder: its key, its encrypted files, and its description (``meta``)."""

    def __init__(self, store: Store, session_id: str, key: bytes) -> None:
        self.store = store
        self.id = session_id
        self.dir = store.sessions_dir / session_id
        self._key = key
        self._meta: dict[str, Any] | None = None

    def _file_key(self, role: str) -> bytes:
        return file_key(self._key, self.id, _check_role(role))

    def _binding(self, role: str) -> Binding:
        return Binding(self.id, role)

    def path(self, role: str, stream: bool | None = None) -> Path:
        """The file of ``role``: ``<role>.stream`` for the append-only roles, ``<role>.enc`` otherwise."""
        _check_role(role)
        if stream is None:
            stream = role in STREAM_ROLES
        return self.dir / f"{role}.{'stream' if stream else 'enc'}"

    # -- description
    @property
    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            meta = self.read_json(ROLE_SESSION)
            if not isinstance(meta, dict):
                raise CryptoError(f"session {self.id}: its description is not a JSON object")
            self._meta = meta
        return dict(self._meta)

    def update(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the session description (rewritten whole, encrypted) and its index row."""
        meta = {**self.meta, **fields, "updated_at": _now_iso()}
        self.write_json(ROLE_SESSION, meta)
        self._meta = meta
        self.store._index_upsert(summary_from_meta(self.id, meta))
        return dict(meta)

    # -- whole files
    def write_doc(self, role: str, data: bytes) -> Path:
        """Encrypt ``data`` whole as the file of ``role`` (temp → fsync → rename, 0600)."""
        return write_sealed_file(self.path(role, stream=False), data, self._file_key(role), self._binding(role))

    def read_doc(self, role: str) -> bytes:
        return read_sealed_file(self.path(role, stream=False), self._file_key(role), self._binding(role))

    def write_json(self, role: str, obj: Any) -> Path:
        return self.write_doc(role, json.dumps(obj, ensure_ascii=False, indent=1).encode("utf-8"))

    def read_json(self, role: str) -> Any:
        try:
            return json.loads(self.read_doc(role).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise CryptoError(f"{self.path(role, False).name}: authenticated but not JSON") from None

    def has(self, role: str, stream: bool | None = None) -> bool:
        return self.path(role, stream).is_file()

    def remove(self, role: str, stream: bool | None = None) -> bool:
        """Delete one file (e.g. the audio after the retention period); True if it existed."""
        path = self.path(role, stream)
        if not path.exists():
            return False
        path.unlink()
        return True

    # -- streams
    def stream_writer(self, role: str, fsync_interval_s: float | None = STREAM_FSYNC_INTERVAL_S) -> StreamWriter:
        return StreamWriter(self.path(role, stream=True), self._file_key(role), self._binding(role),
                            fsync_interval_s=fsync_interval_s)

    def stream_reader(self, role: str) -> StreamReader:
        return StreamReader(self.path(role, stream=True), self._file_key(role), self._binding(role))

    def read_stream(self, role: str) -> StreamContents:
        return read_stream(self.path(role, stream=True), self._file_key(role), self._binding(role))

    def audio_writer(self, sample_rate: int = SAMPLE_RATE,
                     fsync_interval_s: float | None = STREAM_FSYNC_INTERVAL_S) -> AudioWriter:
        return AudioWriter(self.stream_writer(ROLE_AUDIO, fsync_interval_s), sample_rate)

    def audio_reader(self, sample_rate: int | None = None) -> AudioReader:
        rate = sample_rate or int((self.meta.get("audio") or {}).get("sample_rate") or SAMPLE_RATE)
        return AudioReader(self.stream_reader(ROLE_AUDIO), rate)

    def event_log(self, fsync_interval_s: float | None = STREAM_FSYNC_INTERVAL_S) -> EventLog:
        return EventLog(self.stream_writer(ROLE_EVENTS, fsync_interval_s))

    def read_events(self) -> list[dict[str, Any]]:
        """Every event logged (an unsealed log is read as far as it goes; a torn last line is dropped)."""
        out = []
        for rec in self.read_stream(ROLE_EVENTS).records:
            with contextlib.suppress(UnicodeDecodeError, ValueError):
                out.append(json.loads(rec.decode("utf-8")))
        return out

    def unsealed_roles(self) -> list[str]:
        """The streams a crash left open (their writer never closed them)."""
        out = []
        for role in STREAM_ROLES:
            if self.has(role, stream=True):
                reader = self.stream_reader(role)
                reader.scan()
                if not reader.sealed:
                    out.append(role)
        return out

    def recover(self) -> dict[str, RecoveryReport]:
        """Seal every stream a crash left open (a torn last record is cut off); raises
        :class:`~app.crypto_stream.AuthenticationError` on a tampered record, changing nothing of it."""
        return {role: recover(self.path(role, True), self._file_key(role), self._binding(role))
                for role in self.unsealed_roles()}


# -- the store ----------------------------------------------------------------------------------------
class Store:
    """Sessions, index, voiceprints and audit log of one data folder, opened with the master key."""

    def __init__(self, root: str | Path, master: MasterKey) -> None:
        self.root = _private_dir(Path(root))
        self.sessions_dir = _private_dir(self.root / SESSIONS_DIR)
        self.audit_dir = _private_dir(self.root / AUDIT_DIR)
        self.voiceprints_dir = _private_dir(self.root / VOICEPRINTS_DIR)
        self.master = master
        self._lock = threading.RLock()
        self._audit: StreamWriter | None = None
        self._audit_seq = 0
        self.index: Index | None = None
        self.index_rebuilt = False

    @classmethod
    def open(cls, master: MasterKey, root: str | Path | None = None, audit_unlock: bool = True) -> Store:
        """Open the store (default ``<data dir>/store``): remove folders whose key was destroyed by an
        interrupted delete, seal audit segments of dead processes, open the index (rebuilt when missing,
        unreadable or not matching the folders) and log ``unlock`` in the audit log."""
        store = cls(root if root is not None else store_root(), master)
        store.purge_orphans()
        store._recover_audit()
        store._open_index()
        if audit_unlock:
            store.audit("unlock", method=master.unlocked_by or None)
        return store

    def close(self) -> None:
        with self._lock:
            if self._audit is not None:
                with contextlib.suppress(OSError):
                    self._audit.close()
                self._audit = None
            if self.index is not None:
                self.index.close()
                self.index = None

    def lock(self) -> None:
        """The idle lock: log ``lock``, close the index and the audit segment, wipe the master key.
        A :class:`Session` already open (a recording in progress) keeps writing with its own session
        key; its description changes reach the index at the next :meth:`open`."""
        with contextlib.suppress(Exception):
            self.audit("lock")
        self.close()
        self.master.wipe()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- index
    @property
    def index_path(self) -> Path:
        return self.root / INDEX_NAME

    def _index_key(self) -> bytes:
        return self.master.derive(INDEX_PURPOSE)

    def _open_index(self) -> None:
        import sqlcipher3

        try:
            self.index = Index(self.index_path, self._index_key())
        except sqlcipher3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):  # in use elsewhere: not a reason to remove it
                raise StoreError("the session index is busy (another Attune is writing it); try again") from exc
            self.rebuild_index(reason="unreadable")
            return
        except sqlcipher3.DatabaseError:
            self.rebuild_index(reason="unreadable")
            return
        ids = self.session_ids()
        listed = self.index.ids()
        if listed != set(ids):
            # brought up to date in place: the file may be open in another process or thread (the app
            # recording while `attune sessions list` runs), so it is never removed from under them
            for sid in sorted(listed - set(ids)):
                self.index.delete(sid)
            for sid in sorted(set(ids) - listed):
                with contextlib.suppress(CryptoError, SessionKeyError, OSError, SessionNotFoundError):
                    self.index.upsert(summary_from_meta(sid, self.session(sid).meta), self._doc_mtime(sid))
            self.index_rebuilt = True
            self.audit("rebuild_index", reason="out of date", sessions=len(ids),
                       added=len(set(ids) - listed), removed=len(listed - set(ids)))
        indexed = self.index.doc_mtimes()
        for sid in ids:  # descriptions rewritten while the index was closed (locked, another process)
            if self._doc_mtime(sid) != indexed.get(sid):
                with contextlib.suppress(CryptoError, SessionKeyError, OSError):
                    self._index_upsert(summary_from_meta(sid, self.session(sid).meta))

    def _doc_mtime(self, session_id: str) -> int | None:
        try:
            return (self.sessions_dir / session_id / f"{ROLE_SESSION}.enc").stat().st_mtime_ns
        except OSError:
            return None

    def _index_upsert(self, summary: SessionSummary) -> None:
        with self._lock:
            if self.index is None:  # locked: caught up at the next open
                return
            self.index.upsert(summary, self._doc_mtime(summary.id))

    def rebuild_index(self, reason: str = "asked") -> int:
        """Recreate the index from the session folders (each one's encrypted description); returns the
        number of sessions listed. Folders that cannot be read are left out and reported in the audit."""
        with self._lock:
            if self.index is not None:
                self.index.close()
                self.index = None
            for suffix in ("", "-journal", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(str(self.index_path) + suffix).unlink()
            self.index = Index(self.index_path, self._index_key())
            n = unreadable = 0
            for sid in self.session_ids():
                try:
                    meta = self.session(sid).meta
                except (CryptoError, SessionKeyError, OSError, SessionNotFoundError):
                    unreadable += 1
                    continue
                self.index.upsert(summary_from_meta(sid, meta), self._doc_mtime(sid))
                n += 1
            self.index_rebuilt = True
        self.audit("rebuild_index", reason=reason, sessions=n, unreadable=unreadable)
        return n

    def list_sessions(self, tag: str | None = None, client: str | None = None) -> list[SessionSummary]:
        """The sessions, newest first (optionally those with a tag, or of one client pseudonym)."""
        with self._lock:
            return self.index.list(tag=tag, client=client)

    # -- sessions
    def session_ids(self) -> list[str]:
        """Ids of the session folders that hold a key."""
        out = []
        for p in self.sessions_dir.iterdir():
            if _ID_RE.match(p.name) and p.is_dir() and (p / SESSION_KEY_NAME).is_file():
                out.append(p.name)
        return sorted(out)

    def purge_orphans(self) -> list[str]:
        """Remove session folders without a key (a delete interrupted after destroying the key, or a
        creation interrupted before it): nothing in them can be decrypted any more."""
        removed = []
        for p in self.sessions_dir.iterdir():
            if _ID_RE.match(p.name) and p.is_dir() and not (p / SESSION_KEY_NAME).exists():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p.name)
        return removed

    def create_session(self, meta: Mapping[str, Any] | None = None) -> Session:
        """A new session folder (0700) with a fresh key and its description (``meta`` plus schema, id,
        ``created_at``, ``status`` "new" unless given, ``clinician`` the installation's own unless given
        and when one is set), listed in the index."""
        meta = dict(meta or {})
        if "clinician" not in meta and (own := own_clinician()):
            meta["clinician"] = own
        with self._lock:
            session_id = uuid.uuid4().hex
            d = self.sessions_dir / session_id
            d.mkdir(mode=0o700)
            os.chmod(d, 0o700)
            key = create_session_key(self.master, d, session_id)
            session = Session(self, session_id, key)
            doc = {"schema": SESSION_SCHEMA, "status": "new", **dict(meta or {}), "id": session_id,
                   "created_at": _now_iso()}
            session.write_json(ROLE_SESSION, doc)
            session._meta = doc
            self._index_upsert(summary_from_meta(session_id, doc))
        self.audit("create", session=session_id)
        return session

    def session(self, session_id: str) -> Session:
        """A session by id (no audit entry: for the app's own bookkeeping)."""
        d = self.sessions_dir / check_session_id(session_id)
        if not d.is_dir():
            raise SessionNotFoundError(f"session {session_id} does not exist")
        return Session(self, session_id, load_session_key(self.master, d, session_id))

    def open_session(self, session_id: str, purpose: str = "review") -> Session:
        """A session opened by the user (review, analysis, export): logged as ``open`` in the audit log."""
        session = self.session(session_id)
        self.audit("open", session=session_id, purpose=purpose)
        return session

    def delete_session(self, session_id: str) -> bool:
        """Remove a session completely: its key destroyed first (so nothing left behind on disk can be
        decrypted), then its folder and its index row; logged as ``delete``. False if it did not exist."""
        check_session_id(session_id)
        d = self.sessions_dir / session_id
        with self._lock:
            existed = d.is_dir()
            if existed:
                destroy_session_key(d)
                shutil.rmtree(d)
            self.index.delete(session_id)
        if existed:
            self.audit("delete", session=session_id)
        return existed

    def unsealed_sessions(self) -> list[str]:
        """Sessions with a stream a crash left open (the caller checks the recording process is gone,
        e.g. with session.json's pid/host as app/recorder.py does, before recovering them)."""
        out = []
        for sid in self.session_ids():
            with contextlib.suppress(CryptoError, SessionKeyError, OSError):
                if self.session(sid).unsealed_roles():
                    out.append(sid)
        return out

    # -- voiceprints
    def _voiceprint(self, name: str) -> tuple[Path, bytes, Binding]:
        from app.voiceprints import slug

        s = slug(name)
        return (self.voiceprints_dir / f"{s}.enc", self.master.derive(VOICEPRINT_PURPOSE),
                Binding("voiceprints", s))

    def save_voiceprint(self, name: str, doc: Mapping[str, Any]) -> Path:
        """Store a voiceprint document (app/voiceprints.py's JSON) encrypted whole under its name's slug."""
        path, key, binding = self._voiceprint(name)
        return write_sealed_file(path, json.dumps(dict(doc)).encode("utf-8"), key, binding)

    def load_voiceprint(self, name: str) -> dict[str, Any] | None:
        path, key, binding = self._voiceprint(name)
        if not path.is_file():
            return None
        return json.loads(read_sealed_file(path, key, binding).decode("utf-8"))

    def list_voiceprints(self) -> list[dict[str, Any]]:
        """Every readable voiceprint document (a damaged or foreign file is left out)."""
        out = []
        for path in sorted(self.voiceprints_dir.glob("*.enc")):
            with contextlib.suppress(CryptoError, ValueError, OSError):
                out.append(json.loads(read_sealed_file(path, self.master.derive(VOICEPRINT_PURPOSE),
                                                       Binding("voiceprints", path.stem))))
        return out

    def delete_voiceprint(self, name: str) -> bool:
        path, _, _ = self._voiceprint(name)
        if not path.is_file():
            return False
        path.unlink()
        self.audit("delete_voiceprint")
        return True

    # -- audit log
    def audit(self, action: str, session: str | None = None, **details: Any) -> None:
        """Append an entry (time, action, session id, details) to this process's audit segment.
        Details are identifiers and counts, never transcript text or a client's words."""
        with self._lock:
            if self._audit is None:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                name = f"{stamp}-{os.getpid()}-{secrets.token_hex(4)}"
                self._audit = StreamWriter(self.audit_dir / f"{name}.stream", self.master.derive(AUDIT_PURPOSE),
                                           Binding("store", f"audit:{name}"), fsync_interval_s=0)
            entry = {"t": _now_iso(), "seq": self._audit_seq, "action": action, "session": session,
                     "user": _user(), **details}
            self._audit.append(json.dumps(entry, separators=(",", ":")).encode("utf-8"))
            self._audit_seq += 1

    def _audit_segments(self) -> list[Path]:
        return sorted(self.audit_dir.glob("*.stream"))

    def _recover_audit(self) -> None:
        """Seal the audit segments of processes that are gone (a segment's name holds its pid)."""
        for path in self._audit_segments():
            if self._audit is not None and path == self._audit.path:
                continue
            try:
                pid = int(path.stem.split("-")[1])
            except (IndexError, ValueError):
                continue
            if _pid_alive(pid) and pid != os.getpid():
                continue
            with contextlib.suppress(CryptoError, OSError):
                recover(path, self.master.derive(AUDIT_PURPOSE), Binding("store", f"audit:{path.stem}"))

    def audit_entries(self, on_error: Callable[[Path, Exception], None] | None = None) -> list[dict[str, Any]]:
        """Every audit entry, oldest first. A segment that fails to authenticate is reported through
        ``on_error`` (default: raised), never skipped silently."""
        key = self.master.derive(AUDIT_PURPOSE)
        out = []
        for path in self._audit_segments():
            try:
                contents = read_stream(path, key, Binding("store", f"audit:{path.stem}"))
            except CryptoError as exc:
                if on_error is None:
                    raise
                on_error(path, exc)
                continue
            for rec in contents.records:
                out.append({**json.loads(rec.decode("utf-8")), "segment": path.stem})
        return out


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def session_handle(session: Session) -> dict[str, Any]:
    """What another process of the app needs to write one session (the desktop app's analysis process):
    the store folder, the session id and that session's key only. Sent over a local pipe, never
    written anywhere; see :func:`open_session_handle`."""
    return {"root": str(session.store.root), "id": session.id, "key": bytes(session._key)}


def open_session_handle(handle: Mapping[str, Any]) -> Session:
    """The session of a :func:`session_handle`, in a store object that holds no master key (any use of
    it fails as "locked") and no index (the description reaches the index when the app next writes it
    or opens the store)."""
    store = Store(handle["root"], MasterKey(bytes(32), bytes(16), unlocked_by="session-only"))
    return Session(store, check_session_id(handle["id"]), bytes(handle["key"]))


def open_store(master: MasterKey, root: str | Path | None = None) -> Store:
    """:meth:`Store.open` (kept as a function for the CLI and the app)."""
    return Store.open(master, root)


__all__ = [
    "AudioReader", "AudioWriter", "EventLog", "Index", "MIGRATIONS", "SCHEMA_VERSION", "Session",
    "SessionNotFoundError", "SessionSummary", "Store", "StoreError", "check_session_id", "open_session_handle",
    "open_store", "session_handle", "store_root", "summary_from_meta", "vault_path",
]
