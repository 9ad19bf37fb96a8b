"""The review window's Summary tab (issue 14, point 7): the session's figures as small charts, each with
the plain-language explanation the supervision report gives (``analysis.export.report``: ``CUES`` and
``CHART_NOTES`` hold those texts, one place for each; ``docs/cues.md`` defines the figures).

Charts, drawn with QPainter from the (corrected) timeline, so they follow every correction at once:

- talk share overall (one bar, a segment per speaker) and over time (a column per stretch of the
  session, :func:`analysis.talk.talk_time` in each);
- interruptions made and received per speaker;
- response latency: each speaker's median and quartiles (the cue engine's figures), the quick-response
  threshold marked;
- pace and pitch over time, each floor turn against the speaker's own usual (``turn_cues``);
- questions, open questions and reflections per speaker.

Qt only for drawing; nothing here logs transcript text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from analysis.talk import talk_share, talk_time
from analysis.timeline import Timeline
from ui import theme as themes

CHART_H = 84
WIDE_PX = 760  # the panel shows two charts side by side from this width
TEXT_W = 130  # px right of the longest bar for its figure
PACE_PITCH_NOTE = ("Each point is one floor turn, against the speaker's own usual (the median of their turns "
                   "in this session: the dotted middle line); above the line: faster, higher.")
QUICK_S = 0.2  # drawn only: the quick-response threshold (analysis.cues.CueOptions.quick_response_s)


def explanations() -> dict[str, str]:
    """Each chart's explanation, from the report's texts (one place for each text)."""
    from analysis.export.report import CHART_NOTES, CUES

    cue = {name: text for name, text, _themes, _figs in CUES}
    return {
        "talk_share": f"{CHART_NOTES['talk_share']} {cue['Talk time and share']}",
        "talk_over_time": CHART_NOTES["talk_over_time"],
        "interruptions": cue["Interruptions"],
        "latency": cue["Response latency and quick responses"],
        "pace_pitch": f"{PACE_PITCH_NOTE} {cue['Pace']} {cue['Tone of voice']}",
        "questions": cue["Questions and reflections"],
    }


def speaker_colors(tl: Timeline, theme: themes.Theme) -> dict[str, QColor]:
    """Role colours; speakers without a role take the next of a few distinct theme colours."""
    spare = [theme.other, theme.cue, theme.nudge, theme.muted]
    out, k = {}, 0
    for sp in tl.speakers:
        if sp.role:
            out[sp.id] = theme.role_color(sp.role)
        else:
            out[sp.id] = QColor(spare[k % len(spare)])
            k += 1
    return out


def bin_width(duration: float) -> float:
    """A round stretch of time giving about 12-30 columns over the session."""
    for w in (10, 15, 30, 60, 120, 180, 300, 600, 900):
        if duration / w <= 30:
            return float(w)
    return 1800.0


def talk_over_time(tl: Timeline) -> tuple[float, list[dict[str, float]]]:
    """(bin width, [{speaker: share of that stretch's time}]) over the session."""
    w = bin_width(tl.duration)
    ids = [s.id for s in tl.speakers]
    out = []
    for i in range(max(1, math.ceil(tl.duration / w))):
        lo, hi = i * w, min(tl.duration, (i + 1) * w)
        talk = talk_time(tl.turns, lo, hi, speakers=ids)
        span = max(hi - lo, 1e-9)
        out.append({sp: talk.get(sp, 0.0) / span for sp in ids})
    return w, out


class Chart(QWidget):
    """One small chart; ``draw`` is set by :class:`SummaryPanel`. ``data`` keeps what was drawn (tests)."""

    def __init__(self, name: str, theme: themes.Theme, height: int = CHART_H) -> None:
        super().__init__()
        self.name = name
        self.theme = theme
        self.data: dict = {}
        self.draw = None
        self.setMinimumHeight(height)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.fillRect(self.rect(), QColor(self.theme.panel))
        f = p.font()
        f.setPointSize(themes.SMALL_PT - 1)
        p.setFont(f)
        if self.draw is not None and self.data:
            self.draw(p, QRectF(self.rect()).adjusted(6, 6, -6, -6))
        elif not self.data:
            p.setPen(QColor(self.theme.muted))
            p.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter, "no figures for this")
        p.end()


class SummaryPanel(QScrollArea):
    """The charts with their explanations, one under the other."""

    SECTIONS = (("talk_share", "Talk share", 44), ("talk_over_time", "Talk share over time", CHART_H),
                ("interruptions", "Interruptions made and received", CHART_H),
                ("latency", "Response latency", CHART_H),
                ("questions", "Questions and reflections", CHART_H),
                ("pace_pitch", "Pace and pitch against each speaker's usual", 2 * CHART_H))

    def __init__(self, theme: themes.Theme = themes.DARK, parent=None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self.grid = QGridLayout(body)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.grid.setHorizontalSpacing(14)
        self.grid.setVerticalSpacing(10)
        texts = explanations()
        self.charts: dict[str, Chart] = {}
        self.notes: dict[str, QLabel] = {}
        self.sections: list[QWidget] = []
        for key, title, h in self.SECTIONS:
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(3)
            head = QLabel(title)
            head.setStyleSheet("font-weight: bold")
            chart = Chart(key, theme, h)
            chart.draw = getattr(self, f"_draw_{key}")
            note = QLabel(texts[key])
            note.setWordWrap(True)
            note.setObjectName("status")
            lay.addWidget(head)
            lay.addWidget(chart)
            lay.addWidget(note)
            lay.addStretch(1)
            self.sections.append(box)
            self.charts[key], self.notes[key] = chart, note
        self.columns = 0
        self._layout(1)
        self.setWidget(body)
        self.tl: Timeline | None = None
        self.colors: dict[str, QColor] = {}
        self.names: dict[str, str] = {}

    def _layout(self, columns: int) -> None:
        """One column in a narrow panel, two side by side when there is room (WIDE_PX)."""
        if columns == self.columns:
            return
        self.columns = columns
        for box in self.sections:
            self.grid.removeWidget(box)
        for i, box in enumerate(self.sections):
            self.grid.addWidget(box, i // columns, i % columns)
        for c in range(2):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        self.grid.setRowStretch(len(self.sections), 1)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._layout(2 if self.viewport().width() >= WIDE_PX else 1)

    # -- data ----------------------------------------------------------------------------------
    def set_timeline(self, tl: Timeline) -> None:
        self.tl = tl
        self.colors = speaker_colors(tl, self.theme)
        self.names = {s.id: s.label for s in tl.speakers}
        ids = [s.id for s in tl.speakers]
        m = tl.metrics.speakers
        shares = talk_share(talk_time(tl.turns, speakers=ids))
        self.charts["talk_share"].data = {"share": shares} if any(shares.values()) else {}
        w, bins = talk_over_time(tl)
        self.charts["talk_over_time"].data = {"width": w, "bins": bins} if tl.turns else {}
        self.charts["interruptions"].data = {
            "made": {sp: int(m.get(sp, {}).get("interruptions_made") or 0) for sp in ids},
            "received": {sp: int(m.get(sp, {}).get("interruptions_received") or 0) for sp in ids}} if ids else {}
        lat = {sp: (m[sp].get("response_latency_p25"), m[sp].get("response_latency_median"),
                    m[sp].get("response_latency_p75"), m[sp].get("responses", 0))
               for sp in ids if sp in m and m[sp].get("response_latency_median") is not None}
        self.charts["latency"].data = {"latency": lat} if lat else {}
        rows = list((tl.metrics.session or {}).get("turn_cues") or [])
        series = {}
        for key in ("wpm_rel", "pitch_median_rel_st"):
            for sp in ids:
                pts = sorted(((r["start"] + r["end"]) / 2, float(r[key])) for r in rows
                             if r.get("speaker") == sp and isinstance(r.get(key), int | float))
                if key == "wpm_rel":
                    pts = [(t, math.log2(v)) for t, v in pts if v > 0]
                if pts:
                    series[key, sp] = pts
        self.charts["pace_pitch"].data = {"series": series} if series else {}
        q = {sp: (int(m.get(sp, {}).get("questions") or 0), int(m.get(sp, {}).get("open_questions") or 0),
                  int(m.get(sp, {}).get("reflections") or 0)) for sp in ids}
        self.charts["questions"].data = {"counts": q} if any(sum(v) for v in q.values()) else {}
        for c in self.charts.values():
            c.update()

    # -- drawing -------------------------------------------------------------------------------
    def _muted(self) -> QColor:
        return QColor(self.theme.muted)

    def _label(self, p: QPainter, r: QRectF, text: str, align=Qt.AlignmentFlag.AlignLeft) -> None:
        p.setPen(self._muted())
        p.drawText(r, align | Qt.AlignmentFlag.AlignVCenter, text)

    def _draw_talk_share(self, p: QPainter, r: QRectF) -> None:
        shares = self.charts["talk_share"].data["share"]
        x = r.left()
        bar = QRectF(r.left(), r.top(), r.width(), r.height() - 14)
        for sp, v in shares.items():
            w = bar.width() * v
            seg = QRectF(x, bar.top(), w, bar.height())
            p.fillRect(seg, self.colors.get(sp, self._muted()))
            if w > 60:
                p.setPen(QColor(self.theme.bg))
                p.drawText(seg, Qt.AlignmentFlag.AlignCenter, f"{self.names.get(sp, sp)[:12]} {100 * v:.0f}%")
            elif w > 24:
                p.setPen(QColor(self.theme.bg))
                p.drawText(seg, Qt.AlignmentFlag.AlignCenter, f"{100 * v:.0f}%")
            x += w
        self._legend(p, QRectF(r.left(), r.bottom() - 12, r.width(), 12), list(shares))

    def _legend(self, p: QPainter, r: QRectF, ids: Sequence[str]) -> None:
        x = r.left()
        for sp in ids:
            p.fillRect(QRectF(x, r.top() + 3, 8, 8), self.colors.get(sp, self._muted()))
            name = self.names.get(sp, sp)[:14]
            p.setPen(self._muted())
            p.drawText(QPointF(x + 11, r.bottom() - 1), name)
            x += 18 + p.fontMetrics().horizontalAdvance(name)

    def _axis_time(self, p: QPainter, r: QRectF) -> None:
        if self.tl is None:
            return
        d = self.tl.duration
        step = next((s for s in (60, 120, 300, 600, 900, 1800) if d / s <= 6), 3600)
        p.setPen(self._muted())
        t = 0.0
        while t <= d + 1e-6:
            x = r.left() + r.width() * t / d
            p.drawText(QRectF(x - 20, r.bottom() - 11, 40, 11), Qt.AlignmentFlag.AlignCenter, f"{int(t // 60)}m")
            t += step

    def _draw_talk_over_time(self, p: QPainter, r: QRectF) -> None:
        data = self.charts["talk_over_time"].data
        bins = data["bins"]
        plot = QRectF(r.left() + 40, r.top(), r.width() - 40, r.height() - 13)
        p.setPen(self._muted())
        p.drawText(QRectF(r.left(), plot.top() - 2, 36, 12), Qt.AlignmentFlag.AlignRight, "100%")
        p.drawText(QRectF(r.left(), plot.bottom() - 10, 36, 12), Qt.AlignmentFlag.AlignRight, "0")
        bw = plot.width() / len(bins)
        for i, b in enumerate(bins):
            y = plot.bottom()
            for sp, v in b.items():
                h = plot.height() * min(1.0, v)
                p.fillRect(QRectF(plot.left() + i * bw + 1, y - h, max(1.0, bw - 2), h), self.colors.get(sp, self._muted()))
                y -= h
        self._axis_time(p, QRectF(plot.left(), r.top(), plot.width(), r.height()))

    def _hbars(self, p: QPainter, r: QRectF, rows: list[tuple[str, list[tuple[float, QColor, str]]]]) -> None:
        """Rows of grouped horizontal bars: (row label, [(value, colour, value label)])."""
        top = max((v for _l, bars in rows for v, _c, _t in bars), default=0) or 1
        label_w = 92
        row_h = r.height() / max(1, len(rows))
        for i, (label, bars) in enumerate(rows):
            y = r.top() + i * row_h
            self._label(p, QRectF(r.left(), y, label_w - 4, row_h), label[:14])
            bh = max(3.0, (row_h - 4) / max(1, len(bars)))
            for k, (v, color, text) in enumerate(bars):
                w = (r.width() - label_w - TEXT_W) * v / top
                rect = QRectF(r.left() + label_w, y + 2 + k * bh, max(1.0, w), bh - 1)
                p.fillRect(rect, color)
                p.setPen(self._muted())
                p.drawText(QRectF(rect.right() + 4, rect.top() - 2, TEXT_W, bh + 4), Qt.AlignmentFlag.AlignVCenter,
                           text)

    def _draw_interruptions(self, p: QPainter, r: QRectF) -> None:
        d = self.charts["interruptions"].data
        rows = []
        for sp in d["made"]:
            c = self.colors.get(sp, self._muted())
            faint = QColor(c)
            faint.setAlpha(110)
            rows.append((self.names.get(sp, sp), [(d["made"][sp], c, f"made {d['made'][sp]}"),
                                                   (d["received"][sp], faint, f"received {d['received'][sp]}")]))
        self._hbars(p, r, rows)

    def _draw_questions(self, p: QPainter, r: QRectF) -> None:
        counts = self.charts["questions"].data["counts"]
        rows = []
        for sp, (q, oq, refl) in counts.items():
            c = self.colors.get(sp, self._muted())
            faint = QColor(c)
            faint.setAlpha(150)
            other = QColor(self.theme.cue)
            rows.append((self.names.get(sp, sp), [(q, c, f"{q} question{'s' * (q != 1)} ({oq} open)"),
                                                   (refl, other, f"{refl} reflection{'s' * (refl != 1)}")]))
        self._hbars(p, r, rows)

    def _draw_latency(self, p: QPainter, r: QRectF) -> None:
        lat = self.charts["latency"].data["latency"]
        lo = min(min(v[0] for v in lat.values() if v[0] is not None), 0.0) - 0.2
        hi = max(max((v[2] for v in lat.values() if v[2] is not None), default=1.0), QUICK_S) + 0.3
        label_w = 92
        plot = QRectF(r.left() + label_w, r.top(), r.width() - label_w - 6, r.height() - 13)

        def x(t: float) -> float:
            return plot.left() + plot.width() * (t - lo) / (hi - lo)

        pen = QPen(self._muted(), 1)
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(QPointF(x(QUICK_S), plot.top()), QPointF(x(QUICK_S), plot.bottom()))
        p.setPen(QPen(self._muted(), 1))
        p.drawLine(QPointF(x(0), plot.top()), QPointF(x(0), plot.bottom()))
        row_h = plot.height() / max(1, len(lat))
        for i, (sp, (p25, med, p75, n)) in enumerate(lat.items()):
            y = plot.top() + i * row_h
            self._label(p, QRectF(r.left(), y, label_w - 4, row_h), f"{self.names.get(sp, sp)[:10]} ({n})")
            c = self.colors.get(sp, self._muted())
            a, b = (p25 if p25 is not None else med), (p75 if p75 is not None else med)
            box = QRectF(x(a), y + row_h * 0.25, max(2.0, x(b) - x(a)), row_h * 0.5)
            faint = QColor(c)
            faint.setAlpha(120)
            p.fillRect(box, faint)
            p.setPen(QPen(c, 2.5))
            p.drawLine(QPointF(x(med), y + row_h * 0.15), QPointF(x(med), y + row_h * 0.85))
        p.setPen(self._muted())
        for t in (lo, 0.0, QUICK_S, hi):
            p.drawText(QRectF(x(t) - 22, plot.bottom() + 1, 44, 12), Qt.AlignmentFlag.AlignCenter,
                       "quick" if t == QUICK_S else f"{t:+.1f} s" if t else "0 s")

    def _draw_pace_pitch(self, p: QPainter, r: QRectF) -> None:
        series = self.charts["pace_pitch"].data["series"]
        d = self.tl.duration if self.tl is not None else 1.0
        half = (r.height() - 14) / 2
        panels = (("wpm_rel", "pace", 1.0, lambda v: f"{2 ** v:.1f}x"), ("pitch_median_rel_st", "pitch", 4.0,
                                                                         lambda v: f"{v:+.0f} st"))
        for k, (key, title, rng, fmt) in enumerate(panels):
            plot = QRectF(r.left() + 40, r.top() + k * half, r.width() - 40, half - 4)
            p.fillRect(plot, QColor(self.theme.bg))
            pen = QPen(self._muted(), 1)
            pen.setStyle(Qt.PenStyle.DotLine)
            p.setPen(pen)
            mid = plot.center().y()
            p.drawLine(QPointF(plot.left(), mid), QPointF(plot.right(), mid))
            p.setPen(self._muted())
            p.drawText(QRectF(r.left(), plot.top(), 38, plot.height()), Qt.AlignmentFlag.AlignVCenter, title)
            p.drawText(QRectF(plot.left() + 2, plot.top(), 60, 11), Qt.AlignmentFlag.AlignLeft, fmt(rng))
            p.drawText(QRectF(plot.left() + 2, plot.bottom() - 11, 60, 11), Qt.AlignmentFlag.AlignLeft, fmt(-rng))
            for (kk, sp), pts in series.items():
                if kk != key:
                    continue
                c = self.colors.get(sp, self._muted())
                poly = [QPointF(plot.left() + plot.width() * t / d,
                                mid - max(-1.0, min(1.0, v / rng)) * (plot.height() / 2 - 1)) for t, v in pts]
                p.setPen(QPen(c, 1.4))
                if len(poly) > 1:
                    p.drawPolyline(poly)
                p.setBrush(c)
                for pt in poly if len(poly) < plot.width() / 5 else ():
                    p.drawEllipse(pt, 1.8, 1.8)
        self._axis_time(p, QRectF(r.left() + 40, r.top(), r.width() - 40, r.height()))
