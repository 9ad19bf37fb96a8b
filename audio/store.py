"""A disk-backed store of the session's 16 kHz mono audio for random access by later stages.

Decoding streams blocks through VAD once; transcription and diarization then read back only the
stretches they need. The samples live as int16 in a private temporary file (mode 0600, removed on
close), so a two-hour session costs about 230 MB of disk and almost no resident memory. The file holds
no plaintext audio (issue 13: nothing decrypted into temp files): the int16 bytes are XORed with a
ChaCha20 key stream (the ``cryptography`` package) under a random key and nonce held only in this
object's memory, so a crash that leaves the file behind leaves noise. The key stream is addressed by
byte offset (64-byte blocks), so any stretch is read back on its own. Confidentiality only: the file is
written and read by this one process, and nobody else has the key. Stretches are read
with ``pread``, not through a memory map: every page of a mapped file that has been read stays in the
process's resident set until the mapping goes, so reading a whole recording through a map once (as
windowed diarization and the tone figures do) added its full size, 115 MB an hour, to peak RSS.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from audio import SAMPLE_RATE

_SCALE = 32767.0
_READ_SAMPLES = 1 << 22  # samples per pread (8 MB of int16, 4.4 min): a long stretch is read in pieces
_CHACHA_BLOCK = 64  # bytes of key stream per counter value


class _KeyStream:
    """ChaCha20 under a random in-memory key, addressable by byte offset (counter = offset // 64)."""

    def __init__(self) -> None:
        self._key = os.urandom(32)
        self._nonce = os.urandom(12)

    def xor(self, data: bytes, offset: int) -> bytes:
        block, skip = divmod(offset, _CHACHA_BLOCK)
        if block >= 1 << 32:
            raise ValueError("PcmStore: more than 256 GB of audio")
        enc = Cipher(algorithms.ChaCha20(self._key, block.to_bytes(4, "little") + self._nonce), mode=None).encryptor()
        if skip:
            enc.update(bytes(skip))
        return enc.update(data)


class PcmStore:
    def __init__(self, sample_rate: int = SAMPLE_RATE, directory: str | None = None) -> None:
        self.sample_rate = sample_rate
        fd, self._path = tempfile.mkstemp(prefix="attune-pcm-", suffix=".raw", dir=directory)
        os.fchmod(fd, 0o600)
        self._file = os.fdopen(fd, "w+b")
        self._n = 0
        self._reading = False
        self._stream = _KeyStream()

    # -- writing ---------------------------------------------------------------------------------
    def append(self, block: np.ndarray) -> None:
        if self._reading:
            raise RuntimeError("PcmStore is read-only once read from")
        pcm = np.clip(np.asarray(block, dtype=np.float32) * _SCALE, -32768, 32767).astype("<i2")
        self._file.write(self._stream.xor(pcm.tobytes(), 2 * self._n))
        self._n += len(pcm)

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def duration(self) -> float:
        return self._n / self.sample_rate

    def read(self, start: float = 0.0, end: float | None = None) -> np.ndarray:
        """float32 samples between two times (seconds), clipped to the stored range."""
        a = max(0, int(round(start * self.sample_rate)))
        b = self._n if end is None else min(self._n, int(round(end * self.sample_rate)))
        if b <= a:
            return np.zeros(0, dtype=np.float32)
        if not self._reading:
            self._file.flush()
            self._reading = True
        out = np.empty(b - a, dtype=np.float32)
        step = _READ_SAMPLES
        for i in range(a, b, step):  # no mapping, so nothing read stays resident; bounded pieces
            raw = self._stream.xor(os.pread(self._file.fileno(), 2 * (min(b, i + step) - i), 2 * i), 2 * i)
            out[i - a: i - a + len(raw) // 2] = np.frombuffer(raw, dtype="<i2")
        out /= _SCALE  # in place: one float32 copy of the stretch, not two
        return out

    def close(self) -> None:
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
