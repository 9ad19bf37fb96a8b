"""Encrypted streams and whole files (app/crypto_stream.py): round trips, crashes, tampering, swaps."""

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app import crypto_stream as cs
from app.crypto_stream import (
    HEADER_BYTES,
    RECORD_HEADER_BYTES,
    TAG_BYTES,
    AuthenticationError,
    Binding,
    FormatError,
    StreamReader,
    StreamWriter,
    TamperedError,
    UnsealedError,
    read_sealed_file,
    read_stream,
    recover,
    write_sealed_file,
)

ROOT = Path(__file__).resolve().parents[1]
KEY = bytes(range(32))
BIND = Binding("3f2a" * 8, "audio")


def _records(n: int, size: int = 100) -> list[bytes]:
    return [bytes([i % 251]) * size + i.to_bytes(4, "big") for i in range(n)]


def _write(path: Path, records: list[bytes], close: bool = True, key: bytes = KEY, binding: Binding = BIND) -> None:
    w = StreamWriter(path, key, binding, fsync_interval_s=None)
    for r in records:
        w.append(r)
    if close:
        w.close()
    else:
        w.abandon()


def _record_offsets(path: Path) -> list[cs.RecordInfo]:
    return StreamReader(path, KEY, BIND).scan()


# -- round trips ---------------------------------------------------------------------------------------
def test_stream_round_trip_sealed(tmp_path):
    recs = _records(20) + [b"", b"x" * 70_000]
    _write(tmp_path / "a.stream", recs)
    got = read_stream(tmp_path / "a.stream", KEY, BIND, require_sealed=True)
    assert got.records == recs and got.sealed and got.torn_bytes == 0
    assert oct((tmp_path / "a.stream").stat().st_mode & 0o777) == "0o600"
    size = (tmp_path / "a.stream").stat().st_size
    assert size == HEADER_BYTES + sum(RECORD_HEADER_BYTES + len(r) + TAG_BYTES for r in recs) \
        + RECORD_HEADER_BYTES + TAG_BYTES  # the empty final record


def test_nonce_is_counter_and_final_flag():
    assert cs._nonce(0, False) == bytes(12)
    assert cs._nonce(1, False) == bytes(10) + b"\x01\x00"
    assert cs._nonce(258, True) == bytes(9) + b"\x01\x02\x01"
    with pytest.raises(OverflowError):
        cs._nonce(1 << 88, False)


def test_same_plaintext_never_same_ciphertext(tmp_path):
    _write(tmp_path / "a", [b"same"] * 3)
    _write(tmp_path / "b", [b"same"] * 3)
    a, b = (tmp_path / "a").read_bytes(), (tmp_path / "b").read_bytes()
    assert a[:7] == b[:7] and a[7:] != b[7:]  # per-file salt: another key for every file
    infos = _record_offsets(tmp_path / "a")
    cts = {a[i.offset + 8:i.offset + 8 + 4 + 16] for i in infos[:3]}
    assert len(cts) == 3  # per-record nonce


def test_whole_file_round_trip_atomic_and_private(tmp_path):
    path = tmp_path / "timeline.enc"
    bind = Binding("s1", "timeline")
    write_sealed_file(path, b"first", KEY, bind)
    write_sealed_file(path, b"second version", KEY, bind)
    assert read_sealed_file(path, KEY, bind) == b"second version"
    assert [p.name for p in tmp_path.iterdir()] == ["timeline.enc"]  # no temp file left
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    blob = path.read_bytes()
    path.write_bytes(blob[:-1])  # a truncated whole file is damage, not a crash
    with pytest.raises(TamperedError):
        read_sealed_file(path, KEY, bind)


def test_reading_a_stream_that_is_being_written(tmp_path):
    path = tmp_path / "live.stream"
    w = StreamWriter(path, KEY, BIND, fsync_interval_s=None)
    reader = StreamReader(path, KEY, BIND)
    assert reader.scan() == []
    w.append(b"one")
    w.append(b"two")
    assert len(reader.scan()) == 2 and reader.read_record(1) == b"two"
    w.append(b"three")
    assert len(reader.scan()) == 3 and not reader.sealed
    w.close()
    assert len(reader.scan()) == 4 and reader.sealed


