"""Export (issue 15): every format written from a session and read back by an independent parser.

Two sessions: the generated demo dialogue (exact truth; a session folder with a renamed speaker, roles,
a correction and notes, as the review window leaves it) and the pyannote sample analysed by
``attune analyze`` (a real recording). Times must come back within 1 ms (the formats' resolution:
SRT/WebVTT/ELAN are in ms, the others finer) and speakers by their export names.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.cues import compute_cues
from analysis.export import FORMATS, parse_formats, redact_text
from analysis.export.common import ExportError
from analysis.timeline import Speaker, Timeline
from app.cmd_export import load_for_export
from app.cmd_export import main as export_main
from app.review_session import open_review
from tests.conftest import ROOT

SCHEMA = json.loads((ROOT / "docs" / "timeline.schema.json").read_text())
MS = 0.0015  # 1 ms, and the rounding of a time already rounded to 1 ms
THERAPIST = "Dr Alice Morgan"
NOTE = "Client mentioned Jamie from Leeds on Monday, 12/03/2024, phone 0113 496 0000"


def _validate(doc: dict) -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory, dialogue):
    """A reviewed session folder: S1 renamed to a full name, roles, one turn given to the other speaker
    (so the cues were recomputed), a bookmark and a note."""
    wav, truth = dialogue
    ids = [s["id"] for s in truth.speakers]
    metrics, events = compute_cues(truth.turns, truth.utterances, truth.duration, speakers=ids)
    tl = Timeline(duration=truth.duration,
                  speakers=tuple(Speaker(s["id"], f"Voice {s['id']}", s["role"]) for s in truth.speakers),
                  turns=tuple(truth.turns), utterances=tuple(truth.utterances), events=events,
                  metrics=metrics, source={"file": "audio.wav", "sample_rate": 16000, "channels": 1})
    d = tmp_path_factory.mktemp("sessions") / "2025-06-17_093000"
    d.mkdir()
    tl.save(d / "timeline.json")
    shutil.copy(wav, d / "audio.wav")
    s = open_review(d)
    therapist = next(sp.id for sp in tl.speakers if sp.role == "therapist")
    s.correct({"op": "rename", "speaker": therapist, "label": THERAPIST})
    s.correct({"op": "reassign_turn", "turn": len(tl.turns) - 1,
               "to": next(sp.id for sp in tl.speakers if sp.id != tl.turns[-1].speaker)})
    s.add_note(10.0)
    s.add_note(20.5, NOTE)
    return d


@pytest.fixture(scope="module")
def corrected(session_dir):
    return load_for_export(session_dir)


@pytest.fixture(scope="module")
def exported(session_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    code = export_main([str(session_dir), "--format", "all", "--out", str(out)])
    assert code == 0
    return out, session_dir.name


def _file(exported, suffix: str) -> Path:
    out, stem = exported
    path = out / f"{stem}{suffix}"
    assert path.is_file(), f"{path.name} was not written"
    return path


def _names(tl: Timeline) -> dict[str, str]:
    return {s.id: s.label for s in tl.speakers}


def _lines(tl: Timeline):
    return sorted(((u.speaker, u.start, u.end, u.text.strip()) for u in tl.utterances), key=lambda r: (r[1], r[2]))


# -- the corrected session is what every export shows ---------------------------------------------
def test_corrections_names_and_notes_are_loaded(corrected, session_dir):
    tl = corrected.timeline
    assert THERAPIST in _names(tl).values()
    original = Timeline.load(session_dir / "timeline.json")
    assert tl.turns[-1].speaker != original.turns[-1].speaker, "the reassigned turn"
    assert [n.text for n in corrected.notes] == ["", NOTE]
    assert corrected.audio_path == session_dir / "audio.wav"
    assert corrected.corrections == 2


def test_every_format_written(exported):
    out, stem = exported
    names = {p.name for p in out.iterdir()}
    for fmt, (_m, _f, what) in FORMATS.items():
        first = what.split(":")[0].replace("<stem>", stem)
        if "{" in first:
            continue
        assert first in names, (fmt, first, sorted(names))
    for table in ("utterances", "turns", "events", "speakers", "notes"):
        assert f"{stem}.{table}.csv" in names


# -- each format read back -------------------------------------------------------------------------
def test_json_valid_against_schema_and_round_trips(exported, corrected):
    path = _file(exported, ".timeline.json")
    doc = json.loads(path.read_text())
    _validate(doc)
    back = Timeline.load(path)
    tl = corrected.timeline
    assert _names(back) == _names(tl)
    assert [(t.speaker, t.start, t.end) for t in back.turns] == [
        (t.speaker, round(t.start, 3), round(t.end, 3)) for t in tl.turns]
    assert [n["text"] for n in doc["notes"]] == ["", NOTE]
    assert doc["metrics"]["speakers"] == json.loads(json.dumps(tl.to_dict()["metrics"]["speakers"]))


def test_schema_rejects_what_is_not_a_timeline(exported):
    import jsonschema

    doc = json.loads(_file(exported, ".timeline.json").read_text())
    for broken in ({**doc, "schema": "other/1"}, {**doc, "turns": [{"speaker": "S1", "start": -1, "end": 2}]},
                   {k: v for k, v in doc.items() if k != "speakers"},
                   {**doc, "speakers": [{"id": "S1", "label": "x", "role": "doctor"}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_csv_tables(exported, corrected):
    tl = corrected.timeline
    names = _names(tl)
    with open(_file(exported, ".utterances.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(tl.utterances) > 5
    for row, (sp, s, e, text) in zip(rows, _lines(tl), strict=True):
        assert row["speaker"] == names[sp] and row["text"] == text
        assert abs(float(row["start"]) - s) <= MS and abs(float(row["end"]) - e) <= MS
        assert row["role"] == (tl.speaker(sp).role or "")
    with open(_file(exported, ".speakers.csv"), encoding="utf-8", newline="") as f:
        sp_rows = {r["speaker_id"]: r for r in csv.DictReader(f)}
    for sid, m in tl.metrics.speakers.items():
        assert abs(float(sp_rows[sid]["talk_share"]) - m["talk_share"]) <= 0.001
    with open(_file(exported, ".events.csv"), encoding="utf-8", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(tl.events)
    with open(_file(exported, ".turns.csv"), encoding="utf-8", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(tl.turns)
    with open(_file(exported, ".notes.csv"), encoding="utf-8", newline="") as f:
        assert [r["text"] for r in csv.DictReader(f)] == ["", NOTE]


def test_srt_read_back_with_srt(exported, corrected):
    import srt

    tl = corrected.timeline
    subs = list(srt.parse(_file(exported, ".srt").read_text(encoding="utf-8")))
    lines = _lines(tl)
    assert len(subs) == len(lines)
    names = _names(tl)
    for sub, (sp, s, e, text) in zip(subs, lines, strict=True):
        assert abs(sub.start.total_seconds() - s) <= MS and abs(sub.end.total_seconds() - e) <= MS
        assert sub.content == f"{names[sp]}: {text}"


def test_vtt_read_back_with_webvtt_voice_tags(exported, corrected):
    import webvtt

    tl = corrected.timeline
    vtt = webvtt.read(str(_file(exported, ".vtt")))
    lines = _lines(tl)
    assert len(vtt.captions) == len(lines)
    names = _names(tl)
    for cap, (sp, s, _e, text) in zip(vtt.captions, lines, strict=True):
        assert cap.voice == names[sp]
        assert abs(cap.start_in_seconds + int(cap.start.split(".")[-1]) / 1000 - s) <= MS
        assert cap.text == text
    assert THERAPIST in {c.voice for c in vtt.captions}


def test_rttm_read_back_with_pyannote(exported, corrected):
    from pyannote.database.util import load_rttm

    tl = corrected.timeline
    anns = load_rttm(str(_file(exported, ".rttm")))
    (ann,) = anns.values()
    got = sorted((seg.start, seg.end, label) for seg, _t, label in ann.itertracks(yield_label=True))
    want = sorted((t.start, t.end, "_".join(_names(tl)[t.speaker].split())) for t in tl.turns if t.end > t.start)
    assert len(got) == len(want)
    for (gs, ge, gl), (ws, we, wl) in zip(got, want, strict=True):
        assert gl == wl and abs(gs - ws) <= MS and abs(ge - we) <= MS
    assert "Dr_Alice_Morgan" in ann.labels()


def test_textgrid_read_back_with_praatio(exported, corrected):
    from praatio import textgrid

    tl = corrected.timeline
    tg = textgrid.openTextgrid(str(_file(exported, ".TextGrid")), includeEmptyIntervals=False)
    names = _names(tl)
    assert set(names.values()) <= set(tg.tierNames)
    assert "events" in tg.tierNames and "bookmarks" in tg.tierNames
    for sp, name in names.items():
        tiers = [n for n in tg.tierNames if n == name or n.startswith(name + " (")]
        got = sorted((round(e.start, 3), round(e.end, 3), e.label) for n in tiers for e in tg.getTier(n).entries)
        want = [(round(s, 3), round(e, 3), text) for who, s, e, text in _lines(tl) if who == sp]
        assert len(got) == len(want) > 0
        for g, w in zip(got, want, strict=True):
            assert abs(g[0] - w[0]) <= MS and abs(g[1] - w[1]) <= MS and g[2] == w[2]
    n_events = sum(len(tg.getTier(n).entries) for n in tg.tierNames if n == "events" or n.startswith("events ("))
    assert n_events == len(tl.events)
    marks = tg.getTier("bookmarks").entries
    assert [round(m.time, 3) for m in marks] == [10.0, 20.5] and marks[1].label == NOTE


def test_eaf_read_back_with_pympi(exported, corrected, session_dir):
    import pympi

    tl = corrected.timeline
    eaf = pympi.Elan.Eaf(str(_file(exported, ".eaf")))
    names = _names(tl)
    tiers = eaf.get_tier_names()
    assert set(names.values()) <= set(tiers) and "events" in tiers and "bookmarks" in tiers
    for sp, name in names.items():
        got = sorted(a for n in tiers if n == name or n.startswith(name + " (")
                     for a in eaf.get_annotation_data_for_tier(n))
        want = [(round(s * 1000), round(e * 1000), text) for who, s, e, text in _lines(tl) if who == sp]
        assert [(g[0], g[1], g[2]) for g in got] == want
    media = eaf.get_linked_files()
    assert media and media[0]["MEDIA_URL"].endswith("audio.wav") and media[0]["MIME_TYPE"] == "audio/x-wav"
    assert [a[2] for a in eaf.get_annotation_data_for_tier("bookmarks")] == ["bookmark", NOTE]


def test_audacity_labels(exported, corrected):
    tl = corrected.timeline
    with open(_file(exported, ".labels.txt"), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert all(len(r) == 3 for r in rows)
    assert len(rows) == len(tl.utterances) + len(tl.events) + 2
    names = _names(tl)
    speech = {(round(float(r[0]), 3), r[2]) for r in rows}
    for sp, s, _e, text in _lines(tl):
        assert (round(s, 3), f"{names[sp]}: {' '.join(text.split())}") in speech
    assert (20.5, f"note: {NOTE}") in speech


def test_docx_read_back_with_python_docx(exported, corrected):
    import docx

    tl = corrected.timeline
    d = docx.Document(str(_file(exported, ".docx")))
    (table,) = d.tables
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert rows[0] == ["Time", "Speaker", "Text"]
    assert len(rows) - 1 == len(tl.utterances)
    names = _names(tl)
    assert [(r[1], r[2]) for r in rows[1:]] == [(names[sp], text) for sp, _s, _e, text in _lines(tl)]
    assert any(NOTE in p.text for p in d.paragraphs)


def test_html_report_self_contained(exported, corrected):
    html = _file(exported, ".report.html").read_text(encoding="utf-8")
    srcs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html)
    assert srcs and all(s.startswith("data:image/svg+xml;base64,") for s in srcs), "no external request"
    assert not re.search(r"url\((?!data:)", html) and "@import" not in html
    assert len(srcs) >= 4, "talk share, over time, timeline, events"
    for text in ("Talk time and share", "Interruptions", "Active listening", "Power dynamics", "Empathy",
                 THERAPIST, "they do not judge it"):
        assert text in html, text
    assert NOTE in html
    first = corrected.timeline.utterances[3].text.strip()
    assert first not in html, "no transcript unless asked"


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_html_report_in_headless_chromium(exported):
    """The report renders in Chromium (Debian's, from setup.sh) with no request but data: ones, no console
    error, and every chart drawn."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed: ./setup.sh installs it")
    url = _file(exported, ".report.html").resolve().as_uri()
    requests, errors = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, wait_until="load")
            drawn = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
            height = page.evaluate("document.body.scrollHeight")
        finally:
            browser.close()
    assert [u for u in requests if u != url and not u.startswith("data:")] == []
    assert errors == []
    assert len(drawn) >= 4 and all(drawn)
    assert height > 2000


