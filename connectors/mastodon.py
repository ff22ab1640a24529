"""Mastodon: `mastodon:@user@instance` read through the public REST API, else the account RSS.

The API gives every public status with boosts (marked `is_repost`), media attachments and
visibility; the RSS (`/@user.rss`) has only the account's own public posts, without boosts and
usually without images. We use the API and fall back to RSS when the instance refuses
unauthenticated API access (401/403/404 on the account lookup, e.g. "authorized fetch" or
limited-federation instances).

The stored URL is the profile, `https://instance/@user`; `[mastodon] scheme = "http"` lets tests
point it at a loopback instance (`mastodon:@user@127.0.0.1:PORT`).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlsplit

from connectors.feed import parse_iso
from connectors.http import FetchRequest, Fetcher
from connectors.sources import (SourceOptions, SourceTask, SpecError, batch_from_failure,
                                batch_from_fetch)
from guanxi.models import Batch, Entry, FeedMeta
from transforms.text import first_image, html_to_text

_SPEC = re.compile(r"^@?(?P<user>[A-Za-z0-9_.-]+)@(?P<host>(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+|localhost)"
                   r"(?P<port>:\d{1,5})?$")
VISIBLE = {"public", "unlisted"}  # never store followers-only or direct messages
API_REFUSED = {401, 403, 404}
PAGE = 40
JSON = (("Accept", "application/json"),)


class MastodonConnector:
    kind, network = "mastodon", True

    def resolve(self, value: str, spec: str, *, options: SourceOptions, base_dir: str | None) -> str:
        m = _SPEC.match(value.strip())
        if not m:
            raise SpecError(f"source: {spec!r}: expected mastodon:@user@instance")
        return f"{options.mastodon_scheme}://{m['host'].lower()}{m['port'] or ''}/@{m['user']}"

    async def read(self, task: SourceTask, fetcher: Fetcher | None) -> Batch:
        assert fetcher is not None
        parts = urlsplit(task.url)
        base, user = f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/").lstrip("@")
        lookup = await fetcher.fetch(FetchRequest(
            f"{base}/api/v1/accounts/lookup?acct={quote(user)}", headers=JSON))
        if lookup.status_code in API_REFUSED:
            rss = await fetcher.fetch(FetchRequest(f"{base}/@{user}.rss", etag=task.etag,
                                                   last_modified=task.last_modified))
            return _keep_url(batch_from_fetch(rss), task)
        if not lookup.ok or lookup.body is None:
            return _keep_url(batch_from_failure(lookup), task)
        try:
            account = json.loads(lookup.body)
            account_id = str(account["id"])
        except (ValueError, KeyError, TypeError):
            return Batch(status="failed", final_url=task.url, http_status=lookup.status_code,
                         error="mastodon: account lookup did not return an account")
        res = await fetcher.fetch(FetchRequest(
            f"{base}/api/v1/accounts/{quote(account_id)}/statuses?exclude_replies=true&limit={PAGE}",
            etag=task.etag, last_modified=task.last_modified, headers=JSON))
        if not res.ok or res.body is None:
            return _keep_url(batch_from_failure(res), task)
        try:
            statuses = json.loads(res.body)
            if not isinstance(statuses, list):
                raise ValueError("not a list")
        except ValueError:
            return Batch(status="failed", final_url=task.url, http_status=res.status_code,
                         error="mastodon: statuses are not a JSON list")
        entries, hidden = parse_statuses(statuses)
        meta = FeedMeta(title=_str(account.get("display_name")) or _str(account.get("acct")),
                        link=_str(account.get("url")), etag=res.headers.get("etag"),
                        last_modified=res.headers.get("last-modified"))
        return Batch(status="ok", entries=entries, meta=meta, final_url=task.url,
                     http_status=res.status_code, skipped_private=hidden)


def parse_statuses(statuses: list) -> tuple[list[Entry], int]:
    """Entries from API statuses (public/unlisted only); returns (entries, hidden count)."""
    entries, hidden = [], 0
    for st in statuses:
        if not isinstance(st, dict):
            continue
        if st.get("visibility") not in VISIBLE:
            hidden += 1
            continue
        boosted = st.get("reblog") if isinstance(st.get("reblog"), dict) else None
        shown = boosted or st  # a boost's own content is empty: read the boosted status
        html = _str(shown.get("content")) or ""
        text = html_to_text(html)
        warning = _str(shown.get("spoiler_text"))
        if warning:
            text = f"{warning}\n\n{text}".strip()
        entries.append(Entry(
            guid=_str(st.get("uri")) or _str(st.get("id")),
            url=_str(shown.get("url")) or _str(shown.get("uri")),
            title="",
            text=text,
            html=html or None,
            published_at=parse_iso(_str(st.get("created_at"))),
            author=_str((shown.get("account") or {}).get("acct")),
            image=_image(shown.get("media_attachments")) or first_image(html),
            lang=_str(shown.get("language")),
            is_repost=boosted is not None,
        ))
    return entries, hidden


def _image(media) -> str | None:
    for m in media if isinstance(media, list) else []:
        if isinstance(m, dict) and m.get("type") in ("image", "gifv"):
            return _str(m.get("url")) or _str(m.get("preview_url"))
    return None


def _keep_url(batch: Batch, task: SourceTask) -> Batch:
    """API URLs are derived from the profile: never adopt their redirects as the source URL."""
    batch.final_url, batch.permanent_redirect = task.url, False
    return batch


def _str(value) -> str | None:
    return value if isinstance(value, str) and value else None


CONNECTOR = MastodonConnector()
