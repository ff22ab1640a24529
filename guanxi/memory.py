"""Handing freed heap memory back to the system, where the C library can (glibc's malloc_trim).

After a large structure is freed (a stored wave's texts, the dictionary parts' bytes once read)
glibc keeps the pages for reuse; a long-running process, or one whose pages forked workers
share, then holds them throughout. Elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import functools


def trim_heap() -> None:
    """Return the C heap's free pages to the system (glibc only; otherwise nothing)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _libc():
    """glibc, for malloc_trim (None elsewhere)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None
