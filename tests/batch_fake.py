"""A fast stand-in for the analysis, for the batch tests (imported by the batch's worker processes).

``analyze(path, options)`` logs its start to ``$ATTUNE_TEST_BATCH_LOG`` (one line, appended), sleeps
``$ATTUNE_TEST_BATCH_SLEEP`` seconds and returns a small timeline made from the file's bytes; a file whose
name contains "bad" raises, as a file the real analysis cannot read would. With
``$ATTUNE_TEST_BATCH_DIE_ONCE`` (a marker file's path), the process analysing ``*07.wav`` the first time
dies mid-task, as a worker killed by the system would.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path


def analyze(path: str, options) -> dict:
    log = os.environ.get("ATTUNE_TEST_BATCH_LOG")
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{Path(path).name} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
    time.sleep(float(os.environ.get("ATTUNE_TEST_BATCH_SLEEP", "0.2")))
    die = os.environ.get("ATTUNE_TEST_BATCH_DIE_ONCE")  # a marker file: the first worker to get here dies
    if die and Path(path).name.endswith("07.wav"):
        try:
            os.close(os.open(die, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        else:
            os._exit(9)  # killed mid-task, its result not written
    if "bad" in Path(path).name:
        raise ValueError(f"{Path(path).name}: cannot be analysed")
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    duration = 1.0 + int(digest[:2], 16) / 64
    return {"timeline": {"schema": "attune.timeline/1", "duration": duration, "speakers": [], "events": [],
                         "turns": [{"speaker": "S1", "start": 0.0, "end": round(duration / 2, 3)}],
                         "utterances": [], "metrics": {"session": {"digest": digest[:16]}}, "source": {}},
            "duration": duration, "warnings": []}
