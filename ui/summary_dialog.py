"""After "Stop": a short session summary and a note field; "Save" writes the note beside the session."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.cues import Cues, mmss
from ui.live_view import person_title


def summary_rows(cues: Cues) -> list[tuple[str, str]]:
    """(caption, value) rows of the summary, one block per voice."""
    rows = [("Length", mmss(cues.t))]
    for p in cues.people:
        rows.append((f"{person_title(p)}: talk", f"{mmss(p.talk_s)} ({round(100 * p.share)} %)"))
        rows.append((f"{person_title(p)}: interrupted / was interrupted",
                     f"{p.interruptions_made} / {p.interruptions_received}"))
        rows.append((f"{person_title(p)}: backchannels / quick replies",
                     f"{p.backchannels} / {p.quick_responses}"))
    return rows


class SummaryDialog(QDialog):
    def __init__(self, cues: Cues, session_dir: str, keep_audio: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Attune — session summary")
        self.setModal(True)
        lay = QVBoxLayout(self)
        title = QLabel("Session summary")
        title.setProperty("role", "big")
        lay.addWidget(title)
        grid = QGridLayout()
        self.values: dict[str, QLabel] = {}
        for i, (caption, value) in enumerate(summary_rows(cues)):
            cap = QLabel(caption)
            cap.setProperty("muted", True)
            val = QLabel(value)
            grid.addWidget(cap, i, 0)
            grid.addWidget(val, i, 1)
            self.values[caption] = val
        lay.addLayout(grid)
        kept = "Audio kept" if keep_audio else "No audio kept: only the timeline and cues"
        info = QLabel(f"{kept}. Saved in {session_dir}")
        info.setProperty("role", "small")
        info.setWordWrap(True)
        lay.addWidget(info)
        lay.addWidget(QLabel("Note (stays on this computer)"))
        self.note = QPlainTextEdit()
        self.note.setPlaceholderText("A few words for your own reflection or supervision…")
        self.note.setMinimumHeight(90)
        lay.addWidget(self.note, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.accept)
        buttons.addWidget(self.save_button)
        lay.addLayout(buttons)
        self.resize(520, 420)

    def note_text(self) -> str:
        return self.note.toPlainText().strip()
