"""``attune enroll VOICE.wav --name "Dr Lee"``: store the clinician's voiceprint for role labelling.

The sample should be 30-60 s of the clinician alone, speaking naturally. It is diarized first: a
sample with two voices (e.g. a recorded phone call) is refused, a short one is accepted with a warning
(see :func:`analysis.enrollment.check_sample`). Errors are one line on stderr and a non-zero exit code
(2 for unusable input); warnings are one line each on stderr; nothing is printed but the name and
figures.
"""

from __future__ import annotations

import argparse
import sys

EXIT_BAD_INPUT = 2


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("enroll", help="store your voiceprint so analysis can label you as the therapist")
    p.add_argument("voice", metavar="VOICE", help="audio file of your voice alone (30-60 s is best)")
    p.add_argument("--name", default="Therapist", help='name to store it under (e.g. "Dr Lee")')
    from app.unlock import add_passphrase_option

    add_passphrase_option(p)  # the voiceprint is stored encrypted
    p.set_defaults(func=run)


def _error(message: str) -> None:
    print(f"attune enroll: error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"attune enroll: warning: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from analysis.enrollment import EnrollmentError, enroll
    from app import voiceprints
    from audio import SAMPLE_RATE
    from audio.decode import AudioDecodeError, load

    name = (getattr(args, "name", None) or "Therapist").strip()
    if not name:
        _error("--name must not be empty")
        return EXIT_BAD_INPUT
    try:
        audio = load(args.voice)
    except AudioDecodeError as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    except (OSError, ValueError) as exc:
        _error(f"{args.voice}: cannot be read ({exc.__class__.__name__})")
        return EXIT_BAD_INPUT
    if audio.size == 0:
        _error(f"{args.voice}: contains no audio samples")
        return EXIT_BAD_INPUT
    try:
        vector, check = enroll(audio)
    except EnrollmentError as exc:
        _error(f"{args.voice}: {exc}")
        return EXIT_BAD_INPUT
    except RuntimeError as exc:  # missing model files
        _error(str(exc).splitlines()[0] if str(exc) else "the speaker model could not be loaded")
        return 1
    for warning in check.warnings:
        _warn(f"{args.voice}: {warning}")
    from app.unlock import open_store_cli

    try:
        with open_store_cli(getattr(args, "passphrase_file", None)) as store:  # voiceprints are encrypted
            path = voiceprints.save(name, vector, store=store)
    except (OSError, ValueError) as exc:
        _error(f"cannot store the voiceprint: {exc}")
        return 1
    print(f'enrolled "{name}" from {len(audio) / SAMPLE_RATE:.1f} s of audio ({check.speech_s:.1f} s of speech) '
          f'-> {path} (encrypted)')
    return 0
