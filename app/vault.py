"""The key vault: Attune's master key, held in slots, and the per-session keys it wraps (issue 13).

Key hierarchy (docs/security.md)::

    passphrase --Argon2id--> slot key --+
    recovery key --HKDF----> slot key --+--unwraps--> master key (256 random bits, never stored bare)
    OS keyring secret -HKDF-> slot key -+                 |
                                                          +--HKDF "attune/index/1"   --> SQLCipher key
                                                          +--HKDF "attune/audit/1"   --> audit log key
                                                          +--HKDF "attune/voiceprint/1" --> voiceprints
                                                          +--HKDF "attune/session-wrap/1" --> wraps each
    session key (256 random bits, in <session>/session.key, wrapped) --HKDF(session id, role)--> file key

The vault file (``vault.json``, 0600, written temp → fsync → rename) is JSON with base64 fields::

    {"format": "attune.vault", "version": 1, "vault_id": b64(16 bytes), "created": ISO time,
     "master_check": b64(16 bytes),
     "slots": {"passphrase": {...}, "recovery": {...}, "keyring": {...}?},
     "checksum": hex SHA-256 of the canonical JSON of everything else}

Each slot holds ``salt``, ``kcv`` (key-check value), ``nonce`` and ``wrapped`` (the master key sealed with
ChaCha20-Poly1305), and the passphrase slot the Argon2id parameters and the time one derivation took
when they were chosen. The slot's secret gives (through Argon2id or HKDF) 32 bytes from which HKDF
derives the wrapping key and, separately, the key-check value. The associated data of the wrap binds the
vault id, the slot type and the slot's KDF parameters. Unlocking tells apart:

- a wrong passphrase or recovery key (:class:`WrongPassphraseError`, :class:`WrongRecoveryKeyError`):
  the key-check value does not match;
- a damaged vault (:class:`VaultCorruptedError`): the checksum fails, a field is missing or malformed,
  the key check matches but the wrap does not open, or the unwrapped key fails ``master_check``.

Changing the passphrase rewrites only the passphrase slot. The keyring slot is a convenience only: the
passphrase and recovery slots always exist, and the keyring holds a random secret that unwraps the
keyring slot, never the master key itself. Keys live in memory as ``bytes``; :meth:`MasterKey.wipe`
zeroes the master key's buffer (best effort: Python may hold copies).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from analysis.atomic import atomic_write, fsync_dir
from app.crypto_stream import KEY_BYTES, hkdf

VAULT_FORMAT = "attune.vault"
VAULT_VERSION = 1
VAULT_NAME = "vault.json"
SESSION_KEY_NAME = "session.key"
SESSION_KEY_FORMAT = "attune.session-key"
PASSPHRASE_ENV = "ATTUNE_PASSPHRASE"
MIN_PASSPHRASE_CHARS = 8  # characters, for a new passphrase (unlocking accepts any)
NONCE_BYTES = 12  # bytes: ChaCha20-Poly1305 nonce (random for the few key wraps)
SALT_BYTES = 16  # bytes of salt per slot
CHECK_BYTES = 16  # bytes of key-check value and master check
VAULT_ID_BYTES = 16
RECOVERY_KEY_BITS = 160  # bits of randomness in a recovery key: 32 base32 characters
RECOVERY_GROUP_CHARS = 4  # characters per dash-separated group of a recovery key
KEYRING_SERVICE = "attune"

# Argon2id: chosen at set-up by calibrate_argon2() and recorded in the vault. RFC 9106 recommends
# 4 lanes; 256 MiB keeps a GPU or ASIC attacker memory-bound while a laptop derives it in under a second.
ARGON2_LANES = 4
ARGON2_MEMORY_KIB = 256 * 1024  # KiB of memory (256 MiB) for a new vault
ARGON2_MIN_MEMORY_KIB = 64 * 1024  # KiB: calibration never goes below this (64 MiB, RFC 9106's 2nd choice)
ARGON2_TARGET_S = (0.5, 1.0)  # seconds one derivation should take on this machine
ARGON2_MAX_ITERATIONS = 10  # calibration stops here
# what a vault file may ask for (a hostile or damaged file must not hang or exhaust the machine)
ARGON2_LIMIT_MEMORY_KIB = 4 * 1024 * 1024  # KiB (4 GiB)
ARGON2_LIMIT_ITERATIONS = 64
ARGON2_LIMIT_LANES = 64

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_CONFUSABLE = str.maketrans({"0": "O", "1": "I", "8": "B"})


# -- errors -----------------------------------------------------------------------------------------
class VaultError(Exception):
    """Base of the vault's errors; ``str(err)`` is one line for the user."""


