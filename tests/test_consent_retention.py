"""Consent stored with each session and shown in review and exports; retention applied at start-up and
with ``attune sessions purge``, audited (issue 13 point 3)."""

from __future__ import annotations

import json

import numpy as np

from analysis.timeline import Speaker, Timeline, Turn, Utterance
from app.recorder import Recorder
from app.retention import apply_retention_at_startup, consent_line
from app.settings import Settings
from tests.store_util import open_test_store

WORDS = "my brother's name is Tobias"


def _session(store, started_at: str | None = None, consent=None):
    meta = {"status": "finished", "client": "C-9"}
    if started_at:
        meta["started_at"] = started_at
    s = store.create_session(meta)
    rec = Recorder(s, keep_audio=True, meta={"consent": consent or {"analysis": True, "audio": True,
                                                                     "transcript": True}})
    for _ in range(20):
        rec.write(np.full(1_600, 0.1, np.float32))
    rec.log("utterance", speaker="S1", start=0.2, end=1.5, text=WORDS)
    rec.close()
    if started_at:
        s.update(started_at=started_at)
    tl = Timeline(duration=2.0, speakers=(Speaker("S1", "Speaker 1", "therapist"),),
                  turns=(Turn("S1", 0.2, 1.5),), utterances=(Utterance("S1", 0.2, 1.5, WORDS),))
    s.write_json("timeline", tl.to_dict())
    s.update(metrics={"speakers": 1, "turns": 1})
    return s


def test_consent_is_stored_and_shown_in_review_and_export(qtbot, tmp_path):
    from app.cli import main
    from app.review_session import open_review
    from ui.review_window import ReviewWindow

    store = open_test_store()
    s = _session(store, consent={"analysis": True, "audio": True, "transcript": False})
    meta = store.session(s.id).meta
    assert meta["consent"]["transcript"] is False
    assert meta["consent_recorded"]["by"] and meta["consent_recorded"]["date"] == meta["started_at"]
    line = consent_line(meta)
    assert line.startswith("Consent: analysis yes, transcript no, audio kept yes; recorded ")
    assert meta["consent_recorded"]["by"] in line

    w = ReviewWindow(open_review(s.id))
    qtbot.addWidget(w)
    assert w.consent_label.text() == line and not w.consent_label.isHidden()
    qtbot.waitUntil(lambda: w.player.is_loaded, timeout=20000)
    w.close()

    out = tmp_path / "exp"
    assert main(["export", s.id, "-f", "html", "-o", str(out)]) == 0
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert "Consent" in html and "transcript no, audio kept yes" in html


def test_retention_keeps_only_deidentified_figures_of_old_sessions(capsys):
    from app.cli import main

    store = open_test_store()
    old = _session(store, started_at="2020-01-06T10:00:00+00:00")
    new = _session(store)
    assert main(["sessions", "purge", "--days", "30", "--dry-run"]) == 0
    assert f"{old.id}  would reduce" in capsys.readouterr().out
    assert store.session(old.id).has("audio", stream=True)

    assert main(["sessions", "purge", "--days", "30"]) == 0
    out = capsys.readouterr().out
    assert f"{old.id}  reduced" in out and new.id not in out
    store = open_test_store()
    s = store.session(old.id)
    assert not s.has("audio", stream=True)
    tl = s.read_json("timeline")
    assert tl["utterances"] == [] and tl["turns"] and tl["provenance"]["transcript"] == "deleted (retention)"
    assert not any("text" in e for e in s.read_events())
    assert s.meta["retention"]["removed"] == ["audio", "transcript"] and s.meta["audio"] is None
    assert "audio and transcript deleted" in consent_line(s.meta)
    row = next(r for r in store.list_sessions() if r.id == old.id)
    assert row.metrics == {"speakers": 1, "turns": 1}
    assert WORDS.encode() not in b"".join(p.read_bytes() for p in s.dir.iterdir())  # (encrypted anyway)
    fresh = store.session(new.id)
    assert fresh.has("audio", stream=True) and fresh.read_json("timeline")["utterances"]
    audits = [e for e in store.audit_entries() if e["action"] == "retention"]
    assert [(e["session"], e["days"]) for e in audits] == [(old.id, 30)]
    # a second pass changes nothing
    assert main(["sessions", "purge", "--days", "30"]) == 0
    assert "0 session(s)" in capsys.readouterr().out


def test_retention_at_startup_uses_the_setting():
    store = open_test_store()
    old = _session(store, started_at="2021-03-01T09:00:00+00:00")
    assert apply_retention_at_startup(store, Settings()).purged == []  # 0: keep everything
    assert store.session(old.id).has("audio", stream=True)
    assert apply_retention_at_startup(store, Settings(retention_days=365)).purged == [old.id]
    assert not store.session(old.id).has("audio", stream=True)
    assert Settings.from_dict(json.loads('{"retention_days": "90"}')).retention_days == 90
