"""Start of a session: input device with a live level meter, planned length, enrolled voice, consent.

Two pages. "Before the session": the input (with a level meter, so the clinician sees the microphone
hears both people), the planned length, the enrolled therapist voice and who is in the room (the live
diarizer never finds more voices than that; asked afresh for every session, never remembered).
"Cancel" closes it. "Consent": three separate questions, each answered for this session only and
each starting at its most private answer, never at the last session's: did the client agree to the
live analysis (required to start), may the audio be kept, may a transcript be kept. "Client
declined" closes the dialog and no session starts.

Replaying a recording is a review, not a session: it is started from the main window ("Replay a
recording…", ``attune --play FILE``), never from here. :meth:`StartDialog.set_source` still accepts a
``file:`` input for tests and demos that stand a recording in for the microphone.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.qt_worker import SessionConfig
from app.recorder import MAX_PEOPLE, PEOPLE_COUNTS
from app.settings import NOT_ENROLLED, Settings, is_recording
from ui.level_probe import LevelProbe
from ui.theme import DARK, Theme
from ui.widgets import LevelMeter

log = logging.getLogger(__name__)

METER_HINT = "Say a few words, and invite the client to: both voices should move the meter."
METER_HINT_FILE = "A recording stands in for the microphone: the meter shows its level."
NOT_ENROLLED_LABEL = "Not enrolled (first voice heard is taken as yours)"
# What is saved, by the answers to the two "keep" questions.
KEPT_TEXT = {(False, False): "Saved after the session: who spoke when and the cues (no audio, no words).",
             (True, False): "Saved after the session: the audio, who spoke when and the cues (no transcript).",
             (False, True): "Saved after the session: the transcript, who spoke when and the cues (no audio).",
             (True, True): "Saved after the session: the audio, the transcript, who spoke when and the cues."}
# "People in the room": (choice kept in session.json, label). The first is every new session's default.
PEOPLE_ITEMS = (("individual", "Individual session (2)"), ("couple", "Couple (3)"),
                ("family", "Family / group"), ("not_sure", "Not sure (automatic)"))
GROUP_DEFAULT = 4  # people, the spin box's starting value for "Family / group"
GROUP_MIN = 2  # people: a group smaller than this is not a group
PEOPLE_HINT = "Attune will never find more voices than this."
PEOPLE_HINT_UNSURE = "Attune will work out how many voices there are."


def input_devices() -> list[str]:
    """Names of the input devices PortAudio sees (empty without a sound card or PortAudio)."""
    try:
        import sounddevice as sd

        return [d["name"] for d in sd.query_devices() if d.get("max_input_channels", 0) > 0]
    except Exception:  # OSError without libportaudio2, PortAudioError without a sound system
        return []


def enrolled_voices() -> list[str]:
    """Names of the enrolled voiceprints (``attune enroll``), newest first, from the encrypted store
    (plain files of earlier versions are imported on the way). None readable: an empty list."""
    try:
        from app import voiceprints

        return [v.name for v in voiceprints.list_all()]
    except Exception as exc:  # noqa: BLE001 - a locked or damaged store: no voice offered
        logging.getLogger(__name__).warning("enrolled voices could not be read: %s", exc)
        return []


class StartDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None, theme: Theme = DARK,
                 probe_level: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("Attune — new session")
        self.setModal(True)
        self.settings = settings
        self.probe_level = probe_level
        self._probe: LevelProbe | None = None
        self.declined = False
        self.accepted_at: float | None = None  # time.monotonic() when "Start session" was pressed

        self.pages = QStackedWidget(self)
        self.pages.addWidget(self._setup_page(theme))
        self.pages.addWidget(self._consent_page())
        root = QVBoxLayout(self)
        root.addWidget(self.pages)

        buttons = QHBoxLayout()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Close without starting a session")
        self.decline_button = QPushButton("Client declined")
        self.decline_button.setToolTip("No session starts and nothing is recorded")
        self.back_button = QPushButton("Back")
        self.next_button = QPushButton("Next")
        self.start_button = QPushButton("Start session")
        self.start_button.setDefault(True)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.decline_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)
        buttons.addWidget(self.start_button)
        root.addLayout(buttons)
        self.cancel_button.clicked.connect(self.reject)
        self.decline_button.clicked.connect(self.decline)
        self.back_button.clicked.connect(lambda: self.show_page(0))
        self.next_button.clicked.connect(lambda: self.show_page(1))
        self.start_button.clicked.connect(self.accept)
        self.consent_box.toggled.connect(self._update_buttons)
        self.show_page(0)
        self.resize(620, 500)  # the consent page's three questions fit without squeezing

    # -- pages ---------------------------------------------------------------------------------
    def _setup_page(self, theme: Theme) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        title = QLabel("Before the session")
        title.setProperty("role", "big")
        lay.addWidget(title)
        form = QFormLayout()
        self.device_combo = QComboBox()
        self.device_combo.addItem("System default microphone", None)
        for name in input_devices():
            self.device_combo.addItem(name, name)
        saved = self.settings.device
        if saved and not is_recording(saved):  # a preference; a recording is never restored
            i = self.device_combo.findData(saved)
            if i >= 0:
                self.device_combo.setCurrentIndex(i)
        self.device_combo.activated.connect(self._device_chosen)
        form.addRow("Input", self.device_combo)
        self.meter = LevelMeter(theme=theme)
        self.meter_hint = QLabel(METER_HINT)
        self.meter_hint.setProperty("role", "small")
        self.meter_hint.setWordWrap(True)
        meter_box = QVBoxLayout()
        meter_box.addWidget(self.meter)
        meter_box.addWidget(self.meter_hint)
        form.addRow("Level", meter_box)
        self.length_spin = QSpinBox()
        self.length_spin.setRange(5, 240)
        self.length_spin.setSuffix(" min")
        self.length_spin.setValue(self.settings.session_minutes)
        form.addRow("Planned length", self.length_spin)
        self.voice_combo = QComboBox()
        self.voice_combo.addItem(NOT_ENROLLED_LABEL, None)
        voices = enrolled_voices()
        for name in voices:
            self.voice_combo.addItem(name, name)
        saved_voice = self.settings.therapist_voice
        if saved_voice == NOT_ENROLLED:  # the clinician chose "Not enrolled": it stays so
            chosen = None
        else:
            chosen = saved_voice if saved_voice in voices else (voices[0] if voices else None)
        i = self.voice_combo.findData(chosen)
        self.voice_combo.setCurrentIndex(max(0, i))
        form.addRow("Your voice", self.voice_combo)
        form.addRow("People in the room", self._people_row())
        lay.addLayout(form)
        lay.addStretch(1)
        return page

    def _people_row(self) -> QVBoxLayout:
        """Who is in the room: a choice, a number for "Family / group", one hint line. Per session:
        every dialog starts at "Individual session (2)", whatever the last session chose."""
        self.people_combo = QComboBox()
        for key, label in PEOPLE_ITEMS:
            self.people_combo.addItem(label, key)
        self.people_spin = QSpinBox()
        self.people_spin.setRange(GROUP_MIN, MAX_PEOPLE)
        self.people_spin.setValue(GROUP_DEFAULT)
        self.people_spin.setSuffix(" people")
        self.people_spin.setAccessibleName("Number of people in the room")
        self.people_hint = QLabel(PEOPLE_HINT)
        self.people_hint.setProperty("role", "small")
        self.people_hint.setWordWrap(True)
        choice = QHBoxLayout()
        choice.addWidget(self.people_combo)
        choice.addWidget(self.people_spin)
        choice.addStretch(1)
        box = QVBoxLayout()
        box.addLayout(choice)
        box.addWidget(self.people_hint)
        self.people_combo.currentIndexChanged.connect(self._people_chosen)
        self._people_chosen()
        return box

    def _people_chosen(self) -> None:
        key = self.people_combo.currentData()
        self.people_spin.setVisible(key == "family")
        self.people_hint.setText(PEOPLE_HINT_UNSURE if key == "not_sure" else PEOPLE_HINT)

    def people_choice(self) -> tuple[str, int | None]:
        """The answer to "who is in the room": (choice, number of people; None when not sure)."""
        key = self.people_combo.currentData()
        if key == "family":
            return key, self.people_spin.value()
        return key, PEOPLE_COUNTS.get(key)

    def _consent_page(self) -> QWidget:
        """Three questions, three separate answers. Every answer starts at its most private choice, for
        every session: nothing here is read from or written to the settings."""
        page = QWidget()
        lay = QVBoxLayout(page)
        title = QLabel("Consent")
        title.setProperty("role", "big")
        lay.addWidget(title)
        intro = QLabel("Ask the client each question. Attune listens on this computer only; nothing "
                       "leaves it, and nothing is kept that the client did not agree to.")
        intro.setWordWrap(True)
        intro.setProperty("muted", True)
        lay.addWidget(intro)

        def question(text: str) -> QLabel:
            label = QLabel(text)
            label.setProperty("role", "question")
            lay.addSpacing(6)
            lay.addWidget(label)
            return label

        question("1. Live analysis")
        self.consent_box = QCheckBox("The client agrees to Attune analysing this session as it happens")
        self.consent_box.setToolTip("Needed to start: without it no session starts and nothing is recorded")
        lay.addWidget(self.consent_box)

        question("2. Audio")
        self.no_audio_radio = QRadioButton("Don't keep the audio")
        self.keep_audio_radio = QRadioButton("Keep the audio recording: the client agreed to this too")
        self._audio_group = self._answer_pair(page, lay, self.no_audio_radio, self.keep_audio_radio)

        question("3. Transcript")
        self.no_transcript_radio = QRadioButton("Don't keep what was said (no transcript)")
        self.keep_transcript_radio = QRadioButton("Keep a written transcript: the client agreed to this too")
        self._transcript_group = self._answer_pair(page, lay, self.no_transcript_radio,
                                                   self.keep_transcript_radio)

        self.kept_label = QLabel("")
        self.kept_label.setProperty("role", "small")
        self.kept_label.setWordWrap(True)
        lay.addSpacing(6)
        lay.addWidget(self.kept_label)
        for radio in (self.keep_audio_radio, self.keep_transcript_radio):
            radio.toggled.connect(self._update_kept)
        self._update_kept()
        lay.addStretch(1)
        return page

    @staticmethod
    def _answer_pair(page: QWidget, lay: QVBoxLayout, private: QRadioButton, keep: QRadioButton
                     ) -> QButtonGroup:
        group = QButtonGroup(page)
        group.addButton(private)
        group.addButton(keep)
        private.setChecked(True)  # the most private answer, every time
        lay.addWidget(private)
        lay.addWidget(keep)
        return group

    def _update_kept(self, *_args) -> None:
        self.kept_label.setText(KEPT_TEXT[(self.keep_audio_radio.isChecked(),
                                           self.keep_transcript_radio.isChecked())])

    def show_page(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        self._update_buttons()

    def _update_buttons(self) -> None:
        on_consent = self.pages.currentIndex() == 1
        self.cancel_button.setVisible(not on_consent)
        self.decline_button.setVisible(on_consent)
        self.back_button.setVisible(on_consent)
        self.next_button.setVisible(not on_consent)
        self.start_button.setVisible(on_consent)
        self.start_button.setEnabled(on_consent and self.consent_box.isChecked())

    # -- device and level meter ----------------------------------------------------------------
    def set_source(self, source: str) -> None:
        """Select an input: a device name or, for tests and demos, ``file:<path>`` (added if new)."""
        i = self.device_combo.findData(source)
        if i < 0:
            label = f"Recording: {Path(source[5:]).name}" if is_recording(source) else source
            self.device_combo.addItem(label, source)
            i = self.device_combo.count() - 1
        self.device_combo.setCurrentIndex(i)
        self._restart_probe()

    def _device_chosen(self, _index: int) -> None:
        self._restart_probe()

    def source(self) -> str | None:
        return self.device_combo.currentData()

    def _meter_hint(self) -> str:
        return METER_HINT_FILE if is_recording(self.source()) else METER_HINT

    def _restart_probe(self) -> None:
        self._stop_probe()
        if not self.probe_level or not self.isVisible():
            return
        self.meter.set_level(-100.0)
        self.meter_hint.setText(self._meter_hint())
        probe = self._probe = LevelProbe(self.source(), self)
        probe.level.connect(lambda db, p=probe: self.meter.set_level(db) if p is self._probe else None)
        probe.failed.connect(lambda message, p=probe: self._probe_failed(p, message))
        probe.start()

    def _probe_failed(self, probe: LevelProbe, message: str) -> None:
        if probe is self._probe:  # a stopped probe's last words do not count
            self.meter_hint.setText(f"No input: {message}")

    def _stop_probe(self) -> None:
        if self._probe is not None:
            self._probe.stop()
            self._probe.deleteLater()
            self._probe = None

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._restart_probe()

    def done(self, result: int) -> None:
        self._stop_probe()
        super().done(result)

    # -- outcome -------------------------------------------------------------------------------
    def decline(self) -> None:
        self.declined = True
        self.consent_box.setChecked(False)
        self.reject()

    def accept(self) -> None:
        if not self.consent_box.isChecked():
            return  # no session without the client's agreement
        self.accepted_at = time.monotonic()  # "Start session" pressed: the session's recording starts now
        super().accept()

    def config(self) -> SessionConfig:
        choice, count = self.people_choice()
        return SessionConfig(
            source=self.source(),
            planned_s=self.length_spin.value() * 60.0,
            therapist_voice=self.voice_combo.currentData(),
            consent_analysis=self.consent_box.isChecked(),
            keep_audio=self.keep_audio_radio.isChecked(),
            keep_transcript=self.keep_transcript_radio.isChecked(),
            num_speakers=count,
            people_choice=choice,
            requested_at=self.accepted_at,
        )

    def chosen_settings(self) -> Settings:
        """The preferences to remember from this dialog: the input device (never a recording), the
        planned length and your voice ("Not enrolled" included). Never the consent answers nor who is
        in the room: those are asked afresh for every session."""
        source = self.source()
        voice = self.voice_combo.currentData()
        return self.settings.with_(device=self.settings.device if is_recording(source) else source,
                                   session_minutes=self.length_spin.value(),
                                   therapist_voice=NOT_ENROLLED if voice is None else voice)