class VaultMissingError(VaultError):
    """No vault file: Attune has not been set up (or the data folder is not the one expected)."""


class VaultExistsError(VaultError):
    """Creating a vault where one already exists."""


class VaultCorruptedError(VaultError):
    """The vault file is damaged: unreadable, malformed, or failing its checks."""


class WrongPassphraseError(VaultError):
    """The passphrase does not open the vault."""


class WrongRecoveryKeyError(VaultError):
    """The recovery key does not open the vault."""


class PassphraseError(VaultError):
    """A passphrase that cannot be used (empty, too short, unreadable passphrase file)."""


class SessionKeyError(VaultError):
    """A session's key is missing (the session was deleted) or does not open."""


# -- Argon2id -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Argon2Params:
    memory_kib: int  # KiB of memory
    iterations: int
    lanes: int

    def check(self) -> None:
        if not (8 * self.lanes <= self.memory_kib <= ARGON2_LIMIT_MEMORY_KIB
                and 1 <= self.iterations <= ARGON2_LIMIT_ITERATIONS and 1 <= self.lanes <= ARGON2_LIMIT_LANES):
            raise VaultCorruptedError(f"vault: Argon2id parameters out of range ({self})")

    def derive(self, secret: bytes, salt: bytes) -> bytes:
        self.check()
        return Argon2id(salt=salt, length=KEY_BYTES, iterations=self.iterations, lanes=self.lanes,
                        memory_cost=self.memory_kib).derive(secret)


def time_argon2(params: Argon2Params) -> float:
    """Seconds one derivation with ``params`` takes here."""
    t0 = time.perf_counter()
    params.derive(b"attune calibration", secrets.token_bytes(SALT_BYTES))
    return time.perf_counter() - t0


def calibrate_argon2(target_s: tuple[float, float] = ARGON2_TARGET_S) -> tuple[Argon2Params, float]:
    """Argon2id parameters for a new vault and the seconds one derivation took: 256 MiB and 4 lanes,
    iterations raised until a derivation takes at least ``target_s[0]`` (within ``target_s[1]``); on a
    machine too slow for one iteration in time, the memory is halved down to 64 MiB."""
    lo, hi = target_s
    memory = ARGON2_MEMORY_KIB
    params = Argon2Params(memory, 1, ARGON2_LANES)
    took = time_argon2(params)
    while took > hi and memory > ARGON2_MIN_MEMORY_KIB:
        memory //= 2
        params = Argon2Params(memory, 1, ARGON2_LANES)
        took = time_argon2(params)
    per_iteration = took
    while took < lo and params.iterations < ARGON2_MAX_ITERATIONS:
        # the time grows about linearly with the iterations: step towards the middle of the range
        want = max(params.iterations + 1, int((lo + hi) / 2 / per_iteration))
        want = min(want, ARGON2_MAX_ITERATIONS)
        trial = Argon2Params(memory, want, ARGON2_LANES)
        t = time_argon2(trial)
        if t > hi and params.iterations >= 2:
            break
        params, took = trial, t
        per_iteration = took / params.iterations
    return params, took


