"""Unlocking the encrypted store for the command line and the desktop app (issue 13).

:func:`open_store_cli` is what every ``attune`` command that touches sessions calls: on the first run
it creates the vault (the passphrase from ``--passphrase-file`` or ``$ATTUNE_PASSPHRASE``, else typed
twice at a prompt) and prints the recovery key once; afterwards it unlocks with the OS keyring slot if
there is one, else ``--passphrase-file``, else ``$ATTUNE_PASSPHRASE``, else a prompt
(:func:`app.vault.unlock_vault`). :func:`open_store_with` is the same road for the desktop app, whose
``ask(first_run, error)`` is a dialog. Qt-free; nothing here logs or stores a passphrase or a key.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import threading
from collections.abc import Callable

from app.store import Store, store_root, vault_path
from app.vault import (
    PassphraseError,
    Vault,
    WrongPassphraseError,
    check_new_passphrase,
    passphrase_from_env_or_file,
    unlock_vault,
)

PROMPT = "Attune passphrase: "


def add_passphrase_option(p: argparse.ArgumentParser) -> None:
    """``--passphrase-file PATH`` on a command that unlocks the store."""
    p.add_argument("--passphrase-file", metavar="PATH",
                   help="read the store's passphrase from the first line of PATH (else $ATTUNE_PASSPHRASE, "
                        "else a prompt)")


def _tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _prompt() -> str:
    if not _tty():
        raise PassphraseError("no passphrase: use --passphrase-file or set ATTUNE_PASSPHRASE")
    return getpass.getpass(PROMPT)


def _new_passphrase_from_prompt() -> str:
    if not _tty():
        raise PassphraseError("no store yet and no passphrase to create it with: use --passphrase-file or "
                              "set ATTUNE_PASSPHRASE")
    print("Attune keeps every session encrypted. Choose a passphrase (at least 8 characters; a few words "
          "are best).", file=sys.stderr)
    first = getpass.getpass("New passphrase: ")
    check_new_passphrase(first)
    if getpass.getpass("Type it again: ") != first:
        raise PassphraseError("the two passphrases differ; nothing was created")
    return first


def recovery_key_message(recovery: str) -> str:
    return (f"Your recovery key (shown once, never stored; write it down and keep it apart from this "
            f"computer): {recovery}")


def open_store_cli(passphrase_file: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
                   out=None) -> Store:
    """The user's store, unlocked the command line's way (see the module doc). ``root``: a store folder
    other than ``<data dir>/store`` (``attune live --out DIR``), opened with the user's master key.
    Raises the vault's one-line errors."""
    out = out or sys.stderr
    path = vault_path()
    if not Vault.exists(path):
        passphrase = passphrase_from_env_or_file(passphrase_file)
        if passphrase is None:
            passphrase = _new_passphrase_from_prompt()
        _vault, master, recovery = Vault.create(path, passphrase)
        print(f"attune: created the encrypted store in {path.parent}", file=out)
        print(recovery_key_message(recovery), file=out)
    else:
        master = unlock_vault(path, passphrase_file, prompt=_prompt)
    return Store.open(master, root=root)


def open_store_with(ask: Callable[[bool, str | None], str | None], announce: Callable[[str], None],
                    root: str | os.PathLike | None = None) -> Store | None:
    """The desktop app's road: ``$ATTUNE_PASSPHRASE`` (scripts, tests) or the keyring slot if they
    work, else ``ask(first_run, error)`` (a dialog; None: the user cancelled → None) until the
    passphrase is right. On the first run the vault is created with what ``ask`` returns and
    ``announce(text)`` shows the recovery key once."""
    path = vault_path()
    first = not Vault.exists(path)
    error: str | None = None
    passphrase = passphrase_from_env_or_file(None)
    while True:
        if first:
            if passphrase is None:
                passphrase = ask(True, error)
                if passphrase is None:
                    return None
            try:
                _vault, master, recovery = Vault.create(path, passphrase)
            except PassphraseError as exc:
                error, passphrase = str(exc), None
                continue
            announce(recovery_key_message(recovery))
            return Store.open(master, root=root)
        try:
            if passphrase is None and error is None:
                master = Vault.open(path).unlock_with_keyring()
                if master is not None:
                    return Store.open(master, root=root)
            if passphrase is None:
                passphrase = ask(False, error)
                if passphrase is None:
                    return None
            master = Vault.open(path).unlock(passphrase)
        except (WrongPassphraseError, PassphraseError) as exc:
            error, passphrase = str(exc), None
            continue
        return Store.open(master, root=root)


# -- the desktop app's store ----------------------------------------------------------------------------
_app_store: Store | None = None
_app_lock = threading.Lock()


_app_locked = False  # the idle lock is on: nothing opens the store again but the passphrase


class StoreLockedError(PassphraseError):
    """The app is locked (idle lock); ``str()`` is one line for the user."""


def lock_app_store() -> bool:
    """The idle lock: the app's store is closed and its master key wiped; until
    :func:`unlock_app_store` (or :func:`set_app_store`), :func:`app_store` raises
    :class:`StoreLockedError` instead of unlocking from the environment or the keyring. A session
    already recording keeps its own key. Returns whether a store was open."""
    global _app_store, _app_locked
    with _app_lock:
        store, _app_store, _app_locked = _app_store, None, True
    if store is None:
        return False
    store.lock()
    return True


def app_locked() -> bool:
    return _app_locked


def unlock_app_store(passphrase: str, root: str | os.PathLike | None = None) -> Store:
    """Undo the idle lock with the passphrase (raises :class:`WrongPassphraseError`, one line)."""
    master = Vault.open(vault_path()).unlock(passphrase)
    store = Store.open(master, root=root)
    set_app_store(store)
    return store


def set_app_store(store: Store | None) -> None:
    """The store the desktop app unlocked (app.gui, after its passphrase dialog)."""
    global _app_store, _app_locked
    with _app_lock:
        _app_locked = False  # a store given (or forgotten: the app quits, a test ends) ends the idle lock
        _app_store = store


def app_store() -> Store:
    """The desktop app's unlocked store. Without one set by :func:`set_app_store` (scripts, tests, a
    window made without the app's start-up), or when it belongs to another data folder, it is unlocked
    from ``$ATTUNE_PASSPHRASE`` or the keyring, never by prompting; raises the vault's one-line errors
    (:class:`app.vault.PassphraseError` when there is no way in)."""
    global _app_store
    with _app_lock:
        if _app_locked:
            raise StoreLockedError("Attune is locked: unlock it with your passphrase first")
        root = store_root()
        if _app_store is not None and _app_store.index is not None and _app_store.root == root:
            return _app_store
        path = vault_path()
        if not Vault.exists(path):
            passphrase = passphrase_from_env_or_file(None)
            if passphrase is None:
                raise PassphraseError("the store is locked: no passphrase was given")
            _vault, master, _recovery = Vault.create(path, passphrase)
        else:
            master = unlock_vault(path, None, prompt=None)
        _app_store = Store.open(master)
        return _app_store
