"""The ingest pipeline as plain functions: roster -> due sources -> fetch -> identify -> tag -> store.

Reads top to bottom like Miniflux's handler. The store is held only in short write windows: one
to plan, then one per wave of fetched posts (fetch outcomes with their posts), none of which
waits on the network, so a slow feed never blocks anyone else.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from connectors.http import FetchLimits
from connectors.sources import (SourceOptions, SourceTask, SpecError, entry_stamp, fetch_in_processes,
                                fetch_streaming, resolve_spec)
from guanxi import store
from guanxi.config import Config, IngestConfig, PersonConfig
from guanxi.limits import cap_entries, capped_note, record_notes
from guanxi.memory import gc_paused
from guanxi.privacy import prune_expired, redact_url, restore_secrets
from guanxi.testhooks import pause_point
from guanxi.models import Batch, Entry
from transforms.identity import content_hashes, identity_key, post_id
from transforms.lang import detect_lang

BACKOFF_BASE = timedelta(minutes=5)
BACKOFF_MAX = timedelta(hours=24)


@dataclass(slots=True)
class IngestSummary:
    sources_ok: int = 0
    sources_not_modified: int = 0
    sources_failed: int = 0
    sources_skipped: int = 0
    posts_new: int = 0
    posts_updated: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # person, url, error

    def line(self) -> str:
        return (f"sources: {self.sources_ok} ok, {self.sources_not_modified} not modified, "
                f"{self.sources_failed} failed"
                + (f", {self.sources_skipped} waiting to retry" if self.sources_skipped else "")
                + f"; posts: {self.posts_new} new, {self.posts_updated} updated")


PEOPLE_COLUMNS = ["name", "grp", "aliases", "email", "cadence_days", "language", "notes", "origin"]


def sync_roster(con, people: Iterable[PersonConfig], *, rsshub_base_url: str,
                base_dir: str | None, say: Callable[[str], None],
                options: SourceOptions | None = None) -> None:
    """Bring the config's roster into the store (add or update; never delete).

    Reads people and sources once and writes only what differs, so a roster of thousands
    costs a few statements, not a few per person.
    """
    people = list(people)
    known = {r[0]: r[1:] for r in con.execute(
        "SELECT name, person_id, grp, aliases, email, cadence_days, language, notes FROM people").fetchall()}
    fresh: dict[str, PersonConfig] = {}
    for p in people:
        want = (p.group, list(p.aliases), p.email, p.cadence_days, p.language, p.notes)
        have = known.get(p.name)
        if have is None:
            fresh.setdefault(p.name, p)
        # None in the config means "keep what is stored" (upsert_person coalesces it).
        elif any(w is not None and w != h for w, h in zip(want, have[1:])):
            pid, _ = store.upsert_person(con, name=p.name, origin="config", grp=p.group,
                                         aliases=p.aliases, email=p.email,
                                         cadence_days=p.cadence_days, language=p.language,
                                         notes=p.notes)
            known[p.name] = (pid, *want)
    if fresh:  # a new roster of thousands: one insert, not one statement per person
        store.bulk_insert(con, "people", PEOPLE_COLUMNS,
                          [[p.name, p.group, list(p.aliases), p.email, p.cadence_days, p.language,
                            p.notes, "config"] for p in fresh.values()])
        with store.rows_view(con, "_fresh", ["name"], [[name] for name in fresh]):
            known.update({name: (pid,) for name, pid in con.execute(
                "SELECT name, person_id FROM people WHERE name IN (SELECT name FROM _fresh)").fetchall()})
    have_sources = set(con.execute("SELECT person_id, spec FROM sources").fetchall())
    new_sources = []
    for p in people:
        pid = known[p.name][0]
        for spec in p.feeds:
            try:
                resolved = resolve_spec(spec, rsshub_base_url=rsshub_base_url, base_dir=base_dir,
                                        options=options)
            except SpecError as exc:
                say(f"roster: {p.name}: {exc}")
                continue
            # Credentials in a roster URL stay in the config: the store keeps the redacted form.
            key = (pid, redact_url(spec))
            if key not in have_sources:
                have_sources.add(key)
                new_sources.append([pid, resolved.kind, key[1], redact_url(resolved.url)])
    store.bulk_insert(con, "sources", ["person_id", "kind", "spec", "url"], new_sources)


def sync_config_roster(con, config: Config, say: Callable[[str], None]) -> None:
    """sync_roster with everything it needs taken from the config."""
    sync_roster(con, config.people, rsshub_base_url=config.rsshub_base_url,
                base_dir=str(config.path.parent) if config.path else None, say=say,
                options=config.source_options)


def due_tasks(sources: Iterable[store.SourceRow], now: datetime) -> tuple[list[SourceTask], int]:
    """Sources to read now: not gone, and past their back-off time."""
    tasks, waiting = [], 0
    for s in sources:
        if s.status == "gone":
            continue
        if s.next_attempt_at is not None and s.next_attempt_at > now:
            waiting += 1
            continue
        tasks.append(SourceTask(s.source_id, s.kind, s.url, s.etag, s.last_modified))
    return tasks, waiting


@dataclass(frozen=True, slots=True)
class PostRecord:
    post_id: str
    person_id: int
    source_id: int
    entry: Entry
    key: str
    content_hash: str
    lang: str
    published_at: datetime
    text_hash: str  # content_hash("", text): the same words from another source are one post


def records_for(batch: Batch, *, source: store.SourceRow, now: datetime,
                language_hint: str | None = None) -> list[PostRecord]:
    """Give each entry its identity; a feed that repeats one guid keeps its items apart."""
    out: dict[str, PostRecord] = {}
    for entry in batch.entries:
        if entry.visibility != "public":
            continue
        if not (entry.title or entry.text):
            continue
        key = identity_key(entry)
        chash, text_hash = content_hashes(entry.title, entry.text)
        pid = post_id(source.person_id, key)
        if pid in out and out[pid].content_hash != chash:
            # Same guid, different item: fall back to URL + content so neither is lost.
            key = f"{key}#{chash[:12]}"
            pid = post_id(source.person_id, key)
        out[pid] = PostRecord(
            post_id=pid, person_id=source.person_id, source_id=source.source_id, entry=entry,
            key=key, content_hash=chash,
            lang=entry.lang[:2].lower() if entry.lang and entry.lang[:2].lower() in ("zh", "en")
            # Tags made in the parse pool already hold the language of the same text.
            else entry.tags.lang if entry.tags is not None
            else detect_lang(f"{entry.title}\n{entry.text}"),
            published_at=entry.published_at or now, text_hash=text_hash,
        )
    return list(out.values())


def _backoff(error_count: int, retry_after_s: float | None) -> timedelta:
    delay = min(BACKOFF_BASE * (2 ** max(0, error_count - 1)), BACKOFF_MAX)
    if retry_after_s is not None:
        delay = max(delay, timedelta(seconds=min(retry_after_s, BACKOFF_MAX.total_seconds())))
    return delay


# A fetch outcome's columns with their SQL types (record_fetches casts the JSON it is sent).
FETCH_SCHEMA = {"source_id": "INTEGER", "status": "VARCHAR", "last_error": "VARCHAR",
                "error_count": "INTEGER", "next_attempt_at": "TIMESTAMPTZ", "http_status": "INTEGER",
                "last_fetched_at": "TIMESTAMPTZ", "last_ok_at": "TIMESTAMPTZ", "etag": "VARCHAR",
                "last_modified": "VARCHAR", "url": "VARCHAR", "redirect_seen": "VARCHAR", "title": "VARCHAR"}


def fetch_outcome(source: store.SourceRow, batch: Batch, now: datetime,
                  say: Callable[[str], None]) -> list:
    """What a fetch taught us about its source, as a row of FETCH_SCHEMA's columns (None: keep)."""
    if batch.status in ("ok", "not_modified"):
        new_url, seen = source.url, None
        if batch.permanent_redirect and batch.final_url and batch.final_url != source.url:
            if source.redirect_seen == batch.final_url:
                new_url = batch.final_url  # seen on two consecutive fetches: adopt it
                say(f"source {source.source_id}: moved permanently to {new_url}; URL updated")
            else:
                seen = batch.final_url
        return [source.source_id, "ok", None, 0, None, batch.http_status, now, now,
                batch.meta.etag, batch.meta.last_modified, new_url, seen, batch.meta.title]
    count = source.error_count + 1
    next_at = None if batch.status == "gone" else now + _backoff(count, batch.retry_after_s)
    return [source.source_id, batch.status, batch.error, count, next_at, batch.http_status, now,
            None, None, None, source.url, source.redirect_seen, None]


