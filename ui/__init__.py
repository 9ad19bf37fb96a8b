"""Attune's PySide6 user interface."""
