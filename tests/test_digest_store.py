"""The digest read from a store: its slim ranking query gives exactly the digest full posts give."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import pytest

from guanxi import store
from reports import digest

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
TOPICS = ("food", "tech", "work", "travel", "family", "园艺")
SIGNALS = ("congratulate", "offer_help", "check_in")


def _evidence(rng: random.Random):
    return rng.choice([None, [], ["a"], ["a", "b"], ["a", "b", "c"]])


@pytest.fixture(scope="module")
def seeded_store(tmp_path_factory):
    """Eight people, 120 posts over ten days: tied times, tied evidence counts, reposts, links."""
    rng = random.Random(10)
    path = tmp_path_factory.mktemp("digest-store") / "guanxi.duckdb"
    with store.write_window(path) as con:
        for i in range(1, 9):
            con.execute("INSERT INTO people (name, cadence_days, language) VALUES (?, ?, ?)",
                        [f"Person {i}", rng.choice([None, 1, 3, 14]), rng.choice([None, "en", "zh"])])
            con.execute("INSERT INTO sources (person_id, kind, spec, url) VALUES (?, 'feed', ?, ?)",
                        [i, f"s{i}", f"https://s{i}.example/feed"])
        for n in range(120):
            person = rng.randint(1, 8)
            hours = rng.choice([3, 3, 30, 30]) if n % 4 == 0 else rng.randint(1, 240)
            if person == 8:  # gone quiet: nothing for days, and a cadence of one day
                hours += 200
            published = (NOW - timedelta(hours=hours)).astimezone(timezone(timedelta(hours=8)))
            pid = f"p{n:03d}"
            con.execute("INSERT INTO posts (post_id, person_id, source_id, url, title, text, published_at, lang, "
                        "image, is_repost) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [pid, person, person, f"https://s{person}.example/{pid}", rng.choice(["", f"Title {n}"]),
                         f"Post {n} about Kyoto and the Lantern release. Second sentence.", published,
                         rng.choice(["en", "zh"]), None, n % 17 == 0])
            for topic in rng.sample(TOPICS, rng.randint(0, 4)):
                con.execute("INSERT INTO post_topics VALUES (?, ?, ?)", [pid, topic, _evidence(rng)])
            for signal in rng.sample(SIGNALS if person == 7 else SIGNALS[:2], rng.choice([0, 0, 0, 1, 2])):
                con.execute("INSERT INTO post_signals VALUES (?, ?, ?)", [pid, signal, _evidence(rng)])
            if n % 5 == 0:
                con.execute("INSERT INTO post_links (post_id, source_id, url, identity) VALUES (?, ?, ?, ?)",
                            [pid, person, f"https://elsewhere.example/{pid}", f"guid:{pid}"])
        con.execute("UPDATE people SET cadence_days = 1 WHERE person_id = 8")
        con.execute("INSERT INTO contacts VALUES (2, ?, 'met', NULL), (5, ?, 'call', NULL)",
                    [NOW - timedelta(days=20), NOW - timedelta(days=1)])
        con.execute("INSERT INTO favours VALUES (3, ?, 'received', 'Lent me a bike')", [NOW - timedelta(days=4)])
    return path


def _full_posts_everywhere(monkeypatch):
    """The plain way: every window post read in full, as the digest did before its slim query.

    (Each person's newest post is still read by time only; `_with_full_posts` reads the chosen.)
    """
    slim_reader = digest._facts_reader
    monkeypatch.setattr(digest, "_select_ranking_facts", digest._select_posts)
    monkeypatch.setattr(digest, "_facts_reader", lambda: lambda row: (
        digest._post(row) if len(row) == 13 else slim_reader()(row)))


def _build(path, **kw):
    with store.reader(path) as con:
        return digest.build_digest(con, day=date(2026, 11, 22), tz_name="Asia/Shanghai", now=NOW, **kw)


@pytest.mark.parametrize("kw", [{}, {"max_items": 40, "max_per_person": 5}, {"max_items": 40, "language": "zh"}])
def test_slim_ranking_query_gives_the_same_digest_as_full_posts(seeded_store, monkeypatch, kw):
    slim = _build(seeded_store, **kw)
    _full_posts_everywhere(monkeypatch)
    full = _build(seeded_store, **kw)
    assert len(slim.starters) >= min(8, kw.get("max_items", 10))
    assert {s.kind for s in slim.starters} == {"post", "introduce", "favour", "quiet"}
    assert slim == full
    assert all(s.post_excerpt for s in slim.starters if s.kind == "post")  # words come from the full posts


def test_ranking_facts_match_the_full_posts(seeded_store):
    where = "p.published_at <= ? AND NOT coalesce(p.is_repost, false)"
    order = "ORDER BY w.published_at DESC, w.post_id"
    with store.reader(seeded_store) as con:
        facts = [*map(digest._facts_reader(), con.execute(
            digest._select_ranking_facts(where, order=order), [NOW]).fetchall())]
        full = [digest._post(r) for r in con.execute(digest._select_posts(where, order=order), [NOW]).fetchall()]

    def ranked_on(p):
        return p.post_id, p.person_id, p.published_at, p.signals, p.topics, p.signal, p.main_topic

    assert [ranked_on(p) for p in facts] == [ranked_on(p) for p in full]
    assert any(len(p.topics) > 1 for p in full) and any(p.signal for p in full)
