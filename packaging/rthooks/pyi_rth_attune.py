# Runtime hook of the Attune bundle (build.spec), run before the entry point.
import os
import warnings

# No model downloads or telemetry from the bundle, whatever is imported first (analysis/__init__.py
# sets the same; this also covers imports that happen before it).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
# torchcodec is left out of the bundle on purpose (its libraries are CUDA builds that need the system's
# FFmpeg): Attune decodes audio itself (PyAV) and hands pyannote in-memory waveforms, so pyannote's
# warning that its own file decoding is unavailable is expected here, not a fault.
warnings.filterwarnings("ignore", message=r"\s*torchcodec is not installed correctly")
