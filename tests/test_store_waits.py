"""The store never blocks the pipeline for long and loses nothing: run lock, busy store, read-only SQL,
snapshots, search, and Prefect kept off the plain CLI paths. Real processes, files and HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import duckdb
import pytest

from guanxi import store
from guanxi.config import load_config
from guanxi.runlock import RunLocked, lock_path, run_lock
from tests.conftest import run_cli, write_config
from tests.loopback import Reply, static

HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time, duckdb
    target, con, fd = sys.argv[1], None, None
    for line in sys.stdin:
        cmd = line.split()
        if cmd[0] == "hold":            # hold the DuckDB file read-only, like an analyst's shell
            con = duckdb.connect(target, read_only=True)
            print("held", flush=True)
            if len(cmd) > 1:            # release on our own after that many seconds
                time.sleep(float(cmd[1])); con.close(); con = None
                print("released", flush=True)
        elif cmd[0] == "lock":          # hold the run lock, like another pipeline run
            fd = os.open(target, os.O_RDWR | os.O_CREAT)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, str(os.getpid()).encode())
            print("locked", flush=True)
        elif cmd[0] == "release":
            if con is not None:
                con.close(); con = None
            if fd is not None:
                os.close(fd); fd = None
            print("released", flush=True)
""")


class Holder:
    """Another process that holds a file on command (stdin/stdout lines, no sleeps in the test)."""

    def __init__(self, target):
        self.p = subprocess.Popen([sys.executable, "-c", HOLDER, str(target)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def tell(self, cmd: str, expect: str) -> None:
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        assert self.p.stdout.readline().strip() == expect

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait(timeout=30)


def rss(n: int) -> str:
    items = "".join(f"<item><guid>p{i}</guid><title>Post {i}</title><link>https://b.example/{i}</link>"
                    f"<description>Body {i}: got promoted</description>"
                    f"<pubDate>Mon, 0{i} Jun 2025 08:00:00 GMT</pubDate></item>" for i in range(1, n + 1))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>B</title>{items}</channel></rss>'


def counts(cfg):
    with store.reader(load_config(str(cfg)).store_path) as con:
        return (con.execute("SELECT count(*) FROM posts").fetchone()[0],
                con.execute("SELECT count(etag) FROM sources").fetchone()[0])


def feed_config(tmp_path, server, extra=""):
    server.routes["/feed.xml"] = static(rss(3), etag='"v1"')
    return write_config(tmp_path, extra=extra, people=f'''
[[people]]
name = "Bo"
feeds = ["{server.url('/feed.xml')}"]
''')


def hold_store_during_fetch(server, holder, cmd: str) -> None:
    """Make the feed's first request hand the store to the holder before it replies."""
    inner, first = server.routes["/feed.xml"], threading.Event()

    def route(req):
        if not first.is_set():
            first.set()
            holder.tell(cmd, "held")
        return inner(req)

    server.routes["/feed.xml"] = route


def test_ingest_waits_for_a_reader_in_another_process_and_then_stores_everything(tmp_path, server):
    cfg = feed_config(tmp_path, server)
    assert run_cli("--config", str(cfg), "ingest").code == 0  # creates the store, stores 3
    server.routes["/feed.xml"] = static(rss(5), etag='"v2"')
    holder = Holder(load_config(str(cfg)).store_path)
    try:
        hold_store_during_fetch(server, holder, "hold 2")  # the holder lets go after ~2 s
        r = run_cli("--config", str(cfg), "ingest")
    finally:
        holder.close()
    assert r.code == 0, r.err
    assert "is held by another process" in r.err and "waiting up to 60 s" in r.err
    assert "posts: 2 new" in r.out
    assert counts(cfg) == (5, 1)


def test_ingest_gives_up_with_one_line_and_the_next_run_fetches_it_again(tmp_path, server):
    cfg = feed_config(tmp_path, server)
    cfg.write_text(cfg.read_text().replace('path = "store.duckdb"', 'path = "store.duckdb"\nwait_seconds = 1'))
    # Create the store and the source row first, with nothing fetched (feed fails with 500).
    server.routes["/feed.xml"] = lambda req: Reply(500, b"down")
    assert run_cli("--config", str(cfg), "ingest").code == 0
    assert counts(cfg) == (0, 0)
    server.routes["/feed.xml"] = static(rss(3), etag='"v1"')
    # The source is backing off after its failure; make it due again.
    with store.write_window(load_config(str(cfg)).store_path) as con:
        con.execute("UPDATE sources SET next_attempt_at = NULL")

    holder = Holder(load_config(str(cfg)).store_path)
    try:
        hold_store_during_fetch(server, holder, "hold")  # held until we say so
        r = run_cli("--config", str(cfg), "ingest")
        assert r.code == 1
        lines = r.err.strip().splitlines()
        assert "Traceback" not in r.err
        assert lines[-1].startswith("store: ") and "gave up after 1 s" in lines[-1]
        assert "Nothing was written" in lines[-1]
        holder.tell("release", "released")
    finally:
        holder.close()
    assert counts(cfg) == (0, 0)  # neither posts nor the ETag that would hide them next time

    before = len(server.hits("/feed.xml"))
    r = run_cli("--config", str(cfg), "ingest")
    assert r.code == 0, r.err
    again = server.hits("/feed.xml")[before:]
    assert again and "if-none-match" not in again[0].headers  # fetched in full, not "not modified"
    assert counts(cfg) == (3, 1)


def test_run_lock_refuses_a_second_run_in_one_line(tmp_path, server):
    cfg = feed_config(tmp_path, server)
    lock = lock_path(load_config(str(cfg)).store_path)
    holder = Holder(lock)
    try:
        holder.tell("lock", "locked")
        for cmd in ("ingest", "run"):
            r = run_cli("--config", str(cfg), cmd)
            assert r.code == 1
            assert r.err.strip().splitlines() == [
                f"{cmd}: another Guanxi run holds {lock} (PID {holder.p.pid}); "
                "it will finish on its own, try again afterwards"]
        holder.tell("release", "released")
    finally:
        holder.close()
    assert run_cli("--config", str(cfg), "ingest").code == 0
    assert counts(cfg)[0] == 3


def test_run_lock_is_reentrant_in_one_process_and_released_after(tmp_path):
    path = tmp_path / "s.duckdb"
    with run_lock(path):
        with run_lock(path):  # daily holds it while its ingest subflow takes it again
            pass
        probe = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from guanxi.runlock import run_lock, RunLocked
            try:
                with run_lock(__import__('pathlib').Path({str(path)!r})): sys.exit(0)
            except RunLocked: sys.exit(3)
            """)], capture_output=True, text=True)
        assert probe.returncode == 3, probe.stderr
    with run_lock(path):  # free again
        pass
    with pytest.raises(RunLocked):
        raise RunLocked("x")


def test_sql_is_read_only_and_closes_at_once(tmp_path, server):
    cfg = feed_config(tmp_path, server)
    assert run_cli("--config", str(cfg), "ingest").code == 0
    r = run_cli("--config", str(cfg), "sql", "SELECT count(*) AS n FROM posts", "--format", "json")
    assert r.code == 0 and json.loads(r.out) == [{"n": 3}]
    r = run_cli("--config", str(cfg), "sql", "DELETE FROM posts")
    assert r.code == 1 and r.err.startswith("sql: ") and len(r.err.strip().splitlines()) == 1
    # Closed as soon as it answered: a writer can open the file right away, without waiting.
    con = duckdb.connect(str(load_config(str(cfg)).store_path))
    assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 3
    con.close()


def test_search_finds_chinese_and_english_and_the_index_is_usable_in_sql(tmp_path, server):
    server.routes["/zh.xml"] = static(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>'
        '<item><guid>z1</guid><title>好消息</title><description>我今天在上海升职了，谢谢大家！</description>'
        '<pubDate>Mon, 02 Jun 2025 08:00:00 GMT</pubDate></item>'
        '<item><guid>z2</guid><title>周末</title><description>周末去杭州爬山。</description>'
        '<pubDate>Mon, 02 Jun 2025 09:00:00 GMT</pubDate></item></channel></rss>')
    server.routes["/en.xml"] = static(rss(2))
    cfg = write_config(tmp_path, people=f'''
[[people]]
name = "王芳"
feeds = ["{server.url('/zh.xml')}"]
[[people]]
name = "Sam"
feeds = ["{server.url('/en.xml')}"]
''')
    assert run_cli("--config", str(cfg), "ingest").code == 0
    r = run_cli("--config", str(cfg), "search", "升职", "--format", "json")
    assert r.code == 0, r.err
    hits = json.loads(r.out)
    assert [h["person"] for h in hits][:1] == ["王芳"] and "升职" in hits[0]["text"]
    assert all("杭州" not in h["text"] for h in hits)
    r = run_cli("--config", str(cfg), "search", "PROMOTED", "--limit", "1", "--format", "json")
    assert [h["person"] for h in json.loads(r.out)] == ["Sam"]
    r = run_cli("--config", str(cfg), "search", "爬山")
    assert r.code == 0 and "周末" in r.out and "(1 row)" in r.out
    # Edited posts are re-segmented: the old words no longer match.
    server.routes["/zh.xml"] = static(server.routes["/zh.xml"](None).body.decode().replace("爬山", "骑车"))
    assert run_cli("--config", str(cfg), "ingest").code == 0
    assert "(0 rows)" in run_cli("--config", str(cfg), "search", "爬山").out
    # The same index from plain SQL, with the extension loaded from the installed package.
    from guanxi.search import fts_extension_path
    con = duckdb.connect(str(load_config(str(cfg)).store_path), read_only=True)
    con.execute(f"LOAD '{fts_extension_path()}'")
    n = con.execute("SELECT count(*) FROM post_search WHERE "
                    "fts_main_post_search.match_bm25(post_id, '骑车') IS NOT NULL").fetchone()[0]
    con.close()
    assert n == 1


def test_parquet_snapshot_after_ingest(tmp_path, server):
    cfg = feed_config(tmp_path, server)
    cfg.write_text(cfg.read_text().replace('path = "store.duckdb"',
                                           'path = "store.duckdb"\nsnapshot_dir = "snap"'))
    assert run_cli("--config", str(cfg), "ingest").code == 0
    snap = tmp_path / "snap"
    assert sorted(p.name for p in snap.iterdir()) == sorted(
        ["people.parquet", "sources.parquet", "posts.parquet", "post_topics.parquet",
         "post_signals.parquet", "views.sql"])  # no temporary folder left behind
    con = duckdb.connect()
    con.execute((snap / "views.sql").read_text())
    assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 3
    # A long session on the snapshot does not block the next ingest.
    server.routes["/feed.xml"] = static(rss(4), etag='"v2"')
    r = run_cli("--config", str(cfg), "ingest", timeout=60)
    assert r.code == 0 and "waiting" not in r.err
    assert con.execute("SELECT count(*) FROM read_parquet(?)", [str(snap / "posts.parquet")]).fetchone()[0] == 4
    con.close()


PROBE = textwrap.dedent("""
    import sys
    from guanxi.cli import main
    code = 0
    try:
        code = main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
    heavy = sorted(m for m in ("prefect", "prefect_dask", "distributed", "jieba") if m in sys.modules)
    print("IMPORTED=" + ",".join(heavy), file=sys.stderr)
    sys.exit(code)
""")


@pytest.mark.parametrize("argv", [["--help"], ["ingest"], ["sql", "SELECT 1"], ["digest"],
                                  ["people", "list"], ["search", "post"]])
def test_prefect_stays_off_paths_that_do_not_need_it(tmp_path, server, argv):
    cfg = feed_config(tmp_path, server)
    if argv[0] != "ingest":
        assert run_cli("--config", str(cfg), "ingest").code == 0
    p = subprocess.run([sys.executable, "-c", PROBE, *(["--config", str(cfg)] if argv != ["--help"] else []),
                        *argv], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    imported = p.stderr.strip().splitlines()[-1].removeprefix("IMPORTED=").split(",")
    assert "prefect" not in imported and "distributed" not in imported
    if argv in (["--help"], ["sql", "SELECT 1"], ["digest"]):
        assert "jieba" not in imported  # only search and ingest segment text


def test_store_and_orchestration_settings_are_validated(tmp_path):
    from guanxi.config import ConfigError

    cfg = write_config(tmp_path, extra='[orchestration]\ntask_runner = "dask"\n')
    c = load_config(str(cfg))
    assert c.store_wait_s == 60 and c.snapshot_dir is None
    assert (c.orchestration.task_runner, c.orchestration.fetch_chunks) == ("dask", 4)
    for bad, words in (('wait_seconds = -1', "store.wait_seconds must be between 0 and 3600"),
                       ('wait_seconds = "soon"', "store.wait_seconds must be")):
        cfg = write_config(tmp_path)
        cfg.write_text(cfg.read_text().replace('path = "store.duckdb"', f'path = "store.duckdb"\n{bad}'))
        with pytest.raises(ConfigError, match=words):
            load_config(str(cfg))
    cfg = write_config(tmp_path, extra='[orchestration]\ntask_runner = "celery"\n')
    with pytest.raises(ConfigError, match="orchestration.task_runner must be one of thread, dask"):
        load_config(str(cfg))


def test_search_words_from_worker_processes_equal_one_process_and_late_edits_are_segmented(tmp_path, monkeypatch):
    from guanxi import search
    from transforms.segment import segment_for_search

    rows = [(f"p{i}", f"h{i}", "周末" if i % 2 else "Weekend", f"第{i}次去杭州爬山，和同事 hiking {i}", "zh" if i % 2 else "en")
            for i in range(60)]
    monkeypatch.setattr(search, "PARALLEL_FROM", 10)
    parallel = search.segment_posts(rows)
    assert parallel == {(r[0], r[1]): segment_for_search(f"{r[2]}\n{r[3]}", r[4]) for r in rows}
    assert "爬山" in parallel[("p1", "h1")].split()


def test_words_segmented_before_the_write_window_are_used_only_for_the_same_content(tmp_path, server):
    from guanxi import search

    cfg = feed_config(tmp_path, server)
    assert run_cli("--config", str(cfg), "ingest").code == 0
    path = load_config(str(cfg)).store_path
    with store.write_window(path, wait_s=5) as con:
        (pid, chash), (other, _) = con.execute("SELECT post_id, content_hash FROM posts ORDER BY post_id LIMIT 2").fetchall()
        con.execute("DELETE FROM post_search")
        # One post's words are ready for its current content, the other's for content it no longer has.
        assert search.refresh_search(con, {(pid, chash): "ready words", (other, "an older hash"): "stale words"}) == 3
        words = dict(con.execute("SELECT post_id, search_text FROM post_search").fetchall())
    assert words[pid] == "ready words"
    assert words[other] != "stale words" and words[other]
