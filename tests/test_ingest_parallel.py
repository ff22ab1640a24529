"""Many sources: fetched, parsed and tagged in worker processes, stored in waves as they arrive."""

import os
import time

import connectors.sources
import guanxi.ingest
import transforms.tagging
from tests.ingest_helpers import make_config, query, run_ingest
from tests.loopback import static

SOURCES = guanxi.ingest.POOL_FROM_SOURCES + 6


def feed(n: int) -> str:
    items = "".join(f"<item><guid>f{n}-{i}</guid><title>News {n}.{i}</title>"
                    f"<description>I got promoted to team lead today! Entry {i} of feed {n}.</description>"
                    f"<pubDate>Fri, {10 + i:02d} Nov 2026 08:00:00 GMT</pubDate></item>" for i in range(3))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{n}</title>{items}</channel></rss>'


def many_feeds(tmp_path, server):
    for n in range(SOURCES):
        server.routes[f"/f{n}.xml"] = static(feed(n), etag=f'"e{n}"')
    return make_config(tmp_path, {f"Person {n}": [server.url(f"/f{n}.xml")] for n in range(SOURCES)},
                       extra="[ingest]\nparse_workers = 2\n")


def test_many_sources_are_tagged_in_workers_and_stored_in_waves(tmp_path, server, monkeypatch):
    cfg = many_feeds(tmp_path, server)
    waves, left = [], []
    store_batches = guanxi.ingest.store_batches

    def storing(config, plan, batches, **kw):
        waves.append(len(batches))
        summary = store_batches(config, plan, batches, **kw)
        left.append(len(batches))
        return summary

    monkeypatch.setattr(guanxi.ingest, "STORE_EVERY_POSTS", 40)
    monkeypatch.setattr(guanxi.ingest, "store_batches", storing)
    summary = run_ingest(cfg)
    assert (summary.sources_ok, summary.sources_failed, summary.posts_new) == (SOURCES, 0, 3 * SOURCES)
    assert len(waves) >= 5 and sum(waves) == SOURCES  # each source in exactly one wave
    assert left == [0] * len(waves)  # each wave let go once stored (before its commit's checkpoint)
    assert query(cfg, "SELECT count(*) FROM post_signals WHERE signal = 'congratulate'") == [(3 * SOURCES,)]
    assert query(cfg, "SELECT count(*) FROM sources WHERE etag IS NOT NULL") == [(SOURCES,)]
    again = run_ingest(cfg)  # every wave saved its validators: the re-check is all conditional
    assert (again.sources_not_modified, again.posts_new) == (SOURCES, 0)


def test_a_recheck_is_read_in_this_process_and_tags_only_what_changed(tmp_path, server, monkeypatch):
    """Sources that all hold validators mostly answer 304: one client here, no worker processes;
    a feed that did change is parsed here and only its new post is tagged."""
    cfg = many_feeds(tmp_path, server)
    run_ingest(cfg)
    server.routes["/f0.xml"] = static(feed(0).replace("<item>", "<item><guid>f0-new</guid><title>Moving"
                                                      "</title><description>We are moving to Shanghai next"
                                                      " month, any tips?</description></item><item>", 1),
                                      etag='"e0-2"')
    monkeypatch.setattr(guanxi.ingest, "fetch_in_processes", lambda *a, **kw: 1 / 0)
    tagged = []
    tag_post = transforms.tagging.tag_post
    monkeypatch.setattr(transforms.tagging, "tag_post", lambda title, text, **kw: tagged.append(title)
                        or tag_post(title, text, **kw))
    again = run_ingest(cfg)
    assert (again.sources_ok, again.sources_not_modified, again.posts_new) == (1, SOURCES - 1, 1)
    assert tagged == ["Moving"]
    assert query(cfg, "SELECT s.signal FROM posts p JOIN post_signals s USING (post_id) "
                      "WHERE p.title = 'Moving'") == [("offer_help",)]


def test_a_fetch_process_that_dies_fails_its_sources_not_the_run(tmp_path, server, monkeypatch):
    cfg = many_feeds(tmp_path, server)
    monkeypatch.setattr(connectors.sources, "_fetch_process", lambda *args: os._exit(3))
    summary = run_ingest(cfg)
    assert (summary.sources_ok, summary.sources_failed) == (0, SOURCES)
    assert "fetching process stopped" in summary.failures[0][2]
    monkeypatch.undo()
    retry = run_ingest(cfg)  # failed sources wait out a back-off; none was stored half-way
    assert query(cfg, "SELECT count(*) FROM posts") == [(0,)]
    assert retry.sources_skipped == SOURCES