def test_report_transcript_when_asked(tmp_path, corrected):
    from analysis.export.report import render_html

    html = render_html(corrected.timeline, corrected.notes, include_transcript=True, title="x")
    assert "<h2>Transcript</h2>" in html
    assert corrected.timeline.utterances[3].text.strip().replace("'", "&#39;") in html


def test_pdf_read_back_with_pypdf(exported):
    from pypdf import PdfReader

    reader = PdfReader(str(_file(exported, ".report.pdf")))
    assert len(reader.pages) >= 2
    first = reader.pages[0].extract_text()
    assert "Session report" in first and "describe" in first
    assert abs(float(reader.pages[0].mediabox.width) - 595.3) < 1, "A4"
    text = "".join(p.extract_text() for p in reader.pages)
    assert "Response latency" in text and THERAPIST in text


def test_pdf_from_the_second_process_is_the_same_file(corrected, tmp_path, monkeypatch):
    """The PDF written by the second process (analysis/export/pdf_process.py) is the one this process
    writes; when that process does not deliver (dies, cannot start), the PDF is written here."""
    from analysis.export import export, pdf_process

    tl, notes = corrected.timeline, corrected.notes
    monkeypatch.setattr(pdf_process, "usable_cpus", lambda: 2)
    here = export(tl, tmp_path / "here" / "s", ["pdf", "html"], notes=notes, title="t", parallel=False)
    there = export(tl, tmp_path / "there" / "s", ["pdf", "html"], notes=notes, title="t")
    assert list(there) == ["pdf", "html"]
    assert there["pdf"][0].read_bytes() == here["pdf"][0].read_bytes()
    assert there["html"][0].read_bytes() == here["html"][0].read_bytes()

    def gone(self):
        self.close()  # the child ends without a reply, as a crashed one
        return None

    monkeypatch.setattr(pdf_process.PdfProcess, "result", gone)
    fallback = export(tl, tmp_path / "fallback" / "s", ["pdf"], notes=notes, title="t")
    assert fallback["pdf"][0].read_bytes() == here["pdf"][0].read_bytes()
    monkeypatch.setattr(pdf_process, "usable_cpus", lambda: 1)
    monkeypatch.setattr(pdf_process.PdfProcess, "__init__", lambda self: pytest.fail("one core: no process"))
    assert export(tl, tmp_path / "one" / "s", ["pdf"], notes=notes, title="t")["pdf"][0].is_file()


