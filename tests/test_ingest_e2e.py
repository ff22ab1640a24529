"""Ingest end to end: real HTTP on 127.0.0.1, a real DuckDB file, the real CLI where users look."""

import json
from datetime import timedelta

import pytest

from tests.conftest import run_cli
from tests.ingest_helpers import T0, make_config, query, run_ingest, source
from tests.loopback import Reply, static


def rss(*items: str, title: str = "Blog") -> str:
    return f"<rss version='2.0'><channel><title>{title}</title>{''.join(items)}</channel></rss>"


def item(text: str, guid: str | None = None, link: str | None = None, title: str = "",
         date: str = "Fri, 20 Nov 2026 09:00:00 GMT") -> str:
    return ("<item>" + (f"<guid isPermaLink='false'>{guid}</guid>" if guid else "")
            + (f"<link>{link}</link>" if link else "") + f"<title>{title}</title>"
            + f"<description>{text}</description><pubDate>{date}</pubDate></item>")


FEED = rss(item("Just got promoted to senior engineer!", guid="a1"),
           item("Lovely hike in the mountains this weekend", guid="a2"))


def test_second_ingest_is_conditional_and_stores_nothing_new(server, tmp_path):
    server.routes["/f"] = static(FEED, etag='"v1"', last_modified="Fri, 20 Nov 2026 10:00:00 GMT")
    cfg = make_config(tmp_path, {"Ann": [server.url("/f")]})
    first = run_ingest(cfg)
    assert (first.sources_ok, first.posts_new) == (1, 2)
    before = query(cfg, "SELECT post_id, fetched_at, updated_at FROM posts ORDER BY post_id")
    second = run_ingest(cfg, T0 + timedelta(hours=1))
    assert (second.sources_ok, second.sources_not_modified, second.posts_new, second.posts_updated) == (0, 1, 0, 0)
    cond = server.hits("/f")[1].headers
    assert cond["if-none-match"] == '"v1"' and cond["if-modified-since"] == "Fri, 20 Nov 2026 10:00:00 GMT"
    assert query(cfg, "SELECT post_id, fetched_at, updated_at FROM posts ORDER BY post_id") == before
    assert source(cfg)["status"] == "ok" and source(cfg)["http_status"] == 304


def test_retry_after_sets_next_attempt(server, tmp_path):
    server.routes["/busy"] = lambda req: Reply(503, b"", {"Retry-After": "7200"})
    cfg = make_config(tmp_path, {"Ann": [server.url("/busy")]})
    run_ingest(cfg)
    src = source(cfg)
    assert src["status"] == "failed" and src["last_error"] == "fetch: HTTP 503 Service Unavailable"
    assert src["next_attempt_at"] == T0 + timedelta(hours=2)
    assert run_ingest(cfg, T0 + timedelta(minutes=30)).sources_skipped == 1
    assert len(server.hits("/busy")) == 1


def test_backoff_doubles_and_people_list_shows_it(server, tmp_path):
    server.routes["/broken"] = lambda req: Reply(500, b"oops")
    cfg = make_config(tmp_path, {"Ann": [server.url("/broken")]})
    run_ingest(cfg)
    assert source(cfg)["next_attempt_at"] == T0 + timedelta(minutes=5)
    assert run_ingest(cfg, T0 + timedelta(minutes=4)).sources_skipped == 1  # not yet due
    run_ingest(cfg, T0 + timedelta(minutes=6))
    src = source(cfg)
    assert src["error_count"] == 2 and src["next_attempt_at"] == T0 + timedelta(minutes=16)
    run_ingest(cfg, T0 + timedelta(minutes=17))
    assert source(cfg)["next_attempt_at"] == T0 + timedelta(minutes=37)  # 5, 10, 20 minutes
    assert len(server.hits("/broken")) == 3
    res = run_cli("--config", str(cfg), "people", "list")
    assert res.code == 0, res.err
    assert "failed (3×: fetch: HTTP 500 Internal Server Error; next try 2026-11-21 08:37 UTC)" in res.out
    listed = json.loads(run_cli("--config", str(cfg), "people", "list", "--format", "json").out)
    assert listed[0]["sources"][0]["error_count"] == 3

    server.routes["/broken"] = static(FEED)  # recovery clears the error
    run_ingest(cfg, T0 + timedelta(minutes=40))
    src = source(cfg)
    assert (src["status"], src["error_count"], src["last_error"], src["next_attempt_at"]) == ("ok", 0, None, None)


