"""From a live ``SessionState`` to what the dashboard shows: pure Python, no Qt, easy to test.

:class:`CueModel` keeps the little history the nudges need (interruption counts over the last five
minutes) and turns each state snapshot into a :class:`Cues` value the widgets render. Words follow
the trust article's language: active listening, room to fully express themselves, without
interruption, boundaries, a collaborative partnership. Nudges are short, kind and never alarming.

Roles. The live diarizer may find more voices than there are people (one person's voice split in
two). The clinician says which voice is theirs (:meth:`CueModel.set_role`, "This is me" on a card)
and merges a voice into another (:meth:`CueModel.merge`); there is never more than one therapist
unless ``max_therapists`` says so. :attr:`Cues.people` has one entry per voice with its role (a
merged voice takes the role of the voice it was merged into); :attr:`Cues.cards` is what the view
shows: one card per person (merged voices summed), and voices with little speech that are neither
you nor the client together in one small "Other voices" card.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.session_state import WINDOW_S  # the "last 5 minutes"

MIN_WINDOW_SPEECH_S = 30.0  # no talk-share nudge before this much speech in the window
MINOR_SHARE = 0.10  # a voice with less of the session's speech than this ...
MINOR_TALK_S = 60.0  # ... or less speech than this, neither you nor the client, is an "other voice"
MAX_CARDS = 4  # cards in the view; beyond it the smallest voices join "Other voices"
OTHERS_ID = "others"  # the id of the "Other voices" card
OTHERS_LABEL = "Other voices"
ROLES = ("therapist", "client")
# The enrolled voice was not heard after enough speech (SessionState.enrolled_heard is False): the pipeline's
# roles rest on it, so they may be wrong. Shown until the voice is heard or the clinician says whose voice is
# whose (a card's "This is me" / "This is the client", or "Swap roles").
VOICE_NOT_HEARD = ("Your enrolled voice has not been heard yet — roles may be wrong; click a card to say "
                   "which voice is yours.")


@dataclass(frozen=True)
class Person:
    id: str
    label: str
    role: str | None
    share: float  # of the session's speech, 0..1
    share_window: float  # of the last 5 minutes' speech
    talk_s: float
    interruptions_made: int
    interruptions_received: int
    backchannels: int
    quick_responses: int
    pace: str  # "faster than usual" / "slower than usual" / "as usual" / "" (no baseline yet)
    pitch: str  # the pitch level: "pitch higher than usual" / "pitch lower than usual" / "as usual" / ""
    pitch_variability: str  # "pitch more varied than usual" / "pitch flatter than usual" / "as usual" / ""
    loudness: str  # "louder than usual" / "quieter than usual" / "as usual" / ""
    speaking: bool
    name: str = ""  # the card's title when not simply "You" / "Client" / the label ("Client 2")
    members: tuple[str, ...] = ()  # a card's voice ids (merged voices, or the "Other voices" group)

    @property
    def tone(self) -> str:
        """Pitch level, pitch variability and loudness in one line: what differs from the voice's own
        baseline ("pitch higher and more varied, louder than usual"), "as usual", or "" (no baseline)."""
        return describe_tone(self.pitch, self.pitch_variability, self.loudness)


@dataclass(frozen=True)
class Nudge:
    key: str  # "talk_share", "interruptions", "end"
    text: str  # the small line of text
    tip: str  # the tooltip, in the article's words


@dataclass(frozen=True)
class Cues:
    t: float
    clock: str  # "23:41"
    planned: str  # "/ 50:00"
    remaining_s: float
    end_cue: bool
    people: tuple[Person, ...]
    speaking_now: tuple[str, ...]  # labels
    speaking_text: str  # "You are speaking", "Client is speaking", "Both speaking", "Quiet"
    silence_s: float | None  # the pause timer; None while someone speaks
    silence_label: str
    nudges: tuple[Nudge, ...] = ()
    status: str = ""
    level_dbfs: float = -100.0
    health: str = ""  # overflow / dropped-ASR note, empty when all is well
    transcript: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (label, text)
    cards: tuple[Person, ...] = ()  # what the view shows: one per person, then "Other voices"
    voice_note: str = ""  # VOICE_NOT_HEARD while the enrolled voice is not heard (else empty)

    def _shown(self) -> tuple[Person, ...]:
        return self.cards or self.people

    @property
    def therapist(self) -> Person | None:
        return next((p for p in self._shown() if p.role == "therapist"), None)

    @property
    def client(self) -> Person | None:
        return next((p for p in self._shown() if p.role == "client"), None)

    def pair(self) -> tuple[Person | None, Person | None]:
        """The two sides of the balance bar: therapist and client, or the first two voices."""
        a, b = self.therapist, self.client
        others = [p for p in self._shown() if p is not a and p is not b and p.id != OTHERS_ID]
        if a is None and others:
            a = others.pop(0)
        if b is None and others:
            b = others.pop(0)
        return a, b


def mmss(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def display_name(p: Person) -> str:
    """What the clinician reads: "You" for the therapist, "Client", or the voice's label."""
    if p.name:
        return p.name
    return {"therapist": "You", "client": "Client"}.get(p.role or "", p.label)