def record_fetches(con, outcomes: list[list]) -> None:
    """Write every source's fetch outcome in one statement.

    The rows cross as one JSON text (parsed in C by DuckDB), not as an Arrow table: a re-check
    that hears only 304s has nothing else to write, and an Arrow table would first import
    pyarrow and its dataset module, ~0.15 CPU-s, as much as fetching 1,000 feeds.
    """
    if not outcomes:
        return
    typed = ", ".join(f"r[{i}]::{t} AS {c}" for i, (c, t) in enumerate(FETCH_SCHEMA.items(), 1))
    con.execute(f"""
        UPDATE sources SET status = f.status, last_error = f.last_error,
               error_count = f.error_count, next_attempt_at = f.next_attempt_at,
               http_status = f.http_status, last_fetched_at = f.last_fetched_at,
               last_ok_at = coalesce(f.last_ok_at, sources.last_ok_at),
               etag = coalesce(f.etag, sources.etag),
               last_modified = coalesce(f.last_modified, sources.last_modified),
               url = f.url, redirect_seen = f.redirect_seen,
               title = coalesce(f.title, sources.title)
        FROM (SELECT {typed} FROM (SELECT unnest(from_json(?::JSON, '[["VARCHAR"]]')) AS r)) f
        WHERE sources.source_id = f.source_id""", [json.dumps(outcomes, default=datetime.isoformat)])


