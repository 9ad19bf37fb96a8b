"""The session library and its trends (issue 16), without Qt: each session's headline figures, filters,
each cue's series over sessions and a plain-language sentence on what changed.

The figures live in each session's description (``meta["metrics"]``, which the store's encrypted index
copies), so listing hundreds of sessions reads the index only. A session recorded before the figures
existed gets them computed once from its timeline and written back (:func:`ensure_figures`).

Figures are the therapist's where the roles are known (an enrolled voice); without roles the
per-speaker figures are left empty rather than guessed, and the session-wide ones (interruptions,
silences) count everyone.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FIGURES_VERSION = 1


@dataclass(frozen=True)
class Figure:
    key: str
    label: str  # column heading
    unit: str  # "%", "/h", "s", ""
    noun: str  # for sentences: "talk share", "interruptions per hour"...
    lower_is_calmer: bool | None = None  # how a change reads; None: neither


FIGURES: tuple[Figure, ...] = (
    Figure("therapist_talk_share", "Therapist talk", "%", "your talk share"),
    Figure("client_talk_share", "Client talk", "%", "the client's talk share"),
    Figure("interruptions_per_hour", "Interruptions", "/h", "interruptions per hour", True),
    Figure("response_latency_median", "Median latency", "s", "median response latency"),
    Figure("longest_monologue", "Longest monologue", "s", "longest monologue", True),
    Figure("silences", "Silences", "", "silences (3 s or more)"),
    Figure("questions", "Questions", "", "questions"),
    Figure("reflections", "Reflections", "", "reflections"),
    Figure("reflection_question_ratio", "Reflections : questions", "", "reflection-to-question ratio"),
)
FIGURE_BY_KEY = {f.key: f for f in FIGURES}


@dataclass(frozen=True)
class Band:
    """A range the literature gives for a figure, drawn on its trend chart."""

    low: float
    high: float | None
    label: str
    citation: str


# Only figures with a published, citable range get one; the others are drawn without.
BANDS: dict[str, tuple[Band, ...]] = {
    "reflection_question_ratio": (
        Band(1.0, 2.0, "MITI fair (1:1)", "Moyers, Manuel & Ernst (2014), Motivational Interviewing Treatment "
             "Integrity (MITI) Coding Manual 4.2.1: reflection-to-question ratio 1:1 fair, 2:1 good"),
        Band(2.0, None, "MITI good (2:1)", "Moyers, Manuel & Ernst (2014), MITI 4.2.1"),
    ),
}


# -- figures of one timeline ------------------------------------------------------------------------
def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def figures_from_timeline(timeline: Mapping[str, Any]) -> dict[str, Any]:
    """The library's figures of a timeline (its dict, as stored): see the module's description."""
    metrics = timeline.get("metrics") or {}
    session = metrics.get("session") or {}
    speakers = metrics.get("speakers") or {}
    roles = {sp.get("id"): sp.get("role") for sp in timeline.get("speakers") or () if isinstance(sp, Mapping)}
    therapist = next((sid for sid, r in roles.items() if r == "therapist"), None)
    clients = [sid for sid, r in roles.items() if r == "client"]
    duration = _num(timeline.get("duration")) or 0.0
    hours = duration / 3600 if duration > 0 else None
    out: dict[str, Any] = {"figures_v": FIGURES_VERSION}
    t = speakers.get(therapist) or {} if therapist else {}
    if therapist:
        out["therapist_talk_share"] = _pct(t.get("talk_share"))
        out["client_talk_share"] = _pct(sum(_num((speakers.get(c) or {}).get("talk_share")) or 0.0
                                            for c in clients)) if clients else None
        made = _num(t.get("interruptions_made"))
        out["interruptions_per_hour"] = round(made / hours, 2) if made is not None and hours else None
        out["response_latency_median"] = _num(t.get("response_latency_median"))
        out["longest_monologue"] = _num(t.get("longest_monologue"))
        out["questions"] = _num(t.get("questions"))
        out["reflections"] = _num(t.get("reflections"))
        out["reflection_question_ratio"] = _num(t.get("reflection_question_ratio"))
    else:  # roles unknown: the session-wide figures only
        n = _num(session.get("interruptions"))
        out["interruptions_per_hour"] = round(n / hours, 2) if n is not None and hours else None
        out["longest_monologue"] = max((m for m in (_num((s or {}).get("longest_monologue"))
                                                    for s in speakers.values()) if m is not None), default=None)
    out["silences"] = _num(session.get("silences"))
    return {k: v for k, v in out.items() if v is not None}


def _pct(share: Any) -> float | None:
    v = _num(share)
    return None if v is None else round(100 * v, 1)


def has_figures(metrics: Mapping[str, Any]) -> bool:
    return metrics.get("figures_v") == FIGURES_VERSION


def ensure_figures(store, summaries: Iterable) -> int:
    """Compute and store the figures of the sessions listed without them (from their timelines); returns
    how many were added. A session without a timeline (still recording, failed) is left as it is."""
    added = 0
    for s in summaries:
        if has_figures(s.metrics or {}):
            continue
        try:
            session = store.session(s.id)
            if not session.has("timeline", stream=False):
                continue
            figures = figures_from_timeline(session.read_json("timeline"))
            session.update(metrics={**dict(session.meta.get("metrics") or {}), **figures})
            added += 1
        except Exception:  # a damaged session: listed without figures
            continue
    return added


# -- rows, filters, sorting -------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    id: str
    when: dt.datetime | None
    client: str | None
    duration_s: float | None
    tags: tuple[str, ...]
    status: str | None
    figures: dict[str, Any] = field(default_factory=dict)
    clinician: str = ""  # the session's clinician; sessions that recorded none are the installation's own


def parse_time(iso: str | None) -> dt.datetime | None:
    if not iso:
        return None
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    return t if t.tzinfo else t.astimezone()


OWN_CLINICIAN = "Me (this installation)"  # the clinician of sessions that recorded none, when none is set


def own_clinician_label() -> str:
    """The name the library gives the installation's own clinician: the ``clinician`` setting, if set."""
    from app.store import own_clinician

    return own_clinician() or OWN_CLINICIAN


def rows_from_summaries(summaries: Iterable, own: str = OWN_CLINICIAN) -> list[Row]:
    """The library's rows of the index's summaries; a session without a clinician is ``own``'s."""
    rows = []
    for s in summaries:
        m = dict(s.metrics or {})
        rows.append(Row(s.id, parse_time(s.started_at), s.client, s.duration_s, tuple(s.tags), s.status,
                        {f.key: m[f.key] for f in FIGURES if _num(m.get(f.key)) is not None},
                        getattr(s, "clinician", None) or own))
    return sorted(rows, key=lambda r: (r.when is None, r.when or dt.datetime.min.replace(tzinfo=dt.UTC)),
                  reverse=False)


def load_rows(store) -> list[Row]:
    """The store's sessions with their figures (computing the missing ones once), oldest first."""
    summaries = store.list_sessions()
    if ensure_figures(store, summaries):
        summaries = store.list_sessions()
    return rows_from_summaries(summaries, own_clinician_label())


def filter_rows(rows: Sequence[Row], client: str | None = None, tag: str | None = None,
                since: dt.date | None = None, until: dt.date | None = None,
                clinician: str | None = None) -> list[Row]:
    """Rows of one client pseudonym, with one tag, within a date range (both ends included), of one
    clinician."""
    out = []
    for r in rows:
        if client and r.client != client:
            continue
        if clinician and r.clinician != clinician:
            continue
        if tag and tag not in r.tags:
            continue
        day = r.when.date() if r.when else None
        if (since or until) and day is None:
            continue
        if since and day < since or until and day > until:
            continue
        out.append(r)
    return out


def clients(rows: Iterable[Row]) -> list[str]:
    return sorted({r.client for r in rows if r.client})


def clinicians(rows: Iterable[Row]) -> list[str]:
    return sorted({r.clinician for r in rows if r.clinician})


def tags(rows: Iterable[Row]) -> list[str]:
    return sorted({t for r in rows for t in r.tags})


