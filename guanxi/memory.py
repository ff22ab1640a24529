"""Handing freed heap memory back to the system, where the C library can (glibc's malloc_trim),
and pausing Python's cyclic garbage collector around work that makes many objects at once.

After a large structure is freed (a stored wave's texts, the dictionary parts' bytes once read)
glibc keeps the pages for reuse; a long-running process, or one whose pages forked workers
share, then holds them throughout. Elsewhere (musl, macOS) trim_heap does nothing.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection for the block. A block that makes many objects that live on
    (the tagger's dictionary; a stored wave's records and rows) otherwise sets off collections
    that each scan everything made so far, and find nothing to free: the objects are freed by
    their reference counts, or live on. The first collection after the block catches up."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