def test_wav_whole_and_range(exported, session_dir, tmp_path):
    import soundfile as sf

    info = sf.info(str(_file(exported, ".wav")))
    src = sf.info(str(session_dir / "audio.wav"))
    assert info.frames == src.frames and info.samplerate == src.samplerate
    assert export_main([str(session_dir), "-f", "wav", "--start", "2", "--end", "5.5", "-o", str(tmp_path)]) == 0
    part = sf.info(str(tmp_path / f"{session_dir.name}.wav"))
    assert abs(part.frames / part.samplerate - 3.5) <= 1 / part.samplerate


# -- de-identification -----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "want"), [
    ("I met Jamie in Leeds.", "I met [NAME] in [NAME]."),
    ("See you on Monday the 3rd of May.", "See you on [DATE] the [DATE] of [DATE]."),
    ("It was 12/03/2024, at 2019-05-01.", "It was [DATE], at [DATE]."),
    ("Call 0113 496 0000 or mail jo@example.org", "Call [NUMBER] or mail [EMAIL]"),
    ("I'm 34 and have twenty-five cats.", "I'm [NUMBER] and have [NUMBER] cats."),
    ("Okay. So how did that feel?", "Okay. So how did that feel?"),
    ("Dr Lee said so. Lee agreed.", "[NAME] said so. [NAME] agreed."),
    ("see www.example.org now", "see [URL] now"),
])
def test_redaction_rules(text, want):
    assert redact_text(text, ["Dr Lee"]) == want


