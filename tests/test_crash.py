"""`guanxi ingest` killed with SIGKILL mid-fetch and mid-write leaves a consistent store, and the
next run completes what was missed (all posts, their tags and links, and the validators)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.ingest_helpers import make_config, query
from tests.loopback import LoopbackServer, Reply, static


def feed(name: str, n: int) -> str:
    items = "".join(f"<item><guid>{name}-{i}</guid><title>{name} post {i}</title>"
                    f"<description>Got promoted and moving to Shanghai, any restaurant tips? {i}</description>"
                    f"<pubDate>Fri, {10 + i:02d} Nov 2026 08:00:00 GMT</pubDate></item>" for i in range(n))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{items}</channel></rss>'


def start_ingest(cfg: Path, **env: str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("guanxi")
    full = {k: v for k, v in os.environ.items() if k not in ("GUANXI_CONFIG", "GUANXI_TEST_PAUSE_AT")}
    return subprocess.Popen([str(exe), "--config", str(cfg), "ingest"], env={**full, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(pred, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "the ingest never reached the kill point"
        time.sleep(0.05)


def kill(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL


def consistent(cfg: Path) -> tuple[int, int]:
    """The store opens; no tag, link or search row without its post; no post without its link.
    Returns (posts, sources with an ETag)."""
    for table in ("post_topics", "post_signals", "post_links", "post_search"):
        orphans = query(cfg, f"SELECT count(*) FROM {table} WHERE post_id NOT IN (SELECT post_id FROM posts)")
        assert orphans == [(0,)], table
    assert query(cfg, "SELECT count(*) FROM posts WHERE post_id NOT IN (SELECT post_id FROM post_links)") == [(0,)]
    # A half batch would show as posts saved without the tags every one of these posts earns.
    untagged = query(cfg, "SELECT count(*) FROM posts WHERE post_id NOT IN (SELECT post_id FROM post_signals)")
    assert untagged == [(0,)]
    posts = query(cfg, "SELECT count(*) FROM posts")[0][0]
    etags = query(cfg, "SELECT count(*) FROM sources WHERE etag IS NOT NULL")[0][0]
    return posts, etags


def serve(server: LoopbackServer, slow: dict) -> None:
    server.routes["/a.xml"] = static(feed("alpha", 30), etag='"a1"')
    good_b = static(feed("beta", 20), etag='"b1"')
    server.routes["/b.xml"] = lambda req: (Reply(200, b"", delay_s=60) if slow["on"] else good_b(req))


def test_killed_during_fetch_then_next_run_completes(tmp_path, server: LoopbackServer):
    slow = {"on": True}
    serve(server, slow)
    cfg = make_config(tmp_path, {"Alpha": [server.url("/a.xml")], "Beta": [server.url("/b.xml")]})
    p = start_ingest(cfg)
    wait_for(lambda: server.hits("/b.xml"))  # the fetch is in flight: kill now
    kill(p)
    assert consistent(cfg) == (0, 0)  # the roster was planned; nothing half-stored
    assert query(cfg, "SELECT count(*) FROM sources") == [(2,)]
    slow["on"] = False
    p = start_ingest(cfg)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "posts: 50 new" in out
    assert consistent(cfg) == (50, 2)


def test_killed_inside_the_store_write_then_next_run_completes(tmp_path, server: LoopbackServer):
    serve(server, {"on": False})
    cfg = make_config(tmp_path, {"Alpha": [server.url("/a.xml")], "Beta": [server.url("/b.xml")]})
    p = start_ingest(cfg, GUANXI_TEST_PAUSE_AT="store")
    assert p.stderr is not None
    line = p.stderr.readline()  # the hook announces itself after the posts are written, pre-commit
    assert line.strip() == "test-pause: store", line
    kill(p)
    # Everything of that transaction is gone together: posts, tags, links and the validators.
    assert consistent(cfg) == (0, 0)
    assert query(cfg, "SELECT count(*) FROM sources WHERE status = 'ok'") == [(0,)]
    p = start_ingest(cfg)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "sources: 2 ok" in out and "posts: 50 new" in out  # refetched in full, not "not modified"
    assert consistent(cfg) == (50, 2)
    # And a third run is a no-op thanks to the saved validators.
    p = start_ingest(cfg)
    out, _ = p.communicate(timeout=120)
    assert "2 not modified" in out and "posts: 0 new" in out
