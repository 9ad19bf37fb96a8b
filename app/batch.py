"""Batch analysis of many recordings (issue 16): the engine behind ``attune batch`` (no Qt).

A run turns every audio file under its inputs into a timeline. It is **resumable and idempotent**:

- each file's result is keyed by a hash of its audio bytes and of the analysis options and model versions
  (:func:`options_fingerprint`, :func:`result_key`); a result is written by the worker that computed it,
  to a temporary file renamed into place (``analysis/atomic.py``), as ``results/<key>.timeline.json``.
  A result file that exists is a finished analysis: a run started again skips it. A file being analysed
  when the run was killed has no result file and is analysed again; no other is;
- the manifest (``manifest.json``, or ``manifest-<I>-of-<N>.json`` for a shard) is written only by the
  coordinating process, atomically; it records what was planned, what is done (audio seconds, worker
  seconds) and what failed (one line each). Failed files are not tried again unless ``retry_failed``.
  The results folder is the truth: a manifest lost in a kill is rebuilt from it.

The workers are processes (``concurrent.futures`` with the ``spawn`` start method) that load the models
once each (their caches live as long as the process) and use ``threads`` CPU threads each, so that
``workers x threads`` does not exceed the cores. A worker dies with its coordinator (Linux:
``PR_SET_PDEATHSIG``), so a killed run leaves no analysis running behind it.

``--shard I/N`` (or Slurm's ``SLURM_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_COUNT``, or a Kubernetes indexed
job's ``JOB_COMPLETION_INDEX`` with ``ATTUNE_SHARD_COUNT``) takes every N-th of the sorted inputs, so a
cluster's job array splits a corpus without a scheduler of ours; the shards share one output folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analysis.atomic import atomic_write
from analysis.process_tie import die_with_parent

MANIFEST_SCHEMA = "attune.batch/1"
RESULTS = "results"
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".m4a", ".mp4", ".aac", ".ogg", ".oga", ".opus", ".wma",
                            ".webm", ".mkv", ".mov", ".aif", ".aiff", ".caf", ".amr", ".3gp"})
HASH_BLOCK = 1 << 20
MANIFEST_INTERVAL_S = 2.0  # the manifest is rewritten at most this often during a run (and at its end)
MAX_ATTEMPTS = 2  # a file whose worker process dies this many times is recorded as failed
DEFAULT_ANALYZE = "app.batch:analyze_path"


class BatchError(Exception):
    """A one-line problem with a batch's inputs or output folder."""


