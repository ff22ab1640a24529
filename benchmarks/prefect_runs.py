"""What Prefect adds to an ingest: `guanxi ingest`, the `ingest` flow with a running Prefect
server, and the `ingest` flow with Prefect's temporary server, cold then warm, on one loopback server.

    .venv/bin/python -m benchmarks.prefect_runs                # 1,000 feeds x 20 entries
    .venv/bin/python -m benchmarks.prefect_runs --feeds 100    # quicker

Each run is a fresh process on its own empty store (cold), then again with nothing changed (warm).
Wall time, and CPU time of the run's process tree (its fetch workers and Prefect's temporary
server included) and, with a running server, that server's CPU during the run. The running
server is `prefect server start` on a free loopback port with its own PREFECT_HOME, started once
before the timed runs, as a user keeps one running. Prints one table; nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.run import VENV_BIN, _tree, children_cpu, machine, print_table, start_server, stats, write_config

FLOW = "import sys; from flows.pipeline import ingest; print(ingest(config_path=sys.argv[1])['summary'])"


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a live process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(wall s, CPU s of the process and every process it reaped, last line of its stdout)."""
    cpu_before, start = children_cpu(), time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:3])} failed: {p.stderr.strip().splitlines()[-1:]}")
    # RUSAGE_CHILDREN grows by exactly this child's tree once it has been waited for.
    return elapsed, children_cpu() - cpu_before, (p.stdout.strip().splitlines() or [""])[-1]


def _start_prefect_server(home: Path, env: dict) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server_env = {**env, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                  "PREFECT_UI_ENABLED": "false"}
    p = subprocess.Popen([str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                          "--port", str(port)], env=server_env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return p, url
        except OSError:
            time.sleep(0.3)
    p.terminate()
    raise SystemExit("bench: prefect server did not answer /api/health within 120 s")


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a live process and its live descendants."""
    total = 0.0
    for p in _tree(pid):
        try:
            total += _cpu_s(p)
        except OSError:
            pass
    return total


def bench(feeds: int, entries: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    bench_server, base = start_server(entries, feeds)
    try:
        with tempfile.TemporaryDirectory(prefix="guanxi-prefect-bench-") as tmp:
            root = Path(tmp)
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
            env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
            env["GUANXI_CACHE_DIR"] = str(root / "cache")
            prefect_server, api = _start_prefect_server(root / "prefect-home", env)
            try:
                modes = [
                    ("guanxi ingest (no Prefect)", "cli", {}),
                    ("ingest flow, running server", "flow", {"PREFECT_API_URL": api}),
                    ("ingest flow, temporary server", "flow", {"PREFECT_HOME": str(root / "tmp-home")}),
                ]
                for label, kind, extra in modes:
                    folder = root / kind / str(len(rows))
                    folder.mkdir(parents=True)
                    cfg = write_config(folder, base, feeds)
                    cmd = ([str(VENV_BIN / "guanxi"), "--config", str(cfg), "ingest"] if kind == "cli"
                           else [sys.executable, "-c", FLOW, str(cfg)])
                    for phase in ("cold", "warm"):
                        before, server_cpu = stats(base), _tree_cpu(prefect_server.pid)
                        wall, cpu, line = _run(cmd, {**env, **extra})
                        server_cpu = _tree_cpu(prefect_server.pid) - server_cpu
                        after = stats(base)
                        extra_cpu = f", server {server_cpu:.1f} s" if "PREFECT_API_URL" in extra else ""
                        rows.append((f"{label}, {phase}",
                                     f"{wall:.2f} s wall, {cpu:.1f} s CPU{extra_cpu}; "
                                     f"{after['requests'] - before['requests']} requests, "
                                     f"{after['not_modified'] - before['not_modified']} 304"))
                        rows.append((f"  summary, {phase}", line[:90]))
            finally:
                prefect_server.terminate()
                prefect_server.wait(30)
    finally:
        bench_server.terminate()
        bench_server.wait(10)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=20)
    args = ap.parse_args(argv)
    rows = [("machine", machine()), ("feeds x entries", f"{args.feeds} x {args.entries}")]
    return print_table(rows + bench(args.feeds, args.entries))


if __name__ == "__main__":
    sys.exit(main())
