"""kill -9 during live capture, again and again (issue 13 point 7): is every session recoverable, how
much audio is lost, is the index consistent?

    .venv/bin/python bench/bench_kill.py [--kills 20] [--seed 0]

Each round starts ``attune live --file <generated recording> --realtime --out <store> --no-transcribe
--no-diarize -q`` in its own process group, waits for the session's encrypted audio stream to appear
(its first record: the recorder creates the stream at its first write), lets it capture for a random
0.5-4 s and kills the whole group with SIGKILL. Then, in this process: ``store.unsealed_sessions()``
must name the session, ``recover_store_session`` (``session.recover()``: the torn tail cut, the streams
sealed, the events to the timeline) must succeed, and the index (``store.list_sessions()``) must hold
exactly the session folders, each "recovered".

Audio lost = the time the process had been capturing - the recovered audio's duration, where the time
capturing is the wall time from the moment the first audio record was seen on disk (polled every
10 ms) to the kill, plus the one 0.1-s block that record holds. The source is paced in real time, so
a recorder that keeps up has written about that much audio. The events written (their count, the last
one's end) are printed beside it.

A standalone run makes its own data folder and a cheap vault (Argon2id 1 MiB, as the tests do) under a
temporary folder; nothing of the user's is touched.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audio import SAMPLE_RATE as RATE  # noqa: E402 - after the path insert

BLOCK_S = 0.1
START_TIMEOUT_S = 120.0  # start-up (imports, store, models) under load


@dataclass
class KillResult:
    session: str
    captured_s: float  # wall time from the first audio record on disk to the kill (+ one block)
    recovered_s: float  # the recovered audio's duration
    events: int
    last_event_end: float
    recover_s: float  # the time recovery took

    @property
    def lost_s(self) -> float:
        return self.captured_s - self.recovered_s


def write_recording(path: Path, seconds: float = 30.0, seed: int = 0) -> Path:
    """A generated recording: voiced bursts (harmonics of a gliding pitch, syllable-rate envelope) with
    pauses and a little noise, 16 kHz mono WAV. No speech models are needed for it."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
    syllables = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) * (np.sin(2 * np.pi * 0.25 * t) > -0.3)
    x = 0.2 * voiced * syllables + 0.003 * rng.standard_normal(t.size)
    sf.write(str(path), x.astype(np.float32), RATE, subtype="PCM_16")
    return path


def _new_audio(sessions: Path, before: set[str]) -> Path | None:
    if not sessions.is_dir():
        return None
    for d in sessions.iterdir():
        if d.name not in before:
            a = d / "audio.stream"
            try:
                if a.stat().st_size > 0:
                    return a
            except OSError:
                pass
    return None


