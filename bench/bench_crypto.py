"""Benchmark of the encrypted store (issue 13): what encryption costs live and when opening a session.

    .venv/bin/python bench/bench_crypto.py [--live-minutes M] [--session-minutes M] [--skip-argon2]

1. Live capture: ``--live-minutes`` (default 10) of 16 kHz mono audio written as the recorder writes it,
   0.1-s blocks (1600 samples, float32 -> int16) through :class:`app.store.AudioWriter`, one encrypted
   record per block, fsync once per second of audio (a clock advanced 0.1 s per block stands in for real
   time), plus 2 event-log lines a second. The process CPU time is scaled to one hour of audio, beside
   the same work written plainly (int16 to a file with ``os.write``, fsync each second) as the current
   recorder does: the difference is what encryption adds.
2. Opening a session: ``--session-minutes`` (default 90) of audio written to an encrypted session, then
   the time to list its records (headers only), to decrypt all of it into one float32 array, and to read
   a 30-s window in the middle (random access), beside reading the same samples from a plain WAV.
3. Unlocking: Argon2id calibrated on this machine (the parameters a new vault records) and one unlock.

The machine is shared: its load (``/proc/loadavg``) is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.store import Store, vault_path  # noqa: E402
from app.vault import Argon2Params, Vault, calibrate_argon2, time_argon2  # noqa: E402
from bench.common import loadavg  # noqa: E402

RATE = 16_000  # Hz
BLOCK_S = 0.1  # seconds of audio per block (one record)
BLOCK = int(RATE * BLOCK_S)  # samples per block
EVENTS_PER_S = 2  # event-log lines per second of audio (turns, cues, utterances)
HOUR_S = 3600.0
PASS = "benchmark passphrase"


class _Clock:
    """Session time: advanced by each block, so the 1-s fsync interval follows the audio, not the CPU."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _blocks(n_distinct: int = 50) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [(rng.standard_normal(BLOCK) * 0.1).astype(np.float32) for _ in range(n_distinct)]


