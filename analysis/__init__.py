"""Attune's analysis core: pure Python, never imports Qt.

Importing this package switches every model library to offline mode before any of them is imported:
no model downloads, no telemetry.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["PYANNOTE_METRICS_ENABLED"] = "0"

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("attune")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
