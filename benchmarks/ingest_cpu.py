"""Where a cold ingest spends its CPU, per stage, in the storing process and in the workers.

    .venv/bin/python -m benchmarks.ingest_cpu                 # 1,000 feeds x 20 entries, cold
    .venv/bin/python -m benchmarks.ingest_cpu --feeds 200 --profile 25 --keep /tmp/prof
    .venv/bin/python -m benchmarks.ingest_cpu --warm 5    # then 5 re-checks: CPU per stage, server's CPU

Runs `guanxi ingest`'s pipeline in this process against the benchmark's loopback server and
counts the CPU time (time.process_time: every thread of the process) spent inside each stage's
function, in the storing process and summed over the fetching processes. The counters cost
little (they wrap per-feed and per-wave calls, and per-post only for HTML to text and
tagging), so the figures are close to an unmeasured run's; `--profile N` adds cProfile (which
slows small calls several-fold) and prints the top N functions by own time of each kind of
process. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

# (label, process kind, module, function): the CPU spent inside that function, in that process.
STAGES = [
    ("worker: whole process", "worker", None, None),
    ("worker:     parse feed bytes", "worker", "connectors.feed", "parse_feed"),
    ("worker:       HTML to text", "worker", "connectors.feed", "html_to_text"),
    ("worker:   tag a batch", "worker", "connectors.sources", "tag"),
    ("main: whole ingest", "main", "guanxi.ingest", "ingest"),
    ("main:   plan (roster sync, due sources)", "main", "guanxi.ingest", "plan_ingest"),
    ("main:   load the tagger (shared by the workers)", "main", "connectors.sources", "batch_tagger"),
    ("main:   store a wave", "main", "guanxi.ingest", "store_batches"),
    ("main:     open the store", "main", "guanxi.store", "connect"),
    ("main:     identity (records_for)", "main", "guanxi.ingest", "records_for"),
    ("main:     fetch outcomes", "main", "guanxi.ingest", "record_fetches"),
    ("main:     save posts", "main", "guanxi.ingest", "save_posts"),
    ("main:       Arrow tables", "main", "guanxi.store", "arrow_table"),
    ("main:       insert", "main", "guanxi.store", "bulk_insert"),
    ("main:     retention", "main", "guanxi.ingest", "prune_expired"),
    ("main:   snapshot", "main", "guanxi.ingest", "snapshot_after_ingest"),
]


def _counted(fn, totals: dict, key: str):
    """fn, adding the CPU time spent inside it (outermost calls only) to totals[key]."""
    depth = [0]

    def wrapper(*args, **kwargs):
        depth[0] += 1
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            depth[0] -= 1
            if not depth[0]:
                totals[key] += time.process_time() - start
    return wrapper


def measure_ingest(folder: Path, feeds: int, entries: int, *, profile: bool = False, warm: int = 0) -> dict:
    """Run a cold ingest with the stage counters on; {"main": {...}, "workers": [{...}], "wall": s},
    and with `warm`, that many re-checks after it ("warm": [{...}], see measure_warm)."""
    import connectors.sources as sources
    from benchmarks.run import start_server, write_config
    from guanxi.config import load_config

    totals: dict[str, float] = defaultdict(float)
    patched = []
    for _, _, module, name in STAGES:
        if module and name != "tag":
            mod = importlib.import_module(module)
            patched.append((mod, name, getattr(mod, name)))
            setattr(mod, name, _counted(getattr(mod, name), totals, f"{module}.{name}"))
    out_dir = folder / "cpu"
    out_dir.mkdir(parents=True, exist_ok=True)
    inner = patched_process = sources._fetch_process

    def counted_process(tasks, taken, limits, tag, *rest):  # rest: the queue, its turn, its share
        totals.clear()
        prof = cProfile.Profile() if profile else None
        start = time.process_time()
        try:
            args = (tasks, taken, limits, _counted(tag, totals, "connectors.sources.tag"), *rest)
            prof.runcall(inner, *args) if prof else inner(*args)
        finally:
            totals["whole"] = time.process_time() - start
            (out_dir / f"worker-{os.getpid()}.json").write_text(json.dumps(totals))
            if prof:
                prof.dump_stats(out_dir / f"worker-{os.getpid()}.prof")

    sources._fetch_process = counted_process
    server, base = start_server(entries, feeds)
    try:
        import guanxi.ingest

        config = load_config(str(write_config(folder, base, feeds)))
        prof = cProfile.Profile() if profile else None
        start = time.perf_counter()
        run = guanxi.ingest.ingest
        prof.runcall(run, config, say=lambda m: None) if prof else run(config, say=lambda m: None)
        wall = time.perf_counter() - start
        rechecks = [measure_warm(folder / "guanxi.toml", server.pid) for _ in range(warm)]
    finally:
        sources._fetch_process = patched_process
        for mod, name, fn in patched:
            setattr(mod, name, fn)
        server.terminate()
        server.wait(10)
    if prof:
        prof.dump_stats(out_dir / "main.prof")
    workers = [json.loads(p.read_text()) for p in sorted(out_dir.glob("worker-*.json"))]
    return {"main": dict(totals), "workers": workers, "wall": wall, "warm": rechecks,
            "profiles": {"main": [out_dir / "main.prof"], "worker": sorted(out_dir.glob("worker-*.prof"))}}


# A re-check as `guanxi ingest` runs it, in a new process, with the CPU at each stage's end.
WARM_CHILD = """
import json, sys, time
marks = {}
def mark(name):
    marks[name] = time.process_time()
