"""The supervision report: one self-contained HTML page (Jinja2, autoescaped) and the same page as an A4
PDF (WeasyPrint). Session facts, each cue's figures with a plain-language explanation and the part of
building trust it relates to (docs/cues.md), charts (matplotlib, embedded as ``data:`` SVG images, so
the page makes no request), notes and bookmarks; the transcript only when asked for.

The cues describe the conversation; they do not judge it. The report says so, and says what each
figure measures, never what it means about a person."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from analysis.atomic import atomic_write
from analysis.export import charts
from analysis.export.common import Prepared, clock, metric, out_files, prepare, spoken_lines
from analysis.timeline import Timeline

TRUST = {
    "power": ("Power dynamics",
              "The clinician holds “a position of authority”; a “collaborative partnership … where their "
              "voices and experiences are valued”, “actively seeking their feedback, encouraging their "
              "involvement”."),
    "listening": ("Active listening",
                  "“Giving my full attention to my clients and truly hearing what they are saying”, “without "
                  "judgment or interruption, allowing my clients to fully express themselves”, and "
                  "“paying attention to non-verbal cues, such as body language and tone of voice”."),
    "empathy": ("Empathy",
                "“To understand their unique perspectives and validate their emotions without judgment”; "
                "“when clients feel understood and supported, they are more likely to trust the "
                "therapeutic process and open up”."),
    "reflection": ("Continuous self-reflection",
                   "“To be aware of my own biases, limitations, and blind spots”: these figures are a mirror "
                   "for the clinician’s own review, not a score."),
}


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.0f} %"


def _sec(x: Any) -> str:
    if x is None:
        return "–"
    x = float(x)
    return f"{x:.1f} s" if abs(x) < 90 else clock(x)


def _num(x: Any, fmt: str = "{:.0f}") -> str:
    return "–" if x is None else fmt.format(float(x))


def _rel(x: Any, unit: str) -> str:
    return "–" if x is None else f"{float(x):+.1f} {unit}"


# cue -> (title, what it measures in plain words, trust themes, [(figure label, formatter of a speaker's
# metrics)])
CUES: list[tuple[str, str, tuple[str, ...], list[tuple[str, Any]]]] = [
    ("Talk time and share",
     "How much of the speaking time each person took (backchannels included). In a counselling session the "
     "client’s voice and experience usually take most of the room.",
     ("power",),
     [("talk time", lambda m: _sec(metric(m, "talk_time"))), ("share", lambda m: _pct(metric(m, "talk_share")))]),
    ("Turns and longest monologue",
     "How often each person took the floor, how long a turn usually lasted, and the longest stretch one "
     "person spoke without the other taking a turn. Long clinician monologues leave the client less room "
     "to fully express themselves.",
     ("power", "listening"),
     [("turns", lambda m: _num(metric(m, "turns"))), ("median turn", lambda m: _sec(metric(m, "median_turn"))),
      ("longest", lambda m: _sec(metric(m, "longest_monologue")))]),
    ("Interruptions",
     "One person started while the other was speaking, and the other stopped within 1.5 s and did not go "
     "on: the floor changed hands mid-sentence.",
     ("listening",),
     [("made", lambda m: _num(metric(m, "interruptions_made"))),
      ("received", lambda m: _num(metric(m, "interruptions_received")))]),
    ("Backchannels",
     "Short “mm-hmm”, “right”, “yeah” (1 s, 3 words at most) while the other person holds the floor: "
     "attention shown without taking the turn.",
     ("listening",),
     [("given", lambda m: _num(metric(m, "backchannels")))]),
    ("Overlaps",
     "Both speaking at once for 0.1 s or more, other than a backchannel or an interruption (for example "
     "both talking on).",
     ("listening",),
     [("started", lambda m: _num(metric(m, "overlaps_started")))]),
    ("Response latency and quick responses",
     "How long a person waited, once the other stopped, before taking their turn (median; negative: they "
     "started before the other had finished). A quick response starts within 0.2 s: “jumping in”.",
     ("listening",),
     [("median wait", lambda m: _sec(metric(m, "response_latency_median"))),
      ("quick", lambda m: _num(metric(m, "quick_responses")))]),
    ("Pace",
     "Words per minute of the person’s own speaking time, and against their own usual pace over the last "
     "5 minutes (1.0 = as usual). Needs a transcript.",
     ("listening",),
     [("words/min", lambda m: _num(metric(m, "wpm"))), ("vs usual", lambda m: _num(metric(m, "wpm_rel"), "{:.2f}×"))]),
    ("Tone of voice",
     "The voice, never emotions: the median pitch and how much it varies (in semitones), and loudness, each "
     "against the person’s own usual level over the last 5 minutes.",
     ("listening",),
     [("pitch vs usual", lambda m: _rel(metric(m, "pitch_median_rel_st"), "st")),
      ("variation vs usual", lambda m: _rel(metric(m, "pitch_variability_rel_st"), "st")),
      ("loudness vs usual", lambda m: _rel(metric(m, "loudness_rel_db"), "dB"))]),
    ("Questions and reflections",
     "Questions asked (open ones among them: what, how, tell me…) and reflections (“it sounds like…”, "
     "“you feel…”), found from the wording alone: a prompt, not a coding of the session. Needs a "
     "transcript.",
     ("empathy", "power"),
     [("questions", lambda m: _num(metric(m, "questions"))), ("open", lambda m: _num(metric(m, "open_questions"))),
      ("reflections", lambda m: _num(metric(m, "reflections")))]),
]

CHART_NOTES = {
    "talk_share": "Each person’s share of all speaking time.",
    "talk_over_time": "Each person’s share of the time in each stretch of the session; the gap to 100 % is "
                      "silence (and the overlap of both speaking).",
    "timeline": "A lane per person, one bar per turn; cue events below; grey bands are silences of 3 s or "
                "more, dotted lines the bookmarks and notes.",
    "pace_pitch": "Each point is one floor turn (in a long session, the median of the turns in a few minutes). "
                  "Pace needs a transcript; pitch is in semitones above 100 Hz (12 st = 200 Hz).",
    "events": "Each mark is one event, at its start; the number at the right counts them.",
}


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def report_context(p: Prepared, *, title: str | None, include_transcript: bool,
                   facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    t = p.timeline
    s = t.metrics.session
    col = charts.speaker_colours(p)
    people = [{"name": p.name(sp.id), "colour": col[sp.id],
               "role": "" if (sp.role or "") == p.name(sp.id).split()[0].lower() else (sp.role or "role not set")}
              for sp in t.speakers]
    n_words = sum(len(u.words) or len(u.text.split()) for u in t.utterances)
    fact_rows = [("Length", clock(t.duration)),
                 ("Speech", f"{clock(metric(s, 'speech_time') or 0)} ({_pct((metric(s, 'speech_time') or 0) / t.duration if t.duration else None)})"),
                 ("Silences of 3 s or more", f"{_num(metric(s, 'silences'))}, {clock(metric(s, 'silence_time') or 0)} without speech in all"),
                 ("Interruptions", _num(metric(s, "interruptions"))),
                 ("Backchannels", _num(metric(s, "backchannels"))),
                 ("Overlaps", f"{_num(metric(s, 'overlaps'))} ({_sec(metric(s, 'overlap_time'))})"),
                 ("Transcript", f"{len(t.utterances)} utterances, {n_words} words" if t.utterances
                  else "none in this export")]
    for k, v in (facts or {}).items():
        fact_rows.append((str(k), str(v)))
    cues = []
    for name, explain, themes, figs in CUES:
        rows = [{"name": p.name(sp.id), "colour": col[sp.id],
                 "cells": [f(t.metrics.speakers.get(sp.id, {})) for _l, f in figs]} for sp in t.speakers]
        cues.append({"name": name, "explain": explain, "themes": [TRUST[k][0] for k in themes],
                     "labels": [lbl for lbl, _f in figs], "rows": rows})
    chart_list = []
    for key, heading, fn in charts.CHARTS:
        svg = charts.draw(fn, p)
        if svg:
            chart_list.append({"key": key, "title": heading, "src": _data_uri(svg), "note": CHART_NOTES.get(key, "")})
    transcript = [{"time": clock(st), "name": p.name(sp), "colour": col.get(sp, "#555"), "text": text}
                  for sp, st, _e, text in spoken_lines(p)] if include_transcript and t.utterances else []
    return {
        "title": "Session report" if p.deidentified or not title else f"Session report – {title}",
        "generated": dt.date.today().isoformat(),
        "version": t.provenance.get("version") or "",
        "deidentified": p.deidentified,
        "people": people,
        "facts": fact_rows,
        "cues": cues,
        "trust": [TRUST[k] for k in ("listening", "empathy", "power", "reflection")],
        "charts": chart_list,
        "notes": [{"time": clock(b.t), "kind": b.kind, "text": b.text, "category": b.category} for b in p.notes],
        "warnings": list(s.get("warnings") or []),
        "transcript": transcript,
        "transcript_asked": include_transcript,
        "has_words": bool(t.utterances),
    }


TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Attune {{ version }}">
<title>{{ title }}</title>
<style>
  @page { size: A4; margin: 16mm 15mm 18mm 15mm;
          @bottom-right { content: "page " counter(page) " of " counter(pages); font: 8pt "DejaVu Sans", sans-serif; color: #777; }
          @bottom-left { content: "{{ title }}{% if deidentified %} · de-identified{% endif %} · confidential"; font: 8pt "DejaVu Sans", sans-serif; color: #777; } }
  :root { color-scheme: light; }
  * { box-sizing: border-box; }
  body { font-family: "Segoe UI", "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt; line-height: 1.45;
         color: #1d2330; background: #f4f5f7; margin: 0; }
  main { max-width: 52rem; margin: 0 auto; background: #fff; padding: 2rem 2.4rem 2.4rem; }
  @media screen { main { margin: 1.5rem auto; box-shadow: 0 1px 4px rgba(0,0,0,.12); border-radius: 6px; } }
  @media print { body { background: #fff; font-size: 9.5pt; } main { max-width: none; padding: 0; } }
  h1 { font-size: 1.7em; margin: 0 0 .2em; color: #14305a; }
  h2 { font-size: 1.2em; margin: 1.6em 0 .5em; color: #14305a; border-bottom: 2px solid #dfe6f0; padding-bottom: .2em; }
  h3 { font-size: 1em; margin: 0 0 .25em; }
  p { margin: .35em 0 .6em; }
  .sub { color: #5a6472; margin: 0 0 1em; }
  .banner { background: #fff7e0; border-left: 4px solid #e0a800; padding: .5em .8em; margin: .8em 0; }
  .lead { background: #eef3fa; border-left: 4px solid #2563a8; padding: .6em .9em; margin: 1em 0; }
  table { border-collapse: collapse; width: 100%; margin: .4em 0 .8em; }
  th, td { text-align: left; padding: .28em .55em; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
  th { font-weight: 600; color: #3a4350; background: #f6f8fa; }
  td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
  .facts th { width: 38%; background: none; }
  .who { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .4em; vertical-align: -.05em; }
  .people { list-style: none; padding: 0; margin: .3em 0 0; display: flex; flex-wrap: wrap; gap: .3em 1.4em; }
  .role { color: #5a6472; }
  .cue { border: 1px solid #e3e6ea; border-radius: 6px; padding: .6em .9em .2em; margin: .55em 0; break-inside: avoid; page-break-inside: avoid; }
  .cue-body { margin: 0; }
  .cue-body > tbody > tr > td, .cue-body > tr > td { border: none; padding: 0; }
  .cue-body td.explain { width: 46%; padding-right: 1.2em; color: #333c48; font-size: .95em; }
  .cue-body td.figs table { margin: 0 0 .4em; font-size: .92em; }
  .cue-body td.figs th, .cue-body td.figs td { padding: .18em .45em; }
  .cue-body td.name { white-space: nowrap; }
  .tag { display: inline-block; font-size: .78em; background: #e6eefb; color: #1f4f8f; border-radius: 9px; padding: .05em .6em; margin-left: .4em; vertical-align: .1em; }
  figure { margin: .6em 0 1.2em; break-inside: avoid; page-break-inside: avoid; }
  figure img { width: 100%; height: auto; display: block; }
  figcaption { font-size: .85em; color: #5a6472; margin-top: .2em; }
  .trust dt { font-weight: 600; margin-top: .5em; }
  .trust dd { margin: .1em 0 .3em 1em; color: #333c48; }
  .notes td:first-child, .transcript td:first-child { white-space: nowrap; color: #5a6472; width: 5.5em; }
  .transcript td:nth-child(2) { white-space: nowrap; font-weight: 600; width: 8em; }
  .muted { color: #6b7480; }
  footer { margin-top: 2em; font-size: .85em; color: #6b7480; border-top: 1px solid #e3e6ea; padding-top: .6em; }
</style>
</head>
<body>
<main>
<h1>{{ title }}</h1>
<p class="sub">Made by Attune{% if version %} {{ version }}{% endif %} on {{ generated }} for supervision and the clinician’s own review · confidential clinical material</p>
{% if deidentified %}<p class="banner"><strong>De-identified.</strong> People are named by role only; names, places, dates and numbers in the transcript and notes are replaced by tags; the source file’s name and details are left out.</p>{% endif %}
<p class="lead">These figures <strong>describe</strong> the conversation; they do not judge it. Each comes from who spoke when{% if has_words %} and what was said{% endif %}, measured by the machine and corrected in review where the clinician did. The tone figures describe the voice, never emotions. Read them beside the recording and your own memory of the session.</p>

<h2>The session</h2>
<ul class="people">{% for p in people %}<li><span class="who" style="background: {{ p.colour }}"></span><strong>{{ p.name }}</strong>{% if p.role %} <span class="role">({{ p.role }})</span>{% endif %}</li>{% endfor %}</ul>
<table class="facts">
{% for k, v in facts %}<tr><th scope="row">{{ k }}</th><td>{{ v }}</td></tr>
{% endfor %}</table>
{% if warnings %}<p class="banner">While measuring: {% for w in warnings %}{{ w }}{% if not loop.last %}; {% endif %}{% endfor %}</p>{% endif %}

<h2>Charts</h2>
{% for c in charts %}<figure id="chart-{{ c.key }}">
<h3>{{ c.title }}</h3>
<img src="{{ c.src }}" alt="{{ c.title }}">
<figcaption>{{ c.note }}</figcaption>
</figure>
{% else %}<p class="muted">No speech was found, so there is nothing to chart.</p>{% endfor %}

<h2>The cues, and what they measure</h2>
{% for c in cues %}<section class="cue">
<h3>{{ c.name }}{% for t in c.themes %}<span class="tag">{{ t }}</span>{% endfor %}</h3>
<table class="cue-body"><tr><td class="explain">{{ c.explain }}</td><td class="figs">
<table>
<tr><th></th>{% for l in c.labels %}<th class="num">{{ l }}</th>{% endfor %}</tr>
{% for r in c.rows %}<tr><td class="name"><span class="who" style="background: {{ r.colour }}"></span>{{ r.name }}</td>{% for v in r.cells %}<td class="num">{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table>
</td></tr></table>
</section>
{% endfor %}

<h2>The parts of building trust these cues relate to</h2>
<dl class="trust">
{% for name, words in trust %}<dt>{{ name }}</dt><dd>{{ words }}</dd>
{% endfor %}</dl>

<h2>Notes and bookmarks</h2>
{% if notes %}<table class="notes">
<tr><th>time</th><th>kind</th><th>note</th></tr>
{% for n in notes %}<tr><td>{{ n.time }}</td><td>{{ n.kind }}{% if n.category %} · {{ n.category }}{% endif %}</td><td>{{ n.text or "—" }}</td></tr>
{% endfor %}</table>
{% else %}<p class="muted">No notes or bookmarks were made in review.</p>{% endif %}

{% if transcript_asked %}<h2>Transcript</h2>
{% if transcript %}<table class="transcript">
{% for u in transcript %}<tr><td>{{ u.time }}</td><td><span class="who" style="background: {{ u.colour }}"></span>{{ u.name }}</td><td>{{ u.text }}</td></tr>
{% endfor %}</table>
{% else %}<p class="muted">This export has no transcript.</p>{% endif %}{% endif %}

<footer>How each cue is computed, with its thresholds and measured accuracy: Attune’s docs/cues.md. Times are hours:minutes:seconds from the start of the recording.</footer>
</main>
</body>
</html>
"""


