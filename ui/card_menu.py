"""Whose voice is it: the menu a card of the live view opens when it is clicked.

"This is me", "This is the client", "Merge with …", "Show its voices separately"; on the "Other voices"
card, "These voices are …". Each choice changes the view's :class:`~ui.cues.CueModel` (one therapist
at most, see :meth:`~ui.cues.CueModel.set_role`) and then calls ``changed()`` so the view shows it at once.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMenu, QWidget

from ui.cues import OTHERS_ID, CueModel, Cues, display_name


def card_menu(parent: QWidget, cues: Cues | None, model: CueModel, card_id: str,
              changed: Callable[[], None]) -> QMenu | None:
    """The menu of card ``card_id`` (not shown yet), or None when there is no such card."""
    if cues is None:
        return None
    card = next((c for c in cues.cards if c.id == card_id), None)
    if card is None:
        return None

    def set_role(role: str) -> None:
        model.set_role(card_id, role)
        changed()

    def merge(ids, into: str) -> None:
        for sid in ids:
            model.merge(sid, into)
        changed()

    menu = QMenu(parent)
    menu.setObjectName("card_menu")
    others = [c for c in cues.cards if c.id not in (card_id, OTHERS_ID)]
    if card_id == OTHERS_ID:
        for target in others:
            action = menu.addAction(f"These voices are {display_name(target)}")
            action.triggered.connect(lambda _=False, t=target.id, m=card.members: merge(m, t))
        return menu
    me = menu.addAction("This is me")
    me.setEnabled(card.role != "therapist")
    me.triggered.connect(lambda _=False: set_role("therapist"))
    client = menu.addAction("This is the client")
    client.setEnabled(card.role != "client")
    client.triggered.connect(lambda _=False: set_role("client"))
    if others:
        menu.addSeparator()
    for target in others:
        action = menu.addAction(f"Merge with {display_name(target)}")
        action.triggered.connect(lambda _=False, t=target.id: merge((card_id,), t))
    if len(card.members) > 1:
        menu.addSeparator()
        split = menu.addAction("Show its voices separately")
        split.triggered.connect(lambda _=False: (model.separate(card_id), changed()))
    return menu
