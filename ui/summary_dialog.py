"""After "Stop": a short session summary and a note field; "Save" writes the note beside the session.

One column per card of the live view (you, the client, any other person, "Other voices"), so four
voices still fit: talk time and share, interruptions made and received, backchannels and quick replies,
pace against each voice's own baseline, tone (the voice's median pitch over the session and how much it
moves, and how the last five minutes compared with its own baseline), questions (open ones in brackets)
when there is a transcript; then the session's length and its silences. After a review of a recording
nothing is saved: the dialog says so and has no note.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
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

from analysis.cues import SILENCE_MIN_S
from analysis.prosody import REF_HZ as PITCH_REF_HZ  # the cue engine's semitones are re this
from ui.cues import Cues, Person, mmss
from ui.live_view import person_title

TONE_TIP = ("The voice's median pitch over the session and how much it moves (± semitones); in brackets, "
            "the last five minutes against this voice's own baseline")
TONE_TOO_LITTLE = "too little speech to measure"
TONE_NOT_MEASURED = "not measured"


def _metrics(timeline: Any) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    metrics = getattr(timeline, "metrics", None)
    return (dict(getattr(metrics, "speakers", None) or {}), dict(getattr(metrics, "session", None) or {}))


def _questions(p: Person, per: dict[str, dict[str, Any]]) -> str:
    ids = p.members or (p.id,)
    found = [per[i] for i in ids if i in per and per[i].get("questions") is not None]
    if not found:
        return "–"
    q = sum(int(m.get("questions") or 0) for m in found)
    oq = sum(int(m.get("open_questions") or 0) for m in found)
    return f"{q} ({oq} open)"


def _tone(p: Person, per: dict[str, dict[str, Any]]) -> str:
    """"182 Hz ±2.1 st" and, on a second line, "(as usual)": the median pitch over the session of the
    card's voice with the most speech and its variability, then the live view's word for the last five
    minutes against its own baseline; or why there is no figure."""
    ids = p.members or (p.id,)
    measured = [per[i] for i in ids if i in per and per[i].get("pitch_median_st") is not None]
    if not measured:
        if any(m.get("pitch_median_st") is not None for m in per.values()):
            return TONE_TOO_LITTLE  # others were measured: this voice has too little voiced speech
        return p.tone or TONE_NOT_MEASURED
    m = max(measured, key=lambda m: float(m.get("talk_time") or 0.0))
    text = f"{PITCH_REF_HZ * 2 ** (float(m['pitch_median_st']) / 12):.0f} Hz"
    if m.get("pitch_variability_st") is not None:
        text += f" ±{float(m['pitch_variability_st']):.1f} st"
    return f"{text}\n({p.tone})" if p.tone else text


def summary_rows(cues: Cues, timeline: Any = None) -> list[tuple[str, str]]:
    """(caption, value) rows of the summary: per card ``"<who>: <what>"``, then the session's."""
    per, session = _metrics(timeline)
    words = per if timeline is None or getattr(timeline, "utterances", None) else {}  # no words: no questions
    rows = []
    for p in cues.cards or cues.people:
        who = person_title(p)
        rows.append((f"{who}: talk", f"{mmss(p.talk_s)} ({round(100 * p.share)} %)"))
        rows.append((f"{who}: interrupted / was interrupted", f"{p.interruptions_made} / {p.interruptions_received}"))
        rows.append((f"{who}: backchannels / quick replies", f"{p.backchannels} / {p.quick_responses}"))
        rows.append((f"{who}: pace", p.pace or "–"))
        rows.append((f"{who}: tone", _tone(p, per) if timeline is not None else (p.tone or "–")))
        rows.append((f"{who}: questions", _questions(p, words)))
    rows.append(("Length", mmss(cues.t)))
    silences = session.get("silences")
    if silences is not None:
        rows.append(("Silences", f"{silences} of {SILENCE_MIN_S:.0f} s or more, "
                                 f"{mmss(float(session.get('silence_time') or 0.0))} without speech"))
    return rows


ROW_CAPTIONS = (  # (key in the row caption, what the grid's first column says)
    ("talk", "Talk"), ("interrupted / was interrupted", "Interrupted / was interrupted"),
    ("backchannels / quick replies", "Backchannels / quick replies"), ("pace", "Pace"), ("tone", "Tone"),
    ("questions", "Questions"))


class SummaryDialog(QDialog):
    def __init__(self, cues: Cues, session_dir: str, keep_audio: bool, parent: QWidget | None = None,
                 timeline: Any = None, review: bool = False, keep_transcript: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Attune — review summary" if review else "Attune — session summary")
        self.setModal(True)
        self.review = review
        lay = QVBoxLayout(self)
        title = QLabel("Review summary" if review else "Session summary")
        title.setProperty("role", "big")
        lay.addWidget(title)

        rows = dict(summary_rows(cues, timeline))
        people = list(cues.cards or cues.people)
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(4)
        self.values: dict[str, QLabel] = {}
        for col, p in enumerate(people, start=1):
            head = QLabel(person_title(p))
            head.setProperty("role", "question")
            head.setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(head, 0, col)
        for row, (key, caption) in enumerate(ROW_CAPTIONS, start=1):
            cap = QLabel(caption)
            cap.setProperty("muted", True)
            if key == "tone":
                cap.setToolTip(TONE_TIP)
            grid.addWidget(cap, row, 0)
            for col, p in enumerate(people, start=1):
                name = f"{person_title(p)}: {key}"
                val = QLabel(rows.get(name, "–"))
                val.setAlignment(Qt.AlignmentFlag.AlignRight)
                grid.addWidget(val, row, col)
                self.values[name] = val
        grid.setColumnStretch(0, 1)
        lay.addLayout(grid)
        lay.addSpacing(6)
        session = QGridLayout()
        session.setHorizontalSpacing(18)
        for i, caption in enumerate(c for c in ("Length", "Silences") if c in rows):
            cap = QLabel(caption)
            cap.setProperty("muted", True)
            val = QLabel(rows[caption])
            val.setWordWrap(True)
            session.addWidget(cap, i, 0)
            session.addWidget(val, i, 1)
            self.values[caption] = val
        session.setColumnStretch(1, 1)
        lay.addLayout(session)

        if review:
            info_text = "A review of a recording: nothing was saved."
        else:
            kept = "the audio" if keep_audio else "no audio"
            words = "the transcript" if keep_transcript else "no transcript"
            info_text = f"Kept: who spoke when and the cues, {words}, {kept}. Saved in {session_dir}"
        info = QLabel(info_text)
        info.setProperty("role", "small")
        info.setWordWrap(True)
        info.setObjectName("saved_info")
        lay.addWidget(info)
        self.note = QPlainTextEdit()
        if not review:
            lay.addWidget(QLabel("Note (stays on this computer)"))
            self.note.setPlaceholderText("A few words for your own reflection or supervision…")
            self.note.setMinimumHeight(90)
            lay.addWidget(self.note, 1)
        else:
            self.note.hide()
            lay.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.save_button = QPushButton("Close" if review else "Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.accept)
        buttons.addWidget(self.save_button)
        lay.addLayout(buttons)
        self.resize(max(540, 200 + 130 * len(people)), 540)

    def note_text(self) -> str:
        return "" if self.review else self.note.toPlainText().strip()