def test_410_marks_gone_and_is_never_fetched_again(server, tmp_path):
    server.routes["/dead"] = lambda req: Reply(410, b"gone")
    cfg = make_config(tmp_path, {"Ann": [server.url("/dead")]})
    assert run_ingest(cfg).sources_failed == 1
    assert source(cfg)["status"] == "gone"
    run_ingest(cfg, T0 + timedelta(days=3))
    assert len(server.hits("/dead")) == 1
    assert "gone (1×: fetch: HTTP 410 Gone)" in run_cli("--config", str(cfg), "people", "list").out


@pytest.mark.parametrize("code, adopted", [(301, True), (308, True), (302, False), (307, False)])
def test_permanent_redirect_adopted_after_two_consecutive_fetches(server, tmp_path, code, adopted):
    server.routes["/old"] = lambda req: Reply(code, headers={"Location": "/new"})
    server.routes["/new"] = static(FEED)
    cfg = make_config(tmp_path, {"Ann": [server.url("/old")]})
    run_ingest(cfg)
    assert source(cfg)["url"] == server.url("/old")  # once is not enough
    run_ingest(cfg, T0 + timedelta(hours=1))
    assert source(cfg)["url"] == (server.url("/new") if adopted else server.url("/old"))
    run_ingest(cfg, T0 + timedelta(hours=2))
    assert len(server.hits("/old")) == (2 if adopted else 3)
    assert query(cfg, "SELECT count(*) FROM posts") == [(2,)]


def test_a_301_not_seen_twice_in_a_row_is_forgotten(server, tmp_path):
    server.routes["/old"] = lambda req: Reply(301, headers={"Location": "/new"})
    server.routes["/new"] = static(FEED)
    cfg = make_config(tmp_path, {"Ann": [server.url("/old")]})
    run_ingest(cfg)
    server.routes["/old"] = static(FEED)  # the move was undone
    run_ingest(cfg, T0 + timedelta(hours=1))
    assert source(cfg)["redirect_seen"] is None
    server.routes["/old"] = lambda req: Reply(301, headers={"Location": "/new"})
    run_ingest(cfg, T0 + timedelta(hours=2))
    assert source(cfg)["url"] == server.url("/old")


def test_slow_and_oversized_responses_are_recorded(server, tmp_path):
    server.routes["/slow"] = lambda req: Reply(200, FEED.encode(), delay_s=2)
    server.routes["/huge"] = lambda req: Reply(200, b"<rss>" + b"x" * 300_000)
    server.routes["/ok"] = static(FEED)
    cfg = make_config(tmp_path, {"Ann": [server.url("/slow"), server.url("/huge"), server.url("/ok")]},
                      "[ingest]\ntimeout_s = 0.5\nmax_body_bytes = 100000\n")
    summary = run_ingest(cfg)
    assert (summary.sources_ok, summary.sources_failed, summary.posts_new) == (1, 2, 2)
    assert source(cfg, "%/slow")["last_error"] == f"fetch: read timeout at {server.url('/slow')}"
    assert source(cfg, "%/huge")["last_error"] == "fetch: body of 300005 bytes exceeds the 100000-byte cap"


def test_failing_feeds_never_fail_the_run(server, tmp_path):
    server.routes["/ok"] = static(FEED)
    server.routes["/500"] = lambda req: Reply(500)
    server.routes["/junk"] = lambda req: Reply(200, b"\x00\x01 not a feed at all", {"Content-Type": "text/html"})
    server.routes["/json"] = lambda req: Reply(200, b'{"version": "nope"}', {"Content-Type": "application/json"})
    cfg = make_config(tmp_path, {"Ann": [server.url("/ok"), server.url("/500"), server.url("/junk"),
                                         server.url("/json"), "http://127.0.0.1:9/refused"],
                                 "Bo": ["mastodon:@x@[bad"]})
    res = run_cli("--config", str(cfg), "ingest")
    assert res.code == 0, res.err
    assert "sources: 1 ok, 0 not modified, 4 failed; posts: 2 new, 0 updated" in res.out
    errors = [r[0] for r in query(cfg, "SELECT last_error FROM sources WHERE status = 'failed'")]
    assert len(errors) == 4 and all("\n" not in e and e.split(":")[0] in ("fetch", "parse") for e in errors)
    assert "roster: Bo: source: 'mastodon:@x@[bad': expected mastodon:@user@instance" in res.err


CHINESE = [("gbk", "今天升职了，谢谢大家的支持！"), ("gb18030", "周末去徒步，风景很美 𠀀"),
           ("big5", "今天升職了，謝謝大家的支持！")]


@pytest.mark.parametrize("decl", ["", "<?xml version='1.0' encoding='utf-8'?>"],
                         ids=["no-declaration", "declaration-says-utf8"])
