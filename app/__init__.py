"""Attune's application layer: CLI, settings, session store, workers bridging to Qt."""

from analysis import __version__

__all__ = ["__version__"]
