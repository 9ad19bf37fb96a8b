"""The Export dialog of the review window (issue 15): the formats as check boxes, de-identify, metrics
only, the transcript in the report, the output folder; Export writes them with
:func:`app.cmd_export.export_source` (the same code as ``attune export``) on a thread, and opens the
folder.

``open_folder`` is injectable (tests pass a recorder so that no file manager starts)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from analysis.export import FORMATS
from app.cmd_export import ExportSource, export_source

LABELS = {
    "json": "JSON timeline", "csv": "CSV tables", "srt": "SRT subtitles", "vtt": "WebVTT subtitles",
    "rttm": "RTTM (who spoke when)", "textgrid": "Praat TextGrid", "eaf": "ELAN (.eaf)",
    "audacity": "Audacity labels", "docx": "Word transcript (.docx)", "html": "Report (HTML)",
    "pdf": "Report (PDF, A4)", "wav": "Audio (WAV)",
}
DEFAULT_FORMATS = ("html", "pdf", "docx")


def default_out_dir() -> Path:
    return Path.home() / "Attune exports"


def open_in_file_manager(folder: Path) -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


class ExportDialog(QDialog):
    exported = Signal(dict)  # format -> files written, or a one-line message
    done = Signal(dict)  # an export ended (the results; empty when it failed as a whole)
    _finished = Signal(object)  # from the export thread: the results, or the exception

    def __init__(self, source: ExportSource, parent=None, out_dir: str | Path | None = None,
                 open_folder: Callable[[Path], None] | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.open_folder = open_folder or open_in_file_manager
        self.results: dict = {}
        self._thread: threading.Thread | None = None
        self._busy = False
        self._out: Path | None = None
        self._finished.connect(self._on_finished)
        self.setWindowTitle(f"Export - {source.name}")
        v = QVBoxLayout(self)
        box = QGroupBox("Formats")
        grid = QGridLayout(box)
        self.format_boxes: dict[str, QCheckBox] = {}
        for i, fmt in enumerate(FORMATS):
            cb = QCheckBox(LABELS.get(fmt, fmt))
            cb.setToolTip(FORMATS[fmt][2])
            cb.setChecked(fmt in DEFAULT_FORMATS)
            if fmt == "wav" and source.audio_path is None and source.audio_reader is None:
                cb.setEnabled(False)
                cb.setToolTip("no audio was kept for this session")
            self.format_boxes[fmt] = cb
            grid.addWidget(cb, i // 3, i % 3)
        v.addWidget(box)
        wav_row = QHBoxLayout()
        self.wav_from = QDoubleSpinBox()
        self.wav_to = QDoubleSpinBox()
        duration = float(source.timeline.duration)
        for sb, value in ((self.wav_from, 0.0), (self.wav_to, duration)):
            sb.setRange(0.0, max(duration, 0.001))
            sb.setDecimals(1)
            sb.setSuffix(" s")
            sb.setValue(value)
        wav_row.addWidget(QLabel("Audio from"))
        wav_row.addWidget(self.wav_from)
        wav_row.addWidget(QLabel("to"))
        wav_row.addWidget(self.wav_to)
        wav_row.addStretch(1)
        v.addLayout(wav_row)
        self.format_boxes["wav"].toggled.connect(self._update)
        self.deidentify = QCheckBox("De-identify (speakers by role; names, places, dates and numbers removed; "
                                    "no audio)")
        self.deidentify.toggled.connect(self._update)
        self.metrics_only = QCheckBox("Metrics only: no words at all (for research)")
        self.transcript = QCheckBox("Include the transcript in the report")
        self.open_after = QCheckBox("Open the folder afterwards")
        self.open_after.setChecked(True)
        for w in (self.deidentify, self.metrics_only, self.transcript, self.open_after):
            v.addWidget(w)
        row = QHBoxLayout()
        row.addWidget(QLabel("Folder"))
        self.folder = QLineEdit(str(out_dir or default_out_dir()))
        row.addWidget(self.folder, 1)
        choose = QPushButton("Choose...")
        choose.clicked.connect(self._choose)
        row.addWidget(choose)
        v.addLayout(row)
        self.status = QLabel("")
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.status)
        buttons = QDialogButtonBox()
        self.export_btn = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_btn.clicked.connect(self.export)
        buttons.rejected.connect(self.reject)
        v.addWidget(buttons)
        self._update()

    def selected_formats(self) -> list[str]:
        return [f for f, cb in self.format_boxes.items() if cb.isChecked() and cb.isEnabled()]

    def _update(self) -> None:
        wav = self.format_boxes["wav"]
        if self.deidentify.isChecked():
            wav.setChecked(False)
            wav.setEnabled(False)
        else:
            wav.setEnabled(self.source.audio_path is not None or self.source.audio_reader is not None)
        for sb in (self.wav_from, self.wav_to):
            sb.setEnabled(wav.isEnabled() and wav.isChecked())
        self.export_btn.setEnabled(True)

    def _choose(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text())
        if d:
            self.folder.setText(d)

    @property
    def running(self) -> bool:
        """An export started and its results not yet handled (not ``thread.is_alive()``: the thread
        may still be ending after its results arrived)."""
        return self._busy

    def export(self) -> None:
        """Write the chosen formats on a thread (a long session's report takes seconds; the window stays
        responsive); :attr:`done` says when it ended."""
        if self.running:
            return
        formats = self.selected_formats()
        if not formats:
            self.status.setText("Choose at least one format.")
            return
        out = Path(self.folder.text()).expanduser()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.status.setText(f"Cannot create {out}: {exc.strerror or type(exc).__name__}")
            return
        self._out = out
        stem = "session" if self.deidentify.isChecked() else self.source.name
        kwargs = {"stem": stem, "deidentify": self.deidentify.isChecked(), "words": not self.metrics_only.isChecked(),
                  "include_transcript": self.transcript.isChecked()}
        if "wav" in formats:
            a, b = self.wav_from.value(), self.wav_to.value()
            if b <= a:
                self.status.setText("The audio's end must be after its start.")
                return
            kwargs["start"] = a if a > 0 else None
            kwargs["end"] = b if b < self.wav_to.maximum() else None

        def work() -> None:
            try:
                result: object = export_source(self.source, out, formats, **kwargs)
            except Exception as exc:  # a library failure: said in the dialog, never a crash of the window
                result = exc
            self._finished.emit(result)

        self._busy = True
        self.export_btn.setEnabled(False)
        self.status.setText(f"Exporting {len(formats)} format(s)...")
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        self._thread = threading.Thread(target=work, name="attune-export", daemon=True)
        self._thread.start()

    def _on_finished(self, result: object) -> None:
        self._busy = False
        QGuiApplication.restoreOverrideCursor()
        self.export_btn.setEnabled(True)
        out = self._out
        if isinstance(result, Exception):
            self.results = {}
            self.status.setText(f"Export failed: {type(result).__name__}: {str(result)[:200]}")
            self.done.emit({})
            return
        self.results = dict(result)
        written = [f for r in self.results.values() if not isinstance(r, str) for f in r]
        failed = [f"{fmt}: {r}" for fmt, r in self.results.items() if isinstance(r, str)]
        text = f"Wrote {len(written)} file(s) to {out}."
        if failed:
            text += " Not written: " + "; ".join(failed)
        self.status.setText(text)
        self.exported.emit(self.results)
        self.done.emit(self.results)
        if written and self.open_after.isChecked() and out is not None:
            self.open_folder(out)

    def reject(self) -> None:
        if self.running:  # the files are being written: close once they are
            self.status.setText("Exporting... the dialog closes when it is done.")
            self.done.connect(lambda _r: QDialog.reject(self))
            return
        super().reject()
