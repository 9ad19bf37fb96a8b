"""The start dialog's level meter stays live while audio plays (issue 11, point 5).

The input is a recording whose level alternates between loud and quiet every half second, replayed in
real time as the microphone would deliver it; the meter must follow it up and down for as long as the
dialog is open, and again after the input is chosen anew. (The same through a real capture, a
PulseAudio virtual microphone, is in ``tests/test_microphone.py``.) No test sleeps: they wait for the
meter.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from app.settings import load_settings
from ui.start_dialog import StartDialog

SEGMENT_S = 0.5  # seconds of each level
LOUD_DBFS, QUIET_DBFS = -20.0, -60.0  # RMS levels of the two halves
LOUD_ABOVE, QUIET_BELOW = -30.0, -45.0  # what the meter must show to count as following them


def alternating_levels(path, seconds: float = 3.0, sr: int = 16_000):
    """White noise at LOUD_DBFS and QUIET_DBFS, alternating every SEGMENT_S, as 16-bit WAV."""
    rng = np.random.default_rng(0)
    n = int(SEGMENT_S * sr)
    parts = []
    for i in range(int(seconds / SEGMENT_S)):
        db = LOUD_DBFS if i % 2 == 0 else QUIET_DBFS
        parts.append(rng.standard_normal(n) * 10 ** (db / 20))
    sf.write(path, np.concatenate(parts).astype(np.float32), sr, subtype="PCM_16")
    return path


class MeterWatch:
    """Reads the meter whenever the test waits and counts how often it went from loud to quiet or back."""

    def __init__(self, meter) -> None:
        self.meter = meter
        self.side: str | None = None
        self.changes = 0
        self.readings: list[float] = []

    def moves(self, times: int) -> bool:
        db = self.meter.db
        if not self.readings or self.readings[-1] != db:
            self.readings.append(db)
        side = "loud" if db > LOUD_ABOVE else "quiet" if db < QUIET_BELOW else None
        if side is not None and side != self.side:
            self.changes += self.side is not None
            self.side = side
        return self.changes >= times


@pytest.fixture
def dialog(qtbot):
    dialog = StartDialog(load_settings())  # the real level probe, on its own thread
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog
    dialog.reject()  # stops the probe


def test_level_meter_keeps_following_the_input(qtbot, dialog, tmp_path):
    wav = alternating_levels(tmp_path / "levels.wav")
    dialog.set_source(f"file:{wav}")
    watch = MeterWatch(dialog.meter)
    # loud, quiet, loud, quiet, loud: the meter keeps moving after its first reading, through the loop
    # of the 3-s recording and back to its start
    qtbot.waitUntil(lambda: watch.moves(8), timeout=15_000)
    assert len(watch.readings) > 16, watch.readings  # ~15 readings a second, not one now and then
    # on the consent page (the client is being asked) the meter still runs: it stops only with the dialog
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    again = MeterWatch(dialog.meter)
    qtbot.waitUntil(lambda: again.moves(2), timeout=5_000)
    # choosing the input anew restarts it, and it follows the input again
    dialog.set_source(f"file:{wav}")
    fresh = MeterWatch(dialog.meter)
    qtbot.waitUntil(lambda: fresh.moves(2), timeout=5_000)
