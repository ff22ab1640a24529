"""Shared data shapes passed between stages (connectors -> transforms -> store -> reports).

Everything here is a plain frozen dataclass so stages stay pure functions that are easy to
test without a database or network.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter


def pickled_by_fields(cls):
    """Pickle instances as a call of the class with their fields, read in C: a frozen slotted
    dataclass otherwise pickles a state that unpickling sets field by field in Python (twice the
    cost for the posts that the fetching processes send to the storing one)."""
    values = attrgetter(*(f.name for f in fields(cls)))
    cls.__reduce__ = lambda self: (cls, values(self))
    return cls


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Entry:
    """One item exactly as a connector understood it, before identity and tagging.

    `text` is plain text (HTML already reduced to text); `html` is the raw content HTML as the
    feed carried it, kept only so later stages can pick out images and links; it is never put
    into the digest unsanitised. `published_at` is timezone-aware (UTC) or None if the feed gave
    no usable date.
    """

    guid: str | None
    url: str | None
    title: str
    text: str
    published_at: datetime | None
    html: str | None = None
    author: str | None = None
    image: str | None = None
    lang: str | None = None
    is_repost: bool = False
    visibility: str = "public"
    tags: "Tags | None" = None  # filled where parsing runs in worker processes (see ingest)
    tagged_with: str | None = None  # fingerprint of the taxonomy that produced `tags`


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What a connector learned about the feed itself."""

    title: str | None = None
    link: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(slots=True)
class Batch:
    """The result of fetching one source: entries plus HTTP/state facts to persist.

    `status` is one of: "ok", "not_modified", "failed", "gone". `error` is a one-line message
    that starts with the stage that raised it (e.g. "fetch: HTTP 500").
    """

    status: str
    entries: list[Entry] = field(default_factory=list)
    meta: FeedMeta = field(default_factory=FeedMeta)
    error: str | None = None
    final_url: str | None = None
    permanent_redirect: bool = False
    retry_after_s: float | None = None
    http_status: int | None = None
    skipped_private: int = 0


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Tags:
    """Topic and signal labels for one post, each with the words that triggered it."""

    topics: tuple[str, ...]
    signals: tuple[str, ...]
    lang: str
    evidence: dict[str, tuple[str, ...]] = field(default_factory=dict)