def test_unsealed_stream_is_refused_when_a_sealed_one_is_required(tmp_path):
    _write(tmp_path / "u.stream", [b"a"], close=False)
    assert read_stream(tmp_path / "u.stream", KEY, BIND).records == [b"a"]
    with pytest.raises(UnsealedError):
        read_stream(tmp_path / "u.stream", KEY, BIND, require_sealed=True)


def test_fsync_at_most_once_per_interval(tmp_path, monkeypatch):
    now = [0.0]
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(cs.os, "fsync", lambda fd: (synced.append(now[0]), real_fsync(fd)))
    w = StreamWriter(tmp_path / "s", KEY, BIND, fsync_interval_s=1.0, clock=lambda: now[0])
    synced.clear()  # the header's fsync at creation
    for _ in range(50):  # 5 s of 0.1-s blocks
        now[0] += 0.1
        w.append(b"\x00" * 3200)
    assert 4 <= len(synced) <= 5
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(synced, synced[1:], strict=False))
    w.close()
    assert len(synced) <= 6 and w.fsyncs == len(synced)


# -- crashes -----------------------------------------------------------------------------------------
def test_truncation_at_every_byte_of_the_last_record(tmp_path):
    recs = _records(6, size=57)
    src = tmp_path / "full.stream"
    _write(src, recs, close=False)
    blob = src.read_bytes()
    last = _record_offsets(src)[-1]
    end = last.offset + RECORD_HEADER_BYTES + last.length + TAG_BYTES
    assert end == len(blob)
    for cut in range(last.offset, end):
        path = tmp_path / f"cut{cut}.stream"
        path.write_bytes(blob[:cut])
        got = read_stream(path, KEY, BIND)
        assert got.records == recs[:-1] and not got.sealed and got.torn_bytes == cut - last.offset, cut
        report = recover(path, KEY, BIND)
        assert (report.records, report.torn_bytes, report.was_sealed) == (5, cut - last.offset, False)
        again = read_stream(path, KEY, BIND, require_sealed=True)
        assert again.records == recs[:-1] and again.sealed and again.torn_bytes == 0
        assert recover(path, KEY, BIND).was_sealed  # a second recovery changes nothing
        path.unlink()
    # the whole last record present but no final record: nothing torn, nothing lost
    got = read_stream(src, KEY, BIND)
    assert got.records == recs and not got.sealed and got.torn_bytes == 0


def test_lost_final_record_and_torn_header(tmp_path):
    path = tmp_path / "s"
    _write(path, [b"a", b"b"])
    final = _record_offsets(path)[-1]
    with open(path, "r+b") as f:  # cut inside the final record
        f.truncate(final.offset + 5)
    got = read_stream(path, KEY, BIND)
    assert got.records == [b"a", b"b"] and not got.sealed and got.torn_bytes == 5
    for n in (0, 1, 7, HEADER_BYTES - 1):  # killed while the header was being written
        short = tmp_path / f"h{n}"
        short.write_bytes(path.read_bytes()[:n])
        assert read_stream(short, KEY, BIND).records == []
        assert recover(short, KEY, BIND).records == 0
        assert read_stream(short, KEY, BIND, require_sealed=True).sealed


def test_zero_tail_after_power_loss_is_torn(tmp_path):
    path = tmp_path / "s"
    _write(path, [b"a" * 10, b"b" * 10], close=False)
    with open(path, "ab") as f:
        f.write(bytes(4096))
    got = read_stream(path, KEY, BIND)
    assert got.records == [b"a" * 10, b"b" * 10] and got.torn_bytes == 4096
    recover(path, KEY, BIND)
    assert read_stream(path, KEY, BIND, require_sealed=True).records == [b"a" * 10, b"b" * 10]


def test_kill_minus_9_while_writing(tmp_path):
    """A real writer process killed at a random moment: its stream recovers with every record it
    reported as written, at most the one being written lost."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from app.crypto_stream import Binding, StreamWriter
        w = StreamWriter(sys.argv[1], bytes(range(32)), Binding({BIND.scope!r}, "audio"), fsync_interval_s=1.0)
        i = 0
        while True:
            w.append(i.to_bytes(4, "big") * 800)  # 0.1 s of 16 kHz int16
            print(i, flush=True)
            i += 1
            time.sleep(0.002)
    """)
    for run in range(3):
        path = tmp_path / f"k{run}.stream"
        proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
        first = proc.stdout.readline()
        assert first.strip() == "0", first
        time.sleep(0.05 + 0.1 * secrets.randbelow(4))
        os.kill(proc.pid, signal.SIGKILL)
        reported = [first] + proc.stdout.read().split()
        proc.wait()
        report = recover(path, KEY, BIND)
        got = read_stream(path, KEY, BIND, require_sealed=True).records
        assert len(got) >= len(reported) - 1 and report.records == len(got)
        assert got == [i.to_bytes(4, "big") * 800 for i in range(len(got))]


