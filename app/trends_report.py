"""The export of the library's trends (issue 16): the listed sessions' figures as CSV, and a trends report in
the style of the session report (:mod:`analysis.export.report`): one self-contained HTML page (its charts
embedded as ``data:`` SVG images, so it makes no request) and the same page as an A4 PDF.

For each cue with figures: a chart of the cue over the sessions (matplotlib, drawn with the session
report's chart helpers), the range the literature gives where there is one (shaded and cited), the
clinician's goal (a dashed line, "goal met in k of n sessions") and the plain-language sentence of what
changed (:func:`app.library.summarize`). Then the sessions' table. No words of any session: only the
figures of the encrypted index, the dates, client pseudonyms, clinicians and tags.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from analysis.atomic import atomic_write
from analysis.export import charts, report
from app import library

FORMATS = ("csv", "html", "pdf")
TABLE_MAX = 80  # sessions listed one by one in the report; more are in the CSV (a long table is slow to lay out)
STEM = "attune-trends"
SUFFIX = {"csv": ".csv", "html": ".report.html", "pdf": ".report.pdf"}


def parse_formats(text: str | Iterable[str]) -> list[str]:
    """``"csv,html"`` -> ``["csv", "html"]``; ValueError naming an unknown format."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for f in (str(x).strip().lower() for x in items):
        if not f:
            continue
        if f not in FORMATS:
            raise ValueError(f"unknown trends format {f!r} (known: {', '.join(FORMATS)})")
        if f not in out:
            out.append(f)
    if not out:
        raise ValueError(f"no format given (known: {', '.join(FORMATS)})")
    return out


def scope_text(filters: Mapping[str, Any]) -> str:
    """The filters in words: "clinician Dr Lee · client C-01 · tag intake · from 2026-09-01 to 2026-11-30"."""
    parts = []
    for key in ("clinician", "client", "tag"):
        if filters.get(key):
            parts.append(f"{key} {filters[key]}")
    since, until = filters.get("since"), filters.get("until")
    if since or until:
        parts.append(" ".join(x for x in (f"from {since}" if since else "", f"to {until}" if until else "") if x))
    return " · ".join(parts) if parts else "all sessions"


# -- the charts ------------------------------------------------------------------------------------
def trend_chart(rows: Sequence[library.Row], key: str, goal=None) -> str | None:
    """One cue over the sessions as SVG text (None when no session has it): the values at their dates,
    the literature's range shaded and labelled, the goal as a dashed line."""
    import matplotlib
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    xs, ys = library.series(rows, key)
    if not ys:
        return None
    fig_ = library.FIGURE_BY_KEY[key]
    when = [dt.datetime.fromtimestamp(x, dt.UTC) for x in xs]
    bands = library.BANDS.get(key, ())
    with matplotlib.rc_context(charts.RC):
        fig = charts._figure(2.1)
        ax = fig.add_subplot()
        top = max([*ys, *(b.low for b in bands), goal.target if goal else 0.0]) * 1.2 or 1.0
        for n, b in enumerate(bands):
            ax.axhspan(b.low, b.high if b.high is not None else top, color=charts.PALETTE[2],
                       alpha=0.10 + 0.08 * n, linewidth=0)
            ax.text(0.005, b.low, f" {b.label}", transform=ax.get_yaxis_transform(), fontsize=7,
                    color="#2f6b45", va="bottom")
        if goal is not None:
            ax.axhline(goal.target, color="#5f6b7a", linestyle="--", linewidth=1)
            ax.text(0.995, goal.target, f"goal: {goal.text} ", transform=ax.get_yaxis_transform(), fontsize=7,
                    color="#5f6b7a", ha="right", va="bottom")
        ax.plot(when, ys, color=charts.PALETTE[0], marker="o", markersize=4 if len(ys) <= 60 else 2, linewidth=1.5,
                rasterized=len(ys) > 60)  # hundreds of marks: one image in the SVG, quick to draw (as the report does)
        ax.set_ylim(min(0.0, min(ys) * 1.2), top)
        ax.set_ylabel(fig_.label + (f" ({fig_.unit})" if fig_.unit else ""), fontsize=8)
        locator = AutoDateLocator(minticks=2, maxticks=7)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        if len(when) == 1:
            ax.set_xlim(when[0] - dt.timedelta(days=7), when[0] + dt.timedelta(days=7))
        charts._style(ax)
        ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
        return charts._svg(fig)


# -- the report ------------------------------------------------------------------------------------
def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    text = f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    return f"{text} {unit}".strip() if unit in ("%", "s", "/h") else text


