"""One rule per job (issue 12, point 3): who said a word, talk time and share, the shared constants and
the evaluation helpers each have one definition, used everywhere."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from analysis.evaluation import attribution_mismatches
from analysis.live import LiveOptions, LivePipeline
from analysis.scripted_diarizer import ScriptedDiarizer
from analysis.talk import TalkTime, talk_share, talk_time
from analysis.timeline import Turn
from audio import SAMPLE_RATE
from audio.sources import AudioBlock, FileSource

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ("analysis", "audio", "app", "ui", "bench")


# -- who said a word -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live_run(dialogue):
    """The demo dialogue live, its exact speakers (the rendered turns) and the real recogniser."""
    wav, truth = dialogue
    pipe = LivePipeline(LiveOptions(asr_queue=10_000, backpressure=True), diarizer=ScriptedDiarizer(truth.turns))
    src = FileSource(wav)
    src.start()
    for block in src:
        pipe.process(block)
    return pipe.finish(), truth


def test_live_timeline_speakers_and_figures_agree(live_run):
    """Each speaker's words, pace and questions in the live timeline are those of the utterances
    labelled with that speaker (was: utterances went whole to the speaker of the turn they overlapped
    most, while the figures gave each word to the speaker of its own turn)."""
    from analysis.cue_adapter import LIVE_PUNCTUATED

    tl, truth = live_run
    per = tl.metrics.speakers
    assert set(truth.talk_time) <= set(per)
    assert all(per[sp]["words"] >= 20 for sp in truth.talk_time)  # both speak: the check has something to check
    assert sum(per[sp]["questions"] for sp in per) >= 2
    assert attribution_mismatches(tl, LIVE_PUNCTUATED) == []


# -- talk time and share -------------------------------------------------------------------------------
def test_talk_time_is_the_union_of_each_speakers_turns():
    turns = [Turn("A", 0.0, 2.0), Turn("A", 1.0, 3.0), Turn("A", 3.0, 4.0),  # overlapping, touching
             Turn("A", 0.5, 1.5),  # inside
             Turn("B", 5.0, 6.0), Turn("B", 5.0, 6.0)]  # twice the same
    assert talk_time(turns) == {"A": 4.0, "B": 1.0}
    assert talk_time(turns, 2.5, 5.5) == {"A": 1.5, "B": 0.5}
    assert talk_time(turns, speakers=["C"]) == {"C": 0.0, "A": 4.0, "B": 1.0}
    assert talk_share({"A": 3.0, "B": 1.0}) == {"A": 0.75, "B": 0.25}
    assert talk_share({"A": 0.0}) == {"A": 0.0}
    # fed out of order, turn by turn: the same figure
    acc = TalkTime()
    for t in reversed(turns):
        acc.add_turn(t)
    assert acc.seconds() == pytest.approx(talk_time(turns))


def test_live_talk_share_follows_the_cue_engines_rule():
    """The live state's talk time and share (session and window) and the timeline's are one figure, even
    for turns of one speaker that overlap or repeat (was: the live state summed turn durations)."""
    turns = [Turn("S1", 0.0, 4.0), Turn("S1", 2.0, 6.0), Turn("S2", 6.5, 8.0), Turn("S2", 6.5, 8.0),
             Turn("S1", 8.5, 9.0)]
    pipe = LivePipeline(LiveOptions(transcribe=False), diarizer=ScriptedDiarizer(turns))
    block = int(0.1 * SAMPLE_RATE)
    for k in range(100):
        pipe.process(AudioBlock(k * 0.1, np.zeros(block, np.float32)))
    tl = pipe.finish()
    state = pipe.state()
    for sp in ("S1", "S2"):
        m = tl.metrics.speakers[sp]
        assert state.talk_time[sp] == pytest.approx(m["talk_time"], abs=1e-3)
        assert state.talk_share[sp] == pytest.approx(m["talk_share"], abs=1e-3)
        assert state.talk_share_window[sp] == pytest.approx(m["talk_share_window"], abs=1e-3)
    assert state.talk_time["S1"] == pytest.approx(6.5)


# -- one definition ------------------------------------------------------------------------------------
def _sources():
    for pkg in SOURCE:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def _assigned(path: Path) -> set[str]:
    """Names bound by a module-level (or class-level) assignment in ``path``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            names.add(node.target.id)
    return names


