"""The report's charts, drawn with matplotlib (object API, Agg/SVG back end: no pyplot state, no
window) and returned as SVG text, so that the report embeds them and makes no request.

Every chart takes a :class:`~analysis.export.common.Prepared` session and returns ``None`` when it has
nothing to show (no turns, no pace figures, ...)."""

from __future__ import annotations

import io
import math
import statistics

from analysis.export.common import Prepared

PALETTE = ("#2563a8", "#d9731c", "#2f8a57", "#8a4fb8", "#b83a4b", "#5f6b7a")
EVENT_STYLE = {  # kind -> (label, colour, marker)
    "interruption": ("Interruptions", "#c0392b", "v"),
    "overlap": ("Overlaps", "#8e44ad", "x"),
    "quick_response": ("Quick responses", "#d68910", "|"),
    "backchannel": ("Backchannels", "#2e86c1", "."),
    "silence": ("Silences ≥ 3 s", "#7f8c8d", "s"),
}
WIDTH_IN = 7.0  # fits an A4 page between 16-mm margins at 100 %


def speaker_colours(p: Prepared) -> dict[str, str]:
    return {s.id: PALETTE[i % len(PALETTE)] for i, s in enumerate(p.timeline.speakers)}


RC = {"svg.fonttype": "none", "font.family": "DejaVu Sans", "svg.hashsalt": "attune"}
RASTER_DPI = 200  # the resolution of the rasterized bars and marks inside the SVG (print quality)


def _figure(height: float):
    """A figure whose SVG keeps text as text and draws its many bars and marks as one embedded image
    each (``rasterized``): a 90-minute session's thousand turns stay a few SVG elements, quick to
    draw in the browser and in the PDF."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height), dpi=100)
    fig.patch.set_facecolor("white")
    return fig


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8, colors="#333333")
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def _svg(fig) -> str:
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(fig)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", dpi=RASTER_DPI, metadata={"Date": None, "Creator": None})
    return buf.getvalue()


def time_axis(ax, duration: float) -> None:
    """Minutes on the x axis (m:ss for sessions under 3 minutes)."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    ax.set_xlim(0, max(duration, 1.0))
    if duration < 180:
        step = next(x for x in (5, 10, 15, 30, 60) if duration / x <= 12)
        ax.xaxis.set_major_locator(MultipleLocator(step))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{int(x) // 60}:{int(x) % 60:02d}"))
        ax.set_xlabel("time (m:ss)", fontsize=8)
    else:
        step = next((x for x in (1, 2, 5, 10, 15, 30, 60, 120) if duration / (60 * x) <= 12), 240)
        ax.xaxis.set_major_locator(MultipleLocator(60 * step))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x / 60:.0f}"))
        ax.set_xlabel("time (minutes)", fontsize=8)


def talk_share(p: Prepared) -> str | None:
    """One horizontal bar split by each speaker's share of the talk time."""
    m = p.timeline.metrics.speakers
    shares = [(s.id, float(m.get(s.id, {}).get("talk_share") or 0.0)) for s in p.timeline.speakers]
    if not any(v for _s, v in shares):
        return None
    col = speaker_colours(p)
    fig = _figure(0.9)
    ax = fig.add_subplot()
    left = 0.0
    for sp, v in shares:
        ax.barh(0, v, left=left, color=col[sp], height=0.6, edgecolor="white")
        if v >= 0.08:
            ax.text(left + v / 2, 0, f"{p.name(sp)}  {100 * v:.0f} %", ha="center", va="center", color="white",
                    fontsize=9, fontweight="bold")
        left += v
    ax.set_xlim(0, 1)
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(_percent())
    _style(ax)
    ax.spines["left"].set_visible(False)
    return _svg(fig)


def _bin_width(duration: float) -> float:
    """About 20 bins, rounded to a readable width (10 s .. 10 min)."""
    raw = max(duration / 20, 10.0)
    for w in (10, 15, 30, 60, 120, 180, 300, 600):
        if raw <= w:
            return float(w)
    return 600.0


