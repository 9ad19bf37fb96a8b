"""Returning freed C-heap memory to the system (long live sessions)."""

from __future__ import annotations


def trim_heap() -> bool:
    """Hand the C heap's free memory back to the system (glibc ``malloc_trim``); False elsewhere.

    The recogniser, the diarizer and numpy allocate and free tens of MB per call on several threads;
    glibc keeps freed memory in per-thread arenas, so a long session's resident size wanders by
    ~50 MB without growing. Trimming now and then keeps it near what is really in use.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if not _MALLOC_TRIM:
        return False
    _MALLOC_TRIM(0)
    return True


_MALLOC_TRIM = None
