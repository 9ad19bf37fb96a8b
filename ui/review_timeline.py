"""The review timeline: speaker lanes, a loudness overview, marker lanes and a playhead on one time axis.

A QGraphicsView whose scene is measured in seconds horizontally and pixels vertically; zooming scales
the view horizontally only. The lanes are not scene items: each lane keeps its spans as two sorted
numpy arrays and is drawn in ``drawBackground``, in viewport pixels, from only the spans that are
visible, merged per pixel (one ``drawRects`` call per lane, whatever the zoom; a 0.2-s marker stays at
least two pixels wide in a 90-minute overview). The loudness overview is drawn the same way, as the
peak of each pixel column of the visible part of a 0.1-s envelope. A frame therefore costs about the
same at any zoom and any session length (``bench/bench_review.py``). The time axis, the lane names and
the playhead are drawn over it in ``drawForeground``.

Below the speaker lanes, two curve lanes show each floor turn's pace (words per minute) and median
pitch against the speaker's own usual (the cue engine's ``turn_cues``: ``wpm_rel``, a ratio, drawn on a
log scale within 0.66x-1.5x; ``pitch_median_rel_st``, semitones, within ±3 st); the middle line of each lane
is "as usual". Each speaker is one polyline in their colour, drawn from the visible points only.

Wheel zooms around the pointer (Shift+wheel, or a horizontal wheel, scrolls); a left click asks to
seek there; dragging the edge of a turn (within 4 px of it) moves it (``boundary_dragged``); a right
click on a turn offers its corrections (the window builds the menu).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from PySide6.QtCore import QLineF, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView

from analysis.timeline import Timeline
from ui import theme as themes

AXIS_H = 18  # px, the time axis at the top
LOUD_H = 36  # px, the loudness overview
SPEAKER_H = 22
MARKER_H = 12
GAP = 4
LABEL_W = 92  # px of lane names over the left edge
MIN_VISIBLE_S = 2.0  # the closest zoom shows this many seconds
CURVE_H = 34  # px, each of the pace and pitch lanes
PACE_RANGE = 0.6  # the pace lane spans 2**-0.6 .. 2**0.6 (0.66x .. 1.5x) the speaker's own usual pace
PITCH_RANGE_ST = 3.0  # the pitch lane spans -3 .. +3 semitones around the speaker's own usual pitch
CURVES = (("pace", "wpm_rel", "pace"), ("pitch", "pitch_median_rel_st", "pitch"))
MARKER_KINDS = ("interruption", "backchannel", "quick_response", "silence", "question", "reflection",
                "bookmark")
MARKER_LABELS = {"interruption": "interruptions", "backchannel": "backchannels",
                 "quick_response": "quick replies", "silence": "silences", "question": "questions",
                 "reflection": "reflections", "bookmark": "bookmarks"}


class _Spans:
    """One lane's spans as sorted arrays, with the longest span (to find those overlapping a window)."""

    def __init__(self, y: float, h: float, color: QColor, spans: Iterable[tuple[float, float]],
                 min_px: int) -> None:
        arr = np.asarray(sorted((float(a), float(b)) for a, b in spans), dtype=np.float64).reshape(-1, 2)
        self.y, self.h, self.color, self.min_px = y, h, color, min_px
        self.starts = arr[:, 0].copy()
        self.ends = np.maximum(arr[:, 1], arr[:, 0])
        self.longest = float((self.ends - self.starts).max()) if len(arr) else 0.0

    def pixel_runs(self, t0: float, pxs: float, width: int) -> list[tuple[int, int]]:
        """Covered pixel columns of the visible part as (first, last+1) runs."""
        if not len(self.starts):
            return []
        t1 = t0 + width / pxs
        i0 = int(np.searchsorted(self.starts, t0 - self.longest, "left"))
        i1 = int(np.searchsorted(self.starts, t1, "right"))
        if i1 <= i0:
            return []
        s = (self.starts[i0:i1] - t0) * pxs
        e = np.maximum((self.ends[i0:i1] - t0) * pxs, s + self.min_px)
        keep = (e >= 0) & (s <= width)
        if not keep.any():
            return []
        a = np.clip(np.floor(s[keep]), 0, width).astype(np.int64)
        b = np.clip(np.ceil(e[keep]), 0, width + 1).astype(np.int64)
        cover = np.bincount(a, minlength=width + 3)[: width + 3] - np.bincount(b, minlength=width + 3)[: width + 3]
        on = np.concatenate(([0], (np.cumsum(cover) > 0).astype(np.int8), [0]))
        edges = np.flatnonzero(np.diff(on))
        return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def _cosmetic(color: QColor, width: float = 1.0) -> QPen:
    pen = QPen(color, width)
    pen.setCosmetic(True)
    return pen


