"""The key vault (app/vault.py): slots, wrong secret vs damage, passphrase change, recovery, keyring,
per-session keys."""

import json
import os

import pytest

from app import vault as vault_mod
from app.vault import (
    ARGON2_MIN_MEMORY_KIB,
    ARGON2_TARGET_S,
    Argon2Params,
    PassphraseError,
    SessionKeyError,
    Vault,
    VaultCorruptedError,
    VaultError,
    VaultExistsError,
    VaultMissingError,
    WrongPassphraseError,
    WrongRecoveryKeyError,
    create_session_key,
    destroy_session_key,
    file_key,
    load_session_key,
    new_recovery_key,
    parse_recovery_key,
    passphrase_from_env_or_file,
    unlock_vault,
)

FAST = Argon2Params(memory_kib=1024, iterations=1, lanes=1)  # tests only: the vault calibrates its own
PASS = "correct horse battery staple"


@pytest.fixture
def made(tmp_path):
    path = tmp_path / "vault.json"
    vault, master, recovery = Vault.create(path, PASS, argon2=FAST)
    return path, vault, master, recovery


def _same_key(a, b) -> bool:
    return a.derive("attune/test/1") == b.derive("attune/test/1")


def _rewrite(path, mutate) -> None:
    """Change the vault document and fix its checksum (damage the checksum cannot see)."""
    doc = json.loads(path.read_text())
    mutate(doc)
    doc["checksum"] = vault_mod._checksum(doc)
    path.write_text(json.dumps(doc))


def test_create_and_unlock(made):
    path, vault, master, recovery = made
    again = Vault.open(path).unlock(PASS)
    assert _same_key(master, again) and again.unlocked_by == "passphrase"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in path.parent.iterdir()] == ["vault.json"]  # no temp file left
    doc = json.loads(path.read_text())
    assert doc["format"] == "attune.vault" and doc["version"] == 1
    assert set(doc["slots"]) == {"passphrase", "recovery"}
    slot = doc["slots"]["passphrase"]
    assert (slot["kdf"], slot["memory_kib"], slot["iterations"], slot["lanes"]) == ("argon2id", 1024, 1, 1)
    assert isinstance(slot["kdf_seconds"], float)
    assert PASS not in path.read_text() and recovery.replace("-", "") not in path.read_text()
    assert "unlocked" in repr(master) and master.derive("x").hex() not in repr(master)
    with pytest.raises(VaultExistsError):
        Vault.create(path, PASS, argon2=FAST)


def test_wrong_passphrase_is_not_corruption(made):
    path, *_ = made
    with pytest.raises(WrongPassphraseError) as err:
        Vault.open(path).unlock("correct horse battery stapler")
    assert str(err.value) == "wrong passphrase"
    with pytest.raises(WrongPassphraseError):
        Vault.open(path).unlock("Correct horse battery staple")


@pytest.mark.parametrize("damage", ["bytes", "truncated", "not json", "checksum", "wrapped", "kcv-shape",
                                    "slot missing", "params", "hostile params"])
def test_corrupted_vault_is_not_a_wrong_passphrase(made, damage):
    path, *_ = made
    raw = path.read_bytes()
    if damage == "bytes":
        i = raw.index(b'"wrapped"') + 20
        path.write_bytes(raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1:])
    elif damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "not json":
        path.write_bytes(b"\x00\xff" * 100)
    elif damage == "checksum":
        doc = json.loads(raw)
        doc["created"] = "1999-01-01T00:00:00+00:00"
        path.write_text(json.dumps(doc))
    elif damage == "wrapped":  # the key check passes, the wrap does not open
        def flip(doc):
            w = bytearray(vault_mod._unb64(doc["slots"]["passphrase"]["wrapped"], "w"))
            w[3] ^= 0x80
            doc["slots"]["passphrase"]["wrapped"] = vault_mod._b64(bytes(w))
        _rewrite(path, flip)
    elif damage == "kcv-shape":
        _rewrite(path, lambda d: d["slots"]["passphrase"].update(kcv="AAAA"))
    elif damage == "slot missing":
        _rewrite(path, lambda d: d["slots"].pop("recovery"))
    elif damage == "params":  # the KDF parameters are bound to the wrap: changing them does not unlock
        _rewrite(path, lambda d: d["slots"]["passphrase"].update(kdf_seconds=9.0))
    elif damage == "hostile params":  # a file that asks for 1 TiB must not be obeyed
        _rewrite(path, lambda d: d["slots"]["passphrase"].update(memory_kib=1 << 30))
    with pytest.raises(VaultCorruptedError) as err:
        Vault.open(path).unlock(PASS)
    assert "\n" not in str(err.value) and not isinstance(err.value, WrongPassphraseError)


