"""The Dask engine of ``attune batch`` (``--engine dask``; the ``attune[dask]`` extra): the same work as the
local process pool (:mod:`app.batch`), on a Dask distributed cluster.

- ``--scheduler ADDRESS`` joins an existing cluster (e.g. one started on Slurm with dask-jobqueue, or on
  Kubernetes; docs/batch.md); without it a local cluster of ``workers`` processes is started on this
  machine, listening on 127.0.0.1 only, with no dashboard.
- Each worker loads the models once (a worker plugin, :class:`ModelsOnce`, run when the worker starts) and
  caps its numeric threads.
- Each task is :func:`app.batch.run_one`: the worker analyses one file and writes its result itself to the
  shared output folder (temporary file, then rename); only a small record (key, seconds, error) comes back.
  The coordinator alone writes the manifest.
- A worker that dies mid-task (killed, out of memory) leaves no partial result; the scheduler gives the
  task to another worker (up to ``distributed.scheduler.allowed-failures`` times), after which the file is
  recorded as failed.

Nothing is downloaded: the workers use the models already installed where they run.
"""

from __future__ import annotations

import contextlib
from typing import Any

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # the module is imported only when the extra is installed; keep the name defined
    WorkerPlugin = object  # type: ignore[assignment,misc]


class ModelsOnce(WorkerPlugin):
    """Run once in each worker when it starts: cap its threads, load the analysis models."""

    name = "attune-models-once"

    def __init__(self, threads: int, options, analyze: str) -> None:
        self.threads, self.options, self.analyze = threads, options, analyze

    def setup(self, worker) -> None:
        from app.batch import init_worker

        init_worker(self.threads, self.options, self.analyze, tied=False)


def _client(batch):
    from distributed import Client, LocalCluster

    cfg = batch.config
    if cfg.scheduler:
        return Client(cfg.scheduler), None
    cluster = LocalCluster(n_workers=batch.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=40)
    return Client(cluster), cluster


def run_dask(batch, todo: list[tuple[str, str]], on_record) -> None:
    """Analyse ``todo`` ((path, key) pairs) on a Dask cluster; ``on_record(path, record)`` per file, in the
    coordinating process."""
    from distributed import as_completed

    from app.batch import run_one

    client, cluster = _client(batch)
    try:
        with contextlib.suppress(Exception):  # the cluster's size, for the audio hours per core hour
            batch.manifest["runs"][-1]["workers"] = max(1, len(client.nthreads()))
        client.register_plugin(ModelsOnce(batch.threads, batch._worker_options(), batch.config.analyze))
        options = client.scatter(batch._worker_options(), broadcast=True)
        futures = {}
        for path, key in todo:
            fut = client.submit(run_one, path, key, batch._results_arg(), options, batch.config.analyze,
                                key=f"attune-batch-{key}", pure=False, retries=1)
            futures[fut] = (path, key)
        for fut in as_completed(futures):
            path, key = futures[fut]
            try:
                rec: dict[str, Any] = fut.result()
            except Exception as exc:  # KilledWorker (died too often on this file), a lost connection...
                rec = {"key": key, "ok": False,
                       "error": f"the cluster could not analyse it ({type(exc).__name__}: {str(exc)[:160]})"}
            on_record(path, rec)
        batch._clean_tmp(key for _, key in todo)  # a worker killed mid-write; every task is finished now
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
