"""Calm colours for a window that sits beside a therapy session: dark or dim, low contrast accents.

The palette avoids alarm colours: therapist and client are a muted teal and a soft sand, a nudge is
a warm amber (never red), and the near-end cue is a quiet lavender. Text is large enough to read at a
glance from a metre away.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Theme:
    name: str
    bg: str  # window background
    panel: str  # card background
    text: str  # main text
    muted: str  # secondary text
    therapist: str
    client: str
    other: str  # a third voice or unknown speaker
    nudge: str  # gentle attention (amber, never red)
    cue: str  # the session-end cue
    track: str  # empty part of bars
    blank: str  # the privacy blank

    def color(self, name: str) -> QColor:
        return QColor(getattr(self, name))

    def role_color(self, role: str | None) -> QColor:
        if role == "therapist":
            return QColor(self.therapist)
        if role == "client":
            return QColor(self.client)
        return QColor(self.other)


DARK = Theme(
    name="dark", bg="#15181c", panel="#1d2126", text="#d9dde2", muted="#8a929c",
    therapist="#5fa8a0", client="#c9a96e", other="#8c8fb8", nudge="#d8a24a", cue="#a99bd1",
    track="#2a2f36", blank="#0b0c0e",
)
DIM = Theme(
    name="dim", bg="#2b2f35", panel="#33383f", text="#e4e6e9", muted="#a3aab3",
    therapist="#6bb3aa", client="#d2b57c", other="#9a9dc6", nudge="#e0ac58", cue="#b5a8da",
    track="#444a52", blank="#1a1c1f",
)
THEMES = {t.name: t for t in (DARK, DIM)}

BASE_PT = 13  # body text
BIG_PT = 22  # clock and key figures
SMALL_PT = 10


def theme(name: str) -> Theme:
    return THEMES.get(name, DARK)


def font(pt: int = BASE_PT, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSize(pt)
    f.setBold(bold)
    return f


def stylesheet(t: Theme) -> str:
    return f"""
    QWidget {{ background: {t.bg}; color: {t.text}; font-size: {BASE_PT}pt; }}
    QFrame#card {{ background: {t.panel}; border-radius: 8px; }}
    QFrame#card QLabel {{ background: transparent; }}
    QLabel[muted="true"] {{ color: {t.muted}; }}
    QLabel[role="small"] {{ font-size: {SMALL_PT}pt; color: {t.muted}; }}
    QLabel[role="big"] {{ font-size: {BIG_PT}pt; }}
    QLabel#nudge {{ color: {t.nudge}; font-size: {BASE_PT}pt; }}
    QLabel#status {{ color: {t.muted}; font-size: {SMALL_PT}pt; }}
    QPushButton, QToolButton {{
        background: {t.panel}; color: {t.text}; border: 1px solid {t.track};
        border-radius: 6px; padding: 5px 12px;
    }}
    QPushButton:hover, QToolButton:hover {{ border-color: {t.muted}; }}
    QPushButton:disabled {{ color: {t.track}; }}
    QPushButton:default {{ border-color: {t.therapist}; }}
    QComboBox, QSpinBox, QPlainTextEdit, QLineEdit {{
        background: {t.panel}; color: {t.text}; border: 1px solid {t.track}; border-radius: 4px;
        padding: 3px;
    }}
    QSpinBox {{ padding-right: 20px; }}
    QSpinBox::up-button, QSpinBox::down-button {{
        subcontrol-origin: border; width: 18px; background: {t.track}; border: none;
    }}
    QSpinBox::up-button {{ subcontrol-position: top right; border-top-right-radius: 4px; }}
    QSpinBox::down-button {{ subcontrol-position: bottom right; border-bottom-right-radius: 4px; }}
    QSpinBox::up-button:hover, QSpinBox::down-button:hover {{ background: {t.muted}; }}
    QSpinBox::up-arrow {{
        width: 0px; height: 0px; border-left: 4px solid transparent; border-right: 4px solid transparent;
        border-bottom: 5px solid {t.text};
    }}
    QSpinBox::down-arrow {{
        width: 0px; height: 0px; border-left: 4px solid transparent; border-right: 4px solid transparent;
        border-top: 5px solid {t.text};
    }}
    QComboBox::drop-down {{ border: none; width: 20px; }}
    QComboBox::down-arrow {{
        width: 0px; height: 0px; border-left: 5px solid transparent; border-right: 5px solid transparent;
        border-top: 6px solid {t.text};
    }}
    QComboBox QAbstractItemView {{ background: {t.panel}; color: {t.text}; selection-background-color: {t.track}; }}
    QFileDialog QToolButton {{ background: {t.muted}; border-color: {t.muted}; padding: 3px; }}
    QFileDialog QToolButton:hover {{ background: {t.text}; }}
    QMenu {{ background: {t.panel}; color: {t.text}; border: 1px solid {t.track}; }}
    QMenu::item {{ padding: 5px 18px; }}
    QMenu::item:selected {{ background: {t.track}; }}
    QMenu::item:disabled {{ color: {t.muted}; }}
    QLabel[role="question"] {{ font-weight: bold; }}
    QCheckBox, QRadioButton {{ spacing: 8px; }}
    QCheckBox::indicator, QRadioButton::indicator {{
        width: 14px; height: 14px; border: 1px solid {t.muted}; background: {t.panel};
    }}
    QCheckBox::indicator {{ border-radius: 3px; }}
    QRadioButton::indicator {{ border-radius: 8px; }}
    QCheckBox::indicator:checked, QRadioButton::indicator:checked {{
        background: {t.therapist}; border-color: {t.therapist};
    }}
    QProgressBar {{ background: {t.track}; border: none; border-radius: 3px; height: 8px; }}
    QProgressBar::chunk {{ background: {t.therapist}; border-radius: 3px; }}
    QWidget#blank {{ background: {t.blank}; }}
    QToolTip {{ background: {t.panel}; color: {t.text}; border: 1px solid {t.track}; }}
    """


def apply(app: QApplication, t: Theme) -> None:
    """Apply the theme to the whole application (palette and style sheet)."""
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Window, QColor(t.bg))
    pal.setColor(QPalette.ColorRole.WindowText, QColor(t.text))
    pal.setColor(QPalette.ColorRole.Base, QColor(t.panel))
    pal.setColor(QPalette.ColorRole.Text, QColor(t.text))
    pal.setColor(QPalette.ColorRole.Button, QColor(t.panel))
    pal.setColor(QPalette.ColorRole.ButtonText, QColor(t.text))
    pal.setColor(QPalette.ColorRole.ToolTipBase, QColor(t.panel))
    pal.setColor(QPalette.ColorRole.ToolTipText, QColor(t.text))
    pal.setColor(QPalette.ColorRole.Highlight, QColor(t.therapist))
    app.setPalette(pal)
    app.setStyleSheet(stylesheet(t))