def test_deidentify_removes_names_text_and_source(session_dir, tmp_path):
    code = export_main([str(session_dir), "-f", "all", "--deidentify", "-o", str(tmp_path)])
    assert code == 0, "'all' with --deidentify leaves the audio out"
    files = sorted(tmp_path.iterdir())
    assert files and all(p.name.startswith("session-1") for p in files), "no session name in file names"
    assert not any(p.suffix == ".wav" for p in files)
    leaks = ("Alice", "Morgan", "Jamie", "Leeds", "Monday", "12/03/2024", "0113", "2025-06-17", "Voice S",
             "audio.wav")
    import docx
    from pypdf import PdfReader

    for p in files:
        if p.suffix == ".docx":
            d = docx.Document(str(p))
            text = "\n".join([x.text for x in d.paragraphs] + [c.text for t in d.tables for r in t.rows for c in r.cells])
        elif p.suffix == ".pdf":
            text = "".join(pg.extract_text() for pg in PdfReader(str(p)).pages)
        else:
            text = p.read_text(encoding="utf-8")
        for leak in leaks:
            assert leak not in text, (p.name, leak)
    doc = json.loads((tmp_path / "session-1.timeline.json").read_text())
    _validate(doc)
    assert doc["source"] == {} and doc["provenance"]["deidentified"] is True
    assert {s["label"] for s in doc["speakers"]} == {"Therapist", "Client"}
    assert "[NAME]" in doc["notes"][1]["text"] and "[DATE]" in doc["notes"][1]["text"]
    assert doc["utterances"], "the transcript is kept, redacted"


