"""The live view: the cues at a glance, quiet by default.

Layout, top to bottom: session clock (with a gentle cue near the planned end), who is speaking now,
the pause timer; the talk-balance bars (session and last 5 minutes); a rolling speaking timeline;
one card per voice (interruptions made/received, backchannels, quick responses, pace and tone
(pitch level, pitch variability, loudness) against the speaker's own baseline, in words), with a
plain line above them when the enrolled voice has not been heard; a small nudge line; the transcript,
hidden until asked for.

The view never pulls data itself: :meth:`LiveView.show_state` is called by the window's repaint timer
with the latest snapshot, and only widgets whose text changed are touched.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ui.cues import CueModel, Cues, Person, display_name, mmss
from ui.theme import BIG_PT, DARK, SMALL_PT, Theme
from ui.timeline_strip import TimelineStrip
from ui.widgets import BalanceBar, Dot

METRICS = (  # (key, caption, tooltip)
    ("interruptions_made", "Interrupted", "Times this voice started while the other was mid-sentence"),
    ("interruptions_received", "Was interrupted", "Times this voice was cut off"),
    ("backchannels", "Backchannels", "Short 'mm-hmm', 'yeah' while the other speaks: signs of active listening"),
    ("quick_responses", "Quick replies", "Replies that began almost at once after the other stopped"),
    ("pace", "Pace", "Words per minute in the last 5 minutes against this voice's own baseline"),
    ("tone", "Tone", "Pitch level, how much the pitch moves, and loudness in the last 5 minutes, each against "
                     "this voice's own baseline: a description of the voice, not of a feeling"),
)

WORDS = ("pace", "tone")  # values in words ("pitch higher and more varied, louder than usual")


class WordsLabel(QLabel):
    """A value in words that wraps within the width it is given and never widens its card: it asks for
    no width of its own and as much height as its wrapped lines need."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def _fit(self) -> None:
        need = self.heightForWidth(max(1, self.width()))
        if need > 0 and need != self.minimumHeight():
            self.setMinimumHeight(need)

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit()


def set_text(label: QLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)


def person_title(p: Person) -> str:
    return display_name(p)


