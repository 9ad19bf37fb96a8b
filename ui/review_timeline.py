"""The review timeline: speaker lanes, a loudness overview, marker lanes and a playhead on one time axis.

A QGraphicsView whose scene is measured in seconds horizontally and pixels vertically; zooming scales
the view horizontally only, and every pen is cosmetic (one pixel stays one pixel, so a 0.2-s marker is
still visible in a 90-minute overview). There is one path item per lane, never one item per turn, and
the loudness overview keeps three levels of detail (0.1 s, 1 s and 10 s peaks) of which the view
draws the one that matches the zoom. The time axis and the lane names are drawn over the scene in
viewport coordinates.

Wheel zooms around the pointer (Shift+wheel, or a horizontal wheel, scrolls); a left click asks to
seek there; a right click on a turn offers its corrections (the window builds the menu).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsPathItem, QGraphicsScene, QGraphicsView

from analysis.timeline import Timeline
from ui import theme as themes

AXIS_H = 18  # px, the time axis at the top
LOUD_H = 36  # px, the loudness overview
SPEAKER_H = 22
MARKER_H = 12
GAP = 4
LABEL_W = 92  # px of lane names over the left edge
MIN_VISIBLE_S = 2.0  # the closest zoom shows this many seconds
MARKER_KINDS = ("interruption", "backchannel", "quick_response", "silence", "question", "reflection",
                "bookmark")
MARKER_LABELS = {"interruption": "interruptions", "backchannel": "backchannels",
                 "quick_response": "quick replies", "silence": "silences", "question": "questions",
                 "reflection": "reflections", "bookmark": "bookmarks"}
LOD_HOPS = (0.1, 1.0, 10.0)  # s per loudness point at each level of detail


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

    def __init__(self, theme: themes.Theme = themes.DARK, parent=None) -> None:
        super().__init__(parent)
        self.theme = theme
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing
                                  | QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setBackgroundBrush(QColor(theme.bg))
        self.setMouseTracking(False)
        self.duration = 1.0
        self.follow = True
        self._pxs = 1.0  # pixels per second
        self._lanes: list[tuple[str, float, float, QColor]] = []  # (label, y, height, colour)
        self._speaker_lane: dict[str, tuple[float, float]] = {}
        self._turns: Sequence = ()
        self._lod_items: list[QGraphicsPathItem] = []
        self._lane_items: list[QGraphicsPathItem] = []
        self._marker_items: dict[str, QGraphicsPathItem] = {}
        self._marker_y: dict[str, float] = {}
        self._playhead_t = 0.0
        self._height = AXIS_H
        self._playhead = self._scene.addLine(0, 0, 0, 1, _cosmetic(QColor(theme.text), 2))
        self._playhead.setZValue(10)

    # -- content -------------------------------------------------------------------------------
    def set_timeline(self, tl: Timeline, markers: dict[str, list[tuple[float, float]]]) -> None:
        """Build the lanes (keeps the current view when the duration does not change)."""
        keep = self._lanes and abs(tl.duration - self.duration) < 1e-6
        t0, t1 = self.visible_range() if keep else (0.0, 0.0)
        for item in self._lane_items + list(self._marker_items.values()):
            self._scene.removeItem(item)
        self._lane_items, self._marker_items, self._lanes = [], {}, []
        self.duration = max(1.0, float(tl.duration))
        self._turns = tl.turns
        y = AXIS_H + LOUD_H + GAP
        self._lanes.append(("loudness", AXIS_H, LOUD_H, QColor(self.theme.muted)))
        self._speaker_lane = {}
        paths: dict[str, QPainterPath] = {}
        for sp in tl.speakers:
            self._speaker_lane[sp.id] = (y, SPEAKER_H)
            self._lanes.append((sp.label, y, SPEAKER_H, self.theme.role_color(sp.role)))
            paths[sp.id] = QPainterPath()
            y += SPEAKER_H + GAP
        for t in tl.turns:
            if t.speaker in paths and t.end > t.start:
                ly, lh = self._speaker_lane[t.speaker]
                paths[t.speaker].addRect(QRectF(t.start, ly, t.end - t.start, lh))
        for sp in tl.speakers:
            color = self.theme.role_color(sp.role)
            item = self._scene.addPath(paths[sp.id], _cosmetic(color), QBrush(color))
            self._lane_items.append(item)
        y += GAP
        colors = {"interruption": self.theme.nudge, "backchannel": self.theme.other,
                  "quick_response": self.theme.therapist, "silence": self.theme.muted,
                  "question": self.theme.client, "reflection": self.theme.cue, "bookmark": self.theme.text}
        for kind in MARKER_KINDS:
            self._marker_y[kind] = y
            self._lanes.append((MARKER_LABELS[kind], y, MARKER_H, QColor(colors[kind])))
            self._set_marker_path(kind, markers.get(kind, ()), QColor(colors[kind]))
            y += MARKER_H + 2
        self._height = y + GAP
        self._scene.setSceneRect(QRectF(0, 0, self.duration, self._height))
        self._playhead.setLine(self._playhead_t, AXIS_H, self._playhead_t, self._height)
        self.setMinimumHeight(int(self._height) + self.horizontalScrollBar().sizeHint().height() + 2)
        if keep:
            self.set_view(t0, t1 - t0)
        else:
            self.set_view(0.0, self.duration)

    def _set_marker_path(self, kind: str, spans, color: QColor) -> None:
        old = self._marker_items.pop(kind, None)
        if old is not None:
            self._scene.removeItem(old)
        y = self._marker_y[kind]
        path = QPainterPath()
        for s, e in spans:
            path.addRect(QRectF(s, y, max(0.0, e - s), MARKER_H))
        item = self._scene.addPath(path, _cosmetic(color, 2), QBrush(color))
        item.setZValue(2)
        self._marker_items[kind] = item

    def set_markers(self, kind: str, spans) -> None:
        """Replace one marker lane (bookmarks change without rebuilding the rest)."""
        if kind in self._marker_y:
            lane = next(c for label, _y, _h, c in self._lanes if label == MARKER_LABELS[kind])
            self._set_marker_path(kind, spans, lane)

    def set_loudness(self, env: np.ndarray, hop_s: float) -> None:
        """The loudness overview from a dB envelope (one value per ``hop_s``), drawn as peaks."""
        for item in self._lod_items:
            self._scene.removeItem(item)
        self._lod_items = []
        env = np.asarray(env, dtype=np.float32)
        if env.size == 0:
            return
        lo, hi = -60.0, max(-10.0, float(np.percentile(env, 99.5)))
        norm = np.clip((env - lo) / (hi - lo), 0.0, 1.0)
        color = QColor(self.theme.muted)
        for hop in LOD_HOPS:
            k = max(1, round(hop / hop_s))
            n = len(norm) // k * k
            level = norm[:n].reshape(-1, k).max(axis=1) if n else norm[:1]
            if len(norm) > n:
                level = np.append(level, norm[n:].max())
            base = AXIS_H + LOUD_H
            path = QPainterPath()
            path.moveTo(0, base)
            step = hop_s * k
            for i, v in enumerate(level.tolist()):
                yv = base - v * (LOUD_H - 2)
                path.lineTo(i * step, yv)
                path.lineTo((i + 1) * step, yv)
            path.lineTo(len(level) * step, base)
            path.closeSubpath()
            item = self._scene.addPath(path, QPen(Qt.PenStyle.NoPen), QBrush(color))
            self._lod_items.append(item)
        self._update_lod()

    def _update_lod(self) -> None:
        if not self._lod_items:
            return
        spp = 1.0 / self._pxs  # seconds per pixel
        best = 0
        for i, hop in enumerate(LOD_HOPS):
            if hop <= max(spp * 2, LOD_HOPS[0]):
                best = i
        for i, item in enumerate(self._lod_items):
            item.setVisible(i == best)

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
        self._update_lod()
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
        self._playhead.setLine(t, AXIS_H, t, self._height)
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

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.seek_requested.emit(self.time_at(event.position().toPoint()))
            event.accept()
        elif event.button() == Qt.MouseButton.RightButton:
            i = self.turn_at(event.position().toPoint())
            if i is not None:
                self.turn_menu_requested.emit(i, event.globalPosition().toPoint())
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.mousePressEvent(event)

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
        painter.restore()
