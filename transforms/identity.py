"""A post's stable identity: guid, else canonical URL, else a content hash."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from guanxi.models import Entry

# Query parameters that only track the reader; removing them keeps a post's URL stable.
TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "spm",
                   "ref", "ref_src", "ref_url", "share_source", "share_medium", "from", "si",
                   "yclid", "_hsenc", "_hsmi", "mkt_tok", "wt.mc_id", "cmpid"}


def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme/host, drop fragments, default ports and tracking parameters."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))


def content_hash(title: str, text: str) -> str:
    """A hash of what a reader sees, to tell an edited post from an unchanged one."""
    return _digest(" ".join(f"{title}\n{text}".split()))


def content_hashes(title: str, text: str) -> tuple[str, str]:
    """(content_hash(title, text), content_hash("", text)), splitting the text into words once."""
    words, head = " ".join(text.split()), " ".join(title.split())
    return _digest(f"{head} {words}" if head and words else head or words), _digest(words)


def _digest(norm: str) -> str:
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:32]


def identity_key(entry: Entry) -> str:
    """guid, else canonical URL, else a hash of the content and date."""
    if entry.guid and entry.guid.strip():
        return "guid:" + entry.guid.strip()
    url = canonical_url(entry.url)
    if url:
        return "url:" + url
    stamp = entry.published_at.isoformat() if entry.published_at else ""
    return "hash:" + content_hash(entry.title, entry.text + stamp)


def post_id(person_id: int, key: str) -> str:
    """The store's post id: stable for the same person and identity, whichever source had it."""
    return hashlib.sha256(f"{person_id}\x00{key}".encode("utf-8")).hexdigest()[:20]
