"""Guanxi's benchmark: ingest cold and warm over loopback, tagging, digest, queries at scale.

    make bench                              # 1,000 feeds x 20 entries (the README's figures)
    .venv/bin/python -m benchmarks.run --feeds 10000 --ingest-only   # does it grow linearly?
    .venv/bin/python -m benchmarks.run --smoke   # tiny, for CI: checks it runs and counts are right
    .venv/bin/python -m benchmarks.run --keep /tmp/bench     # leaves the ingested store there
    .venv/bin/python -m benchmarks.run --digest-only /tmp/bench   # times only the digest, on it

Prints one table. Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {cpu}, {mem:.0f} GiB, Python {platform.python_version()}"


def start_server(entries: int, feeds: int = 0) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen([sys.executable, "-m", "benchmarks.server", "--entries", str(entries),
                          "--feeds", str(feeds)],
                         stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    port = int(p.stdout.readline())
    return p, f"http://127.0.0.1:{port}"


def stats(base: str) -> dict:
    with urllib.request.urlopen(base + "/__stats", timeout=10) as r:
        return json.loads(r.read())


def write_config(folder: Path, base: str, feeds: int) -> Path:
    people = "".join(f'[[people]]\nname = "Colleague {i:05d}"\nfeeds = ["{base}/feed/{i}"]\n\n'
                     for i in range(feeds))
    (folder / "people.toml").write_text(people, encoding="utf-8")
    cfg = folder / "guanxi.toml"
    cfg.write_text('roster = "people.toml"\n[store]\npath = "bench.duckdb"\n'
                   '[digest]\ntimezone = "UTC"\nout_dir = "digests"\nmax_items = 10\n'
                   '[ingest]\nconcurrency = 64\nper_host = 64\n', encoding="utf-8")
    return cfg


def timed_cli(cfg: Path, *args: str, memory: dict | None = None) -> tuple[float, str]:
    """Run `guanxi --config cfg ARGS`; with `memory`, record the peak of its processes' summed
    PSS (the main process and its fetch workers; shared pages counted once) as memory["peak_mb"]."""
    start = time.perf_counter()
    p = subprocess.Popen([str(VENV_BIN / "guanxi"), "--config", str(cfg), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = None
    if memory is not None:
        sampler = threading.Thread(target=_sample_memory, args=(p, memory), daemon=True)
        sampler.start()
    out, err = p.communicate()
    elapsed = time.perf_counter() - start
    if sampler:
        sampler.join()
    if p.returncode != 0:
        raise SystemExit(f"bench: guanxi {' '.join(args)} failed: {err.strip()[-500:]}")
    return elapsed, out


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process waited for so far, and theirs."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _sample_memory(p: subprocess.Popen, memory: dict) -> None:
    memory["peak_mb"] = 0.0
    while p.poll() is None:
        memory["peak_mb"] = max(memory["peak_mb"], sum(_pss_kb(pid) for pid in _tree(p.pid)) / 1024)
        time.sleep(0.05)


def _tree(pid: int) -> list[int]:
    """A process and its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def bench_ingest(folder: Path, feeds: int, entries: int) -> list[tuple[str, str]]:
    server, base = start_server(entries, feeds)
    try:
        cfg = write_config(folder, base, feeds)
        memory: dict = {}
        cold_s, cold_out = timed_cli(cfg, "ingest", memory=memory)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        after_cold = stats(base)
        warm_s, warm_out = timed_cli(cfg, "ingest")
        after_warm = stats(base)
    finally:
        server.terminate()
        server.wait(10)
    _, count = timed_cli(cfg, "sql", "SELECT count(*) AS n FROM posts", "--format", "json")
    stored = json.loads(count)[0]["n"]
    if stored != feeds * entries:
        raise SystemExit(f"bench: stored {stored} posts, expected {feeds * entries}")
    warm_requests = after_warm["requests"] - after_cold["requests"]
    warm_304 = after_warm["not_modified"] - after_cold["not_modified"]
    return [
        (f"ingest cold, {feeds} feeds x {entries}", f"{cold_s:.2f} s ({feeds * entries / cold_s:,.0f} posts/s, "
                                                    f"{cold_s / feeds * 1000:.2f} s per 1,000 feeds)"),
        ("  peak memory, all ingest processes (PSS)", f"{memory['peak_mb']:.0f} MB"),
        ("  peak memory, largest process (max RSS)", f"{peak_mb:.0f} MB"),
        ("  requests seen by server", f"{after_cold['requests']}"),
        ("  summary line, cold", cold_out.splitlines()[0] if cold_out else ""),
        ("  posts stored", f"{stored:,} (expected {feeds * entries:,})"),
        ("ingest warm (nothing changed)", f"{warm_s:.2f} s"),
        ("  requests / 304 answers", f"{warm_requests} / {warm_304}"),
        ("  summary line, warm", warm_out.splitlines()[0] if warm_out else ""),
    ], cfg


