"""Batch throughput (issue 16): audio hours per core hour of ``attune batch`` with 1 and 2 workers, of
``attune analyze`` run file by file, and of the Dask engine on a local cluster (its overhead).

    .venv/bin/python bench/bench_batch.py [--files N] [--transcribe] [--no-dask]

Each configuration analyses the same dev recordings (../shared/audio/dev) from scratch in a fresh
output folder, as a separate process; the figures are

- audio h / core h (wall): audio hours / (wall hours x the machine's cores used: workers x threads, or
  all cores for ``attune analyze``), what a dedicated machine would deliver;
- audio h / CPU h: audio hours / CPU hours actually used by the process and its children (user + sys),
  which a busy shared machine disturbs less.

The machine's load is printed beside them.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import loadavg  # noqa: E402

DEV = ROOT.parent / "shared" / "audio" / "dev"


def dev_files(n: int) -> list[Path]:
    """The ``n`` shortest dev calls (SpokenWOZ, 1.5-2 min each; the LCA mixes, 4 min, after them)."""
    files = sorted(DEV.glob("spokenwoz_*/*.wav"), key=duration) + sorted(DEV.glob("lca_*/*derived-mix.wav"))
    return files[:n]


def duration(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmds: list[list[str]]) -> tuple[float, float]:
    c0, t0 = children_cpu(), time.perf_counter()
    for cmd in cmds:
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, children_cpu() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=2)
    ap.add_argument("--transcribe", action="store_true", help="include transcription (default: turns and cues)")
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    files = dev_files(args.files)
    audio_s = sum(duration(f) for f in files)
    attune = str(ROOT / ".venv" / "bin" / "attune")
    opts = [] if args.transcribe else ["--no-transcribe"]
    cores = 2
    try:
        import os

        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    print(f"{len(files)} file(s), {audio_s / 60:.1f} min of audio, {cores} cores, "
          f"{'with' if args.transcribe else 'without'} transcription; load before: {loadavg()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        configs = [("attune analyze, file by file", cores,
                    [[attune, "analyze", str(f), "--out", f"{tmp}/analyze", "-q", *opts] for f in files]),
                   ("attune batch, 1 worker x 2 threads", 2,
                    [[attune, "batch", *map(str, files), "--out", f"{tmp}/b1", "-q", "--workers", "1",
                      "--threads", "2", *opts]]),
                   ("attune batch, 2 workers x 1 thread", 2,
                    [[attune, "batch", *map(str, files), "--out", f"{tmp}/b2", "-q", "--workers", "2", *opts]])]
        if not args.no_dask:
            configs.append(("attune batch --engine dask (local cluster), 2 workers x 1 thread", 2,
                            [[attune, "batch", *map(str, files), "--out", f"{tmp}/bd", "-q", "--workers", "2",
                              "--engine", "dask", *opts]]))
        for name, used, cmds in configs:
            wall, cpu = timed(cmds)
            rows.append((name, wall, cpu, audio_s / (wall * used), audio_s / cpu if cpu else float("nan")))
            print(f"  {name}: wall {wall:.1f} s, CPU {cpu:.1f} s, audio h / core h {rows[-1][3]:.2f}, "
                  f"audio h / CPU h {rows[-1][4]:.2f}  (load {loadavg()})", flush=True)
    print()
    print("| configuration | wall (s) | CPU (s) | audio h / core h (wall) | audio h / CPU h |")
    print("|---|---|---|---|---|")
    for name, wall, cpu, a, b in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {a:.2f} | {b:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