def talk_over_time(p: Prepared) -> str | None:
    """Each speaker's share of the speech in each time bin (stacked bars); silence is the gap to 100 %."""
    import numpy as np

    t = p.timeline
    if not t.turns or t.duration <= 0:
        return None
    w = _bin_width(t.duration)
    n = max(1, math.ceil(t.duration / w))
    edges = np.arange(n + 1) * w
    col = speaker_colours(p)
    fig = _figure(1.7)
    ax = fig.add_subplot()
    fracs = []
    for s in t.speakers:
        secs = np.zeros(n)
        for tr in t.turns:
            if tr.speaker != s.id:
                continue
            for i in range(int(tr.start // w), min(n, int(tr.end // w) + 1)):
                secs[i] += max(0.0, min(tr.end, edges[i + 1]) - max(tr.start, edges[i]))
        widths = np.minimum(edges[1:], t.duration) - edges[:-1]
        fracs.append(np.divide(secs, widths, out=np.zeros(n), where=widths > 0))
    total = np.sum(fracs, axis=0)
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-9), 1.0)  # both speaking: shares of the bin
    bottom = np.zeros(n)
    for s, frac in zip(t.speakers, fracs, strict=True):
        ax.bar(edges[:-1], frac * scale, width=w * 0.92, bottom=bottom, align="edge", color=col[s.id],
               label=p.name(s.id))
        bottom = bottom + frac * scale
    ax.set_ylim(0, 1.0)
    ax.yaxis.set_major_formatter(_percent())
    ax.set_ylabel("share of the time", fontsize=8)
    time_axis(ax, t.duration)
    _style(ax)
    ax.legend(fontsize=8, frameon=False, ncol=min(4, len(t.speakers)), loc="lower left", bbox_to_anchor=(0, 1.0))
    return _svg(fig)


def speaking_timeline(p: Prepared) -> str | None:
    """A lane per speaker with their turns, cue events beneath and the bookmarks as thin lines."""
    t = p.timeline
    if not t.turns:
        return None
    col = speaker_colours(p)
    speakers = list(t.speakers)
    fig = _figure(0.55 * len(speakers) + 1.2)
    ax = fig.add_subplot()
    labels = []
    for i, s in enumerate(speakers):
        y = len(speakers) - i
        spans = [(tr.start, tr.end - tr.start) for tr in t.turns if tr.speaker == s.id and tr.end > tr.start]
        ax.broken_barh(spans, (y - 0.35, 0.7), facecolors=col[s.id], rasterized=len(spans) > 60)
        labels.append((y, p.name(s.id)))
    kinds = [k for k in EVENT_STYLE if any(e.kind == k for e in t.events)]
    for e in t.events:
        if e.kind == "silence":
            ax.axvspan(e.start, e.end, color="#7f8c8d", alpha=0.12, lw=0, rasterized=len(t.events) > 60)
    for k in kinds:
        if k == "silence":
            continue
        label, c, mk = EVENT_STYLE[k]
        xs = [e.start for e in t.events if e.kind == k]
        ax.plot(xs, [0.15] * len(xs), linestyle="none", marker=mk, color=c, markersize=6, label=label,
                rasterized=len(xs) > 60)
    for b in p.notes:
        ax.axvline(b.t, color="#111111", linewidth=0.7, linestyle=":")
    labels.append((0.15, "cue events"))
    ax.set_yticks([y for y, _l in labels], [name for _y, name in labels], fontsize=8)
    ax.set_ylim(-0.3, len(speakers) + 0.6)
    time_axis(ax, t.duration)
    _style(ax)
    handles, names = ax.get_legend_handles_labels()
    if any(e.kind == "silence" for e in t.events):
        from matplotlib.patches import Patch

        handles.append(Patch(color="#7f8c8d", alpha=0.25))
        names.append("silence")
    if p.notes:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="#111111", linewidth=0.7, linestyle=":"))
        names.append("bookmark / note")
    if handles:
        ax.legend(handles, names, fontsize=7.5, frameon=False, ncol=6, loc="lower left", bbox_to_anchor=(0, 1.0))
    return _svg(fig)