def bench_digest(cfg: Path) -> list[tuple[str, str]]:
    from guanxi.config import load_config
    from reports.publish import publish_digest

    config = load_config(str(cfg))
    n_people = len(config.people)
    now = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
    times, cpu = [], []
    for _ in range(4):  # the first call also pays for imports and template compilation
        start, start_cpu = time.perf_counter(), time.process_time()
        res = publish_digest(config, now=now)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return [(f"digest build + render + write, {n_people} people",
             f"{min(times[1:]) * 1000:.0f} ms (best of 3, CPU {min(cpu[1:]) * 1000:.0f} ms; "
             f"{times[0] * 1000:.0f} ms on first call; {len(res.digest.starters)} starters)")]


def bench_queries(folder: Path, posts: int) -> list[tuple[str, str]]:
    """Build a store with `posts` synthetic posts in SQL, then time the digest's queries."""
    from guanxi import store
    from reports.digest import build_digest

    path = folder / "big.duckdb"
    people = max(1, posts // 1000)
    with store.write_window(path) as con:
        con.execute(f"INSERT INTO people (name) SELECT 'P' || i FROM range({people}) t(i)")
        con.execute("INSERT INTO sources (person_id, kind, spec, url) SELECT person_id, 'feed', 'u' || person_id, "
                    "'https://x/' || person_id FROM people")
        con.execute(f"""INSERT INTO posts (post_id, person_id, source_id, url, title, text, published_at, lang)
            SELECT 'p' || i, 1 + (i % {people}), 1 + (i % {people}), 'https://x/p/' || i, 'Post ' || i,
                   repeat('word ', 60), TIMESTAMPTZ '2026-11-22 09:00:00+00' - to_minutes(i * 2), 'en'
            FROM range({posts}) t(i)""")
        con.execute("INSERT INTO post_topics SELECT post_id, 'work', ['team'] FROM posts WHERE hash(post_id) % 3 = 0")
        con.execute("INSERT INTO post_signals SELECT post_id, 'congratulate', ['promoted'] FROM posts WHERE hash(post_id) % 50 = 0")
    with store.reader(path) as con:
        start = time.perf_counter()
        d = build_digest(con, day=datetime(2026, 11, 22).date(), tz_name="UTC",
                         now=datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc))
        elapsed = time.perf_counter() - start
    return [(f"digest queries, {posts:,} posts", f"{elapsed * 1000:.0f} ms ({len(d.starters)} starters)")]


def bench_tagging(n: int) -> list[tuple[str, str]]:
    from benchmarks.feeds import parsed_posts
    from transforms.tagging import load_taxonomy, read_dictionary, tag_post

    texts = parsed_posts(n)
    tax = load_taxonomy()
    tag_post(*texts[0], taxonomy=tax)  # warm-up: dictionaries and segmenter load once
    read_dictionary()  # all of it (from the disk cache it is otherwise read as posts need it)
    start = time.process_time()
    for title, text in texts:
        tag_post(title, text, taxonomy=tax)
    cpu = time.process_time() - start
    rows = [(f"tagging, {len(texts):,} feed entries of 0.5-3 KB (one core, CPU time)",
             f"{len(texts) / cpu:,.0f} posts/s")]
    return rows + bench_tag_cli(limit=n if n < 1000 else None) + bench_tag_startup(5 if n >= 1000 else 1)


