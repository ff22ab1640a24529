"""Every file of feedparser's own test corpus, served over loopback with the HTTP headers its
leading comment declares, goes through one real ingest run without an exception.

The figures this prints (`pytest -s`) are the ones quoted in docs/ingestion.md.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from connectors.feed import parse_feed
from tests.conftest import PEER_CORPUS, write_config
from tests.ingest_helpers import query, run_ingest
from tests.loopback import LoopbackServer, Reply

_HEADER = re.compile(rb"^\s*Header:\s*([A-Za-z0-9-]+):[ \t]*(.*?)\s*$", re.M)


def declared_headers(body: bytes) -> dict[str, str]:
    """`Header: Name: value` lines from the file's leading comment (or JSON "__TEST__")."""
    head = body[:4096]
    end = head.find(b"-->")
    head = head[:end] if end >= 0 else head
    return {m[1].decode("latin-1"): m[2].decode("latin-1") for m in _HEADER.finditer(head)}


def corpus_files() -> list[Path]:
    return sorted(p for p in PEER_CORPUS.rglob("*") if p.is_file())


def why_no_posts(body: bytes, content_type: str | None) -> str:
    try:
        _meta, entries = parse_feed(body, content_type=content_type)
    except Exception as exc:  # only for the report; the ingest itself already survived
        return f"parse error: {type(exc).__name__}"
    if not entries:
        return "feed has no entries"
    return "entries have neither title nor text"


@pytest.mark.skipif(not PEER_CORPUS.is_dir(), reason=f"peer corpus not present at {PEER_CORPUS}")
def test_every_peer_corpus_file_ingests(tmp_path, capsys):
    files = corpus_files()
    assert len(files) > 1000
    served: dict[str, tuple[bytes, dict[str, str]]] = {}
    with LoopbackServer() as server:
        for i, f in enumerate(files):
            body = f.read_bytes()
            route = f"/{i}/{f.relative_to(PEER_CORPUS).as_posix()}"
            headers = declared_headers(body)
            served[route] = (body, headers)
            server.routes[route] = lambda req, body=body, headers=headers: Reply(200, body, headers)
        by_dir: dict[str, list[str]] = {}
        for route in served:
            by_dir.setdefault(route.split("/")[2], []).append(server.url(route))
        people = "\n".join(f'[[people]]\nname = "corpus {d}"\nfeeds = [{", ".join(map(repr, urls))}]\n'
                           for d, urls in by_dir.items())
        cfg = write_config(tmp_path, people.replace("'", '"'), extra="[ingest]\nper_host = 16\n")
        summary = run_ingest(cfg)
    rows = query(cfg, """SELECT s.url, s.status, s.last_error, count(p.post_id)
                         FROM sources s LEFT JOIN posts p USING (source_id) GROUP BY ALL""")
    assert len(rows) == len(files) == summary.sources_ok + summary.sources_failed
    reasons: Counter[str] = Counter()
    with_posts = 0
    for url, status, error, posts in rows:
        assert status in ("ok", "failed"), (url, status)
        if status == "failed":
            assert error and "\n" not in error and error.split(":")[0] in ("fetch", "parse"), (url, error)
            reasons["failed: " + re.sub(r"\(.*", "", error).strip()[:60]] += 1
        elif posts:
            with_posts += 1
        else:
            body, headers = served[url.removeprefix(server.base)]
            ct = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            reasons["ok, no posts: " + why_no_posts(body, ct)] += 1
    with capsys.disabled():
        print(f"\npeer corpus: {len(files)} files, {with_posts} gave posts "
              f"({summary.posts_new} posts); the rest:")
        for reason, n in reasons.most_common():
            print(f"  {n:5d}  {reason}")
    # Most corpus files test one element (an author, a date) of an entry with no words at all.
    assert with_posts >= 60 and sum(n for r, n in reasons.items() if r.startswith("failed")) <= 20
