"""The lxml fast path reads feeds exactly as feedparser does, wherever it engages."""

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from benchmarks.feeds import KINDS, render_feed
from connectors.fastfeed import needs_feedparser, parse_fast
from connectors.feed import _feedparser, make_entry
from guanxi.demo import SAMPLE_DIR, render_tokens
from tests.conftest import PEER_CORPUS
from tests.test_peer_corpus import declared_headers

FIELDS = ("guid", "url", "title", "text", "published_at", "image", "author")
BASE = "http://127.0.0.1:8000/feeds/feed.xml"


def both(body: bytes, content_type: str, url: str = BASE):
    fast = parse_fast(body, content_type=content_type, url=url)
    if fast is None:
        return None
    slow = _feedparser(body, content_type=content_type, url=url)
    return ([make_entry(*r, url) for r in fast[1]], [make_entry(*r, url) for r in slow[1]],
            fast[0], slow[0])


def differences(body: bytes, content_type: str, url: str = BASE) -> list[str]:
    got = both(body, content_type, url)
    if got is None:
        return []
    fast, slow, fmeta, smeta = got
    if len(fast) != len(slow):
        return [f"{len(fast)} entries vs {len(slow)}"]
    out = [f"feed title {fmeta.title!r} vs {smeta.title!r}"] if fmeta.title != smeta.title else []
    for i, (a, b) in enumerate(zip(fast, slow)):
        out += [f"entry {i} {k}: {getattr(a, k)!r} vs {getattr(b, k)!r}"
                for k in FIELDS if getattr(a, k) != getattr(b, k)]
    return out


def test_peer_corpus_fast_path_equals_feedparser():
    if not PEER_CORPUS.is_dir():
        pytest.skip(f"peer corpus not found at {PEER_CORPUS}")
    engaged, diffs = 0, {}
    for path in sorted(p for p in PEER_CORPUS.rglob("*") if p.is_file() and p.suffix != ".json"):
        body = path.read_bytes()
        ct = declared_headers(body).get("content-type", "application/xml")
        if parse_fast(body, content_type=ct, url=BASE) is None:
            continue
        engaged += 1
        if d := differences(body, ct):
            diffs[str(path.relative_to(PEER_CORPUS))] = d
    assert engaged >= 150  # the common shapes do take the fast path
    assert diffs == {}


@pytest.mark.parametrize("path", sorted((SAMPLE_DIR / "feeds").glob("*.[xa]*")), ids=lambda p: p.name)
def test_bundled_sample_feeds_take_the_fast_path_unchanged(path):
    body = render_tokens(path.read_text(encoding="utf-8"), datetime.now(timezone.utc)).encode()
    assert parse_fast(body, content_type="application/xml", url=BASE) is not None
    assert differences(body, "application/xml") == []


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "jsonfeed"])
def test_benchmark_shapes_take_the_fast_path_unchanged(kind):
    body, ct = render_feed(kind, 3, 20)
    assert parse_fast(body, content_type=ct, url=BASE) is not None
    assert differences(body, ct) == []


@pytest.mark.parametrize("body, ct", [
    (b'<?xml version="1.0" encoding="gbk"?><rss version="2.0"><channel><item><title>x</title></item></channel></rss>',
     "application/xml"),
    (b'<rss version="2.0"><channel><item><title>x</title></item></channel></rss>', "application/xml; charset=big5"),
    (b'<rss version="2.0"><channel><item><title>x</title></item></channel></rss>', "text/xml"),
    (b'<!DOCTYPE rss [<!ENTITY e "boom">]><rss version="2.0"><channel><item><title>&e;</title></item></channel></rss>',
     "application/xml"),
    (b'<rss version="2.0"><channel><item><title>x</title><description>&lt;script&gt;x&lt;/script&gt;</description>'
     b'</item></channel></rss>', "application/xml"),
    (b'<rss version="2.0"><channel><item><title>x</title><xhtml:body xmlns:xhtml="http://www.w3.org/1999/xhtml">'
     b'<p>y</p></xhtml:body></item></channel></rss>', "application/xml"),
    (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
     b'<item><title>x</title></item></rdf:RDF>', "application/xml"),
    (b'<rss version="2.0"><channel><item><title>x</title><pubDate>someday</pubDate></item></channel></rss>',
     "application/xml"),
    (b'<rss version="2.0"><channel><item><title>unclosed</channel></rss>', "application/xml"),
])
def test_declines_what_feedparser_must_read(body, ct):
    assert parse_fast(body, content_type=ct, url=BASE) is None


# The single alternation the fast path used before: needs_feedparser must answer as it did.
ONE_PATTERN = re.compile(
    rb"\xc2[\x80-\x9f]|&#(?:12[89]|1[3-5]\d|x[89][0-9a-f]);"
    rb"|(?:<|&lt;|&#60;)\s*/?\s*(?:script|style|embed|object|applet|iframe|frameset|frame)\b", re.I)


@pytest.mark.parametrize("snippet", [
    b"<p>plain</p>", b"<description>x</description>", b"\xc2\x85", b"\xc2\xa0", b"&#128;", b"&#127;",
    b"&#x9F;", b"&#xA0;", b"&#150;", b"< / SCRIPT>", b"&LT;iframe src=x&gt;", b"&#60; style", b"<frameset>",
    b"<framework>", b"<scripts>", b"&lt;embedded&gt;", b"<object", b"&amp;lt;script", b"<\n/applet ",
])
def test_needs_feedparser_answers_as_the_single_pattern_did(snippet):
    body = b"<rss><channel><item><title>t</title><description>" + snippet + b"</description></item></channel></rss>"
    assert needs_feedparser(body) == bool(ONE_PATTERN.search(body))


def test_needs_feedparser_answers_as_the_single_pattern_did_on_the_corpora():
    bodies = [render_feed(kind, n, 20)[0] for kind in KINDS for n in range(3)]
    # A feed with active content, so both answers occur without the peer corpus too.
    bodies.append(bodies[0].replace(b"</description>", b"&lt;script&gt;alert(1)&lt;/script&gt;</description>", 1))
    if PEER_CORPUS.is_dir():
        bodies += [p.read_bytes() for p in sorted(PEER_CORPUS.rglob("*")) if p.is_file()]
    assert sum(bool(ONE_PATTERN.search(b)) for b in bodies) > 0  # both answers occur
    assert [needs_feedparser(b) for b in bodies] == [bool(ONE_PATTERN.search(b)) for b in bodies]
