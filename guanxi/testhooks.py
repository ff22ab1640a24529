"""Test-only: `GUANXI_TEST_PAUSE_AT=<point>` makes the process announce and sleep at that point,
so a crash test can SIGKILL it exactly there. Unset (always, outside tests) it does nothing."""

from __future__ import annotations

import os
import sys
import time


def pause_point(name: str) -> None:
    """Sleep for a long time at a named point if the test environment asks for it."""
    if os.environ.get("GUANXI_TEST_PAUSE_AT") == name:
        print(f"test-pause: {name}", file=sys.stderr, flush=True)
        time.sleep(600)
