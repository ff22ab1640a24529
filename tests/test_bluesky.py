"""Bluesky connector against a loopback AppView serving app.bsky.feed.getAuthorFeed."""

from datetime import datetime, timezone
from pathlib import Path

from connectors.bluesky import rich_text
from connectors.sources import resolve_spec
from tests.ingest_helpers import make_config, query, run_ingest, source
from tests.loopback import Reply, static

FIX = Path(__file__).with_name("fixtures") / "bluesky"


def test_spec_resolves_to_author_feed_on_default_appview():
    r = resolve_spec("bsky:Priya.bsky.social")
    assert r.kind == "bsky"
    assert r.url == ("https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed"
                     "?actor=priya.bsky.social&filter=posts_no_replies&limit=50")


def test_facet_links_replace_shortened_labels_with_utf8_offsets():
    text = "看 example.com/a... ok"
    start = len("看 ".encode())
    end = start + len("example.com/a...".encode())
    facets = [{"index": {"byteStart": start, "byteEnd": end},
               "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/abc"}]}]
    plain, html = rich_text(text, facets)
    assert plain == "看 https://example.com/abc ok"
    assert '<a href="https://example.com/abc">example.com/a...</a>' in html


def test_author_feed_posts_images_links_and_reposts(server, tmp_path):
    server.routes["/xrpc/app.bsky.feed.getAuthorFeed"] = static(
        (FIX / "author_feed.json").read_bytes(), "application/json; charset=utf-8",
        last_modified="Fri, 20 Nov 2026 08:00:00 GMT")
    cfg = make_config(tmp_path, {"Priya Nair": ["bsky:priya.bsky.social"]},
                      f'[bluesky]\nappview = "{server.base}"\n')
    summary = run_ingest(cfg)
    assert (summary.sources_ok, summary.posts_new) == (1, 3)
    rows = {r[0]: r[1:] for r in query(cfg, "SELECT url, text, image, is_repost, published_at FROM posts")}
    paper = rows["https://bsky.app/profile/priya.bsky.social/post/3kxyzpost1"]
    assert paper[0] == "Our paper got accepted at ICML! Preprint: https://arxiv.org/abs/2611.01234"
    assert paper[1].endswith("/bafkthumb@jpeg") and paper[2] is False
    hotpot = rows["https://bsky.app/profile/priya.bsky.social/post/3kxyzpost2"]
    assert hotpot[0] == "今天在成都吃火锅 🌶️ 太辣了" and hotpot[1].endswith("feed_fullsize/plain/did:plc:abc123/bafkimg@jpeg")
    assert hotpot[3] == datetime(2026, 11, 19, 4, 0, tzinfo=timezone.utc)
    repost = rows["https://bsky.app/profile/tom.example.com/post/3kotherpost"]
    assert repost[2] is True and repost[0] == "Launching our open-source tool today."
    assert server.hits("/xrpc/app.bsky.feed.getAuthorFeed")[0].path.endswith(
        "?actor=priya.bsky.social&filter=posts_no_replies&limit=50")

    again = run_ingest(cfg)
    assert (again.sources_not_modified, again.posts_new) == (1, 0)
    assert server.hits("/xrpc/app.bsky.feed.getAuthorFeed")[1].headers["if-modified-since"] == \
        "Fri, 20 Nov 2026 08:00:00 GMT"


def test_not_an_author_feed_is_a_failed_source(server, tmp_path):
    server.routes["/xrpc/app.bsky.feed.getAuthorFeed"] = lambda req: Reply(
        400, b'{"error":"InvalidRequest","message":"Profile not found"}', {"Content-Type": "application/json"})
    cfg = make_config(tmp_path, {"Priya Nair": ["bsky:nobody.bsky.social"]},
                      f'[bluesky]\nappview = "{server.base}"\n')
    assert run_ingest(cfg).sources_failed == 1
    assert source(cfg)["last_error"] == "fetch: HTTP 400 Bad Request"
