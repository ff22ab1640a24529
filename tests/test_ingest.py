"""Ingest end to end: loopback feeds -> real DuckDB file."""

from datetime import datetime, timezone

import duckdb

from guanxi.config import load_config
from guanxi.ingest import ingest
from tests.conftest import write_config
from tests.loopback import Reply, static

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Blog</title><link>https://blog.example/</link>
<item><title>Hiking Jade Dragon Snow Mountain</title><link>https://blog.example/hike?utm_source=x</link>
<guid>post-1</guid><pubDate>Sat, 21 Nov 2026 02:00:00 +0800</pubDate>
<description>&lt;p&gt;Photos from the trip &lt;img src="https://img.example/a.jpg"&gt;&lt;/p&gt;</description></item>
<item><title>升职了！</title><link>https://blog.example/promo</link>
<pubDate>Fri, 20 Nov 2026 09:00:00 GMT</pubDate><description>今天正式升职为总监，感谢团队。</description></item>
</channel></rss>"""


def people_block(server, *paths):
    feeds = ", ".join(f'"{server.url(p)}"' for p in paths)
    return f'[[people]]\nname = "李伟"\naliases = ["Li Wei"]\nfeeds = [{feeds}]\n'


def counts(cfg):
    con = duckdb.connect(str(load_config(str(cfg)).store_path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("people", "sources", "posts", "post_topics", "post_signals")}
    finally:
        con.close()


def test_ingest_twice_stores_each_post_once_and_uses_validators(tmp_path, server):
    server.routes["/rss"] = static(RSS, etag='"abc"')
    server.routes["/nv"] = static(RSS.replace("post-1", "post-9"))  # no validators at all
    cfg = write_config(tmp_path, people=people_block(server, "/rss", "/nv"))
    config = load_config(str(cfg))
    first = ingest(config, say=lambda m: None)
    # The second feed repeats both posts (other guid, same words): one post each, two links.
    assert (first.sources_ok, first.posts_new) == (2, 2)
    before = counts(cfg)
    second = ingest(config, say=lambda m: None)
    assert second.sources_not_modified == 1 and second.sources_ok == 1
    assert (second.posts_new, second.posts_updated) == (0, 0)
    assert counts(cfg) == before
    assert server.hits("/rss")[1].headers["if-none-match"] == '"abc"'


def test_stored_row_shape(tmp_path, server):
    server.routes["/rss"] = static(RSS)
    cfg = write_config(tmp_path, people=people_block(server, "/rss"))
    ingest(load_config(str(cfg)), say=lambda m: None)
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    rows = con.execute("SELECT title, url, published_at, lang, image FROM posts ORDER BY published_at").fetchall()
    con.close()
    assert rows[0][0] == "升职了！" and rows[0][3] == "zh"
    hike = rows[1]
    assert hike[2] == datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)  # +0800 honoured
    assert hike[3] == "en" and hike[4] == "https://img.example/a.jpg"


def test_edited_post_updates_its_row(tmp_path, server):
    body = {"v": RSS}
    server.routes["/rss"] = lambda req: Reply(200, body["v"].encode(), {"Content-Type": "application/rss+xml"})
    cfg = write_config(tmp_path, people=people_block(server, "/rss"))
    config = load_config(str(cfg))
    ingest(config, say=lambda m: None)
    body["v"] = RSS.replace("Photos from the trip", "Photos and a video from the trip")
    res = ingest(config, say=lambda m: None)
    assert (res.posts_new, res.posts_updated) == (0, 1)
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 2
    assert "video" in con.execute("SELECT text FROM posts WHERE guid LIKE '%/post-1'").fetchone()[0]
    con.close()


def test_failing_feed_is_recorded_and_run_goes_on(tmp_path, server):
    server.routes["/rss"] = static(RSS)
    server.routes["/broken"] = lambda req: Reply(500, b"oops")
    server.routes["/html"] = static("<html><body>not a feed</body></html>", "text/html")
    cfg = write_config(tmp_path, people=people_block(server, "/rss", "/broken", "/html"))
    res = ingest(load_config(str(cfg)), say=lambda m: None)
    assert res.sources_ok == 1 and res.sources_failed == 2 and res.posts_new == 2
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    errors = dict(con.execute("SELECT url, last_error FROM sources WHERE status = 'failed'").fetchall())
    con.close()
    assert errors[server.url("/broken")] == "fetch: HTTP 500 Internal Server Error"
    assert errors[server.url("/html")].startswith("parse:")


def test_same_post_on_two_platforms_shows_both_links_in_the_digest(tmp_path, server):
    from datetime import timedelta

    from reports.publish import publish_digest

    when = datetime.now(timezone.utc) - timedelta(hours=3)
    stamp = when.strftime("%a, %d %b %Y %H:%M:%S +0000")

    def feed(link):
        return (f'<rss version="2.0"><channel><title>t</title><item><title>Promoted to director today</title>'
                f"<link>{link}</link><guid>{link}</guid><pubDate>{stamp}</pubDate>"
                "<description>Thrilled to share that I was promoted to director of the data platform.</description>"
                "</item></channel></rss>")
    server.routes["/blog"] = static(feed("https://blog.example/promoted"))
    server.routes["/masto"] = static(feed("https://social.example/@li/1"))
    cfg = write_config(tmp_path, people=people_block(server, "/blog", "/masto"))
    config = load_config(str(cfg))
    assert ingest(config, say=lambda m: None).posts_new == 1
    res = publish_digest(config)
    text = res.text_path.read_text(encoding="utf-8")
    html = res.html_path.read_text(encoding="utf-8")
    assert "https://blog.example/promoted" in text and "also here: https://social.example/@li/1" in text
    assert 'href="https://social.example/@li/1"' in html


def test_records_take_the_language_of_tags_made_in_the_pool() -> None:
    # Entries tagged in a worker carry their language; it is not detected a second time, and it
    # is the language detection would give.
    from guanxi.ingest import records_for
    from guanxi.models import Batch, Entry
    from guanxi.store import SourceRow
    from transforms.lang import detect_lang
    from transforms.tagging import tag_post

    source = SourceRow(1, 1, "Li Wei", "feed", "https://x.test/feed", "https://x.test/feed", "ok",
                       None, None, 0, None, None)
    texts = [("周末", "周末去爬山，天气很好。"), ("", "Hiked the ridge trail with 老王 today."), ("Hi", "")]
    entries = [Entry(f"g{i}", None, title, text, None) for i, (title, text) in enumerate(texts)]
    tagged = [Entry(f"g{i}", None, title, text, None, tags=tag_post(title, text))
              for i, (title, text) in enumerate(texts)]
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    plain = records_for(Batch(status="ok", entries=entries), source=source, now=now)
    pooled = records_for(Batch(status="ok", entries=tagged), source=source, now=now)
    assert [r.lang for r in pooled] == [r.lang for r in plain] == \
        [detect_lang(f"{t}\n{x}") for t, x in texts] == ["zh", "en", "en"]


def test_fetch_outcomes_reach_the_store_exactly_as_made(tmp_path) -> None:
    """The outcomes cross into DuckDB as one JSON text: quotes, backslashes, line breaks, Chinese
    and emoji, NULLs (keep what is stored) and aware timestamps all arrive as they were."""
    from guanxi import store
    from guanxi.ingest import FETCH_SCHEMA, record_fetches

    path = tmp_path / "s.duckdb"
    with store.write_window(path) as con:
        store.bulk_insert(con, "people", ["name"], [["王芳"]])
        store.bulk_insert(con, "sources", ["person_id", "kind", "spec", "url", "etag", "title"],
                          [[1, "feed", "a", "http://a/", '"old"', "kept"], [1, "feed", "b", "http://b/", None, None]])
    when = datetime(2026, 11, 22, 8, 30, 15, 123456, tzinfo=timezone.utc)
    odd = 'fetch: HTTP 500 "boom" \\ C:\\path\nsecond line 升职 🎉'
    rows = [[1, "failed", odd, 3, when, 500, when, None, None, None, "http://a/", None, None],
            [2, "ok", None, 0, None, 304, when, when, 'W/"é\\"', "Sun, 22 Nov 2026 08:00:00 GMT",
             "http://b/moved", "http://b/seen", "标题 \"t\""]]
    with store.write_window(path) as con:
        record_fetches(con, rows)
    with store.reader(path) as con:
        got = con.execute(f"SELECT {', '.join(FETCH_SCHEMA)} FROM sources ORDER BY source_id").fetchall()
    assert got[0][:7] == (1, "failed", odd, 3, when, 500, when) and got[0][8:] == (
        '"old"', None, "http://a/", None, "kept")  # NULLs keep the stored etag and title
    assert got[1][1:] == ("ok", None, 0, None, 304, when, when, 'W/"é\\"', "Sun, 22 Nov 2026 08:00:00 GMT",
                          "http://b/moved", "http://b/seen", "标题 \"t\"")
