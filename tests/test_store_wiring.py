"""The encrypted store wired into the app (issue 13): live sessions, crash recovery, `attune sessions`,
`attune analyze` with and without --out, and the done-when check that a live session leaves no
plaintext (its transcript, a WAV header, an SQLite header) in the data, temporary or cache folders."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from analysis.live import LiveOptions, LivePipeline
from analysis.scripted_diarizer import ScriptedDiarizer
from analysis.timeline import Timeline
from app.recorder import Recorder, find_interrupted, is_interrupted, recorded_seconds
from app.session_runner import SessionConfig, drive_session, make_source
from tests.conftest import TEST_PASSPHRASE
from tests.store_util import only_session, open_test_store
from tests.test_session_runner import ScriptTranscriber

MARKER = "lavender submarine umbrella"  # spoken in the session and in its transcript
PLAINTEXT = (re.compile(rb"RIFF.{4}WAVE", re.S), re.compile(rb"SQLite format 3"))


@pytest.fixture(scope="module")
def marked_dialogue(tmp_path_factory):
    """A short two-voice dialogue (espeak-ng) whose speech holds the marker phrase."""
    from app.synth import Line, Script, render
    from app.synth_scripts import CLIENT, THERAPIST

    script = Script(voices=(THERAPIST, CLIENT), lines=(
        Line("S1", f"Good morning. You mentioned a {MARKER} last week. What did it mean to you?"),
        Line("S2", f"The {MARKER} was my father's. I keep thinking about it, most days."),
        Line("S1", "That sounds important. Tell me more about those days."),
        Line("S2", f"Well, the {MARKER} reminds me of the harbour, and of being small."),
    ))
    wav = tmp_path_factory.mktemp("marked") / "marked.wav"
    return wav, render(script, wav)


def files_under(*roots: Path) -> list[Path]:
    return [p for r in roots if r.exists() for p in r.rglob("*") if p.is_file()]


def plaintext_found(roots, words: list[bytes]) -> list[str]:
    found = []
    for path in files_under(*roots):
        data = path.read_bytes()
        for w in words:
            if w in data.lower():
                found.append(f"{path}: {w!r}")
        for pattern in PLAINTEXT:
            if pattern.search(data):
                found.append(f"{path}: {pattern.pattern!r}")
    return found


def test_a_live_session_leaves_no_plaintext_anywhere(marked_dialogue, tmp_path, monkeypatch, _private_home):
    wav, truth = marked_dialogue
    assert MARKER in " ".join(u.text for u in truth.utterances)
    clean_tmp, cache = tmp_path / "tmp", tmp_path / "cache"
    clean_tmp.mkdir()
    cache.mkdir()
    monkeypatch.setenv("TMPDIR", str(clean_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(clean_tmp))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))

    store = open_test_store()
    session = store.create_session({"client": "C-07", "tags": ["intake"]})
    cfg = SessionConfig(source=f"file:{wav}", consent_analysis=True, keep_audio=True, speed=8.0, num_speakers=2)

    def factory(config, on_record):
        return LivePipeline(LiveOptions(transcribe=True), diarizer=ScriptedDiarizer(truth.turns),
                            on_record=on_record, transcriber=ScriptTranscriber(truth))

    sent: list = []
    drive_session(cfg, session, factory, make_source, lambda: False,
                  lambda kind, payload=None: sent.append((kind, payload)))
    assert [k for k, _ in sent if k in ("finished", "failed")] == ["finished"], sent[-1]
    store.close()

    # what was written is there, encrypted: the transcript holds the marker, the audio reads back
    store = open_test_store()
    s = store.session(session.id)
    tl = Timeline.from_dict(s.read_json("timeline"))
    assert MARKER in " ".join(u.text for u in tl.utterances).lower()
    assert any(MARKER in (e.get("text") or "") for e in s.read_events())
    audio = s.audio_reader().read_all()
    ref, _ = sf.read(wav, dtype="float32")
    assert abs(len(audio) - len(ref)) <= 1_600 and np.max(np.abs(audio)) > 0.05
    meta = s.meta
    assert meta["status"] == "finished" and meta["client"] == "C-07" and meta["metrics"]["speakers"] == 2
    assert [x.id for x in store.list_sessions(tag="intake")] == [session.id]
    store.close()

    words = [MARKER.encode(), b"lavender", b"submarine"]
    roots = [_private_home, clean_tmp, cache]
    assert files_under(_private_home / "store" / "sessions")  # the session's files were looked at
    assert not plaintext_found(roots, words)
    names = {p.name for p in files_under(_private_home)}
    assert {"audio.stream", "events.stream", "session.enc", "timeline.enc", "session.key",
            "index.db", "vault.json"} <= names, names
    # the check itself sees plaintext: the source recording has a WAV header
    assert plaintext_found([wav.parent], words)


def test_store_session_crash_recovery(tmp_path):
    store = open_test_store()
    session = store.create_session({"client": "C-01"})
    rec = Recorder(session, keep_audio=True, meta={"people_in_room": {"choice": "individual", "count": 2}})
    rec.write(np.full(16_000, 0.1, np.float32))
    rec.log("turn", speaker="S1", start=0.0, end=0.8)
    rec.log("utterance", speaker="S1", start=0.0, end=0.8, text="hello there")
    rec._audio.stream.sync()
    rec._event_log.stream.sync()
    # the process dies: nothing is closed; a later process sees it
    session.update(pid=2**22 + 12345)  # a pid that is not alive
    found = find_interrupted(store)
    assert [s.id for s in found] == [session.id] and is_interrupted(found[0])
    assert recorded_seconds(found[0]) == pytest.approx(1.0)
    from app.cli import main

    assert main(["recover", "--all"]) == 0
    s = open_test_store().session(session.id)
    assert s.meta["status"] == "recovered" and not s.unsealed_roles()
    tl = Timeline.from_dict(s.read_json("timeline"))
    assert tl.turns and tl.utterances[0].text == "hello there" and tl.duration == pytest.approx(1.0)
    assert not find_interrupted(open_test_store())


def test_attune_sessions_list_and_delete(capsys):
    store = open_test_store()
    a = store.create_session({"client": "C-01", "tags": ["intake"], "started_at": "2025-03-01T10:00:00+00:00",
                              "duration": 3000.0, "status": "finished"})
    b = store.create_session({"client": "C-02", "started_at": "2025-03-02T10:00:00+00:00"})
    a.write_json("timeline", {"x": 1})
    store.close()
    from app.cli import main

    assert main(["sessions", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == [b.id, a.id]
    assert "50.0 min" in out[1] and "client C-01" in out[1] and "tags intake" in out[1]
    assert main(["sessions", "list", "--client", "C-01"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == [a.id]
    assert main(["sessions", "list", "--tag", "intake"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == [a.id]
    folder = a.dir
    assert main(["sessions", "delete", a.id]) == 0
    assert "deleted" in capsys.readouterr().out and not folder.exists()
    assert main(["sessions", "delete", a.id]) == 1
    assert capsys.readouterr().err.startswith("attune: error: no session")
    store = open_test_store()
    assert store.session_ids() == [b.id]
    assert [e["session"] for e in store.audit_entries() if e["action"] == "delete"] == [a.id]


def test_wrong_passphrase_and_passphrase_file(tmp_path, monkeypatch, capsys):
    from app.cli import main

    monkeypatch.setenv("ATTUNE_PASSPHRASE", "not the passphrase")
    assert main(["sessions", "list"]) == 1
    assert capsys.readouterr().err == "attune: error: wrong passphrase\n"
    monkeypatch.delenv("ATTUNE_PASSPHRASE")
    pw = tmp_path / "pw"
    pw.write_text(TEST_PASSPHRASE + "\n")
    assert main(["sessions", "list", "--passphrase-file", str(pw)]) == 0
    assert capsys.readouterr().out == "no sessions yet\n"


def test_first_run_creates_the_vault_and_shows_the_recovery_key_once(_private_home, capsys):
    from app.cli import main

    (_private_home / "store" / "vault.json").unlink()
    assert main(["sessions", "list"]) == 0
    err = capsys.readouterr().err
    assert "recovery key" in err and re.search(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){7}", err)
    assert (_private_home / "store" / "vault.json").is_file()
    assert main(["sessions", "list"]) == 0
    assert "recovery key" not in capsys.readouterr().err


def test_analyze_into_the_store_or_plain_files(tmp_path, capsys):
    from app.cli import main

    wav = tmp_path / "tone.wav"
    t = np.arange(3 * 16_000) / 16_000
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16_000)
    assert main(["analyze", str(wav), "--no-transcribe", "--no-diarize", "-q"]) == 0
    out = capsys.readouterr().out
    s = only_session()
    assert f"session {s.id}" in out and s.meta["mode"] == "analysis" and s.meta["status"] == "analysed"
    assert Timeline.from_dict(s.read_json("timeline")).duration == pytest.approx(3.0, abs=0.05)
    # the recording too, decoded to 16 kHz, so that review can play it
    assert s.audio_reader().duration == pytest.approx(3.0, abs=0.01)
    assert np.abs(s.audio_reader().read(1.0, 1.01) - 0.3 * np.sin(2 * np.pi * 220 * t[16_000:16_160])).max() < 1e-3
    from app.review_session import open_review, playback_from_session

    review = open_review(s.id)
    assert review.store_session is not None and review.has_audio
    wav_bytes, _env, _hop = playback_from_session(review.store_session)
    assert len(wav_bytes) == 44 + 2 * 48_000
    plain = tmp_path / "plain"
    assert main(["analyze", str(wav), "--out", str(plain), "--no-transcribe", "--no-diarize", "-q"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if "not encrypted" in x]
    assert len(lines) == 1 and str(plain) in lines[0]
    assert (plain / "tone.timeline.json").is_file()


def test_recorder_session_writes_only_ciphertext(tmp_path):
    store = open_test_store()
    session = store.create_session()
    rec = Recorder(session, keep_audio=False, keep_transcript=False)
    rec.log("utterance", speaker="S1", start=0.0, end=1.0, text="secret words")
    rec.close()
    assert not session.has("audio", stream=True)
    assert [e.get("text") for e in session.read_events()] == [None]  # no transcript consent
    assert session.meta["status"] == "finished" and session.meta["consent"] == {"audio": False,
                                                                               "transcript": False}
    assert os.listdir(session.dir) and all(n.endswith((".enc", ".stream", ".key")) for n in os.listdir(session.dir))


def test_review_opens_a_store_session_and_keeps_its_layers_encrypted():
    from analysis.timeline import Speaker, Turn
    from app.review_session import open_review, playback_from_session

    store = open_test_store()
    session = store.create_session({"status": "finished"})
    aw = session.audio_writer()
    for _ in range(30):
        aw.write(np.full(1_600, 0.2, np.float32))
    aw.close()
    tl = Timeline(duration=3.0, speakers=(Speaker("S1", "Speaker 1", "therapist"),),
                  turns=(Turn("S1", 0.5, 2.5),))
    session.write_json("timeline", tl.to_dict())
    for ref in (session.dir, session.id):
        review = open_review(ref)
        assert review.store_session is not None and review.saved and review.has_audio
        assert review.timeline().turns == tl.turns
    review.add_note(1.0, "a private thought")
    review.correct({"op": "rename", "speaker": "S1", "label": "Dr K"})
    assert session.has("notes") and session.has("corrections")
    assert not [p for p in session.dir.iterdir() if p.suffix == ".json"]
    again = open_review(session.id)
    assert [n.text for n in again.notes] == ["a private thought"]
    assert again.timeline().speakers[0].label == "Dr K"
    wav, env, hop = playback_from_session(again.store_session)
    assert wav[:4] == b"RIFF" and len(wav) == 44 + 2 * 48_000 and len(env) == 30
    assert abs(float(env[0]) - 20 * np.log10(0.2)) < 0.1
    assert [e["purpose"] for e in open_test_store().audit_entries() if e["action"] == "open"] == ["review"] * 3


def test_recover_reports_a_tampered_recording_in_one_line_and_changes_nothing(capsys):
    store = open_test_store()
    session = store.create_session()
    rec = Recorder(session, keep_audio=True)
    for _ in range(10):
        rec.write(np.full(1_600, 0.1, np.float32))
    rec._audio.stream.sync()
    session.update(pid=2**22 + 12345)  # the recording process is gone
    path = session.path("audio", stream=True)
    data = bytearray(path.read_bytes())
    data[40 + 3 * (8 + 3_200 + 16) + 100] ^= 0x01  # a bit of the 4th record's ciphertext
    path.write_bytes(bytes(data))
    from app.cli import main

    assert main(["recover", session.id]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"attune: error: {session.id}: could not be recovered: ")
    assert "record 3" in err and "altered" in err, err
    assert path.read_bytes() == bytes(data)  # nothing was changed
    assert open_test_store().session(session.id).meta["status"] == "recording"


def test_attune_live_subprocess_writes_no_plain_audio_or_index(tmp_path, marked_dialogue):
    """The real command, in its own process: nothing with a WAV or SQLite header anywhere it writes."""
    import subprocess
    import sys

    wav, _ = marked_dialogue
    clean_tmp, cache = tmp_path / "tmp", tmp_path / "cache"
    clean_tmp.mkdir()
    cache.mkdir()
    env = {**os.environ, "TMPDIR": str(clean_tmp), "XDG_CACHE_HOME": str(cache)}
    proc = subprocess.run([sys.executable, "-m", "app.cli", "live", "--file", str(wav), "--duration", "4",
                           "--no-transcribe", "--no-diarize", "-q", "--client", "C-3"],
                          env=env, capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "saved, encrypted" in proc.stdout
    s = only_session()
    assert s.meta["client"] == "C-3" and 3.9 <= s.audio_reader().duration <= 4.1
    assert not plaintext_found([Path(os.environ["ATTUNE_HOME"]), clean_tmp, cache], [])


def test_review_list_shows_the_store_sessions(capsys):
    store = open_test_store()
    s = store.create_session({"status": "finished", "duration": 120.0, "client": "C-5"})
    store.close()
    from app.cli import main

    assert main(["review", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(s.id) and "2.0 min" in lines[0] and "client C-5" in lines[0]


def test_a_store_session_is_reanalysed_from_memory(marked_dialogue, tmp_path, monkeypatch):
    """The offline re-analysis reads the encrypted recording slice by slice: no file is decoded into."""
    from analysis.pipeline import AnalysisOptions
    from app.live_session import reanalyze

    wav, _truth = marked_dialogue
    clean_tmp = tmp_path / "tmp"
    clean_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(clean_tmp))
    store = open_test_store()
    session = store.create_session({"people_in_room": {"choice": "individual", "count": 2}})
    rec = Recorder(session, keep_audio=True)
    audio, _sr = sf.read(wav, dtype="float32")
    for i in range(0, len(audio), 1_600):
        rec.write(audio[i:i + 1_600])
    rec.close()
    result = reanalyze(session, AnalysisOptions(transcribe=False, diarize=False))
    assert result.timeline.turns and result.timeline.duration == pytest.approx(len(audio) / 16_000, abs=0.01)
    saved = Timeline.from_dict(session.read_json("timeline_offline"))
    assert [(t.speaker, round(t.start, 2)) for t in saved.turns] == [(t.speaker, round(t.start, 2))
                                                                     for t in result.timeline.turns]
    assert not files_under(clean_tmp)


def test_the_app_asks_again_after_a_wrong_passphrase(monkeypatch):
    from app.unlock import open_store_with

    monkeypatch.delenv("ATTUNE_PASSPHRASE")
    asked: list = []
    answers = iter(["not it at all", TEST_PASSPHRASE])

    def ask(first_run, error):
        asked.append((first_run, error))
        return next(answers)

    store = open_store_with(ask, lambda text: pytest.fail("no recovery key on unlock"))
    assert store is not None and store.master.unlocked_by == "passphrase"
    assert asked == [(False, None), (False, "wrong passphrase")]
    assert open_store_with(lambda first_run, error: None, print) is None  # cancelled: no store


def test_the_app_sets_up_the_store_on_first_run(monkeypatch, _private_home):
    from app.unlock import open_store_with

    (_private_home / "store" / "vault.json").unlink()
    monkeypatch.delenv("ATTUNE_PASSPHRASE")
    answers = iter(["short", "a passphrase long enough"])
    asked: list = []
    shown: list = []

    def ask(first_run, error):
        asked.append((first_run, error))
        return next(answers)

    store = open_store_with(ask, shown.append)
    assert store is not None and asked[0] == (True, None) and asked[1][0] is True and "8" in asked[1][1]
    assert len(shown) == 1 and re.search(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){7}", shown[0])


def test_unlock_dialog_checks_the_two_passphrases(qtbot):
    from ui.unlock_dialog import UnlockDialog, wrong_text

    d = UnlockDialog(first_run=True)
    qtbot.addWidget(d)
    d.passphrase.setText("one passphrase")
    d.again.setText("another one")
    d._accept()
    assert d.result() == 0 and "differ" in d.error.text()
    d.again.setText("one passphrase")
    d._accept()
    assert d.result() == 1 and d.value() == "one passphrase"
    assert wrong_text("wrong passphrase") == "Wrong passphrase. Try again."
    unlock = UnlockDialog(first_run=False, error=wrong_text("wrong passphrase"))
    qtbot.addWidget(unlock)
    assert not unlock.again.isVisibleTo(unlock) and "Wrong passphrase" in unlock.error.text()
