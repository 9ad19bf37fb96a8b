"""The dashboard's cue model (pure Python) and the persisted settings."""

from __future__ import annotations

import json

import pytest

from analysis.session_state import SessionState
from analysis.timeline import Speaker, Turn
from app.settings import Settings, load_settings, save_settings, settings_path
from ui.cues import (
    CueModel,
    describe_loudness,
    describe_pace,
    describe_pitch,
    describe_pitch_variability,
    describe_tone,
    mmss,
)

S1, S2 = Speaker("S1", "Speaker 1"), Speaker("S2", "Speaker 2")


def state(t: float, **kw) -> SessionState:
    base = dict(t=t, status="listening", speakers=(S1, S2))
    base.update(kw)
    return SessionState(**base)


def test_words_for_relative_pace_and_tone():
    """Each figure in words that say what was measured (docs/cues.md: the voice, never a mood)."""
    assert [describe_pace(v) for v in (0.7, 1.0, 1.1, 1.3, None)] == [
        "slower than usual", "as usual", "as usual", "faster than usual", ""]
    assert [describe_pitch(v) for v in (-3.0, 0.4, 2.5, None)] == [
        "pitch lower than usual", "as usual", "pitch higher than usual", ""]
    assert [describe_pitch_variability(v) for v in (-1.5, 0.5, 1.5, None)] == [
        "pitch flatter than usual", "as usual", "pitch more varied than usual", ""]
    assert [describe_loudness(v) for v in (-4.0, 1.0, 4.0, None)] == [
        "quieter than usual", "as usual", "louder than usual", ""]
    assert describe_tone("pitch higher than usual", "pitch more varied than usual", "louder than usual") == \
        "pitch higher and more varied, louder than usual"
    assert describe_tone("as usual", "pitch flatter than usual", "") == "pitch flatter than usual"
    assert describe_tone("as usual", "as usual", "quieter than usual") == "quieter than usual"
    assert describe_tone("as usual", "", "as usual") == "as usual"
    assert describe_tone("", "", "") == ""
    assert mmss(65) == "01:05" and mmss(3725) == "1:02:05"


def test_the_cards_describe_each_tone_figure_against_its_own_band():
    """Pitch level, pitch variability and loudness each reach the card, each with its own band; pace is
    words per minute (was: the median pitch alone, and pace and pitch as "calmer" / "more animated")."""
    model = CueModel(Settings())
    cues = model.update(state(400, talk_time={"S1": 100.0, "S2": 80.0},
                              wpm_rel={"S1": 1.25, "S2": 1.0},
                              pitch_median_rel_st={"S1": 0.5, "S2": -2.0},
                              pitch_variability_rel_st={"S1": 1.6, "S2": 0.2},
                              loudness_rel_db={"S1": -0.5, "S2": 4.0}))
    s1, s2 = (next(p for p in cues.people if p.id == sid) for sid in ("S1", "S2"))
    assert (s1.pace, s2.pace) == ("faster than usual", "as usual")
    assert s1.tone == "pitch more varied than usual"
    assert s2.tone == "pitch lower, louder than usual"
    wide = CueModel(Settings(pitch_variability_band_st=2.0, loudness_band_db=6.0)).update(state(
        400, pitch_variability_rel_st={"S1": 1.6}, loudness_rel_db={"S1": 4.0}, pitch_median_rel_st={"S1": 0.0}))
    assert next(p for p in wide.people if p.id == "S1").tone == "as usual"


def test_old_settings_keep_their_pitch_band():
    """settings.json written before the rename (``tone_band_st``) keeps its pitch band."""
    assert Settings.from_dict({"tone_band_st": 2.5}).pitch_band_st == 2.5
    assert Settings.from_dict({"tone_band_st": 2.5, "pitch_band_st": 1.0}).pitch_band_st == 1.0


def test_first_voice_heard_is_the_therapist_and_roles_can_be_swapped():
    model = CueModel(Settings())
    cues = model.update(state(10, recent_turns=(Turn("S2", 4, 6), Turn("S1", 1, 3)),
                              talk_share={"S1": 0.5, "S2": 0.5}))
    assert cues.therapist.id == "S1" and cues.client.id == "S2"
    model.swap_roles(cues.people)
    cues = model.update(state(11))
    assert cues.therapist.id == "S2" and cues.client.id == "S1"