@pytest.mark.parametrize("charset, text", CHINESE, ids=[c for c, _ in CHINESE])
def test_charset_from_http_header_wins(server, tmp_path, charset, text, decl):
    body = (decl + rss(item(text, guid="c1", title=text[:4]), title="博客")).encode(charset)
    server.routes["/zh"] = lambda req: Reply(200, body, {"Content-Type": f"application/rss+xml; charset={charset}"})
    cfg = make_config(tmp_path, {"李伟": [server.url("/zh")]})
    assert run_ingest(cfg).posts_new == 1
    assert query(cfg, "SELECT title, text, lang FROM posts") == [(text[:4], text, "zh")]


def test_identity_guid_else_canonical_url_else_hash(server, tmp_path):
    v1 = rss(item("No guid, tracked link", link="https://blog.example/p/1?utm_source=rss&id=7"),
             item("No guid, no link, only words"))
    v2 = rss(item("No guid, tracked link", link="https://blog.example/p/1?id=7&utm_medium=mail&fbclid=x"),
             item("No guid, no link, only words"))
    server.routes["/f"] = lambda req: Reply(200, (v2 if len(server.hits("/f")) > 1 else v1).encode())
    cfg = make_config(tmp_path, {"Ann": [server.url("/f")]})
    assert run_ingest(cfg).posts_new == 2
    again = run_ingest(cfg, T0 + timedelta(hours=1))
    assert (again.posts_new, again.posts_updated) == (0, 0)
    keys = sorted(r[0] for r in query(cfg, "SELECT identity FROM posts"))
    assert keys[0].startswith("hash:") and keys[1] == "url:https://blog.example/p/1?id=7"


def test_feed_repeating_one_guid_keeps_items_apart(server, tmp_path):
    server.routes["/f"] = static(rss(item("first item", guid="same"), item("second item", guid="same"),
                                     item("third item", guid="same")))
    cfg = make_config(tmp_path, {"Ann": [server.url("/f")]})
    assert run_ingest(cfg).posts_new == 3
    assert run_ingest(cfg, T0 + timedelta(hours=1)).posts_new == 0
    assert query(cfg, "SELECT count(*) FROM posts") == [(3,)]


def test_edited_post_updates_its_row_and_is_retagged(server, tmp_path):
    v1 = rss(item("Lovely hike in the mountains this weekend", guid="e1"))
    v2 = rss(item("Lovely hike, and I just got promoted!", guid="e1"))
    server.routes["/f"] = lambda req: Reply(200, (v2 if len(server.hits("/f")) > 1 else v1).encode())
    cfg = make_config(tmp_path, {"Ann": [server.url("/f")]})
    run_ingest(cfg)
    (pid,), = query(cfg, "SELECT post_id FROM posts")
    assert query(cfg, "SELECT signal FROM post_signals") == []
    again = run_ingest(cfg, T0 + timedelta(hours=1))
    assert (again.posts_new, again.posts_updated) == (0, 1)
    assert query(cfg, "SELECT post_id, text, fetched_at, updated_at FROM posts") == [
        (pid, "Lovely hike, and I just got promoted!", T0, T0 + timedelta(hours=1))]
    assert query(cfg, "SELECT post_id, signal FROM post_signals") == [(pid, "congratulate")]
    assert query(cfg, "SELECT count(*) FROM post_links") == [(1,)]


def test_same_text_on_two_platforms_is_one_post_with_two_links(server, tmp_path):
    words = "Our team shipped the new search engine today, thanks everyone!"
    server.routes["/blog"] = static(rss(item(words, guid="b1", link="https://blog.example/shipped")))
    server.routes["/feed.json"] = static(json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "Ann elsewhere",
        "items": [{"id": "m1", "url": "https://social.example/@ann/1", "content_text": words,
                   "date_published": "2026-11-20T11:00:00+02:00"},
                  {"id": "m2", "url": "https://social.example/@ann/2", "content_text": "Something else"}]}),
        "application/feed+json")
    server.routes["/bo"] = static(rss(item(words, guid="b1", link="https://bo.example/shipped")))
    cfg = make_config(tmp_path, {"Ann": [server.url("/blog"), server.url("/feed.json")],
                                 "Bo": [server.url("/bo")]})
    summary = run_ingest(cfg)
    assert summary.posts_new == 3  # Ann's shared post, Ann's other post, Bo's post (another person)
    links = query(cfg, """SELECT p.url, list(l.url ORDER BY l.source_id) FROM posts p
                          JOIN post_links l USING (post_id) JOIN people pe USING (person_id)
                          WHERE pe.name = 'Ann' AND p.text = ? GROUP BY p.url""", [words])
    assert links == [("https://blog.example/shipped", ["https://blog.example/shipped", "https://social.example/@ann/1"])]
    again = run_ingest(cfg, T0 + timedelta(hours=1))
    assert (again.posts_new, again.posts_updated) == (0, 0)
    assert query(cfg, "SELECT count(*) FROM post_links") == [(4,)]