def bench_live(store: Store, minutes: float) -> dict[str, float]:
    from app import crypto_stream

    n = int(minutes * 60 / BLOCK_S)
    blocks = _blocks()
    event = {"type": "turn", "speaker": "S1", "start": 12.3, "end": 14.5}
    per_event = int(1 / BLOCK_S / EVENTS_PER_S)

    # encrypted: AudioWriter + EventLog over StreamWriters fsynced on session time
    session = store.create_session({"status": "recording"})
    clock = _Clock()
    audio = session.audio_writer(fsync_interval_s=1.0)
    events = session.event_log(fsync_interval_s=1.0)
    for w in (audio.stream, events.stream):
        w._clock = clock
        w._last_sync = clock()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(n):
        clock.t = (i + 1) * BLOCK_S
        audio.write(blocks[i % len(blocks)])
        if i % per_event == 0:
            events.append(event)
    audio.close()
    events.close()
    enc_cpu, enc_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    fsyncs = audio.stream.fsyncs

    # plain, as app/recorder.py writes today: int16 with os.write, a JSON line per event, fsync each second
    import json

    d = Path(tempfile.mkdtemp(prefix="attune-bench-plain-"))
    fd = os.open(d / "audio.raw", os.O_WRONLY | os.O_CREAT, 0o600)
    ev = open(d / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115
    last = 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(n):
        t = (i + 1) * BLOCK_S
        pcm = np.clip(np.rint(blocks[i % len(blocks)] * 32767.0), -32768, 32767).astype("<i2")
        os.write(fd, pcm.tobytes())
        if i % per_event == 0:
            ev.write(json.dumps(event) + "\n")
            ev.flush()
        if t - last >= 1.0:
            last = t
            os.fsync(fd)
            os.fsync(ev.fileno())
    plain_cpu, plain_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    os.close(fd)
    ev.close()
    shutil.rmtree(d)
    store.delete_session(session.id)

    audio_s = n * BLOCK_S
    scale = HOUR_S / audio_s
    assert crypto_stream.FSYNC_INTERVAL_S == 1.0
    return {"audio_s": audio_s, "records": n, "fsyncs": fsyncs,
            "enc_cpu_per_h": enc_cpu * scale, "enc_wall_per_h": enc_wall * scale,
            "plain_cpu_per_h": plain_cpu * scale, "plain_wall_per_h": plain_wall * scale}


def bench_open(store: Store, minutes: float) -> dict[str, float]:
    import soundfile as sf

    n = int(minutes * 60 / BLOCK_S)
    blocks = _blocks()
    session = store.create_session({"status": "recording", "audio": {"sample_rate": RATE}})
    audio = session.audio_writer(fsync_interval_s=None)
    t0 = time.perf_counter()
    for i in range(n):
        audio.write(blocks[i % len(blocks)])
    audio.close()
    write_s = time.perf_counter() - t0
    size_mb = session.path("audio").stat().st_size / 1e6

    again = store.open_session(session.id)
    t0 = time.perf_counter()
    reader = again.audio_reader()
    scan_s = time.perf_counter() - t0
    cpu0, t0 = time.process_time(), time.perf_counter()
    samples = reader.read_all()
    decrypt_s, decrypt_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert samples.size == n * BLOCK
    mid = minutes * 60 / 2
    t0 = time.perf_counter()
    window = reader.read(mid, mid + 30.0)
    window_s = time.perf_counter() - t0
    assert window.size == 30 * RATE

    wav = Path(tempfile.mkdtemp(prefix="attune-bench-wav-")) / "audio.wav"
    sf.write(wav, samples, RATE, subtype="PCM_16")
    t0 = time.perf_counter()
    plain, _ = sf.read(wav, dtype="float32")
    plain_s = time.perf_counter() - t0
    shutil.rmtree(wav.parent)
    del samples, plain
    store.delete_session(session.id)
    return {"minutes": minutes, "records": n, "size_mb": size_mb, "write_s": write_s, "scan_s": scan_s,
            "decrypt_s": decrypt_s, "decrypt_cpu_s": decrypt_cpu, "window_30s_ms": window_s * 1000,
            "plain_wav_s": plain_s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--live-minutes", type=float, default=10.0)
    ap.add_argument("--session-minutes", type=float, default=90.0)
    ap.add_argument("--skip-argon2", action="store_true")
    args = ap.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="attune-bench-crypto-"))
    try:
        print(f"machine load before: {loadavg()}")
        if not args.skip_argon2:
            params, took = calibrate_argon2()
            t0 = time.perf_counter()
            _, master, _ = Vault.create(vault_path(root), PASS, argon2=params)
            create_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            Vault.open(vault_path(root)).unlock(PASS)
            unlock_s = time.perf_counter() - t0
            again = time_argon2(params)
            print(f"Argon2id calibrated: memory {params.memory_kib // 1024} MiB, {params.iterations} "
                  f"iteration(s), {params.lanes} lanes; one derivation {took:.2f} s at calibration, "
                  f"{again:.2f} s again; vault created in {create_s:.2f} s, unlocked in {unlock_s:.2f} s")
        else:
            _, master, _ = Vault.create(vault_path(root), PASS, argon2=Argon2Params(1024, 1, 1))
        store = Store.open(master, root)

        live = bench_live(store, args.live_minutes)
        added = live["enc_cpu_per_h"] - live["plain_cpu_per_h"]
        print(f"live capture, {live['audio_s'] / 60:.0f} min of audio ({live['records']} records of "
              f"{BLOCK_S} s, {live['fsyncs']} fsyncs of the audio stream), scaled to 1 h of audio:")
        print(f"  encrypted: {live['enc_cpu_per_h']:.2f} CPU s per hour of audio "
              f"({100 * live['enc_cpu_per_h'] / HOUR_S:.3f} % of one core), wall {live['enc_wall_per_h']:.2f} s")
        print(f"  plain (today's recorder): {live['plain_cpu_per_h']:.2f} CPU s per hour, "
              f"wall {live['plain_wall_per_h']:.2f} s")
        print(f"  added by encryption: {added:.2f} CPU s per hour of audio "
              f"({100 * added / HOUR_S:.3f} % of one core)")

        op = bench_open(store, args.session_minutes)
        print(f"opening a {op['minutes']:.0f}-min session ({op['records']} records, {op['size_mb']:.1f} MB "
              f"encrypted): list records {op['scan_s']:.2f} s, decrypt all {op['decrypt_s']:.2f} s "
              f"({op['decrypt_cpu_s']:.2f} CPU s), 30-s window in the middle {op['window_30s_ms']:.1f} ms; "
              f"plain WAV read {op['plain_wav_s']:.2f} s; writing it took {op['write_s']:.2f} s")
        store.close()
        print(f"machine load after: {loadavg()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