def test_talk_share_nudge_uses_the_last_five_minutes_and_the_threshold():
    settings = Settings(nudge_talk_share=0.7)
    turns = (Turn("S1", 0, 50), Turn("S2", 50, 60))
    cues = CueModel(settings).update(state(60, recent_turns=turns, talk_share={"S1": 0.5, "S2": 0.5},
                                           talk_share_window={"S1": 0.72, "S2": 0.28}))
    assert [n.key for n in cues.nudges] == ["talk_share"]
    assert "72 % of the last 5 minutes" in cues.nudges[0].text
    assert "listening" in cues.nudges[0].tip.lower()
    quiet = CueModel(settings.with_(nudges=False)).update(
        state(60, recent_turns=turns, talk_share_window={"S1": 0.9, "S2": 0.1}))
    assert quiet.nudges == ()


def test_interruption_nudge_counts_only_the_last_five_minutes():
    model = CueModel(Settings(nudge_interruptions=2))
    turns = (Turn("S1", 0, 1), Turn("S2", 1, 2))
    assert model.update(state(10, recent_turns=turns, interruptions_made={"S1": 2})).nudges[0].key == \
        "interruptions"
    # five minutes later without new interruptions the nudge is gone
    assert model.update(state(400, recent_turns=turns, interruptions_made={"S1": 2})).nudges == ()
    cues = model.update(state(410, recent_turns=turns, interruptions_made={"S1": 4}))
    assert cues.nudges[0].text.startswith("2 interruptions")


def test_end_cue_near_the_planned_end():
    model = CueModel(Settings(end_cue_minutes=5), planned_s=50 * 60)
    assert not model.update(state(40 * 60)).end_cue
    cues = model.update(state(46 * 60))
    assert cues.end_cue and cues.nudges[-1].key == "end" and "4 min left" in cues.nudges[-1].text
    assert "boundaries" in cues.nudges[-1].tip


def test_pause_timer_counts_from_the_client_stopping():
    model = CueModel(Settings())
    turns = (Turn("S1", 0, 2), Turn("S2", 3, 8))
    cues = model.update(state(12.5, recent_turns=turns, silence_s=4.5))
    assert cues.silence_s == pytest.approx(4.5) and cues.silence_label == "Pause after client"
    speaking = model.update(state(13, recent_turns=turns, speaking_now=("S1",)))
    assert speaking.silence_s is None and speaking.speaking_text == "You are speaking"


def test_settings_persist_as_json_and_survive_bad_values(tmp_path):
    assert load_settings() == Settings()
    save_settings(Settings(theme="dim", nudge_talk_share=0.8, device="USB mic"))
    again = load_settings()
    assert (again.theme, again.nudge_talk_share, again.device) == ("dim", 0.8, "USB mic")
    settings_path().write_text(json.dumps({"theme": "neon", "nudge_talk_share": "9", "bogus": 1}))
    odd = load_settings()
    assert odd.theme == "dark" and odd.nudge_talk_share == 0.95
    settings_path().write_text("{not json")
    assert load_settings() == Settings()


def test_an_enrolled_voice_decides_the_roles():
    from app.session_runner import with_roles

    # the client spoke first, but the diarizer matched S2 to the enrolled therapist voice
    s = with_roles(state(10, recent_turns=(Turn("S1", 0, 3), Turn("S2", 4, 6))), "S2")
    assert [sp.role for sp in s.speakers] == ["client", "therapist"]
    cues = CueModel(Settings()).update(s)
    assert cues.therapist.id == "S2" and cues.client.id == "S1"
    assert with_roles(s, None) is s


def test_enrolled_voices_are_listed_newest_first():
    from app.settings import data_dir
    from ui.start_dialog import enrolled_voices

    folder = data_dir() / "voiceprints"
    folder.mkdir()
    (folder / "old.json").write_text(json.dumps({"name": "Old me", "created": 1.0, "vector": [0.1]}))
    (folder / "new.json").write_text(json.dumps({"name": "Dr Lee", "created": 2.0, "vector": [0.2]}))
    (folder / "bad.json").write_text("{")
    assert enrolled_voices() == ["Dr Lee", "Old me"]