def test_missing_vault(tmp_path):
    with pytest.raises(VaultMissingError):
        Vault.open(tmp_path / "vault.json")


def test_change_passphrase_rewrites_only_its_slot(made):
    path, vault, master, recovery = made
    before = json.loads(path.read_text())
    vault.change_passphrase(master, "a brand new passphrase")
    after = json.loads(path.read_text())
    assert after["slots"]["recovery"] == before["slots"]["recovery"]
    assert after["slots"]["passphrase"] != before["slots"]["passphrase"]
    assert {k: v for k, v in after.items() if k not in ("slots", "checksum")} == \
        {k: v for k, v in before.items() if k not in ("slots", "checksum")}
    with pytest.raises(WrongPassphraseError):
        Vault.open(path).unlock(PASS)
    assert _same_key(master, Vault.open(path).unlock("a brand new passphrase"))
    assert _same_key(master, Vault.open(path).unlock_with_recovery_key(recovery))
    with pytest.raises(PassphraseError):
        vault.change_passphrase(master, "short")


def test_recovery_key_unlocks_and_resets_the_passphrase(made):
    path, _, master, recovery = made
    groups = recovery.split("-")
    assert len(groups) == 8 and all(len(g) == 4 for g in groups)
    typed = " ".join(groups).lower().replace("o", "0").replace("i", "1")  # typed sloppily
    opened = Vault.open(path).unlock_with_recovery_key(typed)
    assert _same_key(master, opened) and opened.unlocked_by == "recovery"
    Vault.open(path).change_passphrase(opened, "forgot the old one, new one")
    assert _same_key(master, Vault.open(path).unlock("forgot the old one, new one"))
    with pytest.raises(WrongRecoveryKeyError):
        Vault.open(path).unlock_with_recovery_key(new_recovery_key())
    with pytest.raises(WrongRecoveryKeyError):
        Vault.open(path).unlock_with_recovery_key("ABCD-EFGH")


def test_new_recovery_key_replaces_the_old(made):
    path, vault, master, old = made
    new = vault.new_recovery_key(master)
    assert _same_key(master, Vault.open(path).unlock_with_recovery_key(new))
    with pytest.raises(WrongRecoveryKeyError):
        Vault.open(path).unlock_with_recovery_key(old)


def test_recovery_key_encoding():
    key = new_recovery_key()
    assert len(parse_recovery_key(key)) == 20 and key != new_recovery_key()


def test_slot_of_another_vault_is_corruption(tmp_path):
    a, _, _ = Vault.create(tmp_path / "a.json", PASS, argon2=FAST)
    Vault.create(tmp_path / "b.json", PASS, argon2=FAST)
    doc_a = json.loads((tmp_path / "a.json").read_text())
    doc_b = json.loads((tmp_path / "b.json").read_text())
    doc_a["slots"]["passphrase"] = doc_b["slots"]["passphrase"]  # same passphrase, other vault
    doc_a["checksum"] = vault_mod._checksum(doc_a)
    (tmp_path / "a.json").write_text(json.dumps(doc_a))
    with pytest.raises(VaultCorruptedError):
        Vault.open(tmp_path / "a.json").unlock(PASS)


class _MemoryKeyring:
    """An in-memory keyring backend (the test machine has none)."""

    def __init__(self):
        import keyring.backend

        store = self.store = {}

        class Backend(keyring.backend.KeyringBackend):
            priority = 1

            def get_password(self, service, username):
                return store.get((service, username))

            def set_password(self, service, username, password):
                store[(service, username)] = password

            def delete_password(self, service, username):
                store.pop((service, username), None)

        self.backend = Backend()


def test_keyring_slot_is_a_convenience(tmp_path):
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    try:
        keyring.set_keyring(fail.Keyring())
        vault, master, _ = Vault.create(tmp_path / "v.json", PASS, argon2=FAST, use_keyring=True)
        assert vault.slots == ["passphrase", "recovery"]  # no keyring here: skipped quietly
        assert vault.unlock_with_keyring() is None

        mem = _MemoryKeyring()
        keyring.set_keyring(mem.backend)
        assert vault.enable_keyring(master)
        assert Vault.open(tmp_path / "v.json").slots == ["keyring", "passphrase", "recovery"]
        (secret,) = mem.store.values()
        assert vault_mod._unb64(secret, "s") != master.derive("x")  # the keyring never holds the master key
        opened = Vault.open(tmp_path / "v.json").unlock_with_keyring()
        assert _same_key(master, opened) and opened.unlocked_by == "keyring"
        assert _same_key(master, Vault.open(tmp_path / "v.json").unlock(PASS))  # never the sole copy
        mem.store.clear()  # entry lost (another machine, keyring reset)
        assert Vault.open(tmp_path / "v.json").unlock_with_keyring() is None
        assert vault.enable_keyring(master)
        vault.disable_keyring()
        assert not mem.store and Vault.open(tmp_path / "v.json").unlock_with_keyring() is None
    finally:
        keyring.set_keyring(previous)