SAME_TEXT_WINDOW = timedelta(days=3)  # the same words twice within this span are one post
SAME_TEXT_MIN_CHARS = 12              # shorter texts ("Good morning!") repeat innocently


def save_posts(con, records: list[PostRecord], now: datetime, *, taxonomy=None) -> tuple[int, int]:
    """Insert new posts, update edited ones in place (and re-tag them), link duplicates seen on
    other sources to one post; return (new, updated)."""
    if not records:
        return 0, 0
    from transforms.tagging import load_taxonomy, tag_post, taxonomy_fingerprint

    text_hashes = {r.post_id: r.text_hash for r in records}
    with store.rows_view(con, "_incoming", ["source_id", "identity", "post_id", "text_hash"],
                         [[r.source_id, r.key, r.post_id, text_hashes[r.post_id]] for r in records]):
        links = {(sid, key): pid for sid, key, pid in con.execute(
            """SELECT l.source_id, l.identity, l.post_id FROM post_links l
               JOIN _incoming i ON i.source_id = l.source_id AND i.identity = l.identity""").fetchall()}
        existing = {pid: (chash, sid) for pid, chash, sid in con.execute(
            """SELECT p.post_id, p.content_hash, p.source_id FROM posts p
               WHERE p.post_id IN (SELECT post_id FROM _incoming)
                  OR p.post_id IN (SELECT l.post_id FROM post_links l JOIN _incoming i
                                   ON i.source_id = l.source_id AND i.identity = l.identity)""").fetchall()}
        # Posts with the same words by the same people: candidates for "one post, two links".
        same_text: dict[tuple[int, str], list[tuple[str, int, datetime]]] = {}
        for pid, person, sid, th, when in con.execute(
                """SELECT post_id, person_id, source_id, text_hash, published_at FROM posts
                   WHERE text_hash IN (SELECT text_hash FROM _incoming)""").fetchall():
            same_text.setdefault((person, th), []).append((pid, sid, when))

    new: dict[str, PostRecord] = {}
    changed: dict[str, PostRecord] = {}
    link_rows: list[list] = []
    for r in records:
        th = text_hashes[r.post_id]
        target = links.get((r.source_id, r.key)) or (r.post_id if r.post_id in existing or r.post_id in new
                                                    else _same_text_post(r, th, same_text))
        if target is None:  # a post nobody has seen: store it
            new[r.post_id] = r
            same_text.setdefault((r.person_id, th), []).append((r.post_id, r.source_id, r.published_at))
            target = r.post_id
        elif target in existing and existing[target][1] == r.source_id \
                and existing[target][0] != r.content_hash:
            changed[target] = r  # edited at its own source: update the row, never add one
        if (r.source_id, r.key) not in links:
            links[(r.source_id, r.key)] = target
            link_rows.append([target, r.source_id, r.entry.url, r.key, now])

    tax = taxonomy or load_taxonomy()
    fingerprint = taxonomy_fingerprint(tax)
    for pid, r in changed.items():
        e = r.entry
        con.execute(
            """UPDATE posts SET url = ?, title = ?, text = ?, lang = ?, content_hash = ?, text_hash = ?,
                   image = ?, is_repost = ?, updated_at = ?, tagged_with = ? WHERE post_id = ?""",
            [e.url, e.title, e.text, r.lang, r.content_hash, text_hashes[r.post_id], e.image,
             e.is_repost, now, fingerprint, pid])
    touched = {**{pid: r for pid, r in new.items()}, **changed}
    if changed:
        with store.rows_view(con, "_changed", ["post_id"], [[pid] for pid in changed]):
            con.execute("DELETE FROM post_topics WHERE post_id IN (SELECT post_id FROM _changed)")
            con.execute("DELETE FROM post_signals WHERE post_id IN (SELECT post_id FROM _changed)")
    post_rows, topic_rows, signal_rows = [], [], []
    for pid, r in touched.items():
        e = r.entry
        # Tags made while parsing (in the worker pool) count only if made with this taxonomy.
        tags = e.tags if e.tags is not None and e.tagged_with == fingerprint \
            else tag_post(e.title, e.text, taxonomy=tax)
        if pid in new:
            post_rows.append([pid, r.person_id, r.source_id, e.url, e.title, e.text, r.published_at,
                              r.lang, e.guid, r.key, r.content_hash, text_hashes[r.post_id], e.image,
                              e.is_repost, now, now, fingerprint])
        topic_rows += [[pid, t, list(tags.evidence.get(t, ()))] for t in tags.topics]
        signal_rows += [[pid, s, list(tags.evidence.get(s, ()))] for s in tags.signals]
    store.bulk_insert(con, "posts", ["post_id", "person_id", "source_id", "url", "title", "text",
                                     "published_at", "lang", "guid", "identity", "content_hash", "text_hash",
                                     "image", "is_repost", "fetched_at", "updated_at", "tagged_with"],
                      post_rows)
    store.bulk_insert(con, "post_topics", ["post_id", "topic", "evidence"], topic_rows)
    store.bulk_insert(con, "post_signals", ["post_id", "signal", "evidence"], signal_rows)
    store.bulk_insert(con, "post_links", ["post_id", "source_id", "url", "identity", "first_seen_at"],
                      link_rows)
    return len(new), len(changed)


