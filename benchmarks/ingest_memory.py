"""What a cold ingest's peak memory is made of, per process: PSS, private and shared pages.

    .venv/bin/python -m benchmarks.ingest_memory --feeds 3000      # cold, 3,000 feeds x 20 entries
    .venv/bin/python -m benchmarks.ingest_memory --feeds 3000 --keep /tmp/mem --trace 2

Runs `guanxi ingest` cold against the benchmark's loopback server (as benchmarks.run does) and
samples /proc/PID/smaps_rollup of the storing process and of each fetching process every 50 ms.
Prints, for the sample where the summed PSS peaked, each process's PSS, private (clean + dirty)
and shared RSS, then each process's own peaks; `--trace S` also prints the samples every S
seconds (to see what grows: the storing process between and during its write windows, the
workers over the run). Nothing here asserts a size.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.run import VENV_BIN, _tree, children_cpu, start_server, write_config

FIELDS = ("Pss", "Rss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty")


def rollup(pid: int) -> dict[str, int] | None:
    """The process's smaps_rollup figures of FIELDS, in kB (None once it has gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            out[name] = int(rest.split()[0])
    return out or None


def sample(root: int) -> dict[int, dict[str, int]]:
    """Every process of the run (the storing process first) with its figures."""
    out = {}
    for pid in _tree(root):
        figures = rollup(pid)
        if figures is not None:
            out[pid] = figures
    return out


def mb(kb: int) -> str:
    return f"{kb / 1024:7.0f}"


def row(name: str, f: dict[str, int]) -> str:
    private = f.get("Private_Clean", 0) + f.get("Private_Dirty", 0)
    shared = f.get("Shared_Clean", 0) + f.get("Shared_Dirty", 0)
    return f"{name:<12} {mb(f['Pss'])} {mb(private)} {mb(shared)} {mb(f['Rss'])}"


HEADER = f"{'process':<12} {'PSS':>7} {'private':>7} {'shared':>7} {'RSS':>7}   (MB)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=3000)
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--keep", type=Path, metavar="DIR", help="build the store in DIR and leave it there")
    ap.add_argument("--trace", type=float, metavar="S", help="also print the samples every S seconds")
    args = ap.parse_args(argv)
    import subprocess

    server, base = start_server(args.entries, args.feeds)
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        with contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory() as tmp:
            cfg = write_config(Path(tmp), base, args.feeds)
            samples: list[tuple[float, dict[int, dict[str, int]]]] = []
            start = time.perf_counter()
            p = subprocess.Popen([str(VENV_BIN / "guanxi"), "--config", str(cfg), "ingest"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

            def watch() -> None:
                while p.poll() is None:
                    samples.append((time.perf_counter() - start, sample(p.pid)))
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            out, err = p.communicate()
            wall = time.perf_counter() - start
            cpu = children_cpu()
            watcher.join()
            if p.returncode != 0:
                raise SystemExit(f"ingest_memory: guanxi ingest failed: {err.strip()[-500:]}")
    finally:
        server.terminate()
        server.wait(10)

    root = p.pid

    def name(pid: int) -> str:
        return "storing" if pid == root else f"worker {pid}"

    print(f"cold ingest, {args.feeds} feeds x {args.entries}: {wall:.1f} s wall, {cpu:.1f} CPU-s in its "
          f"processes; {out.strip()}")
    at, peak = max(samples, key=lambda s: sum(f["Pss"] for f in s[1].values()))
    print(f"\nat the summed PSS peak ({at:.1f} s into the run):\n{HEADER}")
    for pid, f in peak.items():
        print(row(name(pid), f))
    print(f"{'sum':<12} {mb(sum(f['Pss'] for f in peak.values()))}")
    print(f"\neach process's own peak (PSS; at that sample):\n{HEADER}")
    for pid in sorted({pid for _, s in samples for pid in s}, key=lambda pid: pid != root):
        when, f = max(((t, s[pid]) for t, s in samples if pid in s), key=lambda x: x[1]["Pss"])
        print(row(name(pid), f) + f"   at {when:.1f} s")
    if args.trace:
        print(f"\nsamples every {args.trace:g} s (PSS / private MB per process, storing first):")
        due = 0.0
        for t, s in samples:
            if t >= due:
                print(f"{t:6.1f} s  sum {sum(f['Pss'] for f in s.values()) / 1024:5.0f}  " + "  ".join(
                    f"{f['Pss'] / 1024:.0f}/{(f['Private_Clean'] + f['Private_Dirty']) / 1024:.0f}"
                    for f in s.values()))
                due = t + args.trace
    return 0


if __name__ == "__main__":
    sys.exit(main())
