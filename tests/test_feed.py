"""Feed parsing from bytes: formats, charsets, JSON Feed, and what goes wrong."""

import json

import pytest

from connectors.feed import FeedError, parse_feed, parse_json_feed
from transforms.text import html_to_text, snippet

GBK_RSS = ('<?xml version="1.0"?><rss version="2.0"><channel><title>微博</title>'
           '<item><title>今天去杭州西湖</title><guid>1</guid><description>风景很美</description>'
           '<pubDate>Sat, 21 Nov 2026 10:00:00 +0800</pubDate></item></channel></rss>')


@pytest.mark.parametrize("charset", ["gbk", "gb18030", "big5"])
def test_charset_from_http_header(charset):
    text = GBK_RSS if charset != "big5" else GBK_RSS.replace("杭州", "臺北").replace("风景很美", "風景很美")
    meta, entries = parse_feed(text.encode(charset), content_type=f"application/rss+xml; charset={charset}")
    assert entries[0].title in ("今天去杭州西湖", "今天去臺北西湖")
    assert entries[0].text in ("风景很美", "風景很美")


def test_atom_entry_fields():
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
    <title>Priya</title><id>urn:x</id><updated>2026-11-20T10:00:00Z</updated>
    <entry><title>Moving to Shanghai</title><id>urn:p1</id><link href="https://p.example/m"/>
    <published>2026-11-20T09:00:00+01:00</published><updated>2026-11-20T10:00:00Z</updated>
    <content type="html">&lt;p&gt;Any advice on &lt;b&gt;neighbourhoods&lt;/b&gt;?&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</content></entry></feed>"""
    meta, entries = parse_feed(atom, content_type="application/atom+xml")
    e = entries[0]
    assert (meta.title, e.guid, e.url) == ("Priya", "urn:p1", "https://p.example/m")
    assert e.published_at.isoformat() == "2026-11-20T08:00:00+00:00"
    assert e.text == "Any advice on neighbourhoods?"


def test_json_feed_1_1_and_1_0():
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "张明", "items": [
        {"id": 7, "url": "https://z.example/1", "content_html": "<p>女儿出生了！</p>",
         "date_published": "2026-11-21T08:00:00+08:00", "image": "https://z.example/i.jpg",
         "authors": [{"name": "张明"}]},
        {"id": "2", "content_text": "plain text", "date_modified": "2026-11-20T00:00:00Z"},
        "junk"]}
    meta, entries = parse_feed(json.dumps(doc).encode())
    assert meta.title == "张明" and len(entries) == 2
    assert entries[0].guid == "7" and entries[0].text == "女儿出生了！" and entries[0].author == "张明"
    assert entries[0].published_at.isoformat() == "2026-11-21T00:00:00+00:00"
    assert entries[1].text == "plain text"
    doc["version"] = "https://jsonfeed.org/version/1"
    doc["items"] = [{"id": "a", "content_text": "x", "author": {"name": "A"}}]
    assert parse_json_feed(json.dumps(doc).encode())[1][0].author == "A"


@pytest.mark.parametrize("body, needle", [
    (b'{"hello": 1}', "not a JSON Feed"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}', "no items list"),
    (b"{broken", "invalid JSON Feed"),
    (b"<html><body><p>hello</p></body></html>", "parse:"),
])
def test_not_a_feed(body, needle):
    with pytest.raises(FeedError, match=needle):
        parse_feed(body, content_type="text/html" if body.startswith(b"<") else "application/json")


def test_html_to_text_blocks_and_scripts():
    html = "<div>Line one<br>Line two<script>evil()</script><p>Para &amp; more</p><img alt='cat photo' src=x></div>"
    assert html_to_text(html) == "Line one\nLine two\nPara & more\ncat photo"
    assert html_to_text("<p>a</p><p>b</p>") == "a\n\nb"


@pytest.mark.parametrize("html, text", [
    ("<p>hello</p></body><body><p>world</p>", "hello\n\nworld"),
    ("lead</body><body>tail", "lead\n\ntail"),
    ("<html><body>a</body><body>b</body></html>", "a b"),
])
def test_html_to_text_keeps_every_body_of_a_pasted_page(html, text):
    # lxml.html raises AssertionError ("too many bodies") on these; it once failed a whole feed
    assert html_to_text(html) == text


def test_one_entry_with_two_bodies_loses_nothing():
    items = "".join(
        f"<item><guid>g{i}</guid><title>t{i}</title><link>https://example.com/{i}</link>"
        f"<description>{body}</description></item>"
        for i, body in enumerate(["ok one", "&lt;p&gt;x&lt;/p&gt;&lt;/body&gt;&lt;body&gt;&lt;p&gt;y&lt;/p&gt;",
                                  "ok three"]))
    rss = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>c</title>{items}</channel></rss>'
    for body in (rss.encode(), rss.encode("utf-16")):  # the fast path, and feedparser's
        _, entries = parse_feed(body)
        assert [e.guid for e in entries] == ["g0", "g1", "g2"]
        assert entries[1].text.split() == ["x", "y"]


def test_snippet_cuts_cleanly():
    assert snippet("short") == "short"
    assert snippet("word " * 40, 20).endswith("…") and len(snippet("word " * 40, 20)) <= 21
