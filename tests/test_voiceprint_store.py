"""Voiceprints are kept in the encrypted store; plain ones of earlier versions are imported once and
deleted (issue 13)."""

from __future__ import annotations

import json

import numpy as np

from app import voiceprints
from app.settings import data_dir
from tests.store_util import open_test_store


def test_voiceprints_are_encrypted_and_plain_ones_imported_once():
    plain = data_dir() / "voiceprints"
    plain.mkdir(parents=True)
    vec = np.linspace(-1, 1, 192, dtype=np.float32)
    (plain / "dr-lee.json").write_text(json.dumps({"schema": voiceprints.SCHEMA, "name": "Dr Lee", "created": 5.0,
                                                   "dim": 192, "vector": vec.tolist()}))
    (plain / "broken.json").write_text("{not json")
    assert voiceprints.any_enrolled()
    got = voiceprints.load("Dr Lee")
    assert got is not None and np.allclose(got.vector, vec) and got.path.suffix == ".enc"
    assert not (plain / "dr-lee.json").exists() and (plain / "broken.json").exists()  # the damaged one is left
    assert b"Dr Lee" not in got.path.read_bytes()
    voiceprints.save("Someone Else", -vec)
    assert [v.name for v in voiceprints.list_all()] == ["Someone Else", "Dr Lee"]
    assert voiceprints.delete("Dr Lee") and voiceprints.load("Dr Lee") is None
    actions = [e["action"] for e in open_test_store().audit_entries()]
    assert "import_voiceprints" in actions and "delete_voiceprint" in actions
    assert [p.name for p in plain.glob("*.json")] == ["broken.json"]  # save writes nothing plain


def test_a_session_config_carries_the_decrypted_voice_to_the_analysis():
    from app.qt_worker import SessionConfig, with_therapist_vector

    voiceprints.save("Me", np.ones(4, np.float32))
    cfg = with_therapist_vector(SessionConfig(therapist_voice="Me", consent_analysis=True))
    assert cfg.therapist_vector == (1.0, 1.0, 1.0, 1.0)
    assert with_therapist_vector(SessionConfig(therapist_voice="Nobody")).therapist_vector is None