# Copies of the sample rate this issue did not remove: their modules belong to other work in progress
# (issue 13's encrypted store and its benchmark); each is to import audio.SAMPLE_RATE. Listed here so that
# no new copy gets in meanwhile.
KNOWN_COPIES = {"app/store.py": "SAMPLE_RATE = 16_000", "bench/bench_crypto.py": "RATE = 16_000"}


@pytest.mark.parametrize("name, home", [
    ("SAMPLE_RATE", "audio/__init__.py"),  # the session sample clock
    ("TARGET_SR", None), ("SR", None),  # no second name for it
    ("SILENCE_MIN_S", "analysis/cues.py"),
    ("REF_HZ", "analysis/prosody.py"), ("PITCH_REF_HZ", None),  # semitones are re this
    ("WORD_TOLERANCE_S", "analysis/attribution.py"),
    ("EVENT_MATCH_S", "analysis/evaluation.py"), ("MATCH_S", None),
])
def test_each_shared_constant_is_defined_in_one_module(name, home):
    where = sorted(str(p.relative_to(ROOT)) for p in _sources() if name in _assigned(p))
    assert [w for w in where if w not in KNOWN_COPIES] == ([home] if home else []), where


def test_the_five_minute_window_is_defined_once():
    """The rolling window of the live figures (300 s) is analysis.session_state.WINDOW_S; the cue options
    and the dashboard import it (it was written out in three modules)."""
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant) \
                    and node.value.value == 300:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and "window" in t.id.lower() for t in targets):
                    found.append(str(path.relative_to(ROOT)))
    assert found == ["analysis/session_state.py"], found


def test_the_sample_rate_is_never_written_as_a_number():
    """16000 appears once, where SAMPLE_RATE is defined (a tuple of the rates webrtcvad accepts aside)."""
    found = []
    for path in _sources():
        if str(path.relative_to(ROOT)) in KNOWN_COPIES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_tuples = {id(e) for node in ast.walk(tree) if isinstance(node, ast.Tuple) for e in node.elts}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value == SAMPLE_RATE and id(node) not in in_tuples:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == ["audio/__init__.py:8"], found


COPY_SIMILARITY = 0.8  # bodies this alike are one helper copied (speaker_map's copies: 0.86-0.93)
MIN_HELPER_CHARS = 120  # shorter bodies (a one-line wrapper) are not worth the comparison


def _helpers(folder: str) -> list[tuple[str, str]]:
    """(file:function, body source without its docstring) of every function in ``folder`` but tests."""
    out = []
    for path in sorted((ROOT / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("test_"):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:]
                text = "\n".join(ast.unparse(b) for b in body)
                if len(text) >= MIN_HELPER_CHARS:
                    out.append((f"{path.name}:{node.name}", text))
    return out


def test_no_helper_is_copied_between_bench_and_tests():
    """A helper both benchmarks and tests need lives in the code (analysis/evaluation.py, analysis/talk.py)
    and both import it: no function body in bench/ is a near copy of one in tests/ (whatever its name;
    was: match, speaker_map twice)."""
    import difflib

    copies = []
    for bench_name, bench_body in _helpers("bench"):
        for test_name, test_body in _helpers("tests"):
            m = difflib.SequenceMatcher(None, bench_body, test_body, autojunk=False)
            if m.real_quick_ratio() >= COPY_SIMILARITY and m.quick_ratio() >= COPY_SIMILARITY \
                    and m.ratio() >= COPY_SIMILARITY:
                copies.append((bench_name, test_name, round(m.ratio(), 2)))
    assert copies == []
