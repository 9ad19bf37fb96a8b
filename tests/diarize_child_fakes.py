"""Stand-ins for :func:`analysis.diarization.diarize` run in the child process of
:mod:`analysis.diarize_process` (tests/test_diarize_process.py): the child imports them by name."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from analysis.diarization import DiarizationResult
from analysis.timeline import Turn
from audio import SAMPLE_RATE

PID_FILE_ENV = "ATTUNE_TEST_CHILD_PID_FILE"


def echo(waveform, options=None, progress=None) -> DiarizationResult:
    """One turn over the whole audio; the 'voiceprint' reports what arrived: sum, length, first and
    last sample, the speaker count asked for, and the child's pid."""
    if progress:
        progress(0.5)
        progress(1.0)
    x = np.asarray(waveform, dtype=np.float64)
    print_ = np.array([x.sum(), len(x), x[0], x[-1], options.num_speakers or 0, os.getpid()])
    return DiarizationResult(turns=[Turn("S1", 0.0, len(x) / SAMPLE_RATE)], embeddings={"S1": print_})


def fails(waveform, options=None, progress=None) -> DiarizationResult:
    raise ValueError("the window holds no voices")


def exits(waveform, options=None, progress=None) -> DiarizationResult:
    os._exit(3)


def killed(waveform, options=None, progress=None) -> DiarizationResult:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def sleeps(waveform, options=None, progress=None) -> DiarizationResult:
    """Write this process's pid to the file named by the environment, report progress, then sleep."""
    Path(os.environ[PID_FILE_ENV]).write_text(str(os.getpid()))
    if progress:
        progress(0.1)
    time.sleep(120)
    return DiarizationResult()
