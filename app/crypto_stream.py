"""Authenticated encryption of files at rest: append-only streams and whole files (issue 13).

One file format serves both. A file is a header followed by records::

    header  (40 bytes)   b"ATTUNE" | b"S" | version (1 byte, = 1) | salt (32 random bytes)
    record  (8 + n + 16) word (4 bytes, big-endian) = final << 31 | n
                         ~word (4 bytes: the bitwise complement, catches a damaged length)
                         ciphertext of the n plaintext bytes | Poly1305 tag (16 bytes)

Each file has its own key, ``HKDF-SHA256(file_key, salt=header salt, info="attune.stream/1 key")``, so
no two files ever share a (key, nonce) pair, and ``file_key`` is itself bound to the session and the
file's role by the caller (:func:`app.vault.file_key`). Records are sealed with ChaCha20-Poly1305; the
96-bit nonce of record ``i`` is ``i`` as 11 big-endian bytes followed by the final flag (0x00, or 0x01
for the last record), as in age's STREAM construction, so records cannot be reordered, dropped from the
middle, or passed off as the last one. Every record's associated data is
``"attune.stream/1" 0x00 scope 0x00 role 0x00 header``: a file copied into another session or role does
not authenticate.

An append-only stream (live audio, one record per block; the event log, one record per line) is
written record by record with ``os.write`` (so a killed process loses only what it had not handed to
the operating system), fsynced at most once per ``fsync_interval_s``, and ends with an empty final
record written by :meth:`StreamWriter.close`. A whole file (session.json, timeline, notes, voiceprints)
is a stream with one final record holding everything, written to a temporary file, fsynced and renamed
(:func:`write_sealed_file`).

Reading (:class:`StreamReader`) tells apart:

- a *torn* last record (a crash while it was being written: fewer bytes than its header announces, or a
  tail of zero bytes from a power loss): dropped and reported (``torn_bytes``), never an error;
- a stream without its final record (*unsealed*: the writer never closed it): the records are returned
  with ``sealed=False``; :func:`recover` truncates the torn tail and seals the stream;
- a complete record that fails to authenticate: :class:`AuthenticationError` for the first record (a file
  from another session or role, or the wrong key) and :class:`TamperedError` for a later one (the file
  was altered). Never silently skipped.

Only primitives of the ``cryptography`` package are used (ChaCha20Poly1305, HKDF-SHA256).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from analysis.atomic import atomic_write, fsync_dir, write_all

MAGIC = b"ATTUNE"
KIND_STREAM = b"S"
FORMAT_VERSION = 1
KEY_BYTES = 32  # bytes: every symmetric key (256 bits)
SALT_BYTES = 32  # bytes of per-file random salt in the header
HEADER_BYTES = len(MAGIC) + 1 + 1 + SALT_BYTES  # 40 bytes
RECORD_HEADER_BYTES = 8  # bytes: length word and its complement
TAG_BYTES = 16  # bytes: Poly1305 tag
COUNTER_BYTES = 11  # bytes of record counter in the 12-byte nonce (the 12th is the final flag)
MAX_RECORD_BYTES = 1 << 30  # bytes of plaintext in one record (1 GiB; a whole timeline fits)
FSYNC_INTERVAL_S = 1.0  # seconds of wall time between fsyncs of an append-only stream
_FINAL_BIT = 1 << 31
_WORD_MASK = 0xFFFFFFFF
_LABEL = b"attune.stream/1"


class CryptoError(Exception):
    """Base of the errors of encrypted files; ``str(err)`` is one line for the user."""


class FormatError(CryptoError):
    """Not an Attune encrypted file, or a version this build does not read."""


class AuthenticationError(CryptoError):
    """A complete record failed to authenticate: wrong key, or a file of another session or role."""


class TamperedError(AuthenticationError):
    """A record after the first failed to authenticate, or the record structure is damaged."""


class UnsealedError(CryptoError):
    """The stream has no final record (its writer never closed it): recover it first."""


class WriterBrokenError(CryptoError):
    """A failed write could not be undone; the stream must be recovered before it is used again."""


@dataclass(frozen=True)
class Binding:
    """What a file belongs to: ``scope`` (the session id, or e.g. ``"store"``) and its ``role``
    (``"audio"``, ``"events"``, ``"session"``, ...). Bound into every record's associated data."""

    scope: str
    role: str

    def __post_init__(self) -> None:
        for name, value in (("scope", self.scope), ("role", self.role)):
            if not isinstance(value, str) or not value or "\x00" in value or len(value) > 200:
                raise ValueError(f"binding {name} must be a non-empty string without NUL, at most 200 chars")

    def aad(self, header: bytes) -> bytes:
        return b"\x00".join((_LABEL, self.scope.encode(), self.role.encode(), header))