# -- inputs ---------------------------------------------------------------------------------------
def collect_inputs(inputs: Sequence[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """The audio files named by ``inputs`` (files as given; folders searched recursively for audio
    suffixes), sorted and without repeats, and a one-line message for each input that is not usable."""
    files: dict[str, Path] = {}
    problems: list[str] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found = [q for q in p.rglob("*") if q.suffix.lower() in AUDIO_SUFFIXES and q.is_file()
                     and not q.name.startswith(".")]
            if not found:
                problems.append(f"{p}: no audio files in this folder")
            for q in found:
                files.setdefault(str(q.resolve()), q)
        elif p.is_file():
            files.setdefault(str(p.resolve()), p)
        elif p.exists():
            problems.append(f"{p}: not a regular file or folder")
        else:
            problems.append(f"{p}: no such file or folder")
    return [files[k] for k in sorted(files)], problems


def parse_shard(text: str | None, environ: dict[str, str] | None = None) -> tuple[int, int] | None:
    """``"I/N"`` (0 <= I < N) or, without it, the job array's index from the environment; None: no shard."""
    env = os.environ if environ is None else environ
    if text:
        try:
            i, n = (int(x) for x in text.split("/", 1))
        except ValueError:
            raise BatchError(f"--shard must look like I/N (e.g. 0/4), not {text!r}") from None
    elif "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        try:
            i = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", "0") or 0)
            n = int(env["SLURM_ARRAY_TASK_COUNT"])
        except ValueError:
            raise BatchError("SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT are not numbers") from None
    elif "JOB_COMPLETION_INDEX" in env:
        count = env.get("ATTUNE_SHARD_COUNT")
        if not count:
            raise BatchError("JOB_COMPLETION_INDEX is set but ATTUNE_SHARD_COUNT (the job's completions) "
                             "is not; set it or pass --shard I/N")
        try:
            i, n = int(env["JOB_COMPLETION_INDEX"]), int(count)
        except ValueError:
            raise BatchError("JOB_COMPLETION_INDEX / ATTUNE_SHARD_COUNT are not numbers") from None
    else:
        return None
    if n < 1 or not 0 <= i < n:
        raise BatchError(f"shard {i}/{n}: the index must be between 0 and {max(n - 1, 0)}")
    return i, n


def shard_of(files: Sequence[Path], shard: tuple[int, int] | None) -> list[Path]:
    """Every N-th file of the sorted list, from the I-th: the same split on every node given the same inputs."""
    if shard is None:
        return list(files)
    i, n = shard
    return [f for k, f in enumerate(files) if k % n == i]


# -- keys -----------------------------------------------------------------------------------------
def options_fingerprint(options) -> dict[str, Any]:
    """What makes two analyses the same: the options and the model versions, without machine details
    (model folders' paths, thread counts)."""
    from analysis.pipeline import _provenance

    prov = json.loads(json.dumps(_provenance(options), default=str))
    prov.get("transcription", {}).pop("path", None)
    fp = {"provenance": prov, "cues": repr(options.cues), "transcribe": options.transcribe,
          "diarize": options.diarize, "window_s": options.diarize_window_s,
          "therapist_name": options.therapist_name}
    if options.therapist_voiceprint is not None:
        import numpy as np

        fp["voiceprint"] = hashlib.sha256(np.asarray(options.therapist_voiceprint, dtype="<f4").tobytes()
                                          ).hexdigest()
    return fp


def options_key(fingerprint: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()


def audio_digest(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def result_key(digest: str, opts_key: str) -> str:
    return hashlib.sha256(f"{digest}:{opts_key}".encode()).hexdigest()[:32]


# -- the work of one file (in a worker) -------------------------------------------------------------
def analyze_path(path: str, options) -> dict[str, Any]:
    """The real analysis: ``analyze_file`` -> ``{"timeline": dict, "duration": s, "warnings": [...]}``."""
    from analysis.pipeline import analyze_file

    result = analyze_file(path, options)
    return {"timeline": result.timeline.to_dict(), "duration": result.timeline.duration,
            "warnings": list(result.warnings)}


def resolve(name: str) -> Callable[..., dict[str, Any]]:
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def timeline_bytes(timeline: dict[str, Any]) -> bytes:
    """A timeline dict as the bytes of a timeline file (``Timeline.to_json``'s layout)."""
    return (json.dumps(timeline, indent=2, ensure_ascii=True, allow_nan=False) + "\n").encode("ascii")


def write_result(results_dir: Path, key: str, out: dict[str, Any]) -> Path:
    """A worker's result, all or nothing: the RTTM first, the timeline (whose presence means done) last."""
    tl = out["timeline"]
    if tl.get("turns") is not None:
        lines = [f"SPEAKER {key} 1 {t['start']:.3f} {max(0.0, t['end'] - t['start']):.3f} <NA> <NA> "
                 f"{t['speaker']} <NA> <NA>\n" for t in tl["turns"]]
        atomic_write(results_dir / f"{key}.rttm", "".join(lines).encode())
    return atomic_write(results_dir / f"{key}.timeline.json", timeline_bytes(tl))


def run_one(path: str, key: str, results_dir: str, options, analyze: str) -> dict[str, Any]:
    """Analyse one file and write its result; returns a small record (never the timeline)."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        out = resolve(analyze)(path, options)
        if results_dir is not None:
            write_result(Path(results_dir), key, out)
    except MemoryError:
        return {"key": key, "ok": False, "error": "not enough memory to analyse this file"}
    except Exception as exc:  # recorded per file, one line; the run carries on
        from audio.decode import AudioDecodeError

        msg = str(exc) if isinstance(exc, AudioDecodeError) else f"{type(exc).__name__}: {str(exc)[:200]}"
        return {"key": key, "ok": False, "error": msg.splitlines()[0] if msg else type(exc).__name__,
                "wall_s": round(time.perf_counter() - t0, 3)}
    rec = {"key": key, "ok": True, "audio_s": round(float(out.get("duration") or 0.0), 3),
           "wall_s": round(time.perf_counter() - t0, 3), "cpu_s": round(time.process_time() - c0, 3),
           "warnings": list(out.get("warnings") or ())[:5], "pid": os.getpid()}
    if results_dir is None:  # into the encrypted store: the coordinator (which holds the key) writes it
        rec["timeline"] = out["timeline"]
    return rec


def set_threads(threads: int) -> None:
    """Cap the numeric libraries of this process at ``threads`` threads (before they are imported)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        with contextlib.suppress(Exception):
            sys.modules["torch"].set_num_threads(threads)


def init_worker(threads: int, options, analyze: str, warm: bool = True, tied: bool = True) -> None:
    """A worker's start: die with the coordinator (``tied``), cap its threads, load the models once."""
    if tied:
        die_with_parent()
    set_threads(threads)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(2)  # the coordinator (and a desktop session) first
    if warm and analyze == DEFAULT_ANALYZE:
        warm_models(options, threads)


def warm_models(options, threads: int) -> None:
    """Load this process's models now (they stay cached in the process for every file it analyses)."""
    with contextlib.suppress(Exception):
        import torch

        torch.set_num_threads(threads)
    if options.transcribe:
        from analysis.transcribe import load_model

        load_model(options.transcriber)
    if options.diarize:
        with contextlib.suppress(Exception):
            from analysis import diarization

            diarization._models()  # segmentation and embedding models, cached for the process


# -- the manifest -----------------------------------------------------------------------------------
def manifest_name(shard: tuple[int, int] | None) -> str:
    return "manifest.json" if shard is None else f"manifest-{shard[0]}-of-{shard[1]}.json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise BatchError(f"{path}: not a readable batch manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
        raise BatchError(f"{path}: not an {MANIFEST_SCHEMA} manifest")
    return data


@dataclass
class Plan:
    """A run's work: each input's key; which are done, failed, to do."""

    keys: dict[str, str] = field(default_factory=dict)  # path -> key
    todo: list[tuple[str, str]] = field(default_factory=list)  # (path, key), first path of each key
    done: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    unreadable: dict[str, str] = field(default_factory=dict)  # path -> why it could not be hashed


@dataclass
class BatchConfig:
    out: Path
    options: Any
    workers: int = 0  # 0: one per core
    threads: int = 0  # per worker; 0: cores // workers (at least 1)
    retry_failed: bool = False
    shard: tuple[int, int] | None = None
    analyze: str = DEFAULT_ANALYZE
    progress: bool = True
    engine: str = "local"
    scheduler: str | None = None  # dask: a scheduler's address; None: a local cluster
    # --store: what each new session's description also records (client pseudonym, clinician, tags)
    session_meta: dict[str, Any] = field(default_factory=dict)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Batch:
    """One run of a batch over ``files`` into ``config.out`` (see the module's description)."""

    def __init__(self, files: Sequence[Path], config: BatchConfig, err=None, store=None) -> None:
        self.files = [Path(f) for f in files]
        self.config = config
        self.err = err or sys.stderr
        self.store = store  # an unlocked app.store.Store: results become its sessions (``--store``)
        self.out = Path(config.out) if store is None else Path(store.root) / "batch"
        self.results_dir = self.out / RESULTS
        self.manifest_path = self.out / manifest_name(config.shard)
        self.fingerprint = options_fingerprint(config.options)
        self.opts_key = options_key(self.fingerprint)
        self.manifest: dict[str, Any] = {}
        self._last_write = 0.0
        n = cores()
        self.workers = max(1, config.workers or n)
        self.threads = max(1, config.threads or n // self.workers)

    # -- bookkeeping (coordinator only) --
    def _name(self, path: str) -> str:
        """A file's name in the manifest: its path, or (into the encrypted store, whose manifest is not
        encrypted) a hash of it, so that no file name is left in the clear."""
        return path if self.store is None else "sha256:" + hashlib.sha256(path.encode("utf-8", "surrogateescape")
                                                                          ).hexdigest()[:24]

    def _is_done(self, key: str) -> bool:
        if self.store is None:
            return (self.results_dir / f"{key}.timeline.json").is_file()
        return key in self._stored

    def _stored_keys(self) -> dict[str, str]:
        """batch key -> session id of the store's sessions made by a batch (the manifest's, checked, and any
        a killed run made after its last manifest write, found in the sessions' descriptions)."""
        ids = set(self.store.session_ids())
        known = {rec["session"]: k for k, rec in self.manifest["files"].items()
                 if rec.get("status") == "done" and rec.get("session")}
        out = {k: sid for sid, k in known.items() if sid in ids}
        for sid in ids - set(known):
            with contextlib.suppress(Exception):
                key = self.store.session(sid).meta.get("batch_key")
                if key and key not in out:
                    out[key] = sid
        return out

    def prepare(self) -> Plan:
        try:
            (self.out if self.store is not None else self.results_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BatchError(f"cannot create output folder {self.out}: {exc.strerror}") from None
        m = load_manifest(self.manifest_path)
        if m and m.get("options_key") != self.opts_key:
            raise BatchError(f"{self.out} holds a batch run with other analysis options or models; "
                             f"use another --out folder")
        self.manifest = m or {"schema": MANIFEST_SCHEMA, "options_key": self.opts_key,
                              "options": self.fingerprint, "shard": self.config.shard,
                              "created_at": _now(), "files": {}, "planned": {}, "hash_cache": {}, "runs": []}
        files, cache = self.manifest["files"], self.manifest["hash_cache"]
        self._stored = self._stored_keys() if self.store is not None else {}
        plan = Plan()
        for p in self.files:
            ps = str(p)
            name = self._name(ps)
            try:
                st = p.stat()
                cached = cache.get(name)
                if cached and cached[0] == st.st_size and cached[1] == st.st_mtime_ns:
                    digest = cached[2]
                else:
                    digest = audio_digest(p)
                    cache[name] = [st.st_size, st.st_mtime_ns, digest]
            except OSError as exc:
                plan.unreadable[ps] = exc.strerror or type(exc).__name__
                continue
            key = result_key(digest, self.opts_key)
            plan.keys[ps] = key
            self.manifest["planned"][key] = name
            if self._is_done(key):
                plan.done.add(key)
                rec = files.get(key)
                if not rec or rec.get("status") != "done":  # finished before a kill: recover its record
                    files[key] = {"path": name, "status": "done", "recovered": True, "finished_at": _now()}
                    if self.store is None:
                        files[key]["audio_s"] = _duration_of(self.results_dir / f"{key}.timeline.json")
                    else:
                        files[key]["session"] = self._stored[key]
            elif files.get(key, {}).get("status") == "failed" and not self.config.retry_failed:
                plan.failed.add(key)
            elif key not in {k for _, k in plan.todo}:
                plan.todo.append((ps, key))
        self._clean_tmp(k for _, k in plan.todo)
        self.write_manifest(force=True)
        return plan

    def _clean_tmp(self, keys: Iterable[str]) -> None:
        """Remove the unfinished writes of a killed worker, for these keys only (no other shard's, which
        may be writing into the same folder now); call it when no worker of this run is writing them."""
        if self.store is not None or not self.results_dir.is_dir():
            return
        for key in keys:
            for tmp in self.results_dir.glob(f".{key}.*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def write_manifest(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_write >= MANIFEST_INTERVAL_S:
            self.manifest["updated_at"] = _now()
            atomic_write(self.manifest_path, json.dumps(self.manifest, indent=1, sort_keys=True).encode())
            self._last_write = now

    def record(self, path: str, rec: dict[str, Any]) -> None:
        files = self.manifest["files"]
        key = rec["key"]
        prev = files.get(key, {})
        entry = {"path": self._name(path), "finished_at": _now(), "attempts": int(prev.get("attempts", 0)) + 1}
        if rec.get("ok") and self.store is not None:
            entry["session"] = self._to_store(path, key, rec)
        if rec.get("ok"):
            entry.update(status="done", audio_s=rec.get("audio_s"), wall_s=rec.get("wall_s"),
                         cpu_s=rec.get("cpu_s"))
            if rec.get("warnings"):
                entry["warnings"] = rec["warnings"]
        else:
            entry.update(status="failed", error=rec.get("error") or "failed")
        files[key] = entry
        self.write_manifest(force=self.store is not None)

    def _to_store(self, path: str, key: str, rec: dict[str, Any]) -> str:
        from analysis.timeline import Timeline
        from app.library import figures_from_timeline
        from app.session_runner import headline_metrics

        tl = rec["timeline"]
        session = self.store.create_session({
            **self.config.session_meta, **_recorded_at(path),
            "mode": "analysis", "status": "analysed", "batch_key": key,
            "source": {"file": os.fsdecode(Path(path).name)}, "duration": round(float(tl["duration"]), 3),
            "metrics": {**headline_metrics(Timeline.from_dict(tl)), **figures_from_timeline(tl)}})
        session.write_json("timeline", tl)
        return session.id

    # -- running --
    def run(self) -> dict[str, int]:
        plan = self.prepare()
        for path, why in plan.unreadable.items():
            print(f"attune: {path}: cannot be read ({why}); skipped", file=self.err)
        if plan.failed:
            print(f"attune: {len(plan.failed)} file(s) failed in an earlier run and are skipped "
                  f"(--retry-failed tries them again)", file=self.err)
        run_rec = {"started_at": _now(), "engine": self.config.engine, "workers": self.workers,
                   "threads": self.threads, "planned": len(plan.todo), "analysed": 0, "failed": 0}
        self.manifest["runs"].append(run_rec)
        t0 = time.perf_counter()
        sizes = {p: _size(p) for p, _ in plan.todo}
        progress = Progress(len(plan.todo), sum(sizes.values()), len(plan.done), self.err,
                            enabled=self.config.progress)
        counts = {"done": len(plan.done), "analysed": 0, "failed": 0, "skipped_failed": len(plan.failed),
                  "unreadable": len(plan.unreadable)}

        def on_record(path: str, rec: dict[str, Any]) -> None:
            self.record(path, rec)
            if rec.get("ok"):
                counts["analysed"] += 1
                counts["done"] += 1
            else:
                counts["failed"] += 1
                progress.message(f"attune: failed: {path}: {rec.get('error')}")
            run_rec.update(analysed=counts["analysed"], failed=counts["failed"],
                           wall_s=round(time.perf_counter() - t0, 3))
            progress.step(sizes.get(path, 0))


        try:
            if plan.todo:
                if self.config.engine == "dask":
                    from app.batch_dask import run_dask

                    run_dask(self, plan.todo, on_record)
                else:
                    self._run_local(plan.todo, on_record)
        finally:
            progress.close()
            run_rec.update(ended_at=_now(), wall_s=round(time.perf_counter() - t0, 3))
            self.write_manifest(force=True)
        return counts

    def _run_local(self, todo: list[tuple[str, str]], on_record) -> None:
        import multiprocessing

        pending = list(todo)
        attempts: dict[str, int] = {}
        while pending:
            workers = min(self.workers, len(pending))
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=init_worker,
                                       initargs=(self.threads, self._worker_options(), self.config.analyze))
            futures = {}
            queue = list(pending)
            pending = []
            broken = False
            try:
                while queue or futures:
                    while queue and len(futures) < 2 * workers:  # a short queue: a kill loses little
                        path, key = queue.pop(0)
                        fut = pool.submit(run_one, path, key, self._results_arg(), self._worker_options(),
                                          self.config.analyze)
                        futures[fut] = (path, key)
                    finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        path, key = futures.pop(fut)
                        try:
                            rec = fut.result()
                        except BrokenProcessPool:
                            broken = True
                            attempts[key] = attempts.get(key, 0) + 1
                            if attempts[key] >= MAX_ATTEMPTS:
                                on_record(path, {"key": key, "ok": False,
                                                 "error": "the analysis process died (out of memory?)"})
                            else:
                                pending.append((path, key))
                            continue
                        on_record(path, rec)
                    if broken:
                        pending.extend(futures.values())
                        pending.extend(queue)
                        futures, queue = {}, []
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            self._clean_tmp(k for _, k in pending)  # a broken pool's workers were killed, maybe mid-write
            again = []
            for path, key in pending:  # finished by a worker just before the pool broke: not again
                result = self.results_dir / f"{key}.timeline.json"
                if self.store is None and result.is_file():
                    on_record(path, {"key": key, "ok": True, "audio_s": _duration_of(result)})
                else:
                    again.append((path, key))
            pending = again

    def _results_arg(self) -> str | None:
        return None if self.store is not None else str(self.results_dir)

    def _worker_options(self):
        opts = self.config.options
        with contextlib.suppress(Exception):
            opts = replace(opts, transcriber=replace(opts.transcriber, cpu_threads=self.threads))
        return opts


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _recorded_at(path: str) -> dict[str, str]:
    """``{"started_at": ...}``: a recording's date for the library, its file's modification time (when the
    recorder last wrote it); empty when the file cannot be read."""
    try:
        return {"started_at": datetime.fromtimestamp(os.stat(path).st_mtime, UTC).isoformat(timespec="seconds")}
    except OSError:
        return {}


def _duration_of(path: Path) -> float | None:
    try:
        return round(float(json.loads(path.read_bytes()).get("duration")), 3)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


class Progress:
    """``done/total, percent, ETA`` on stderr: rewritten in place on a terminal, a line per 5 % otherwise.
    The ETA is from the bytes still to analyse at the rate so far."""

    def __init__(self, total: int, total_bytes: int, already: int, out, enabled: bool = True) -> None:
        self.total, self.total_bytes, self.already, self.out = total, max(total_bytes, 1), already, out
        self.enabled = enabled and total > 0
        self.n = 0
        self.bytes = 0
        self.t0 = time.perf_counter()
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self._last_pct = -5.0
        if self.enabled:
            self._show()

    def step(self, nbytes: int) -> None:
        self.n += 1
        self.bytes += nbytes
        if self.enabled:
            self._show()

    def message(self, text: str) -> None:
        if self.tty and self.enabled:
            print("\r\033[K", end="", file=self.out)
        print(text, file=self.out)
        if self.enabled and self.tty:
            self._show()

    def _show(self, force: bool = False) -> None:
        pct = 100.0 * self.n / self.total
        elapsed = time.perf_counter() - self.t0
        if self.bytes and self.n < self.total:
            eta = f"ETA {format_seconds(elapsed * (self.total_bytes - self.bytes) / self.bytes)}"
        elif self.n >= self.total:
            eta = f"took {format_seconds(elapsed)}"
        else:
            eta = "ETA --"
        line = f"batch: {self.n}/{self.total} processed ({pct:.0f}%), {eta}"
        if self.already:
            line += f"; {self.already} done before"
        if self.tty:
            print("\r\033[K" + line, end="" if self.n < self.total else "\n", file=self.out, flush=True)
        elif force or pct - self._last_pct >= 5.0 or self.n == self.total:
            self._last_pct = pct
            print(line, file=self.out, flush=True)

    def close(self) -> None:
        if self.enabled and self.tty and self.n < self.total:
            print(file=self.out)


def format_seconds(s: float) -> str:
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


# -- status -----------------------------------------------------------------------------------------
def status(out: str | os.PathLike) -> dict[str, Any]:
    """A summary of the runs in ``out`` (all shards' manifests and the results folder)."""
    out = Path(out)
    if not out.is_dir():
        raise BatchError(f"{out}: no such folder")
    manifests = sorted(out.glob("manifest*.json"))
    if not manifests:
        raise BatchError(f"{out}: not a batch output folder (no manifest.json)")
    planned: dict[str, str] = {}
    files: dict[str, dict[str, Any]] = {}
    core_s = wall_s = 0.0
    for path in manifests:
        m = load_manifest(path)
        planned.update(m.get("planned") or {})
        files.update(m.get("files") or {})
        for r in m.get("runs") or ():
            w = float(r.get("wall_s") or 0.0)
            wall_s += w
            core_s += w * int(r.get("workers") or 1) * int(r.get("threads") or 1)
    results = out / RESULTS
    done = {k for k in planned if (results / f"{k}.timeline.json").is_file()
            or (files.get(k, {}).get("status") == "done" and files[k].get("session"))}
    failed = {k for k, f in files.items() if f.get("status") == "failed" and k not in done}
    audio_s = sum(float(files.get(k, {}).get("audio_s") or 0.0) for k in done)
    worker_s = sum(float(files.get(k, {}).get("wall_s") or 0.0) for k in done)
    return {"planned": len(planned), "done": len(done), "failed": len(failed),
            "remaining": len(set(planned) - done - failed), "audio_hours": audio_s / 3600,
            "core_hours": core_s / 3600, "wall_hours": wall_s / 3600, "worker_hours": worker_s / 3600,
            "audio_hours_per_core_hour": (audio_s / core_s) if core_s else None,
            "failures": [(files[k].get("path"), files[k].get("error")) for k in sorted(failed)],
            "manifests": [p.name for p in manifests]}


def status_lines(s: dict[str, Any]) -> list[str]:
    lines = [f"{s['done']} done, {s['failed']} failed, {s['remaining']} remaining (of {s['planned']} planned; "
             f"{len(s['manifests'])} manifest(s))",
             f"audio analysed: {_hours(s['audio_hours'])} in {_hours(s['wall_hours'])} of wall time, "
             f"{s['core_hours']:.3g} core hours"]
    if s["audio_hours_per_core_hour"] is not None:
        lines.append(f"audio hours per core hour: {s['audio_hours_per_core_hour']:.2f}")
    for path, err in s["failures"][:20]:
        lines.append(f"  failed: {path}: {err}")
    if len(s["failures"]) > 20:
        lines.append(f"  ... and {len(s['failures']) - 20} more failures (see the manifest)")
    return lines


def _hours(h: float) -> str:
    return f"{h:.2f} h" if h >= 1 else f"{h * 60:.1f} min"


def iter_done(out: str | os.PathLike) -> Iterable[tuple[str, Path]]:
    """(source path, timeline file) of each finished file of a batch folder."""
    out = Path(out)
    planned: dict[str, str] = {}
    for path in sorted(out.glob("manifest*.json")):
        planned.update(load_manifest(path).get("planned") or {})
    for key, src in sorted(planned.items(), key=lambda kv: kv[1]):
        p = out / RESULTS / f"{key}.timeline.json"
        if p.is_file():
            yield src, p
