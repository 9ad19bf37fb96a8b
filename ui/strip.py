"""The compact always-on-top strip: clock, who speaks, the two balance bars, the pause timer.

A small frameless window that can sit at the edge of the screen during a session. Drag it to move it;
double-click it (or the ⤢ button) to return to the full view. A nudge shows as the amber outline of
the last-5-minutes bar and a small amber dot, never a sound or a pop-up. It blanks with the window.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ui.cues import Cues, Person, mmss
from ui.live_view import person_title, set_text
from ui.theme import BASE_PT, DARK, SMALL_PT, Theme
from ui.widgets import BalanceBar, Dot


class StripWindow(QWidget):
    expand_requested = Signal()

    def __init__(self, theme: Theme = DARK, on_top: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        flags = Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
        if on_top:
            flags |= Qt.WindowType.WindowStaysOnTopHint
        self.setWindowFlags(flags)
        self.setWindowTitle("Attune")
        self.theme = theme
        self.blanked = False
        self._drag: QPoint | None = None

        self.content = QWidget(self)
        row = QHBoxLayout(self.content)
        row.setContentsMargins(12, 6, 8, 6)
        row.setSpacing(10)
        self.clock_label = QLabel("00:00")
        self.clock_label.setStyleSheet(f"font-size: {BASE_PT + 5}pt;")
        self.speaking_dot = Dot(self.content, 16)
        self.speaking_label = QLabel("Quiet")
        self.input_message = ""  # set by show_input while the input is lost or silent
        self.speaking_label.setFixedWidth(150)  # the bars do not shift as the text changes
        bars = QGridLayout()
        bars.setHorizontalSpacing(6)
        bars.setVerticalSpacing(3)
        self.session_bar = BalanceBar("Session", self.content, theme, height=16, show_text=False)
        self.window_bar = BalanceBar("Last 5 min", self.content, theme, height=16, show_text=False)
        self.bar_captions = []
        for i, (caption, bar) in enumerate((("Session", self.session_bar), ("5 min", self.window_bar))):
            label = QLabel(caption)
            label.setStyleSheet(f"font-size: {SMALL_PT}pt; color: {theme.muted};")
            bars.addWidget(label, i, 0)
            bars.addWidget(bar, i, 1)
            self.bar_captions.append(label)
        self.share_label = QLabel("")
        self.share_label.setFixedWidth(80)
        self.share_label.setToolTip("Your share of the last 5 minutes")
        self.silence_label = QLabel("")
        self.silence_label.setFixedWidth(70)
        self.silence_label.setToolTip("A therapeutic pause: time since the client last stopped speaking")
        self.nudge_dot = Dot(self.content, 10)
        self.expand_button = QToolButton()
        self.expand_button.setText("⤢")
        self.expand_button.setToolTip("Back to the full view")
        self.expand_button.clicked.connect(self.expand_requested)
        row.addWidget(self.clock_label)
        row.addWidget(self.speaking_dot)
        row.addWidget(self.speaking_label)
        row.addLayout(bars, 1)
        row.addWidget(self.share_label)
        row.addWidget(self.silence_label)
        row.addWidget(self.nudge_dot)
        row.addWidget(self.expand_button)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.content)
        self.resize(760, 60)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.session_bar.set_theme(theme)
        self.window_bar.set_theme(theme)
        for label in self.bar_captions:
            label.setStyleSheet(f"font-size: {SMALL_PT}pt; color: {theme.muted};")

    def set_blank(self, blank: bool) -> None:
        self.blanked = blank
        self.content.setVisible(not blank)
        self.update()

    def show_input(self, message: str) -> None:
        """The input is lost or silent (``message``: "Microphone lost", "Not hearing anything"; "" when
        fine): the words replace who is speaking, in the calm cue colour."""
        if message == self.input_message:
            return
        self.input_message = message
        self.speaking_label.setToolTip(message)
        if message:
            set_text(self.speaking_label, message)
            self.speaking_label.setStyleSheet(f"color: {self.theme.cue}; font-weight: bold;")
        else:
            self.speaking_label.setStyleSheet("")

    def show_cues(self, cues: Cues) -> None:
        th = self.theme
        set_text(self.clock_label, cues.clock)
        color = th.cue if cues.end_cue else th.text
        if self.clock_label.property("_color") != color:
            self.clock_label.setProperty("_color", color)
            self.clock_label.setStyleSheet(f"font-size: {BASE_PT + 5}pt; color: {color};")
        set_text(self.speaking_label, self.input_message or cues.speaking_text)
        speaking = [p for p in cues.people if p.speaking]
        self.speaking_dot.set(th.role_color(speaking[0].role) if len(speaking) == 1 else th.color("other"),
                              bool(speaking))
        a, b = cues.pair()
        keys = {n.key for n in cues.nudges}

        def side(p: Person | None, window: bool):
            return ("", None, 0.0) if p is None else (person_title(p), p.role,
                                                      p.share_window if window else p.share)
        self.session_bar.set_values(side(a, False), side(b, False))
        self.window_bar.set_values(side(a, True), side(b, True), flagged="talk_share" in keys)
        th_p = cues.therapist
        set_text(self.share_label, f"You {round(100 * th_p.share_window)} %" if th_p else "")
        silence = "" if cues.silence_s is None or cues.silence_s < 1 else f"⏸ {mmss(cues.silence_s)}"
        set_text(self.silence_label, silence)
        self.nudge_dot.set(QColor(th.nudge if keys - {"end"} else th.cue), bool(keys))
        self.setToolTip("\n".join(n.text for n in cues.nudges))

    # -- painting and moving -------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(self.theme.blank if self.blanked else self.theme.bg))
        p.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag = event.globalPosition().toPoint() - self.frameGeometry().topLeft()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._drag is not None:
            self.move(event.globalPosition().toPoint() - self._drag)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._drag = None

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        self.expand_requested.emit()