def trends_context(rows: Sequence[library.Row], *, scope: str = "all sessions", goals: Iterable = (),
                   version: str = "") -> dict[str, Any]:
    from app.goals import sessions_meeting

    goal_of = {g.figure: g for g in goals}
    cues = []
    for f in library.FIGURES:
        xs, ys = library.series(rows, f.key)
        if not ys:
            continue
        goal = goal_of.get(f.key)
        svg = trend_chart(rows, f.key, goal)
        bands = library.BANDS.get(f.key, ())
        cues.append({
            "key": f.key, "label": f.label, "unit": f.unit, "n": len(ys),
            "first": _fmt(ys[0], f.unit), "latest": _fmt(ys[-1], f.unit), "mean": _fmt(statistics.mean(ys), f.unit),
            "summary": library.summarize(rows, f.key),
            "ranges": [f"{b.label}: {_fmt(b.low, '')}" + (f" to {_fmt(b.high, '')}" if b.high is not None else " or more")
                       for b in bands],
            "citation": bands[0].citation if bands else "",
            "goal": f"{goal.text}: {sessions_meeting(goal, ys)}" if goal else "",
            "src": report._data_uri(svg) if svg else "",
        })
    dated = [r.when for r in rows if r.when]
    shown = [f for f in library.FIGURES if any(r.figures.get(f.key) is not None for r in rows)]
    table = [{"date": r.when.astimezone().strftime("%Y-%m-%d") if r.when else "?", "client": r.client or "–",
              "clinician": r.clinician or "–", "tags": ", ".join(r.tags),
              "cells": [_fmt(r.figures.get(f.key), "") for f in shown]} for r in rows] if len(rows) <= TABLE_MAX else []
    return {
        "title": "Trends report", "version": version, "deidentified": False,
        "generated": dt.date.today().isoformat(), "scope": scope, "n": len(rows),
        "span": (f"{min(dated).astimezone():%Y-%m-%d} to {max(dated).astimezone():%Y-%m-%d}" if dated else ""),
        "cues": cues, "headings": [f.label + (f" ({f.unit})" if f.unit else "") for f in shown],
        "table": table,
    }


# the session report's page (its head: fonts, colours, A4 page, the same classes) with a body of our own
_HEAD = report.TEMPLATE[:report.TEMPLATE.index("<body>")]
TEMPLATE = _HEAD + r"""<body>
<main>
<h1>{{ title }}</h1>
<p class="sub">Made by Attune{% if version %} {{ version }}{% endif %} on {{ generated }} for supervision and the clinician’s own review · confidential clinical material</p>
<p class="lead">These figures <strong>describe</strong> conversations; they do not judge them. Each comes from who spoke when (and, with a transcript, what was said) in each session, measured by the machine. A change over sessions is a prompt for reflection, not a score.</p>

<h2>The sessions</h2>
<table class="facts">
<tr><th scope="row">Sessions</th><td>{{ n }}{% if span %}, {{ span }}{% endif %}</td></tr>
<tr><th scope="row">Which</th><td>{{ scope }}</td></tr>
</table>

<h2>Each cue over the sessions</h2>
{% for c in cues %}<section class="cue" id="cue-{{ c.key }}">
<h3>{{ c.label }}{% if c.unit %} ({{ c.unit }}){% endif %}{% if c.citation %}<span class="tag">literature range</span>{% endif %}{% if c.goal %}<span class="tag">goal</span>{% endif %}</h3>
{% if c.src %}<figure><img src="{{ c.src }}" alt="{{ c.label }} over the sessions"></figure>{% endif %}
<p>{{ c.summary }}</p>
<p class="muted">{{ c.n }} session(s) · first {{ c.first }} · latest {{ c.latest }} · mean {{ c.mean }}</p>
{% if c.goal %}<p><strong>Your goal</strong>: {{ c.goal }}.</p>{% endif %}
{% if c.citation %}<p class="muted">Ranges: {{ c.ranges | join("; ") }}. {{ c.citation }}.</p>{% endif %}
</section>
{% else %}<p class="muted">No session in this selection has figures yet.</p>{% endfor %}

<h2>The figures of each session</h2>
{% if not table and n %}<p class="muted">{{ n }} sessions: their figures are in the CSV export (attune-trends.csv), one line each.</p>{% else %}
<table style="font-size: .8em">
<tr><th>date</th><th>client</th><th>clinician</th><th>tags</th>{% for h in headings %}<th class="num">{{ h }}</th>{% endfor %}</tr>
{% for r in table %}<tr><td>{{ r.date }}</td><td>{{ r.client }}</td><td>{{ r.clinician }}</td><td>{{ r.tags }}</td>{% for v in r.cells %}<td class="num">{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endif %}

<footer>How each cue is computed, with its thresholds and measured accuracy: Attune’s docs/cues.md. The literature’s ranges are drawn only where a published range exists; none is a norm for a single session.</footer>
</main>
</body>
</html>
"""


def render_html(rows: Sequence[library.Row], *, scope: str = "all sessions", goals: Iterable = (),
                version: str = "") -> str:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(**trends_context(rows, scope=scope, goals=goals, version=version))


def write_trends(rows: Sequence[library.Row], out_dir: str | Path, formats: Iterable[str] = ("csv", "html"), *,
                 scope: str = "all sessions", goals: Iterable = (), stem: str = STEM) -> list[Path]:
    """Write the trends of ``rows`` (oldest first) into ``out_dir`` in each format; returns the files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    formats = parse_formats(formats)
    goals = tuple(goals)
    written: list[Path] = []
    html = None
    for f in formats:
        path = out / f"{stem}{SUFFIX[f]}"
        if f == "csv":
            atomic_write(path, library.trends_csv(rows).encode("utf-8"))
        else:
            if html is None:
                html = render_html(rows, scope=scope, goals=goals, version=_version())
            if f == "html":
                atomic_write(path, html.encode("utf-8"))
            else:  # the session report's PDF route: the same HTML through WeasyPrint, data: URIs only
                path = report.write_pdf(None, path, html=html)[0]
        written.append(path)
    return written


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("attune")
    except Exception:
        return ""
