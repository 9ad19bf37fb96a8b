"""A disk-backed store of the session's 16 kHz mono audio for random access by later stages.

Decoding streams blocks through VAD once; transcription and diarization then read back only the
stretches they need. The samples live as int16 in a private temporary file (mode 0600, removed on
close), so a two-hour session costs about 230 MB of disk and almost no resident memory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import numpy as np

from audio import SAMPLE_RATE

_SCALE = 32767.0


class PcmStore:
    def __init__(self, sample_rate: int = SAMPLE_RATE, directory: str | None = None) -> None:
        self.sample_rate = sample_rate
        fd, self._path = tempfile.mkstemp(prefix="attune-pcm-", suffix=".raw", dir=directory)
        os.fchmod(fd, 0o600)
        self._file = os.fdopen(fd, "w+b")
        self._n = 0
        self._map: np.memmap | None = None

    # -- writing ---------------------------------------------------------------------------------
    def append(self, block: np.ndarray) -> None:
        if self._map is not None:
            raise RuntimeError("PcmStore is read-only once read from")
        pcm = np.clip(np.asarray(block, dtype=np.float32) * _SCALE, -32768, 32767).astype("<i2")
        self._file.write(pcm.tobytes())
        self._n += len(pcm)

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def duration(self) -> float:
        return self._n / self.sample_rate

    def _mapped(self) -> np.ndarray:
        if self._map is None:
            self._file.flush()
            if self._n == 0:
                return np.zeros(0, dtype="<i2")
            self._map = np.memmap(self._path, dtype="<i2", mode="r", shape=(self._n,))
        return self._map

    def read(self, start: float = 0.0, end: float | None = None) -> np.ndarray:
        """float32 samples between two times (seconds), clipped to the stored range."""
        a = max(0, int(round(start * self.sample_rate)))
        b = self._n if end is None else min(self._n, int(round(end * self.sample_rate)))
        if b <= a:
            return np.zeros(0, dtype=np.float32)
        out = self._mapped()[a:b].astype(np.float32)
        out /= _SCALE  # in place: one float32 copy of the stretch, not two
        return out

    def close(self) -> None:
        self._map = None
        try:
            self._file.close()
        finally:
            if os.path.exists(self._path):
                os.unlink(self._path)

    def __enter__(self) -> PcmStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: never leave audio behind
        with contextlib.suppress(Exception):
            self.close()
