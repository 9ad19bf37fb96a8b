"""Plain session folders of earlier versions imported into the encrypted store (issue 13,
app/import_plain.py): the recording, events, timeline and note read back the same, the plain folder is
removed; a damaged folder is left with one line; a second import, or one after a crash, adds nothing."""

from __future__ import annotations

import json
import os
import tracemalloc

import numpy as np
import pytest

from analysis.timeline import Speaker, Timeline, Turn, Utterance
from app.import_plain import import_plain_folders, import_plain_sessions
from app.recorder import Recorder
from app.session_folder import save_after_session
from tests.store_util import open_test_store

RATE = 16_000


def plain_session(folder, seconds: float = 3.5, note: str = "Client seemed calmer today.", seed: int = 0):
    """A session folder as earlier versions wrote it (the recorder's plain form, then the note)."""
    rng = np.random.default_rng(seed)
    audio = (0.3 * rng.standard_normal(int(seconds * RATE))).clip(-1, 1).astype(np.float32)
    rec = Recorder(folder, meta={"client": "C-07", "tags": ["intake"]})
    for i in range(0, len(audio), 1_600):
        rec.write(audio[i:i + 1_600])
    events = [{"type": "turn", "speaker": "S1", "start": 0.2, "end": 1.4},
              {"type": "utterance", "speaker": "S2", "start": 1.6, "end": 3.0, "text": "I slept better"}]
    for e in events:
        rec.log(e["type"], **{k: v for k, v in e.items() if k != "type"})
    rec.close()
    tl = Timeline(duration=seconds, speakers=(Speaker("S1", "Speaker 1", "therapist"), Speaker("S2", "Speaker 2")),
                  turns=(Turn("S1", 0.2, 1.4), Turn("S2", 1.6, 3.0)),
                  utterances=(Utterance("S2", 1.6, 3.0, "I slept better"),))
    tl.save(folder / "timeline.json")
    save_after_session(folder, note=note)
    return audio, events, tl


def test_a_plain_folder_becomes_a_store_session(tmp_path):
    root = tmp_path / "sessions"
    audio, events, tl = plain_session(root / "2025-03-01_100000")
    store = open_test_store()
    lines = []
    ids = import_plain_sessions(store, root, report=lines.append)
    assert len(ids) == 1 and lines == []
    assert not (root / "2025-03-01_100000").exists() and list(root.iterdir()) == []
    (listed,) = store.list_sessions()
    assert listed.id == ids[0] and listed.client == "C-07" and listed.tags == ("intake",)
    assert listed.status == "finished" and listed.duration_s == pytest.approx(3.5)
    s = store.session(ids[0])
    back = s.audio_reader().read_all()
    assert len(back) == len(audio)
    assert np.abs(back - audio).max() <= 0.5 / 32767 + 1e-7  # within int16 rounding
    assert s.read_events() == events
    assert Timeline.from_dict(s.read_json("timeline")) == tl
    assert s.read_doc("note").decode() == "Client seemed calmer today.\n"
    meta = s.meta
    assert meta["imported_from"]["folder"] == "2025-03-01_100000" and meta["note"] == "note"
    assert meta["audio"]["sample_rate"] == RATE and "file" not in meta["audio"]
    assert [e["session"] for e in store.audit_entries() if e["action"] == "import"] == ids
    # nothing readable was left: only the store's encrypted files
    assert all(p.name.endswith((".enc", ".stream", ".key")) for p in s.dir.iterdir())


def test_a_damaged_folder_is_left_with_one_line_and_the_others_go_on(tmp_path):
    root = tmp_path / "sessions"
    plain_session(root / "good")
    bad = root / "bad-json"
    plain_session(bad, seed=1)
    (bad / "session.json").write_text('{"status": "finished", ')  # cut short
    bad_wav = root / "bad-wav"
    plain_session(bad_wav, seed=2)
    (bad_wav / "audio.wav").write_bytes(b"not a wav file at all")
    before = {d.name: {p.name: p.read_bytes() for p in d.iterdir()} for d in (bad, bad_wav)}
    store = open_test_store()
    lines = []
    result = import_plain_folders(store, root, report=lines.append)
    assert len(result.imported) == 1 and len(result.failed) == 2
    assert len(lines) == 2 and all("\n" not in x and "left as it was" in x for x in lines)
    assert "bad-json" in lines[0] and "session.json is not valid JSON" in lines[0]
    assert "bad-wav" in lines[1] and "audio.wav is not a WAV file" in lines[1]
    after = {d.name: {p.name: p.read_bytes() for p in d.iterdir()} for d in (bad, bad_wav)}
    assert after == before  # untouched
    assert [s.id for s in store.list_sessions()] == result.imported  # no half session of the bad ones
    assert len(store.session_ids()) == 1


