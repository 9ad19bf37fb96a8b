"""The desktop window: a quiet start page, the live view, the compact strip and the privacy blank.

The window owns a :class:`~app.qt_worker.SessionController` (the pipeline runs on its QThread) and a
repaint timer (~12 Hz) that renders the controller's latest snapshot. One key (F12 by default, set in
the settings) blanks every window of the app at once and shows it again, pressed in any of them: the
main window, the compact strip, the start and summary dialogs, the file picker (each window of the app
gets the key when it first gains focus; a modal dialog cannot block it).

Replaying a recording is a review, not a session (:meth:`MainWindow.start_review`, "Replay a
recording…" on the start page, ``attune --play FILE``): no consent is asked, nothing is added to the
sessions folder, and the pipeline's working folder is private and deleted when the review ends.

"Sessions…" lists the recorded sessions, newest first (:mod:`ui.sessions_dialog`), and opens one in the
review window (:mod:`ui.review_window`); "Open recording…" opens any audio file there, analysed in the
background with a progress bar and Cancel. A review window gets the privacy key like every other window
of the app: the blank hides it too.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCursor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
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
    update_session,
)
from app.settings import Settings, load_settings, save_settings
from ui import gc_guard
from ui import theme as themes
from ui.card_menu import card_menu
from ui.idle_lock import IdleLock
from ui.live_view import LiveView
from ui.recovery_bar import RecoveryBar
from ui.start_dialog import StartDialog
from ui.strip import StripWindow
from ui.summary_dialog import SummaryDialog

log = logging.getLogger(__name__)

REPAINT_MS = 80  # ~12 Hz
AUDIO_FILTER = "Audio (*.wav *.flac *.mp3 *.m4a *.ogg *.opus *.aac *.mp4 *.mkv);;All files (*)"
PRIVACY_PROPERTY = "_attune_privacy_key"
# Keys Qt's own file dialog keeps in QtProject.conf: the last folder, the history of folders.
QT_FILE_DIALOG_KEYS = ("FileDialog/lastVisited", "FileDialog/history")


def documents_dir() -> str:
    """The user's documents folder (the file picker starts there, never in the current folder)."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return docs if docs and Path(docs).is_dir() else str(Path.home())


def forget_file_dialog_history() -> None:
    """Remove the last folder and the folder history Qt's file dialog writes to its own config
    (``QtProject.conf``): no recording's path stays behind."""
    qs = QSettings(QSettings.Scope.UserScope, "QtProject")
    for key in QT_FILE_DIALOG_KEYS:
        qs.remove(key)
    qs.sync()