def test_a_fetch_process_hands_over_to_a_spare_after_its_share(tmp_path, server, monkeypatch):
    cfg = many_feeds(tmp_path, server)
    share = 9
    monkeypatch.setattr(connectors.sources, "RECYCLE_AFTER_SOURCES", share)
    started = tmp_path / "started"
    started.mkdir()
    fetch_process = connectors.sources._fetch_process

    def recorded(tasks, taken, limits, tag, out, turn, quota):
        turn.wait()
        (started / str(os.getpid())).touch()
        fetch_process(tasks, taken, limits, tag, out, turn, quota)

    monkeypatch.setattr(connectors.sources, "_fetch_process", recorded)
    summary = run_ingest(cfg)
    assert (summary.sources_ok, summary.sources_failed, summary.posts_new) == (SOURCES, 0, 3 * SOURCES)
    assert query(cfg, "SELECT count(DISTINCT source_id) FROM posts") == [(SOURCES,)]
    assert len(list(started.iterdir())) == -(-SOURCES // share)  # each read its share, one at a time


def test_a_fetch_process_that_is_done_ends_by_itself_not_cut_off(tmp_path, server, monkeypatch):
    """Once a process has said it is done, the storing process waits for it to end: terminated
    then, what it does after its last batch (its clean-up, a benchmark's counters) would be lost."""
    cfg = many_feeds(tmp_path, server)
    ended = tmp_path / "ended"
    ended.mkdir()
    fetch_process = connectors.sources._fetch_process

    def slow_to_end(*args):
        fetch_process(*args)
        time.sleep(0.5)  # still busy after its None has been read
        (ended / str(os.getpid())).touch()

    monkeypatch.setattr(connectors.sources, "_fetch_process", slow_to_end)
    summary = run_ingest(cfg)
    assert (summary.sources_ok, summary.sources_failed) == (SOURCES, 0)
    assert len(list(ended.iterdir())) == 2  # both workers (parse_workers = 2) ended by themselves


def test_posts_cross_processes_as_constructor_calls_and_come_back_equal():
    import pickle
    from datetime import datetime, timezone

    from guanxi.models import Entry, Tags

    tags = Tags(("work",), ("congratulate",), "en", {"work": ("team",), "congratulate": ("promoted",)})
    entry = Entry("g1", "https://x/1", "Hi", "promoted", datetime(2026, 11, 1, tzinfo=timezone.utc),
                  image="https://x/i.jpg", lang="en", is_repost=True, tags=tags, tagged_with="fp")
    assert entry.__reduce__() == (Entry, ("g1", "https://x/1", "Hi", "promoted", entry.published_at, None,
                                          None, "https://x/i.jpg", "en", True, "public", tags, "fp"))
    back = pickle.loads(pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == entry and back.tags.evidence == tags.evidence


def test_workers_tag_only_the_entries_that_are_new_or_edited(tmp_path, server, monkeypatch):
    """Feeds without validators answer 200 every time: the workers skip the stored entries."""
    for n in range(SOURCES):
        server.routes[f"/f{n}.xml"] = static(feed(n))  # no ETag, no Last-Modified
    cfg = make_config(tmp_path, {f"Person {n}": [server.url(f"/f{n}.xml")] for n in range(SOURCES)},
                      extra="[ingest]\nparse_workers = 2\n")
    run_ingest(cfg)
    edited = feed(0).replace("Entry 1 of feed 0.", "Entry 1 of feed 0. My father passed away last week.")
    server.routes["/f0.xml"] = static(edited)
    seen = []
    in_processes = guanxi.ingest.fetch_in_processes
    monkeypatch.setattr(guanxi.ingest, "fetch_in_processes", lambda *a, **kw: (
        seen.append(item) or item for item in in_processes(*a, **kw)))
    again = run_ingest(cfg)
    tagged = [e.title for _, b in seen for e in b.entries if e.tags is not None]
    assert len(seen) == SOURCES and tagged == ["News 0.1"]
    assert (again.sources_ok, again.posts_new, again.posts_updated) == (SOURCES, 0, 1)
    assert ("check_in",) in query(cfg, "SELECT s.signal FROM posts p JOIN post_signals s USING (post_id) "
                                       "WHERE p.title = 'News 0.1'")  # its new tags stored
