"""Three or more voices (issue 11, point 4): the clinician says which voice is theirs and merges a
split voice; never more than one therapist unless set so; voices with a few seconds of speech share
one small "Other voices" card; session.json keeps one therapist."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from analysis.timeline import Turn
from app.settings import Settings
from app.synth import demo_script, render
from tests.store_util import saved_session
from tests.ui_session import scripted_controller, start_through_dialog, voices_state
from ui.cues import OTHERS_ID, CueModel, display_name
from ui.main_window import MainWindow


def titles(cues) -> list[str]:
    return [display_name(p) for p in cues.cards]


def therapists(cues) -> list[str]:
    return [p.id for p in cues.people if p.role == "therapist"]


def test_an_enrolled_voice_and_two_more_voices_make_you_client_and_other_voices():
    # the pipeline names the enrolled voice the therapist and every other voice the client
    roles = {"S1": "therapist", "S2": "client", "S3": "client"}
    model = CueModel(Settings())
    cues = model.update(voices_state(600, {"S1": 250.0, "S2": 300.0, "S3": 8.0}, roles))
    assert titles(cues) == ["You", "Client", "Other voices"]  # not "You / Client / Client"
    assert cues.pair()[0].id == "S1" and cues.pair()[1].id == "S2"

    model.swap_roles(cues.people)  # "Swap roles" swaps two voices, never makes everyone "You"
    cues = model.update(voices_state(601, {"S1": 250.0, "S2": 300.0, "S3": 8.0}, roles))
    assert therapists(cues) == ["S2"] and cues.client.id == "S1"
    assert model.saved_roles() == {"S1": "client", "S2": "therapist"}
    a, b = cues.pair()
    assert 0.3 < a.share / (a.share + b.share) < 0.7  # not 99 % / 1 %


def test_this_is_me_keeps_one_therapist():
    model = CueModel(Settings())
    talk = {"S1": 200.0, "S2": 260.0, "S3": 120.0}  # first heard: S1 (taken for you), S2 (client)
    cues = model.update(voices_state(600, talk))
    assert titles(cues) == ["You", "Client", "S3"]  # a voice with real speech keeps its own card
    model.set_role("S3", "therapist")  # "This is me" on S3's card
    cues = model.update(voices_state(601, talk))
    assert therapists(cues) == ["S3"] and cues.client.id == "S2"
    assert model.saved_roles() == {"S3": "therapist", "S2": "client"}
    model.set_role("S1", "therapist")
    cues = model.update(voices_state(602, talk))
    assert therapists(cues) == ["S1"]
    model.max_therapists = 2  # co-therapists, when set so
    model.set_role("S3", "therapist")
    cues = model.update(voices_state(603, talk))
    assert sorted(therapists(cues)) == ["S1", "S3"]


def test_merging_a_split_voice_adds_it_to_the_person():
    model = CueModel(Settings())
    talk = {"S1": 200.0, "S2": 260.0, "S3": 120.0}
    model.update(voices_state(600, talk, interruptions_made={"S1": 1, "S3": 2}))
    model.merge("S3", "S1")  # "Merge with You" on S3's card
    cues = model.update(voices_state(601, talk, interruptions_made={"S1": 1, "S3": 2}))
    assert titles(cues) == ["You", "Client"]
    you = cues.therapist
    assert you.talk_s == pytest.approx(320.0) and you.interruptions_made == 3
    assert set(you.members) == {"S1", "S3"}
    assert [p.role for p in cues.people] == ["therapist", "client", "therapist"]  # colours follow
    assert model.saved_roles() == {"S1": "therapist", "S2": "client"}  # one therapist in session.json
    model.separate("S1")
    cues = model.update(voices_state(602, talk))
    assert titles(cues) == ["You", "Client", "S3"]


def test_four_voices_fit_four_cards_with_the_small_ones_grouped():
    model = CueModel(Settings())
    talk = {"S1": 200.0, "S2": 260.0, "S3": 5.0, "S4": 3.0, "S5": 2.0}
    cues = model.update(voices_state(600, talk))
    assert titles(cues) == ["You", "Client", "Other voices"]
    others = cues.cards[-1]
    assert others.id == OTHERS_ID and set(others.members) == {"S3", "S4", "S5"}
    assert others.talk_s == pytest.approx(10.0)


@pytest.fixture(scope="module")
def three_voices(tmp_path_factory):
    """The demo dialogue with the therapist's voice split in two by the diarizer (every third turn)."""
    wav = tmp_path_factory.mktemp("roles") / "demo0.wav"
    truth = render(demo_script(0), wav)
    turns, n = [], 0
    for tr in truth.turns:
        if tr.speaker == "S1":
            n += 1
            tr = Turn("S3", tr.start, tr.end) if n % 3 == 0 else tr
        turns.append(tr)
    return wav, turns


def test_clicking_a_card_says_whose_voice_it_is_and_session_json_keeps_one_therapist(qtbot, three_voices):
    wav, turns = three_voices
    win = MainWindow(controller=scripted_controller(turns), file_speed=4.0, probe_level=False)
    qtbot.addWidget(win)
    win.show()
    try:
        start_through_dialog(qtbot, win, wav)
        view = win.live_view
        qtbot.waitUntil(lambda: OTHERS_ID in view.cards and view.cues.people[-1:] != (), timeout=30_000)
        qtbot.waitUntil(lambda: "S3" in next(c for c in view.cues.cards if c.id == OTHERS_ID).members,
                        timeout=30_000)
        assert [display_name(p) for p in view.cues.cards] == ["You", "Client", "Other voices"]

        win.swap_roles()  # with three voices: still one therapist
        assert therapists(view.cues) == ["S2"]
        win.swap_roles()
        assert therapists(view.cues) == ["S1"]

        def choose(card_id: str, text: str) -> list[str]:
            qtbot.mouseClick(view.cards[card_id], Qt.MouseButton.LeftButton)  # the card asks
            menu = win.card_menu
            assert menu is not None and menu.isVisible()
            texts = [a.text() for a in menu.actions() if a.text()]
            next(a for a in menu.actions() if a.text() == text).trigger()
            menu.close()
            return texts

        texts = choose("S2", "This is me")
        assert texts[:2] == ["This is me", "This is the client"] and "Merge with You" in texts
        assert therapists(view.cues) == ["S2"] and view.cues.client.id == "S1"
        choose("S1", "This is me")
        assert therapists(view.cues) == ["S1"] and view.cues.client.id == "S2"
        choose(OTHERS_ID, "These voices are You")  # the split-off voice is yours
        assert OTHERS_ID not in view.cards and "S3" in view.cues.therapist.members
        assert view.session_bar.left[0] == "You"
        if win.controller.running:
            win.stop_session()
        qtbot.waitUntil(lambda: win.summary_dialog is not None, timeout=30_000)
        folder = Path(win.last_result.session_dir)
        with qtbot.waitSignal(win.session_saved, timeout=10_000):
            win.summary_dialog.accept()
    finally:
        win.controller.shutdown()
        win.strip.close()
        QApplication.processEvents()
    meta = saved_session(folder).meta
    assert meta["roles"] == {"S1": "therapist", "S2": "client"}
    assert meta["merged_voices"] == {"S3": "S1"}
