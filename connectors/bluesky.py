"""Bluesky: `bsky:handle` read from the public author feed (app.bsky.feed.getAuthorFeed).

The JSON gives what the profile RSS lacks: full link targets (facets), images (embedded images,
or an external card's thumbnail) and reposts (`reason: reasonRepost`, stored as `is_repost`).
The AppView base is `[bluesky] appview` (default https://public.api.bsky.app); the stored URL is
the getAuthorFeed request itself, so conditional GET and redirects work as for any feed.
"""

from __future__ import annotations

import html as htmlmod
import json
import re
from urllib.parse import parse_qs, quote, urlsplit

from connectors.feed import parse_iso
from connectors.http import FetchRequest, Fetcher
from connectors.sources import SourceOptions, SourceTask, SpecError, batch_from_failure
from guanxi.models import Batch, Entry, FeedMeta

_HANDLE = re.compile(r"^@?(?P<handle>(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+|did:plc:[a-z0-9]+)$")
ENDPOINT = "/xrpc/app.bsky.feed.getAuthorFeed"
LINK = "app.bsky.richtext.facet#link"
REPOST = "app.bsky.feed.defs#reasonRepost"
JSON = (("Accept", "application/json"),)


class BlueskyConnector:
    kind, network = "bsky", True

    def resolve(self, value: str, spec: str, *, options: SourceOptions, base_dir: str | None) -> str:
        m = _HANDLE.match(value.strip())
        if not m:
            raise SpecError(f"source: {spec!r}: expected bsky:handle (e.g. bsky:alice.bsky.social)")
        return (f"{options.bsky_appview.rstrip('/')}{ENDPOINT}?actor={quote(m['handle'].lower())}"
                "&filter=posts_no_replies&limit=50")

    async def read(self, task: SourceTask, fetcher: Fetcher | None) -> Batch:
        assert fetcher is not None
        res = await fetcher.fetch(FetchRequest(task.url, etag=task.etag,
                                               last_modified=task.last_modified, headers=JSON))
        if not res.ok or res.body is None:
            return batch_from_failure(res)
        common = dict(final_url=res.final_url, permanent_redirect=res.permanent_redirect,
                      http_status=res.status_code)
        try:
            doc = json.loads(res.body)
            feed = doc["feed"]
            if not isinstance(feed, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return Batch(status="failed", error="bsky: response is not an author feed", **common)
        actor = (parse_qs(urlsplit(task.url).query).get("actor") or [""])[0]
        meta = FeedMeta(title=actor, link=f"https://bsky.app/profile/{actor}",
                        etag=res.headers.get("etag"), last_modified=res.headers.get("last-modified"))
        return Batch(status="ok", entries=parse_author_feed(feed), meta=meta, **common)


def parse_author_feed(feed: list) -> list[Entry]:
    """Entries from getAuthorFeed items: text with full links, first image, reposts marked."""
    out = []
    for item in feed:
        post = item.get("post") if isinstance(item, dict) else None
        if not isinstance(post, dict) or not isinstance(post.get("record"), dict):
            continue
        record, author = post["record"], post.get("author") or {}
        reason = item.get("reason") or {}
        repost = isinstance(reason, dict) and reason.get("$type") == REPOST
        text, html = rich_text(_s(record.get("text")) or "", record.get("facets"))
        uri = _s(post.get("uri")) or ""
        rkey = uri.rsplit("/", 1)[-1] if uri else ""
        handle = _s(author.get("handle")) or _s(author.get("did")) or ""
        langs = record.get("langs") if isinstance(record.get("langs"), list) else []
        when = parse_iso(_s(reason.get("indexedAt"))) if repost else None
        out.append(Entry(
            # A repost is its own event (who reposted, when); the post it shows keeps its uri.
            guid=(f"repost:{uri}" if repost else uri) or None,
            url=f"https://bsky.app/profile/{handle}/post/{rkey}" if handle and rkey else None,
            title="",
            text=text,
            html=html,
            published_at=when or parse_iso(_s(record.get("createdAt"))) or parse_iso(_s(post.get("indexedAt"))),
            author=handle or None,
            image=_image(post.get("embed")),
            lang=_s(langs[0]) if langs else None,
            is_repost=repost,
        ))
    return out


def rich_text(text: str, facets) -> tuple[str, str]:
    """Plain text with each link facet's shortened label replaced by its full URL, and HTML."""
    data = text.encode("utf-8")
    links = []
    for f in facets if isinstance(facets, list) else []:
        try:
            start, end = int(f["index"]["byteStart"]), int(f["index"]["byteEnd"])
            uri = next(x["uri"] for x in f["features"] if x.get("$type") == LINK)
        except (KeyError, TypeError, ValueError, StopIteration):
            continue
        if 0 <= start < end <= len(data) and isinstance(uri, str):
            links.append((start, end, uri))
    links.sort()
    plain, marked, pos = [], [], 0
    for start, end, uri in links:
        if start < pos:
            continue  # overlapping facets: keep the first
        before = data[pos:start].decode("utf-8", "replace")
        label = data[start:end].decode("utf-8", "replace")
        plain += [before, uri]
        marked += [htmlmod.escape(before), f'<a href="{htmlmod.escape(uri)}">{htmlmod.escape(label)}</a>']
        pos = end
    rest = data[pos:].decode("utf-8", "replace")
    plain.append(rest)
    marked.append(htmlmod.escape(rest))
    return "".join(plain).strip(), "<p>" + "".join(marked).replace("\n", "<br>") + "</p>"


def _image(embed) -> str | None:
    """First image of an embed view: images, an external card's thumb, or recordWithMedia."""
    if not isinstance(embed, dict):
        return None
    for img in embed.get("images") or []:
        if isinstance(img, dict) and (_s(img.get("fullsize")) or _s(img.get("thumb"))):
            return _s(img.get("fullsize")) or _s(img.get("thumb"))
    ext = embed.get("external")
    if isinstance(ext, dict) and _s(ext.get("thumb")):
        return _s(ext["thumb"])
    return _image(embed.get("media"))


def _s(value) -> str | None:
    return value if isinstance(value, str) and value else None


CONNECTOR = BlueskyConnector()