def _same_text_post(r: PostRecord, text_hash: str,
                    same_text: dict[tuple[int, str], list[tuple[str, int, datetime]]]) -> str | None:
    """A post by the same person with the same words from another source, posted about then."""
    if len(r.entry.text) < SAME_TEXT_MIN_CHARS or r.entry.is_repost:
        return None
    for pid, sid, when in same_text.get((r.person_id, text_hash), ()):
        if sid != r.source_id and abs(when - r.published_at) <= SAME_TEXT_WINDOW:
            return pid
    return None


@dataclass(slots=True)
class IngestPlan:
    """What one ingest run will fetch: the store's sources and the due ones among them."""
    now: datetime
    sources: dict[int, store.SourceRow]
    tasks: list[SourceTask]
    waiting: int


def plan_ingest(config: Config, *, now: datetime | None = None,
                say: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> IngestPlan:
    """Sync the roster into the store and pick the due sources (one short write window)."""
    now = now or store.now_utc()
    with store.write_window(config.store_path, wait_s=config.store_wait_s, say=say) as con:
        sync_config_roster(con, config, say)
        sources = {s.source_id: s for s in store.load_sources(con)}
        tasks, waiting = due_tasks(sources.values(), now)
        if in_workers(tasks):  # they tag what they read: tell them what is stored already
            tasks = with_known_entries(con, tasks)
    return IngestPlan(now, sources, restore_secrets(tasks, config), waiting)


def with_known_entries(con, tasks: list[SourceTask]) -> list[SourceTask]:
    """The tasks, each with the stamps of the entries stored from its source (identity and
    content hash), so the worker that reads a feed tags only its new and edited entries."""
    known: dict[int, set[int]] = {}
    with store.rows_view(con, "_due", ["source_id"], [[t.source_id] for t in tasks]):
        for sid, identity, chash in con.execute(
                """SELECT l.source_id, l.identity, p.content_hash FROM post_links l
                   JOIN posts p USING (post_id) WHERE l.source_id IN (SELECT source_id FROM _due)""").fetchall():
            known.setdefault(sid, set()).add(entry_stamp(identity, chash))
    return [replace(t, known=frozenset(known[t.source_id])) if t.source_id in known else t for t in tasks]


POOL_FROM_SOURCES = 64     # bodies to read before worker processes save more than they cost
STORE_EVERY_POSTS = 5_000  # posts fetched before they are stored in one short transaction


def fetch_limits(ic: IngestConfig) -> FetchLimits:
    return FetchLimits(read_s=ic.timeout_s, total_s=max(ic.timeout_s * 3, ic.timeout_s + 10),
                       max_bytes=ic.max_body_bytes, concurrency=ic.concurrency,
                       per_host=ic.per_host, user_agent=ic.user_agent)


def in_workers(tasks: list[SourceTask]) -> bool:
    """Whether `fetched` reads these in worker processes: many bodies to read, from
    POOL_FROM_SOURCES sources never read or without validators."""
    import multiprocessing

    bodies = sum(t.kind != "export" and not (t.etag or t.last_modified) for t in tasks)
    # A daemonic process (e.g. a Dask worker) may not start processes of its own.
    return bodies >= POOL_FROM_SOURCES and not multiprocessing.current_process().daemon


def fetched(tasks: list[SourceTask], ic: IngestConfig, *,
            taxonomy_path: str | None = None) -> Iterator[tuple[int, Batch]]:
    """Fetch sources concurrently, yielding (source_id, Batch) as each is ready (no store, no
    config file: safe on any worker), so the caller can store some while the rest are still on
    the network.

    Worker processes (one per core, or [ingest] parse_workers) fetch, parse and tag when there
    are many bodies to read: from POOL_FROM_SOURCES sources never read or without validators.
    A re-check of sources that all sent ETag or Last-Modified mostly hears 304s, and one client
    in this process answers those for about half the CPU (no processes to start, no taxonomy
    to load); its few changed feeds are parsed here and only their new posts tagged.
    """
    if not in_workers(tasks):
        yield from fetch_streaming(tasks, fetch_limits(ic))
        return
    yield from fetch_in_processes(tasks, fetch_limits(ic), workers=ic.parse_workers or os.cpu_count() or 1,
                                  taxonomy_path=taxonomy_path)


def fetch_sources(tasks: list[SourceTask], ic: IngestConfig, *,
                  taxonomy_path: str | None = None) -> dict[int, Batch]:
    """Every source's Batch at once (for a fetch task that runs elsewhere, e.g. on Dask)."""
    return dict(fetched(tasks, ic, taxonomy_path=taxonomy_path))


def in_waves(batches: Iterable[tuple[int, Batch]], posts: int) -> Iterator[dict[int, Batch]]:
    """Group fetched batches into waves of about `posts` entries (always at least one wave)."""
    wave: dict[int, Batch] = {}
    held = 0
    for sid, batch in batches:
        wave[sid] = batch
        held += len(batch.entries)
        if held >= posts:
            yield wave
            wave, held = {}, 0
    yield wave


# A wave makes tens of thousands of objects that live until its commit (records, rows): collections
# in between would scan them all and free nothing (~8 % of the storing process's CPU in a wave).
@gc_paused()
def store_batches(config: Config, plan: IngestPlan, batches: dict[int, Batch], *,
                  say: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
                  summary: IngestSummary | None = None, consume: bool = False) -> IngestSummary:
    """Record each fetch and save its posts in ONE transaction (search indexing comes later);
    counts go into `summary` (a new one unless given, so waves of one run add up). With
    `consume`, `batches` is emptied once its posts are inserted, before the commit: the wave's
    objects are gone when the checkpoint allocates (a task that may be retried keeps them).

    Validators (ETag, Last-Modified) are saved only together with the posts they vouch for: if
    the store stays busy and this gives up, nothing of these batches is written and the next
    run fetches them again, so nothing fetched is silently lost.
    """
    now = plan.now
    summary = summary or IngestSummary(sources_skipped=plan.waiting)
    records: list[PostRecord] = []
    notes: dict[int, str | None] = {}
    # In source order, not arrival order: when two sources of a wave carry the same post (one
    # post cross-posted to two platforms), the same one becomes the post, the other its link.
    for sid, batch in sorted(batches.items()):
        src = plan.sources[sid]
        if batch.status == "ok":
            summary.sources_ok += 1
            batch, dropped = cap_entries(batch, config.ingest.max_entries_per_feed)
            notes[sid] = capped_note(len(batch.entries), dropped) if dropped else None
            records += records_for(batch, source=src, now=now)
        elif batch.status == "not_modified":
            summary.sources_not_modified += 1
        else:
            summary.sources_failed += 1
            summary.failures.append((src.person, src.url, batch.error or batch.status))

    # One DuckDB thread: the fetching processes keep the cores busy meanwhile, and a second
    # thread only adds CPU (about 12 % more to store a wave, most of it in the checkpoint).
    with store.write_window(config.store_path, wait_s=config.store_wait_s, say=say, threads=1) as con:
        record_fetches(con, [fetch_outcome(plan.sources[sid], batch, now, say)
                             for sid, batch in batches.items()])
        record_notes(con, notes, say)
        new, updated = save_posts(con, records, now,
                                  taxonomy=_taxonomy(config) if records else None)
        summary.posts_new += new
        summary.posts_updated += updated
        if consume:
            records.clear()
            batches.clear()
        pause_point("store")  # test-only: a crash test kills the process here, mid-transaction
        prune_expired(con, config.retention_days, now)
    return summary


def _taxonomy(config: Config):
    from transforms.tagging import load_taxonomy  # imported only when there are posts to tag

    return load_taxonomy(config.taxonomy_path)


def fetch_and_store(config: Config, plan: IngestPlan, *,
                    say: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> IngestSummary:
    """Fetch the plan's sources and store them in waves as they arrive.

    Each wave is one short transaction (its sources' fetch outcomes with their posts) that
    waits on nothing but the CPU: the network is read by the fetching processes meanwhile, and
    what a run holds in memory is about one wave, however many sources there are.
    """
    summary = IngestSummary(sources_skipped=plan.waiting)
    batches = fetched(plan.tasks, config.ingest, taxonomy_path=taxonomy_path(config))
    for wave in in_waves(batches, STORE_EVERY_POSTS):
        store_batches(config, plan, wave, say=say, summary=summary, consume=True)
    return summary


def taxonomy_path(config: Config) -> str | None:
    return str(config.taxonomy_path) if config.taxonomy_path else None


def snapshot_after_ingest(config: Config, *, say: Callable[[str], None]) -> None:
    """Write the optional Parquet snapshot; a failure is reported, never fatal (the data is stored)."""
    if config.snapshot_dir is None:
        return
    import duckdb

    from guanxi.errors import GuanxiError
    from guanxi.snapshot import write_snapshot

    try:
        write_snapshot(config.store_path, config.snapshot_dir, wait_s=config.store_wait_s)
    except (OSError, GuanxiError, duckdb.Error) as exc:
        say(f"snapshot: not written to {config.snapshot_dir}: {str(exc).splitlines()[0]}")


def ingest(config: Config, *, now: datetime | None = None,
           say: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> IngestSummary:
    """Fetch every due source, store new and changed posts with their tags."""
    plan = plan_ingest(config, now=now, say=say)
    summary = fetch_and_store(config, plan, say=say)
    snapshot_after_ingest(config, say=say)
    return summary


def source_health(con) -> list[dict]:
    """One row per source: who, kind, URL, status, last error and post count (for reports)."""
    cur = con.execute(
        """SELECT s.source_id, p.name AS person, s.kind, s.url, s.status, s.http_status, s.error_count,
                  s.last_error, s.last_ok_at, count(po.post_id) AS posts
           FROM sources s JOIN people p USING (person_id)
           LEFT JOIN posts po ON po.source_id = s.source_id
           GROUP BY ALL ORDER BY p.name, s.source_id""")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


RETAG_BATCH = 2000  # posts re-tagged per store transaction


def retag(path, *, taxonomy=None, batch_size: int = RETAG_BATCH, force: bool = False,
          say=lambda msg: print(msg, file=sys.stderr)) -> int:
    """Re-apply the taxonomy to stored posts tagged with another fingerprint (all with force), in
    short store transactions of batch_size posts; returns how many posts were re-tagged."""
    from transforms.tagging import load_taxonomy, tag_post, taxonomy_fingerprint

    tax = taxonomy or load_taxonomy()
    fingerprint = taxonomy_fingerprint(tax)
    done = 0
    after = ""
    while True:
        # Keyset paging by post_id: each batch is read, tagged and written in one short window,
        # so a concurrent ingest waits at most one batch and an interrupted retag resumes cleanly.
        with store.write_window(path, say=say) as con:
            rows = con.execute(
                """SELECT post_id, coalesce(title, ''), coalesce(text, '') FROM posts
                   WHERE post_id > ? AND (? OR tagged_with IS DISTINCT FROM ?)
                   ORDER BY post_id LIMIT ?""", [after, force, fingerprint, batch_size]).fetchall()
            if not rows:
                return done
            topic_rows, signal_rows = [], []
            for pid, title, text in rows:
                tags = tag_post(title, text, taxonomy=tax)
                topic_rows += [[pid, t, list(tags.evidence.get(t, ()))] for t in tags.topics]
                signal_rows += [[pid, s, list(tags.evidence.get(s, ()))] for s in tags.signals]
            with store.rows_view(con, "_retag", ["post_id"], [[pid] for pid, _, _ in rows]):
                con.execute("DELETE FROM post_topics WHERE post_id IN (SELECT post_id FROM _retag)")
                con.execute("DELETE FROM post_signals WHERE post_id IN (SELECT post_id FROM _retag)")
                con.execute("UPDATE posts SET tagged_with = ? WHERE post_id IN (SELECT post_id FROM _retag)",
                            [fingerprint])
            store.bulk_insert(con, "post_topics", ["post_id", "topic", "evidence"], topic_rows)
            store.bulk_insert(con, "post_signals", ["post_id", "signal", "evidence"], signal_rows)
        done += len(rows)
        after = rows[-1][0]