def test_failed_write_is_undone(tmp_path, monkeypatch):
    """Disk full in the middle of a record: the partial record is cut off and the stream stays valid."""
    path = tmp_path / "s"
    w = StreamWriter(path, KEY, BIND, fsync_interval_s=None)
    w.append(b"before")
    real_write = os.write

    def full(fd, data):
        real_write(fd, bytes(data)[:7])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cs.os, "write", full)
    with pytest.raises(OSError):
        w.append(b"lost" * 100)
    monkeypatch.setattr(cs.os, "write", real_write)
    w.append(b"after")
    w.close()
    assert read_stream(path, KEY, BIND, require_sealed=True).records == [b"before", b"after"]


# -- tampering and swaps -----------------------------------------------------------------------------
def test_bit_flip_in_a_middle_record_is_tampering(tmp_path):
    recs = _records(5, size=40)
    src = tmp_path / "s"
    _write(src, recs)
    blob = src.read_bytes()
    mid = _record_offsets(src)[2]
    end = mid.offset + RECORD_HEADER_BYTES + mid.length + TAG_BYTES
    for pos in range(mid.offset, end):  # every byte of the record: header, ciphertext, tag
        for bit in (0, 7):
            bad = bytearray(blob)
            bad[pos] ^= 1 << bit
            path = tmp_path / "bad"
            path.write_bytes(bytes(bad))
            with pytest.raises(TamperedError):
                read_stream(path, KEY, BIND)
            with pytest.raises(TamperedError):
                recover(path, KEY, BIND)  # never "recovers" by dropping the tampered part
            assert path.read_bytes() == bytes(bad)  # and changes nothing


def test_reordered_dropped_or_extended_records_are_tampering(tmp_path):
    src = tmp_path / "s"
    _write(src, [b"A" * 10, b"B" * 10, b"C" * 10, b"D" * 10])
    blob = src.read_bytes()
    info = _record_offsets(src)
    rec = [blob[i.offset:i.offset + RECORD_HEADER_BYTES + i.length + TAG_BYTES] for i in info]
    head = blob[:HEADER_BYTES]
    variants = {
        "swapped": head + rec[0] + rec[2] + rec[1] + b"".join(rec[3:]),
        "dropped": head + rec[0] + rec[2] + b"".join(rec[3:]),
        "appended": blob + b"more",
        "final moved up": head + rec[0] + rec[1] + rec[4],  # the final record cut short the stream
    }
    for name, data in variants.items():
        path = tmp_path / name.replace(" ", "_")
        path.write_bytes(data)
        with pytest.raises(TamperedError):
            read_stream(path, KEY, BIND)


def test_file_of_another_session_role_or_key_does_not_authenticate(tmp_path):
    path = tmp_path / "s"
    _write(path, [b"audio block"])
    for key, binding in ((KEY, Binding(BIND.scope, "events")), (KEY, Binding("another-session", "audio")),
                         (bytes(32), BIND)):
        with pytest.raises(AuthenticationError) as err:
            read_stream(path, key, binding)
        assert "\n" not in str(err.value)
    whole = tmp_path / "note.enc"
    write_sealed_file(whole, b"note", KEY, Binding("s1", "note"))
    for binding in (Binding("s1", "timeline"), Binding("s2", "note")):
        with pytest.raises(AuthenticationError):
            read_sealed_file(whole, KEY, binding)


def test_not_an_attune_file(tmp_path):
    wav = tmp_path / "audio.wav"
    wav.write_bytes(b"RIFF\xff\xff\xff\xffWAVEfmt " + bytes(200))
    with pytest.raises(FormatError):
        read_stream(wav, KEY, BIND)
    newer = tmp_path / "v9"
    newer.write_bytes(b"ATTUNES\x09" + bytes(100))
    with pytest.raises(FormatError, match="version 9"):
        read_stream(newer, KEY, BIND)


def test_binding_rejects_nul_and_empty():
    for scope, role in (("", "audio"), ("s", ""), ("s\x00x", "audio")):
        with pytest.raises(ValueError):
            Binding(scope, role)
