"""The Settings window (issue 16; "Settings…" on the start page, Ctrl+,): every preference the clinician
may change, in three tabs.

- **Session**: planned length, the closing cue, the gentle nudges and their thresholds, theme, the compact
  strip, the privacy key.
- **Privacy**: retention (what it removes and what it keeps, in plain words: ``app/retention.py``), the
  idle lock, re-analysis for review.
- **Goals**: personal goals on the library's figures (``app/goals.py``), each with a figure, a direction
  and a target, checked as it is typed and read back as the sentence the live dashboard will show.

Numbers use spin boxes bounded by ``app.settings.LIMITS``; what a range cannot express (a closing cue as
long as the session, a goal's target, two goals that contradict each other, a privacy key that typing or
the review window needs) is refused with a message in the window, never a traceback. Cancel changes
nothing; OK saves with :func:`app.settings.save_settings` (the only writer of ``settings.json``) and
leaves the saved settings in :attr:`SettingsDialog.saved`. Nothing here touches a session or the store.
"""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

from PySide6.QtCore import QKeyCombination, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.goals import GOAL_WORDS, goal_line, parse_goal, parse_goals
from app.library import FIGURE_BY_KEY
from app.settings import LIMITS, THEMES, Settings, goal_problems, save_settings, settings_problems

SESSION_TAB, PRIVACY_TAB, GOALS_TAB = range(3)
DIRECTIONS = (("at least", True), ("at most", False))
UNIT_SUFFIX = {"%": " %", "/h": " per hour", "s": " s"}
_NUMBER = re.compile(r"^[0-9]+(?:[.,][0-9]+)?$")  # a comma is a decimal point too (60,5)
# keys the app already uses with Ctrl (undo, redo, find, export, these settings): never the privacy key
_APP_KEYS = ("Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+Y", "Ctrl+F", "Ctrl+E", "Ctrl+,")

RETENTION_TEXT = (
    "Sessions that started longer ago than this keep only de-identified figures. Their recording is "
    "deleted, and so are the words: the transcript and the words in the session's event log. What stays: "
    "who spoke when (the turns), the cues, and the headline figures, so the library and its trends still "
    "show those sessions. It is applied when Attune starts (after you unlock it) and by "
    "\u201cattune sessions purge\u201d; each session reduced is written to the audit log. Nothing is "
    "deleted before the next start. On an SSD a deleted recording can linger on the disk, still encrypted, "
    "until the whole session is deleted (its key destroyed); full-disk encryption covers that.")
IDLE_TEXT = ("After this long without a key press or mouse use, Attune locks: its key is wiped from memory "
             "and every window is hidden until you type your passphrase. Never during a session.")
REANALYSE_TEXT = ("A session recorded live is analysed again, with the slower offline models, when you open "
                  "it for review; otherwise the review window offers it.")
GOALS_TEXT = ("A goal of your own shows as one muted line on the live dashboard (no colour, no alert) and as "
              "a dashed line on the library's trends. Talk shares and interruptions show where they stand "
              "during the session; latency and monologues are measured after it.")


def privacy_key_problem(seq: QKeySequence) -> str | None:
    """Why ``seq`` cannot be the privacy key (None when it can): it must be one key, and either a function
    key or a combination with Ctrl, Alt or Meta that the app does not use already; a plain key would
    blank the window while a note is typed, and the review window uses letters, Space and arrows."""
    if seq.isEmpty():
        return "Choose a key for the privacy blank (F12 unless you need that key for something else)."
    if seq.count() != 1:
        return "The privacy blank takes one key or one combination, not a sequence."
    combo: QKeyCombination = seq[0]
    key, mods = combo.key(), combo.keyboardModifiers()
    name = seq.toString(QKeySequence.SequenceFormat.NativeText)
    mod = Qt.KeyboardModifier
    command = mod.ControlModifier | mod.AltModifier | mod.MetaModifier
    if mods & command:
        if any(seq.matches(QKeySequence(k)) == QKeySequence.SequenceMatch.ExactMatch for k in _APP_KEYS):
            return f"{name} is already used by Attune; choose another combination for the privacy blank."
        return None
    if Qt.Key.Key_F1.value <= key.value <= Qt.Key.Key_F35.value:
        return None
    return (f"{name} alone is used for typing or by the review window; choose a function key (F1\u2013F12) "
            "or a combination such as Ctrl+Shift+B for the privacy blank.")


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setProperty("muted", True)
    return label


