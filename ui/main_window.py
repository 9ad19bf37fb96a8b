"""The desktop window: a quiet start page, the live view, the compact strip and the privacy blank.

The window owns a :class:`~app.qt_worker.SessionController` (the pipeline runs on its QThread) and a
repaint timer (~12 Hz) that renders the controller's latest snapshot. One key (F12 by default, set in
the settings) blanks every window of the app at once and shows it again.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.qt_worker import (
    SessionConfig,
    SessionController,
    SessionResult,
    save_after_session,
)
from app.settings import Settings, load_settings, save_settings
from ui import gc_guard
from ui import theme as themes
from ui.live_view import LiveView
from ui.recovery_bar import RecoveryBar
from ui.start_dialog import StartDialog
from ui.strip import StripWindow
from ui.summary_dialog import SummaryDialog

log = logging.getLogger(__name__)

REPAINT_MS = 80  # ~12 Hz


class MainWindow(QMainWindow):
    session_started = Signal()
    session_saved = Signal(str)  # the session folder
    blank_changed = Signal(bool)

    def __init__(self, settings: Settings | None = None, controller: SessionController | None = None,
                 probe_level: bool = True, file_speed: float = 1.0) -> None:
        gc_guard.guard_pyside_refcounts()  # before any painting (see ui.gc_guard)
        super().__init__()
        gc_guard.install()  # cyclic garbage is collected on this thread only
        self.file_speed = file_speed  # replay speed of recordings chosen in the start dialog
        self.settings = settings or load_settings()
        self.theme = themes.theme(self.settings.theme)
        self.controller = controller or SessionController(self)
        self.probe_level = probe_level
        self.config: SessionConfig | None = None
        self.start_dialog: StartDialog | None = None
        self.summary_dialog: SummaryDialog | None = None
        self.last_result: SessionResult | None = None
        self.blanked = False
        self._closing = False
        self._shown = None
        self._hidden_for_blank: list[QWidget] = []
        self.setWindowTitle("Attune")

        self.pages = QStackedWidget()
        self.idle_page = self._build_idle_page()
        self.live_page = self._build_live_page()
        self.pages.addWidget(self.idle_page)
        self.pages.addWidget(self.live_page)
        self.blank = QWidget()
        self.blank.setObjectName("blank")
        self.blank.setToolTip("")
        self.screen_stack = QStackedWidget()
        self.screen_stack.addWidget(self.pages)
        self.screen_stack.addWidget(self.blank)
        self.setCentralWidget(self.screen_stack)

        self.strip = StripWindow(self.theme, on_top=self.settings.strip_on_top)
        self.strip.expand_requested.connect(lambda: self.set_strip_mode(False))

        self.blank_shortcut = QShortcut(QKeySequence(self.settings.privacy_key), self)
        self.blank_shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self.blank_shortcut.activated.connect(self.toggle_blank)

        self.timer = QTimer(self)
        self.timer.setInterval(REPAINT_MS)
        self.timer.timeout.connect(self.repaint_state)

        self.controller.status.connect(self._on_status)
        self.controller.ready.connect(self._on_ready)
        self.controller.finished.connect(self._on_finished)
        self.controller.failed.connect(self._on_failed)
        self.resize(760, 560)
        self.apply_theme(self.settings.theme)
        QTimer.singleShot(0, self.recovery_bar.scan)  # interrupted sessions, looked for off the GUI thread

    # -- pages ---------------------------------------------------------------------------------
    def _build_idle_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(28, 24, 28, 24)
        self.recovery_bar = RecoveryBar()  # hidden unless a crash left a session behind
        lay.addWidget(self.recovery_bar)
        title = QLabel("Attune")
        title.setProperty("role", "big")
        sub = QLabel("A quiet mirror of the conversation, for your eyes only. "
                     "It listens on this computer; nothing leaves it.")
        sub.setWordWrap(True)
        sub.setProperty("muted", True)
        self.start_button = QPushButton("Start a session…")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.begin_session)
        self.idle_message = QLabel("")
        self.idle_message.setObjectName("status")
        self.idle_message.setWordWrap(True)
        lay.addWidget(title)
        lay.addWidget(sub)
        lay.addSpacing(12)
        lay.addWidget(self.start_button, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(self.idle_message)
        lay.addSpacing(16)

        form = QFormLayout()
        s = self.settings
        self.theme_combo = QComboBox()
        self.theme_combo.addItems(list(themes.THEMES))
        self.theme_combo.setCurrentText(s.theme)
        self.theme_combo.currentTextChanged.connect(self._settings_changed)
        self.nudges_box = QCheckBox("Gentle nudges (a colour change and a small line, never a sound)")
        self.nudges_box.setChecked(s.nudges)
        self.nudges_box.toggled.connect(self._settings_changed)
        self.share_spin = QSpinBox()
        self.share_spin.setRange(50, 95)
        self.share_spin.setSuffix(" % of the last 5 min")
        self.share_spin.setValue(round(100 * s.nudge_talk_share))
        self.share_spin.valueChanged.connect(self._settings_changed)
        self.int_spin = QSpinBox()
        self.int_spin.setRange(1, 20)
        self.int_spin.setSuffix(" in the last 5 min")
        self.int_spin.setValue(s.nudge_interruptions)
        self.int_spin.valueChanged.connect(self._settings_changed)
        self.end_spin = QSpinBox()
        self.end_spin.setRange(0, 30)
        self.end_spin.setSuffix(" min before the end")
        self.end_spin.setValue(s.end_cue_minutes)
        self.end_spin.valueChanged.connect(self._settings_changed)
        form.addRow("Theme", self.theme_combo)
        form.addRow("", self.nudges_box)
        form.addRow("Nudge when I speak", self.share_spin)
        form.addRow("Nudge after interruptions", self.int_spin)
        form.addRow("Closing cue", self.end_spin)
        form.addRow("Privacy blank", QLabel(f"press {s.privacy_key} (again to show)"))
        lay.addLayout(form)
        lay.addStretch(1)
        return page

    def _build_live_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 8)
        lay.setSpacing(0)
        self.loading_row = QWidget()
        row = QHBoxLayout(self.loading_row)
        row.setContentsMargins(16, 8, 16, 0)
        self.loading_label = QLabel("Loading speech models…")
        self.loading_label.setObjectName("status")
        self.loading_bar = QProgressBar()
        self.loading_bar.setRange(0, 0)
        self.loading_bar.setTextVisible(False)
        self.loading_bar.setFixedHeight(6)
        row.addWidget(self.loading_label)
        row.addWidget(self.loading_bar, 1)
        lay.addWidget(self.loading_row)
        self.live_view = LiveView(self.settings, theme=self.theme)
        lay.addWidget(self.live_view, 1)
        controls = QHBoxLayout()
        controls.setContentsMargins(16, 0, 16, 0)
        self.strip_button = QPushButton("Compact strip")
        self.strip_button.setToolTip("A small always-on-top strip; double-click it to come back")
        self.strip_button.clicked.connect(lambda: self.set_strip_mode(True))
        self.blank_button = QPushButton(f"Blank ({self.settings.privacy_key})")
        self.blank_button.setToolTip("Hide everything at once; the same key shows it again")
        self.blank_button.clicked.connect(self.toggle_blank)
        self.swap_button = QPushButton("Swap roles")
        self.swap_button.setToolTip("If the client's voice was taken for yours, swap them")
        self.swap_button.clicked.connect(self.swap_roles)
        self.stop_button = QPushButton("Stop session")
        self.stop_button.clicked.connect(self.stop_session)
        for b in (self.strip_button, self.blank_button, self.swap_button):
            controls.addWidget(b)
        controls.addStretch(1)
        controls.addWidget(self.stop_button)
        lay.addLayout(controls)
        return page

    # -- settings and theme --------------------------------------------------------------------
    def _settings_changed(self, *_args) -> None:
        self.settings = self.settings.with_(
            theme=self.theme_combo.currentText(), nudges=self.nudges_box.isChecked(),
            nudge_talk_share=self.share_spin.value() / 100, nudge_interruptions=self.int_spin.value(),
            end_cue_minutes=self.end_spin.value())
        save_settings(self.settings)
        self.live_view.settings = self.settings
        self.live_view.model.settings = self.settings
        self.apply_theme(self.settings.theme)

    def apply_theme(self, name: str) -> None:
        self.theme = themes.theme(name)
        app = QApplication.instance()
        if app is not None:
            themes.apply(app, self.theme)
        self.live_view.set_theme(self.theme)
        self.strip.set_theme(self.theme)

    # -- session flow --------------------------------------------------------------------------
    def begin_session(self) -> StartDialog:
        """Open the start dialog (non-blocking); the session starts when it is accepted."""
        dialog = StartDialog(self.settings, self, self.theme, probe_level=self.probe_level)
        self.start_dialog = dialog
        dialog.accepted.connect(lambda: self.start_session(dialog.config(), dialog.chosen_settings()))
        dialog.rejected.connect(lambda: self._set_idle_message(
            "No session started: the client did not agree." if dialog.declined else "No session started."))
        dialog.open()
        return dialog

    def _set_idle_message(self, text: str) -> None:
        self.idle_message.setText(text)

    def start_session(self, config: SessionConfig, remember: Settings | None = None) -> bool:
        if not config.consent_analysis:
            self._set_idle_message("No session started: the client did not agree.")
            return False
        if self.controller.running:
            return False
        if remember is not None:
            self.settings = remember
            save_settings(self.settings)
        if config.is_file and self.file_speed != 1.0:
            config = replace(config, speed=self.file_speed)
        self.config = config
        self.live_view.start_session(self.settings, config.planned_s)
        self.loading_label.setText("Loading speech models…")
        self.loading_row.setVisible(True)
        self.stop_button.setEnabled(True)
        self.stop_button.setText("Stop session")
        self.pages.setCurrentWidget(self.live_page)
        self._shown = None
        self.controller.start(config)
        self.timer.start()
        self.session_started.emit()
        return True

    def _on_status(self, status: str) -> None:
        if status == "loading models":
            self.loading_label.setText("Loading speech models…")
        elif status == "finishing":
            self.loading_label.setText("Finishing the transcript and saving…")
            self.loading_row.setVisible(True)
        self.live_view.status_label.setText(status)

    def _on_ready(self) -> None:
        self.loading_row.setVisible(False)

    def repaint_state(self) -> None:
        """Timer tick: render the latest snapshot if it changed."""
        state = self.controller.latest
        if state is None or state is self._shown:
            return
        self._shown = state
        cues = self.live_view.show_state(state)
        if self.strip.isVisible():
            self.strip.show_cues(cues)

    def stop_session(self) -> None:
        if self.controller.running:
            self.stop_button.setEnabled(False)
            self.stop_button.setText("Saving…")
            self.controller.stop()

    def swap_roles(self) -> None:
        if self.live_view.cues is not None:
            self.live_view.model.swap_roles(self.live_view.cues.people)
            self._shown = None
            self.repaint_state()

    def _roles(self) -> dict[str, str]:
        cues = self.live_view.cues
        return {p.id: p.role for p in cues.people if p.role} if cues else {}

    def _on_finished(self, result: SessionResult) -> None:
        self.timer.stop()
        self.last_result = result
        self._shown = None
        if result.state is not None:
            self.controller.latest = result.state
            self.repaint_state()
        self.loading_row.setVisible(False)
        self.set_strip_mode(False)
        if self._closing:
            self._save(result, "")
            self.close()
            return
        cues = self.live_view.cues
        if cues is None:
            self._save(result, "")
            self._back_to_idle(f"Session saved in {result.session_dir}")
            return
        dialog = SummaryDialog(cues, str(result.session_dir), bool(self.config and self.config.keep_audio), self)
        self.summary_dialog = dialog
        dialog.finished.connect(lambda _code: self._summary_done(dialog, result))
        dialog.open()
        if self.blanked:
            dialog.hide()
            self._hidden_for_blank.append(dialog)

    def _summary_done(self, dialog: SummaryDialog, result: SessionResult) -> None:
        if self.summary_dialog is not dialog:
            return
        self.summary_dialog = None
        self._save(result, dialog.note_text())
        self._back_to_idle(f"Session saved in {result.session_dir}")

    def _save(self, result: SessionResult, note: str) -> None:
        s = self.settings
        save_after_session(result.session_dir, note, self._roles(),
                           {k: v for k, v in asdict(s).items() if k.startswith("nudge")})
        self.session_saved.emit(str(result.session_dir))

    def _back_to_idle(self, message: str) -> None:
        self.pages.setCurrentWidget(self.idle_page)
        self._set_idle_message(message)

    def _on_failed(self, message: str) -> None:
        self.timer.stop()
        self.set_strip_mode(False)
        self.loading_row.setVisible(False)
        self._back_to_idle("The session was stopped before it began." if message == "cancelled"
                           else f"The session could not run: {message}")
        if self._closing:
            self.close()

    # -- strip and privacy blank ---------------------------------------------------------------
    def set_strip_mode(self, on: bool) -> None:
        if on and self.pages.currentWidget() is self.live_page:
            screen = self.screen().availableGeometry() if self.screen() else None
            if screen is not None:
                self.strip.move(screen.center().x() - self.strip.width() // 2, screen.top() + 8)
            if self.live_view.cues is not None:
                self.strip.show_cues(self.live_view.cues)
            self.strip.set_blank(self.blanked)
            self.strip.show()
            self.hide()
        elif not on and self.strip.isVisible():
            self.strip.hide()
            self.show()

    def toggle_blank(self) -> None:
        self.set_blank(not self.blanked)

    def set_blank(self, blank: bool) -> None:
        """Hide (or show again) every text of the app at once: window, strip and open dialogs."""
        if blank == self.blanked:
            return
        self.blanked = blank
        self.screen_stack.setCurrentWidget(self.blank if blank else self.pages)
        self.strip.set_blank(blank)
        if blank:
            for dialog in (self.start_dialog, self.summary_dialog):
                if dialog is not None and dialog.isVisible():
                    dialog.hide()
                    self._hidden_for_blank.append(dialog)
        else:
            for dialog in self._hidden_for_blank:
                dialog.show()
            self._hidden_for_blank = []
        self.blank_changed.emit(blank)

    # -- closing -------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802
        if self.controller.running:
            # closing mid-session: stop, save what was heard, then close (the UI stays responsive)
            self._closing = True
            self.controller.stop()
            event.ignore()
            return
        if self.summary_dialog is not None and self.last_result is not None:
            dialog, self.summary_dialog = self.summary_dialog, None
            self._save(self.last_result, dialog.note_text())
            dialog.close()
        self.timer.stop()
        self.strip.close()
        save_settings(self.settings)
        event.accept()

    def shutdown(self) -> None:
        """Last-resort join at application exit."""
        self.controller.shutdown()
