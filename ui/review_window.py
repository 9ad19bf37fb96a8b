"""The review window (issue 14): a recorded session on one time axis, with playback, its transcript,
notes and bookmarks, and corrections that recompute the cues at once.

It reads and writes only through :class:`app.review_session.ReviewSession` (plain files today, the
encrypted store later). A session folder opens at once from its timeline; an audio file opened
directly is analysed first on a QThread (:class:`app.review_worker.AnalysisJob`) with a progress bar
and Cancel. The recording is decoded once, on another QThread, to a private 16 kHz mono WAV (0600, in
a 0700 temporary folder deleted when the window closes) that the player seeks exactly.

Keys: Space play/pause, Left/Right -/+5 s, +/- zoom, F follow the playhead, B bookmark at the playhead,
N note at the playhead, Ctrl+Z undo, Ctrl+Shift+Z / Ctrl+Y redo, Ctrl+F search, [ / ] previous/next
marker of the chosen kind, R replay the current turn, Ctrl+E export (ui/export_dialog.py), the privacy
key (F12 by default, the settings' ``privacy_key``) blanks the window and pauses playback (opened from
the app, the app's own blank hides this window with the others). A session recorded live offers its
review-quality re-analysis (or runs it at once: the settings' ``review_reanalyse``). Nothing here logs
transcript text.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, QThread, QUrl, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from analysis.timeline import Timeline
from app.review_session import NOTE_CATEGORIES, ReviewSession, markers, next_marker, speaker_label
from app.review_worker import AnalysisJob, DecodeJob, ReanalysisJob, StoreDecodeJob, start_job
from ui import theme as themes
from ui.review_player import SPEEDS, make_player
from ui.review_timeline import MARKER_KINDS, MARKER_LABELS, ReviewTimeline, fmt_time

log = logging.getLogger(__name__)
JUMP_S = 5.0
STOP_WAIT_MS = 5000
ORPHANS: list = []  # (QThread, job) of closed windows whose job had not stopped yet


def wait_for_orphans(timeout_s: float = 30.0) -> bool:
    """Wait for the jobs of closed windows to stop (before the process exits); True when all did."""
    import time

    end = time.monotonic() + timeout_s
    for th, _job in ORPHANS:
        th.wait(max(0, int((end - time.monotonic()) * 1000)))
    return all(th.isFinished() for th, _job in ORPHANS)
STAGE_WEIGHTS = {"decode": (0.0, 0.1), "diarize": (0.1, 0.35), "transcribe": (0.45, 0.55)}
PRIVACY_PROPERTY = "_attune_privacy_key"  # the same property as ui.main_window: one privacy key per window


# one colour per note category (NOTE_CATEGORIES order), readable on the dark and the light theme
NOTE_CATEGORY_COLOURS = ("#d08a3a", "#c05a6e", "#4fa39a", "#8a7fd0", "#6f9fd8")

class ReviewWindow(QMainWindow):
    BACKGROUND_MIN_S = 600.0  # s: the cues of a longer session are recomputed on a QThread
    timeline_shown = Signal()  # the lanes, transcript and figures are up to date
    audio_ready = Signal()  # the decoded audio is loaded in the player
    analysis_failed = Signal(str)
    rediarized = Signal()  # a re-diarization was applied (a correction)

    blank_changed = Signal(bool)
    reanalysed = Signal()  # the review-quality re-analysis replaced the live timeline

    def __init__(self, session: ReviewSession, theme: themes.Theme = themes.DARK,
                 transcribe: bool = True, analysis_options=None, parent=None,
                 privacy_key: str | None = "settings", reanalyse: bool | None = None) -> None:
        """``privacy_key``: the key that blanks this window ("settings": the settings' key; None: none
        of its own, the app gives it its key). ``reanalyse``: run the re-analysis of a live session at
        once (None: as the settings say)."""
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self._transcribe = transcribe
        self._analysis_options = analysis_options  # analysis.pipeline.AnalysisOptions (tests), or None
        self.blanked = False
        self._hidden_for_blank: list[QWidget] = []
        self._reanalysing = False
        self.recomputing = False
        self._tl_ids: list = []
        if privacy_key == "settings" or reanalyse is None:
            from app.settings import load_settings

            settings = load_settings()
            privacy_key = settings.privacy_key if privacy_key == "settings" else privacy_key
            reanalyse = settings.review_reanalyse if reanalyse is None else reanalyse
        self.privacy_key = privacy_key
        self._tmpdir = Path(tempfile.mkdtemp(prefix="attune-review-"))  # 0700
        self._threads: list[QThread] = []
        self._jobs: list = []
        self._tl: Timeline | None = None
        self._markers: dict[str, list[tuple[float, float]]] = {}
        self._utt_starts: list[float] = []
        self._current_utt = -1
        self._word_utt = -1  # the utterance in the word view, and the word clicked last in it
        self._word_sel: int | None = None
        self._closed = False
        self.setWindowTitle(f"Attune review - {session.source.name}")
        self.resize(1280, 820)
        self.player = make_player(self)
        self.player.position_changed.connect(self._on_position)
        self.player.playing_changed.connect(lambda p: self.play_btn.setText("Pause" if p else "Play"))
        self.player.loaded.connect(self.audio_ready)
        self._build()
        self._shortcuts()
        if session.needs_analysis:
            self._start_analysis()
        else:
            self._show_timeline()
            self._start_decode()
        self._update_banner()
        if reanalyse and session.offers_reanalysis:
            self.start_reanalysis()

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        central = QWidget()
        v = QVBoxLayout(central)
        v.setContentsMargins(10, 8, 10, 8)
        bar = QHBoxLayout()
        self.play_btn = QPushButton("Play")
        self.play_btn.setToolTip("Play / pause (Space)")
        self.play_btn.clicked.connect(self.player.toggle)
        back = QPushButton("-5 s")
        back.clicked.connect(lambda: self.jump(-JUMP_S))
        fwd = QPushButton("+5 s")
        fwd.clicked.connect(lambda: self.jump(JUMP_S))
        self.time_label = QLabel("0:00 / 0:00")
        self.speed = QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}x", s)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.currentIndexChanged.connect(lambda i: self.player.set_rate(self.speed.itemData(i)))
        self.follow = QCheckBox("Follow")
        self.follow.setChecked(True)
        self.follow.setToolTip("Keep the playhead in view (F)")
        self.marker_kind = QComboBox()
        for k in MARKER_KINDS:
            self.marker_kind.addItem(MARKER_LABELS[k], k)
        prev_m = QPushButton("<")
        prev_m.setToolTip("Previous marker of this kind ([)")
        prev_m.clicked.connect(lambda: self.jump_marker(forward=False))
        next_m = QPushButton(">")
        next_m.setToolTip("Next marker of this kind (])")
        next_m.clicked.connect(lambda: self.jump_marker(forward=True))
        zoom_out = QPushButton("-")
        zoom_out.setToolTip("Zoom out (-)")
        zoom_in = QPushButton("+")
        zoom_in.setToolTip("Zoom in (+)")
        self.undo_btn = QPushButton("Undo")
        self.undo_btn.clicked.connect(self.undo)
        self.redo_btn = QPushButton("Redo")
        self.redo_btn.clicked.connect(self.redo)
        self.export_btn = QPushButton("Export...")
        self.export_btn.setToolTip("Export the session: report, transcript, subtitles, Praat, ELAN... (Ctrl+E)")
        self.export_btn.clicked.connect(lambda: self.open_export())
        for w in (self.play_btn, back, fwd, self.time_label, self.speed, self.follow):
            bar.addWidget(w)
        bar.addSpacing(16)
        for w in (QLabel("Jump to"), self.marker_kind, prev_m, next_m):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (zoom_out, zoom_in, self.undo_btn, self.redo_btn, self.export_btn):
            bar.addWidget(w)
        v.addLayout(bar)

        self.progress_row = QWidget()
        pr = QHBoxLayout(self.progress_row)
        pr.setContentsMargins(0, 0, 0, 0)
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("status")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel_jobs)
        pr.addWidget(self.progress_label)
        pr.addWidget(self.progress, 1)
        pr.addWidget(self.cancel_btn)
        self.progress_row.hide()
        v.addWidget(self.progress_row)

        self.banner = QWidget()  # a session recorded live: its review-quality re-analysis
        br = QHBoxLayout(self.banner)
        br.setContentsMargins(0, 0, 0, 0)
        self.banner_label = QLabel("")
        self.banner_label.setObjectName("status")
        self.banner_label.setWordWrap(True)
        self.reanalyse_btn = QPushButton("Re-analyse for review quality")
        self.reanalyse_btn.setToolTip("The full analysis of the recording (better speaker turns and "
                                      "transcript than live); saved with the session")
        self.reanalyse_btn.clicked.connect(self.start_reanalysis)
        br.addWidget(self.banner_label, 1)
        br.addWidget(self.reanalyse_btn)
        self.banner.hide()
        v.addWidget(self.banner)

        self.timeline_view = ReviewTimeline(self.theme)
        self.timeline_view.seek_requested.connect(self.seek)
        self.timeline_view.turn_menu_requested.connect(self._turn_menu)
        self.timeline_view.boundary_dragged.connect(lambda row, edge, t: self.move_boundary(row, t, edge))
        self.follow.toggled.connect(lambda on: setattr(self.timeline_view, "follow", on))
        zoom_out.clicked.connect(lambda: self.timeline_view.zoom(1 / 1.5))
        zoom_in.clicked.connect(lambda: self.timeline_view.zoom(1.5))
        v.addWidget(self.timeline_view)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        srow = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search the transcript")
        self.search.returnPressed.connect(lambda: self.find(forward=True))
        s_prev = QPushButton("Previous")
        s_prev.clicked.connect(lambda: self.find(forward=False))
        s_next = QPushButton("Next")
        s_next.clicked.connect(lambda: self.find(forward=True))
        self.search_status = QLabel("")
        self.search_status.setObjectName("status")
        for w in (self.search, s_prev, s_next, self.search_status):
            srow.addWidget(w)
        lv.addLayout(srow)
        self.transcript = QListWidget()
        self.transcript.setWordWrap(True)
        self.transcript.setUniformItemSizes(False)
        self.transcript.itemClicked.connect(self._on_transcript_click)
        self.transcript.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.transcript.customContextMenuRequested.connect(self._transcript_menu)
        lv.addWidget(self.transcript, 1)
        wrow = QHBoxLayout()  # the current line word by word: click a word to play from it
        self.words_view = QTextBrowser()
        self.words_view.setOpenLinks(False)
        self.words_view.setOpenExternalLinks(False)
        self.words_view.setMaximumHeight(64)
        self.words_view.setPlaceholderText("The current line, word by word: click a word to play from it")
        self.words_view.anchorClicked.connect(self._on_word_clicked)
        self.edit_word_btn = QPushButton("Edit word...")
        self.edit_word_btn.setToolTip("Correct the word clicked last (or choose one) in the current line")
        self.edit_word_btn.clicked.connect(self._edit_selected_word)
        wrow.addWidget(self.words_view, 1)
        wrow.addWidget(self.edit_word_btn, 0, Qt.AlignmentFlag.AlignTop)
        lv.addLayout(wrow)
        split.addWidget(left)

        self.tabs = QTabWidget()
        notes = QWidget()
        nv = QVBoxLayout(notes)
        self.notes_list = QListWidget()
        self.notes_list.itemDoubleClicked.connect(lambda _i: self.play_from_note())
        nrow = QHBoxLayout()
        for text, fn in (("Bookmark (B)", self.add_bookmark), ("Note... (N)", self.ask_note),
                         ("Play from here", self.play_from_note), ("Delete", self.delete_note)):
            b = QPushButton(text)
            b.clicked.connect(fn)
            nrow.addWidget(b)
        self.notes_list.currentItemChanged.connect(lambda *_: self._show_note_category())
        crow = QHBoxLayout()
        self.note_category = QComboBox()
        self.note_category.addItem("(no category)", "")
        for c in NOTE_CATEGORIES:
            self.note_category.addItem(c, c)
        self.note_category.setToolTip("File the selected note or bookmark under a category")
        self.note_category.activated.connect(lambda _i: self.set_note_category(self.note_category.currentData()))
        crow.addWidget(QLabel("Category"))
        crow.addWidget(self.note_category, 1)
        nv.addWidget(self.notes_list, 1)
        nv.addLayout(crow)
        nv.addLayout(nrow)
        if not self.session.saved:
            hint = QLabel("Notes and corrections of a recording opened directly are not saved.")
            hint.setObjectName("status")
            hint.setWordWrap(True)
            nv.addWidget(hint)
        self.tabs.addTab(notes, "Notes")
        speakers = QWidget()
        sv = QVBoxLayout(speakers)
        self.consent_label = QLabel(self._consent_text())
        self.consent_label.setObjectName("status")
        self.consent_label.setWordWrap(True)
        self.consent_label.setVisible(bool(self.consent_label.text()))
        sv.addWidget(self.consent_label)
        self.figures = QLabel("")
        self.figures.setWordWrap(True)
        self.figures.setTextFormat(Qt.TextFormat.PlainText)
        self.figures.setAlignment(Qt.AlignmentFlag.AlignTop)
        sv.addWidget(self.figures, 1)
        crow = QHBoxLayout()
        for text, fn in (("Rename...", self.ask_rename), ("Merge...", self.ask_merge),
                         ("Set role...", self.ask_role), ("Swap roles", self.swap_roles),
                         ("Speakers again...", self.ask_rediarize)):
            b = QPushButton(text)
            b.clicked.connect(fn)
            crow.addWidget(b)
        sv.addLayout(crow)
        hint = QLabel("Right-click a turn (timeline) or a line (transcript) to give it to another speaker, "
                      "move the turn's end or edit a word; drag a turn's edge to move it. \"Speakers "
                      "again...\" finds the speakers anew with a count you give, keeping the transcript.")
        hint.setObjectName("status")
        hint.setWordWrap(True)
        sv.addWidget(hint)
        self.tabs.addTab(speakers, "Speakers")
        from ui.review_summary import SummaryPanel

        self.summary = SummaryPanel(self.theme)
        self.tabs.addTab(self.summary, "Summary")
        split.addWidget(self.tabs)
        split.setSizes([760, 440])
        self.split = split
        v.addWidget(split, 1)
        self.content = central
        self.blank = QWidget()
        self.blank.setObjectName("blank")
        self.screen_stack = QStackedWidget()
        self.screen_stack.addWidget(central)
        self.screen_stack.addWidget(self.blank)
        self.setCentralWidget(self.screen_stack)
        self._update_undo()

    def _shortcuts(self) -> None:
        keys = [
            (Qt.Key.Key_Space, lambda: None if self.blanked else self.player.toggle()),
            (Qt.Key.Key_Left, lambda: self.jump(-JUMP_S)),
            (Qt.Key.Key_Right, lambda: self.jump(JUMP_S)),
            (Qt.Key.Key_Plus, lambda: self.timeline_view.zoom(1.5)),
            (Qt.Key.Key_Equal, lambda: self.timeline_view.zoom(1.5)),
            (Qt.Key.Key_Minus, lambda: self.timeline_view.zoom(1 / 1.5)),
            (Qt.Key.Key_F, lambda: self.follow.toggle()),
            (Qt.Key.Key_B, self.add_bookmark),
            (Qt.Key.Key_N, self.ask_note),
            (Qt.Key.Key_BracketLeft, lambda: self.jump_marker(forward=False)),
            (Qt.Key.Key_BracketRight, lambda: self.jump_marker(forward=True)),
            (Qt.Key.Key_R, self.replay_turn),
        ]
        for key, fn in keys:
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(fn)
        if self.privacy_key:
            sc = QShortcut(QKeySequence(self.privacy_key), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(self.toggle_blank)
            self.setProperty(PRIVACY_PROPERTY, True)
        for seq, fn in ((QKeySequence.StandardKey.Undo, self.undo), (QKeySequence.StandardKey.Redo, self.redo),
                        (QKeySequence("Ctrl+Shift+Z"), self.redo), (QKeySequence.StandardKey.Find,
                                                                      self.search.setFocus),
                        (QKeySequence("Ctrl+E"), lambda: self.open_export())):
            sc = QShortcut(QKeySequence(seq), self)
            sc.activated.connect(fn)

    # -- jobs ----------------------------------------------------------------------------------
    def _run(self, job, on_done, label: str) -> None:
        self.progress_label.setText(label)
        self.progress.setValue(0)
        self.progress_row.show()
        job.progress.connect(self._on_progress)
        job.done.connect(on_done)
        job.failed.connect(self._on_job_failed)
        job.cancelled.connect(self._on_job_cancelled)
        for sig in (job.done, job.failed, job.cancelled):
            sig.connect(self._job_ended)
        self._jobs.append(job)
        self._threads.append(start_job(job, self))

    def _on_progress(self, stage: str, fraction: float) -> None:
        if self.session.needs_analysis or self._reanalysing:
            lo, w = STAGE_WEIGHTS.get(stage, (0.0, 1.0))
            self.progress.setValue(int(1000 * (lo + w * fraction)))
            self.progress_label.setText(f"Analysing ({stage})")
        else:
            self.progress.setValue(int(1000 * fraction))

    def _job_ended(self, *_args) -> None:
        if not any(j for j in self._jobs if not getattr(j, "_ended", False)):
            self.progress_row.hide()

    def _mark_ended(self, job) -> None:
        job._ended = True

    def _start_analysis(self) -> None:
        job = AnalysisJob(self.session.audio_path, transcribe=self._transcribe,
                          options=self._analysis_options)
        for sig in (job.done, job.failed, job.cancelled):
            sig.connect(lambda *_a, j=job: self._mark_ended(j))
        self._run(job, self._on_analysed, "Analysing the recording")

    def _on_analysed(self, timeline: Timeline) -> None:
        self.session.set_analysis(timeline)
        self._show_timeline()
        self._start_decode()

    # -- a session recorded live: the review-quality re-analysis --------------------------------
    def _update_banner(self) -> None:
        s = self.session
        if self._reanalysing:
            self.banner_label.setText("Re-analysing the recording for review quality; the live timeline "
                                      "is shown meanwhile.")
            self.reanalyse_btn.setEnabled(False)
            self.banner.show()
        elif s.offers_reanalysis:
            self.banner_label.setText("Recorded live: this is the live timeline. The full analysis of the "
                                      "recording gives better speaker turns and a better transcript.")
            self.reanalyse_btn.setEnabled(True)
            self.reanalyse_btn.show()
            self.banner.show()
        elif s.base == "offline" and s.recorded_live:
            aside = f" ({len(s.set_aside)} correction(s) of the live timeline set aside)" if s.set_aside else ""
            self.banner_label.setText(f"Showing the review-quality analysis of this live session{aside}.")
            self.reanalyse_btn.setEnabled(False)
            self.banner.setVisible(True)
            self.reanalyse_btn.hide()
        else:
            self.banner.hide()

    def start_reanalysis(self) -> bool:
        if self._reanalysing or not self.session.offers_reanalysis:
            return False
        self._reanalysing = True
        job = ReanalysisJob(self.session.reanalysis_target, self._analysis_options)
        for sig in (job.done, job.failed, job.cancelled):
            sig.connect(lambda *_a, j=job: self._mark_ended(j))
            sig.connect(self._reanalysis_ended)
        self._run(job, self._on_reanalysed, "Re-analysing the recording")
        self._update_banner()
        return True

    def _reanalysis_ended(self, *_a) -> None:
        self._reanalysing = False
        self._update_banner()

    def _on_reanalysed(self, timeline: Timeline) -> None:
        self.session.adopt_reanalysis(timeline)
        self._reanalysing = False
        self._show_timeline()
        self._update_banner()
        self.reanalysed.emit()

    def _start_decode(self) -> None:
        if not self.session.has_audio:
            self.statusBar().showMessage("No audio in this session: the timeline only")
            return
        if self.session.store_session is not None:  # decrypted into memory only
            job = StoreDecodeJob(self.session.store_session)
        else:
            job = DecodeJob(self.session.audio_path, self._tmpdir / "review.wav")
        for sig in (job.done, job.failed, job.cancelled):
            sig.connect(lambda *_a, j=job: self._mark_ended(j))
        self._run(job, self._on_decoded, "Preparing the audio")

    def _on_decoded(self, result) -> None:
        wav, env, hop = result
        dur = self._tl.duration if self._tl is not None else len(env) * hop
        if isinstance(wav, bytes):
            self.player.set_source_bytes(wav, dur)
        else:
            self.player.set_source(wav, dur)
        self.timeline_view.set_loudness(env, hop)

    def _on_job_failed(self, message: str) -> None:
        if self._reanalysing:
            self.statusBar().showMessage(f"The re-analysis failed: {message}")
            return
        self.statusBar().showMessage(f"Could not open the recording: {message}")
        if self.session.needs_analysis:
            self.analysis_failed.emit(message)

    def _on_job_cancelled(self) -> None:
        self.statusBar().showMessage("Cancelled")

    def cancel_jobs(self) -> None:
        for job in self._jobs:
            job.cancel()

    # -- content -------------------------------------------------------------------------------
    def _show_timeline(self) -> None:
        tl = self.session.timeline()
        self._tl = tl
        self._tl_ids = self.session.turn_ids()
        self._markers = markers(tl, self.session.notes)
        self.timeline_view.set_timeline(tl, self._markers)
        self.timeline_view.set_playhead(self.player.position())
        self._fill_transcript()
        if self._word_utt >= 0:
            self.show_words(self._word_utt)
        self._fill_figures()
        self.summary.set_timeline(tl)
        self._fill_notes()
        self._update_undo()
        self.time_label.setText(f"{fmt_time(self.player.position())} / {fmt_time(tl.duration)}")
        self.timeline_shown.emit()

    def _fill_transcript(self) -> None:
        tl = self._tl
        self.transcript.clear()
        utts = sorted(range(len(tl.utterances)), key=lambda i: tl.utterances[i].start)
        self._utt_order = utts
        self._utt_starts = [tl.utterances[i].start for i in utts]
        for i in utts:
            u = tl.utterances[i]
            item = QListWidgetItem(f"{fmt_time(u.start)}  {speaker_label(tl, u.speaker)}:  {u.text.strip()}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            sp = tl.speaker(u.speaker)
            item.setForeground(self.theme.role_color(sp.role if sp else None))
            self.transcript.addItem(item)
        self._current_utt = -1

    def _fill_figures(self) -> None:
        tl = self._tl
        lines = []
        for sp in tl.speakers:
            m = tl.metrics.speakers.get(sp.id, {})
            role = f" ({sp.role})" if sp.role else ""
            parts = [f"{sp.label}{role}"]
            if "talk_share" in m:
                parts.append(f"talk {100 * float(m['talk_share']):.0f}% ({float(m.get('talk_time', 0)):.0f} s)")
            if "turns" in m:
                parts.append(f"{m['turns']} turns")
            if m.get("wpm"):
                parts.append(f"{float(m['wpm']):.0f} words/min")
            if "interruptions_made" in m:
                parts.append(f"interrupted others {m['interruptions_made']}x, "
                             f"was interrupted {m.get('interruptions_received', 0)}x")
            lines.append(" - ".join(parts))
        counts = {k: len(v) for k, v in self._markers.items() if v}
        if counts:
            lines.append("")
            lines.append(", ".join(f"{n} {MARKER_LABELS.get(k, k)}" for k, n in sorted(counts.items())))
        if self.session.corrections.ops:
            lines.append("")
            lines.append(f"{len(self.session.corrections.ops)} correction(s); figures recomputed")
        self.figures.setText("\n".join(lines))

    def _fill_notes(self) -> None:
        current = self._selected_note()
        self.notes_list.clear()
        for n in self.session.notes:
            label = n.text if n.kind == "note" else "bookmark"
            tag = f"[{n.category}]  " if n.category else ""
            item = QListWidgetItem(f"{fmt_time(n.t)}  {tag}{label}")
            item.setData(Qt.ItemDataRole.UserRole, n.id)
            if n.category in NOTE_CATEGORIES:
                item.setForeground(QColor(NOTE_CATEGORY_COLOURS[NOTE_CATEGORIES.index(n.category)]))
            self.notes_list.addItem(item)
            if current is not None and n.id == current.id:
                self.notes_list.setCurrentItem(item)

    def _show_note_category(self) -> None:
        n = self._selected_note()
        self.note_category.setEnabled(n is not None)
        i = self.note_category.findData(n.category if n is not None else "")
        self.note_category.setCurrentIndex(max(0, i))

    def set_note_category(self, category: str) -> None:
        """File the selected note or bookmark under ``category`` ("" for none)."""
        n = self._selected_note()
        if n is None:
            return
        self.session.set_note_category(n.id, category)
        self._fill_notes()

    # -- playback ------------------------------------------------------------------------------
    def seek(self, t: float) -> None:
        self.player.seek(t)

    def jump(self, dt: float) -> None:
        self.seek(max(0.0, self.player.position() + dt))

    def jump_marker(self, kind: str | None = None, forward: bool = True) -> float | None:
        kind = kind or self.marker_kind.currentData()
        t = next_marker(self._markers.get(kind, []), self.player.position(), forward)
        if t is None:
            self.statusBar().showMessage(f"No {'next' if forward else 'previous'} "
                                         f"{MARKER_LABELS.get(kind, kind)[:-1]}", 3000)
            return None
        self.seek(t)
        return t

    def replay_turn(self) -> float | None:
        """Play again from the start of the turn under the playhead (of those, the one that began first,
        so a backchannel inside a turn does not count), else of the latest turn before it."""
        if self._tl is None or not self._tl.turns:
            return None
        t = self.player.position() + 1e-3
        under = [x.start for x in self._tl.turns if x.start <= t <= x.end]
        before = [x.start for x in self._tl.turns if x.start <= t]
        start = min(under) if under else (max(before) if before else self._tl.turns[0].start)
        self.seek(start)
        self.player.play()
        return start

    def _on_position(self, t: float) -> None:
        self.timeline_view.set_playhead(t)
        if self._tl is not None:
            self.time_label.setText(f"{fmt_time(t)} / {fmt_time(self._tl.duration)}")
        row = bisect.bisect_right(self._utt_starts, t + 1e-3) - 1
        if row != self._current_utt and 0 <= row < self.transcript.count():
            self._current_utt = row
            self.transcript.setCurrentRow(row)
            self.transcript.scrollToItem(self.transcript.item(row))
            self.show_words(self.transcript.item(row).data(Qt.ItemDataRole.UserRole))

    def _on_transcript_click(self, item: QListWidgetItem) -> None:
        j = item.data(Qt.ItemDataRole.UserRole)
        self.seek(self._tl.utterances[j].start)
        self.show_words(j)

    def show_words(self, j: int, selected: int | None = None) -> None:
        """Show utterance ``j`` word by word, each word a link that plays from it."""
        import html

        if self._tl is None or not 0 <= j < len(self._tl.utterances):
            self.words_view.clear()
            return
        if j != self._word_utt:
            self._word_sel = None
        self._word_utt = j
        if selected is not None:
            self._word_sel = selected
        u = self._tl.utterances[j]
        words = [w.text for w in u.words] or u.text.split()
        sp = self._tl.speaker(u.speaker)
        color = self.theme.role_color(sp.role if sp else None)
        parts = []
        for k, w in enumerate(words):
            style = f"color:{color.name()};text-decoration:none"
            if k == self._word_sel:
                style += ";font-weight:bold;text-decoration:underline"
            parts.append(f'<a href="w:{j}:{k}" style="{style}">{html.escape(w)}</a>')
        self.words_view.setHtml(f"<span>{fmt_time(u.start)}&nbsp;&nbsp;{' '.join(parts)}</span>")

    def word_time(self, j: int, k: int) -> float:
        u = self._tl.utterances[j]
        return u.words[k].start if 0 <= k < len(u.words) else u.start

    def _on_word_clicked(self, url: QUrl) -> None:
        try:
            _w, j, k = url.toString().split(":")
            j, k = int(j), int(k)
        except ValueError:
            return
        self.seek(self.word_time(j, k))
        self.show_words(j, selected=k)

    def _edit_selected_word(self) -> None:
        if self._tl is not None and 0 <= self._word_utt < len(self._tl.utterances):
            self.ask_edit_word(self._word_utt, self._word_sel)

    def find(self, forward: bool = True) -> int | None:
        q = self.search.text().strip().lower()
        n = self.transcript.count()
        if not q or not n:
            self.search_status.setText("")
            return None
        start = self.transcript.currentRow()
        for k in range(1, n + 1):
            row = (start + k) % n if forward else (start - k) % n
            i = self.transcript.item(row).data(Qt.ItemDataRole.UserRole)
            if q in self._tl.utterances[i].text.lower():
                self.search_status.setText("")
                self.transcript.setCurrentRow(row)
                self.seek(self._tl.utterances[i].start)
                return row
        self.search_status.setText("not found")
        return None

    # -- notes ---------------------------------------------------------------------------------
    def add_bookmark(self) -> None:
        self.session.add_note(self.player.position())
        self._notes_changed()

    def add_note(self, text: str, t: float | None = None) -> None:
        self.session.add_note(self.player.position() if t is None else t, text=text, kind="note")
        self._notes_changed()

    def ask_note(self) -> None:
        t = self.player.position()
        text, ok = QInputDialog.getMultiLineText(self, "Note", f"Note at {fmt_time(t)}:")
        if ok and text.strip():
            self.add_note(text.strip(), t)

    def _selected_note(self):
        item = self.notes_list.currentItem()
        if item is None:
            return None
        nid = item.data(Qt.ItemDataRole.UserRole)
        return next((n for n in self.session.notes if n.id == nid), None)

    def play_from_note(self) -> None:
        n = self._selected_note()
        if n is not None:
            self.seek(n.t)
            self.player.play()

    def delete_note(self) -> None:
        n = self._selected_note()
        if n is not None:
            self.session.remove_note(n.id)
            self._notes_changed()

    def _notes_changed(self) -> None:
        if self._tl is None:
            return
        self._markers["bookmark"] = [(n.t, n.t) for n in self.session.notes]
        self.timeline_view.set_markers("bookmark", self._markers["bookmark"])
        self._fill_notes()

    # -- corrections ---------------------------------------------------------------------------
    def _correct(self, op: dict) -> None:
        self.session.correct(op, compute=False)
        self._refresh()

    def _refresh(self) -> None:
        """Show the timeline as corrected now: at once when it is cached or the session is short (under
        BACKGROUND_MIN_S), else after the cues are recomputed on a QThread (the window stays responsive;
        a result that a later correction made stale is dropped)."""
        self._update_undo()
        if self.session.cached() is not None or self._tl is None or self._tl.duration < self.BACKGROUND_MIN_S:
            self._show_timeline()
            return
        from app.review_worker import RecomputeJob

        key = self.session.ops_key()
        job = RecomputeJob(self.session.original, list(self.session.corrections.ops), key)
        for sig in (job.done, job.failed, job.cancelled):
            sig.connect(lambda *_a, j=job: self._mark_ended(j))
        job.cancelled.connect(self._recompute_here)  # cancelled (the window is closing, or Cancel): the
        job.failed.connect(self._recompute_here)  # figures are still made, here, so none is left stale
        self.recomputing = True
        self._run(job, self._on_recomputed, "Recomputing the figures")

    def _recompute_here(self, *_a) -> None:
        if self.recomputing and not self._closed:
            self.recomputing = False
            self._show_timeline()

    def _on_recomputed(self, result) -> None:
        key, tl, ids = result
        self.session.keep_result(key, tl, ids)
        if key == self.session.ops_key():
            self.recomputing = False
            self._show_timeline()

    def rename_speaker(self, speaker: str, label: str) -> None:
        self._correct({"op": "rename", "speaker": speaker, "label": label})

    def merge_speakers(self, src: str, into: str) -> None:
        self._correct({"op": "merge", "from": src, "into": into})

    def swap_roles(self) -> None:
        self._correct({"op": "swap_roles"})

    def set_role(self, speaker: str, role: str | None) -> None:
        self._correct({"op": "set_role", "speaker": speaker, "role": role})

    def _turn_id(self, row: int):
        """The id corrections name the turn at ``row`` of the timeline shown by (it may be one
        correction behind while the figures are recomputed)."""
        return self._tl_ids[row]

    def reassign_turn(self, turn: int, to: str) -> None:
        """Give the turn at ``turn`` (its row in the timeline shown) to speaker ``to``."""
        self._correct({"op": "reassign_turn", "turn": self._turn_id(turn), "to": to})

    def reassign_utterance(self, utterance: int, to: str) -> None:
        """Give one utterance (index in the timeline) to ``to``, apart from the rest of its turn."""
        self._correct({"op": "reassign_utterance", "utterance": int(utterance), "to": to})

    def next_turn(self, row: int) -> int | None:
        """The row of the turn after ``row`` that another speaker starts (the other side of its boundary)."""
        turns = self._tl.turns
        t = turns[row]
        after = [i for i, o in enumerate(turns) if o.speaker != t.speaker and o.start >= t.start
                 and i != row and o.end > t.end]
        return min(after, key=lambda i: (abs(turns[i].start - t.end), turns[i].start)) if after else None

    def move_boundary(self, row: int, t: float, edge: str = "end") -> None:
        """Move the end (or start) of the turn at ``row`` to ``t``; its end moves the start of the next
        turn of another speaker with it, when that turn begins within 1 s of it."""
        op = {"op": "move_boundary", "turn": self._turn_id(row), "t": round(float(t), 3), "edge": edge}
        turns = self._tl.turns
        if edge == "start":  # the end of the turn before, of another speaker, moves with it
            cur = turns[row]
            before = [i for i, o in enumerate(turns) if o.speaker != cur.speaker and o.start < cur.start
                      and abs(o.end - cur.start) <= 1.0]
            if before:
                prev = min(before, key=lambda i: abs(turns[i].end - cur.start))
                op = {"op": "move_boundary", "turn": self._turn_id(prev), "next": self._turn_id(row),
                      "t": round(float(t), 3), "edge": "end"}
        elif edge == "end":
            nxt = self.next_turn(row)
            if nxt is not None and abs(self._tl.turns[nxt].start - self._tl.turns[row].end) <= 1.0:
                op["next"] = self._turn_id(nxt)
        self._correct(op)

    def edit_word(self, utterance: int, word: int, text: str) -> None:
        """Replace word ``word`` of an utterance (an empty text removes it)."""
        self._correct({"op": "edit_word", "utterance": int(utterance), "word": int(word), "text": text})

    def rediarize(self, count: int, diarize=None) -> bool:
        """Find the speakers again with ``count`` speakers, keeping the transcript (in the background;
        the result is one correction, undone like any other). ``diarize`` replaces the diarizer (tests)."""
        read = self._audio_reader()
        if read is None or self._tl is None:
            self.statusBar().showMessage("The audio is needed to find the speakers again", 5000)
            return False
        from app.review_worker import RediarizeJob

        job = RediarizeJob(self._tl, int(count), read, diarize=diarize)
        for sig in (job.done, job.failed, job.cancelled):
            sig.connect(lambda *_a, j=job: self._mark_ended(j))
        self._run(job, self._on_rediarized, f"Finding {count} speaker(s) again")
        return True

    def _on_rediarized(self, op: dict) -> None:
        self._correct(op)
        self.rediarized.emit()

    def _audio_reader(self):
        """``read(start_s, end_s)`` -> 16 kHz float32 of the recording, or None before it is prepared."""
        if self.session.store_session is not None and self.session.has_audio:
            return self.session.store_session.audio_reader().read
        wav = self._tmpdir / "review.wav"
        if not self.player.is_loaded or not wav.is_file():
            return None
        import soundfile as sf

        def read(a: float, b: float | None = None):
            with sf.SoundFile(str(wav)) as f:
                sr = f.samplerate
                f.seek(min(f.frames, int(a * sr)))
                n = -1 if b is None else max(0, int(b * sr) - int(a * sr))
                return f.read(n, dtype="float32")

        return read

    def undo(self) -> None:
        if self.session.undo():
            self._refresh()

    def redo(self) -> None:
        if self.session.redo():
            self._refresh()

    def _update_undo(self) -> None:
        self.undo_btn.setEnabled(self.session.corrections.can_undo())
        self.redo_btn.setEnabled(self.session.corrections.can_redo())

    def _pick_speaker(self, title: str, exclude: str | None = None) -> str | None:
        tl = self._tl
        if tl is None:
            return None
        options = [s for s in tl.speakers if s.id != exclude]
        if not options:
            return None
        names = [f"{s.label} ({s.id})" for s in options]
        name, ok = QInputDialog.getItem(self, title, title, names, 0, False)
        return options[names.index(name)].id if ok else None

    def _consent_text(self) -> str:
        """The session's consent line (store sessions; app/retention.py), or "" for a plain recording."""
        store_session = getattr(self.session, "store_session", None)
        if store_session is None:
            return ""
        from app.retention import consent_line

        try:
            return consent_line(store_session.meta)
        except Exception:  # noqa: BLE001 - a line of information only
            return ""

    def ask_rename(self) -> None:
        sp = self._pick_speaker("Rename which speaker?")
        if sp:
            label, ok = QInputDialog.getText(self, "Rename", "New name:", text=speaker_label(self._tl, sp))
            if ok and label.strip():
                self.rename_speaker(sp, label.strip())

    def ask_role(self) -> None:
        sp = self._pick_speaker("Set the role of which speaker?")
        if sp:
            roles = ["therapist", "client", "unknown"]
            role, ok = QInputDialog.getItem(self, "Role", f"Role of {speaker_label(self._tl, sp)}:", roles, 0,
                                            False)
            if ok:
                self.set_role(sp, None if role == "unknown" else role)

    def ask_merge(self) -> None:
        src = self._pick_speaker("Merge which speaker...")
        if src:
            dst = self._pick_speaker("... into which speaker?", exclude=src)
            if dst:
                self.merge_speakers(src, dst)

    def _reassign_menu(self, turn: int | None, pos, utterance: int | None = None) -> None:
        tl = self._tl
        menu = QMenu(self)
        if utterance is not None:
            cur = tl.utterances[utterance].speaker
            for sp in tl.speakers:
                if sp.id != cur:
                    act = menu.addAction(f"Give this line to {sp.label}")
                    act.triggered.connect(lambda _c=False, s=sp.id: self.reassign_utterance(utterance, s))
            menu.addAction("Edit a word of this line...").triggered.connect(
                lambda: self.ask_edit_word(utterance))
            menu.addSeparator()
        if turn is not None:
            cur = tl.turns[turn].speaker
            for sp in tl.speakers:
                if sp.id != cur:
                    act = menu.addAction(f"Give this turn to {sp.label}")
                    act.triggered.connect(lambda _c=False, s=sp.id: self.reassign_turn(turn, s))
            menu.addAction("Move the end of this turn...").triggered.connect(lambda: self.ask_boundary(turn))
            menu.addSeparator()
            menu.addAction("Play this turn").triggered.connect(
                lambda: (self.seek(tl.turns[turn].start), self.player.play()))
        menu.exec(pos)

    def _turn_menu(self, turn: int, pos) -> None:
        self._reassign_menu(turn, pos)

    def _transcript_menu(self, pos) -> None:
        item = self.transcript.itemAt(pos)
        if item is None or self._tl is None:
            return
        j = item.data(Qt.ItemDataRole.UserRole)
        u = self._tl.utterances[j]
        mid = (u.start + u.end) / 2
        turn = next((i for i, t in enumerate(self._tl.turns)
                     if t.speaker == u.speaker and t.start <= mid <= t.end), None)
        self._reassign_menu(turn, self.transcript.viewport().mapToGlobal(pos), utterance=j)

    def ask_boundary(self, row: int) -> None:
        t = self._tl.turns[row]
        nxt = self.next_turn(row)
        hi = self._tl.turns[nxt].end if nxt is not None else self._tl.duration
        x, ok = QInputDialog.getDouble(self, "Move the boundary", f"End of this turn ({fmt_time(t.start)} - "
                                       f"{fmt_time(t.end)}), in seconds:", t.end, t.start, hi, 2)
        if ok:
            self.move_boundary(row, x)

    def ask_edit_word(self, utterance: int, word: int | None = None) -> None:
        u = self._tl.utterances[utterance]
        words = [w.text for w in u.words] or u.text.split()
        if not words:
            return
        if word is None:
            labels = [f"{k + 1}: {w}" for k, w in enumerate(words)]
            choice, ok = QInputDialog.getItem(self, "Edit a word", "Which word?", labels, 0, False)
            if not ok:
                return
            word = labels.index(choice)
        text, ok = QInputDialog.getText(self, "Edit a word", "The word (empty: remove it):", text=words[word])
        if ok:
            self.edit_word(utterance, word, text.strip())

    def ask_rediarize(self) -> None:
        n = max(1, len(self._tl.speakers)) if self._tl is not None else 2
        count, ok = QInputDialog.getInt(self, "Find the speakers again", "How many speakers?", n, 1, 8)
        if ok:
            self.rediarize(count)

    # -- privacy blank -------------------------------------------------------------------------
    def toggle_blank(self) -> None:
        self.set_blank(not self.blanked)

    def set_blank(self, blank: bool) -> None:
        """Hide every word of this window (and its dialogs) at once, and pause playback; the same key
        shows it again."""
        if blank == self.blanked:
            return
        self.blanked = blank
        self.screen_stack.setCurrentWidget(self.blank if blank else self.content)
        if blank:
            self.player.pause()
            self._title = self.windowTitle()
            self.setWindowTitle("Attune")
            for w in QApplication.topLevelWidgets():
                if w is not self and w.isVisible() and w.parent() is self:
                    w.hide()
                    self._hidden_for_blank.append(w)
            self.activateWindow()
        else:
            self.setWindowTitle(getattr(self, "_title", self.windowTitle()))
            hidden, self._hidden_for_blank = self._hidden_for_blank, []
            for w in hidden:
                with contextlib.suppress(RuntimeError):
                    w.show()
        self.blank_changed.emit(blank)

    # -- closing -------------------------------------------------------------------------------
    def open_export(self, out_dir=None, open_folder=None, modal: bool = True):
        """The Export dialog on the session as corrected now, with its notes (issue 15); returned (shown
        modeless with ``modal=False``, for tests)."""
        from app.cmd_export import source_from_review
        from ui.export_dialog import ExportDialog

        if self.session.needs_analysis:
            return None
        dlg = ExportDialog(source_from_review(self.session), self, out_dir=out_dir, open_folder=open_folder)
        if modal:
            dlg.exec()
        else:
            dlg.show()
        return dlg

    def shutdown(self) -> None:
        """Cancel the jobs, stop playback, delete the decoded audio. A job that does not reach its next
        checkpoint within STOP_WAIT_MS (an analysis loading its models) is left to end on its own:
        its thread is kept in :data:`ORPHANS` so that it is never destroyed while running."""
        if self._closed:
            return
        self._closed = True
        self.cancel_jobs()
        self.player.stop()
        for th, job in zip(self._threads, self._jobs, strict=True):
            th.quit()
            if not th.wait(STOP_WAIT_MS):
                log.warning("a review job is still running; it will stop at its next checkpoint")
                th.setParent(None)
                ORPHANS.append((th, job))
        self._threads, self._jobs = [], []
        with contextlib.suppress(OSError):
            shutil.rmtree(self._tmpdir)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