def render_html(tl: Timeline, notes=None, *, deidentify: bool = False, words: bool = True,
                include_transcript: bool = False, title: str | None = None,
                facts: Mapping[str, Any] | None = None, **_: object) -> str:
    """The report as one HTML page (the other options of :func:`analysis.export.export` are ignored)."""
    import jinja2

    p = prepare(tl, notes, deidentify=deidentify, words=words)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    return env.from_string(TEMPLATE).render(**report_context(p, title=title, include_transcript=include_transcript,
                                                             facts=None if deidentify else facts))


def write_html(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None, words: bool = True,
               include_transcript: bool = False, title: str | None = None,
               facts: Mapping[str, Any] | None = None, **_: object) -> list[Path]:
    path = out_files(out_path, ".report.html")
    html = render_html(tl, notes, deidentify=deidentify, words=words, include_transcript=include_transcript,
                       title=title, facts=facts)
    atomic_write(path, html.encode("utf-8"))
    return [path]


def write_pdf(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None, words: bool = True,
              include_transcript: bool = False, title: str | None = None,
              facts: Mapping[str, Any] | None = None, html: str | None = None, **_: object) -> list[Path]:
    """The report as an A4 PDF, rendered from the same HTML (``html``, when already rendered) by
    :func:`pdf_bytes`."""
    path = out_files(out_path, ".report.pdf")
    if html is None:
        html = render_html(tl, notes, deidentify=deidentify, words=words, include_transcript=include_transcript,
                           title=title, facts=facts)
    atomic_write(path, pdf_bytes(html))
    return [path]


def pdf_bytes(html: str) -> bytes:
    """The report's HTML as an A4 PDF, by WeasyPrint (no request: every image is a ``data:`` URI and no
    base URL is given). :mod:`analysis.export.pdf_process` runs it in a second process."""
    import weasyprint

    doc = weasyprint.HTML(string=html, url_fetcher=weasyprint.URLFetcher(allowed_protocols={"data"}))
    return doc.write_pdf()
