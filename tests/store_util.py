"""Test helpers for the encrypted store: open the test's store (its vault is made by conftest's
``_private_home``) and find the session a command recorded."""

from __future__ import annotations

import os
from pathlib import Path

from app.store import Session, Store, vault_path
from app.vault import Vault


def open_test_store(root: str | os.PathLike | None = None) -> Store:
    """The user's store of this test (or a store rooted at ``root``), unlocked with the test passphrase."""
    master = Vault.open(vault_path()).unlock(os.environ["ATTUNE_PASSPHRASE"])
    return Store.open(master, root=None if root is None else Path(root), audit_unlock=False)


def only_session(root: str | os.PathLike | None = None) -> Session:
    """The one session in a store (the test recorded exactly one)."""
    store = open_test_store(root)
    ids = store.session_ids()
    assert len(ids) == 1, ids
    return store.session(ids[0])


def saved_session(folder: str | os.PathLike) -> Session:
    """The store session behind a folder the app reports (``session_saved``, ``SessionResult.session_dir``:
    ``<store>/sessions/<id>``)."""
    folder = Path(folder)
    return open_test_store(folder.parent.parent).session(folder.name)
