"""Small painted widgets shared by the live view and the compact strip."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.theme import DARK, Theme, font


class BalanceBar(QWidget):
    """Two shares side by side (therapist left, client right) with their labels painted inside.

    ``flagged`` draws a soft amber outline: the gentle nudge is a colour change, never a pop-up.
    """

    def __init__(self, caption: str = "", parent: QWidget | None = None, theme: Theme = DARK,
                 height: int = 30, show_text: bool = True) -> None:
        super().__init__(parent)
        self.caption = caption
        self.theme = theme
        self.show_text = show_text
        self.left = ("", None, 0.0)  # (label, role, share)
        self.right = ("", None, 0.0)
        self.flagged = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(height)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(320, self.height())

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()

    def set_values(self, left: tuple[str, str | None, float], right: tuple[str, str | None, float],
                   flagged: bool = False) -> None:
        if (left, right, flagged) != (self.left, self.right, self.flagged):
            self.left, self.right, self.flagged = left, right, flagged
            self.setToolTip(self.text())
            self.setAccessibleName(self.text())
            self.update()

    def shares(self) -> tuple[float, float]:
        a, b = max(0.0, self.left[2]), max(0.0, self.right[2])
        total = a + b
        return (a / total, b / total) if total > 0 else (0.0, 0.0)

    def text(self) -> str:
        a, b = self.shares()
        if not (self.left[0] or self.right[0]):
            return ""
        return f"{self.caption}: {self.left[0]} {round(100 * a)} % · {self.right[0]} {round(100 * b)} %"

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        th = self.theme
        r = QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(th.track))
        p.drawRoundedRect(r, 6, 6)
        a, b = self.shares()
        if a + b > 0:
            split = r.left() + r.width() * a
            p.setBrush(th.role_color(self.left[1]))
            p.drawRoundedRect(QRectF(r.left(), r.top(), split - r.left(), r.height()), 6, 6)
            p.setBrush(th.role_color(self.right[1]))
            p.drawRoundedRect(QRectF(split, r.top(), r.right() - split, r.height()), 6, 6)
            p.setPen(QPen(QColor(th.bg), 2))
            p.drawLine(int(split), int(r.top()), int(split), int(r.bottom()))
        if self.flagged:
            p.setPen(QPen(QColor(th.nudge), 2.5))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(r, 6, 6)
        if self.show_text and a + b > 0:
            p.setFont(font(max(9, int(self.height() * 0.38)), bold=True))
            p.setPen(QColor(th.bg))
            inner = r.adjusted(10, 0, -10, 0)
            p.drawText(inner, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                       f"{self.left[0]} {round(100 * a)} %")
            p.drawText(inner, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                       f"{round(100 * b)} % {self.right[0]}")
        p.end()


class LevelMeter(QWidget):
    """A horizontal level meter in dBFS (-60 .. 0), calm colours, for the device check."""

    def __init__(self, parent: QWidget | None = None, theme: Theme = DARK) -> None:
        super().__init__(parent)
        self.theme = theme
        self.db = -100.0
        self.peak = -100.0
        self.setFixedHeight(14)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_level(self, db: float) -> None:
        self.db = db
        self.peak = max(db, self.peak - 1.5)
        self.setAccessibleName(f"{db:.0f} dBFS")
        self.update()

    @staticmethod
    def _frac(db: float) -> float:
        return min(1.0, max(0.0, (db + 60.0) / 60.0))

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        th = self.theme
        r = QRectF(self.rect())
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(th.track))
        p.drawRoundedRect(r, 4, 4)
        f = self._frac(self.db)
        if f > 0:
            p.setBrush(QColor(th.nudge if self.db > -3 else th.therapist))
            p.drawRoundedRect(QRectF(r.left(), r.top(), r.width() * f, r.height()), 4, 4)
        x = r.left() + r.width() * self._frac(self.peak)
        p.setPen(QPen(QColor(th.text), 2))
        p.drawLine(int(x), int(r.top()), int(x), int(r.bottom()))
        p.end()


class Dot(QWidget):
    """A small round indicator (who is speaking, nudge state)."""

    def __init__(self, parent: QWidget | None = None, diameter: int = 14) -> None:
        super().__init__(parent)
        self.color = QColor("#444")
        self.on = False
        self.setFixedSize(diameter, diameter)

    def set(self, color: QColor, on: bool) -> None:
        if color != self.color or on != self.on:
            self.color, self.on = color, on
            self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        c = QColor(self.color)
        if not self.on:
            c.setAlpha(60)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(c)
        p.drawEllipse(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        p.end()
