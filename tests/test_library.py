"""The Library window and its Trends (issue 16), on an encrypted store seeded with sessions whose timelines
the cue engine computed from scripted turns (a therapist who interrupts less from month to month)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from app import library

pytest.importorskip("pyqtgraph")


def _timeline(interrupting: int, n: int = 20):
    """``n`` alternating 6-s turns, 1 s apart; the therapist's first ``interrupting`` turns start 1 s before
    the client has finished (interruptions from the second on: the first turn has no one to interrupt)."""
    from analysis.timeline import Turn
    from app.synth import scripted_timeline

    turns, t = [], 0.0
    for i in range(n):
        sp = "S1" if i % 2 == 0 else "S2"
        start = t - 2.0 if sp == "S1" and i // 2 < interrupting and i else t
        turns.append(Turn(sp, start, t + 6.0))
        t += 7.0
    return scripted_timeline(turns, t)


SEED = [  # client, date, interrupting turns, tags
    ("C-01", "2026-09-08T10:00:00+00:00", 7, ["intake"]),
    ("C-01", "2026-09-22T10:00:00+00:00", 6, []),
    ("C-01", "2026-10-13T10:00:00+00:00", 5, ["supervision"]),
    ("C-01", "2026-11-10T10:00:00+00:00", 4, []),
    ("C-01", "2026-11-24T10:00:00+00:00", 3, ["supervision"]),
    ("C-02", "2026-10-20T15:00:00+00:00", 2, []),
]


@pytest.fixture
def seeded():
    """The test's store with the SEED sessions (timelines, no figures yet: the library computes them once)
    and one analysed by a batch (figures already in its description, a reflection-to-question ratio)."""
    from app.session_runner import headline_metrics
    from tests.store_util import open_test_store

    store = open_test_store()
    ids = []
    for client, when, k, tags in SEED:
        tl = _timeline(k)
        s = store.create_session({"client": client, "started_at": when, "duration": tl.duration, "tags": tags,
                                  "status": "finished", "metrics": headline_metrics(tl)})
        s.write_json("timeline", tl.to_dict())
        ids.append(s.id)
    tl = _timeline(0)
    figs = {**library.figures_from_timeline(tl.to_dict()), "questions": 10, "reflections": 15,
            "reflection_question_ratio": 1.5}
    s = store.create_session({"client": "C-03", "started_at": "2026-11-01T09:00:00+00:00", "duration": tl.duration,
                              "status": "analysed", "metrics": figs})
    s.write_json("timeline", tl.to_dict())
    ids.append(s.id)
    yield store, ids
    store.close()


def test_library_lists_filters_and_sorts_with_the_figures(qtbot, seeded):
    from ui.library_window import LibraryWindow

    store, ids = seeded
    opened = []
    win = LibraryWindow(store, open_session=opened.append)
    qtbot.addWidget(win)
    assert sorted(win.table_ids()) == sorted(ids)
    # the figures shown are the timeline's, computed once and kept in the encrypted index
    for sid in ids:
        expected = library.figures_from_timeline(store.session(sid).read_json("timeline"))
        row = next(r for r in win.rows if r.id == sid)
        for key in ("therapist_talk_share", "interruptions_per_hour", "response_latency_median"):
            assert row.figures[key] == pytest.approx(expected[key])
    assert all(library.has_figures(s.metrics) for s in store.list_sessions())
    interruptions = [row.figures["interruptions_per_hour"] for row in win.rows if row.client == "C-01"]
    assert interruptions == sorted(interruptions, reverse=True) and interruptions[0] > interruptions[-1] > 0

    win.set_filters(client="C-01")
    assert len(win.table_ids()) == 5 and set(win.column_values("Client")) == {"C-01"}
    win.set_filters(tag="supervision")
    assert sorted(win.table_ids()) == sorted([ids[2], ids[4]])
    win.set_filters(since=dt.date(2026, 10, 1), until=dt.date(2026, 10, 31))
    assert sorted(win.table_ids()) == sorted([ids[2], ids[5]])
    win.set_filters()
    win.sort_by("interruptions_per_hour", descending=True)
    values = [float(v) for v in win.column_values("interruptions_per_hour")]
    assert values == sorted(values, reverse=True) and win.table_ids()[0] == ids[0]
    win.sort_by("Date")
    assert win.table_ids()[0] == ids[0] and win.table_ids()[-1] == ids[4]

    win.select(ids[3])
    win.open_selected()
    assert opened == [ids[3]]


def test_trends_chart_and_summary(qtbot, seeded):
    from ui.library_window import LibraryWindow

    store, ids = seeded
    win = LibraryWindow(store, open_session=lambda _sid: None)
    qtbot.addWidget(win)
    win.set_filters(client="C-01")
    win.set_trend("interruptions_per_hour")
    xs, ys = win.trend_data()
    rows = [r for r in win.rows if r.client == "C-01"]
    assert xs == [r.when.timestamp() for r in rows]
    assert ys == pytest.approx([r.figures["interruptions_per_hour"] for r in rows])
    text = win.summary.text()
    assert "You interrupted" in text and "November 2026" in text and "September 2026" in text, text
    assert "half" in text  # 6 and 5 interruptions in September, 3 and 2 in November
    assert not win.band_items and "No range" in win.citation.text()

    win.set_filters()
    win.set_trend("reflection_question_ratio")
    assert win.trend_data()[1] == [1.5]
    assert win.band_items and "MITI" in win.citation.text() and "Moyers" in win.citation.text()
    assert "Not enough sessions" in win.summary.text()
    assert library.band_note("reflection_question_ratio", 1.5) == "That is in the range the MITI calls fair."


def test_tag_delete_and_export(qtbot, seeded, tmp_path):
    from ui.library_window import LibraryWindow

    store, ids = seeded
    win = LibraryWindow(store, open_session=lambda _sid: None)
    qtbot.addWidget(win)
    win.select(ids[1])
    assert win.add_tag("reviewed, good")
    assert set(store.session(ids[1]).meta["tags"]) == {"reviewed", "good"}
    win.set_filters(tag="reviewed")
    assert win.table_ids() == [ids[1]]
    win.set_filters()
    assert win.delete(ids[5])
    assert ids[5] not in win.table_ids() and ids[5] not in store.session_ids()
    out = tmp_path / "trends.csv"
    win.export_csv(str(out))
    lines = out.read_text().splitlines()
    assert lines[0].startswith("session,date,client,clinician,minutes,tags,therapist_talk_share")
    assert len(lines) == 1 + len(ids) - 1


def test_summary_sentences():
    def row(day, v):
        return library.Row(str(day), dt.datetime(2026, 9 if day < 15 else 11, day % 15 + 1, tzinfo=dt.UTC),
                           "C", 3600.0, (), "finished", {"interruptions_per_hour": v, "therapist_talk_share": 40.0})

    rows = [row(1, 8.0), row(2, 8.0), row(20, 4.0)]
    assert library.summarize(rows, "interruptions_per_hour") == (
        "You interrupted about half as often in November 2026 as in September 2026 "
        "(4.0 per hour against 8.0 per hour).")
    assert library.summarize(rows, "therapist_talk_share").startswith(
        "Your talk share in November 2026 was about the same as in September 2026")
    assert library.summarize(rows[:1], "therapist_talk_share").startswith("Not enough sessions")


def test_the_main_window_opens_the_library(qtbot, seeded):
    from ui.main_window import MainWindow

    _store, ids = seeded
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.library_button.text() == "Library…"
    lib = win.show_library()
    assert sorted(lib.table_ids()) == sorted(ids)
    lib.close()


# -- the library on sessions analysed from generated dialogues ---------------------------------------
def _dialogue(k: int):
    """A short two-voice dialogue (therapist S1, client S2; about 30 s) in which the therapist interrupts
    the client ``k`` times."""
    from app.synth import Line, Script
    from app.synth_scripts import CLIENT, QUESTIONS, REFLECTIONS, STATEMENTS, THERAPIST

    lines = []
    for i in range(4):
        lines.append(Line("S1", QUESTIONS[i + k], 0.8))
        lines.append(Line("S2", STATEMENTS[i + k], 0.7))
        if i < k:
            lines.append(Line("S1", REFLECTIONS[i], kind="interruption", at=1.5))
    return Script((THERAPIST, CLIENT), tuple(lines), lead_in=0.5, tail=0.5)


DIALOGUES = [  # name, therapist's interruptions, recorded on (the file's date), client, clinician
    ("sep", 2, "2026-09-15T10:00:00+00:00", "C-01", None),
    ("oct", 1, "2026-10-14T10:00:00+00:00", "C-02", "Dr Ada"),
    ("nov", 0, "2026-11-17T10:00:00+00:00", "C-01", None),
]


def _reference(timeline: dict) -> dict:
    """The library's figures recomputed from a stored timeline's turns by the reference computation of
    docs/cues.md (analysis/cue_reference.py, which shares no code with the cue engine)."""
    import statistics

    from analysis.cue_reference import intervals_of, reference_cues
    from analysis.timeline import Turn

    roles = {sp["id"]: sp["role"] for sp in timeline["speakers"]}
    me = next(sid for sid, role in roles.items() if role == "therapist")
    turns = [Turn(t["speaker"], t["start"], t["end"]) for t in timeline["turns"]]
    ref = reference_cues({sid: [] for sid in roles} | intervals_of(turns), timeline["duration"])
    share = ref.talk_share
    return {"therapist_talk_share": 100 * share[me],
            "client_talk_share": 100 * sum(v for sid, v in share.items() if roles[sid] == "client"),
            "interruptions_per_hour": sum(e.kind == "interruption" and e.by == me for e in ref.events)
            / (timeline["duration"] / 3600),
            "response_latency_median": statistics.median(ref.latencies[me]),
            "silences": sum(e.kind == "silence" for e in ref.events)}


def test_library_on_sessions_analysed_from_generated_dialogues(qtbot, tmp_path, monkeypatch):
    """Three generated dialogues (the therapist interrupting less each month) analysed into the encrypted
    store by ``attune batch --store`` (decoding, VAD, role assignment by the enrolled voice, the cue
    engine; the dialogue's rendered turns stand in for the diarizer: tests/batch_dialogue.py); the library
    lists them with the figures the reference computation gives from each stored timeline, filters them by
    client, clinician, tag and dates, and the trend chart draws those figures at the recordings' dates."""
    import os

    from app import voiceprints
    from app.cli import main
    from app.synth import Truth, render
    from app.unlock import set_app_store
    from tests.batch_dialogue import voice
    from tests.store_util import open_test_store
    from ui.library_window import LibraryWindow

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))  # the workers import tests.batch_dialogue
    with open_test_store() as store:
        voiceprints.save("Me", voice(0), store=store)  # the therapist's "voice" (S1's stand-in voiceprint)
    folders = {}
    for name, k, when, client, clinician in DIALOGUES:
        folder = folders.setdefault((client, clinician), tmp_path / f"{client}-{clinician or 'own'}")
        wav = folder / f"{name}.wav"
        render(_dialogue(k), wav)
        stamp = dt.datetime.fromisoformat(when).timestamp()
        os.utime(wav, (stamp, stamp))  # the recording's date: its file's
    try:
        for (client, clinician), folder in folders.items():
            argv = ["batch", str(folder), "--store", "--client", client, "--tag", "generated", "--workers", "1",
                    "--no-transcribe", "-q", "--analysis-function", "tests.batch_dialogue:analyze"]
            assert main(argv + (["--clinician", clinician] if clinician else [])) == 0
    finally:
        set_app_store(None)  # the CLI unlocked the app's store for the enrolled voice

    store = open_test_store()
    try:
        win = LibraryWindow(store, open_session=lambda _sid: None, goals=())
        qtbot.addWidget(win)
        assert len(win.table_ids()) == 3
        by_name = {}
        for row in win.rows:
            meta = store.session(row.id).meta
            name = Path(meta["source"]["file"]).stem
            by_name[name] = row
            spec = next(d for d in DIALOGUES if d[0] == name)
            assert (row.client, row.tags, row.when) == (spec[3], ("generated",), dt.datetime.fromisoformat(spec[2]))
            assert row.clinician == (spec[4] or library.OWN_CLINICIAN)
            timeline = store.session(row.id).read_json("timeline")
            truth = Truth.load(folders[(spec[3], spec[4])] / f"{name}.truth.json")
            assert len(timeline["turns"]) == len(truth.turns)  # the dialogue's own turns, through the store
            assert [sp["role"] for sp in timeline["speakers"]] == ["therapist", "client"]
            expected = _reference(timeline)
            for key, value in expected.items():
                assert row.figures[key] == pytest.approx(value, abs=0.06), (name, key)
            assert row.figures["interruptions_per_hour"] == pytest.approx(
                spec[1] * 3600 / timeline["duration"], rel=1e-3)  # the script's interruptions, all found
        ids = {name: row.id for name, row in by_name.items()}
        shares = dict(zip(win.table_ids(), win.column_values("therapist_talk_share"), strict=True))
        for row in by_name.values():
            assert float(shares[row.id]) == pytest.approx(row.figures["therapist_talk_share"], abs=0.051)

        win.set_filters(client="C-01")
        assert sorted(win.table_ids()) == sorted([ids["sep"], ids["nov"]])
        win.set_filters(clinician="Dr Ada")
        assert win.table_ids() == [ids["oct"]]
        win.set_filters(clinician=library.OWN_CLINICIAN, tag="generated")
        assert sorted(win.table_ids()) == sorted([ids["sep"], ids["nov"]])
        win.set_filters(since=dt.date(2026, 10, 1), until=dt.date(2026, 11, 30))
        assert sorted(win.table_ids()) == sorted([ids["oct"], ids["nov"]])

        win.set_filters(client="C-01")
        for key in ("interruptions_per_hour", "therapist_talk_share"):
            win.set_trend(key)
            xs, ys = win.trend_data()
            assert xs == [by_name["sep"].when.timestamp(), by_name["nov"].when.timestamp()]
            assert ys == pytest.approx([_reference(store.session(ids[n]).read_json("timeline"))[key]
                                        for n in ("sep", "nov")], abs=0.06)
        win.set_trend("interruptions_per_hour")
        assert win.trend_data()[1][0] > 0 == win.trend_data()[1][1]
        text = win.summary.text()
        assert "client C-01, 2 session(s)" in text and "September 2026" in text and "November 2026" in text, text
    finally:
        store.close()