def _nice_step(seconds_per_px: float, min_px: int = 80) -> float:
    raw = seconds_per_px * min_px
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if step >= raw:
            return step
    return 7200.0


def fmt_time(t: float) -> str:
    t = max(0.0, t)
    h, rem = divmod(int(t), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:d}:{s:02d}"


class ReviewTimeline(QGraphicsView):
    seek_requested = Signal(float)  # seconds
    turn_menu_requested = Signal(int, QPoint)  # turn index in the timeline, global position
    view_changed = Signal()
    boundary_dragged = Signal(int, str, float)  # turn row, "start" or "end", the new time (s)

    def __init__(self, theme: themes.Theme = themes.DARK, parent=None) -> None:
        super().__init__(parent)
        self.theme = theme
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        # the overlay is in viewport coordinates: every update repaints the whole (cheap) frame
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing
                                  | QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setBackgroundBrush(QColor(theme.bg))
        # drawBackground paints every pixel: no fill of the viewport before it
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground, True)
        self.setMouseTracking(False)
        self.duration = 1.0
        self.follow = True
        self._pxs = 1.0  # pixels per second
        self._lanes: list[tuple[str, float, float, QColor]] = []  # (label, y, height, colour)
        self._speaker_lane: dict[str, tuple[float, float]] = {}
        self._turns: Sequence = ()
        self._spans: list[_Spans] = []
        self._marker_spans: dict[str, _Spans] = {}
        self._curves: dict[str, tuple[float, list]] = {}
        self._curve_key: tuple | None = None
        self._curve_img: QImage | None = None
        self._env: np.ndarray | None = None
        self._env_hop = 0.1
        self._version = 0  # bumped whenever what the lanes show changes
        self._frame_key: tuple | None = None
        self._frame: list = []
        self._loud_img: QImage | None = None
        self._loud_buf: np.ndarray | None = None
        self._playhead_t = 0.0
        self._height = AXIS_H
        self._drag: tuple[int, str, float] | None = None  # (turn row, edge, time under the pointer)

    # -- content -------------------------------------------------------------------------------
    def set_timeline(self, tl: Timeline, markers: dict[str, list[tuple[float, float]]]) -> None:
        """Build the lanes (keeps the current view when the duration does not change)."""
        keep = bool(self._lanes) and abs(tl.duration - self.duration) < 1e-6
        t0, t1 = self.visible_range() if keep else (0.0, 0.0)
        self._lanes = []
        self.duration = max(1.0, float(tl.duration))
        self._turns = tl.turns
        self._lanes.append(("loudness", AXIS_H, LOUD_H, QColor(self.theme.muted)))
        y = AXIS_H + LOUD_H + GAP
        self._speaker_lane = {}
        self._spans = []  # (y, height, colour, starts, ends, longest, min_px)
        for sp in tl.speakers:
            self._speaker_lane[sp.id] = (y, SPEAKER_H)
            color = self.theme.role_color(sp.role)
            self._lanes.append((sp.label, y, SPEAKER_H, color))
            self._spans.append(_Spans(y, SPEAKER_H, color, [(t.start, t.end) for t in tl.turns
                                                            if t.speaker == sp.id], 1))
            y += SPEAKER_H + GAP
        y += GAP
        self._marker_spans: dict[str, _Spans] = {}
        for kind in MARKER_KINDS:
            color = QColor(self._marker_colors[kind])
            self._lanes.append((MARKER_LABELS[kind], y, MARKER_H, color))
            self._marker_spans[kind] = _Spans(y, MARKER_H, color, markers.get(kind, ()), 2)
            y += MARKER_H + 2
        y += GAP
        self._curves = {}  # lane -> (y, [(colour, times, values in -1..1)])
        rows = list(tl.metrics.session.get("turn_cues") or []) if tl.metrics.session else []
        for lane, key, label in CURVES:
            series = []
            for sp in tl.speakers:
                pts = sorted(((r["start"] + r["end"]) / 2, float(r[key])) for r in rows
                             if r.get("speaker") == sp.id and isinstance(r.get(key), int | float))
                if key == "wpm_rel":
                    pts = [(t, math.log2(v) / PACE_RANGE) for t, v in pts if v > 0]
                else:
                    pts = [(t, v / PITCH_RANGE_ST) for t, v in pts]
                if pts:
                    arr = np.asarray(pts, dtype=np.float64)
                    series.append((self.theme.role_color(sp.role), arr[:, 0].copy(),
                                   np.clip(arr[:, 1], -1.0, 1.0)))
            self._curves[lane] = (y, series)
            self._lanes.append((label, y, CURVE_H, QColor(self.theme.muted)))
            y += CURVE_H + GAP
        self._height = y + GAP
        self._version += 1
        self._scene.setSceneRect(QRectF(0, 0, self.duration, self._height))
        self.setMinimumHeight(int(self._height) + self.horizontalScrollBar().sizeHint().height() + 2)
        if keep:
            self.set_view(t0, t1 - t0)
        else:
            self.set_view(0.0, self.duration)

    @property
    def _marker_colors(self) -> dict[str, str]:
        th = self.theme
        return {"interruption": th.nudge, "backchannel": th.other, "quick_response": th.therapist,
                "silence": th.muted, "question": th.client, "reflection": th.cue, "bookmark": th.text}

    def set_markers(self, kind: str, spans) -> None:
        """Replace one marker lane (bookmarks change without rebuilding the rest)."""
        old = self._marker_spans.get(kind)
        if old is not None:
            self._marker_spans[kind] = _Spans(old.y, old.h, old.color, spans, 2)
            self._version += 1
            self.viewport().update()

    def set_loudness(self, env: np.ndarray, hop_s: float) -> None:
        """The loudness overview from a dB envelope (one value per ``hop_s``), drawn as per-pixel peaks."""
        env = np.asarray(env, dtype=np.float32)
        if env.size == 0:
            self._env = None
            return
        lo, hi = -60.0, max(-10.0, float(np.percentile(env, 99.5)))
        self._env = np.clip((env - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
        self._env_hop = float(hop_s)
        self._version += 1
        self.viewport().update()

    @property
    def has_loudness(self) -> bool:
        return self._env is not None

    # -- view ----------------------------------------------------------------------------------
    def visible_range(self) -> tuple[float, float]:
        r = self.mapToScene(self.viewport().rect()).boundingRect()
        return max(0.0, r.left()), min(self.duration, r.right())

    def _usable_px(self) -> int:
        return max(50, self.viewport().width())

    def set_view(self, t0: float, span: float) -> None:
        """Show ``span`` seconds from ``t0`` (clamped to the session and the zoom limits)."""
        span = min(max(span, MIN_VISIBLE_S), self.duration)
        self._pxs = self._usable_px() / span
        self.setTransform(QTransform.fromScale(self._pxs, 1.0))
        t0 = min(max(0.0, t0), max(0.0, self.duration - span))
        self._scroll_to(t0)
        self.view_changed.emit()

    def _scroll_to(self, t0: float) -> None:
        cur = self.visible_range()[0]
        sb = self.horizontalScrollBar()
        sb.setValue(sb.value() + round((t0 - cur) * self._pxs))

    def zoom(self, factor: float, anchor: float | None = None) -> None:
        """Zoom in (factor > 1) or out around ``anchor`` seconds (the middle by default)."""
        t0, t1 = self.visible_range()
        span = t1 - t0
        if anchor is None:
            anchor = (t0 + t1) / 2
        frac = (anchor - t0) / span if span > 0 else 0.5
        new_span = min(max(span / factor, MIN_VISIBLE_S), self.duration)
        self.set_view(anchor - frac * new_span, new_span)

    def scroll_by(self, seconds: float) -> None:
        t0, t1 = self.visible_range()
        self._scroll_to(min(max(0.0, t0 + seconds), max(0.0, self.duration - (t1 - t0))))
        self.view_changed.emit()

    def set_playhead(self, t: float) -> None:
        self._playhead_t = t
        self.viewport().update()
        if self.follow:
            t0, t1 = self.visible_range()
            span = t1 - t0
            if span < self.duration and (t < t0 or t > t0 + 0.9 * span):
                self._scroll_to(max(0.0, t - 0.1 * span))
                self.view_changed.emit()

    @property
    def playhead(self) -> float:
        return self._playhead_t

    def resizeEvent(self, event) -> None:  # keep the time span across a resize
        t0, t1 = self.visible_range()
        super().resizeEvent(event)
        if self._lanes and t1 > t0:
            self.set_view(t0, t1 - t0)

    # -- input ---------------------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        delta = event.angleDelta()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier or abs(delta.x()) > abs(delta.y()):
            d = delta.x() or delta.y()
            t0, t1 = self.visible_range()
            self.scroll_by(-d / 120 * 0.1 * (t1 - t0))
        elif delta.y():
            anchor = self.mapToScene(event.position().toPoint()).x()
            self.zoom(1.25 ** (delta.y() / 120), anchor)
        event.accept()

    def time_at(self, pos: QPoint) -> float:
        return min(max(0.0, self.mapToScene(pos).x()), self.duration)

    def turn_at(self, pos: QPoint) -> int | None:
        p = self.mapToScene(pos)
        for sp, (y, h) in self._speaker_lane.items():
            if y <= p.y() <= y + h:
                tol = 3.0 / self._pxs
                for i, t in enumerate(self._turns):
                    if t.speaker == sp and t.start - tol <= p.x() <= t.end + tol:
                        return i
        return None

    def edge_at(self, pos: QPoint, px: float = 4.0) -> tuple[int, str] | None:
        """The turn edge within ``px`` pixels of ``pos`` in a speaker lane: (turn row, "start"/"end")."""
        p = self.mapToScene(pos)
        tol = px / self._pxs
        best = None
        for sp, (y, h) in self._speaker_lane.items():
            if y <= p.y() <= y + h:
                for i, t in enumerate(self._turns):
                    if t.speaker != sp:
                        continue
                    for edge, x in (("start", t.start), ("end", t.end)):
                        d = abs(p.x() - x)
                        if d <= tol and (best is None or d < best[0]):
                            best = (d, i, edge)
        return None if best is None else (best[1], best[2])

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            pos = event.position().toPoint()
            edge = self.edge_at(pos)
            if edge is not None:
                self._drag = (edge[0], edge[1], self.time_at(pos))
                self.viewport().setCursor(Qt.CursorShape.SizeHorCursor)
            else:
                self.seek_requested.emit(self.time_at(pos))
            event.accept()
        elif event.button() == Qt.MouseButton.RightButton:
            i = self.turn_at(event.position().toPoint())
            if i is not None:
                self.turn_menu_requested.emit(i, event.globalPosition().toPoint())
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag is not None:
            self._drag = (self._drag[0], self._drag[1], self.time_at(event.position().toPoint()))
            self.viewport().update()
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag is not None and event.button() == Qt.MouseButton.LeftButton:
            row, edge, _t = self._drag
            self._drag = None
            self.viewport().unsetCursor()
            t = self.time_at(event.position().toPoint())
            old = getattr(self._turns[row], edge)
            if abs(t - old) * self._pxs >= 2:
                self.boundary_dragged.emit(row, edge, t)
            else:  # a click on an edge, not a move: seek there
                self.seek_requested.emit(t)
            self.viewport().update()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.mousePressEvent(event)

    # -- drawing: lanes and loudness (background), axis, names and playhead (foreground) ---------
    def _view_t0(self) -> float:
        return self.mapToScene(QPoint(0, 0)).x()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.resetTransform()
        w = self.viewport().width()
        painter.fillRect(0, 0, w, self.viewport().height(), QColor(self.theme.bg))
        t0 = self._view_t0()
        pxs = self._pxs
        dy = self.mapFromScene(QPointF(0, 0)).y()
        painter.setPen(Qt.PenStyle.NoPen)
        track = QColor(self.theme.panel)
        for lane in self._spans:
            painter.fillRect(QRectF(0, lane.y + dy, w, lane.h), track)
        key = (t0, pxs, w, dy, self._version)
        if self._frame_key != key:  # the playhead moved only: the lanes are drawn from the same rects
            self._frame_key = key
            self._frame = [(lane.color, [QRectF(a, lane.y + dy, b - a, lane.h)
                                         for a, b in lane.pixel_runs(t0, pxs, w)])
                           for lane in [*self._spans, *self._marker_spans.values()]]
            self._loud_img = self._loudness_image(t0, pxs, w) if self._env is not None else None
        for color, rects in self._frame:
            if rects:
                painter.setBrush(color)
                painter.drawRects(rects)
        if self._loud_img is not None:
            painter.drawImage(QPointF(0, AXIS_H + dy), self._loud_img)
        self._draw_curves(painter, t0, pxs, w, dy, track)
        painter.restore()

    def curve_points(self, lane: str, t0: float, pxs: float, w: int, dy: float = 0.0) -> list[list[QPointF]]:
        """The visible points of a curve lane in viewport pixels, one list per speaker (with one point
        either side of the view, so the lines run to the edges). Where points are closer than two pixels
        (zoomed out on a long session) those of each two-pixel column are averaged into one."""
        y, series = self._curves.get(lane, (0.0, []))
        mid, half = y + dy + CURVE_H / 2, CURVE_H / 2 - 3
        t1 = t0 + w / pxs
        out = []
        for _color, ts, vs in series:
            i0 = max(0, int(np.searchsorted(ts, t0)) - 1)
            i1 = min(len(ts), int(np.searchsorted(ts, t1)) + 1)
            xs = (ts[i0:i1] - t0) * pxs
            ys = mid - vs[i0:i1] * half
            if len(xs) > w / 2:
                col = np.floor(xs / 2).astype(np.int64)
                _keys, first, counts = np.unique(col, return_index=True, return_counts=True)
                xs = np.add.reduceat(xs, first) / counts
                ys = np.add.reduceat(ys, first) / counts
            out.append([QPointF(float(a), float(b)) for a, b in zip(xs.tolist(), ys.tolist(), strict=True)])
        return out

    def _draw_curves(self, painter: QPainter, t0: float, pxs: float, w: int, dy: float, track: QColor) -> None:
        """The curve lanes, drawn into an image when the view changes and blitted on every frame (a frame
        in which only the playhead moved costs one drawImage)."""
        if not self._curves:
            return
        y0 = min(y for y, _s in self._curves.values())
        key = (t0, pxs, w, self._version)
        if self._curve_key != key:
            self._curve_key = key
            self._curve_img = self._curve_image(t0, pxs, w, y0, track)
        if self._curve_img is not None:
            painter.drawImage(QPointF(0, y0 + dy), self._curve_img)

    def _curve_image(self, t0: float, pxs: float, w: int, y0: float, track: QColor) -> QImage | None:
        h = int(max(y for y, _s in self._curves.values()) - y0 + CURVE_H)
        if w <= 0 or h <= 0:
            return None
        img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(QColor(self.theme.bg))
        painter = QPainter(img)
        base = QColor(self.theme.muted)
        base.setAlpha(140)
        for lane, (y, series) in self._curves.items():
            ly = y - y0
            painter.fillRect(QRectF(0, ly, w, CURVE_H), track)
            pen = QPen(base, 1)
            pen.setStyle(Qt.PenStyle.DotLine)
            painter.setPen(pen)
            painter.drawLine(QLineF(0, ly + CURVE_H / 2, w, ly + CURVE_H / 2))  # as usual
            for (color, _ts, _vs), pts in zip(series, self.curve_points(lane, t0, pxs, w, -y0), strict=True):
                if not pts:
                    continue
                # antialiased where sparse; dense lines (zoomed out on a long session) plain, 4x cheaper
                painter.setRenderHint(QPainter.RenderHint.Antialiasing, len(pts) < w / 8)
                painter.setPen(QPen(color, 1.5))
                if len(pts) > 1:  # segments: an antialiased wide polyline (its joins) costs ~20x more
                    painter.drawLines([QLineF(a, b) for a, b in zip(pts, pts[1:], strict=False)])
                if len(pts) < w / 24:  # dots where there is room for them (one call: round points)
                    dot = QPen(color, 4.5)
                    dot.setCapStyle(Qt.PenCapStyle.RoundCap)
                    painter.setPen(dot)
                    painter.drawPoints(pts)
        painter.end()
        return img

    def _loudness_image(self, t0: float, pxs: float, w: int) -> QImage | None:
        """The visible loudness as an image one pixel per column: the peak of the envelope values
        that fall in each column (zoomed out) or the value under it (zoomed in)."""
        env, hop = self._env, self._env_hop
        cols = np.arange(w + 1, dtype=np.float64)
        idx = np.floor((t0 + cols / pxs) / hop).astype(np.int64)
        valid = (idx[:-1] >= 0) & (idx[:-1] < len(env))
        if not valid.any():
            return None
        start = np.clip(idx[:-1], 0, len(env) - 1)
        peaks = np.maximum.reduceat(env, start)
        peaks[~valid] = 0.0
        heights = np.round(peaks * (LOUD_H - 2)).astype(np.int64)
        rows = np.arange(LOUD_H)[:, None]
        color = QColor(self.theme.muted).rgba()
        img = np.where(rows >= (LOUD_H - heights)[None, :], np.uint32(color), np.uint32(0)).astype(np.uint32)
        self._loud_buf = np.ascontiguousarray(img)  # the QImage borrows this buffer
        return QImage(self._loud_buf.data, w, LOUD_H, w * 4, QImage.Format.Format_ARGB32)

    # -- overlay: time axis and lane names -----------------------------------------------------
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.resetTransform()
        w = self.viewport().width()
        t0, t1 = self.visible_range()
        painter.fillRect(0, 0, w, AXIS_H, QColor(self.theme.panel))
        step = _nice_step(1.0 / self._pxs)
        painter.setPen(QColor(self.theme.muted))
        f = painter.font()
        f.setPointSize(themes.SMALL_PT)
        painter.setFont(f)
        first = math.floor(t0 / step) * step
        k = 0
        t = first
        while t <= t1 + step and k < 400:
            x = self.mapFromScene(QPointF(t, 0)).x()
            if x >= 0:
                painter.drawLine(x, AXIS_H - 5, x, AXIS_H)
                painter.drawText(x + 3, AXIS_H - 5, fmt_time(t) if step >= 1 else f"{t:.1f}")
            t += step
            k += 1
        bg = QColor(self.theme.bg)
        bg.setAlpha(200)
        for label, y, h, color in self._lanes:
            vy = self.mapFromScene(QPointF(0, y)).y()
            painter.fillRect(0, vy, LABEL_W, int(h), bg)
            painter.setPen(color)
            painter.drawText(QRectF(4, vy, LABEL_W - 6, h), Qt.AlignmentFlag.AlignVCenter, label[:14])
        if self._drag is not None:  # the turn edge being dragged
            xd = (self._drag[2] - self._view_t0()) * self._pxs
            pen = _cosmetic(QColor(self.theme.cue), 2)
            pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(QLineF(xd, AXIS_H, xd, self.mapFromScene(QPointF(0, self._height)).y()))
        x = (self._playhead_t - self._view_t0()) * self._pxs
        if -2 <= x <= w + 2:
            painter.setPen(_cosmetic(QColor(self.theme.text), 2))
            painter.drawLine(QLineF(x, AXIS_H, x, self.mapFromScene(QPointF(0, self._height)).y()))
        painter.restore()
