"""Feeds from bytes: RSS 0.9x/1.0/2.0, Atom, RDF (feedparser) and JSON Feed 1.0/1.1.

Never hand feedparser a URL or a path: the bytes come from our own fetcher, and the HTTP
headers travel with them so a charset declared only in Content-Type is honoured.
"""

from __future__ import annotations

import calendar
import json
import re
from datetime import datetime, timezone
from typing import Any

from guanxi.errors import GuanxiError
from guanxi.models import Entry, FeedMeta
from transforms.text import first_image, html_to_text, looks_like_html


class FeedError(GuanxiError, ValueError):
    """The bytes are not a feed we can read; message is one line starting with "parse:"."""


def parse_feed(body: bytes, *, content_type: str | None = None, url: str | None = None
               ) -> tuple[FeedMeta, list[Entry]]:
    """Parse a feed document of any supported format into entries."""
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{") or (content_type or "").split(";")[0].strip().endswith("json"):
        return parse_json_feed(body)
    return _parse_xml_feed(body, content_type=content_type, url=url)


def _parse_xml_feed(body: bytes, *, content_type: str | None, url: str | None
                    ) -> tuple[FeedMeta, list[Entry]]:
    from connectors.fastfeed import parse_fast

    fast = parse_fast(body, content_type=content_type, url=url)
    if fast is not None:
        meta, raw = fast
    else:
        meta, raw = _feedparser(body, content_type=content_type, url=url)
    return meta, [make_entry(fields, contents, images, url) for fields, contents, images in raw]


def _feedparser(body: bytes, *, content_type: str | None, url: str | None):
    """feedparser's reading of anything the fast path declined: every format, every quirk."""
    import feedparser  # imported lazily: it is slow to import and only ingest needs it

    from connectors.xmlsafety import UnsafeXml, check_xml

    try:
        check_xml(body)  # no entity declarations, no external DTDs, whatever feedparser does
    except UnsafeXml as exc:
        raise FeedError(str(exc)) from None
    headers = {"content-type": content_type or "application/xml"}
    if url:
        headers["content-location"] = url
    try:
        parsed = feedparser.parse(body, response_headers=headers)
    except Exception as exc:  # feedparser's own bugs on broken input (found by fuzzing)
        raise FeedError(f"parse: the feed parser gave up ({type(exc).__name__}: {_one_line(exc)})") from None
    if not parsed.entries and parsed.bozo and not parsed.feed:
        exc = parsed.get("bozo_exception")
        raise FeedError(f"parse: not a feed ({_one_line(exc)})")
    if not parsed.entries and not parsed.feed.get("title") and parsed.version == "":
        raise FeedError("parse: no feed found in the document")
    feed = parsed.feed
    meta = FeedMeta(title=feed.get("title"), link=feed.get("link"))
    return meta, [_feedparser_fields(e) for e in parsed.entries]


def _feedparser_fields(e: Any) -> tuple[dict, list[str], list[str]]:
    when = e.get("published_parsed") or e.get("updated_parsed") or e.get("created_parsed")
    return ({
        "guid": e.get("id") or None,
        "url": e.get("link") or None,
        "title": e.get("title") or "",
        "summary": e.get("summary") or "",
        "published_at": datetime.fromtimestamp(calendar.timegm(when), timezone.utc) if when else None,
        "author": e.get("author") or None,
    }, [c.get("value") or "" for c in e.get("content") or []], _feedparser_images(e))


def _feedparser_images(e: Any) -> list[str]:
    out = []
    for key in ("media_content", "media_thumbnail"):
        for m in e.get(key) or []:
            url = m.get("url")
            if url and (m.get("medium") in (None, "image") or "image" in (m.get("type") or "")):
                out.append(url)
    for link in e.get("links") or []:
        if link.get("rel") == "enclosure" and (link.get("type") or "").startswith("image/"):
            out.append(link.get("href"))
    return out


def make_entry(fields: dict, contents: list[str], images: list[str], base_url: str | None) -> Entry:
    """One Entry from a parser's raw fields: the richest body, plain text, a first image."""
    # Prefer the richest body: content:encoded / atom:content over the summary.
    html = max(contents, key=len) if contents else ""
    summary = fields.get("summary") or ""
    if not html or len(summary) > len(html):
        html = summary or html
    text = html_to_text(html) if html and looks_like_html(html) else html.strip()
    title = (fields.get("title") or "").strip()
    if title and looks_like_html(title):
        title = html_to_text(title)
    image = next((i for i in images if i), None) or first_image(html, fields.get("base") or base_url)
    return Entry(guid=fields.get("guid"), url=fields.get("url"), title=title, text=text,
                 html=html or None, published_at=fields.get("published_at"),
                 author=fields.get("author"), image=image, is_repost=is_bare_repost(text))


# Where a Weibo repost's quoted part begins: RSSHub writes the original as " - 转发 @author: …",
# and Weibo joins the comments of earlier reposters as "//@name: …".
_REPOST_QUOTE = re.compile(r"(?:^|\s)-\s*(?:转发|轉發)\s*@|//@")
# What Weibo fills in when the poster adds no words of their own.
_NO_OWN_WORDS = frozenset({"", "转发微博", "轉發微博", "转发", "轉發", "repost"})


def is_bare_repost(text: str) -> bool:
    """A Weibo repost with no words of the poster's own: stored as a repost (the digest leaves
    those out). One with a comment ("报名了！ - 转发 @俱乐部: …") stays the poster's own post: the
    comment is what they said, and the digest's excerpt drops the quoted part."""
    if "//@" not in text and "转发" not in text and "轉發" not in text:
        return False  # no quote can begin here: the search itself tries every character (~50 us a post)
    quote = _REPOST_QUOTE.search(text)
    return quote is not None and text[: quote.start()].strip(" \t\n:：").lower() in _NO_OWN_WORDS


def parse_json_feed(body: bytes) -> tuple[FeedMeta, list[Entry]]:
    """JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"parse: invalid JSON Feed ({_one_line(exc)})") from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise FeedError("parse: JSON document is not a JSON Feed (no jsonfeed.org version)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedError("parse: JSON Feed has no items list")
    meta = FeedMeta(title=_s(doc.get("title")), link=_s(doc.get("home_page_url")))
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        html = _s(item.get("content_html"))
        text = (html_to_text(html) if html else (_s(item.get("content_text")) or _s(item.get("summary")) or "")).strip()
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        author = next((_s(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")), None)
        entries.append(Entry(
            guid=_s(item.get("id")) if item.get("id") not in (None, "") else None,
            url=_s(item.get("url")) or _s(item.get("external_url")),
            title=_s(item.get("title")) or "",
            text=text,
            html=html,
            published_at=parse_iso(_s(item.get("date_published")) or _s(item.get("date_modified"))),
            author=author,
            image=_s(item.get("image")) or _s(item.get("banner_image")) or first_image(html),
            lang=_s(item.get("language")) or _s(doc.get("language")),
            is_repost=is_bare_repost(text),
        ))
    return meta, entries


def parse_iso(value: str | None) -> datetime | None:
    """An RFC 3339 / ISO 8601 timestamp as aware UTC; naive values are taken as UTC."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _s(value: Any) -> str | None:
    """A string field from JSON, or None (numbers become strings; other types are ignored)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _one_line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