def test_deidentify_refuses_audio(session_dir, tmp_path, capsys):
    assert export_main([str(session_dir), "-f", "wav", "--deidentify", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "audio cannot be de-identified" in err and not list(tmp_path.glob("*.wav"))


def test_metrics_only_has_no_words(session_dir, corrected, tmp_path):
    assert export_main([str(session_dir), "-f", "json,csv,srt,vtt,textgrid,eaf,audacity,docx,html", "--no-words",
                        "--deidentify", "-o", str(tmp_path)]) == 0
    words = {w.text.strip(".,?!").lower() for u in corrected.timeline.utterances for w in u.words}
    distinctive = sorted(w for w in words if len(w) >= 7)[:15]
    assert distinctive
    for p in tmp_path.iterdir():
        if p.suffix == ".docx":
            continue
        text = p.read_text(encoding="utf-8").lower()
        for w in distinctive:
            assert not re.search(rf"\b{w}\b", text), (p.name, w)
    doc = json.loads((tmp_path / "session-1.timeline.json").read_text())
    _validate(doc)
    assert doc["utterances"] == [] and doc["metrics"]["speakers"] and doc["turns"]
    assert [n["text"] for n in doc["notes"]] == ["", ""]


# -- the command line ------------------------------------------------------------------------------
ATTUNE = str(Path(sys.executable).parent / "attune")


def _cli(*args):
    """``attune export ...`` as a user runs it."""
    return subprocess.run([ATTUNE, "export", *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_cli_bad_input_one_line_non_zero(tmp_path, session_dir):
    bad = tmp_path / "bad.timeline.json"
    bad.write_text('{"schema": "attune.timeline/1", "duration": ')
    not_tl = tmp_path / "x.json"
    not_tl.write_text("[1, 2]")
    for args, code in (([tmp_path / "missing"], 1), ([bad], 1), ([not_tl], 1), ([tmp_path / "audio.mp3"], 1),
                       ([session_dir, "--format", "json,nonsense"], 2)):
        if "--format" not in map(str, args):
            args = [*args, "--format", "json"]
        r = _cli(*args, "--out", tmp_path / "out")
        assert r.returncode == code, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert "Traceback" not in r.stderr and lines and lines[0].startswith("attune export: error: "), r.stderr
        assert len(lines) <= 2, r.stderr
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_cli_many_sessions_at_once(tmp_path, session_dir):
    second = tmp_path / "second"
    shutil.copytree(session_dir, second)
    tl_file = tmp_path / "third.timeline.json"
    shutil.copy(session_dir / "timeline.json", tl_file)
    r = _cli(session_dir, second, tl_file, tmp_path / "missing", "-f", "json,rttm", "-o", tmp_path / "out")
    assert r.returncode == 1 and r.stderr.count("error:") == 1
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(f"{s}.{ext}" for s in (session_dir.name, "second", "third")
                           for ext in ("timeline.json", "rttm"))


def test_parse_formats():
    assert parse_formats("json, SRT,webvtt") == ["json", "srt", "vtt"]
    assert parse_formats(["all"]) == list(FORMATS)
    with pytest.raises(ExportError):
        parse_formats("json,xls")


# -- a real recording ------------------------------------------------------------------------------
@pytest.mark.slow
def test_every_format_from_a_real_recording(shared_audio, tmp_path):
    """``attune analyze`` on the pyannote sample, then every format; the readable ones read back."""
    import srt
    from pyannote.database.util import load_rttm

    wav = shared_audio / "pyannote_sample" / "sample.wav"
    ana = tmp_path / "analysed"
    run = subprocess.run([str(Path(sys.executable).parent / "attune"), "analyze", str(wav), "--out", str(ana), "-q"],
                         capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr
    shutil.copy(wav, ana / "sample.wav")  # the audio beside its timeline, as attune review finds it
    out = tmp_path / "out"
    assert export_main([str(ana / "sample.timeline.json"), "-f", "all", "-o", str(out)]) == 0
    tl = Timeline.load(ana / "sample.timeline.json")
    _validate(json.loads((out / "sample.timeline.json").read_text()))
    subs = list(srt.parse((out / "sample.srt").read_text()))
    assert len(subs) == len(tl.utterances) > 5
    assert all(abs(s.start.total_seconds() - u.start) <= MS for s, u in zip(subs, sorted(
        tl.utterances, key=lambda u: (u.start, u.end)), strict=True))
    (ann,) = load_rttm(str(out / "sample.rttm")).values()
    assert len(ann) == sum(1 for t in tl.turns if t.end > t.start)
    assert abs(ann.get_timeline().extent().end - max(t.end for t in tl.turns)) <= MS
    import docx
    import pympi
    import soundfile as sf
    from praatio import textgrid
    from pypdf import PdfReader

    names = {s.label for s in tl.speakers}
    tg = textgrid.openTextgrid(str(out / "sample.TextGrid"), includeEmptyIntervals=False)
    assert names <= set(tg.tierNames)
    assert sum(len(tg.getTier(n).entries) for n in tg.tierNames if n not in ("bookmarks",)
               and not n.startswith("events")) == len(tl.utterances)
    eaf = pympi.Elan.Eaf(str(out / "sample.eaf"))
    assert names <= set(eaf.get_tier_names())
    assert sum(len(eaf.get_annotation_data_for_tier(n)) for n in eaf.get_tier_names()
               if not n.startswith(("events", "bookmarks"))) == len(tl.utterances)
    assert len(docx.Document(str(out / "sample.docx")).tables[0].rows) == len(tl.utterances) + 1
    assert "Session report" in PdfReader(str(out / "sample.report.pdf")).pages[0].extract_text()
    assert abs(sf.info(str(out / "sample.wav")).duration - tl.duration) < 0.01
    with open(out / "sample.labels.txt", encoding="utf-8") as f:
        assert sum(1 for _ in f) == len(tl.utterances) + len(tl.events)


# -- the dialog in the review window ---------------------------------------------------------------
def test_export_dialog_in_review_window(qtbot, session_dir, tmp_path):
    from PySide6.QtCore import Qt

    from ui.review_window import ReviewWindow

    session = tmp_path / session_dir.name  # a copy: the rename below must not reach the other tests
    shutil.copytree(session_dir, session)
    w = ReviewWindow(open_review(session))
    qtbot.addWidget(w)
    opened: list[Path] = []
    try:
        # as tests/test_review.py does: the window's decode job done before anything else (and before
        # the teardown, which must not meet a job still starting)
        qtbot.waitUntil(lambda: w.player.is_loaded, timeout=20000)
        w.rename_speaker(next(s.id for s in w.session.timeline().speakers if s.role == "client"), "Sam Client")
        dlg = w.open_export(out_dir=tmp_path / "exp", open_folder=opened.append, modal=False)
        qtbot.addWidget(dlg)
        assert set(dlg.format_boxes) == set(FORMATS)
        for fmt, cb in dlg.format_boxes.items():
            cb.setChecked(fmt in ("srt", "html", "wav"))
        assert dlg.wav_to.isEnabled()
        dlg.wav_from.setValue(10.0)
        dlg.wav_to.setValue(25.0)
        with qtbot.waitSignal(dlg.done, timeout=120000):
            qtbot.mouseClick(dlg.export_btn, Qt.MouseButton.LeftButton)
        assert opened == [tmp_path / "exp"]
        names = sorted(p.name for p in (tmp_path / "exp").iterdir())
        stem = session_dir.name
        assert names == sorted([f"{stem}.srt", f"{stem}.report.html", f"{stem}.wav"])
        assert "Sam Client:" in (tmp_path / "exp" / f"{stem}.srt").read_text(), "the rename just made"
        assert "Wrote 3 file(s)" in dlg.status.text()
        import soundfile as sf

        assert abs(sf.info(str(tmp_path / "exp" / f"{stem}.wav")).duration - 15.0) < 0.01, "the range chosen"
        dlg.deidentify.setChecked(True)
        assert not dlg.format_boxes["wav"].isEnabled() and not dlg.wav_from.isEnabled()
        dlg.open_after.setChecked(False)
        dlg.folder.setText(str(tmp_path / "deid"))
        with qtbot.waitSignal(dlg.done, timeout=120000):
            qtbot.mouseClick(dlg.export_btn, Qt.MouseButton.LeftButton)
        assert opened == [tmp_path / "exp"], "not opened again"
        srt_text = (tmp_path / "deid" / "session.srt").read_text()
        assert "Sam" not in srt_text and "Client:" in srt_text
        dlg.close()
    finally:
        w.shutdown()


# -- a session of the encrypted store ----------------------------------------------------------------
def test_store_session_by_id(session_dir, tmp_path):
    """A session of the encrypted store (issue 13), named by its id: its encrypted timeline, notes and
    audio are exported like a folder's (the audio decrypted a slice at a time)."""
    import soundfile as sf

    from app.review_session import TIMELINE_ROLE
    from tests.store_util import open_test_store

    store = open_test_store()
    s = store.create_session({"client": "C-1"})
    s.write_json(TIMELINE_ROLE, Timeline.load(session_dir / "timeline.json").to_dict())
    audio, sr = sf.read(str(session_dir / "audio.wav"), dtype="float32")
    w = s.audio_writer(sample_rate=sr)
    w.write(audio)
    w.close()
    sid = s.dir.name
    review = open_review(sid)
    review.add_note(12.0, "stored note")
    assert export_main([sid, "-f", "json,wav", "-o", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / f"{sid}.timeline.json").read_text())
    _validate(doc)
    assert [n["text"] for n in doc["notes"]] == ["stored note"]
    info = sf.info(str(tmp_path / f"{sid}.wav"))
    assert info.samplerate == sr and abs(info.frames - len(audio)) <= 1
    from app.unlock import app_store

    exports = [e for e in app_store().audit_entries() if e.get("action") == "export"]
    assert exports and exports[-1].get("session") == sid, exports  # audited: who took what out, when


def test_store_session_export_honours_passphrase_file(session_dir, tmp_path, capsys, monkeypatch):
    """`attune export ID --passphrase-file F` unlocks with F: a wrong passphrase is one line and exit 1,
    nothing written."""
    from app.review_session import TIMELINE_ROLE
    from app.unlock import set_app_store
    from tests.store_util import open_test_store

    store = open_test_store()
    s = store.create_session({"client": "C-2"})
    s.write_json(TIMELINE_ROLE, Timeline.load(session_dir / "timeline.json").to_dict())
    set_app_store(None)
    monkeypatch.delenv("ATTUNE_PASSPHRASE", raising=False)
    wrong = tmp_path / "pw"
    wrong.write_text("not the passphrase at all\n")
    out = tmp_path / "out"
    assert export_main([s.dir.name, "-f", "json", "-o", str(out), "--passphrase-file", str(wrong)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "passphrase" in err[0].lower(), err
    assert not list(out.glob("*.json"))
