"""The encrypted session store (app/store.py): sessions, index, deletion, recovery, audit, no plaintext."""

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from app import store as store_mod
from app.crypto_stream import AuthenticationError, CryptoError, TamperedError
from app.store import (
    ROLE_AUDIO,
    ROLE_CORRECTIONS,
    ROLE_EVENTS,
    ROLE_NOTE,
    ROLE_TIMELINE,
    SCHEMA_VERSION,
    Index,
    SessionNotFoundError,
    Store,
    store_root,
    vault_path,
)
from app.vault import Argon2Params, SessionKeyError, Vault, file_key

FAST = Argon2Params(memory_kib=1024, iterations=1, lanes=1)
PASS = "correct horse battery staple"
RATE = 16_000  # Hz
BLOCK = 1600  # samples: 0.1 s


@pytest.fixture
def root(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def master(root):
    root.mkdir()
    _, master, _ = Vault.create(vault_path(root), PASS, argon2=FAST)
    return master


@pytest.fixture
def store(master, root):
    s = Store.open(master, root)
    yield s
    s.close()


def _reopen(store: Store) -> Store:
    store.close()
    return Store.open(Vault.open(vault_path(store.root)).unlock(PASS), store.root)


def _blocks(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.round(rng.uniform(-0.5, 0.5, BLOCK) * 32767) / 32767 for _ in range(n)]


def _meta(i: int, **extra):
    return {"client": f"C-{i:02d}", "started_at": f"2025-03-{i + 1:02d}T10:00:00+00:00", "status": "finished",
            "duration": 3000.0 + i, "consent": {"analysis": True, "audio": i % 2 == 0, "transcript": True},
            "metrics": {"talk_share": {"therapist": 0.4 + i / 100}}, "tags": [f"t{i % 2}", "intake"], **extra}


def test_default_root_is_under_attune_home(master, monkeypatch, tmp_path):
    monkeypatch.setenv("ATTUNE_HOME", str(tmp_path / "home"))
    assert store_root() == tmp_path / "home" / "store"
    assert oct(store_root().stat().st_mode & 0o777) == "0o700"


def test_session_round_trip(store):
    s = store.create_session(_meta(0))
    assert len(s.id) == 32 and oct(s.dir.stat().st_mode & 0o777) == "0o700"
    blocks = _blocks(25)
    aw = s.audio_writer()
    for b in blocks:
        aw.write(b)
    aw.close()
    log = s.event_log()
    log.append({"type": "turn", "speaker": "S1", "start": 0.0, "end": 1.5})
    log.append({"type": "utterance", "speaker": "S1", "start": 0.0, "end": 1.5, "text": "héllo"})
    log.close()
    s.write_json(ROLE_TIMELINE, {"duration": 2.5, "turns": []})
    s.write_doc(ROLE_NOTE, b"a note\n")
    s.update(duration=2.5, status="finished")

    store = _reopen(store)
    again = store.open_session(s.id)
    audio = again.audio_reader().read_all()
    assert audio.dtype == np.float32 and np.allclose(audio, np.concatenate(blocks), atol=1e-6)
    assert np.allclose(again.audio_reader().read(0.95, 1.27), np.concatenate(blocks)[15200:20320], atol=1e-6)
    assert [e["type"] for e in again.read_events()] == ["turn", "utterance"]
    assert again.read_events()[1]["text"] == "héllo"
    assert again.read_json(ROLE_TIMELINE) == {"duration": 2.5, "turns": []}
    assert again.read_doc(ROLE_NOTE) == b"a note\n"
    assert again.meta["duration"] == 2.5 and again.meta["client"] == "C-00"
    for p in again.dir.iterdir():
        assert oct(p.stat().st_mode & 0o777) == "0o600", p.name
    store.close()


def test_audio_read_while_recording(store):
    s = store.create_session({})
    aw = s.audio_writer()
    reader = s.audio_reader()
    blocks = _blocks(12)
    for b in blocks[:5]:
        aw.write(b)
    assert reader.read(0.0, 10.0).size == 5 * BLOCK  # clipped to what is recorded so far
    for b in blocks[5:]:
        aw.write(b)
    assert np.allclose(reader.read(0.45, 1.15), np.concatenate(blocks)[7200:18400], atol=1e-6)
    assert reader.duration == pytest.approx(1.2)
    aw.stream.abandon()


def test_listing_tags_and_rebuild(store):
    ids = [store.create_session(_meta(i)).id for i in range(5)]
    listing = store.list_sessions()
    assert [s.id for s in listing] == ids[::-1]  # newest first
    first = next(s for s in listing if s.id == ids[0])
    assert (first.client, first.duration_s, first.tags) == ("C-00", 3000.0, ("intake", "t0"))
    assert first.consent == {"analysis": True, "audio": True, "transcript": True}
    assert first.metrics == {"talk_share": {"therapist": 0.4}}
    assert {s.id for s in store.list_sessions(tag="t1")} == {ids[1], ids[3]}
    assert [s.id for s in store.list_sessions(client="C-02")] == [ids[2]]

    assert store.rebuild_index() == 5
    assert store.list_sessions() == listing

    store.close()  # the index lost: rebuilt at open
    (store.root / "index.db").unlink()
    store = _reopen(store)
    assert store.index_rebuilt and store.list_sessions() == listing
    store.close()  # the index damaged: rebuilt at open
    (store.root / "index.db").write_bytes(os.urandom(8192))
    store = _reopen(store)
    assert store.index_rebuilt and store.list_sessions() == listing
    store.close()  # a session folder the index does not list (crash between the two): rebuilt
    store.index = Index(store.index_path, store._index_key())
    store.index.delete(ids[2])
    store.index.close()
    store = _reopen(store)
    assert store.index_rebuilt and store.list_sessions() == listing
    store.close()


def test_index_migrations(master, root):
    import sqlcipher3

    from app.store import INDEX_PURPOSE, MIGRATIONS

    path = root / "index.db"
    con = sqlcipher3.connect(str(path))
    con.execute(f"PRAGMA key = \"x'{master.derive(INDEX_PURPOSE).hex()}'\"")
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    MIGRATIONS[0](con)  # an index of schema 1: no tags table
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.execute("INSERT INTO sessions (id, client) VALUES (?, ?)", ("0" * 32, "C-old"))
    con.commit()
    con.close()
    index = Index(path, master.derive(INDEX_PURPOSE))
    assert index.version() == SCHEMA_VERSION == 4
    assert [r[0] for r in index.con.execute("SELECT version FROM schema_version ORDER BY version")] == [1, 2, 3, 4]
    assert [s.client for s in index.list()] == ["C-old"]  # the row survives the migration
    index.con.execute("INSERT INTO schema_version VALUES (99)")
    index.close()
    with pytest.raises(store_mod.StoreError, match="newer"):
        Index(path, master.derive(INDEX_PURPOSE))
    with pytest.raises(sqlcipher3.DatabaseError):  # another key: the index is unreadable
        Index(path, master.derive("attune/other/1"))


def test_lock_during_a_recording(store):
    """The idle lock drops the master key; the recording goes on with its session key, and what it
    changed reaches the index at the next unlock."""
    s = store.create_session(_meta(6, status="recording"))
    aw = s.audio_writer()
    aw.write(_blocks(1)[0])
    store.lock()
    assert store.master.wiped and store.index is None
    with pytest.raises(Exception, match="locked"):
        store.session(s.id)
    for b in _blocks(4):
        aw.write(b)
    aw.close()
    s.update(status="finished", duration=0.5)
    store = Store.open(Vault.open(vault_path(store.root)).unlock(PASS), store.root)
    (row,) = store.list_sessions()
    assert (row.status, row.duration_s) == ("finished", 0.5)
    assert store.session(s.id).audio_reader().duration == pytest.approx(0.5)
    assert "lock" in [e["action"] for e in store.audit_entries()]
    store.close()


def test_delete_destroys_the_key_first(store, tmp_path):
    s = store.create_session(_meta(1))
    aw = s.audio_writer()
    aw.write(_blocks(1)[0])
    aw.close()
    s.write_json(ROLE_TIMELINE, {"x": 1})
    kept = tmp_path / "remnants"  # what an SSD might keep of the data files after deletion
    shutil.copytree(s.dir, kept, ignore=shutil.ignore_patterns("session.key"))
    assert store.delete_session(s.id)
    assert not s.dir.exists() and store.list_sessions() == []
    assert not store.delete_session(s.id)
    shutil.copytree(kept, s.dir)  # the data files back, the key gone
    with pytest.raises(SessionKeyError, match="gone"):
        store.session(s.id)
    # the master key opens nothing: every key it can derive fails on the remnants
    from app.crypto_stream import read_sealed_file
    from app.store import Binding
    for candidate in (store.master.derive("attune/session-wrap/1"), store.master.derive("attune/index/1")):
        with pytest.raises(AuthenticationError):
            read_sealed_file(s.dir / "timeline.enc", file_key(candidate, s.id, ROLE_TIMELINE),
                             Binding(s.id, ROLE_TIMELINE))
    assert [e["action"] for e in store.audit_entries()][-1] == "delete"


def test_interrupted_delete_leaves_nothing_readable(store, monkeypatch):
    s = store.create_session(_meta(2))
    monkeypatch.setattr(store_mod.shutil, "rmtree", lambda *a, **k: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError):
        store.delete_session(s.id)
    assert not (s.dir / "session.key").exists() and s.dir.exists()  # the key went first
    monkeypatch.undo()
    store = _reopen(store)  # the keyless folder is purged at open, and the index follows
    assert not s.dir.exists() and store.list_sessions() == []
    store.close()


def test_files_swapped_between_sessions_or_roles(store):
    a, b = store.create_session(_meta(3)), store.create_session(_meta(4))
    for s, text in ((a, "a"), (b, "b")):
        s.write_json(ROLE_TIMELINE, {"who": text})
        s.write_doc(ROLE_NOTE, text.encode())
        w = s.event_log()
        w.append({"type": "event", "who": text})
        w.close()
    shutil.copy(b.dir / "timeline.enc", a.dir / "timeline.enc")  # b's timeline into a
    with pytest.raises(AuthenticationError):
        a.read_json(ROLE_TIMELINE)
    shutil.copy(b.dir / "note.enc", b.dir / "timeline.enc")  # b's note as b's timeline
    with pytest.raises(AuthenticationError):
        b.read_json(ROLE_TIMELINE)
    shutil.copy(b.dir / "events.stream", a.dir / "events.stream")
    with pytest.raises(AuthenticationError):
        a.read_events()
    shutil.copy(b.dir / "session.key", a.dir / "session.key")  # b's key into a
    with pytest.raises(SessionKeyError):
        store.session(a.id)


def test_bad_session_ids_are_refused(store):
    for bad in ("../..", "x" * 32, "", "../store/sessions/" + "0" * 14):
        with pytest.raises(SessionNotFoundError):
            store.delete_session(bad)
        with pytest.raises(SessionNotFoundError):
            store.session(bad)


def test_crash_recovery(store):
    s = store.create_session(_meta(5))
    aw = s.audio_writer()
    blocks = _blocks(30, seed=5)
    for b in blocks:
        aw.write(b)
    log = s.event_log()
    for i in range(10):
        log.append({"type": "turn", "speaker": "S1", "start": i, "end": i + 0.5})
    aw.stream.abandon()  # killed: nothing sealed
    log.stream.abandon()
    path = s.path(ROLE_AUDIO)
    with open(path, "r+b") as f:  # the last audio block torn in the middle
        f.truncate(path.stat().st_size - 1000)
    assert store.unsealed_sessions() == [s.id]
    assert sorted(s.unsealed_roles()) == [ROLE_AUDIO, ROLE_EVENTS]
    reports = s.recover()
    assert reports[ROLE_AUDIO].records == 29 and reports[ROLE_AUDIO].torn_bytes > 0
    assert reports[ROLE_EVENTS].records == 10 and reports[ROLE_EVENTS].torn_bytes == 0
    assert store.unsealed_sessions() == []
    audio = s.audio_reader().read_all()
    assert np.allclose(audio, np.concatenate(blocks[:29]), atol=1e-6)  # only the torn block lost
    assert len(s.read_events()) == 10


def test_tampered_session_file_is_reported_not_skipped(store):
    s = store.create_session({})
    aw = s.audio_writer()
    for b in _blocks(10):
        aw.write(b)
    aw.stream.abandon()
    info = s.stream_reader(ROLE_AUDIO).scan()[4]
    with open(s.path(ROLE_AUDIO), "r+b") as f:
        f.seek(info.offset + 100)
        byte = f.read(1)
        f.seek(info.offset + 100)
        f.write(bytes([byte[0] ^ 0x10]))
    with pytest.raises(TamperedError):
        s.audio_reader().read_all()
    with pytest.raises(TamperedError):
        s.recover()


def test_audit_log(store):
    s = store.create_session({})
    store.open_session(s.id, purpose="review")
    store.audit("export", session=s.id, format="textgrid")
    store.delete_session(s.id)
    store = _reopen(store)
    entries = store.audit_entries()
    assert [e["action"] for e in entries] == ["unlock", "create", "open", "export", "delete", "unlock"]
    assert entries[0]["method"] == "setup" and entries[-1]["method"] == "passphrase"
    assert entries[3]["format"] == "textgrid" and entries[3]["session"] == s.id
    assert len({e["segment"] for e in entries}) == 2  # one segment per process run
    seg = sorted((store.root / "audit").glob("*.stream"))[0]
    blob = bytearray(seg.read_bytes())
    blob[60] ^= 1
    seg.write_bytes(bytes(blob))
    with pytest.raises(CryptoError):
        store.audit_entries()
    errors = []
    assert [e["action"] for e in store.audit_entries(on_error=lambda p, e: errors.append(p))] == ["unlock"]
    assert errors == [seg]
    store.close()


def test_audit_segment_of_a_killed_process_is_sealed(store, monkeypatch):
    from app.crypto_stream import read_stream
    from app.store import AUDIT_PURPOSE, Binding

    key = store.master.derive(AUDIT_PURPOSE)
    live = store._audit.path
    monkeypatch.setattr(store_mod.os, "getpid", lambda: 999999999)  # a process that is gone
    store._audit.close()
    store._audit = None
    store.audit("export")
    store._audit.abandon()  # killed: its segment unsealed
    dead = store._audit.path
    store._audit = None
    monkeypatch.undo()
    assert "-999999999-" in dead.name and not read_stream(dead, key, Binding("store", f"audit:{dead.stem}")).sealed
    renamed = dead.with_name(dead.name.replace("-999999999-", "-999999998-"))
    shutil.copy(dead, renamed)  # a segment's name is bound to it: a renamed copy does not authenticate
    with pytest.raises(AuthenticationError):
        read_stream(renamed, key, Binding("store", f"audit:{renamed.stem}"))
    renamed.unlink()
    store = _reopen(store)  # sealed at open, the entry kept
    assert read_stream(dead, key, Binding("store", f"audit:{dead.stem}")).sealed
    assert read_stream(live, key, Binding("store", f"audit:{live.stem}")).sealed
    assert [e["action"] for e in store.audit_entries()].count("export") == 1
    store.close()


def test_voiceprints_encrypted(store):
    doc = {"schema": "attune.voiceprint/1", "name": "Dr Lee", "vector": [0.1, 0.2], "dim": 2}
    path = store.save_voiceprint("Dr Lee", doc)
    assert path.name == "dr-lee.enc" and b"Dr Lee" not in path.read_bytes()
    assert store.load_voiceprint("dr lee") == doc and store.list_voiceprints() == [doc]
    store.save_voiceprint("Other", {**doc, "name": "Other"})
    shutil.copy(path, path.with_name("other.enc"))  # one voiceprint passed off as another
    with pytest.raises(AuthenticationError):
        store.load_voiceprint("Other")
    assert store.list_voiceprints() == [doc]  # the foreign file is not listed
    assert store.delete_voiceprint("Dr Lee") and store.load_voiceprint("Dr Lee") is None


MARKER = "purple elephant marmalade 7731"


def test_marker_phrase_is_nowhere_in_plaintext(store, monkeypatch, tmp_path):
    """A phrase written through every writer (speech-as-PCM, events, timeline, note, corrections, session
    description, index, voiceprint, audit) and a WAV header in the audio appear nowhere on disk in
    plaintext, and nothing is written to the temporary folder."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("SQLITE_TMPDIR", str(tmp))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)

    s = store.create_session({"client": MARKER, "tags": [MARKER], "started_at": "2025-01-01T09:00:00"})
    aw = s.audio_writer()
    wav = (b"RIFF" + struct.pack("<I", 36 + 64) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, RATE,
                                                                             RATE * 2, 2, 16) + b"data")
    payload = wav + MARKER.encode() * 3
    payload += b"\x00" * (len(payload) % 2)
    aw.write(np.frombuffer(payload, dtype="<i2").astype(np.float32) / 32767.0)  # the bytes survive exactly
    for b in _blocks(20):
        aw.write(b)
    log = s.event_log()
    log.append({"type": "utterance", "speaker": "S2", "start": 1.0, "end": 2.0, "text": MARKER})
    s.write_json(ROLE_TIMELINE, {"utterances": [{"text": MARKER}]})
    s.write_doc(ROLE_NOTE, MARKER.encode())
    s.write_json(ROLE_CORRECTIONS, {"fixed": MARKER})
    s.update(metrics={MARKER: 1}, notes_title=MARKER, format="SQLite format 3")
    store.save_voiceprint(MARKER, {"name": MARKER, "vector": [0.5]})
    store.audit("export", session=s.id, target=MARKER)
    store.rebuild_index()
    assert aw.stream.records > 0 and s.audio_reader().read(0, 0.01).size > 0
    aw.stream.sync()  # one stream still open (live), one closed
    log.close()
    assert s.read_events()[0]["text"] == MARKER  # it is all there, encrypted
    assert np.frombuffer(
        np.clip(np.rint(s.audio_reader().read_all()[:len(payload) // 2] * 32767), -32768, 32767)
        .astype("<i2").tobytes(), dtype=np.uint8).tobytes() == payload

    needles = [MARKER.encode(), MARKER.encode("utf-16-le"), MARKER.upper().encode(), b"RIFF", b"WAVE",
               b"SQLite format 3", b"purple elephant"]
    files = [p for p in Path(store.root).rglob("*") if p.is_file()] + [p for p in tmp.rglob("*") if p.is_file()]
    assert len(files) >= 9
    for p in files:
        data = p.read_bytes()
        for needle in needles:
            assert needle not in data, (p, needle)
        assert MARKER not in p.name
    assert list(tmp.iterdir()) == []
    aw.close()


def test_session_json_is_encrypted_with_its_role(store):
    s = store.create_session({"client": "C-9"})
    raw = (s.dir / "session.enc").read_bytes()
    assert raw.startswith(b"ATTUNES\x01") and b"C-9" not in raw
    assert json.loads(json.dumps(s.meta))["client"] == "C-9"
    assert {p.name for p in s.dir.iterdir()} == {"session.key", "session.enc"}
    assert s.path(ROLE_EVENTS).name == "events.stream" and s.path(ROLE_TIMELINE).name == "timeline.enc"


def test_two_stores_opening_one_new_index_at_once(master, root):
    """The app's recovery scan and a command open the same fresh index together: both work, and the
    schema is created once (the version was read outside the write lock, so both migrated it)."""
    import threading

    errors, stores = [], []
    start = threading.Barrier(4)

    def open_one():
        try:
            start.wait()
            stores.append(Store.open(master, root))
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(stores) == 4
    created = stores[0].create_session({"client": "C-race"})
    assert [s.client for s in stores[3].list_sessions()] == ["C-race"]
    assert stores[3].index.version() == stores[0].index.version()
    for s in stores:
        s.close()
    del created


def test_an_index_created_by_another_opener_between_check_and_create_is_opened(master, root, monkeypatch):
    """The race behind a rare failure of the test above (FileExistsError in one of four openers): the
    index file did not exist when this opener looked, and another created it before this one did."""
    from app.store import INDEX_PURPOSE

    path = root / "race.db"
    Index(path, master.derive(INDEX_PURPOSE)).close()  # the other opener won
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: False if self == path else real_exists(self))
    index = Index(path, master.derive(INDEX_PURPOSE))  # this one looked before: it must still open it
    assert index.version() == SCHEMA_VERSION
    index.close()


def test_an_out_of_date_index_is_brought_up_to_date_in_place(master, root):
    """A second store that finds a session the index does not list yet (created by another process a
    moment ago) must not remove the index file from under the first one."""
    first = Store.open(master, root)
    a = first.create_session({"client": "C-a"})
    first.index.delete(a.id)  # as if the other process had not indexed it yet
    second = Store.open(master, root)
    assert second.index_rebuilt
    assert [s.client for s in second.list_sessions()] == ["C-a"]
    b = first.create_session({"client": "C-b"})  # the first store's connection still writes the one file
    assert sorted(s.client for s in second.list_sessions()) == ["C-a", "C-b"]
    assert b.id in second.index.ids()
    first.close()
    second.close()