mark("start")
import guanxi.cli, guanxi.runlock
from guanxi import ingest
from guanxi.config import load_config
mark("imports")
config = load_config(sys.argv[1])
with guanxi.runlock.run_lock(config.store_path, what="ingest"):
    plan = ingest.plan_ingest(config, say=lambda m: None)
    mark("plan")
    batches = dict(ingest.fetched(plan.tasks, config.ingest))
    mark("fetch")
    summary = ingest.store_batches(config, plan, batches, say=lambda m: None)
    mark("store")
print(json.dumps({"marks": marks, "line": summary.line()}))
"""
WARM_STAGES = [("imports", "start", "imports"), ("plan (config, roster sync, due sources)", "imports", "plan"),
               ("fetch (all 304s expected)", "plan", "fetch"), ("store the fetch outcomes", "fetch", "store")]


def measure_warm(cfg: Path, server_pid: int) -> dict:
    """One re-check of every source in a new process: its CPU per stage, its whole CPU (start-up
    included), its wall time, and the CPU the loopback server spent answering it."""
    from benchmarks.run import children_cpu

    server_before, cpu, start = _process_cpu(server_pid), children_cpu(), time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WARM_CHILD, str(cfg)], capture_output=True, text=True, check=True)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    found = json.loads(out.stdout.strip().splitlines()[-1])
    marks = found["marks"]
    return {"wall": wall, "cpu": cpu, "server": _process_cpu(server_pid) - server_before, "line": found["line"],
            **{label: marks[end] - marks[begin] for label, begin, end in WARM_STAGES}}


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warm_rows(runs: list[dict]) -> list[tuple[str, str]]:
    """The re-checks' figures: the one with the least CPU, and the spread of all."""
    if not runs:
        return []
    best = min(runs, key=lambda r: r["cpu"])
    walls = sorted(r["wall"] for r in runs)
    rows = [(f"re-check, {len(runs)} runs (new process each)", best["line"]),
            ("  wall, best / worst", f"{walls[0]:.2f} s / {walls[-1]:.2f} s"),
            ("  CPU, whole process (least of the runs)", f"{best['cpu']:.2f} CPU-s")]
    rows += [(f"    {label}", f"{best[label]:.3f} CPU-s") for label, _, _ in WARM_STAGES]
    return rows + [("  loopback server's CPU for that run", f"{best['server']:.3f} CPU-s")]


def stage_rows(result: dict) -> list[tuple[str, str]]:
    rows = [("wall, cold ingest (in this process)", f"{result['wall']:.2f} s"),
            ("worker processes", str(len(result["workers"])))]
    for label, kind, module, name in STAGES:
        key = f"{module}.{name}" if module else "whole"
        if kind == "main":
            rows.append((label, f"{result['main'].get(key, 0.0):.2f} CPU-s"))
        else:
            rows.append((label, f"{sum(w.get(key, 0.0) for w in result['workers']):.2f} CPU-s"))
    return rows


def main(argv: list[str] | None = None) -> int:
    from benchmarks.run import print_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also cProfile, and list the top N functions by own time per process kind")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="leave the store (and profiles) in DIR")
    ap.add_argument("--warm", type=int, default=0, metavar="N",
                    help="after the cold ingest, re-check every source N times, each in a new process")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="guanxi-cpu-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        result = measure_ingest(folder, args.feeds, args.entries, profile=bool(args.profile), warm=args.warm)
        print_table([("feeds x entries", f"{args.feeds} x {args.entries}")] + stage_rows(result)
                    + warm_rows(result["warm"]))
        for kind, paths in result["profiles"].items() if args.profile else ():
            stats = pstats.Stats(*map(str, paths))
            print(f"\n{kind}: top {args.profile} functions by own time")
            stats.sort_stats("tottime").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