def hkdf(key: bytes, info: bytes, salt: bytes | None = None, length: int = KEY_BYTES) -> bytes:
    """HKDF-SHA256 of ``key`` (a uniformly random secret) for the purpose named by ``info``."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(bytes(key))


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"a file key is {KEY_BYTES} bytes, got {len(key)}")


def _new_header() -> bytes:
    return MAGIC + KIND_STREAM + bytes([FORMAT_VERSION]) + secrets.token_bytes(SALT_BYTES)


def _aead(file_key: bytes, header: bytes) -> ChaCha20Poly1305:
    return ChaCha20Poly1305(hkdf(file_key, _LABEL + b" key", salt=header[-SALT_BYTES:]))


def _nonce(counter: int, final: bool) -> bytes:
    if counter >= 1 << (8 * COUNTER_BYTES):
        raise OverflowError("stream record counter exhausted")
    return counter.to_bytes(COUNTER_BYTES, "big") + (b"\x01" if final else b"\x00")


def _record(aead: ChaCha20Poly1305, aad: bytes, counter: int, data: bytes, final: bool) -> bytes:
    if len(data) > MAX_RECORD_BYTES:
        raise ValueError(f"a record holds at most {MAX_RECORD_BYTES} bytes, got {len(data)}")
    word = (_FINAL_BIT if final else 0) | len(data)
    return (struct.pack(">II", word, word ^ _WORD_MASK)
            + aead.encrypt(_nonce(counter, final), bytes(data), aad))


# -- writing ---------------------------------------------------------------------------------------
class StreamWriter:
    """Append-only encrypted stream: ``append(bytes)`` writes one record at once, ``close()`` seals it.

    ``fsync_interval_s``: at most one fsync per that many seconds (0: after every record; None: only at
    close). A write that fails (e.g. the disk is full) is undone by truncating the partial record, so
    the stream stays valid and the caller may retry; if even that fails, :class:`WriterBrokenError`.
    Thread-safe. The file must not exist (created 0600, exclusively).
    """

    def __init__(self, path: str | Path, key: bytes, binding: Binding, *,
                 fsync_interval_s: float | None = FSYNC_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        _check_key(key)
        self.path = Path(path)
        self.binding = binding
        self.fsync_interval_s = fsync_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._header = _new_header()
        self._aead = _aead(key, self._header)
        self._aad = binding.aad(self._header)
        self._counter = 0
        self._broken = False
        self.closed = False
        self.fsyncs = 0
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            write_all(self._fd, self._header)
            os.fsync(self._fd)
            fsync_dir(self.path.parent)
        except BaseException:
            os.close(self._fd)
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise
        self._size = HEADER_BYTES
        self._last_sync = clock()

    @property
    def records(self) -> int:
        """Records written so far (the final one included once closed)."""
        return self._counter

    def append(self, data: bytes) -> None:
        """Encrypt ``data`` as the next record and hand it to the operating system at once."""
        with self._lock:
            self._write(bytes(data), final=False)
            self._maybe_sync()

    def _write(self, data: bytes, final: bool) -> None:
        if self.closed:
            raise ValueError(f"{self.path.name}: the stream is closed")
        if self._broken:
            raise WriterBrokenError(f"{self.path.name}: an earlier write failed and could not be undone")
        rec = _record(self._aead, self._aad, self._counter, data, final)
        try:
            write_all(self._fd, rec)
        except OSError:
            try:  # undo the partial record, so that later records are not written after garbage
                os.ftruncate(self._fd, self._size)
                os.lseek(self._fd, self._size, os.SEEK_SET)
            except OSError:
                self._broken = True
            raise
        self._size += len(rec)
        self._counter += 1

    def _maybe_sync(self, force: bool = False) -> None:
        now = self._clock()
        interval = self.fsync_interval_s
        if force or (interval is not None and now - self._last_sync >= interval):
            os.fsync(self._fd)
            self.fsyncs += 1
            self._last_sync = now

    def sync(self) -> None:
        """fsync now."""
        with self._lock:
            if not self.closed:
                self._maybe_sync(force=True)

    def close(self) -> None:
        """Write the (empty) final record, fsync and close. Harmless twice."""
        with self._lock:
            if self.closed:
                return
            try:
                self._write(b"", final=True)
                self._maybe_sync(force=True)
            finally:
                self.closed = True
                os.close(self._fd)

    def abandon(self) -> None:
        """Close the file without sealing it (as a crash would; tests and error paths)."""
        with self._lock:
            if not self.closed:
                self.closed = True
                os.close(self._fd)

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reading ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordInfo:
    offset: int  # bytes from the start of the file to the record's 8-byte header
    length: int  # plaintext bytes
    final: bool


@dataclass(frozen=True)
class StreamContents:
    records: list[bytes]
    sealed: bool  # the final record was read
    torn_bytes: int  # bytes of an incomplete last record that were dropped (0: none)


@dataclass(frozen=True)
class RecoveryReport:
    records: int  # data records kept (the final record not counted)
    torn_bytes: int  # bytes of a torn last record that were cut off
    was_sealed: bool  # the stream was already sealed (nothing was changed)


def _read_header(f, name: str, size: int) -> bytes | None:
    """The header, or None when the file is shorter than a header but could be a torn one."""
    header = f.read(HEADER_BYTES)
    prefix = MAGIC + KIND_STREAM
    if len(header) < HEADER_BYTES:
        if header[: len(prefix)] == prefix[: len(header)] or not header.strip(b"\x00"):
            return None
        raise FormatError(f"{name}: not an Attune encrypted file")
    if header[: len(prefix)] != prefix:
        raise FormatError(f"{name}: not an Attune encrypted file")
    if header[len(prefix)] != FORMAT_VERSION:
        raise FormatError(f"{name}: encrypted file format version {header[len(prefix)]} is not supported")
    return header


def _all_zero(f, start: int, end: int) -> bool:
    f.seek(start)
    left = end - start
    while left > 0:
        chunk = f.read(min(left, 1 << 20))
        if not chunk or chunk.strip(b"\x00"):
            return False
        left -= len(chunk)
    return True


class StreamReader:
    """Reads an encrypted stream, possibly while it is still being written.

    ``iter(reader)`` (or :meth:`read_all`) decrypts every record in order. :meth:`scan` lists the
    complete records from their headers alone (no decryption; incremental on a growing file) and
    :meth:`read_record` decrypts one of them, for random access (audio by time). After a full
    iteration ``sealed`` and ``torn_bytes`` tell how the stream ended.
    """

    def __init__(self, path: str | Path, key: bytes, binding: Binding,
                 max_record_bytes: int = MAX_RECORD_BYTES) -> None:
        _check_key(key)
        self.path = Path(path)
        self.binding = binding
        self._key = bytes(key)
        self.max_record_bytes = max_record_bytes
        self._header: bytes | None = None
        self._aead: ChaCha20Poly1305 | None = None
        self._aad = b""
        self._index: list[RecordInfo] = []
        self._scan_pos = HEADER_BYTES
        self.sealed = False
        self.torn_bytes = 0

    @property
    def name(self) -> str:
        return self.path.name

    def _ensure_header(self, f, size: int) -> bool:
        if self._header is None:
            f.seek(0)
            header = _read_header(f, self.name, size)
            if header is None:
                self.torn_bytes = size
                return False
            self._header = header
            self._aead = _aead(self._key, header)
            self._aad = self.binding.aad(header)
        return True

    def scan(self) -> list[RecordInfo]:
        """The complete records so far, from their headers (new ones appended on each call). Sets
        ``torn_bytes`` for an incomplete tail and ``sealed`` once a final record is seen. Raises
        :class:`TamperedError` for a damaged record header or bytes after the final record."""
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if not self._ensure_header(f, size):
                return self._index
            pos = self._scan_pos
            self.torn_bytes = 0
            while not self.sealed:
                remaining = size - pos
                if remaining == 0:
                    break
                f.seek(pos)
                head = f.read(RECORD_HEADER_BYTES)
                if len(head) < RECORD_HEADER_BYTES:
                    self.torn_bytes = remaining
                    break
                word, check = struct.unpack(">II", head)
                n = word & ~_FINAL_BIT
                if check != word ^ _WORD_MASK or n > self.max_record_bytes:
                    if _all_zero(f, pos, size):  # a power loss left zeros past the last fsync
                        self.torn_bytes = remaining
                        break
                    raise TamperedError(f"{self.name}: record {len(self._index)} is damaged (its header "
                                        f"does not check); the file was altered")
                need = RECORD_HEADER_BYTES + n + TAG_BYTES
                if remaining < need:
                    self.torn_bytes = remaining
                    break
                final = bool(word & _FINAL_BIT)
                self._index.append(RecordInfo(pos, n, final))
                pos += need
                if final:
                    self.sealed = True
                    if pos != size:
                        raise TamperedError(f"{self.name}: {size - pos} bytes follow the final record; "
                                            f"the file was altered")
            self._scan_pos = pos
        return self._index

    def _decrypt(self, f, i: int, info: RecordInfo) -> bytes:
        f.seek(info.offset + RECORD_HEADER_BYTES)
        ct = f.read(info.length + TAG_BYTES)
        try:
            return self._aead.decrypt(_nonce(i, info.final), ct, self._aad)
        except InvalidTag:
            if i == 0:
                raise AuthenticationError(
                    f"{self.name}: does not authenticate as {self.binding.role} of {self.binding.scope}: "
                    f"it belongs to another session or file, the key is wrong, or it was altered") from None
            raise TamperedError(f"{self.name}: record {i} failed authentication; the file was altered") from None

    def read_record(self, i: int) -> bytes:
        """Decrypt record ``i`` of the last :meth:`scan` (the final, empty record included)."""
        info = self._index[i]
        with open(self.path, "rb") as f:
            return self._decrypt(f, i, info)

    def read_records(self, start: int, stop: int) -> list[bytes]:
        """Decrypt records ``start`` to ``stop - 1`` of the last :meth:`scan`, with one open."""
        with open(self.path, "rb") as f:
            return [self._decrypt(f, i, self._index[i]) for i in range(start, stop)]

    def __iter__(self) -> Iterator[bytes]:
        """Every data record's plaintext in order (the empty final record is not yielded)."""
        index = self.scan()
        with open(self.path, "rb") as f:
            for i, info in enumerate(index):
                data = self._decrypt(f, i, info)
                if not info.final or data:
                    yield data

    def read_all(self, require_sealed: bool = False) -> StreamContents:
        records = list(self)
        if require_sealed and not self.sealed:
            raise UnsealedError(f"{self.name}: the stream was not closed (interrupted); recover it first")
        return StreamContents(records, self.sealed, self.torn_bytes)


