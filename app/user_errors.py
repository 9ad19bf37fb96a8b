"""The one-line messages the command line prints for errors the user can act on (hostile input, issue 13).

Every module that reads user data raises an error whose ``str()`` is one line for the user: audio
(:class:`audio.decode.AudioDecodeError`), timelines (:class:`analysis.timeline.TimelineError`), the vault
(:class:`app.vault.VaultError`: wrong passphrase, damaged vault, a session key that does not open), the
store (:class:`app.store.StoreError`) and encrypted files (:class:`app.crypto_stream.CryptoError`:
tampered records, files swapped between sessions or roles, truncated files). ``attune`` catches these
around every sub-command and prints :func:`message` instead of a traceback. Messages never hold key
material or decrypted text: the errors are built from file names, session ids and record numbers only.
"""

from __future__ import annotations

MAX_CHARS = 300


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exception classes whose message is meant for the user (imported lazily: the CLI starts fast)."""
    import importlib

    out = []
    for module, name in (("audio.decode", "AudioDecodeError"), ("analysis.timeline", "TimelineError"),
                         ("app.vault", "VaultError"), ("app.store", "StoreError"),
                         ("app.crypto_stream", "CryptoError")):
        try:
            out.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):  # e.g. sqlcipher3 missing: those errors cannot happen then
            continue
    return tuple(out)


def message(exc: BaseException) -> str:
    """``str(exc)`` as one line: whitespace runs (newlines included) collapsed, at most MAX_CHARS."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