# -- helpers ------------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, field: str, length: int | None = None) -> bytes:
    try:
        data = base64.b64decode(value, validate=True)
    except (TypeError, ValueError):
        raise VaultCorruptedError(f"vault: field {field} is not valid base64") from None
    if length is not None and len(data) != length:
        raise VaultCorruptedError(f"vault: field {field} has {len(data)} bytes, expected {length}")
    return data


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _checksum(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in doc.items() if k != "checksum"})).hexdigest()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_private_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing, 0600 (:func:`analysis.atomic.atomic_write`)."""
    atomic_write(path, data)


def normalize_passphrase(passphrase: str) -> bytes:
    """The bytes Argon2id sees: NFC-normalised UTF-8 (the same passphrase typed on another keyboard
    layout or OS gives the same bytes)."""
    if not isinstance(passphrase, str) or passphrase == "":
        raise PassphraseError("the passphrase is empty")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def check_new_passphrase(passphrase: str) -> None:
    if not isinstance(passphrase, str) or len(passphrase.strip()) < MIN_PASSPHRASE_CHARS:
        raise PassphraseError(f"the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")


def passphrase_from_env_or_file(passphrase_file: str | os.PathLike | None = None,
                                env: Mapping[str, str] | None = None) -> str | None:
    """The passphrase for scripts and tests: the first line of ``passphrase_file`` (the CLI's
    ``--passphrase-file``; its trailing newline is dropped) or else ``$ATTUNE_PASSPHRASE``; None when
    neither is given (the CLI then prompts, the app asks in a dialog). Raises :class:`PassphraseError`
    for an unreadable or empty file or an empty variable."""
    env = os.environ if env is None else env
    if passphrase_file is not None:
        try:
            with open(passphrase_file, encoding="utf-8") as f:
                text = f.read(64 * 1024)
        except (OSError, UnicodeDecodeError) as exc:
            raise PassphraseError(f"{passphrase_file}: the passphrase file cannot be read "
                                  f"({exc.__class__.__name__})") from None
        lines = text.splitlines()
        value = lines[0] if lines else ""
        if not value:
            raise PassphraseError(f"{passphrase_file}: the passphrase file is empty")
        return value
    if PASSPHRASE_ENV in env:
        value = env[PASSPHRASE_ENV]
        if not value:
            raise PassphraseError(f"{PASSPHRASE_ENV} is set but empty")
        return value
    return None


def unlock_vault(path: str | os.PathLike, passphrase_file: str | os.PathLike | None = None, *,
                 prompt=None, use_keyring: bool = True, env: Mapping[str, str] | None = None) -> MasterKey:
    """Unlock the vault at ``path`` the way the CLI does: the OS keyring slot if it works, else the
    passphrase from ``passphrase_file`` / ``$ATTUNE_PASSPHRASE``, else ``prompt()`` (e.g.
    ``lambda: getpass.getpass("Attune passphrase: ")``; None: no prompting, :class:`PassphraseError`).
    Raises the vault's one-line errors (:class:`VaultMissingError`, :class:`VaultCorruptedError`,
    :class:`WrongPassphraseError`, :class:`PassphraseError`)."""
    vault = Vault.open(path)
    if use_keyring and passphrase_file is None:
        master = vault.unlock_with_keyring()
        if master is not None:
            return master
    passphrase = passphrase_from_env_or_file(passphrase_file, env=env)
    if passphrase is None:
        if prompt is None:
            raise PassphraseError(f"no passphrase: use --passphrase-file or set {PASSPHRASE_ENV}")
        passphrase = prompt()
    return vault.unlock(passphrase)


# -- recovery keys ------------------------------------------------------------------------------------
def new_recovery_key() -> str:
    """A random recovery key: 160 bits as 32 base32 letters and digits in groups of 4 (ABCD-EFGH-...)."""
    raw = secrets.token_bytes(RECOVERY_KEY_BITS // 8)
    text = base64.b32encode(raw).decode("ascii")
    return "-".join(text[i:i + RECOVERY_GROUP_CHARS] for i in range(0, len(text), RECOVERY_GROUP_CHARS))


def parse_recovery_key(text: str) -> bytes:
    """The 20 bytes of a typed recovery key: case, spaces and dashes ignored, 0/1/8 read as O/I/B.
    Raises :class:`WrongRecoveryKeyError` for text that cannot be a recovery key."""
    cleaned = "".join(ch for ch in str(text).upper() if ch not in " -\t\r\n").translate(_B32_CONFUSABLE)
    want = RECOVERY_KEY_BITS // 5
    if len(cleaned) != want or any(ch not in _B32 for ch in cleaned):
        raise WrongRecoveryKeyError(f"a recovery key has {want} letters and digits (2-7), in groups of "
                                    f"{RECOVERY_GROUP_CHARS}")
    return base64.b32decode(cleaned)


# -- keys ---------------------------------------------------------------------------------------------
class MasterKey:
    """The unlocked master key. ``derive(purpose)`` gives the key of one purpose (HKDF-SHA256, bound to
    the vault id); ``wipe()`` zeroes it (the app's idle lock). ``unlocked_by``: which slot opened it."""

    def __init__(self, key: bytes, vault_id: bytes, unlocked_by: str = "") -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("a master key is 32 bytes")
        self._key = bytearray(key)
        self.vault_id = bytes(vault_id)
        self.unlocked_by = unlocked_by

    @property
    def wiped(self) -> bool:
        return not any(self._key)

    def _bytes(self) -> bytes:
        if self.wiped:
            raise VaultError("the vault is locked (the master key was dropped from memory)")
        return bytes(self._key)

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (e.g. ``"attune/index/1"``)."""
        return hkdf(self._bytes(), purpose.encode("utf-8"), salt=self.vault_id)

    def check_value(self) -> bytes:
        return hkdf(self._bytes(), b"attune.vault/1 master check", salt=self.vault_id, length=CHECK_BYTES)

    def wipe(self) -> None:
        for i in range(len(self._key)):
            self._key[i] = 0

    def __repr__(self) -> str:  # never print key material
        return f"MasterKey(vault={self.vault_id.hex()[:8]}…, {'wiped' if self.wiped else 'unlocked'})"


def _slot_keys(secret32: bytes) -> tuple[bytes, bytes]:
    """(wrapping key, key-check value) from a slot's derived 32 bytes, by separate HKDF labels."""
    return (hkdf(secret32, b"attune.vault/1 wrap"),
            hkdf(secret32, b"attune.vault/1 kcv", length=CHECK_BYTES))


def _slot_aad(vault_id: bytes, slot_type: str, params: Mapping[str, Any]) -> bytes:
    return b"attune.vault/1\x00" + vault_id + b"\x00" + slot_type.encode() + b"\x00" + _canonical(params)


def _make_slot(master: MasterKey, slot_type: str, secret32: bytes, salt: bytes,
               params: Mapping[str, Any]) -> dict[str, Any]:
    wrap_key, kcv = _slot_keys(secret32)
    nonce = secrets.token_bytes(NONCE_BYTES)
    wrapped = ChaCha20Poly1305(wrap_key).encrypt(nonce, master._bytes(),
                                                 _slot_aad(master.vault_id, slot_type, params))
    return {**params, "salt": _b64(salt), "kcv": _b64(kcv), "nonce": _b64(nonce), "wrapped": _b64(wrapped)}


# -- the vault ----------------------------------------------------------------------------------------
class Vault:
    """A vault file. :meth:`create` sets one up; :meth:`open` reads one; the ``unlock*`` methods give the
    :class:`MasterKey`. Every change rewrites the file atomically (0600)."""

    def __init__(self, path: Path, doc: dict[str, Any]) -> None:
        self.path = Path(path)
        self._doc = doc
        self.vault_id = _unb64(doc["vault_id"], "vault_id", VAULT_ID_BYTES)

    # -- set-up and reading
    @classmethod
    def create(cls, path: str | Path, passphrase: str, *, argon2: Argon2Params | None = None,
               use_keyring: bool = False) -> tuple[Vault, MasterKey, str]:
        """A new vault with a random master key, a passphrase slot and a recovery slot (and a keyring
        slot if asked and a keyring is available). Returns (vault, unlocked master key, recovery key):
        the recovery key is shown to the user once and never stored. ``argon2``: None calibrates."""
        path = Path(path)
        if path.exists():
            raise VaultExistsError(f"{path}: a vault exists already")
        check_new_passphrase(passphrase)
        vault_id = secrets.token_bytes(VAULT_ID_BYTES)
        master = MasterKey(secrets.token_bytes(KEY_BYTES), vault_id, unlocked_by="setup")
        doc: dict[str, Any] = {"format": VAULT_FORMAT, "version": VAULT_VERSION, "vault_id": _b64(vault_id),
                               "created": _now_iso(), "master_check": _b64(master.check_value()), "slots": {}}
        vault = cls(path, doc)
        vault._set_passphrase_slot(master, passphrase, argon2)
        recovery = new_recovery_key()
        vault._set_recovery_slot(master, recovery)
        path.parent.mkdir(parents=True, exist_ok=True)
        vault._save()
        if use_keyring:
            vault.enable_keyring(master)
        return vault, master, recovery

    @classmethod
    def open(cls, path: str | Path) -> Vault:
        """Read and check a vault file (no secret needed)."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise VaultMissingError(f"{path}: no vault (Attune is not set up here)") from None
        except OSError as exc:
            raise VaultCorruptedError(f"{path}: the vault cannot be read ({exc.__class__.__name__})") from None
        if len(raw) > 1 << 20:
            raise VaultCorruptedError(f"{path}: the vault file is implausibly large")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise VaultCorruptedError(f"{path}: the vault file is damaged (not JSON)") from None
        if not isinstance(doc, dict) or doc.get("format") != VAULT_FORMAT:
            raise VaultCorruptedError(f"{path}: not an Attune vault file")
        if doc.get("version") != VAULT_VERSION:
            raise VaultCorruptedError(f"{path}: vault version {doc.get('version')!r} is not supported")
        if not hmac.compare_digest(str(doc.get("checksum", "")), _checksum(doc)):
            raise VaultCorruptedError(f"{path}: the vault file is damaged (checksum mismatch)")
        slots = doc.get("slots")
        if not isinstance(slots, dict) or "passphrase" not in slots or "recovery" not in slots:
            raise VaultCorruptedError(f"{path}: the vault file is damaged (slots missing)")
        try:
            vault = cls(path, doc)
            _unb64(doc.get("master_check"), "master_check", CHECK_BYTES)
        except (KeyError, TypeError):
            raise VaultCorruptedError(f"{path}: the vault file is damaged (fields missing)") from None
        return vault

    @classmethod
    def exists(cls, path: str | Path) -> bool:
        return Path(path).is_file()

    def _save(self) -> None:
        self._doc["checksum"] = _checksum(self._doc)
        write_private_atomic(self.path, json.dumps(self._doc, indent=2, sort_keys=True).encode("ascii"))

    @property
    def slots(self) -> list[str]:
        return sorted(self._doc["slots"])

    @property
    def argon2_params(self) -> Argon2Params:
        s = self._slot("passphrase")
        return Argon2Params(int(s["memory_kib"]), int(s["iterations"]), int(s["lanes"]))

    @property
    def argon2_seconds(self) -> float | None:
        """Seconds one derivation took when the passphrase slot was written (recorded for the record)."""
        return self._doc["slots"]["passphrase"].get("kdf_seconds")

    def slot_document(self, slot_type: str) -> dict[str, Any]:
        """A copy of one slot as stored (tests check that only the changed slot changes)."""
        return json.loads(json.dumps(self._doc["slots"][slot_type]))

    def _slot(self, slot_type: str) -> dict[str, Any]:
        slot = self._doc["slots"].get(slot_type)
        if not isinstance(slot, dict):
            raise VaultCorruptedError(f"{self.path}: the {slot_type} slot is damaged")
        return slot

    # -- opening slots
    def _open_slot(self, slot_type: str, secret32: bytes, wrong: type[VaultError], wrong_msg: str) -> MasterKey:
        slot = self._slot(slot_type)
        params = {k: v for k, v in slot.items() if k not in ("salt", "kcv", "nonce", "wrapped")}
        wrap_key, kcv = _slot_keys(secret32)
        if not hmac.compare_digest(kcv, _unb64(slot.get("kcv"), f"{slot_type}.kcv", CHECK_BYTES)):
            raise wrong(wrong_msg)
        try:
            key = ChaCha20Poly1305(wrap_key).decrypt(_unb64(slot.get("nonce"), f"{slot_type}.nonce", NONCE_BYTES),
                                                     _unb64(slot.get("wrapped"), f"{slot_type}.wrapped"),
                                                     _slot_aad(self.vault_id, slot_type, params))
        except InvalidTag:
            raise VaultCorruptedError(f"{self.path}: the {slot_type} slot is damaged (the key check passed "
                                      f"but the key does not unwrap)") from None
        master = MasterKey(key, self.vault_id, unlocked_by=slot_type)
        if not hmac.compare_digest(master.check_value(), _unb64(self._doc["master_check"], "master_check")):
            master.wipe()
            raise VaultCorruptedError(f"{self.path}: the {slot_type} slot holds a key of another vault")
        return master

    def unlock(self, passphrase: str) -> MasterKey:
        """The master key, from the passphrase (~0.5-1 s of Argon2id)."""
        slot = self._slot("passphrase")
        try:
            salt = _unb64(slot["salt"], "passphrase.salt", SALT_BYTES)
            params = Argon2Params(int(slot["memory_kib"]), int(slot["iterations"]), int(slot["lanes"]))
        except (KeyError, TypeError, ValueError):
            raise VaultCorruptedError(f"{self.path}: the passphrase slot is damaged") from None
        secret = params.derive(normalize_passphrase(passphrase), salt)
        return self._open_slot("passphrase", secret, WrongPassphraseError, "wrong passphrase")

    def unlock_with_recovery_key(self, recovery_key: str) -> MasterKey:
        """The master key, from the recovery key shown at set-up."""
        raw = parse_recovery_key(recovery_key)
        slot = self._slot("recovery")
        salt = _unb64(slot.get("salt"), "recovery.salt", SALT_BYTES)
        return self._open_slot("recovery", hkdf(raw, b"attune.vault/1 recovery", salt=salt),
                               WrongRecoveryKeyError, "wrong recovery key")

    def unlock_with_keyring(self) -> MasterKey | None:
        """The master key from the OS keyring, or None (no keyring slot, no keyring, no entry there,
        or an entry that no longer matches). Never raises for the keyring's own failures."""
        if "keyring" not in self._doc["slots"]:
            return None
        secret = _keyring_get(self._keyring_account())
        if secret is None:
            return None
        slot = self._slot("keyring")
        salt = _unb64(slot.get("salt"), "keyring.salt", SALT_BYTES)
        try:
            return self._open_slot("keyring", hkdf(secret, b"attune.vault/1 keyring", salt=salt),
                                   WrongPassphraseError, "the keyring entry does not match")
        except WrongPassphraseError:
            return None

    # -- changing slots
    def _set_passphrase_slot(self, master: MasterKey, passphrase: str, argon2: Argon2Params | None) -> None:
        if argon2 is None:
            argon2, took = calibrate_argon2()
        else:
            took = None
        salt = secrets.token_bytes(SALT_BYTES)
        t0 = time.perf_counter()
        secret = argon2.derive(normalize_passphrase(passphrase), salt)
        took = time.perf_counter() - t0 if took is None else took
        params = {"kdf": "argon2id", "memory_kib": argon2.memory_kib, "iterations": argon2.iterations,
                  "lanes": argon2.lanes, "kdf_seconds": round(took, 3), "set": _now_iso()}
        self._doc["slots"]["passphrase"] = _make_slot(master, "passphrase", secret, salt, params)

    def _set_recovery_slot(self, master: MasterKey, recovery_key: str) -> None:
        salt = secrets.token_bytes(SALT_BYTES)
        secret = hkdf(parse_recovery_key(recovery_key), b"attune.vault/1 recovery", salt=salt)
        params = {"kdf": "hkdf-sha256", "set": _now_iso()}
        self._doc["slots"]["recovery"] = _make_slot(master, "recovery", secret, salt, params)

    def _check_master(self, master: MasterKey) -> None:
        if master.vault_id != self.vault_id or not hmac.compare_digest(
                master.check_value(), _unb64(self._doc["master_check"], "master_check")):
            raise VaultError("the key given is not this vault's master key")

    def change_passphrase(self, master: MasterKey, new_passphrase: str, *,
                          argon2: Argon2Params | None = None) -> None:
        """Set a new passphrase (after unlocking with the old one or the recovery key). Only the
        passphrase slot is rewritten; the master key and every other slot stay as they are.
        ``argon2``: None keeps the vault's parameters."""
        self._check_master(master)
        check_new_passphrase(new_passphrase)
        self._set_passphrase_slot(master, new_passphrase, argon2 or self.argon2_params)
        self._save()

    def new_recovery_key(self, master: MasterKey) -> str:
        """Replace the recovery key (the old one stops working); returns the new one, to show once."""
        self._check_master(master)
        recovery = new_recovery_key()
        self._set_recovery_slot(master, recovery)
        self._save()
        return recovery

    def _keyring_account(self) -> str:
        return f"vault-{self.vault_id.hex()}"

    def enable_keyring(self, master: MasterKey) -> bool:
        """Add a keyring slot (a random secret kept in the OS keyring). False when no keyring works."""
        self._check_master(master)
        secret = secrets.token_bytes(KEY_BYTES)
        if not _keyring_set(self._keyring_account(), secret):
            return False
        salt = secrets.token_bytes(SALT_BYTES)
        params = {"kdf": "hkdf-sha256", "service": KEYRING_SERVICE, "account": self._keyring_account(),
                  "set": _now_iso()}
        self._doc["slots"]["keyring"] = _make_slot(master, "keyring", hkdf(secret, b"attune.vault/1 keyring",
                                                                             salt=salt), salt, params)
        self._save()
        return True

    def disable_keyring(self) -> None:
        """Drop the keyring slot and the keyring entry (if any)."""
        if self._doc["slots"].pop("keyring", None) is not None:
            self._save()
        _keyring_delete(self._keyring_account())


# -- OS keyring (optional; every failure means "no keyring") ----------------------------------------------
def keyring_available() -> bool:
    """Whether an OS keyring backend is usable (False with keyring's "fail" backend or no package)."""
    try:
        import keyring
        from keyring.backends import fail

        return not isinstance(keyring.get_keyring(), fail.Keyring)
    except Exception:  # noqa: BLE001 - any keyring trouble means: no keyring
        return False


def _keyring_get(account: str) -> bytes | None:
    if not keyring_available():
        return None
    try:
        import keyring

        value = keyring.get_password(KEYRING_SERVICE, account)
        return None if value is None else base64.b64decode(value, validate=True)
    except Exception:  # noqa: BLE001
        return None


def _keyring_set(account: str, secret: bytes) -> bool:
    if not keyring_available():
        return False
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, account, _b64(secret))
        return True
    except Exception:  # noqa: BLE001
        return False