# -- trends -----------------------------------------------------------------------------------------
def series(rows: Sequence[Row], key: str) -> tuple[list[float], list[float]]:
    """(epoch seconds, values) of one figure over the dated sessions that have it, oldest first."""
    pts = sorted((r.when.timestamp(), float(r.figures[key])) for r in rows
                 if r.when is not None and _num(r.figures.get(key)) is not None)
    return [p[0] for p in pts], [p[1] for p in pts]


def _month(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%B %Y")


def _fmt(v: float, unit: str) -> str:
    if unit == "%":
        return f"{v:.0f} %"
    if unit == "s":
        return f"{v:.1f} s"
    if unit == "/h":
        return f"{v:.1f} per hour"
    return f"{v:.1f}" if v != int(v) else f"{v:.0f}"


def _change_words(old: float, new: float) -> str:
    """"about half", "about twice", "12 % more", "about the same"... of ``new`` against ``old``."""
    if old == 0:
        return "up from none" if new > 0 else "about the same"
    r = new / old
    for lo, hi, words in ((0.4, 0.6, "about half"), (0.28, 0.38, "about a third"), (1.8, 2.2, "about twice"),
                          (2.7, 3.3, "about three times"), (0.9, 1.1, "about the same")):
        if lo <= r <= hi:
            return words
    return f"{abs(r - 1) * 100:.0f} % {'more' if r > 1 else 'less'}"


def summarize(rows: Sequence[Row], key: str) -> str:
    """One plain sentence on how a figure changed: the latest month against the first month when the
    sessions span several months, else the later half of the sessions against the earlier half."""
    fig = FIGURE_BY_KEY[key]
    xs, ys = series(rows, key)
    if len(ys) < 2:
        return f"Not enough sessions with {fig.noun} yet to see a change (at least two are needed)."
    months: dict[str, list[float]] = {}
    for x, y in zip(xs, ys, strict=True):
        months.setdefault(_month(x), []).append(y)
    if len(months) >= 2:
        (m0, v0), (m1, v1) = list(months.items())[0], list(months.items())[-1]
        old, new = statistics.mean(v0), statistics.mean(v1)
        then, now = f"in {m0}", f"in {m1}"
    else:
        half = len(ys) // 2
        old, new = statistics.mean(ys[:half]), statistics.mean(ys[half:])
        then, now = f"in the first {half} session(s)", f"in the last {len(ys) - half}"
    words = _change_words(old, new)
    figures = f"({_fmt(new, fig.unit)} against {_fmt(old, fig.unit)})"
    if key == "interruptions_per_hour" and words.startswith("about ") and words != "about the same":
        text = f"You interrupted {words} as often {now} as {then} {figures}."
    elif words == "about the same":
        text = f"{fig.noun[0].upper()}{fig.noun[1:]} {now} was about the same as {then} {figures}."
    elif words.startswith("about "):
        text = f"{fig.noun[0].upper()}{fig.noun[1:]} {now} was {words} what it was {then} {figures}."
    else:
        text = f"{fig.noun[0].upper()}{fig.noun[1:]} {now} was {words} than {then} {figures}."
    band = band_note(key, new)
    return text + (f" {band}" if band else "")


def band_note(key: str, value: float) -> str:
    """Where ``value`` falls against the literature's range for this figure, if there is one."""
    bands = BANDS.get(key)
    if not bands:
        return ""
    if value < bands[0].low:
        return f"That is below the range the MITI calls fair (1:1; {bands[0].citation.split(':')[0]})."
    for b in reversed(bands):
        if value >= b.low:
            return f"That is in the range the MITI calls {b.label.split('(')[0].removeprefix('MITI ').strip()}."
    return ""


def trends_csv(rows: Sequence[Row]) -> str:
    """The figures of ``rows`` as CSV (date, client, clinician, length, tags, each figure), oldest first."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["session", "date", "client", "clinician", "minutes", "tags", *(f.key for f in FIGURES)])
    for r in rows:
        w.writerow([r.id, r.when.isoformat(timespec="minutes") if r.when else "", r.client or "", r.clinician,
                    "" if r.duration_s is None else f"{r.duration_s / 60:.1f}", ";".join(r.tags),
                    *("" if r.figures.get(f.key) is None else r.figures[f.key] for f in FIGURES)])
    return buf.getvalue()