class MainWindow(QMainWindow):
    session_started = Signal()
    session_saved = Signal(str)  # the session folder
    review_finished = Signal()  # a replayed recording ended (nothing was saved)
    blank_changed = Signal(bool)

    def __init__(self, settings: Settings | None = None, controller: SessionController | None = None,
                 probe_level: bool = True, file_speed: float = 1.0) -> None:
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
        self.file_dialog: QFileDialog | None = None
        self.card_menu: QMenu | None = None
        self.review_dir: Path | None = None  # the private working folder of a review, if one runs
        self.review_windows: list = []  # open review windows (ui.review_window.ReviewWindow)
        self.sessions_dialog = None
        self.settings_dialog = None
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
        self.lock_page = self._build_lock_page()
        self.screen_stack.addWidget(self.lock_page)
        self.setCentralWidget(self.screen_stack)
        self._hidden_for_lock: list[QWidget] = []
        self.idle_lock = IdleLock(self.settings.idle_lock_minutes, busy=lambda: self.controller.running,
                                  on_lock=self.lock_app, parent=self)

        self.strip = StripWindow(self.theme, on_top=self.settings.strip_on_top)
        self.strip.expand_requested.connect(lambda: self.set_strip_mode(False))

        self.privacy_key = QKeySequence(self.settings.privacy_key)
        self.blank_shortcut = self.add_privacy_key(self)
        self.settings_action = QAction("Settings…", self)  # also the start page's button
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(self.show_settings)
        self.addAction(self.settings_action)
        self.settings_button.clicked.connect(self.settings_action.trigger)
        self.add_privacy_key(self.strip)
        app = QApplication.instance()
        if app is not None:  # every other window of the app gets the key when it first gains focus
            app.focusWindowChanged.connect(self._window_focused)

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

    # -- the idle lock (issue 13) -------------------------------------------------------------------
    def _build_lock_page(self) -> QWidget:
        page = QWidget()
        page.setObjectName("lockPage")
        lay = QVBoxLayout(page)
        lay.addStretch(1)
        self.lock_label = QLabel("Attune is locked. The sessions stay encrypted until you unlock it "
                                 "with your passphrase.")
        self.lock_label.setWordWrap(True)
        self.lock_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.unlock_button = QPushButton("Unlock…")
        self.unlock_button.clicked.connect(self.ask_unlock)
        lay.addWidget(self.lock_label)
        lay.addWidget(self.unlock_button, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(1)
        return page

    @property
    def locked(self) -> bool:
        return self.screen_stack.currentWidget() is self.lock_page

    def lock_app(self) -> None:
        """Lock now: the store closed and its key wiped; every other window of the app hidden until
        the passphrase is given again (a review window's contents come back as they were)."""
        from app.unlock import lock_app_store

        if self.locked:
            return
        lock_app_store()
        for window in QApplication.topLevelWidgets():
            if window.isVisible() and window not in (self, self.strip):
                if isinstance(window, QMenu):
                    window.close()
                else:
                    window.hide()
                    self._hidden_for_lock.append(window)
        if self.strip.isVisible():
            self.set_strip_mode(False)
        self.screen_stack.setCurrentWidget(self.lock_page)
        self.idle_lock.locked = True

    def unlock_with(self, passphrase: str) -> str | None:
        """Unlock with ``passphrase``: None when it worked, else the one-line reason."""
        from app.unlock import unlock_app_store
        from app.user_errors import message, user_error_types

        try:
            unlock_app_store(passphrase)
        except user_error_types() as exc:
            return message(exc)
        self.screen_stack.setCurrentWidget(self.blank if self.blanked else self.pages)
        hidden, self._hidden_for_lock = self._hidden_for_lock, []
        for window in hidden:
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                window.show()
        self.idle_lock.unlocked()
        return None

    def ask_unlock(self) -> None:
        from ui.unlock_dialog import ask_passphrase

        error = None
        while self.locked:
            passphrase = ask_passphrase(False, error, parent=self)
            if passphrase is None:
                return
            error = self.unlock_with(passphrase)

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
        self.replay_button = QPushButton("Replay a recording…")
        self.replay_button.setToolTip("Review a recording as if live: no consent is asked and no "
                                      "session is saved")
        self.replay_button.clicked.connect(self.choose_recording)
        self.sessions_button = QPushButton("Sessions…")
        self.sessions_button.setToolTip("The recorded sessions, newest first: open one to review it")
        self.sessions_button.clicked.connect(self.show_sessions)
        self.open_recording_button = QPushButton("Open recording…")
        self.open_recording_button.setToolTip("Review any recording: it is analysed first, in the background")
        self.open_recording_button.clicked.connect(self.choose_recording_for_review)
        self.library_button = QPushButton("Library…")
        self.library_button.setToolTip("Every session with its figures, filters and trends over time")
        self.library_button.clicked.connect(self.show_library)
        self.audit_button = QPushButton("Audit log…")
        self.audit_button.setToolTip("What was done with the sessions: unlock, open, export, delete, retention")
        self.audit_button.clicked.connect(self.show_audit)
        self.settings_button = QPushButton("Settings…")
        self.settings_button.setToolTip("Session, privacy and your goals (Ctrl+,)")
        self.idle_message = QLabel("")
        self.idle_message.setObjectName("status")
        self.idle_message.setWordWrap(True)
        lay.addWidget(title)
        lay.addWidget(sub)
        lay.addSpacing(12)
        starts = QHBoxLayout()
        starts.addWidget(self.start_button)
        starts.addWidget(self.replay_button)
        starts.addStretch(1)
        lay.addLayout(starts)
        reviews = QHBoxLayout()
        reviews.addWidget(self.sessions_button)
        reviews.addWidget(self.open_recording_button)
        reviews.addWidget(self.library_button)
        reviews.addWidget(self.audit_button)
        reviews.addStretch(1)
        reviews.addWidget(self.settings_button)
        lay.addLayout(reviews)
        lay.addWidget(self.idle_message)
        lay.addSpacing(16)

        form = QFormLayout()
        s = self.settings
        self.theme_combo = QComboBox()
        self.theme_combo.addItems(list(themes.THEMES))
        self.theme_combo.setCurrentText(s.theme)
        self.theme_combo.currentTextChanged.connect(self._settings_changed)
        self.nudges_box = QCheckBox("Gentle nudges (never a sound)")
        self.nudges_box.setToolTip("A colour change and one small line of text; never a sound or a pop-up")
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
        self.privacy_key_label = QLabel(f"press {s.privacy_key} (again to show)")
        form.addRow("Privacy blank", self.privacy_key_label)
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
        self.live_view.card_clicked.connect(self.show_card_menu)
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

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        screen = self.screen()
        if screen is not None:  # content never pushes the window past the screen
            self.setMaximumSize(screen.availableGeometry().size())

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
        self.add_privacy_key(dialog)
        self.controller.prepare()  # the analysis process starts now: at "Start" the microphone opens at once
        dialog.accepted.connect(lambda: self.start_session(dialog.config(), dialog.chosen_settings()))
        dialog.rejected.connect(lambda: self._set_idle_message(
            "No session started: the client did not agree." if dialog.declined else "No session started."))
        dialog.rejected.connect(self.controller.discard_prepared)
        dialog.finished.connect(lambda _code: self.activateWindow())  # the privacy key stays at hand
        dialog.open()
        if self.blanked:
            self._hide_for_blank(dialog)
        return dialog

    def _set_idle_message(self, text: str) -> None:
        self.idle_message.setText(text)

    @property
    def reviewing(self) -> bool:
        return self.review_dir is not None

    def start_session(self, config: SessionConfig, remember: Settings | None = None) -> bool:
        if not config.consent_analysis:
            self._set_idle_message("No session started: the client did not agree.")
            return False
        if self.controller.running:
            return False
        if remember is not None:
            self.settings = remember
            save_settings(self.settings)
        if config.is_file and self.file_speed != 1.0 and not self.reviewing:
            config = replace(config, speed=self.file_speed)
        self.config = config
        self.last_result = None
        self.live_view.start_session(self.settings, config.planned_s)
        self.live_view.set_transcript_visible(False)  # hidden until asked for, in every session
        self.loading_label.setText("Loading speech models…")
        self.loading_row.setVisible(True)
        self.stop_button.setEnabled(True)
        self.stop_button.setText("Stop review" if self.reviewing else "Stop session")
        self.pages.setCurrentWidget(self.live_page)
        self._shown = None
        self.controller.start(config)
        self.timer.start()
        self.session_started.emit()
        return True

    # -- the review window: sessions and recordings --------------------------------------------
    def show_sessions(self):
        """"Sessions…": the recorded sessions, newest first; the chosen one opens in a review window."""
        from ui.sessions_dialog import SessionsDialog

        dialog = SessionsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.sessions_dialog = dialog
        self.add_privacy_key(dialog)
        dialog.open_requested.connect(self.open_review_window)
        dialog.finished.connect(lambda _code: setattr(self, "sessions_dialog", None))
        dialog.open()
        if self.blanked:
            self._hide_for_blank(dialog)
        return dialog

    def show_audit(self):
        """"Audit log…": the store's audit entries, newest first (ui/audit_dialog.py)."""
        from ui.audit_dialog import AuditDialog

        dialog = AuditDialog(parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.add_privacy_key(dialog)
        dialog.open()
        if self.blanked:
            self._hide_for_blank(dialog)
        return dialog

    def show_settings(self):
        """"Settings…" (Ctrl+,): the settings window (ui/settings_dialog.py); what it saves applies here at
        once. Not while locked or blanked."""
        from ui.settings_dialog import SettingsDialog

        if self.locked or self.blanked:
            return None
        dialog = SettingsDialog(self.settings, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.settings_dialog = dialog
        self.add_privacy_key(dialog)
        dialog.saved_settings.connect(self.use_settings)
        dialog.finished.connect(lambda _code: setattr(self, "settings_dialog", None))
        dialog.open()
        return dialog

    def use_settings(self, settings: Settings) -> None:
        """Settings saved by the settings window: the start page's controls, the theme, the idle lock and
        the privacy key follow them (the next session and review windows read them when they start)."""
        self.settings = settings
        for widget, value in ((self.theme_combo, settings.theme), (self.nudges_box, settings.nudges),
                              (self.share_spin, round(100 * settings.nudge_talk_share)),
                              (self.int_spin, settings.nudge_interruptions),
                              (self.end_spin, settings.end_cue_minutes)):
            widget.blockSignals(True)  # the start page must not save its own copy over these
            if isinstance(widget, QComboBox):
                widget.setCurrentText(value)
            elif isinstance(widget, QCheckBox):
                widget.setChecked(value)
            else:
                widget.setValue(value)
            widget.blockSignals(False)
        self.live_view.settings = settings
        self.live_view.model.settings = settings
        self.apply_theme(settings.theme)
        on_top = Qt.WindowType.WindowStaysOnTopHint
        if bool(self.strip.windowFlags() & on_top) != settings.strip_on_top:  # (the strip is hidden here)
            self.strip.setWindowFlag(on_top, settings.strip_on_top)
        if self.idle_lock.minutes != settings.idle_lock_minutes:
            self.idle_lock.stop()
            self.idle_lock = IdleLock(settings.idle_lock_minutes, busy=lambda: self.controller.running,
                                      on_lock=self.lock_app, parent=self)
        key = QKeySequence(settings.privacy_key)
        if key != self.privacy_key:
            for window in QApplication.topLevelWidgets():
                if window.property(PRIVACY_PROPERTY):
                    for shortcut in window.findChildren(QShortcut):
                        if shortcut.key() == self.privacy_key:
                            shortcut.setKey(key)
            self.privacy_key = key
            self.blank_button.setText(f"Blank ({settings.privacy_key})")
            self.privacy_key_label.setText(f"press {settings.privacy_key} (again to show)")

    def show_library(self):
        """"Library…": every session with its figures, and the trends (ui/library_window.py)."""
        from ui.library_window import LibraryWindow

        window = LibraryWindow(theme=self.theme, open_session=self.open_review_window, goals=self.settings.goals)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.library_window = window
        self.add_privacy_key(window)
        window.show()
        if self.blanked:
            self._hide_for_blank(window)
        return window

    def choose_recording_for_review(self) -> QFileDialog:
        """"Open recording…": any audio file, opened in a review window (analysed there first)."""
        return self.choose_recording(review_window=True)

    def open_review_window(self, ref: str):
        """Open a session (store id or folder) or a recording in a review window; None (and a line on
        the start page) when it cannot be opened."""
        from app.review_session import ReviewError, open_review
        from ui.review_window import ReviewWindow

        try:
            session = open_review(ref)
        except ReviewError as exc:
            self._set_idle_message(f"Cannot open it for review: {exc}")
            return None
        except Exception as exc:  # a locked store, a damaged file: one line, never a traceback
            log.warning("review could not open: %s", type(exc).__name__)
            self._set_idle_message(f"Cannot open it for review: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return None
        window = ReviewWindow(session, self.theme, privacy_key=None)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.add_privacy_key(window)
        self.review_windows.append(window)
        window.destroyed.connect(lambda *_a, w=window: self._review_closed(w))
        window.show()
        if self.blanked:
            self._hide_for_blank(window)
        return window

    def _review_closed(self, window) -> None:
        with contextlib.suppress(ValueError):
            self.review_windows.remove(window)

    # -- reviewing a recording -----------------------------------------------------------------
    def choose_recording(self, review_window: bool = False) -> QFileDialog:
        """"Replay a recording…": Qt's own file picker (non-blocking, so the privacy key and the blank
        reach it), opened in the user's documents; the chosen file is replayed as a review (with
        ``review_window``: opened in the review window)."""
        title = "Open a recording for review" if review_window else "Replay a recording"
        dialog = QFileDialog(self, title, documents_dir(), AUDIO_FILTER)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # themed; no portal keeps history
        dialog.setHistory([])
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.setObjectName("replay_picker")
        self.file_dialog = dialog
        self.add_privacy_key(dialog)
        dialog.fileSelected.connect(lambda path: self.open_review_window(path) if review_window
                                    else self.start_review(path))
        dialog.destroyed.connect(lambda *_: forget_file_dialog_history())  # Qt saves it on destruction
        dialog.finished.connect(lambda _code: setattr(self, "file_dialog", None))
        dialog.open()
        if self.blanked:
            self._hide_for_blank(dialog)
        return dialog

    def start_review(self, path: str, speed: float | None = None, transcribe: bool = True) -> bool:
        """Replay a recording through the live pipeline, as if live. A review: no consent is asked
        (there is no client in the room), no session is created (the pipeline works in a private
        temporary folder, encrypted under a key held only in memory, deleted when the review ends),
        nothing is remembered."""
        if self.controller.running or not path:
            return False
        folder = Path(tempfile.mkdtemp(prefix="attune-review-"))  # 0700
        self.review_dir = folder
        config = SessionConfig(source=f"file:{path}", planned_s=self.settings.session_minutes * 60.0,
                               consent_analysis=True,  # the clinician's own recording, not a client's session
                               keep_audio=False, keep_transcript=transcribe, transcribe=transcribe,
                               realtime=True, speed=max(0.1, speed if speed is not None else self.file_speed),
                               session_dir=str(folder / "review"), ephemeral=True)
        if not self.start_session(config):
            self._end_review()
            return False
        self.loading_label.setText(f"Replaying {Path(path).name} (a review: nothing is saved)…")
        return True

    def _end_review(self) -> None:
        folder, self.review_dir = self.review_dir, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
            self.review_finished.emit()

    # -- during a session ----------------------------------------------------------------------
    def _on_status(self, status: str) -> None:
        if status == "loading models":
            if not self.reviewing:
                self.loading_label.setText("Loading speech models…")
        elif status == "finishing":
            self.loading_label.setText("Finishing the transcript and saving…" if not self.reviewing
                                       else "Finishing the review…")
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
            self.strip.show_input(self.live_view.input_message)
            self.strip.show_cues(cues)

    def _rerender(self) -> None:
        self._shown = None
        self.repaint_state()

    def stop_session(self) -> None:
        if self.controller.running:
            self.stop_button.setEnabled(False)
            self.stop_button.setText("Stopping…" if self.reviewing else "Saving…")
            self.controller.stop()

    def swap_roles(self) -> None:
        if self.live_view.cues is not None:
            self.live_view.model.swap_roles(self.live_view.cues.people)
            self._rerender()

    # -- whose voice is it: the card menu ------------------------------------------------------
    def show_card_menu(self, card_id: str) -> QMenu | None:
        """A card was clicked: whose voice is it (:mod:`ui.card_menu`)."""
        menu = card_menu(self, self.live_view.cues, self.live_view.model, card_id, self._rerender)
        if menu is not None:
            self.card_menu = menu
            self.add_privacy_key(menu)
            menu.popup(QCursor.pos())
        return menu

    def _roles(self) -> dict[str, str]:
        return self.live_view.model.saved_roles() if self.live_view.cues else {}

    def _merged_voices(self) -> dict[str, str]:
        model = self.live_view.model
        cues = self.live_view.cues
        return {p.id: model.target(p.id) for p in (cues.people if cues else ()) if model.target(p.id) != p.id}

    # -- the end of a session ------------------------------------------------------------------
    def _on_finished(self, result: SessionResult) -> None:
        self.timer.stop()
        self.last_result = result
        self._shown = None
        if result.state is not None:
            self.controller.latest = result.state
            self.repaint_state()
        self.loading_row.setVisible(False)
        self.stop_button.setEnabled(False)
        self.stop_button.setText("Review ended" if self.reviewing else "Saved")
        self.set_strip_mode(False)
        if self._closing:
            self._save(result, "")
            self.close()
            return
        cues = self.live_view.cues
        if cues is None:
            self._save(result, "")
            self._back_to_idle(self._done_message(result))
            return
        where = "Attune's encrypted store" if result.session is not None else str(result.session_dir)
        dialog = SummaryDialog(cues, where, bool(self.config and self.config.keep_audio),
                               self, timeline=result.timeline, review=self.reviewing,
                               keep_transcript=bool(self.config and self.config.keep_transcript))
        self.summary_dialog = dialog
        self.add_privacy_key(dialog)
        dialog.finished.connect(lambda _code: self._summary_done(dialog, result))
        dialog.open()
        if self.blanked:
            self._hide_for_blank(dialog)

    def _done_message(self, result: SessionResult) -> str:
        if self.reviewing:
            return "Review ended: nothing was saved."
        if result.session is not None:
            return "Session saved, encrypted."
        return f"Session saved in {result.session_dir}"

    def _summary_done(self, dialog: SummaryDialog, result: SessionResult) -> None:
        if self.summary_dialog is not dialog:
            return
        self.summary_dialog = None
        message = self._done_message(result)
        self._save(result, dialog.note_text())
        self._back_to_idle(message)

    def _save(self, result: SessionResult, note: str) -> None:
        if self.reviewing:  # a review keeps nothing
            self._end_review()
            return
        s = self.settings
        save_after_session(result.target, note, self._roles(),
                           {k: v for k, v in asdict(s).items() if k.startswith("nudge")})
        merged = self._merged_voices()
        if merged:
            update_session(result.target, merged_voices=merged)
        self.session_saved.emit(str(result.session_dir))

    def _back_to_idle(self, message: str) -> None:
        self.pages.setCurrentWidget(self.idle_page)
        self._set_idle_message(message)

    def _on_failed(self, message: str) -> None:
        self.timer.stop()
        self.set_strip_mode(False)
        self.loading_row.setVisible(False)
        reviewing = self.reviewing
        self._end_review()
        if message == "cancelled":
            text = "The review was stopped before it began." if reviewing else \
                "The session was stopped before it began."
        else:
            text = f"The recording could not be replayed: {message}" if reviewing else \
                f"The session could not run: {message}"
        self._back_to_idle(text)
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

    def add_privacy_key(self, window: QWidget) -> QShortcut | None:
        """Give ``window`` the privacy key (once). Each window has its own shortcut, active while that
        window has focus: a modal dialog cannot block it, and a hidden main window needs none."""
        existing = window.property(PRIVACY_PROPERTY)
        if existing:
            return None
        shortcut = QShortcut(self.privacy_key, window)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(self.toggle_blank)
        window.setProperty(PRIVACY_PROPERTY, True)
        return shortcut

    def _window_focused(self, qwindow) -> None:
        widget = QApplication.activeWindow() or QApplication.activePopupWidget()
        if widget is not None and qwindow is not None:
            self.add_privacy_key(widget)

    def toggle_blank(self) -> None:
        self.set_blank(not self.blanked)

    def _hide_for_blank(self, window: QWidget) -> None:
        window.hide()
        if window not in self._hidden_for_blank:
            self._hidden_for_blank.append(window)

    def set_blank(self, blank: bool) -> None:
        """Hide (or show again) every text of the app at once: window, strip and every other window
        of the app (dialogs, the file picker, a card's menu). Nothing to do while locked: the lock
        page shows nothing of a session, and the windows it hid come back only with the passphrase."""
        if blank == self.blanked or self.locked:
            return
        self.blanked = blank
        self.screen_stack.setCurrentWidget(self.blank if blank else self.pages)
        self.strip.set_blank(blank)
        if blank:
            for window in QApplication.topLevelWidgets():
                if window.isVisible() and window not in (self, self.strip):
                    if isinstance(window, QMenu):
                        window.close()  # a menu is not worth bringing back
                    else:
                        self._hide_for_blank(window)
            focus = self.strip if self.strip.isVisible() else self
            focus.activateWindow()  # the key must reach an Attune window to show everything again
        else:
            hidden, self._hidden_for_blank = self._hidden_for_blank, []
            for window in hidden:
                with contextlib.suppress(RuntimeError):  # closed meanwhile
                    window.show()
                    window.activateWindow()
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
        self._end_review()
        for window in list(self.review_windows):
            with contextlib.suppress(RuntimeError):
                window.close()
        self.controller.discard_prepared()
        self.timer.stop()
        self.idle_lock.stop()  # a closed window never locks the app afterwards (its filter is app-wide)
        self.strip.close()
        app = QApplication.instance()
        if app is not None:
            with contextlib.suppress(RuntimeError, TypeError):
                app.focusWindowChanged.disconnect(self._window_focused)
        save_settings(self.settings)
        event.accept()

    def shutdown(self) -> None:
        """Last-resort join at application exit."""
        self.idle_lock.stop()
        self.controller.shutdown()
        self._end_review()

