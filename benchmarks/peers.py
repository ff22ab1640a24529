"""The readers people would pick instead, on Guanxi's own benchmark harness: newsboat (and guanxi).

    .venv/bin/python -m benchmarks.peers                 # 1,000 feeds x 20 entries
    .venv/bin/python -m benchmarks.peers --feeds 200 --skip-guanxi

Both readers fetch the same generated feeds from the same loopback server process (ETag,
Last-Modified, gzip), cold (empty cache or store) and then warm (nothing changed), in one run, so
the ratios in the README compare like with like. newsboat comes from Debian
(`apt-get install newsboat`); it is not a dependency of Guanxi and nothing here is a test.
Prints one table: wall time, requests and 304 answers seen by the server, for each reader and pass.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import machine, print_table, start_server, stats, timed_cli, write_config

NEWSBOAT_THREADS = 8


def _delta(before: dict, after: dict) -> tuple[int, int]:
    return after["requests"] - before["requests"], after["not_modified"] - before["not_modified"]


def bench_newsboat(folder: Path, base: str, feeds: int) -> list[tuple[str, str]]:
    """newsboat -x reload, cold then warm, with its reload threads and its own cache file."""
    exe = shutil.which("newsboat")
    if exe is None:
        return [("newsboat", "not installed (apt-get install newsboat)")]
    urls = folder / "urls"
    urls.write_text("".join(f"{base}/feed/{i}\n" for i in range(feeds)), encoding="utf-8")
    config = folder / "newsboat.conf"
    config.write_text(f"reload-threads {NEWSBOAT_THREADS}\nshow-read-feeds yes\n", encoding="utf-8")
    cache = folder / "newsboat-cache.db"
    rows = []
    for label in ("cold", "warm"):
        before = stats(base)
        start = time.perf_counter()
        run = subprocess.run([exe, "-u", str(urls), "-C", str(config), "-c", str(cache), "-x", "reload"],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
        elapsed = time.perf_counter() - start
        if run.returncode != 0:
            return rows + [(f"newsboat {label}", f"failed: {run.stderr.strip()[-200:]}")]
        requests, not_modified = _delta(before, stats(base))
        rows.append((f"newsboat {label}", f"{elapsed:.2f} s ({requests} requests, {not_modified} 304)"))
    return rows


def bench_guanxi(folder: Path, base: str, feeds: int) -> list[tuple[str, str]]:
    """guanxi ingest, cold then warm, against the same server."""
    cfg = write_config(folder, base, feeds)
    rows = []
    for label in ("cold", "warm"):
        before = stats(base)
        elapsed, _ = timed_cli(cfg, "ingest")
        requests, not_modified = _delta(before, stats(base))
        rows.append((f"guanxi ingest {label}", f"{elapsed:.2f} s ({requests} requests, {not_modified} 304)"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--skip-guanxi", action="store_true")
    args = ap.parse_args(argv)
    server, base = start_server(args.entries)
    try:
        rows = [("machine", machine()), ("feeds x entries", f"{args.feeds} x {args.entries}")]
        with tempfile.TemporaryDirectory(prefix="guanxi-peers-") as tmp:
            (Path(tmp) / "newsboat").mkdir()
            rows += bench_newsboat(Path(tmp) / "newsboat", base, args.feeds)
            if not args.skip_guanxi:
                (Path(tmp) / "guanxi").mkdir()
                rows += bench_guanxi(Path(tmp) / "guanxi", base, args.feeds)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return print_table(rows)


if __name__ == "__main__":
    sys.exit(main())
