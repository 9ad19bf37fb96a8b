"""The Library window (issue 16): every session of the encrypted store with its headline figures, filtered
by client pseudonym, date range and tag, sorted by any column; a session opens in review, is tagged or
deleted; the Trends tab draws each cue over the listed sessions (pyqtgraph) with the literature's range
where there is one, and says in a sentence what changed.

Everything comes from the store's encrypted index (:mod:`app.library`): the figures are in each session's
description, so hundreds of sessions list without decrypting their timelines. No words of a session are
shown here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import library

log = logging.getLogger(__name__)

ALL = "All"
FIXED_COLUMNS = ("Date", "Client", "Length (min)", "Tags")


class _SortItem(QTableWidgetItem):
    """A cell sorted by its number (or date), shown as text; empty cells sort first."""

    def __init__(self, text: str, key: float | None) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other) -> bool:  # noqa: D105
        a = getattr(self, "key", None)
        b = getattr(other, "key", None)
        if a is None or b is None:
            return (a is None) and (b is not None) or (a is None and b is None and self.text() < other.text())
        return a < b


def _fmt(value, unit: str) -> str:
    if value is None:
        return ""
    if unit in ("%", "/h") or isinstance(value, float) and value != int(value):
        return f"{value:.1f}"
    return f"{value:.0f}" if float(value) == int(value) else f"{value:.2f}"


class LibraryWindow(QMainWindow):
    """``store``: an unlocked :class:`app.store.Store` (default: the app's). ``open_session(id)`` opens a
    session in review (default: a review window of its own); ``open_requested`` is emitted too."""

    open_requested = Signal(str)

    def __init__(self, store=None, theme=None, open_session: Callable[[str], object] | None = None,
                 parent=None, goals: tuple[str, ...] | None = None) -> None:
        super().__init__(parent)
        from app.goals import parse_goals
        from ui import theme as themes

        if goals is None:  # the clinician's own goals from the settings, drawn on the trends
            from app.settings import load_settings

            goals = load_settings().goals
        self.goals = {g.figure: g for g in parse_goals(goals)}

        self.theme = theme or themes.DARK
        self._store = store
        self._open_session = open_session
        self.review_windows: list = []
        self.rows: list[library.Row] = []
        self.shown: list[library.Row] = []
        self.setWindowTitle("Attune: library")
        self.resize(1100, 640)

        central = QWidget()
        lay = QVBoxLayout(central)
        filters = QHBoxLayout()
        self.clinician_box = QComboBox()
        self.client_box = QComboBox()
        self.tag_box = QComboBox()
        self.since_check = QCheckBox("From")
        self.since_edit = QDateEdit()
        self.until_check = QCheckBox("to")
        self.until_edit = QDateEdit()
        for edit in (self.since_edit, self.until_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setDate(QDate.currentDate())
            edit.dateChanged.connect(self.apply_filters)
        for w in (self.clinician_box, self.client_box, self.tag_box):
            w.currentIndexChanged.connect(self.apply_filters)
        for c in (self.since_check, self.until_check):
            c.toggled.connect(self.apply_filters)
        filters.addWidget(QLabel("Clinician"))
        filters.addWidget(self.clinician_box)
        filters.addWidget(QLabel("Client"))
        filters.addWidget(self.client_box)
        filters.addWidget(QLabel("Tag"))
        filters.addWidget(self.tag_box)
        filters.addWidget(self.since_check)
        filters.addWidget(self.since_edit)
        filters.addWidget(self.until_check)
        filters.addWidget(self.until_edit)
        filters.addStretch(1)
        lay.addLayout(filters)

        self.tabs = QTabWidget()
        lay.addWidget(self.tabs, 1)
        # -- the sessions
        page = QWidget()
        pl = QVBoxLayout(page)
        self.table = QTableWidget(0, len(FIXED_COLUMNS) + len(library.FIGURES))
        self.table.setHorizontalHeaderLabels([*FIXED_COLUMNS, *(
            f"{f.label} ({f.unit})" if f.unit else f.label for f in library.FIGURES)])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        self.table.itemDoubleClicked.connect(lambda _i: self.open_selected())
        pl.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open in review")
        self.open_button.clicked.connect(self.open_selected)
        self.tag_button = QPushButton("Tag…")
        self.tag_button.clicked.connect(self.ask_tag)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.ask_delete)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.ask_export_csv)
        self.trends_button = QPushButton("Export trends…")
        self.trends_button.setToolTip("The listed sessions' figures as CSV and a trends report (HTML and PDF): each "
                                      "cue over the sessions, the literature's ranges, your goals")
        self.trends_button.clicked.connect(self.ask_export_trends)
        for b in (self.open_button, self.tag_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.trends_button)
        pl.addLayout(buttons)
        self.tabs.addTab(page, "Sessions")
        # -- the trends
        tpage = QWidget()
        tl = QVBoxLayout(tpage)
        row = QHBoxLayout()
        row.addWidget(QLabel("Cue"))
        self.cue_box = QComboBox()
        for f in library.FIGURES:
            self.cue_box.addItem(f.label, f.key)
        self.cue_box.currentIndexChanged.connect(self.update_trend)
        row.addWidget(self.cue_box)
        row.addStretch(1)
        tl.addLayout(row)
        import pyqtgraph as pg

        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.plot.setBackground(self.theme.panel)
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        self.curve = self.plot.plot([], [], pen=pg.mkPen(self.theme.therapist, width=2), symbol="o",
                                    symbolSize=7, symbolBrush=self.theme.therapist)
        self.band_items: list = []
        tl.addWidget(self.plot, 1)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.citation = QLabel("")
        self.citation.setWordWrap(True)
        self.citation.setObjectName("status")
        tl.addWidget(self.summary)
        tl.addWidget(self.citation)
        self.tabs.addTab(tpage, "Trends")

        self.note = QLabel("")
        self.note.setObjectName("status")
        lay.addWidget(self.note)
        self.setCentralWidget(central)
        self.refresh()

    # -- data --
    @property
    def store(self):
        if self._store is None:
            from app.unlock import app_store

            self._store = app_store()
        return self._store

    def refresh(self) -> None:
        """Read the store's index again (after a batch, a new session, a deletion...)."""
        try:
            self.rows = library.load_rows(self.store)
            self.note.setText("" if self.rows else "No sessions in the store yet.")
        except Exception as exc:  # a locked or damaged store: one line
            log.warning("the library could not be listed: %s", type(exc).__name__)
            self.rows = []
            self.note.setText(f"The sessions cannot be listed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        self._fill_choices()
        dated = [r.when for r in self.rows if r.when]
        if dated and not self.since_check.isChecked():  # the range offered: the sessions' own
            first = min(dated).astimezone()
            self.since_edit.blockSignals(True)
            self.since_edit.setDate(QDate(first.year, first.month, first.day))
            self.since_edit.blockSignals(False)
        self.apply_filters()

    def _fill_choices(self) -> None:
        for box, values in ((self.clinician_box, library.clinicians(self.rows)),
                            (self.client_box, library.clients(self.rows)), (self.tag_box, library.tags(self.rows))):
            keep = box.currentText()
            box.blockSignals(True)
            box.clear()
            box.addItem(ALL)
            box.addItems(values)
            if keep in values:
                box.setCurrentText(keep)
            box.blockSignals(False)

    def set_filters(self, client: str | None = None, tag: str | None = None, since: dt.date | None = None,
                    until: dt.date | None = None, clinician: str | None = None) -> None:
        """Set every filter at once (None: any) and apply them."""
        widgets = (self.clinician_box, self.client_box, self.tag_box, self.since_check, self.until_check,
                   self.since_edit, self.until_edit)
        for w in widgets:
            w.blockSignals(True)
        self.clinician_box.setCurrentText(clinician or ALL)
        self.client_box.setCurrentText(client or ALL)
        self.tag_box.setCurrentText(tag or ALL)
        self.since_check.setChecked(since is not None)
        self.until_check.setChecked(until is not None)
        if since:
            self.since_edit.setDate(QDate(since.year, since.month, since.day))
        if until:
            self.until_edit.setDate(QDate(until.year, until.month, until.day))
        for w in widgets:
            w.blockSignals(False)
        self.apply_filters()

    def filters(self) -> dict:
        def date(edit):
            d = edit.date()
            return dt.date(d.year(), d.month(), d.day())

        def choice(box):
            return None if box.currentText() in ("", ALL) else box.currentText()

        return {"client": choice(self.client_box), "tag": choice(self.tag_box),
                "clinician": choice(self.clinician_box),
                "since": date(self.since_edit) if self.since_check.isChecked() else None,
                "until": date(self.until_edit) if self.until_check.isChecked() else None}

    def apply_filters(self, *_args) -> None:
        self.shown = library.filter_rows(self.rows, **self.filters())
        self._fill_table()
        self.update_trend()

    def _fill_table(self) -> None:
        t = self.table
        sort_col = t.horizontalHeader().sortIndicatorSection()
        order = t.horizontalHeader().sortIndicatorOrder()
        t.setSortingEnabled(False)
        t.setRowCount(len(self.shown))
        for i, r in enumerate(self.shown):
            when = r.when.astimezone() if r.when else None
            cells = [_SortItem(when.strftime("%Y-%m-%d %H:%M") if when else "?", when.timestamp() if when else None),
                     _SortItem(r.client or "", None),
                     _SortItem("" if r.duration_s is None else f"{r.duration_s / 60:.1f}", r.duration_s),
                     _SortItem(", ".join(r.tags), None)]
            for f in library.FIGURES:
                v = r.figures.get(f.key)
                cells.append(_SortItem(_fmt(v, f.unit), None if v is None else float(v)))
            cells[0].setData(Qt.ItemDataRole.UserRole, r.id)
            for j, c in enumerate(cells):
                if j == 2 or j >= len(FIXED_COLUMNS):
                    c.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                t.setItem(i, j, c)
        t.setSortingEnabled(True)
        t.sortItems(sort_col if sort_col >= 0 else 0, order)
        if self.shown and not t.selectedItems():
            t.selectRow(0)
        has = bool(self.shown)
        for b in (self.open_button, self.tag_button, self.delete_button, self.export_button, self.trends_button):
            b.setEnabled(has)

    def sort_by(self, heading_or_key: str, descending: bool = False) -> None:
        """Sort the table by a column (its heading text or a figure's key)."""
        col = self.column_of(heading_or_key)
        self.table.sortItems(col, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)

    def column_of(self, heading_or_key: str) -> int:
        if heading_or_key in library.FIGURE_BY_KEY:
            return len(FIXED_COLUMNS) + [f.key for f in library.FIGURES].index(heading_or_key)
        for j in range(self.table.columnCount()):
            if self.table.horizontalHeaderItem(j).text() == heading_or_key:
                return j
        raise KeyError(heading_or_key)

    def table_ids(self) -> list[str]:
        """The session ids in the table's order."""
        return [self.table.item(i, 0).data(Qt.ItemDataRole.UserRole) for i in range(self.table.rowCount())]

    def column_values(self, heading_or_key: str) -> list[str]:
        col = self.column_of(heading_or_key)
        return [self.table.item(i, col).text() for i in range(self.table.rowCount())]

    def selected_id(self) -> str | None:
        items = self.table.selectedItems()
        if not items:
            return None
        return self.table.item(items[0].row(), 0).data(Qt.ItemDataRole.UserRole)

    def select(self, session_id: str) -> None:
        for i, sid in enumerate(self.table_ids()):
            if sid == session_id:
                self.table.selectRow(i)
                return
        raise KeyError(session_id)

    # -- actions --
    def open_selected(self):
        sid = self.selected_id()
        if sid is None:
            return None
        self.open_requested.emit(sid)
        if self._open_session is not None:
            return self._open_session(sid)
        return self._open_review(sid)

    def _open_review(self, sid: str):
        from app.review_session import open_review
        from ui.review_window import ReviewWindow

        try:
            session = open_review(sid)
        except Exception as exc:  # one line, never a traceback
            self.note.setText(f"Cannot open it for review: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return None
        window = ReviewWindow(session, self.theme, privacy_key=None)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.review_windows.append(window)
        window.destroyed.connect(lambda *_a, w=window: self.review_windows.remove(w)
                                 if w in self.review_windows else None)
        window.show()
        return window

    def add_tag(self, tag: str, session_id: str | None = None) -> bool:
        """Add ``tag`` to a session (the selected one by default); comma-separated tags add each."""
        sid = session_id or self.selected_id()
        new = [t.strip() for t in tag.split(",") if t.strip()]
        if sid is None or not new:
            return False
        session = self.store.session(sid)
        session.update(tags=sorted({*(session.meta.get("tags") or ()), *new}))
        self.refresh()
        self.select(sid)
        return True

    def remove_tag(self, tag: str, session_id: str | None = None) -> bool:
        sid = session_id or self.selected_id()
        if sid is None:
            return False
        session = self.store.session(sid)
        session.update(tags=[t for t in session.meta.get("tags") or () if t != tag])
        self.refresh()
        return True

    def ask_tag(self) -> None:
        sid = self.selected_id()
        if sid is None:
            return
        text, ok = QInputDialog.getText(self, "Tag the session", "Tags to add (comma-separated); "
                                        "a tag with a leading minus removes it:")
        if not ok:
            return
        for t in (x.strip() for x in text.split(",")):
            if t.startswith("-") and len(t) > 1:
                self.remove_tag(t[1:], sid)
            elif t:
                self.add_tag(t, sid)

    def delete(self, session_id: str | None = None) -> bool:
        """Delete a session completely (the store destroys its key first), without asking."""
        sid = session_id or self.selected_id()
        if sid is None:
            return False
        ok = self.store.delete_session(sid)
        self.refresh()
        return ok

    def ask_delete(self) -> None:
        sid = self.selected_id()
        if sid is None:
            return
        answer = QMessageBox.question(self, "Delete the session", "Delete this session completely? Its "
                                      "recording, timeline and notes can no longer be read afterwards.",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(sid)

    def ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the listed sessions' figures", "attune-trends.csv",
                                              "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> None:
        from analysis.atomic import atomic_write

        atomic_write(path, library.trends_csv(self.shown).encode("utf-8"))

    def ask_export_trends(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the trends of the listed sessions into")
        if folder:
            self.export_trends(folder)

    def export_trends(self, folder: str, formats=("csv", "html", "pdf")) -> list:
        """Write the listed sessions' trends (CSV, the trends report as HTML and PDF) into ``folder``; the
        files written (none, with one line in the window, when it fails)."""
        from PySide6.QtGui import QGuiApplication

        from app import trends_report

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            paths = trends_report.write_trends(self.shown, folder, formats, scope=trends_report.scope_text(
                self.filters()), goals=tuple(self.goals.values()))
        except Exception as exc:  # a full disk, no permission: one line
            self.note.setText(f"The trends could not be exported: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return []
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.note.setText(f"Trends of {len(self.shown)} session(s) exported to {folder}")
        return paths

    # -- trends --
    def trend_key(self) -> str:
        return self.cue_box.currentData()

    def set_trend(self, key: str) -> None:
        self.cue_box.setCurrentIndex(self.cue_box.findData(key))
        self.update_trend()

    def trend_data(self) -> tuple[list[float], list[float]]:
        """The trend chart's points as drawn: (epoch seconds, values)."""
        xs, ys = self.curve.getData()
        return ([] if xs is None else [float(x) for x in xs]), ([] if ys is None else [float(y) for y in ys])

    def update_trend(self, *_args) -> None:
        import pyqtgraph as pg

        key = self.trend_key()
        if key is None:
            return
        fig = library.FIGURE_BY_KEY[key]
        xs, ys = library.series(self.shown, key)
        self.curve.setData(xs, ys)
        for item in self.band_items:
            self.plot.removeItem(item)
        self.band_items = []
        bands = library.BANDS.get(key, ())
        top = max([*ys, *(b.low for b in bands)], default=1.0) * 1.2 or 1.0
        for n, b in enumerate(bands):
            region = pg.LinearRegionItem(values=(b.low, b.high if b.high is not None else top),
                                         orientation="horizontal", movable=False,
                                         brush=pg.mkBrush(self.theme.client + ("30" if n else "18")))
            region.setZValue(-10)
            self.plot.addItem(region)
            label = pg.TextItem(b.label, color=self.theme.muted, anchor=(0, 1))
            label.setPos(xs[0] if xs else 0, b.low)
            self.plot.addItem(label)
            self.band_items += [region, label]
        goal = self.goals.get(key)
        if goal is not None:  # the clinician's own goal: a dashed line at its target
            line = pg.InfiniteLine(pos=goal.target, angle=0, movable=False,
                                   pen=pg.mkPen(self.theme.muted, width=1, style=pg.QtCore.Qt.PenStyle.DashLine),
                                   label=f"goal: {goal.text}", labelOpts={"color": self.theme.muted,
                                                                          "position": 0.02})
            self.plot.addItem(line)
            self.band_items.append(line)
        self.plot.setLabel("left", f"{fig.label}" + (f" ({fig.unit})" if fig.unit else ""))
        self.plot.setLabel("bottom", "session date")
        chosen = self.filters()
        who = f"client {chosen['client']}" if chosen["client"] else "all clients"
        if chosen["clinician"]:
            who = f"{chosen['clinician']}, {who}"
        text = f"{fig.label}, {who}, {len(ys)} session(s): {library.summarize(self.shown, key)}"
        if goal is not None:
            from app.goals import sessions_meeting

            text += f" Your goal ({goal.text}): {sessions_meeting(goal, ys)}."
        self.summary.setText(text)
        self.citation.setText("Range: " + bands[0].citation if bands else
                              "No range from the literature is drawn for this cue.")