def _finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, not a number or NaN."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if v != v else v


AS_USUAL = "as usual"
THAN_USUAL = " than usual"


def _compare(difference: float | None, band: float, more: str, less: str) -> str:
    """``more`` or ``less`` (+ " than usual") beyond ``band`` either side of 0, else "as usual"; "" for
    no figure (no baseline yet)."""
    v = _finite(difference)
    if v is None:
        return ""
    if v > band:
        return more + THAN_USUAL
    if v < -band:
        return less + THAN_USUAL
    return AS_USUAL


def describe_pace(ratio: float | None, band: float = 0.15) -> str:
    """Words per minute against the voice's own baseline (``wpm_rel``: 1.0 = usual, 1.2 = 20 % more)."""
    v = _finite(ratio)
    return _compare(None if v is None else v - 1.0, band, "faster", "slower")


def describe_pitch(difference_st: float | None, band_st: float = 1.5) -> str:
    """The pitch level (median pitch) against the voice's own, in semitones (``pitch_median_rel_st``)."""
    return _compare(difference_st, band_st, "pitch higher", "pitch lower")


def describe_pitch_variability(difference_st: float | None, band_st: float = 1.0) -> str:
    """How much the pitch moves against the voice's own, in semitones (``pitch_variability_rel_st``)."""
    return _compare(difference_st, band_st, "pitch more varied", "pitch flatter")


def describe_loudness(difference_db: float | None, band_db: float = 3.0) -> str:
    """The speech level against the voice's own, in dB (``loudness_rel_db``)."""
    return _compare(difference_db, band_db, "louder", "quieter")


def describe_tone(pitch: str, variability: str, loudness: str) -> str:
    """One line of the three tone words: the pitch words joined ("pitch higher and more varied"), then
    the loudness, then " than usual"; "as usual" when all that was measured is as usual; "" when none was."""
    words = [w for w in (pitch, variability, loudness) if w]
    if not words:
        return ""
    differ = [w.removesuffix(THAN_USUAL) for w in words if w != AS_USUAL]
    if not differ:
        return AS_USUAL
    pitch_words = [w.removeprefix("pitch ") for w in differ if w.startswith("pitch ")]
    parts = (["pitch " + " and ".join(pitch_words)] if pitch_words else []) + \
        [w for w in differ if not w.startswith("pitch ")]
    return ", ".join(parts) + THAN_USUAL


def _with(p: Person, **changes: Any) -> Person:
    from dataclasses import replace

    return replace(p, **changes)


def _combine(sid: str, members: list[Person]) -> Person:
    """One person from several voices: times, shares and counts summed; pace, pitch and loudness
    (relative to each voice's own baseline) from the voice with the most speech."""
    main = next((p for p in members if p.id == sid), None) or max(members, key=lambda p: p.talk_s)
    if len(members) == 1:
        return _with(main, members=(main.id,))
    most_heard = max(members, key=lambda p: p.talk_s)
    total = {k: sum(getattr(p, k) for p in members) for k in (
        "share", "share_window", "talk_s", "interruptions_made", "interruptions_received",
        "backchannels", "quick_responses")}
    return _with(main, **total, pace=most_heard.pace, pitch=most_heard.pitch,
                 pitch_variability=most_heard.pitch_variability, loudness=most_heard.loudness,
                 speaking=any(p.speaking for p in members), members=tuple(p.id for p in members))


def _get(mapping: Any, key: str, default: Any = 0) -> Any:
    if isinstance(mapping, Mapping):
        v = mapping.get(key, default)
        return default if v is None else v
    return default


