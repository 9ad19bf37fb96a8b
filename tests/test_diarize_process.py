"""A diarization window in a child process (:mod:`analysis.diarize_process`; issue 12, point 7): the
audio arrives whole and in order, the result and progress come back, every way the child can fail is
a clear error, a child never outlives its parent, and a long recording's windows diarized in children
give exactly what they give in one process, which never loads PyTorch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from analysis.diarization import DiarizationOptions
from analysis.diarize_process import DiarizationProcessError, diarize_in_child
from audio import SAMPLE_RATE as SR
from tests.diarize_child_fakes import PID_FILE_ENV

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "audio" / "pyannote_sample" / "sample.wav"


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # the child imports tests.diarize_child_fakes


def _ramp(duration: float):
    x = (np.arange(int(round(duration * SR))) % 1000 / 1000).astype(np.float32)
    reads = []

    def read(a: float, b: float) -> np.ndarray:
        reads.append((a, b))
        return x[int(round(a * SR)):int(round(b * SR))]

    return x, read, reads


def _gone(pid: int, within_s: float = 10.0) -> bool:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie child of this process counts as gone once reaped
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def test_the_child_gets_the_whole_window_in_order_and_its_result_and_progress_come_back(caplog):
    caplog.set_level("INFO", logger="analysis.diarize_process")
    x, read, reads = _ramp(150.0)
    seen = []
    result = diarize_in_child(read, 12.5, 137.25, DiarizationOptions(num_speakers=3), progress=seen.append,
                              target="tests.diarize_child_fakes:echo")
    part = x[int(round(12.5 * SR)):int(round(137.25 * SR))].astype(np.float64)
    total, n, first, last, count, pid = result.embeddings["S1"]
    assert n == len(part) and total == pytest.approx(part.sum()) and (first, last) == (part[0], part[-1])
    assert count == 3 and pid != os.getpid()
    assert [(t.speaker, t.start, t.end) for t in result.turns] == [("S1", 0.0, len(part) / SR)]
    assert seen == [0.5, 1.0]
    assert len(reads) == 3 and max(b - a for a, b in reads) <= 60.0  # sent in slices, never whole
    peak = [r.getMessage() for r in caplog.records if "in a child process: peak RSS" in r.getMessage()]
    assert len(peak) == 1 and int(peak[0].split("peak RSS ")[1].split()[0]) > 10  # MB: the child's own


@pytest.mark.parametrize("target, says", [("fails", "ValueError: the window holds no voices"),
                                          ("exits", "exited with code 3"),
                                          ("killed", "killed by SIGKILL"),
                                          ("no_such_function", "AttributeError")])
def test_a_child_that_fails_or_dies_is_a_clear_error(target, says):
    _, read, _ = _ramp(5.0)
    with pytest.raises(DiarizationProcessError, match=says):
        diarize_in_child(read, 0.0, 5.0, target=f"tests.diarize_child_fakes:{target}")


def test_a_cancelled_window_ends_its_child(tmp_path, monkeypatch):
    pid_file = tmp_path / "pid"
    monkeypatch.setenv(PID_FILE_ENV, str(pid_file))
    _, read, _ = _ramp(5.0)

    class Cancelled(Exception):
        pass

    def progress(_f: float) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        diarize_in_child(read, 0.0, 5.0, progress=progress, target="tests.diarize_child_fakes:sleeps")
    assert _gone(int(pid_file.read_text()))


def test_a_child_dies_with_its_killed_parent(tmp_path):
    pid_file = tmp_path / "pid"
    code = ("import numpy as np\n"
            "from analysis.diarize_process import diarize_in_child\n"
            "diarize_in_child(lambda a, b: np.zeros(int((b - a) * 16000), np.float32), 0.0, 5.0,"
            " target='tests.diarize_child_fakes:sleeps')\n")
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                              env={**os.environ, PID_FILE_ENV: str(pid_file), "PYTHONPATH": str(ROOT)})
    try:
        end = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert parent.poll() is None and time.monotonic() < end, "the child never started"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        parent.kill()
        parent.wait(10)
        assert _gone(child), "the child outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()


WINDOWED = """
import json, sys
import soundfile as sf
from analysis.diarization import DiarizationOptions
from analysis.windowed_diarization import diarize_windows
x, sr = sf.read(sys.argv[1], dtype="float32")
d = len(x) / sr
r = diarize_windows(lambda a, b: x[int(round(a * sr)):int(round(b * sr))], d, [(0.0, d)],
                    DiarizationOptions(num_speakers=2), window_s=float(sys.argv[2]))
print(json.dumps({"torch": "torch" in sys.modules,
                  "turns": [[t.speaker, t.start, t.end] for t in r.turns],
                  "prints": {k: v.tolist() for k, v in r.embeddings.items()}}))
"""


@pytest.mark.skipif(not SAMPLE.exists(), reason="needs ../shared/audio (the repository's sibling)")
def test_windows_in_children_give_what_one_process_gives_and_the_parent_never_loads_torch():
    import soundfile as sf

    from analysis.windowed_diarization import diarize_windows

    window_s = 16.0  # the 30-s sample in two windows
    out = subprocess.run([sys.executable, "-c", WINDOWED, str(SAMPLE), str(window_s)], cwd=ROOT, text=True,
                         capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    isolated = json.loads(out.stdout.strip().splitlines()[-1])
    assert isolated["torch"] is False  # the models were loaded in the children only
    x, sr = sf.read(str(SAMPLE), dtype="float32")
    d = len(x) / sr
    here = diarize_windows(lambda a, b: x[int(round(a * sr)):int(round(b * sr))], d, [(0.0, d)],
                           DiarizationOptions(num_speakers=2), window_s=window_s, isolate=False)
    assert len(here.turns) >= 2 and len(here.speakers) == 2
    assert isolated["turns"] == [[t.speaker, t.start, t.end] for t in here.turns]
    for sid, v in here.embeddings.items():
        assert np.allclose(isolated["prints"][sid], v, atol=1e-5)