# -- trends per clinician, and their export -----------------------------------------------------------
def _no_request(html: str) -> None:
    """Every src/href of the page is inline (data:) or in the page (#): the report makes no request."""
    import re

    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", html, flags=re.IGNORECASE)
    assert refs and all(r.startswith(("data:", "#")) for r in refs), [r[:40] for r in refs if not r.startswith("data:")]
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html.replace("http://www.w3.org", ""), re.I)
    assert "@import" not in html and "url(http" not in html


def test_export_trends_from_the_window(qtbot, seeded, tmp_path):
    """"Export trends…": the listed sessions' figures as CSV (read back: the rows and figures shown) and the
    trends report as HTML and PDF: a chart per cue, the plain-language sentence, the goal met k of n, the
    MITI range and its citation, every figure of the table; no request."""
    import csv

    from markupsafe import escape

    from app import trends_report
    from ui.library_window import LibraryWindow

    store, ids = seeded
    win = LibraryWindow(store, open_session=lambda _sid: None, goals=("interruptions_per_hour<=100",))
    qtbot.addWidget(win)
    win.set_filters(client="C-01")
    paths = win.export_trends(str(tmp_path / "out"))
    assert [p.name for p in paths] == ["attune-trends.csv", "attune-trends.report.html", "attune-trends.report.pdf"]
    with open(paths[0], newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["session"] for r in table] == [r.id for r in win.shown] == ids[:5]
    for line, row in zip(table, win.shown, strict=True):
        assert line["client"] == "C-01" and line["clinician"] == library.OWN_CLINICIAN
        for key in ("therapist_talk_share", "interruptions_per_hour", "response_latency_median"):
            assert float(line[key]) == pytest.approx(row.figures[key])
    html = paths[1].read_text(encoding="utf-8")
    _no_request(html)
    assert "client C-01" in html and "5, 2026-09-08 to 2026-11-24" in html
    for key in ("therapist_talk_share", "interruptions_per_hour", "response_latency_median"):
        assert f'id="cue-{key}"' in html
        assert str(escape(library.summarize(win.shown, key))) in html
    assert html.count('<img src="data:image/svg+xml;base64,') == sum(
        bool(library.series(win.shown, f.key)[1]) for f in library.FIGURES)
    values = [r.figures["interruptions_per_hour"] for r in win.shown]
    met = sum(v <= 100 for v in values)
    assert f"at most 100 interruptions per hour: goal met in {met} of 5 session(s)" in html
    assert 0 < met < 5
    for row in win.shown:  # the table: each session's figures as shown
        assert trends_report._fmt(row.figures["interruptions_per_hour"], "") in html
    assert paths[2].read_bytes()[:5] == b"%PDF-" and b"http" not in paths[2].read_bytes()

    win.set_filters()  # the batch-analysed session has a reflection-to-question ratio: MITI's range, cited
    html = trends_report.render_html(win.shown, scope="all sessions")
    assert 'id="cue-reflection_question_ratio"' in html and "Moyers, Manuel &amp; Ernst (2014)" in html
    assert "MITI fair (1:1): 1 to 2; MITI good (2:1): 2 or more" in html
    _no_request(html)