def pace_and_pitch(p: Prepared) -> str | None:
    """Per floor turn (in a long session, the median over each few minutes): words per minute, and median
    pitch (semitones re 100 Hz), each speaker a line."""
    rows = list(p.timeline.metrics.session.get("turn_cues") or [])
    has_wpm = any(r.get("wpm") is not None for r in rows)
    has_pitch = any(r.get("pitch_median_st") is not None for r in rows)
    if not (has_wpm or has_pitch):
        return None
    col = speaker_colours(p)
    panels = [k for k, ok in (("wpm", has_wpm), ("pitch_median_st", has_pitch)) if ok]
    fig = _figure(1.8 * len(panels) + 0.3)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    ylabels = {"wpm": "pace (words/min)", "pitch_median_st": "pitch (st re 100 Hz)"}
    binned = len(rows) > 80  # a long session: the median of each few minutes, not every turn
    w = _bin_width(p.timeline.duration)
    for ax, key in zip(axes, panels, strict=True):
        for s in p.timeline.speakers:
            pts = [((r["start"] + r["end"]) / 2, r[key]) for r in rows
                   if r.get("speaker") == s.id and r.get(key) is not None]
            if pts and binned:
                groups: dict[int, list[float]] = {}
                for x, y in pts:
                    groups.setdefault(int(x // w), []).append(y)
                pts = [((i + 0.5) * w, float(statistics.median(v))) for i, v in sorted(groups.items())]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.1, color=col.get(s.id, "#555"),
                        label=p.name(s.id), rasterized=len(xs) > 60)
        ax.set_ylabel(ylabels[key], fontsize=8)
        _style(ax)
        ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    time_axis(axes[-1], p.timeline.duration)
    axes[0].legend(fontsize=8, frameon=False, ncol=4, loc="lower left", bbox_to_anchor=(0, 1.0))
    return _svg(fig)


def events_over_time(p: Prepared) -> str | None:
    """Interruptions, overlaps, quick responses, backchannels and silences: a row per kind, one mark per
    event (silences as their length)."""
    t = p.timeline
    kinds = [k for k in EVENT_STYLE if any(e.kind == k for e in t.events)]
    if not kinds:
        return None
    fig = _figure(0.38 * len(kinds) + 0.8)
    ax = fig.add_subplot()
    for i, k in enumerate(kinds):
        label, c, mk = EVENT_STYLE[k]
        y = len(kinds) - i
        ev = [e for e in t.events if e.kind == k]
        if k == "silence":
            ax.broken_barh([(e.start, max(e.end - e.start, t.duration / 800)) for e in ev], (y - 0.25, 0.5),
                           facecolors=c, rasterized=len(ev) > 60)
        else:
            ax.plot([e.start for e in ev], [y] * len(ev), linestyle="none", marker=mk, color=c, markersize=7,
                    rasterized=len(ev) > 60)
        ax.text(1.005, y, f" {len(ev)}", transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    ax.set_yticks([len(kinds) - i for i in range(len(kinds))], [EVENT_STYLE[k][0] for k in kinds], fontsize=8)
    ax.set_ylim(0.4, len(kinds) + 0.6)
    time_axis(ax, t.duration)
    _style(ax)
    return _svg(fig)


CHARTS = (
    ("talk_share", "Talk share", talk_share),
    ("talk_over_time", "Talk share over time", talk_over_time),
    ("timeline", "Who spoke when", speaking_timeline),
    ("pace_pitch", "Pace and pitch over time", pace_and_pitch),
    ("events", "Interruptions, overlaps and silences", events_over_time),
)


def draw(fn, p: Prepared) -> str | None:
    """One chart of :data:`CHARTS` as SVG text, in the report's style (text kept as text)."""
    import matplotlib

    with matplotlib.rc_context(RC):
        return fn(p)
