"""The peer-reader benchmark runs on the shared harness and counts requests right (no timing asserted)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_peer_benchmark_runs_guanxi_and_newsboat_on_one_server():
    p = subprocess.run([sys.executable, "-m", "benchmarks.peers", "--feeds", "6", "--entries", "3"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    out = p.stdout
    assert re.search(r"guanxi ingest cold\s+[\d.]+ s \(6 requests, 0 304\)", out), out
    assert re.search(r"guanxi ingest warm\s+[\d.]+ s \(6 requests, 6 304\)", out), out
    if shutil.which("newsboat"):
        assert re.search(r"newsboat cold\s+[\d.]+ s \(6 requests, 0 304\)", out), out
    else:
        assert "newsboat" in out and "not installed" in out