def _keyring_delete(account: str) -> None:
    if not keyring_available():
        return
    with contextlib.suppress(Exception):
        import keyring

        keyring.delete_password(KEYRING_SERVICE, account)


# -- per-session keys -----------------------------------------------------------------------------------
SESSION_WRAP_PURPOSE = "attune/session-wrap/1"


def _session_aad(session_id: str) -> bytes:
    return b"attune.session-key/1\x00" + session_id.encode("utf-8")


def create_session_key(master: MasterKey, session_dir: str | Path, session_id: str) -> bytes:
    """A new random session key, wrapped by the master key into ``<session_dir>/session.key`` (0600,
    fsynced). Returns the session key. The file must not exist."""
    path = Path(session_dir) / SESSION_KEY_NAME
    if path.exists():
        raise SessionKeyError(f"{path}: the session has a key already")
    key = secrets.token_bytes(KEY_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    wrapped = ChaCha20Poly1305(master.derive(SESSION_WRAP_PURPOSE)).encrypt(nonce, key, _session_aad(session_id))
    doc = {"format": SESSION_KEY_FORMAT, "version": 1, "session_id": session_id, "nonce": _b64(nonce),
           "wrapped": _b64(wrapped)}
    write_private_atomic(path, json.dumps(doc).encode("ascii"))
    return key


def load_session_key(master: MasterKey, session_dir: str | Path, session_id: str) -> bytes:
    """The session key from ``<session_dir>/session.key``; :class:`SessionKeyError` when it is gone
    (the session was deleted) or does not open (another session's key file, another vault, damage)."""
    path = Path(session_dir) / SESSION_KEY_NAME
    try:
        doc = json.loads(path.read_bytes()[:4096].decode("utf-8"))
        nonce = base64.b64decode(doc["nonce"], validate=True)
        wrapped = base64.b64decode(doc["wrapped"], validate=True)
    except FileNotFoundError:
        raise SessionKeyError(f"session {session_id}: its key is gone (the session was deleted)") from None
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise SessionKeyError(f"session {session_id}: its key file is damaged") from None
    try:
        return ChaCha20Poly1305(master.derive(SESSION_WRAP_PURPOSE)).decrypt(nonce, wrapped,
                                                                            _session_aad(session_id))
    except (InvalidTag, ValueError):
        raise SessionKeyError(f"session {session_id}: its key does not open with this vault "
                              f"(another session's or vault's key file, or damage)") from None


def destroy_session_key(session_dir: str | Path) -> bool:
    """Overwrite ``session.key`` with random bytes, fsync, unlink and fsync the folder: the session's
    files can no longer be decrypted by anyone (on SSDs the overwrite is best effort; the wrapped key
    is useless without the master key, and the master key without it). True if there was a key."""
    path = Path(session_dir) / SESSION_KEY_NAME
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        try:
            os.write(fd, secrets.token_bytes(max(size, 1)))
            os.fsync(fd)
        finally:
            os.close(fd)
    path.unlink()
    fsync_dir(path.parent)
    return True


def file_key(session_key: bytes, session_id: str, role: str) -> bytes:
    """The key of one file of a session: HKDF-SHA256(session key, info = label | session id | role)."""
    return hkdf(session_key, b"\x00".join((b"attune.file/1", session_id.encode("utf-8"), role.encode("utf-8"))))


def describe(vault: Vault) -> dict[str, Any]:
    """What the vault holds, without secrets (for ``attune vault info`` and the docs)."""
    return {"path": str(vault.path), "vault_id": vault.vault_id.hex(), "slots": vault.slots,
            "argon2": asdict(vault.argon2_params), "argon2_seconds": vault.argon2_seconds}