def bench_tag_cli(limit: int | None = None) -> list[tuple[str, str]]:
    """`guanxi tag` (the contract's command, start-up included) on the labelled training posts:
    real-shaped social posts, each text distinct, Chinese and English."""
    fixtures = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
    lines = [line for path in sorted(fixtures.glob("train_*_posts.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:limit]
    posts = [json.loads(line) for line in lines]
    stdin = "".join(json.dumps({"id": str(i), "text": p["text"], "title": p.get("title") or ""},
                               ensure_ascii=False) + "\n" for i, p in enumerate(posts))
    cpu, start = children_cpu(), time.perf_counter()
    out = subprocess.run([str(VENV_BIN / "guanxi"), "tag"], input=stdin, capture_output=True,
                         text=True, check=True).stdout
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    if len(out.splitlines()) != len(posts):
        raise SystemExit(f"bench: guanxi tag answered {len(out.splitlines())} lines for {len(posts)} posts")
    chars = sum(len(p["text"]) for p in posts) / len(posts)
    return [(f"guanxi tag, {len(posts):,} labelled posts (~{chars:.0f} chars)",
             f"{len(posts) / cpu:,.0f} posts/s per CPU-s, start-up included ({wall:.2f} s wall)")]


# One short post per language: what `guanxi tag` costs before it has tagged anything much (the
# interpreter, the taxonomy, and for Chinese jieba's dictionary state, all from the disk cache).
STARTUP_POSTS = {"Chinese": "今天团队的项目上线了，大家辛苦了", "English": "Just got promoted to senior engineer!"}


def bench_tag_startup(runs: int = 5) -> list[tuple[str, str]]:
    """`guanxi tag` on one post, CPU of the whole process, best of `runs` fresh processes (after one
    run that fills the disk cache)."""
    rows = []
    for language, text in STARTUP_POSTS.items():
        stdin = json.dumps({"id": "1", "text": text}, ensure_ascii=False) + "\n"
        times = []
        for _ in range(runs + 1):
            cpu = children_cpu()
            subprocess.run([str(VENV_BIN / "guanxi"), "tag"], input=stdin, capture_output=True, text=True, check=True)
            times.append(children_cpu() - cpu)
        rows.append((f"guanxi tag, one {language} post (start-up, CPU, best of {runs})", f"{min(times[1:]):.2f} s"))
    return rows


def bench_help() -> list[tuple[str, str]]:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([str(VENV_BIN / "guanxi"), "--help"], capture_output=True, check=True)
        runs.append(time.perf_counter() - start)
    return [("guanxi --help (best of 5)", f"{min(runs) * 1000:.0f} ms")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--posts", type=int, default=1_000_000, help="store size for the query benchmark")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs, not how fast")
    ap.add_argument("--ingest-only", action="store_true", help="only the ingest rows (e.g. with --feeds 10000)")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="build the stores in DIR (a new folder) and leave them there")
    ap.add_argument("--digest-only", type=Path, metavar="DIR", help="time only the digest, on a --keep store")
    args = ap.parse_args(argv)
    if args.smoke:
        args.feeds, args.entries, args.posts = 12, 5, 20_000
    rows: list[tuple[str, str]] = [("machine", machine()), ("date", f"{datetime.now(timezone.utc):%Y-%m-%d}")]
    if args.digest_only:
        return print_table(rows + bench_digest(args.digest_only / "guanxi.toml"))
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory(prefix="guanxi-bench-") as tmp:
        folder = Path(tmp)
        ingest_rows, cfg = bench_ingest(folder, args.feeds, args.entries)
        rows += ingest_rows
        if not args.ingest_only:
            rows += bench_digest(cfg)
            rows += bench_queries(folder, args.posts)
    if not args.ingest_only:
        rows += bench_tagging(2000 if not args.smoke else 100)
        rows += bench_help()
    return print_table(rows)


def print_table(rows: list[tuple[str, str]]) -> int:
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  result")
    print(f"{'-' * width}  {'-' * 30}")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
