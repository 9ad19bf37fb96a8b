"""The timeline model and its JSON / RTTM forms."""

import json

import pytest

from analysis.timeline import (
    SCHEMA,
    Event,
    Metrics,
    Speaker,
    Timeline,
    Turn,
    Utterance,
    Word,
    read_rttm,
    rttm_lines,
    write_rttm,
)


def sample_timeline() -> Timeline:
    words = (Word(1.0, 1.4, "Hello", 0.9), Word(1.5, 1.9, "there.", 0.8))
    return Timeline(
        duration=12.5,
        speakers=(Speaker("S1", "Dr Lee", "therapist"), Speaker("S2", "Client", "client")),
        turns=(Turn("S1", 1.0, 2.0), Turn("S2", 1.8, 5.0)),
        utterances=(Utterance("S1", 1.0, 1.9, "Hello there.", words),),
        events=(Event("interruption", 1.8, 2.0, by="S2", of="S1"),),
        metrics=Metrics({"speech_time": 4.0}, {"S1": {"talk_time": 1.0}, "S2": {"talk_time": 3.2}}),
        source={"file": "x.wav"},
    )


def test_json_round_trip_and_field_names(tmp_path):
    tl = sample_timeline()
    path = tmp_path / "x.timeline.json"
    tl.save(path)
    d = json.loads(path.read_text())
    assert d["schema"] == SCHEMA == "attune.timeline/1"
    assert set(d) >= {"duration", "speakers", "turns", "utterances", "events", "metrics"}
    assert d["speakers"][0] == {"id": "S1", "label": "Dr Lee", "role": "therapist"}
    assert d["turns"][1] == {"speaker": "S2", "start": 1.8, "end": 5.0}
    assert d["utterances"][0]["words"][0] == {"start": 1.0, "end": 1.4, "text": "Hello", "p": 0.9}
    assert d["events"][0] == {"kind": "interruption", "start": 1.8, "end": 2.0, "by": "S2", "of": "S1"}
    assert d["metrics"]["speakers"]["S2"]["talk_time"] == 3.2
    assert Timeline.load(path) == tl


def test_frozen_and_validated():
    tl = sample_timeline()
    with pytest.raises(AttributeError):
        tl.duration = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        Speaker("S3", "x", "doctor")


def test_wrong_schema_rejected():
    with pytest.raises(ValueError, match="schema"):
        Timeline.from_dict({"schema": "other/2", "duration": 1})


def test_rttm_round_trip(tmp_path):
    turns = [Turn("S2", 3.0, 4.5), Turn("S1", 0.5, 2.0), Turn("S1", 5.0, 5.0)]
    lines = rttm_lines(turns, "my file")
    assert lines[0] == "SPEAKER my_file 1 0.500 1.500 <NA> <NA> S1 <NA> <NA>"
    assert len(lines) == 2  # zero-length turns are dropped
    write_rttm(turns, tmp_path / "a.rttm", "a")
    assert read_rttm(tmp_path / "a.rttm") == sorted(turns[:2], key=lambda t: t.start)
