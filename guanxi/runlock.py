"""One pipeline run at a time per store: an exclusive OS file lock on `<store>.lock`; and one
digest send at a time per store, on `<store>.send.lock` (see send_lock).

A file lock needs no Prefect server and dies with its process (the OS releases it even after
a crash or kill -9), so a stale lock can never wedge the schedule. Re-entrant within one
process, so the `daily` flow can hold it while its `ingest` and `digest` subflows take it too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from guanxi.errors import GuanxiError


class RunLocked(GuanxiError):
    """Another run holds the store's run lock."""


_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth) for this process
_guard = threading.Lock()


def lock_path(store_path: Path) -> Path:
    """The lock file that sits next to the store."""
    return store_path.with_name(store_path.name + ".lock")


@contextlib.contextmanager
def run_lock(store_path: Path, *, what: str = "run") -> Iterator[Path]:
    """Hold the store's run lock for the block; raise RunLocked at once if another process has it."""
    path = lock_path(store_path)
    key = str(path.resolve())
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
        else:
            fd = _take(path, wait_s=0, busy=lambda holder: (
                f"{what}: another Guanxi run holds {path}{holder}; "
                "it will finish on its own, try again afterwards"))
            _held[key] = (fd, 1)
    try:
        yield path
    finally:
        with _guard:
            fd, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                del _held[key]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def send_lock_path(store_path: Path) -> Path:
    """The lock file that serialises digest sends for a store."""
    return store_path.with_name(store_path.name + ".send.lock")


@contextlib.contextmanager
def send_lock(store_path: Path, *, wait_s: float) -> Iterator[Path]:
    """Hold the store's send lock for the block, waiting up to `wait_s` for another send to end.

    Two sends started together (a scheduled run and a hand-typed `digest --send`) must not both
    find the day unsent in the ledger and both deliver: the second waits here for the first,
    then reads the ledger it left. Not re-entrant; a run lock holder may take it.
    """
    fd = _take(send_lock_path(store_path), wait_s=wait_s, busy=lambda holder: (
        f"mail: another send of this digest{holder} is still running after {wait_s:g} s; "
        "nothing sent, try again afterwards"))
    try:
        yield send_lock_path(store_path)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _take(path: Path, *, wait_s: float, busy: Callable[[str], str]) -> int:
    """Open `path` and lock it exclusively, trying for up to `wait_s` seconds, and write this
    process's PID into it; return the open descriptor. If another process keeps it, raise
    RunLocked(busy(" (PID n)"))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunLocked(busy(holder)) from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (PID {pid})" if pid.isdigit() else ""
