"""Streaming diarization fed block by block: close to the offline pipeline, stable ids, anchor."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.evaluation import diarization_error_rate as der
from analysis.evaluation import speaker_map, speaker_overlaps
from analysis.timeline import Turn

pytestmark = pytest.mark.slow

DER_MARGIN = 0.05  # the live result may be at most this much worse than the offline one
LABEL_P90_S = 2.0  # issue 5: speaker label of a new turn within 2 s of its start (90th percentile)
NEVER_S = 10.0  # a change never labelled counts as this (as in bench/bench_diarization.py)
BLOCK_S = 0.37  # an odd block size on purpose (not a multiple of the 0.5-s step)


def feed(diarizer, wave, block_s=BLOCK_S):
    n = int(block_s * 16000)
    turns, now = [], []
    for i in range(0, len(wave), n):
        got = diarizer.process(wave[i: i + n])
        assert all(isinstance(t, Turn) for t in got)
        turns.extend(got)
        now.append(diarizer.speaker_now)
    turns.extend(diarizer.flush())
    return turns, now


@pytest.fixture(scope="module")
def setup(tmp_path_factory, shared_audio):
    import torch

    from analysis.diarization import diarize
    from analysis.streaming_diarization import StreamingDiarizer
    from analysis.timeline import read_rttm
    from app.synth import random_script, render
    from audio.decode import load

    tmp = tmp_path_factory.mktemp("stream")
    truth = render(random_script(3, n_lines=10), tmp / "dialogue.wav")
    wave = load(tmp / "dialogue.wav")
    sample = load(shared_audio / "pyannote_sample" / "sample.wav")
    sample_ref = read_rttm(shared_audio / "pyannote_sample" / "sample.rttm")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        offline = diarize(wave)
        offline_sample = diarize(sample)
        d = StreamingDiarizer()
        live, now = feed(d, wave)
        speakers = list(d.speakers)
        d.reset()
        assert d.speakers == [] and d.speaker_now is None
        live_sample, _ = feed(d, sample)
        anchor_id = sorted({t.speaker for t in truth.turns})[-1]  # the voice that speaks second
        anchor = offline.embeddings[speaker_map(truth.turns, offline.turns)[anchor_id]]
        anchored = StreamingDiarizer(anchor=anchor)
        live_anchored, _ = feed(anchored, wave[: 16000 * 30], block_s=1.0)
    finally:
        torch.set_num_threads(threads)
    return {"truth": truth, "offline": offline, "live": live, "now": now, "speakers": speakers,
            "sample_ref": sample_ref, "offline_sample": offline_sample, "live_sample": live_sample,
            "anchored": anchored, "live_anchored": live_anchored, "anchor_id": anchor_id}


def test_live_close_to_offline_on_generated_dialogue(setup):
    ref = setup["truth"].turns
    off, live = der(ref, setup["offline"].turns), der(ref, setup["live"])
    assert live <= off + DER_MARGIN, (live, off)


def test_live_close_to_offline_on_sample(setup):
    ref = setup["sample_ref"]
    off, live = der(ref, setup["offline_sample"].turns), der(ref, setup["live_sample"])
    assert live <= off + DER_MARGIN, (live, off)


def test_ids_stable_and_numbered_by_appearance(setup):
    live, ref = setup["live"], setup["truth"].turns
    assert setup["speakers"] == ["S1", "S2"]
    # every id stands for one voice for the whole session
    ov = speaker_overlaps(live, ref)
    for sid in {t.speaker for t in live}:
        per_ref = {r: ov.get((sid, r), 0.0) for r in {x.speaker for x in ref}}
        assert max(per_ref.values()) >= 0.9 * sum(per_ref.values()), (sid, per_ref)
    seen = [s for s in setup["now"] if s is not None]
    assert seen and set(seen) <= {"S1", "S2"}
    # numbered by first appearance in time
    assert sorted(setup["speakers"], key=lambda s: min(t.start for t in live if t.speaker == s)) == ["S1", "S2"]
    assert all(t.end > t.start for t in live)
    # a turn closes when its speaker stops, so a long turn can follow a later short one of the other
    # speaker; but one speaker's turns come in time order, each once, never overlapping
    for sid in ("S1", "S2"):
        own = [t for t in live if t.speaker == sid]
        assert all(a.end <= b.start for a, b in zip(own, own[1:], strict=False)), (sid, own)


def test_new_speaker_labelled_quickly(setup):
    """Issue 5: at every speaker change in the truth (backchannels and interruptions included),
    the time until ``speaker_now`` names the new speaker's live id, 90th percentile <= 2 s."""
    live, ref, now = setup["live"], setup["truth"].turns, setup["now"]
    match = speaker_map(ref, live)  # each true speaker -> the live id that overlaps them most
    ends = [(i + 1) * BLOCK_S for i in range(len(now))]  # audio time at which each `now` was read
    lat, prev = [], None
    for t in sorted(ref, key=lambda t: t.start):
        if t.speaker != prev:
            hit = next((e for e, s in zip(ends, now, strict=True) if e >= t.start and s == match[t.speaker]),
                       None)
            lat.append(NEVER_S if hit is None else min(NEVER_S, hit - t.start))
        prev = t.speaker
    assert len(lat) >= 8
    assert float(np.percentile(lat, 90)) <= LABEL_P90_S, sorted(round(x, 2) for x in lat)


def test_anchor_labels_the_enrolled_voice(setup):
    anchored, live, ref = setup["anchored"], setup["live_anchored"], setup["truth"].turns
    sid = anchored.anchor_speaker
    assert sid is not None
    ref = [r for r in ref if r.start < 30.0]
    ov = speaker_overlaps(live, ref)
    per_ref = {r: ov.get((sid, r), 0.0) for r in {x.speaker for x in ref}}
    assert max(per_ref, key=per_ref.get) == setup["anchor_id"]


def test_silence_and_tiny_blocks():
    from analysis.streaming_diarization import StreamingDiarizer

    d = StreamingDiarizer()
    for _ in range(40):
        assert d.process(np.zeros(160, np.float32)) == []
    assert d.flush() == [] and d.speaker_now is None


# -- the people in the room (start dialog) bound the live diarizer --------------------------------------
LIVE_REAL_DER_MAX = 0.19  # SNG1640 live, count given, +-0.25-s collar (measured 0.150; docs/diarization.md)
LIVE_THREE_DER_MAX = 0.20  # real three-person conversation, count given (measured 0.118; 0.421 before delta_open)
LIVE_QUIET_DER_MAX = 0.15  # a main voice and a quiet one, count given (measured 0.076; 0.244 before joining pieces)


@pytest.fixture(scope="module")
def room(tmp_path_factory, shared_audio):
    import torch

    from analysis.assembled import assembled_set, imbalanced_set
    from analysis.evaluation import dev_set, load_file
    from analysis.streaming_diarization import StreamingOptions, diarize_stream
    from app.synth import random_script, render
    from audio.decode import load

    tmp = tmp_path_factory.mktemp("room")
    render(random_script(7, n_speakers=3, n_lines=12), tmp / "three.wav")
    three = load(tmp / "three.wav")
    call = next((f for f in dev_set(shared_audio) if f.name.endswith("SNG1640")), None)
    assert call is not None, f"the development call SNG1640 is missing from {shared_audio / 'dev'}"
    # three real voices from the dev calls (a tuning file of delta_open: docs/diarization.md)
    real_three = next(f for f, n in assembled_set(shared_audio, tmp / "assembled", (3,), per_size=5)
                      if f.name.endswith("3spk-4"))
    # one real voice that talks and another that puts in short words (a tuning seed of the imbalanced set)
    quiet = next(f for f, n in imbalanced_set(shared_audio, tmp / "imbalanced", seeds=(3,))
                 if "Auto_Repairs_40" in f.name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = {"three_capped": diarize_stream(three, options=StreamingOptions(num_speakers=2)),
               "three_free": diarize_stream(three),
               "call": (call, diarize_stream(load_file(call), options=StreamingOptions(num_speakers=2))),
               "real_three": (real_three, diarize_stream(load_file(real_three),
                                                         options=StreamingOptions(num_speakers=3))),
               "quiet": (quiet, diarize_stream(load_file(quiet), options=StreamingOptions(num_speakers=2)))}
    finally:
        torch.set_num_threads(threads)
    return out


def test_never_more_voices_than_people_in_the_room(room):
    assert len({t.speaker for t in room["three_free"]}) == 3  # the dialogue really has three voices
    assert len({t.speaker for t in room["three_capped"]}) == 2


def test_real_call_with_the_count_given(room):
    from analysis.evaluation import der_breakdown
    from analysis.timeline import read_rttm

    item, turns = room["call"]
    assert len({t.speaker for t in turns}) == 2
    d = der_breakdown(read_rttm(item.rttm), turns, item.collar)
    assert d["der"] <= LIVE_REAL_DER_MAX, d


def test_real_three_person_conversation_with_the_count_given_opens_every_voice(room):
    """Told three people are in the room, the live diarizer opens a third voice that is nearer than
    ``delta_new`` to one of the first two (it used to stop at two: DER 0.42)."""
    from analysis.evaluation import der_breakdown
    from analysis.timeline import read_rttm

    item, turns = room["real_three"]
    assert len({t.speaker for t in turns}) == 3
    d = der_breakdown(read_rttm(item.rttm), turns, item.collar)
    assert d["der"] <= LIVE_THREE_DER_MAX, d


def test_a_main_voice_is_not_split_in_two_beside_a_quiet_one(room):
    """One person talks, the other only puts in a short word now and then (a client and a listening
    counsellor), two people given: the main voice's noisy windows used to open the second voice, which
    then took a fifth of the main voice's talk (DER 0.244); pieces of one voice are now joined."""
    from analysis.evaluation import der_breakdown
    from analysis.timeline import read_rttm

    item, turns = room["quiet"]
    assert len({t.speaker for t in turns}) <= 2
    d = der_breakdown(read_rttm(item.rttm), turns, item.collar)
    assert d["der"] <= LIVE_QUIET_DER_MAX, d
