"""Word-level speaker attribution of transcript utterances."""

from analysis.attribution import attribute
from analysis.timeline import Turn, Utterance, Word


def _utt(words, speaker="S1"):
    ws = tuple(Word(a, b, t, 0.9) for a, b, t in words)
    return Utterance(speaker, ws[0].start, ws[-1].end, " ".join(w.text for w in ws), ws)


def test_whole_utterance_relabelled():
    utt = _utt([(1.0, 1.3, "hello"), (1.4, 1.8, "there")], speaker="S1")
    out = attribute([utt], [Turn("S2", 0.8, 2.0)])
    assert [(u.speaker, u.text) for u in out] == [("S2", "hello there")]
    assert out[0].words == utt.words


def test_split_at_speaker_change():
    utt = _utt([(0.0, 0.4, "I"), (0.5, 0.9, "think"), (1.0, 1.4, "so"), (1.6, 2.0, "really?"),
                (2.1, 2.5, "yes")])
    turns = [Turn("S1", 0.0, 1.5), Turn("S2", 1.5, 2.05), Turn("S1", 2.05, 3.0)]
    out = attribute([utt], turns)
    assert [(u.speaker, u.text) for u in out] == [("S1", "I think so"), ("S2", "really?"), ("S1", "yes")]
    assert out[0].start == 0.0 and out[0].end == 1.4
    assert out[1].start == 1.6 and out[1].end == 2.0
    assert out[2].start == 2.1 and out[2].end == 2.5
    assert sum(len(u.words) for u in out) == 5


def test_overlapping_turns_word_goes_to_larger_overlap():
    utt = _utt([(1.0, 2.0, "overlapped"), (2.2, 2.6, "after")])
    turns = [Turn("S1", 0.0, 1.3), Turn("S2", 1.1, 3.0)]  # S2 covers 0.9 s of the word, S1 0.3 s
    out = attribute([utt], turns)
    assert [(u.speaker, u.text) for u in out] == [("S2", "overlapped after")]


def test_word_outside_any_turn_takes_nearest():
    utt = _utt([(5.0, 5.3, "far"), (9.0, 9.3, "away")])
    turns = [Turn("S1", 0.0, 4.0), Turn("S2", 9.5, 12.0)]
    out = attribute([utt], turns)
    assert [(u.speaker, u.text) for u in out] == [("S1", "far"), ("S2", "away")]


def test_utterance_without_words_takes_most_overlap():
    utt = Utterance("S1", 1.0, 4.0, "no word timings", ())
    out = attribute([utt], [Turn("S1", 0.0, 1.5), Turn("S2", 1.5, 4.0)])
    assert [(u.speaker, u.text, u.start, u.end) for u in out] == [("S2", "no word timings", 1.0, 4.0)]


def test_no_turns_leaves_utterances_alone():
    utt = _utt([(0.0, 0.5, "hi")])
    assert attribute([utt], []) == [utt]


def test_many_utterances_keep_order():
    utts = [_utt([(i, i + 0.4, f"w{i}")]) for i in range(10)]
    turns = [Turn("S1" if i % 2 == 0 else "S2", i - 0.1, i + 0.9) for i in range(10)]
    out = attribute(utts, turns)
    assert [u.speaker for u in out] == ["S1" if i % 2 == 0 else "S2" for i in range(10)]
    assert [u.text for u in out] == [f"w{i}" for i in range(10)]
