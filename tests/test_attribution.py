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


def test_word_just_before_a_turn_goes_to_that_speaker():
    utt = _utt([(0.6, 0.9, "well")], speaker="")
    out = attribute([utt], [Turn("S2", 1.0, 3.0), Turn("S1", 3.0, 5.0)])
    assert [u.speaker for u in out] == ["S2"]  # 0.1 s before S2's turn: within the tolerance


def test_word_long_before_every_turn_is_unattributed():
    from analysis.attribution import UNATTRIBUTED, WORD_TOLERANCE_S

    utt = _utt([(0.0, 0.3, "hello")], speaker="S2")
    out = attribute([utt], [Turn("S2", 0.3 + WORD_TOLERANCE_S + 0.4, 3.0)])
    assert [u.speaker for u in out] == [UNATTRIBUTED]


def test_far_word_never_goes_to_a_speaker_who_has_not_started():
    # 4.5-4.8 is 2.5 s after S1's turn and 1.2 s before S2's first turn: S1 said it (or no one)
    utt = _utt([(4.5, 4.8, "right")])
    out = attribute([utt], [Turn("S1", 0.0, 2.0), Turn("S2", 6.0, 8.0)])
    assert [u.speaker for u in out] == ["S1"]
    # once S2 has spoken, the nearest turn wins again
    out = attribute([utt], [Turn("S2", 0.0, 1.0), Turn("S1", 1.0, 2.0), Turn("S2", 6.0, 8.0)])
    assert [u.speaker for u in out] == ["S2"]


def test_word_goes_to_a_speaker_only_within_the_tolerance_of_their_turn():
    """Every attributed word of a busy random layout lies within the tolerance of one of its speaker's
    turns, or is far from every turn and after its speaker's first turn."""
    import random

    from analysis.attribution import UNATTRIBUTED, WORD_TOLERANCE_S

    rng = random.Random(3)
    turns, t = [], 2.0  # words start before the first turn; some pauses are long
    for _ in range(40):
        start = t + rng.uniform(-0.5, 5.0)
        end = start + rng.choice([0.017, 0.034, 0.3, 1.0, 4.0])
        turns.append(Turn(rng.choice(["S1", "S2", "S3"]), max(0.0, start), end))
        t = end
    words = []
    for _ in range(300):
        a = rng.uniform(0, t + 2)
        words.append((a, a + rng.uniform(0.0, 1.5), "w"))
    words.sort()
    out = attribute([_utt(words)], turns)
    first = {}
    for tr in sorted(turns, key=lambda x: x.start):
        first.setdefault(tr.speaker, tr.start)

    def gap(w, tr):
        return max(tr.start - w.end, w.start - tr.end, 0.0)

    for u in out:
        for w in u.words:
            near_any = min(gap(w, tr) for tr in turns) <= WORD_TOLERANCE_S
            if u.speaker == UNATTRIBUTED:
                assert not near_any and all(f > w.end + WORD_TOLERANCE_S for f in first.values())
            elif near_any:
                assert min(gap(w, tr) for tr in turns if tr.speaker == u.speaker) <= WORD_TOLERANCE_S
            else:
                assert first[u.speaker] <= w.end + WORD_TOLERANCE_S
