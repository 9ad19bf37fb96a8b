"""Blocking the network in tests (issue 13 point 5): every socket call that could reach another machine
(``socket.socket.connect`` / ``connect_ex``, ``socket.create_connection``, ``socket.getaddrinfo``,
``socket.socket.sendto``) is recorded and refused with ``OSError``.

In the test's own process: ``with no_network() as attempts: ...`` (``attempts`` is a list of strings).
For commands run as subprocesses: ``env = subprocess_env(tmp_path)`` gives an environment whose
``PYTHONPATH`` starts with a folder holding a ``sitecustomize.py`` that installs the same guard at
interpreter start-up (children of the child inherit it) and appends each attempt to a file;
``read_attempts(tmp_path)`` reads them back.

Connections between the process and its own helpers over ``AF_UNIX`` sockets (multiprocessing's pipes)
are refused too: nothing in Attune needs them, and a refused one would show up as a failed command.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ATTEMPTS_FILE = "network-attempts.txt"

_PATCHED = (("socket", "connect"), ("socket", "connect_ex"), ("socket", "sendto"),
            (None, "create_connection"), (None, "getaddrinfo"))


def install(record: Callable[[str], None]) -> Callable[[], None]:
    """Patch the socket module so that every call above calls ``record(description)`` and raises
    ``OSError``. Returns a function that undoes it."""
    saved = []

    def refusing(name: str):
        def refuse(*args, **kwargs):
            record(f"{name}{args[1:] if name in ('connect', 'connect_ex', 'sendto') else args!r}")
            raise OSError(f"network access is blocked in this test ({name})")
        return refuse

    for owner_name, name in _PATCHED:
        owner = socket.socket if owner_name else socket
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, refusing(name))

    def undo() -> None:
        for owner, name, fn in saved:
            setattr(owner, name, fn)

    return undo


@contextlib.contextmanager
def no_network() -> Iterator[list[str]]:
    attempts: list[str] = []
    undo = install(attempts.append)
    try:
        yield attempts
    finally:
        undo()


def install_to_file(path: str) -> None:
    """(sitecustomize) Install the guard, appending each attempt to ``path``."""
    def record(text: str) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {text}\n")

    install(record)


def subprocess_env(folder: Path, env: dict | None = None) -> dict:
    """An environment for a subprocess whose sockets are guarded (see the module doc)."""
    site = folder / "netguard-site"
    site.mkdir(parents=True, exist_ok=True)
    log = folder / ATTEMPTS_FILE
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.net_guard import install_to_file\n"
        f"install_to_file({str(log)!r})\n"
        f"sys.path.remove({str(ROOT)!r})\n", encoding="utf-8")
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    return env


def read_attempts(folder: Path) -> list[str]:
    log = folder / ATTEMPTS_FILE
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []
