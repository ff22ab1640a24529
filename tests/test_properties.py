"""Property-based tests (deterministic seeds, a few hundred examples each) and a fuzz run of the
feed parsing entry point on mutated peer-corpus bytes."""

from __future__ import annotations

import random
import re
import time
import unicodedata
from datetime import timezone
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.feed import FeedError, parse_feed, parse_iso
from guanxi.config import ConfigError, parse_config
from guanxi.models import Entry
from guanxi.roster import OpmlError, parse_opml
from tests.conftest import PEER_CORPUS
from transforms.identity import (TRACKING_PARAMS, canonical_url, content_hash, content_hashes, identity_key,
                                post_id)
from transforms.text import join_url, normalise_space

FAST = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
safe = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=1, max_size=10)
urls = st.builds(
    lambda scheme, host, path, params, frag: f"{scheme}://{host}.example/{path}"
    + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "") + (f"#{frag}" if frag else ""),
    st.sampled_from(["http", "https", "HTTPS"]), safe, safe,
    st.lists(st.tuples(st.one_of(safe, st.sampled_from(sorted(TRACKING_PARAMS) + ["utm_source", "UTM_Medium"])),
                       safe), max_size=5),
    st.one_of(st.none(), safe))


@FAST
@given(urls)
def test_canonical_url_is_idempotent_and_drops_tracking(url):
    once = canonical_url(url)
    assert canonical_url(once) == once
    keys = [k.lower() for k, _ in parse_qsl(urlsplit(once).query, keep_blank_values=True)]
    assert not any(k.startswith("utm_") or k in TRACKING_PARAMS for k in keys)


@FAST
@given(st.one_of(st.none(), words), urls, words, words, st.integers(1, 10**6))
def test_post_id_is_stable_and_tracking_blind(guid, url, title, text, person):
    e = Entry(guid=guid, url=url, title=title, text=text, published_at=None)
    e2 = Entry(guid=guid, url=url + ("&" if "?" in url else "?") + "utm_source=x", title=title, text=text,
               published_at=None)
    key = identity_key(e)
    assert post_id(person, key) == post_id(person, identity_key(e))
    if not guid:
        assert identity_key(e2) == key  # a tracking parameter never makes a new post
    assert post_id(person, key) != post_id(person + 1, key)


_REFERENCE_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")


def reference_normalise_space(text: str) -> str:
    """normalise_space as it was first written: one regex over every run of spaces, per line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n")
    lines = (_REFERENCE_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n\s*\n+", "\n\n", "\n".join(lines)).strip()


# Every kind of space and line break Python knows, combining marks, CJK and letters.
spacey = st.text(alphabet=" \t\r\n\f\v\u00a0\u3000\u2003\u2028\x1c\x85ab中e\u0301", max_size=30)


url_parts = st.text(alphabet="ab.Z9-_~%!$&'()*+,=:@;?#[]/\\ \t\n\x00é", max_size=16)
any_url = st.one_of(st.builds(lambda scheme, rest: scheme + rest,
                              st.sampled_from(["https://", "http://", "HTTP://", "ftp://", "//", "/", ""]),
                              url_parts), url_parts)


@FAST
@given(st.one_of(st.none(), st.sampled_from(["", "https://h.example/feed/", "http://127.0.0.1:8/f?x=1",
                                             "HTTPS://H/a;p", "feed.xml"]), any_url), any_url)
def test_join_url_is_urljoin(base, url):
    def outcome(join):
        try:
            return join(base, url)
        except ValueError as exc:  # urljoin refuses some bracketed hosts: so must join_url
            return type(exc)
    assert outcome(join_url) == outcome(urljoin)


@FAST
@given(st.one_of(spacey, words), st.one_of(spacey, st.text(max_size=30)))
def test_content_hashes_are_the_two_content_hashes(title, text):
    assert content_hashes(title, text) == (content_hash(title, text), content_hash("", text))


@FAST
@given(st.one_of(spacey, st.text(max_size=30)))
def test_normalise_space_keeps_the_reference_result(text):
    assert normalise_space(text) == reference_normalise_space(text)


@FAST
@given(st.one_of(st.text(max_size=40), st.datetimes(timezones=st.none()).map(lambda d: d.isoformat()),
                 st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())))
def test_parse_iso_never_raises_and_is_utc(value):
    try:
        got = parse_iso(value)
    except OverflowError:
        pytest.fail(f"overflow on {value!r}")
    assert got is None or got.tzinfo == timezone.utc


@FAST
@given(st.one_of(st.text(max_size=40), st.datetimes(timezones=st.timezones()).map(
    lambda d: d.strftime("%a, %d %b %Y %H:%M:%S %z"))))
def test_rfc822_dates_via_the_feed_parser(value):
    doc = (f"<rss version='2.0'><channel><title>t</title><item><guid>g</guid><title>x</title>"
           f"<pubDate>{value.replace('<', '').replace('&', '')}</pubDate></item></channel></rss>").encode()
    try:
        _meta, entries = parse_feed(doc)
    except FeedError:
        return
    for e in entries:
        assert e.published_at is None or e.published_at.tzinfo == timezone.utc


opml_attr = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)


@st.composite
def opml_docs(draw):
    def outline(depth):
        kids = "".join(outline(depth + 1) for _ in range(draw(st.integers(0, 2)))) if depth < 4 else ""
        attrs = draw(st.lists(st.tuples(st.sampled_from(["title", "text", "xmlUrl", "type"]), opml_attr), max_size=3))
        a = " ".join(f'{k}="{v}"' for k, v in attrs)
        return f"<outline {a}>{kids}</outline>"
    body = "".join(outline(0) for _ in range(draw(st.integers(0, 3))))
    doc = f'<?xml version="1.0"?><opml version="2.0"><head/><body>{body}</body></opml>'.encode()
    if draw(st.booleans()):  # then break it somewhere
        cut = draw(st.integers(0, len(doc)))
        doc = doc[:cut] + draw(st.binary(max_size=8)) + doc[cut:]
    return doc


@FAST
@given(st.one_of(opml_docs(), st.binary(max_size=200)))
def test_parse_opml_raises_only_opml_error(data):
    try:
        people = parse_opml(data)
    except OpmlError as exc:
        assert str(exc).startswith("opml:") and "\n" not in str(exc)
        return
    assert all(p.name for p in people)


def test_deeply_nested_opml_is_not_a_crash():
    doc = b"<opml><body>" + b"<outline text='g'>" * 5000 + b"<outline text='x' xmlUrl='https://e.org/f'/>" \
        + b"</outline>" * 5000 + b"</body></opml>"
    assert [p.feeds for p in parse_opml(doc)] == [["https://e.org/f"]]


toml_scalars = st.one_of(st.text(max_size=10), st.integers(-5, 10**6), st.floats(allow_nan=False),
                         st.booleans(), st.lists(st.text(max_size=6), max_size=3))
KEYS = ["path", "wait_seconds", "retention_days", "recipient", "timezone", "send_at", "host", "port",
        "security", "name", "feeds", "every_minutes", "timeout_s", "max_entries_per_feed", "snapshot_dir"]
SECTIONS = ["store", "digest", "smtp", "ingest", "rsshub", "calendar", "people", "orchestration", "bogus"]
tables = st.dictionaries(st.sampled_from(KEYS), toml_scalars, max_size=4)
docs = st.dictionaries(st.sampled_from(SECTIONS),
                       st.one_of(tables, st.lists(tables, max_size=2), toml_scalars), max_size=4)


@FAST
@given(docs)
def test_parse_config_raises_only_config_error(data):
    try:
        parse_config(data, Path("/tmp/guanxi-prop/guanxi.toml"))
    except ConfigError as exc:
        assert str(exc).startswith("config:") and "\n" not in str(exc)


def fuzz_inputs() -> list[bytes]:
    base = PEER_CORPUS / "wellformed"
    if not base.is_dir():
        pytest.skip("peer corpus not present")
    files = sorted(p for p in base.rglob("*") if p.is_file())
    rng = random.Random(20261124)
    picks = rng.sample(files, 150)
    out = []
    for p in picks:
        data = bytearray(p.read_bytes())
        for _ in range(rng.randint(1, 12)):
            op, at = rng.random(), rng.randrange(len(data) + 1)
            if op < 0.4 and data:
                data[min(at, len(data) - 1)] = rng.randrange(256)
            elif op < 0.7:
                data[at:at] = rng.choice([b"<", b">", b"&", b"]]>", b"<![CDATA[", b"\x00", b"<!DOCTYPE x>",
                                          b"&#xD800;", b"\xff\xfe", "中文".encode(), b"<entry>", b"</item>"])
            else:
                del data[at:at + rng.randint(1, 40)]
        out.append(bytes(data))
    return out


def test_fuzz_parse_feed_on_mutated_corpus():
    for data in fuzz_inputs():
        start = time.monotonic()
        try:
            meta, entries = parse_feed(data)
        except FeedError as exc:
            assert str(exc).startswith("parse:")
        else:
            assert isinstance(entries, list)
        assert time.monotonic() - start < 10  # bounded: nothing here is near a real limit
