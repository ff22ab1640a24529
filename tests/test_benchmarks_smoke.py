"""Benchmarks are not tests, but CI checks they still run and count right (no timing asserted)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_smoke_runs_and_counts_are_right():
    p = subprocess.run([sys.executable, "-m", "benchmarks.run", "--smoke"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    out = p.stdout
    assert re.search(r"posts stored\s+60 \(expected 60\)", out)
    assert re.search(r"requests seen by server\s+12\b", out)
    assert re.search(r"requests / 304 answers\s+12 / 12", out)  # the re-check is all conditional
    assert "0 new, 0 updated" in out
    for measure in ("ingest cold", "digest build", "digest queries", "tagging", "guanxi --help"):
        assert measure in out