def test_sessions_trends_command(seeded, tmp_path, capsys):
    from app.cli import main

    _store, ids = seeded
    out = tmp_path / "trends"
    assert main(["sessions", "trends", "--out", str(out), "--format", "csv,html", "--since", "2026-10-01",
                 "--until", "2026-11-30"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[-1] == "trends of 5 session(s) written"
    assert sorted(p.name for p in out.iterdir()) == ["attune-trends.csv", "attune-trends.report.html"]
    lines = (out / "attune-trends.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == [ids[2], ids[5], ids[6], ids[3], ids[4]]  # oldest first
    html = (out / "attune-trends.report.html").read_text()
    assert "from 2026-10-01 to 2026-11-30" in html
    _no_request(html)
    assert main(["sessions", "trends", "--out", str(out), "--format", "csv,docx"]) == 2
    assert "unknown trends format 'docx'" in capsys.readouterr().err


def test_the_installations_clinician(monkeypatch):
    """With a clinician set, each new session records it, and the library names the sessions that recorded
    none after them; another clinician's sessions (a batch's --clinician) are filtered apart."""
    from types import SimpleNamespace

    import app.settings
    from tests.store_util import open_test_store

    with open_test_store() as store:
        before = store.create_session({"client": "C-01", "started_at": "2026-09-01T10:00:00+00:00"})
        assert "clinician" not in before.meta
        monkeypatch.setattr(app.settings, "load_settings", lambda: SimpleNamespace(clinician=" Dr Lee "))
        mine = store.create_session({"client": "C-01", "started_at": "2026-10-01T10:00:00+00:00"})
        theirs = store.create_session({"client": "C-02", "clinician": "Dr Ada",
                                       "started_at": "2026-10-02T10:00:00+00:00"})
        assert mine.meta["clinician"] == "Dr Lee" and theirs.meta["clinician"] == "Dr Ada"
        rows = library.load_rows(store)
        assert {r.id: r.clinician for r in rows} == {before.id: "Dr Lee", mine.id: "Dr Lee", theirs.id: "Dr Ada"}
        assert library.clinicians(rows) == ["Dr Ada", "Dr Lee"]
        assert [r.id for r in library.filter_rows(rows, clinician="Dr Lee")] == [before.id, mine.id]
        store.rebuild_index()  # the clinician is in the encrypted descriptions, so the index can be rebuilt
        assert {s.id: s.clinician for s in store.list_sessions()} == {before.id: None, mine.id: "Dr Lee",
                                                                       theirs.id: "Dr Ada"}


def test_trends_report_of_many_sessions():
    """Hundreds of sessions: the report charts them all (the marks one image) and leaves the one-by-one
    table to the CSV, so that it stays quick to lay out."""
    from app import trends_report

    n = trends_report.TABLE_MAX + 1
    rows = [library.Row(str(i), dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=2 * i), "C-01", 3000.0,
                        (), "finished", {"interruptions_per_hour": 10.0 - i / n}) for i in range(n)]
    html = trends_report.render_html(rows)
    assert f"{n} sessions: their figures are in the CSV export" in html
    assert html.count("<img ") == 1 and 'id="cue-interruptions_per_hour"' in html
    assert "first 10 /h · latest 9 /h" in html
    _no_request(html)
    assert "<td>2026-01-01</td>" in trends_report.render_html(rows[:3])  # a few: listed one by one