def _spin(name: str, value: float, suffix: str, scale: int = 1, special: str = "") -> QSpinBox:
    """A spin box over ``LIMITS[name]`` (times ``scale``: 100 for a share shown in %)."""
    lo, hi = LIMITS[name]
    spin = QSpinBox()
    spin.setRange(round(lo * scale), round(hi * scale))
    spin.setSuffix(suffix)
    spin.setValue(round(value * scale))
    if special:
        spin.setSpecialValueText(special)
    spin.setObjectName(name)
    return spin


class GoalRow(QWidget):
    """One goal: figure, direction, target, Remove; under it the goal in words, or what is wrong."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, spec: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        goal = parse_goal(spec) if spec else None
        self.figure = QComboBox()
        for key in GOAL_WORDS:
            self.figure.addItem(FIGURE_BY_KEY[key].noun.capitalize(), key)
        self.direction = QComboBox()
        for words, at_least in DIRECTIONS:
            self.direction.addItem(words, at_least)
        self.value = QLineEdit()
        self.value.setPlaceholderText("target")
        self.value.setMaximumWidth(90)
        self.unit = QLabel("")
        self.unit.setMinimumWidth(self.unit.fontMetrics().horizontalAdvance(" per hour") + 4)  # rows align
        self.remove = QPushButton("Remove")
        self.remove.setToolTip("Remove this goal")
        self.preview = QLabel("")
        self.preview.setWordWrap(True)
        if goal is not None:
            self.figure.setCurrentIndex(self.figure.findData(goal.figure))
            self.direction.setCurrentIndex(0 if goal.at_least else 1)
            self.value.setText(f"{goal.target:g}")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.figure)
        row.addWidget(self.direction)
        row.addWidget(self.value)
        row.addWidget(self.unit)
        row.addStretch(1)
        row.addWidget(self.remove)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 4)
        lay.setSpacing(2)
        lay.addLayout(row)
        lay.addWidget(self.preview)
        self.figure.currentIndexChanged.connect(self._update)
        self.direction.currentIndexChanged.connect(self._update)
        self.value.textChanged.connect(self._update)
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))
        self._update()

    def set_goal(self, figure: str, at_least: bool, value: str) -> None:
        """Fill the row as a user would (tests, and a new row's first choice)."""
        self.figure.setCurrentIndex(self.figure.findData(figure))
        self.direction.setCurrentIndex(0 if at_least else 1)
        self.value.setText(value)

    def spec(self) -> str | None:
        """The goal as the settings keep it (``client_talk_share>=60``); None while the target is not a
        number."""
        text = self.value.text().strip()
        if not _NUMBER.match(text):
            return None
        op = ">=" if self.direction.currentData() else "<="
        typed = f"{self.figure.currentData()}{op}{text.replace(',', '.')}"
        goal = parse_goal(typed)
        if goal is None:
            return None
        return goal.spec() if parse_goal(goal.spec()) == goal else typed  # "60" rather than "60.0"

    def problem(self) -> str | None:
        """What is wrong with this row alone (None when nothing is)."""
        noun = FIGURE_BY_KEY[self.figure.currentData()].noun
        text = self.value.text().strip()
        if not text:
            return f"Type a target for the goal on {noun}."
        spec = self.spec()
        if spec is None:
            return f"The target for {noun} must be a number, 0 or more (e.g. 60), not \u201c{text}\u201d."
        problems = goal_problems([spec])
        return problems[0] if problems else None

    def _update(self, *_args) -> None:
        self.unit.setText(UNIT_SUFFIX.get(FIGURE_BY_KEY[self.figure.currentData()].unit, ""))
        problem = self.problem()
        spec = self.spec()
        self.preview.setText(problem if problem else f"\u2192 {parse_goal(spec).text}")
        self.preview.setObjectName("nudge" if problem else "")  # amber when something is wrong, never red
        self.preview.setProperty("muted", not problem)
        self.preview.style().unpolish(self.preview)
        self.preview.style().polish(self.preview)
        self.changed.emit()


class SettingsDialog(QDialog):
    """The settings, edited as a copy: nothing is saved until OK, and only if every value is valid."""

    saved_settings = Signal(object)  # the Settings just saved

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Attune \u2014 Settings")
        self.settings = settings
        self.saved: Settings | None = None
        self.goal_rows: list[GoalRow] = []
        self._refused = False
        self.tabs = QTabWidget()
        self.tabs.addTab(self._session_tab(settings), "Session")
        self.tabs.addTab(self._privacy_tab(settings), "Privacy")
        self.tabs.addTab(self._goals_tab(settings), "Goals")
        self.message = QLabel("")
        self.message.setObjectName("nudge")
        self.message.setWordWrap(True)
        self.message.hide()
        std = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(std.Ok | std.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(std.Ok)
        self.cancel_button = buttons.button(std.Cancel)
        lay = QVBoxLayout(self)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(self.message)
        lay.addWidget(buttons)
        self.resize(700, 600)

    # -- tabs ----------------------------------------------------------------------------------------
    def _session_tab(self, s: Settings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.length_spin = _spin("session_minutes", s.session_minutes, " min")
        self.end_box = QCheckBox("Show a quiet cue near the end")
        self.end_box.setChecked(s.nudge_end)
        self.end_spin = _spin("end_cue_minutes", s.end_cue_minutes, " min before the end")
        self.nudges_box = QCheckBox("Gentle nudges (a colour change and one small line; never a sound)")
        self.nudges_box.setChecked(s.nudges)
        self.share_spin = _spin("nudge_talk_share", s.nudge_talk_share, " % of the last 5 min", scale=100)
        self.int_spin = _spin("nudge_interruptions", s.nudge_interruptions, " in the last 5 min")
        self.theme_combo = QComboBox()
        self.theme_combo.addItems(list(THEMES))
        self.theme_combo.setCurrentText(s.theme)
        self.strip_box = QCheckBox("The compact strip stays above other windows")
        self.strip_box.setChecked(s.strip_on_top)
        self.clinician_edit = QLineEdit(s.clinician)
        self.clinician_edit.setPlaceholderText("none (sessions are this installation's own)")
        self.clinician_edit.setMaxLength(80)
        self.clinician_edit.setToolTip("Recorded with each new session, so that the library's trends can be "
                                       "shown per clinician where several share one installation")
        self.key_edit = QKeySequenceEdit(QKeySequence(s.privacy_key))
        self.key_edit.setMaximumSequenceLength(1)
        self.key_edit.setClearButtonEnabled(True)
        self.key_edit.setToolTip("Click, then press the key (or combination) that blanks every Attune window")
        self.nudges_box.toggled.connect(self.share_spin.setEnabled)
        self.nudges_box.toggled.connect(self.int_spin.setEnabled)
        self.end_box.toggled.connect(self.end_spin.setEnabled)
        self.share_spin.setEnabled(s.nudges)
        self.int_spin.setEnabled(s.nudges)
        self.end_spin.setEnabled(s.nudge_end)
        form.addRow("Clinician (name or code)", self.clinician_edit)
        form.addRow("Planned session length", self.length_spin)
        form.addRow("", self.end_box)
        form.addRow("Closing cue", self.end_spin)
        form.addRow("", self.nudges_box)
        form.addRow("Nudge when I speak more than", self.share_spin)
        form.addRow("Nudge after interruptions", self.int_spin)
        form.addRow("Theme", self.theme_combo)
        form.addRow("", self.strip_box)
        form.addRow("Privacy blank key", self.key_edit)
        form.addRow(_note("The key blanks every Attune window at once; the same key shows them again. "
                          "The microphone is chosen when a session starts."))
        return page

    def _privacy_tab(self, s: Settings) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        self.retention_spin = _spin("retention_days", s.retention_days, " days", special="keep everything")
        self.retention_now = QLabel("")
        self.retention_now.setWordWrap(True)
        self.idle_spin = _spin("idle_lock_minutes", s.idle_lock_minutes, " min", special="never")
        self.reanalyse_box = QCheckBox("Re-analyse a live session at once when it is opened for review")
        self.reanalyse_box.setChecked(s.review_reanalyse)

        def labelled(text: str, field: QWidget) -> QHBoxLayout:
            row = QHBoxLayout()
            row.addWidget(QLabel(text))
            row.addWidget(field)
            row.addStretch(1)
            return row

        lay.addLayout(labelled("Keep recordings and words for", self.retention_spin))
        lay.addWidget(self.retention_now)
        lay.addWidget(_note(RETENTION_TEXT))
        lay.addSpacing(10)
        lay.addLayout(labelled("Lock after", self.idle_spin))
        lay.addWidget(_note(IDLE_TEXT))
        lay.addSpacing(10)
        lay.addWidget(self.reanalyse_box)
        lay.addWidget(_note(REANALYSE_TEXT))
        lay.addStretch(1)
        self.retention_spin.valueChanged.connect(self._update_retention)
        self._update_retention()
        return page

    def _goals_tab(self, s: Settings) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addWidget(_note(GOALS_TEXT))
        self.goal_list = QWidget()
        self.goal_layout = QVBoxLayout(self.goal_list)
        self.goal_layout.setContentsMargins(0, 0, 0, 0)
        self.goal_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.goal_list)
        self.add_goal_button = QPushButton("Add a goal")
        self.add_goal_button.clicked.connect(lambda: self.add_goal())
        self.no_goals = _note("No goals yet.")
        self.goal_preview = QLabel("")
        self.goal_preview.setWordWrap(True)
        self.goal_preview.setProperty("muted", True)
        self.goal_preview.setObjectName("goal")
        lay.addWidget(self.no_goals)
        lay.addWidget(scroll, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_goal_button)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addWidget(QLabel("On the live dashboard:"))
        lay.addWidget(self.goal_preview)
        for spec in s.goals:
            self.add_goal(spec)
        self._update_goals()
        return page

    # -- goals ---------------------------------------------------------------------------------------
    def add_goal(self, spec: str | None = None) -> GoalRow:
        row = GoalRow(spec)
        row.changed.connect(self._update_goals)
        row.remove_requested.connect(self.remove_goal)
        self.goal_layout.insertWidget(len(self.goal_rows), row)
        self.goal_rows.append(row)
        if spec is None:
            row.value.setFocus()
        self._update_goals()
        return row

    def remove_goal(self, row: GoalRow) -> None:
        if row in self.goal_rows:
            self.goal_rows.remove(row)
            row.setParent(None)
            row.deleteLater()
        self._update_goals()

    def goal_specs(self) -> list[str]:
        return [spec for spec in (row.spec() for row in self.goal_rows) if spec is not None]

    def _update_goals(self) -> None:
        self.no_goals.setVisible(not self.goal_rows)
        valid = [row.spec() for row in self.goal_rows if row.problem() is None]
        line = goal_line(parse_goals(valid), SimpleNamespace(t=0.0, people=()))
        self.goal_preview.setText(line or "(nothing: the line is hidden without goals)")
        if self._refused:  # OK was refused: the message follows the edits (gone once all is well)
            self._show_problems(self.problems())

    def _show_problems(self, problems: list[tuple[int, str]]) -> None:
        self.show_message("Not saved: " + " ".join(dict.fromkeys(p for _tab, p in problems)) if problems else "")

    # -- privacy -------------------------------------------------------------------------------------
    def _update_retention(self, *_args) -> None:
        days = self.retention_spin.value()
        if days <= 0:
            self.retention_now.setText("Every recording and transcript is kept until you delete the session.")
            return
        cutoff = dt.date.today() - dt.timedelta(days=days)
        self.retention_now.setText(f"Today that means sessions started before {cutoff.day} "
                                   f"{cutoff.strftime('%B %Y')}.")

    # -- result --------------------------------------------------------------------------------------
    def chosen_settings(self) -> Settings:
        """The settings as the window shows them (not checked; :meth:`problems` says what is wrong)."""
        return self.settings.with_(
            session_minutes=self.length_spin.value(), nudge_end=self.end_box.isChecked(),
            end_cue_minutes=self.end_spin.value(), nudges=self.nudges_box.isChecked(),
            nudge_talk_share=self.share_spin.value() / 100, nudge_interruptions=self.int_spin.value(),
            theme=self.theme_combo.currentText(), strip_on_top=self.strip_box.isChecked(),
            privacy_key=self.key_edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText),
            retention_days=self.retention_spin.value(), idle_lock_minutes=self.idle_spin.value(),
            review_reanalyse=self.reanalyse_box.isChecked(), goals=tuple(self.goal_specs()),
            clinician=self.clinician_edit.text().strip())

    def problems(self) -> list[tuple[int, str]]:
        """(tab, message) for everything that keeps OK from saving, in the order of the tabs."""
        out: list[tuple[int, str]] = []
        key = privacy_key_problem(self.key_edit.keySequence())
        if key:
            out.append((SESSION_TAB, key))
        out += [(SESSION_TAB, p) for p in settings_problems(self.chosen_settings().with_(goals=()))]
        rows = [p for p in (row.problem() for row in self.goal_rows) if p]
        out += [(GOALS_TAB, p) for p in rows]
        if not rows:  # every row is a goal: are they possible together?
            out += [(GOALS_TAB, p) for p in goal_problems(self.goal_specs())]
        return out

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def accept(self) -> None:
        """Save and close when every value is valid; otherwise say what is wrong and stay open."""
        problems = self.problems()
        if problems:
            self.tabs.setCurrentIndex(problems[0][0])
            self._refused = True
            self._show_problems(problems)
            return
        settings = self.chosen_settings()
        try:
            save_settings(settings)
        except OSError as exc:
            self.show_message(f"The settings could not be saved: {exc.strerror or exc}.")
            return
        self.saved = settings
        self.show_message("")
        self.saved_settings.emit(settings)
        super().accept()
