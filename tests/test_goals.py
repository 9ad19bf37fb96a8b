"""Personal goals (issue 16): set in the settings, one discreet line on the live dashboard, a target line
and "met in k of n" on the library's trends."""

from __future__ import annotations

import pytest

from analysis.session_state import SessionState
from analysis.timeline import Speaker
from app.goals import goal_line, parse_goal, parse_goals, sessions_meeting
from app.settings import Settings, load_settings, save_settings
from tests.test_library import seeded  # noqa: F401 (fixture)

ME, CLIENT = Speaker("S1", "You", "therapist"), Speaker("S2", "Client", "client")


def test_goals_are_parsed_and_bad_ones_dropped():
    g = parse_goal("client_talk_share >= 60")
    assert (g.figure, g.at_least, g.target) == ("client_talk_share", True, 60.0)
    assert g.text == "the client talks at least 60 %" and g.spec() == "client_talk_share>=60"
    assert parse_goal("interruptions_per_hour<=2").text == "at most 2 interruptions per hour"
    assert parse_goal("response_latency_median>=2").text == "wait 2 s before answering (median)"
    for bad in ("", "client_talk_share=60", "questions>=3", "nonsense<=1", "client_talk_share>=lots"):
        assert parse_goal(bad) is None
    s = Settings(goals=("client_talk_share>=60", "not a goal", "interruptions_per_hour<=2"))
    assert s.goals == ("client_talk_share>=60", "interruptions_per_hour<=2")
    save_settings(s)
    assert load_settings().goals == s.goals  # through the JSON file (a list there)


def test_a_goal_set_in_settings_appears_on_the_dashboard(qtbot):
    from ui.live_view import LiveView

    settings = Settings(goals=("client_talk_share>=60", "interruptions_per_hour<=2"))
    view = LiveView(settings)
    qtbot.addWidget(view)
    view.start_session(settings)
    view.show_state(SessionState(t=1800.0, status="listening", speakers=(ME, CLIENT),
                                 talk_time={"S1": 600.0, "S2": 400.0}, talk_share={"S1": 0.6, "S2": 0.4},
                                 interruptions_made={"S1": 3}))
    text = view.goal_label.text()
    assert text.startswith("Goals: ")
    assert "the client talks at least 60 % · now 40 %" in text
    assert "at most 2 interruptions per hour · now 6 /h" in text
    assert not view.goal_label.isHidden()
    assert view.goal_label.property("muted")  # discreet: the muted style, never the cue colour

    plain = LiveView(Settings())
    qtbot.addWidget(plain)
    plain.show_state(SessionState(t=60.0, status="listening", speakers=(ME, CLIENT)))
    assert plain.goal_label.isHidden() and plain.goal_label.text() == ""


def test_without_a_therapist_the_line_gives_the_goal_but_no_figure():
    class Cues:
        t, people = 600.0, ()

    assert goal_line(parse_goals(["client_talk_share>=60"]), Cues()) == "Goal: the client talks at least 60 %"
    assert sessions_meeting(parse_goal("interruptions_per_hour<=10"), [4.0, 12.0, 8.0]) == \
        "goal met in 2 of 3 session(s)"


@pytest.mark.usefixtures("qtbot")
def test_the_trends_track_the_goal(qtbot, seeded):  # noqa: F811 (the fixture imported above)
    from ui.library_window import LibraryWindow

    store, _ids = seeded
    win = LibraryWindow(store, open_session=lambda _sid: None, goals=("interruptions_per_hour<=20",))
    qtbot.addWidget(win)
    win.set_trend("interruptions_per_hour")
    _xs, ys = win.trend_data()
    met = sum(y <= 20 for y in ys)
    assert f"Your goal (at most 20 interruptions per hour): goal met in {met} of {len(ys)} session(s)." in \
        win.summary.text()
    assert 0 < met < len(ys)  # the seeded sessions fall on both sides of the goal
    lines = [i for i in win.band_items if type(i).__name__ == "InfiniteLine"]
    assert len(lines) == 1 and lines[0].value() == 20.0
    win.set_trend("client_talk_share")  # no goal for this cue: no line, no goal sentence
    assert "Your goal" not in win.summary.text()
    assert not [i for i in win.band_items if type(i).__name__ == "InfiniteLine"]
