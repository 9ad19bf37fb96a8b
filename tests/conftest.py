"""Shared test set-up. Tests run offscreen and offline."""

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["PYANNOTE_METRICS_ENABLED"] = "0"

ROOT = Path(__file__).resolve().parents[1]
SHARED_AUDIO = ROOT.parent / "shared" / "audio"


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    """The real recordings the README's "Test data" names. Missing, the tests that need them fail (a skip
    would let the suite pass without its real-speech evidence)."""
    if not SHARED_AUDIO.is_dir():
        pytest.fail(f"the shared test recordings are missing: {SHARED_AUDIO} (README, 'Test data')")
    return SHARED_AUDIO


@pytest.fixture(scope="session")
def dialogue(tmp_path_factory):
    """The demo counselling dialogue (``app.synth.demo_script(0)``, 84 s, two voices) rendered once for
    the whole run: (wav path, truth). Tests only read it."""
    from app.synth import demo_script, render

    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: ./setup.sh installs it")
    wav = tmp_path_factory.mktemp("dialogue") / "demo0.wav"
    return wav, render(demo_script(0), wav)


TEST_PASSPHRASE = "correct horse battery staple"  # tests only


def _make_home(home: Path) -> Path:
    from app.vault import Argon2Params, Vault

    Vault.create(home / "store" / "vault.json", TEST_PASSPHRASE,
                 argon2=Argon2Params(memory_kib=1024, iterations=1, lanes=1))
    return home


@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory):
    """A data folder of the whole run for what module- and session-scoped fixtures start (they run before
    the per-test folder below): never the user's own folder, whose voiceprints or settings would change
    what a test's `attune analyze` does (an enrolled voice needs the store unlocked)."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("attune-run-home")
        mp.setenv("ATTUNE_HOME", str(home))
        mp.setenv("ATTUNE_PASSPHRASE", TEST_PASSPHRASE)
        yield _make_home(home)


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Every test gets its own Attune data folder (settings, voiceprints, sessions) and its own
    encrypted store, unlocked with ``$ATTUNE_PASSPHRASE``. The vault is made here with a cheap Argon2id
    (1 MiB, tests only; a real vault calibrates its own ~0.5-1 s), so commands started by a test unlock
    at once."""
    home = tmp_path_factory.mktemp("attune-home")
    monkeypatch.setenv("ATTUNE_HOME", str(home))
    monkeypatch.setenv("ATTUNE_PASSPHRASE", TEST_PASSPHRASE)
    return _make_home(home)
