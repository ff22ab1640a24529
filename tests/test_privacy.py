"""`guanxi forget` removes a person from every table; retention prunes old posts; URL secrets are
redacted before they reach the store, logs or output."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from guanxi import privacy, store
from guanxi.config import load_config
from tests.conftest import run_cli

PERSON, EMAIL = "王芳", "wang.fang@example.com"


def ids_of(con, person_id: int) -> tuple[list[str], list[int]]:
    posts = [r[0] for r in con.execute("SELECT post_id FROM posts WHERE person_id = ?", [person_id]).fetchall()]
    sources = [r[0] for r in con.execute("SELECT source_id FROM sources WHERE person_id = ?",
                                         [person_id]).fetchall()]
    return posts, sources


def varchar_hits(con, needle: str) -> list[str]:
    """Tables whose text columns still contain `needle` anywhere (every user table, every row)."""
    hits = []
    for c in privacy.columns(con):
        if c.data_type in ("VARCHAR", "VARCHAR[]"):
            n = con.execute(f'SELECT count(*) FROM "{c.table}" WHERE CAST("{c.column}" AS VARCHAR) LIKE ?',
                            [f"%{needle}%"]).fetchone()[0]
            if n:
                hits.append(f"{c.table}.{c.column}")
    return hits


def test_forget_removes_the_person_from_every_table(demo_config: Path, tmp_path: Path):
    cfg_text = demo_config.read_text(encoding="utf-8").replace(
        "[store]\n", '[store]\nsnapshot_dir = "snap"\n')
    demo_config.write_text(cfg_text, encoding="utf-8")
    env = {"GUANXI_CONFIG": str(demo_config)}
    assert run_cli("ingest", env=env).code == 0
    assert run_cli("search", "王芳", env=env).code == 0  # builds the search index (off the ingest path)
    out = run_cli("starters", "--format", "json", env=env)
    assert out.code == 0, out.err
    starters = json.loads(out.out)
    assert run_cli("digest", "--no-send", env=env).code == 0
    theirs = next(s for s in starters if s["person"] == PERSON)
    assert run_cli("done", theirs["id"], env=env).code == 0
    assert run_cli("log", "Wang Fang", "coffee", env=env).code == 0
    assert run_cli("favour", EMAIL, "--received", "帮我review了设计", env=env).code == 0
    config = load_config(str(demo_config))
    with store.reader(config.store_path) as con:
        pid = store.find_person(con, PERSON)[0]
        posts, sources = ids_of(con, pid)
        before = privacy.referencing_rows(con, pid, posts, sources)
        others = con.execute("SELECT count(*) FROM posts WHERE person_id <> ?", [pid]).fetchone()[0]
    assert posts and sources
    # The fixture really put them in the follow-up tables too, so the check below can fail.
    for table in ("people", "sources", "posts", "post_topics", "post_links", "post_search", "contacts",
                  "favours", "starter_feedback", "starters_shown"):
        assert any(k.startswith(table + ".") for k in before), (table, before)

    done = run_cli("forget", EMAIL, env=env)
    assert done.code == 0, done.err
    assert done.out.startswith(f"forget: removed {PERSON} and everything stored about them")
    assert "still in the roster" in done.err and len(done.err.strip().splitlines()) == 1

    with store.reader(config.store_path) as con:
        assert privacy.referencing_rows(con, pid, posts, sources) == {}
        assert varchar_hits(con, PERSON) == [] and varchar_hits(con, EMAIL) == []
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == others
        # The FTS index was rebuilt: its own tables hold nothing of theirs either.
        fts = con.execute("SELECT count(*) FROM fts_main_post_search.docs "
                          "WHERE name IN (SELECT unnest(?))", [posts]).fetchone()[0]
        assert fts == 0
    # Not even in freed blocks: the file was rewritten without them.
    raw = config.store_path.read_bytes()
    assert PERSON.encode() not in raw and EMAIL.encode() not in raw
    snap = duckdb.connect()
    for table in ("people", "posts", "sources"):
        rows = snap.execute(f"SELECT count(*) FROM read_parquet('{tmp_path / 'snap' / (table + '.parquet')}') "
                            "WHERE person_id = ?", [pid]).fetchone()[0]
        assert rows == 0, table
    again = run_cli("forget", PERSON, env=env)
    assert again.code == 1 and again.err.startswith("forget: no person named") \
        and len(again.err.strip().splitlines()) == 1


def test_forget_unknown_person_is_one_line(tmp_path: Path):
    cfg = tmp_path / "guanxi.toml"
    cfg.write_text('[store]\npath = "s.duckdb"\n', encoding="utf-8")
    r = run_cli("--config", str(cfg), "forget", "nobody")
    assert r.code == 1 and r.err.startswith("forget: no person named 'nobody'")
    assert len(r.err.strip().splitlines()) == 1


def test_retention_prunes_old_posts_after_ingest(demo_config: Path):
    config = load_config(str(demo_config))
    from guanxi.ingest import ingest

    ingest(config, say=lambda m: None)
    with store.reader(config.store_path) as con:
        total, oldest = con.execute("SELECT count(*), min(published_at) FROM posts").fetchone()
        newest = con.execute("SELECT max(published_at) FROM posts").fetchone()[0]
    # Keep only posts from the last few days of the sample: some go, some stay.
    days = max(1, (newest - oldest).days // 2)
    text = demo_config.read_text(encoding="utf-8").replace("[store]\n", f"[store]\nretention_days = {days}\n")
    demo_config.write_text(text, encoding="utf-8")
    config = load_config(str(demo_config))
    assert config.retention_days == days
    from guanxi.ingest import ingest as ingest_again

    ingest_again(config, say=lambda m: None)
    with store.reader(config.store_path) as con:
        kept = con.execute("SELECT count(*), min(published_at) FROM posts").fetchone()
        orphans = sum(con.execute(f"SELECT count(*) FROM {t} WHERE post_id NOT IN (SELECT post_id FROM posts)")
                      .fetchone()[0] for t in ("post_topics", "post_signals", "post_links", "post_search"))
    assert 0 < kept[0] < total
    assert kept[1] >= store.now_utc() - timedelta(days=days) - timedelta(minutes=5)
    assert orphans == 0


@pytest.mark.parametrize("url,expected", [
    ("https://u:pw@h.org/f.xml?token=abc&page=2", "https://REDACTED@h.org/f.xml?token=REDACTED&page=2"),
    ("https://rsshub.app/weibo/user/1?key=s3cret", "https://rsshub.app/weibo/user/1?key=REDACTED"),
    ("https://h.org/feed.xml?page=2", "https://h.org/feed.xml?page=2"),
    ("mastodon:@a@b.social", "mastodon:@a@b.social"),
])
def test_redact_url(url, expected):
    assert privacy.redact_url(url) == expected
    assert privacy.redact_url(expected) == expected