def test_wiped_master_key_refuses_to_derive(made):
    _, _, master, _ = made
    master.wipe()
    with pytest.raises(VaultError, match="locked"):
        master.derive("attune/index/1")


def test_passphrase_from_env_or_file(tmp_path):
    f = tmp_path / "pass.txt"
    f.write_text("from the file\n")
    assert passphrase_from_env_or_file(f, env={"ATTUNE_PASSPHRASE": "from env"}) == "from the file"
    assert passphrase_from_env_or_file(None, env={"ATTUNE_PASSPHRASE": "from env"}) == "from env"
    assert passphrase_from_env_or_file(None, env={}) is None
    f.write_text("")
    with pytest.raises(PassphraseError, match="empty"):
        passphrase_from_env_or_file(f, env={})
    with pytest.raises(PassphraseError, match="cannot be read"):
        passphrase_from_env_or_file(tmp_path / "missing.txt", env={})
    with pytest.raises(PassphraseError):
        passphrase_from_env_or_file(None, env={"ATTUNE_PASSPHRASE": ""})
    f.write_text(" spaces kept \r\n")
    assert passphrase_from_env_or_file(f, env={}) == " spaces kept "


def test_unlock_vault_as_the_cli_does(made, tmp_path):
    path, _, master, _ = made
    f = tmp_path / "pw"
    f.write_text(PASS + "\n")
    assert _same_key(master, unlock_vault(path, f, env={}))
    assert _same_key(master, unlock_vault(path, env={"ATTUNE_PASSPHRASE": PASS}))
    assert _same_key(master, unlock_vault(path, env={}, prompt=lambda: PASS))
    with pytest.raises(PassphraseError, match="--passphrase-file"):
        unlock_vault(path, env={})
    with pytest.raises(WrongPassphraseError):
        unlock_vault(path, env={"ATTUNE_PASSPHRASE": "not it at all"})
    with pytest.raises(VaultMissingError):
        unlock_vault(tmp_path / "none.json", f, env={})


def test_new_passphrase_too_short(tmp_path):
    with pytest.raises(PassphraseError):
        Vault.create(tmp_path / "v.json", "short", argon2=FAST)
    assert not (tmp_path / "v.json").exists()


def test_calibrated_argon2_is_recorded(tmp_path):
    """Without parameters the vault times Argon2id here and records what it chose and how long it took."""
    vault, master, _ = Vault.create(tmp_path / "v.json", PASS)
    p = vault.argon2_params
    took = vault.argon2_seconds
    assert p.lanes == 4 and p.memory_kib >= ARGON2_MIN_MEMORY_KIB and p.iterations >= 1
    lo, hi = ARGON2_TARGET_S
    # a loaded machine may land outside the range; the calibration's own measurement must not
    assert took <= hi or p.iterations == 1, (p, took)
    assert took >= lo or p.iterations == vault_mod.ARGON2_MAX_ITERATIONS, (p, took)
    print(f"Argon2id calibrated here: {p}, {took:.2f} s")
    assert _same_key(master, Vault.open(tmp_path / "v.json").unlock(PASS))


# -- per-session keys ---------------------------------------------------------------------------------
def test_session_keys(made, tmp_path):
    _, _, master, _ = made
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    ka = create_session_key(master, a, "a" * 32)
    kb = create_session_key(master, b, "b" * 32)
    assert ka != kb and load_session_key(master, a, "a" * 32) == ka
    assert oct((a / "session.key").stat().st_mode & 0o777) == "0o600"
    assert ka.hex() not in (a / "session.key").read_text()
    with pytest.raises(SessionKeyError):
        create_session_key(master, a, "a" * 32)
    os.replace(b / "session.key", a / "session.key")  # b's key file moved into a
    with pytest.raises(SessionKeyError, match="does not open"):
        load_session_key(master, a, "a" * 32)
    assert destroy_session_key(a) and not (a / "session.key").exists()
    with pytest.raises(SessionKeyError, match="gone"):
        load_session_key(master, a, "a" * 32)
    assert not destroy_session_key(a)
    keys = {file_key(ka, s, r) for s in ("a" * 32, "b" * 32) for r in ("audio", "events", "timeline")}
    assert len(keys) == 6