def kill_once(store_root: Path, wav: Path, delay_s: float, env: dict | None = None) -> tuple[str, float]:
    """Start ``attune live`` into ``store_root``, kill its process group ``delay_s`` after its first audio
    record appeared. Returns (session id, seconds captured)."""
    sessions = store_root / "sessions"
    before = {d.name for d in sessions.iterdir()} if sessions.is_dir() else set()
    cmd = [sys.executable, "-m", "app.cli", "live", "--file", str(wav), "--realtime", "--out", str(store_root),
           "--no-transcribe", "--no-diarize", "-q"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env or os.environ.copy(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        audio = None
        while audio is None:
            if proc.poll() is not None:
                raise RuntimeError(f"attune live ended before capturing: {proc.stderr.read().decode()[-1500:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("attune live did not start capturing in time")
            time.sleep(0.01)
            audio = _new_audio(sessions, before)
        t0 = time.monotonic()
        time.sleep(delay_s)
        os.killpg(proc.pid, signal.SIGKILL)
        captured = time.monotonic() - t0 + BLOCK_S
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        proc.stderr.close()
    return audio.parent.name, captured


def recover_and_check(store, session_id: str) -> tuple[float, int, float, float]:
    """Recover the killed session; returns (audio seconds, events, last event end, seconds taken)."""
    from app.recorder import recover_store_session

    unsealed = store.unsealed_sessions()
    assert session_id in unsealed, f"{session_id} is not among the unsealed sessions {unsealed}"
    t = time.perf_counter()
    duration = recover_store_session(store.session(session_id))
    took = time.perf_counter() - t
    s = store.session(session_id)
    assert not s.unsealed_roles() and s.meta["status"] == "recovered", s.meta.get("status")
    events = s.read_events()
    ends = [float(e["end"]) for e in events if isinstance(e, dict) and isinstance(e.get("end"), (int, float))]
    return duration, len(events), max(ends, default=0.0), took


def check_index(store) -> None:
    """The index lists exactly the session folders, none left unsealed."""
    listed = sorted(s.id for s in store.list_sessions())
    folders = sorted(store.session_ids())
    assert listed == folders, (listed, folders)
    assert not store.unsealed_sessions()


def open_store(root: Path):
    from app.store import Store, vault_path
    from app.vault import Vault

    master = Vault.open(vault_path()).unlock(os.environ["ATTUNE_PASSPHRASE"])
    return Store.open(master, root=root, audit_unlock=False)


def run_kills(n: int, store_root: Path, wav: Path, seed: int = 0, delays: tuple[float, float] = (0.5, 4.0),
              log=None) -> list[KillResult]:
    """``n`` rounds of start, kill -9, recover; every round's session recovered and the index checked.
    Needs ``$ATTUNE_HOME`` with a vault and ``$ATTUNE_PASSPHRASE``."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        delay = rng.uniform(*delays)
        sid, captured = kill_once(store_root, wav, delay)
        store = open_store(store_root)  # as a later process would: keyless folders purged, index checked
        try:
            recovered, events, last_end, took = recover_and_check(store, sid)
            check_index(store)
        finally:
            store.close()
        r = KillResult(sid, captured, recovered, events, last_end, took)
        out.append(r)
        if log:
            log(f"kill {i + 1:2d}: after {delay:4.2f} s  captured {captured:5.2f} s  recovered {recovered:5.2f} s  "
                f"lost {r.lost_s:+5.2f} s  events {events:3d} (last end {last_end:5.2f} s)  "
                f"recovery {took * 1000:5.0f} ms")
    return out


def make_home(base: Path) -> None:
    """A data folder with a cheap vault for a standalone run (tests have conftest's)."""
    from app.vault import Argon2Params, Vault

    home = base / "home"
    os.environ["ATTUNE_HOME"] = str(home)
    os.environ.setdefault("ATTUNE_PASSPHRASE", "bench passphrase")
    os.environ["HF_HUB_OFFLINE"] = "1"
    Vault.create(home / "store" / "vault.json", os.environ["ATTUNE_PASSPHRASE"],
                 argon2=Argon2Params(memory_kib=1024, iterations=1, lanes=1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from bench.common import loadavg

    with tempfile.TemporaryDirectory(prefix="attune-kill-") as tmp:
        base = Path(tmp)
        make_home(base)
        wav = write_recording(base / "speech.wav")
        store_root = base / "store"
        print(f"load before: {loadavg()}", flush=True)
        t = time.perf_counter()
        results = run_kills(args.kills, store_root, wav, seed=args.seed, log=lambda s: print(s, flush=True))
        lost = [r.lost_s for r in results]
        store = open_store(store_root)
        sessions = len(store.list_sessions())
        store.close()
        print(f"\n{len(results)}/{args.kills} kills survived (every session recovered, index consistent: "
              f"{sessions} sessions listed = {sessions} folders)")
        print(f"audio lost per kill: most {max(lost):.2f} s, median {float(np.median(lost)):.2f} s, "
              f"least {min(lost):.2f} s; bound 2 s: {'met' if max(lost) <= 2.0 else 'NOT met'}")
        print(f"recovery: most {max(r.recover_s for r in results) * 1000:.0f} ms; "
              f"run {time.perf_counter() - t:.0f} s; load after: {loadavg()}")
    return 0 if max(lost) <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
