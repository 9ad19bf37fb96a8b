"""Audio input for Attune: decoding, sources and recording. Never imports Qt.

``SAMPLE_RATE`` is the session sample clock, defined here once: every stage (decoding, capture,
recording, VAD, diarization, transcription, tone) works on mono float32 at this rate, and every module
imports it from here (``tests/test_quality.py`` checks that no other module defines it).
"""

SAMPLE_RATE = 16_000  # Hz
