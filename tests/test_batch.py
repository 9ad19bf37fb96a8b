"""``attune batch`` (issue 16): a run killed halfway and started again analyses no file twice and misses
none; failures are recorded and retried on request; shards split a corpus; bad inputs are one line; the
real pipeline through the pool; results into the encrypted store.

The kill tests use a fast stand-in for the analysis (tests/batch_fake.py) so they take seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from app import batch

ROOT = Path(__file__).resolve().parents[1]
FAKE = "tests.batch_fake:analyze"


def _env(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _attune(*args: str, **kw) -> list[str]:
    return [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main(sys.argv[1:]))", *args]


def _corpus(folder: Path, n: int = 20, bad: int = 0) -> list[Path]:
    """``n`` small distinct "recordings" (the stand-in never decodes them) in two sub-folders."""
    rng = np.random.default_rng(7)
    paths = []
    for i in range(n):
        sub = folder / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        p = sub / f"rec{i:02d}.wav"
        p.write_bytes(rng.integers(0, 255, 4000 + 37 * i, dtype=np.uint8).tobytes())
        paths.append(p)
    for i in range(bad):
        p = folder / f"bad{i}.wav"
        p.write_bytes(b"not audio %d" % i)
        paths.append(p)
    return paths


def _starts(log: Path) -> Counter:
    if not log.exists():
        return Counter()
    return Counter(line.split()[0] for line in log.read_text().splitlines() if line.strip())


def _results(out: Path) -> set[str]:
    return {p.name for p in (out / "results").glob("*.timeline.json")}


def test_killed_halfway_and_run_again_analyses_none_twice_and_misses_none(tmp_path):
    corpus = tmp_path / "in"
    files = _corpus(corpus, 20)
    out, log = tmp_path / "out", tmp_path / "starts.log"
    env = _env(ATTUNE_TEST_BATCH_LOG=str(log), ATTUNE_TEST_BATCH_SLEEP="0.4")
    cmd = _attune("batch", str(corpus), "--out", str(out), "--workers", "2", "--no-transcribe", "-q",
                  "--analysis-function", FAKE)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while len(_results(out) if (out / "results").is_dir() else ()) < 8:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its workers, as a cluster's kill does
        proc.wait()
    time.sleep(0.3)
    done_at_kill = _results(out)
    starts_at_kill = _starts(log)
    assert 8 <= len(done_at_kill) < 20, len(done_at_kill)
    assert len(starts_at_kill) < 20

    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    starts = _starts(log)
    assert len(_results(out)) == 20  # none missed
    assert set(starts) == {p.name for p in files}
    # none analysed twice: a file whose result was saved before the kill was not started again; only
    # the files in flight when the run was killed (at most one per worker) were started a second time
    manifest = json.loads((out / "manifest.json").read_text())
    by_name = {Path(rec["path"]).name: key for key, rec in manifest["files"].items()}
    assert len(by_name) == 20 and all(rec["status"] == "done" for rec in manifest["files"].values())
    for name, key in by_name.items():
        if f"{key}.timeline.json" in done_at_kill:
            assert starts[name] == 1, name
    assert sum(starts.values()) - 20 <= 2
    assert not list((out / "results").glob(".*.tmp"))  # no partial output left

    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and _starts(log) == starts  # a finished run does nothing
    st = subprocess.run(_attune("batch", "status", str(out)), cwd=ROOT, env=env, capture_output=True, text=True)
    assert st.returncode == 0 and st.stdout.startswith("20 done, 0 failed, 0 remaining"), st.stdout
    assert "audio hours per core hour" in st.stdout


def test_failures_are_recorded_and_retried_on_request(tmp_path, monkeypatch):
    corpus = tmp_path / "in"
    _corpus(corpus, 3, bad=1)
    out, log = tmp_path / "out", tmp_path / "starts.log"
    monkeypatch.setenv("ATTUNE_TEST_BATCH_LOG", str(log))
    monkeypatch.setenv("ATTUNE_TEST_BATCH_SLEEP", "0")
    monkeypatch.syspath_prepend(str(ROOT))
    from analysis.pipeline import AnalysisOptions

    files, problems = batch.collect_inputs([corpus])
    assert len(files) == 4 and not problems
    cfg = batch.BatchConfig(out=out, options=AnalysisOptions(transcribe=False), workers=1, analyze=FAKE,
                            progress=False)
    counts = batch.Batch(files, cfg).run()
    assert (counts["analysed"], counts["failed"]) == (3, 1)
    s = batch.status(out)
    assert (s["done"], s["failed"], s["remaining"]) == (3, 1, 0)
    assert s["failures"][0][0].endswith("bad0.wav") and "cannot be analysed" in s["failures"][0][1]
    assert batch.Batch(files, cfg).run()["skipped_failed"] == 1  # not tried again by default
    assert _starts(log)["bad0.wav"] == 1
    cfg.retry_failed = True
    assert batch.Batch(files, cfg).run()["failed"] == 1
    assert _starts(log)["bad0.wav"] == 2 and sum(_starts(log).values()) == 5
    cfg2 = batch.BatchConfig(out=out, options=AnalysisOptions(transcribe=False, diarize=False), workers=1,
                             analyze=FAKE, progress=False)
    with pytest.raises(batch.BatchError, match="other analysis options"):  # one folder, one set of options
        batch.Batch(files, cfg2).run()


def test_shards_split_a_corpus_and_status_adds_them_up(tmp_path, monkeypatch):
    files = [Path(f"/x/{i}.wav") for i in range(10)]
    parts = [batch.shard_of(files, (i, 3)) for i in range(3)]
    assert sorted(sum(parts, [])) == sorted(files) and sum(len(p) for p in parts) == 10
    assert batch.parse_shard("1/4", {}) == (1, 4)
    assert batch.parse_shard(None, {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"}) == (3, 4)
    assert batch.parse_shard(None, {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4",
                                    "SLURM_ARRAY_TASK_MIN": "1"}) == (3, 4)
    assert batch.parse_shard(None, {"JOB_COMPLETION_INDEX": "2", "ATTUNE_SHARD_COUNT": "5"}) == (2, 5)
    assert batch.parse_shard(None, {}) is None
    for bad in ("4/4", "x/2", "1"):
        with pytest.raises(batch.BatchError):
            batch.parse_shard(bad, {})
    with pytest.raises(batch.BatchError, match="ATTUNE_SHARD_COUNT"):
        batch.parse_shard(None, {"JOB_COMPLETION_INDEX": "0"})

    monkeypatch.setenv("ATTUNE_TEST_BATCH_SLEEP", "0")
    monkeypatch.syspath_prepend(str(ROOT))
    from analysis.pipeline import AnalysisOptions

    corpus, out = tmp_path / "in", tmp_path / "out"
    _corpus(corpus, 5)
    found, _ = batch.collect_inputs([corpus])
    for i in range(2):  # two array tasks into one folder, each with its own manifest
        cfg = batch.BatchConfig(out=out, options=AnalysisOptions(transcribe=False), workers=1, analyze=FAKE,
                                progress=False, shard=(i, 2))
        batch.Batch(batch.shard_of(found, (i, 2)), cfg).run()
    s = batch.status(out)
    assert (s["done"], s["remaining"], len(s["manifests"])) == (5, 0, 2)


def test_bad_inputs_get_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run(_attune("batch", str(tmp_path / "missing.wav"), str(empty), "--out", str(tmp_path / "o")),
                       cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"attune: error: {tmp_path / 'missing.wav'}: no such file or folder",
                                     f"attune: error: {empty}: no audio files in this folder",
                                     "attune: error: no audio files to analyse"]
    r = subprocess.run(_attune("batch", str(empty)), cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert r.returncode == 2 and "--out DIR" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(_attune("batch", "status", str(empty)), cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip() == f"attune: error: {empty}: not a batch output folder (no manifest.json)"
    r = subprocess.run(_attune("batch", str(empty), "--out", str(tmp_path / "o"), "--shard", "3/2"), cwd=ROOT,
                       env=_env(), capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "shard 3/2" in r.stderr


def _pieces(src: Path, folder: Path, n: int, seconds: float) -> list[Path]:
    import soundfile as sf

    audio, sr = sf.read(str(src), dtype="float32")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"piece{i}.wav"
        sf.write(str(p), audio[int(i * seconds * sr):int((i + 1) * seconds * sr)], sr)
        out.append(p)
    return out


def test_real_pipeline_through_the_pool_matches_analyze(tmp_path, shared_audio):
    """Two 10-s pieces of the pyannote sample through the pool (diarization, no transcription; one worker
    to keep the test short): each result is the timeline ``analyze_file`` gives for that file."""
    from analysis.pipeline import AnalysisOptions, analyze_file

    files = _pieces(shared_audio / "pyannote_sample" / "sample.wav", tmp_path / "in", 2, 10.0)
    out = tmp_path / "out"
    options = AnalysisOptions(transcribe=False)
    counts = batch.Batch(files, batch.BatchConfig(out=out, options=options, workers=1, progress=False)).run()
    assert (counts["analysed"], counts["failed"]) == (2, 0)
    done = dict(batch.iter_done(out))
    assert len(done) == 2
    direct = analyze_file(files[0], options).timeline.to_dict()
    got = json.loads(done[str(files[0])].read_text())
    assert got["turns"] == direct["turns"] and got["speakers"] == direct["speakers"]
    assert got["duration"] == pytest.approx(10.0, abs=0.01)
    assert batch.status(out)["audio_hours"] == pytest.approx(20 / 3600, rel=0.01)


def test_into_the_encrypted_store(tmp_path, monkeypatch):
    """``--store``: each result is a session of the store (headline figures in its index), the manifest
    holds no file names, and a second run adds nothing."""
    corpus = tmp_path / "in"
    _corpus(corpus, 3)
    log = tmp_path / "starts.log"
    env = _env(ATTUNE_TEST_BATCH_LOG=str(log), ATTUNE_TEST_BATCH_SLEEP="0")
    cmd = _attune("batch", str(corpus), "--store", "--workers", "1", "--no-transcribe", "-q",
                  "--analysis-function", FAKE)
    for _ in range(2):
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    assert sum(_starts(log).values()) == 3
    from tests.store_util import open_test_store

    with open_test_store() as store:
        sessions = store.list_sessions()
        assert len(sessions) == 3
        assert {store.session(s.id).meta["source"]["file"] for s in sessions} == {
            "rec00.wav", "rec01.wav", "rec02.wav"}
        manifest = (Path(store.root) / "batch" / "manifest.json").read_text()
    assert "rec0" not in manifest and str(corpus) not in manifest


def _run_engine(corpus: Path, out: Path, engine: str, monkeypatch, tmp_path: Path, die: bool = False):
    from analysis.pipeline import AnalysisOptions

    monkeypatch.setenv("ATTUNE_TEST_BATCH_SLEEP", "0.05")
    if die:
        monkeypatch.setenv("ATTUNE_TEST_BATCH_DIE_ONCE", str(tmp_path / f"died-{engine}"))
    files, _ = batch.collect_inputs([corpus])
    cfg = batch.BatchConfig(out=out, options=AnalysisOptions(transcribe=False), workers=2, analyze=FAKE,
                            progress=False, engine=engine)
    return batch.Batch(files, cfg).run()


def test_a_worker_killed_mid_task_is_retried_without_partial_output(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    corpus, out = tmp_path / "in", tmp_path / "out"
    _corpus(corpus, 10)
    counts = _run_engine(corpus, out, "local", monkeypatch, tmp_path, die=True)
    assert (tmp_path / "died-local").exists()
    assert (counts["analysed"], counts["failed"]) == (10, 0)
    assert len(_results(out)) == 10 and not list((out / "results").glob(".*.tmp"))


def test_dask_engine_gives_the_local_engines_timelines(tmp_path, monkeypatch):
    """The same 20-file batch on a local Dask cluster: byte-identical timelines, a worker killed mid-task
    retried without a partial output, and a second run analyses nothing."""
    pytest.importorskip("distributed", reason="the Dask engine needs the dask extra: pip install 'attune[dask]'")
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    corpus = tmp_path / "in"
    _corpus(corpus, 20)
    local = _run_engine(corpus, tmp_path / "local", "local", monkeypatch, tmp_path)
    log = tmp_path / "dask-starts.log"
    monkeypatch.setenv("ATTUNE_TEST_BATCH_LOG", str(log))
    counts = _run_engine(corpus, tmp_path / "dask", "dask", monkeypatch, tmp_path, die=True)
    assert (tmp_path / "died-dask").exists()  # a worker died mid-task ...
    assert (local["analysed"], counts["analysed"], counts["failed"]) == (20, 20, 0)  # ... and it was retried
    assert _results(tmp_path / "local") == _results(tmp_path / "dask")
    for name in _results(tmp_path / "local"):
        assert (tmp_path / "local" / "results" / name).read_bytes() == \
            (tmp_path / "dask" / "results" / name).read_bytes()
    assert not list((tmp_path / "dask" / "results").glob(".*.tmp"))
    starts = _starts(log)
    # the file whose worker died was started again; at most one other (the dead worker's next) with it
    assert starts["rec07.wav"] == 2 and sum(starts.values()) <= 22
    again = _run_engine(corpus, tmp_path / "dask", "dask", monkeypatch, tmp_path)
    assert again["analysed"] == 0 and _starts(log) == starts


@pytest.mark.slow
def test_dask_engine_real_pipeline_gives_the_local_engines_bytes(tmp_path, monkeypatch, shared_audio):
    """The real analysis (VAD, the diarizer's models loaded once per worker, the cue engine; no
    transcription) of two 10-s pieces of the pyannote sample, by the local engine and on a local Dask
    cluster: byte-identical timelines and RTTM files, each the timeline ``analyze_file`` gives."""
    pytest.importorskip("distributed", reason="the Dask engine needs the dask extra: pip install 'attune[dask]'")
    from analysis.pipeline import AnalysisOptions

    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    files = _pieces(shared_audio / "pyannote_sample" / "sample.wav", tmp_path / "in", 2, 10.0)
    options = AnalysisOptions(transcribe=False)
    for engine in ("local", "dask"):
        cfg = batch.BatchConfig(out=tmp_path / engine, options=options, workers=1, progress=False, engine=engine)
        counts = batch.Batch(files, cfg).run()
        assert (counts["analysed"], counts["failed"]) == (2, 0), engine
    names = sorted(p.name for p in (tmp_path / "local" / "results").iterdir())
    assert len(names) == 4 and names == sorted(p.name for p in (tmp_path / "dask" / "results").iterdir())
    for name in names:
        assert (tmp_path / "local" / "results" / name).read_bytes() == \
            (tmp_path / "dask" / "results" / name).read_bytes(), name
    got = [json.loads(p.read_text()) for _src, p in batch.iter_done(tmp_path / "dask")]
    assert all(tl["turns"] and tl["provenance"]["diarization"] for tl in got)  # the real models' turns
