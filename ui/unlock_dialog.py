"""The passphrase dialog the desktop app shows at start (issue 13): unlock the encrypted store, or on
the first run choose the passphrase (typed twice) that protects it. A wrong passphrase says so and
asks again (the app layer, :func:`app.unlock.open_store_with`, decides; this is only the asking).
The recovery key made on the first run is shown once in :func:`show_recovery_key`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)


class UnlockDialog(QDialog):
    """Asks for the passphrase (``first_run``: a new one, twice). ``error``: why it asks again."""

    def __init__(self, first_run: bool, error: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("unlock_dialog")
        self.first_run = first_run
        self.setWindowTitle("Attune: set a passphrase" if first_run else "Attune: unlock")
        lay = QVBoxLayout(self)
        intro = ("Attune keeps every session encrypted on this computer. Choose a passphrase (at least "
                 "8 characters; a few words are best). It cannot be recovered without the recovery key "
                 "shown next." if first_run else "Enter your passphrase to open your sessions.")
        self.intro = QLabel(intro)
        self.intro.setWordWrap(True)
        lay.addWidget(self.intro)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Passphrase")
        lay.addWidget(self.passphrase)
        self.again = QLineEdit()
        self.again.setEchoMode(QLineEdit.EchoMode.Password)
        self.again.setPlaceholderText("The same passphrase again")
        self.again.setVisible(first_run)
        lay.addWidget(self.again)
        self.error = QLabel(error or "")
        self.error.setObjectName("unlock_error")
        self.error.setWordWrap(True)
        self.error.setVisible(bool(error))
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        lay.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create" if first_run else "Unlock")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        lay.addWidget(buttons)
        self.passphrase.setFocus()

    def _accept(self) -> None:
        if self.first_run and self.passphrase.text() != self.again.text():
            self.show_error("The two passphrases differ.")
            return
        if not self.passphrase.text():
            self.show_error("Type your passphrase.")
            return
        self.accept()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(True)

    def value(self) -> str:
        return self.passphrase.text()


def wrong_text(error: str) -> str:
    """The dialog's line for an error of the app layer ("wrong passphrase" → a sentence)."""
    if error == "wrong passphrase":
        return "Wrong passphrase. Try again."
    return error[:1].upper() + error[1:] + ("" if error.endswith(".") else ".")


def ask_passphrase(first_run: bool, error: str | None, parent: QWidget | None = None) -> str | None:
    """Show the dialog (modal) and return the passphrase, or None when cancelled."""
    dialog = UnlockDialog(first_run, wrong_text(error) if error else None, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.value()
    finally:
        dialog.passphrase.clear()
        dialog.again.clear()
        dialog.deleteLater()


def show_recovery_key(text: str, parent: QWidget | None = None) -> None:
    """The recovery key, once (it is never stored)."""
    box = QMessageBox(QMessageBox.Icon.Information, "Attune: your recovery key", text,
                      QMessageBox.StandardButton.Ok, parent)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.exec()
