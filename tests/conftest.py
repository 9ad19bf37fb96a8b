"""Shared test set-up. Tests run offscreen and offline."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["PYANNOTE_METRICS_ENABLED"] = "0"

ROOT = Path(__file__).resolve().parents[1]
SHARED_AUDIO = ROOT.parent / "shared" / "audio"


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"shared recordings not found at {SHARED_AUDIO}")
    return SHARED_AUDIO


@pytest.fixture(scope="session")
def dialogue(tmp_path_factory):
    """The demo counselling dialogue (``audio.synth.demo_script(0)``, 84 s, two voices) rendered once for
    the whole run: (wav path, truth). Tests only read it."""
    from audio.synth import demo_script, render

    wav = tmp_path_factory.mktemp("dialogue") / "demo0.wav"
    return wav, render(demo_script(0), wav)


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Every test gets its own Attune data folder (settings, voiceprints, sessions)."""
    home = tmp_path_factory.mktemp("attune-home")
    monkeypatch.setenv("ATTUNE_HOME", str(home))
    return home