class CueModel:
    """Turns state snapshots into :class:`Cues`. ``settings`` is an :class:`app.settings.Settings`."""

    def __init__(self, settings: Any, planned_s: float | None = None, assume_first_is_therapist: bool = True
                 ) -> None:
        self.settings = settings
        self.planned_s = float(planned_s if planned_s is not None else settings.session_minutes * 60)
        self._int_hist: deque[tuple[float, int]] = deque()
        self.assume_first = assume_first_is_therapist
        self.roles: dict[str, str | None] = {}  # speaker id -> role chosen by the clinician
        self.merged: dict[str, str] = {}  # speaker id -> the voice it was merged into
        self.max_therapists = 1  # more only when the clinician says so (co-therapists)
        self._heard: list[str] = []  # speaker ids in the order they were first heard
        self._pipeline_roles = False  # the pipeline named roles (enrolled voice)
        self._last: Cues | None = None
        self.roles_confirmed = False  # the clinician said whose voice is whose (a card's menu, "Swap roles")
        self._role_by_id: dict[str, str | None] = {}

    # -- roles ---------------------------------------------------------------------------------
    def _note_heard(self, state: Any) -> None:
        turns = sorted(getattr(state, "recent_turns", ()) or (), key=lambda tr: tr.start)
        for sid in [tr.speaker for tr in turns] + list(getattr(state, "speaking_now", ()) or ()):
            if sid not in self._heard and sid != "?":
                self._heard.append(sid)

    def role_of(self, speaker: Any) -> str | None:
        """The speaker's role: the clinician's choice, the pipeline's (enrolled voice), or by default
        the first voice heard is the therapist's (who usually opens) and the second the client's. A
        merged voice has the role of the voice it was merged into."""
        sid = self.target(speaker.id)
        if sid in self.roles:
            return self.roles[sid]
        role = speaker.role if sid == speaker.id else self._role_by_id.get(sid)
        if role:
            return role
        if self._pipeline_roles:  # the enrolled voice decides; an unplaced voice stays unnamed
            return None
        if self.assume_first and sid in self._heard[:2]:
            return ROLES[self._heard.index(sid)]
        return None

    def target(self, sid: str) -> str:
        """The voice ``sid`` was merged into (itself when not merged)."""
        seen = set()
        while sid in self.merged and sid not in seen:
            seen.add(sid)
            sid = self.merged[sid]
        return sid

    def _settle(self) -> dict[str, str | None]:
        """Fix the roles as they are shown now, so that a change to one voice leaves the others as they
        were (the first-heard guess and the pipeline's roles become the clinician's)."""
        last = self._last
        for p in last.people if last else ():
            sid = self.target(p.id)
            if sid not in self.roles:
                self.roles[sid] = p.role
        return self.roles

    def set_role(self, sid: str, role: str | None) -> None:
        """The clinician says whose voice ``sid`` is ("therapist": "this is me"; "client"; None). A voice
        that was the therapist takes ``sid``'s old role, so there is still one therapist (or at most
        ``max_therapists``)."""
        roles = self._settle()
        self.roles_confirmed = True
        sid = self.target(sid)
        old = roles.get(sid)
        if role == "therapist":  # a client may be one of several (a couple); a therapist may not
            holders = [v for v, r in roles.items() if r == role and v != sid]
            for v in holders[:max(0, len(holders) - self.max_therapists + 1)]:
                roles[v] = old if old != role else None
        roles[sid] = role

    def swap_roles(self, people: tuple[Person, ...] = ()) -> None:
        """Swap who is taken for the therapist and who for the client (one click in the view). Only the
        two change places; any other voice keeps its role."""
        cues = self._last
        if cues is None or cues.therapist is None or cues.client is None:
            return
        therapist, client = cues.therapist.id, cues.client.id
        roles = self._settle()
        self.roles_confirmed = True
        roles[therapist], roles[client] = "client", "therapist"

    def merge(self, sid: str, into: str) -> None:
        """Count voice ``sid`` (and whatever was merged into it) as part of voice ``into``."""
        into = self.target(into)
        if self.target(sid) == into:
            return
        self._settle()
        for v, t in list(self.merged.items()):
            if t == sid:
                self.merged[v] = into
        self.merged[sid] = into
        self.roles.pop(sid, None)

    def separate(self, sid: str) -> None:
        """Undo the merges into voice ``sid``: each merged voice is shown on its own again."""
        sid = self.target(sid)
        for v in [v for v in self.merged if self.target(v) == sid]:
            del self.merged[v]
            self.roles.setdefault(v, None)

    def voices_of(self, sid: str) -> tuple[str, ...]:
        """The voice ids counted as ``sid``'s person (itself and the voices merged into it)."""
        sid = self.target(sid)
        last = self._last
        ids = [p.id for p in last.people] if last else [sid]
        return tuple(v for v in ids if self.target(v) == sid) or (sid,)

    def saved_roles(self) -> dict[str, str]:
        """The roles to keep in session.json, as the cards show them: one entry per person shown with a
        role (never a merged voice, nor a voice in "Other voices")."""
        last = self._last
        return {p.id: p.role for p in (last.cards if last else ()) if p.role and p.id != OTHERS_ID}

    def _interruptions_in_window(self, t: float, total: int) -> int:
        """Interruptions made within the last 5 minutes, from the running total's history."""
        hist = self._int_hist
        if not hist or hist[-1][0] < t:
            hist.append((t, total))
        while len(hist) > 1 and hist[1][0] <= t - WINDOW_S:
            hist.popleft()
        base = hist[0][1] if hist[0][0] <= t - WINDOW_S else 0
        return max(0, total - base)

    def update(self, state: Any) -> Cues:
        s = self.settings
        t = float(getattr(state, "t", 0.0) or 0.0)
        speaking_ids = tuple(getattr(state, "speaking_now", ()) or ())
        speakers = tuple(getattr(state, "speakers", ()) or ())
        talk_time = getattr(state, "talk_time", {}) or {}
        share = getattr(state, "talk_share", {}) or {}
        share_w = getattr(state, "talk_share_window", {}) or {}
        self._note_heard(state)
        self._pipeline_roles = any(sp.role for sp in speakers)
        self._role_by_id = {sp.id: sp.role for sp in speakers}
        rel = {name: getattr(state, name, {}) or {} for name in (
            "wpm_rel", "pitch_median_rel_st", "pitch_variability_rel_st", "loudness_rel_db")}
        people = tuple(
            Person(
                id=sp.id, label=sp.label, role=self.role_of(sp),
                share=float(_get(share, sp.id, 0.0)), share_window=float(_get(share_w, sp.id, 0.0)),
                talk_s=float(_get(talk_time, sp.id, 0.0)),
                interruptions_made=int(_get(getattr(state, "interruptions_made", {}), sp.id)),
                interruptions_received=int(_get(getattr(state, "interruptions_received", {}), sp.id)),
                backchannels=int(_get(getattr(state, "backchannels", {}), sp.id)),
                quick_responses=int(_get(getattr(state, "quick_responses", {}), sp.id)),
                pace=describe_pace(_get(rel["wpm_rel"], sp.id, None), s.pace_band),
                pitch=describe_pitch(_get(rel["pitch_median_rel_st"], sp.id, None), s.pitch_band_st),
                pitch_variability=describe_pitch_variability(
                    _get(rel["pitch_variability_rel_st"], sp.id, None), s.pitch_variability_band_st),
                loudness=describe_loudness(_get(rel["loudness_rel_db"], sp.id, None), s.loudness_band_db),
                speaking=sp.id in speaking_ids,
            )
            for sp in speakers
        )
        labels = {p.id: p for p in people}
        now = tuple(labels[i].label if i in labels else str(i) for i in speaking_ids)
        if not speaking_ids:
            speaking_text = "Quiet"
        elif len(speaking_ids) > 1:
            speaking_text = "Both speaking" if len(speaking_ids) == 2 else "Several speaking"
        else:
            p = labels.get(speaking_ids[0])
            if p is not None and p.role == "therapist":
                speaking_text = "You are speaking"
            elif p is not None and p.role == "client":
                speaking_text = "Client is speaking"
            else:
                speaking_text = f"{p.label if p else 'Someone'} is speaking"

        silence_s, silence_label = self._silence(state, t, people, speaking_ids)
        remaining = self.planned_s - t
        end_cue = bool(s.nudge_end and s.end_cue_minutes > 0 and remaining <= s.end_cue_minutes * 60)
        cues = Cues(
            t=t, clock=mmss(t), planned=f"/ {mmss(self.planned_s)}", remaining_s=remaining,
            end_cue=end_cue, people=people, speaking_now=now, speaking_text=speaking_text,
            silence_s=silence_s, silence_label=silence_label,
            status=str(getattr(state, "status", "") or ""),
            level_dbfs=float(getattr(state, "level_dbfs", -100.0) or -100.0),
            health=self._health(state),
            transcript=tuple(
                (display_name(labels[u.speaker]) if u.speaker in labels else "…", u.text)
                for u in (getattr(state, "transcript_tail", ()) or ())
            ),
        )
        not_heard = getattr(state, "enrolled_heard", None) is False and not self.roles_confirmed
        cues = Cues(**{**cues.__dict__, "cards": self._cards(people),
                       "voice_note": VOICE_NOT_HEARD if not_heard else ""})
        cues = Cues(**{**cues.__dict__, "nudges": self._nudges(cues, t)})
        self._last = cues
        return cues

    # -- cards ---------------------------------------------------------------------------------
    def _cards(self, people: tuple[Person, ...]) -> tuple[Person, ...]:
        """One card per person (merged voices summed), at most one "Client" named so, and the voices
        with little speech that are neither you nor the client in one "Other voices" card."""
        groups: dict[str, list[Person]] = {}
        for p in people:
            groups.setdefault(self.target(p.id), []).append(p)
        order = {sid: i for i, sid in enumerate(self._heard)}
        persons = [_combine(sid, members) for sid, members in groups.items()]
        rank = {"therapist": 0, "client": 1}
        persons.sort(key=lambda p: (rank.get(p.role or "", 2), -p.talk_s, order.get(p.id, 1 << 30), p.id))
        main_client = next((p for p in persons if p.role == "client"), None)
        shown: list[Person] = []
        minor: list[Person] = []
        for p in persons:
            keep = p.role == "therapist" or p is main_client or (
                p.share >= MINOR_SHARE and p.talk_s >= MINOR_TALK_S)
            (shown if keep else minor).append(p)
        while len(shown) + (1 if minor else 0) > MAX_CARDS:
            minor.insert(0, shown.pop())
        clients = 0
        for i, p in enumerate(shown):
            if p.role == "client":
                clients += 1
                if clients > 1:
                    shown[i] = _with(p, name=f"Client {clients}")
        if minor:
            group = _combine(OTHERS_ID, minor)
            shown.append(_with(group, id=OTHERS_ID, role=None, label=OTHERS_LABEL, name=OTHERS_LABEL))
        return tuple(shown)

    # -- pieces --------------------------------------------------------------------------------
    @staticmethod
    def _silence(state: Any, t: float, people: tuple[Person, ...], speaking: tuple[str, ...]
                 ) -> tuple[float | None, str]:
        """The pause timer: seconds since the client last stopped speaking, while nobody speaks."""
        if speaking:
            return None, "Pause"
        turns = tuple(getattr(state, "recent_turns", ()) or ())
        client_ids = {p.id for p in people if p.role == "client"}
        last_end = max((tr.end for tr in turns), default=None)
        client_end = max((tr.end for tr in turns if tr.speaker in client_ids), default=None)
        if client_end is not None and last_end is not None and client_end >= last_end - 1e-6:
            return max(0.0, t - client_end), "Pause after client"
        silence = getattr(state, "silence_s", None)
        if silence is None:
            return (max(0.0, t - last_end), "Pause") if last_end is not None else (None, "Pause")
        return max(0.0, float(silence)), "Pause"

    @staticmethod
    def _health(state: Any) -> str:
        parts = []
        overflows = int(getattr(state, "overflows", 0) or 0)
        dropped = int(getattr(state, "asr_dropped", 0) or 0)
        if overflows:
            parts.append(f"audio gaps {overflows}")
        if dropped:
            parts.append(f"transcript skipped {dropped}")
        return " · ".join(parts)

    def _nudges(self, cues: Cues, t: float) -> tuple[Nudge, ...]:
        s = self.settings
        out: list[Nudge] = []
        th = cues.therapist
        if s.nudges and th is not None and cues.client is not None:
            window_speech = min(t, WINDOW_S)
            if window_speech >= MIN_WINDOW_SPEECH_S and th.share_window >= s.nudge_talk_share:
                out.append(Nudge(
                    "talk_share",
                    f"You have spoken {round(100 * th.share_window)} % of the last 5 minutes",
                    "Active listening: room for the client to fully express themselves "
                    "helps them feel heard and understood."))
            n = self._interruptions_in_window(t, th.interruptions_made)
            if n >= s.nudge_interruptions:
                out.append(Nudge(
                    "interruptions", f"{n} interruptions in the last 5 minutes",
                    "Listening attentively, without judgment or interruption, lets clients fully "
                    "express themselves."))
        if cues.end_cue:
            left = max(0, round(cues.remaining_s / 60))
            text = f"About {left} min left" if cues.remaining_s > 0 else "Planned time reached"
            out.append(Nudge(
                "end", text,
                "The importance of boundaries: keeping to the agreed session length builds trust."))
        return tuple(out)