class PersonCard(QFrame):
    """One voice's counts and relative pace/tone. A click asks whose voice it is (``clicked``)."""

    clicked = Signal(str)  # the card's id

    def __init__(self, person: Person, theme: Theme, parent: QWidget | None = None, columns: int = 2) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.person_id = person.id
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click to say whose voice this is, or to merge it with another")
        self.theme = theme
        lay = QVBoxLayout(self)
        narrow = columns == 1  # many cards share the row: smaller title, tighter grid
        lay.setContentsMargins(8 if narrow else 12, 8, 8 if narrow else 12, 8)
        lay.setSpacing(4)
        head = QHBoxLayout()
        self.dot = Dot(self, 14)
        self.title = QLabel(person_title(person))
        if narrow:
            self.title.setStyleSheet(f"font-size: {BIG_PT - 6}pt;")
        else:
            self.title.setProperty("role", "big")
        head.addWidget(self.dot)
        head.addWidget(self.title)
        head.addStretch(1)
        lay.addLayout(head)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6 if narrow else 10)
        grid.setVerticalSpacing(2)
        self.values: dict[str, QLabel] = {}
        counts = [m for m in METRICS if m[0] not in WORDS]
        for i, (key, caption, tip) in enumerate(counts + [m for m in METRICS if m[0] in WORDS]):
            cap = QLabel(caption)
            cap.setProperty("muted", True)
            cap.setToolTip(tip)
            val = WordsLabel("–") if key in WORDS else QLabel("–")
            val.setObjectName(f"{key}_{person.id}")
            val.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if key in WORDS:  # a row of its own across the card (narrow: under its caption)
                cap.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                val.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
                row = -(-len(counts) // columns) + (i - len(counts)) * (2 if narrow else 1)
                grid.addWidget(cap, row, 0)
                if narrow:
                    grid.addWidget(val, row + 1, 0, 1, 2)
                else:
                    grid.addWidget(val, row, 1, 1, 2 * columns - 1)
            else:
                row, col = divmod(i, columns)  # one column when many cards share the row
                grid.addWidget(cap, row, col * 2)
                grid.addWidget(val, row, col * 2 + 1)
            self.values[key] = val
        lay.addLayout(grid)
        lay.addStretch(1)  # cards of different heights in a row keep their figures at the top
        self.show_person(person)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit(self.person_id)
        super().mouseReleaseEvent(event)

    def show_person(self, p: Person) -> None:
        set_text(self.title, person_title(p))
        self.dot.set(self.theme.role_color(p.role), p.speaking)
        for key, label in self.values.items():
            value = getattr(p, key)
            set_text(label, (value or "–") if isinstance(value, str) else str(value))


NO_INPUT_BANNER_S = 5.0  # seconds of nothing from the input before the view says so
NOT_HEARING = ("Not hearing anything",
               "Nothing has come from the microphone for a while. Check that it is connected, switched "
               "on and not muted. The session carries on.")
MIC_LOST = ("Microphone lost",
            "The microphone stopped delivering sound. Attune keeps trying to reconnect; check its cable "
            "or connection. The session carries on.")


def input_problem(state) -> tuple[str, str] | None:
    """(short words, one plain sentence) when the input is lost or silent; None when it is fine."""
    status = str(getattr(state, "status", "") or "")
    if status in ("finishing", "finished"):
        return None
    if status == "device lost":
        return MIC_LOST
    if float(getattr(state, "no_input_s", 0.0) or 0.0) >= NO_INPUT_BANNER_S:
        return NOT_HEARING
    return None


class LiveView(QWidget):
    """The full live view. ``transcript_toggled(bool)`` tells the window the panel was opened."""

    transcript_toggled = Signal(bool)
    card_clicked = Signal(str)  # a card's id: the window asks whose voice it is

    def __init__(self, settings, parent: QWidget | None = None, theme: Theme = DARK) -> None:
        super().__init__(parent)
        self.settings = settings
        self.theme = theme
        self.model = CueModel(settings)
        self.cues: Cues | None = None
        self.cards: dict[str, PersonCard] = {}

        root = QVBoxLayout(self)
        root.setContentsMargins(16, 12, 16, 12)
        root.setSpacing(10)

        # the input is lost or silent: plain words, prominent, in calm colours (never an alarm)
        self.input_banner = QLabel("")
        self.input_banner.setObjectName("input_banner")
        self.input_banner.setWordWrap(True)
        self.input_banner.setVisible(False)
        self.input_message = ""  # the banner's short words ("" when the input is fine), for the strip
        self._style_banner()
        root.addWidget(self.input_banner)

        top = QHBoxLayout()
        self.clock_label = QLabel("00:00")
        self.clock_label.setObjectName("clock")
        self.clock_label.setStyleSheet(f"font-size: {BIG_PT + 6}pt;")
        self.planned_label = QLabel("")
        self.planned_label.setProperty("muted", True)
        self.speaking_dot = Dot(self, 18)
        self.speaking_label = QLabel("Quiet")
        self.speaking_label.setObjectName("speaking")
        self.speaking_label.setStyleSheet(f"font-size: {BIG_PT - 2}pt;")
        self.silence_label = QLabel("")
        self.silence_label.setObjectName("silence")
        self.silence_label.setToolTip("A therapeutic pause: time since the client last stopped speaking")
        self.silence_label.setStyleSheet(f"font-size: {BIG_PT - 2}pt;")
        top.addWidget(self.clock_label)
        top.addWidget(self.planned_label, 0, Qt.AlignmentFlag.AlignBottom)
        top.addStretch(1)
        top.addWidget(self.speaking_dot)
        top.addWidget(self.speaking_label)
        top.addStretch(1)
        top.addWidget(self.silence_label)
        root.addLayout(top)

        bars = QGridLayout()
        bars.setHorizontalSpacing(10)
        self.session_caption = QLabel("Session")
        self.session_caption.setProperty("muted", True)
        self.window_caption = QLabel("Last 5 min")
        self.window_caption.setProperty("muted", True)
        self.session_bar = BalanceBar("Session", self, theme, height=34)
        self.window_bar = BalanceBar("Last 5 min", self, theme, height=34)
        bars.addWidget(self.session_caption, 0, 0)
        bars.addWidget(self.session_bar, 0, 1)
        bars.addWidget(self.window_caption, 1, 0)
        bars.addWidget(self.window_bar, 1, 1)
        root.addLayout(bars)

        self.timeline = TimelineStrip(self, theme=theme)
        root.addWidget(self.timeline)

        # the enrolled voice is not heard: one plain line just above the cards it asks to click
        self.voice_note = QLabel("")
        self.voice_note.setObjectName("voice_note")
        self.voice_note.setWordWrap(True)
        self.voice_note.setVisible(False)
        root.addWidget(self.voice_note)

        self.cards_row = QHBoxLayout()
        self.cards_row.setSpacing(10)
        root.addLayout(self.cards_row)

        self.nudge_label = QLabel("")
        self.nudge_label.setObjectName("nudge")
        self.nudge_label.setWordWrap(True)
        root.addWidget(self.nudge_label)

        # the clinician's own goals (settings): one muted line, never a colour or an alert
        self.goal_label = QLabel("")
        self.goal_label.setObjectName("goal")
        self.goal_label.setProperty("muted", True)
        self.goal_label.setWordWrap(True)
        self.goal_label.setToolTip("Your own goals (settings): where each stands in this session so far")
        self.goal_label.setVisible(bool(getattr(settings, "goals", ())))
        root.addWidget(self.goal_label)

        bottom = QHBoxLayout()
        self.transcript_button = QPushButton("Show transcript")
        self.transcript_button.setCheckable(True)
        self.transcript_button.setToolTip("The transcript stays hidden unless you ask for it")
        self.transcript_button.toggled.connect(self.set_transcript_visible)
        self.status_label = QLabel("")
        self.status_label.setObjectName("status")
        bottom.addWidget(self.transcript_button)
        bottom.addStretch(1)
        bottom.addWidget(self.status_label)
        root.addLayout(bottom)

        self.transcript = QPlainTextEdit(self)
        self.transcript.setReadOnly(True)
        self.transcript.setObjectName("transcript")
        self.transcript.setMaximumBlockCount(200)
        self.transcript.setStyleSheet(f"font-size: {SMALL_PT + 2}pt;")
        self.transcript.setVisible(False)
        root.addWidget(self.transcript, 1)
        root.addStretch(0)
        self._transcript_text = ""
        self.set_transcript_visible(bool(getattr(settings, "show_transcript", False)))

    # -- configuration -------------------------------------------------------------------------
    def _style_banner(self) -> None:
        th = self.theme
        self.input_banner.setStyleSheet(
            f"QLabel#input_banner {{ background: {th.panel}; color: {th.text}; font-size: {BIG_PT - 6}pt; "
            f"border-left: 6px solid {th.cue}; border-radius: 6px; padding: 10px 14px; }}")

    def show_input(self, state) -> None:
        """Show or hide the "not hearing anything" / "microphone lost" banner for this snapshot."""
        problem = input_problem(state)
        self.input_message = problem[0] if problem else ""
        if problem is None:  # isHidden, not isVisible: the window may be hidden behind the strip
            if not self.input_banner.isHidden():
                self.input_banner.setVisible(False)
            return
        set_text(self.input_banner, f"<b>{problem[0]}.</b> {problem[1]}")
        if self.input_banner.isHidden():
            self.input_banner.setVisible(True)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._style_banner()
        for w in (self.session_bar, self.window_bar, self.timeline):
            w.set_theme(theme)
        for card in self.cards.values():
            card.theme = theme

    def start_session(self, settings, planned_s: float | None = None) -> None:
        self.settings = settings
        self.goal_label.setVisible(bool(getattr(settings, "goals", ())))
        self.model = CueModel(settings, planned_s)
        self.timeline.reset()
        self.transcript.clear()
        self._transcript_text = ""
        for card in self.cards.values():
            card.deleteLater()
        self.cards = {}

    def set_transcript_visible(self, visible: bool) -> None:
        if self.transcript_button.isChecked() != visible:
            self.transcript_button.setChecked(visible)  # re-enters once through toggled
            return
        self.transcript.setVisible(visible)
        self.transcript_button.setText("Hide transcript" if visible else "Show transcript")
        self.transcript_toggled.emit(visible)

    # -- rendering -----------------------------------------------------------------------------
    def show_state(self, state) -> Cues:
        """Render one snapshot (called from the repaint timer); returns the derived cues."""
        cues = self.model.update(state)
        self.cues = cues
        th = self.theme
        goals = getattr(self.settings, "goals", ())
        if goals:
            from app.goals import goal_line, parse_goals

            set_text(self.goal_label, goal_line(parse_goals(goals), cues))
        set_text(self.clock_label, cues.clock)
        set_text(self.planned_label, cues.planned)
        clock_color = th.cue if cues.end_cue else th.text
        self._color(self.clock_label, clock_color)
        set_text(self.speaking_label, cues.speaking_text)
        speaking = [p for p in cues.people if p.speaking]
        dot_color = th.role_color(speaking[0].role) if len(speaking) == 1 else th.color("other")
        self.speaking_dot.set(dot_color, bool(speaking))
        if cues.silence_s is None or cues.silence_s < 1.0:
            set_text(self.silence_label, "")
        else:
            set_text(self.silence_label, f"{cues.silence_label} {mmss(cues.silence_s)}")

        nudge_keys = {n.key for n in cues.nudges}
        a, b = cues.pair()
        if a is not None or b is not None:
            def side(p: Person | None, window: bool) -> tuple[str, str | None, float]:
                if p is None:
                    return ("", None, 0.0)
                return (person_title(p), p.role, p.share_window if window else p.share)
            self.session_bar.set_values(side(a, False), side(b, False))
            self.window_bar.set_values(side(a, True), side(b, True), flagged="talk_share" in nudge_keys)

        self._sync_cards(cues)
        set_text(self.voice_note, cues.voice_note)
        self._color(self.voice_note, th.nudge)
        if self.voice_note.isHidden() == bool(cues.voice_note):  # isHidden: the window may be hidden
            self.voice_note.setVisible(bool(cues.voice_note))
        text = "   ·   ".join(n.text for n in cues.nudges)
        set_text(self.nudge_label, text)
        self.nudge_label.setToolTip("\n".join(n.tip for n in cues.nudges))
        self._color(self.nudge_label, th.cue if nudge_keys == {"end"} else th.nudge)
        status = cues.status if cues.status != "listening" else "listening"
        if cues.health:
            status = f"{status} · {cues.health}"
        set_text(self.status_label, status)
        self.timeline.set_state(state, {p.id: p.role for p in cues.people})
        self.show_input(state)
        if not getattr(state, "transcribing", True):  # "no transcript": the cues that need words
            for card in self.cards.values():
                set_text(card.values["pace"], "unavailable")
                card.values["pace"].setToolTip("Pace needs words; no transcript is kept in this session")
        if self.transcript.isVisible():
            self._sync_transcript(cues)
        return cues

    @staticmethod
    def _color(label: QLabel, color: str) -> None:
        if label.property("_color") != color:
            label.setProperty("_color", color)
            base = label.styleSheet().split("color:")[0].strip().rstrip(";")
            label.setStyleSheet(f"{base}; color: {color};" if base else f"color: {color};")

    def _sync_cards(self, cues: Cues) -> None:
        people = list(cues.cards)  # ordered, merged and grouped by the cue model
        ids = [p.id for p in people]
        if ids != list(self.cards):
            for card in self.cards.values():
                self.cards_row.removeWidget(card)
                card.deleteLater()
            self.cards = {}
            for p in people:
                card = PersonCard(p, self.theme, self, columns=2 if len(people) <= 2 else 1)
                card.clicked.connect(self.card_clicked)
                self.cards_row.addWidget(card, 1)
                self.cards[p.id] = card
        for p in people:
            self.cards[p.id].show_person(p)

    def _sync_transcript(self, cues: Cues) -> None:
        text = "\n".join(f"{who}: {line}" for who, line in cues.transcript)
        if text != self._transcript_text:
            self._transcript_text = text
            self.transcript.setPlainText(text)
            bar = self.transcript.verticalScrollBar()
            bar.setValue(bar.maximum())

    def card(self, role_or_id: str) -> PersonCard | None:
        """The card of a role ("therapist"/"client") or speaker id (for tests and the strip)."""
        if role_or_id in self.cards:
            return self.cards[role_or_id]
        if self.cues:
            for p in self.cues.people:
                if p.role == role_or_id and p.id in self.cards:
                    return self.cards[p.id]
        return None