def read_stream(path: str | Path, key: bytes, binding: Binding, require_sealed: bool = False) -> StreamContents:
    """Every record of a stream, how it ended and what was torn (see :class:`StreamReader`)."""
    return StreamReader(path, key, binding).read_all(require_sealed=require_sealed)


def recover(path: str | Path, key: bytes, binding: Binding) -> RecoveryReport:
    """Seal a stream a crash left open: authenticate every complete record (a failure raises, nothing
    is changed), cut off a torn last record, append the final record and fsync. Harmless on a sealed
    stream. A file shorter than its header becomes an empty sealed stream."""
    path = Path(path)
    reader = StreamReader(path, key, binding)
    data_records = sum(1 for _ in reader)  # authenticates everything before changing anything
    if reader.sealed:
        return RecoveryReport(data_records, 0, True)
    torn = reader.torn_bytes
    if reader._header is None:  # torn header: nothing was ever written after it
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        w = StreamWriter(tmp, key, binding, fsync_interval_s=None)
        w.close()
        os.replace(tmp, path)
        fsync_dir(path.parent)
        return RecoveryReport(0, torn, False)
    end = reader._scan_pos
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        os.ftruncate(fd, end)
        os.lseek(fd, end, os.SEEK_SET)
        write_all(fd, _record(reader._aead, reader._aad, len(reader._index), b"", final=True))
        os.fsync(fd)
    finally:
        os.close(fd)
    return RecoveryReport(data_records, torn, False)


# -- whole files -----------------------------------------------------------------------------------
def seal_bytes(data: bytes, key: bytes, binding: Binding) -> bytes:
    """A whole file's bytes: a header and one final record holding ``data``."""
    _check_key(key)
    header = _new_header()
    return header + _record(_aead(key, header), binding.aad(header), 0, bytes(data), final=True)


def write_sealed_file(path: str | Path, data: bytes, key: bytes, binding: Binding) -> Path:
    """Encrypt ``data`` whole into ``path``: a private temporary file (0600) beside it, fsynced, renamed
    over ``path``, the folder fsynced. Readers see the old file or the new one, never a mix."""
    path = Path(path)
    return atomic_write(path, seal_bytes(data, key, binding))


def read_sealed_file(path: str | Path, key: bytes, binding: Binding) -> bytes:
    """The plaintext of a file written by :func:`write_sealed_file` (exactly one final record)."""
    reader = StreamReader(path, key, binding)
    index = reader.scan()
    if not reader.sealed or len(index) != 1:
        if reader.torn_bytes or not reader.sealed:
            raise TamperedError(f"{reader.name}: the file is incomplete (truncated)")
        raise TamperedError(f"{reader.name}: holds {len(index)} records where one was expected")
    return reader.read_record(0)
