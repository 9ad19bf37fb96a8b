"""``attune batch INPUTS... --out DIR|--store`` and ``attune batch status DIR`` (issue 16).

Analyses every audio file under INPUTS (files and folders) with a pool of worker processes, resumably:
see :mod:`app.batch`. ``--out DIR`` writes plain (unencrypted) timelines and RTTM files to
``DIR/results/<key>.*`` with a manifest mapping each input to its key; ``--store`` adds each result to
the encrypted store as a session instead. Errors are one line.
"""

from __future__ import annotations

import argparse
import os
import sys


def _err(message: str) -> None:
    print(f"attune: error: {message}", file=sys.stderr)


def add_parser(subparsers) -> None:
    from app.cli import add_analysis_options
    from app.unlock import add_passphrase_option

    p = subparsers.add_parser(
        "batch", help="analyse many recordings (files and folders) with all cores, resumably; "
                      "'attune batch status DIR' summarises a run",
        description="Analyse every audio file under INPUTS. A run killed and started again analyses no file "
                    "twice and misses none. 'attune batch status DIR' summarises a run.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files and folders (searched recursively)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="DIR", help="write plain (unencrypted) timelines, RTTM files and the "
                       "run's manifest to DIR")
    where.add_argument("--store", action="store_true", help="add each result to the encrypted store as a session")
    p.add_argument("--client", metavar="PSEUDONYM", help="--store: the client pseudonym of every session added")
    p.add_argument("--clinician", metavar="NAME", help="--store: the clinician of every session added (default: "
                   "this installation's own)")
    p.add_argument("--tag", action="append", default=[], metavar="TAG", help="--store: a tag of every session "
                   "added (repeatable)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="worker processes (default: one per core)")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="CPU threads per worker (default: cores / workers, at least 1)")
    p.add_argument("--retry-failed", action="store_true", help="try again the files that failed in an earlier run")
    p.add_argument("--shard", metavar="I/N", help="analyse only the I-th of N parts of the inputs (0-based; default "
                   "from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX/ATTUNE_SHARD_COUNT)")
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local: a process pool on this machine (default); dask: a Dask cluster (attune[dask])")
    p.add_argument("--scheduler", metavar="ADDRESS", help="--engine dask: the scheduler's address "
                   "(default: a local cluster on this machine)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.add_argument("--analysis-function", default=None, help=argparse.SUPPRESS)  # tests: module:function
    add_analysis_options(p)
    add_passphrase_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.inputs and args.inputs[0] == "status" and (len(args.inputs) == 2 or args.store):
        return run_status(args.inputs[1] if len(args.inputs) == 2 else None, args)
    from analysis.transcribe import ModelNotFoundError
    from app import batch
    from app.cli import analysis_options_from_args

    if not args.out and not args.store:
        _err("say where the results go: --out DIR (plain files) or --store (the encrypted store)")
        return 2
    if (args.client or args.clinician or args.tag) and not args.store:
        _err("--client, --clinician and --tag describe sessions of the encrypted store: add --store")
        return 2
    if args.workers < 0 or args.threads < 0:
        _err("--workers and --threads must be positive")
        return 2
    if args.scheduler and args.engine != "dask":
        _err("--scheduler needs --engine dask")
        return 2
    try:
        shard = batch.parse_shard(args.shard)
    except batch.BatchError as exc:
        _err(str(exc))
        return 2
    files, problems = batch.collect_inputs(args.inputs)
    for msg in problems:
        _err(msg)
    if not files:
        _err("no audio files to analyse")
        return 2
    mine = batch.shard_of(files, shard)
    if shard is not None:
        print(f"attune: shard {shard[0]}/{shard[1]}: {len(mine)} of {len(files)} file(s)", file=sys.stderr)
    try:
        options = analysis_options_from_args(args)
        if options.transcribe and not args.analysis_function:
            options.transcriber.checked_model_dir()
    except (ValueError, ModelNotFoundError) as exc:
        _err(str(exc))
        return 2
    config = batch.BatchConfig(out=args.out or "", options=options, workers=args.workers, threads=args.threads,
                               retry_failed=args.retry_failed, shard=shard,
                               analyze=args.analysis_function or batch.DEFAULT_ANALYZE,
                               progress=not args.quiet, engine=args.engine, scheduler=args.scheduler,
                               session_meta=batch_session_meta(args.client, args.clinician, args.tag))
    if args.engine == "dask":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            _err("the Dask engine needs the dask extra: pip install 'attune[dask]'")
            return 2
    try:
        if args.store:
            from app.unlock import open_store_cli

            with open_store_cli(args.passphrase_file) as store:
                counts = batch.Batch(mine, config, store=store).run()
        else:
            print(f"attune: the timelines and RTTM files written to {args.out} are not encrypted (with --store "
                  f"they go into the encrypted store)", file=sys.stderr)
            counts = batch.Batch(mine, config).run()
    except batch.BatchError as exc:
        _err(str(exc))
        return 2
    print(f"{counts['done']} of {len(mine)} file(s) done ({counts['analysed']} analysed now), "
          f"{counts['failed'] + counts['skipped_failed']} failed, {counts['unreadable']} unreadable")
    return 1 if counts["failed"] or counts["skipped_failed"] or counts["unreadable"] or problems else 0


def batch_session_meta(client: str | None, clinician: str | None, tags) -> dict:
    """What ``--client``, ``--clinician`` and ``--tag`` add to each stored session's description."""
    meta: dict = {}
    if client and client.strip():
        meta["client"] = client.strip()
    if clinician and clinician.strip():
        meta["clinician"] = clinician.strip()
    tags = sorted({t.strip() for t in tags or () if t.strip()})
    if tags:
        meta["tags"] = tags
    return meta


def run_status(out: str | None, args: argparse.Namespace) -> int:
    from app import batch

    if out is None:  # attune batch status --store
        from app.store import store_root

        out = os.path.join(store_root(), "batch")
    try:
        summary = batch.status(out)
    except batch.BatchError as exc:
        _err(str(exc))
        return 2
    for line in batch.status_lines(summary):
        print(line)
    return 0
