"""Source specs (what the user writes in the roster) and fetching every source of a run.

A spec is a plain URL or `kind:rest` (mastodon:@user@instance, bsky:handle, rsshub:/route,
export:path). `resolve_spec` turns it into a kind and the URL (or path) to read;
`fetch_all` fetches all network sources concurrently on one client and parses each into a
`Batch`. A failure in one source is a `Batch(status="failed")`, never an exception.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

from connectors.http import FetchLimits, FetchRequest, FetchResult, Fetcher
from guanxi.errors import GuanxiError
from guanxi.models import Batch, FeedMeta

_MASTODON = re.compile(r"^@?(?P<user>[A-Za-z0-9_.-]+)@(?P<host>[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?)$")
_BSKY = re.compile(r"^@?(?P<handle>[A-Za-z0-9.-]+\.[A-Za-z0-9-]+|did:plc:[a-z0-9]+)$")


class SpecError(GuanxiError, ValueError):
    """A source spec that cannot be understood; one line naming the spec."""


@dataclass(frozen=True, slots=True)
class ResolvedSpec:
    kind: str  # feed | mastodon | bsky | rsshub | export
    url: str   # http(s) URL to fetch, or a filesystem path for exports


def resolve_spec(spec: str, *, rsshub_base_url: str = "https://rsshub.app",
                 base_dir: str | None = None) -> ResolvedSpec:
    """Understand a roster feed entry."""
    spec = spec.strip()
    lower = spec.lower()
    if lower.startswith(("http://", "https://")):
        return ResolvedSpec("feed", spec)
    kind, sep, rest = spec.partition(":")
    kind = kind.lower()
    if not sep or not rest:
        raise SpecError(f"source: cannot understand {spec!r}: expected a URL or kind:value")
    if kind == "mastodon":
        m = _MASTODON.match(rest)
        if not m:
            raise SpecError(f"source: {spec!r}: expected mastodon:@user@instance")
        return ResolvedSpec("mastodon", f"https://{m['host']}/@{m['user']}.rss")
    if kind == "bsky":
        m = _BSKY.match(rest)
        if not m:
            raise SpecError(f"source: {spec!r}: expected bsky:handle (e.g. bsky:alice.bsky.social)")
        return ResolvedSpec("bsky", f"https://bsky.app/profile/{m['handle']}/rss")
    if kind == "rsshub":
        if not rest.startswith("/"):
            raise SpecError(f"source: {spec!r}: expected rsshub:/route (e.g. rsshub:/weibo/user/123)")
        return ResolvedSpec("rsshub", rsshub_base_url.rstrip("/") + rest)
    if kind == "export":
        from pathlib import Path

        p = Path(rest).expanduser()
        if not p.is_absolute() and base_dir:
            p = Path(base_dir) / p
        return ResolvedSpec("export", str(p))
    raise SpecError(f"source: unknown kind {kind!r} in {spec!r} (use a URL, mastodon:, bsky:, rsshub: or export:)")


@dataclass(frozen=True, slots=True)
class SourceTask:
    """What to read for one source, with the validators from its last successful fetch."""

    source_id: int
    kind: str
    url: str
    etag: str | None = None
    last_modified: str | None = None


def fetch_all(tasks: Sequence[SourceTask], limits: FetchLimits = FetchLimits()) -> dict[int, Batch]:
    """Read every source (network ones concurrently on one client); a Batch per source id."""
    return asyncio.run(fetch_all_async(tasks, limits))


async def fetch_all_async(tasks: Sequence[SourceTask], limits: FetchLimits = FetchLimits()
                          ) -> dict[int, Batch]:
    out: dict[int, Batch] = {}
    network = [t for t in tasks if t.kind != "export"]
    for t in tasks:
        if t.kind == "export":
            out[t.source_id] = read_export_source(t)
    if network:
        async with Fetcher(limits) as fetcher:
            results = await fetcher.fetch_many(
                [FetchRequest(t.url, etag=t.etag, last_modified=t.last_modified) for t in network])
        for t, r in zip(network, results):
            out[t.source_id] = batch_from_fetch(r)
    return out


def batch_from_fetch(result: FetchResult) -> Batch:
    """Turn an HTTP result into a Batch: parse bytes, or record why there is nothing."""
    from connectors.feed import FeedError, parse_feed

    common = dict(final_url=result.final_url, permanent_redirect=result.permanent_redirect,
                  http_status=result.status_code, retry_after_s=result.retry_after_s)
    if result.not_modified:
        return Batch(status="not_modified", **common)
    if result.error:
        status = "gone" if result.status_code == 410 else "failed"
        return Batch(status=status, error=result.error, **common)
    assert result.body is not None
    try:
        meta, entries = parse_feed(result.body, content_type=result.content_type,
                                   url=result.final_url)
    except FeedError as exc:
        return Batch(status="failed", error=str(exc), **common)
    except Exception as exc:  # a parser bug must not fail the run; record it loudly
        return Batch(status="failed", error=f"parse: unexpected {type(exc).__name__}: {exc}"[:300], **common)
    meta = FeedMeta(title=meta.title, link=meta.link, etag=result.headers.get("etag"),
                    last_modified=result.headers.get("last-modified"))
    return Batch(status="ok", entries=entries, meta=meta, **common)


def read_export_source(task: SourceTask) -> Batch:
    """Read a platform export file/folder/zip; any problem becomes a failed Batch."""
    try:
        from connectors.exports import read_export
    except ImportError:
        return Batch(status="failed", error="export: export files are not supported in this build")
    try:
        return read_export(task.url)
    except ValueError as exc:
        return Batch(status="failed", error=str(exc).splitlines()[0])
    except OSError as exc:
        return Batch(status="failed", error=f"export: cannot read {task.url}: {exc.strerror or exc}")