def test_a_second_import_does_nothing(tmp_path, capsys):
    from app.cli import main

    root = tmp_path / "sessions"
    plain_session(root / "2025-03-01_100000")
    assert main(["sessions", "import", str(root)]) == 0
    out = capsys.readouterr().out
    assert "imported as session" in out and "1 plain session folder(s) imported" in out
    assert main(["sessions", "import", str(root)]) == 0
    assert "0 plain session folder(s) imported" in capsys.readouterr().out
    assert len(open_test_store().session_ids()) == 1
    assert main(["sessions", "list"]) == 0
    assert "client C-07" in capsys.readouterr().out


def test_a_crash_midway_leaves_the_folder_and_the_rerun_makes_no_duplicate(tmp_path, monkeypatch):
    import app.import_plain as imp
    from app.store import EventLog

    root = tmp_path / "sessions"
    plain_session(root / "s1")
    store = open_test_store()

    def killed(self, event):  # the process dies while copying the events
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(EventLog, "append", killed)
        with pytest.raises(KeyboardInterrupt):
            import_plain_sessions(store, root)
    assert (root / "s1" / "audio.wav").is_file()
    (half,) = store.session_ids()
    assert store.session(half).meta["status"] == "importing"
    ids = import_plain_sessions(store, root)
    assert store.session_ids() == ids and ids != [half] and not (root / "s1").exists()

    # killed after the copy was read back, before the plain folder went: the rerun only removes it
    plain_session(root / "s2", seed=3)
    with monkeypatch.context() as m:
        m.setattr(imp, "_remove_plain", lambda folder, sid: (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(KeyboardInterrupt):
            import_plain_sessions(store, root)
    assert (root / "s2").is_dir() and len(store.session_ids()) == 2
    result = import_plain_folders(store, root)
    assert result.imported == [] and result.removed == [root / "s2"] and not (root / "s2").exists()
    assert len(store.session_ids()) == 2 and len(store.list_sessions()) == 2


def test_an_interrupted_plain_session_is_imported_as_recovered(tmp_path):
    root = tmp_path / "sessions"
    d = root / "crashed"
    rec = Recorder(d)
    rec.write(np.full(2 * RATE, 0.1, np.float32))
    rec.log("turn", speaker="S1", start=0.0, end=1.5)
    rec._events.flush()  # killed here: the WAV header still holds its placeholder sizes
    os.close(rec._fd)
    rec._events.close()
    meta = json.loads((d / "session.json").read_text())
    meta["pid"] = 2 ** 22 + 12345  # a process that is gone
    (d / "session.json").write_text(json.dumps(meta))
    with (d / "events.jsonl").open("a") as f:
        f.write('{"type": "turn", "spea')  # a torn last line
    store = open_test_store()
    (sid,) = import_plain_sessions(store, root)
    s = store.session(sid)
    assert s.meta["status"] == "recovered" and s.meta["duration"] == pytest.approx(2.0)
    assert s.audio_reader().duration == pytest.approx(2.0)
    assert Timeline.from_dict(s.read_json("timeline")).turns == (Turn("S1", 0.0, 1.5),)
    assert not d.exists()


def test_a_long_recording_is_copied_in_blocks(tmp_path):
    """Five minutes (9.6 MB as int16, 19 MB as float32) never held whole in memory."""
    root = tmp_path / "sessions"
    d = root / "long"
    rec = Recorder(d)
    block = (0.2 * np.sin(np.arange(RATE) / 5)).astype(np.float32)
    for _ in range(300):
        rec.write(block)
    rec.close()
    store = open_test_store()
    tracemalloc.start()
    try:
        (sid,) = import_plain_sessions(store, root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert store.session(sid).audio_reader().duration == pytest.approx(300.0)
    assert peak < 4_000_000, peak


def test_the_app_imports_at_start_up(monkeypatch):
    """gui.main's start-up step takes the data dir's plain sessions/ folder (app.settings.sessions_dir)."""
    from app.import_plain import import_plain_at_startup
    from app.settings import sessions_dir

    plain_session(sessions_dir() / "2024-11-02_091500")
    store = open_test_store()
    result = import_plain_at_startup(store)
    assert len(result.imported) == 1 and list(sessions_dir().iterdir()) == []
    assert import_plain_at_startup(store).imported == []
