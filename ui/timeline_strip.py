"""A small rolling speaking-timeline: one lane per voice, the last few minutes, drawn with QPainter.

Closed turns come from the state's ``recent_turns``; a turn still in progress is drawn from the
moment the view first saw the speaker speaking up to now, so the strip moves in real time. Painting
is cheap (a few dozen rectangles) and happens only when the view's repaint timer asks for it.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.theme import DARK, Theme

SPAN_S = 120.0  # seconds shown (the state keeps two minutes of turns)


class TimelineStrip(QWidget):
    def __init__(self, parent: QWidget | None = None, span_s: float = SPAN_S, theme: Theme = DARK) -> None:
        super().__init__(parent)
        self.span_s = span_s
        self.theme = theme
        self.t = 0.0
        self.lanes: list[tuple[str, str | None]] = []  # (speaker id, role)
        self.turns: list[tuple[str, float, float]] = []
        self._open: dict[str, float] = {}  # speaker -> start of the turn in progress
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(34)
        self.setToolTip("Who spoke when, over the last few minutes")

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(360, 44)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()

    def reset(self) -> None:
        self.t = 0.0
        self.lanes, self.turns, self._open = [], [], {}
        self.update()

    def set_state(self, state, roles: dict[str, str | None] | None = None) -> None:
        """Take what is needed from a SessionState (speakers, recent_turns, speaking_now, t);
        ``roles`` overrides the speakers' roles (the view's therapist/client choice)."""
        t = float(getattr(state, "t", 0.0) or 0.0)
        speakers = tuple(getattr(state, "speakers", ()) or ())
        order = {"therapist": 0, "client": 1}
        roles = roles or {}
        lanes = [(sp.id, roles.get(sp.id, sp.role)) for sp in speakers]
        self.lanes = sorted(lanes, key=lambda lane: (order.get(lane[1], 2), lane[0]))
        lo = t - self.span_s
        self.turns = [(tr.speaker, tr.start, tr.end) for tr in (getattr(state, "recent_turns", ()) or ())
                      if tr.end >= lo]
        now = set(getattr(state, "speaking_now", ()) or ())
        for sp in list(self._open):
            if sp not in now:
                del self._open[sp]
        for sp in now:
            if sp not in self._open:
                last_end = max((e for s, _, e in self.turns if s == sp), default=None)
                # a turn the pipeline already closed and re-opened within 1 s continues the bar
                self._open[sp] = last_end if last_end is not None and t - last_end < 1.0 else t
        self.t = t
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        th = self.theme
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(th.panel))
        lanes = self.lanes or [("", "therapist"), ("", "client")]
        n = len(lanes)
        pad = 3.0
        lane_h = (h - pad * (n + 1)) / n
        x_of = lambda time: w * (1.0 - (self.t - time) / self.span_s)  # noqa: E731
        for i, (sp, role) in enumerate(lanes):
            y = pad + i * (lane_h + pad)
            p.fillRect(QRectF(0, y, w, lane_h), QColor(th.track))
            color = th.role_color(role)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            segments = [(s0, s1) for s, s0, s1 in self.turns if s == sp]
            if sp in self._open:
                segments.append((self._open[sp], self.t))
            for s0, s1 in segments:
                x0, x1 = max(0.0, x_of(s0)), min(float(w), x_of(s1))
                if x1 > x0:
                    p.drawRoundedRect(QRectF(x0, y, max(1.5, x1 - x0), lane_h), 2, 2)
        # minute ticks, faint
        p.setPen(QPen(QColor(th.muted), 1, Qt.PenStyle.DotLine))
        first = int((self.t - self.span_s) // 60 + 1) * 60
        for m in range(first, int(self.t) + 1, 60):
            x = x_of(m)
            if 0 < x < w:
                p.drawLine(int(x), 0, int(x), h)
        p.end()
