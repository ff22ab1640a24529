"""The DuckDB store: schema, forward migrations, and every write (this module is the only writer).

DuckDB lets one process write a file at a time, and any other process holding the file (even
read-only) blocks it. So writers open the file only for short write windows (`write_window`),
and wait with bounded backoff when someone else holds it, saying so on stderr.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from guanxi.errors import GuanxiError
from guanxi.memory import trim_heap

# Each entry migrates the schema from version i to i+1. Append only; never edit a shipped one.
MIGRATIONS: list[str] = [
    # 1: the contract's tables plus the state fetching and the follow-up loop need.
    """
    CREATE SEQUENCE IF NOT EXISTS person_seq START 1;
    CREATE SEQUENCE IF NOT EXISTS source_seq START 1;
    CREATE TABLE people (
        person_id    INTEGER PRIMARY KEY DEFAULT nextval('person_seq'),
        name         VARCHAR NOT NULL UNIQUE,
        grp          VARCHAR,
        aliases      VARCHAR[] DEFAULT [],
        email        VARCHAR,
        cadence_days INTEGER,
        language     VARCHAR,
        notes        VARCHAR,
        origin       VARCHAR,            -- 'config' | 'opml' | 'cli'
        created_at   TIMESTAMPTZ DEFAULT current_timestamp
    );
    CREATE TABLE sources (
        source_id       INTEGER PRIMARY KEY DEFAULT nextval('source_seq'),
        person_id       INTEGER NOT NULL,
        kind            VARCHAR NOT NULL,  -- feed | mastodon | bsky | rsshub | export
        spec            VARCHAR NOT NULL,  -- as the user wrote it
        url             VARCHAR NOT NULL,  -- what is fetched now (may follow 301s)
        status          VARCHAR NOT NULL DEFAULT 'new',  -- new|ok|not_modified|failed|gone
        last_error      VARCHAR,
        error_count     INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TIMESTAMPTZ,
        etag            VARCHAR,
        last_modified   VARCHAR,
        http_status     INTEGER,
        last_fetched_at TIMESTAMPTZ,
        last_ok_at      TIMESTAMPTZ,
        redirect_seen   VARCHAR,           -- a 301/308 target seen once; adopted when seen twice
        title           VARCHAR,
        UNIQUE (person_id, spec)
    );
    CREATE TABLE posts (
        post_id      VARCHAR PRIMARY KEY,
        person_id    INTEGER NOT NULL,
        source_id    INTEGER NOT NULL,
        url          VARCHAR,
        title        VARCHAR,
        text         VARCHAR,
        published_at TIMESTAMPTZ,
        lang         VARCHAR,
        guid         VARCHAR,            -- the feed's own id for the item, if any
        identity     VARCHAR,            -- what makes it the same post: guid:, url: or hash:
        content_hash VARCHAR,
        image        VARCHAR,
        is_repost    BOOLEAN DEFAULT false,
        fetched_at   TIMESTAMPTZ,
        updated_at   TIMESTAMPTZ,
        tagged_with  VARCHAR
    );
    CREATE TABLE post_topics  (post_id VARCHAR NOT NULL, topic  VARCHAR NOT NULL, evidence VARCHAR[]);
    CREATE TABLE post_signals (post_id VARCHAR NOT NULL, signal VARCHAR NOT NULL, evidence VARCHAR[]);
    CREATE INDEX post_topics_post ON post_topics(post_id);
    CREATE INDEX post_signals_post ON post_signals(post_id);
    CREATE INDEX posts_published ON posts(published_at);
    CREATE TABLE contacts (
        person_id INTEGER NOT NULL, happened_at TIMESTAMPTZ NOT NULL, kind VARCHAR NOT NULL, note VARCHAR
    );
    CREATE TABLE favours (
        person_id INTEGER NOT NULL, happened_at TIMESTAMPTZ NOT NULL,
        direction VARCHAR NOT NULL,  -- gave | received
        what VARCHAR NOT NULL
    );
    CREATE TABLE starter_feedback (
        starter_id VARCHAR NOT NULL, person_id INTEGER, action VARCHAR NOT NULL, happened_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE digests (
        day DATE NOT NULL, recipient VARCHAR, html_path VARCHAR, text_path VARCHAR,
        message_id VARCHAR, rendered_at TIMESTAMPTZ, sent_at TIMESTAMPTZ, status VARCHAR
    );
    """,
    """
    -- ingest: post_links (every place a post was seen: one post, many links) and posts.text_hash
    CREATE TABLE post_links (
        post_id       VARCHAR NOT NULL,
        source_id     INTEGER NOT NULL,
        url           VARCHAR,
        identity      VARCHAR NOT NULL,  -- the item's identity key within its source
        first_seen_at TIMESTAMPTZ,
        UNIQUE (source_id, identity)
    );
    CREATE INDEX post_links_post ON post_links(post_id);
    INSERT INTO post_links SELECT post_id, source_id, url, coalesce(identity, post_id), fetched_at FROM posts;
    ALTER TABLE posts ADD COLUMN text_hash VARCHAR;
    """,
    """
    -- starters: starters as shown (so `done`/`skip` find them later) and what feedback covers
    CREATE TABLE starters_shown (
        starter_id VARCHAR PRIMARY KEY, day DATE NOT NULL, person_id INTEGER, kind VARCHAR NOT NULL,
        subject VARCHAR NOT NULL, post_ids VARCHAR[], other_person_id INTEGER, favour_what VARCHAR,
        text VARCHAR, shown_at TIMESTAMPTZ
    );
    ALTER TABLE starter_feedback ADD COLUMN subject VARCHAR;
    ALTER TABLE starter_feedback ADD COLUMN post_ids VARCHAR[];
    """,
    """
    -- flows: post_search, the segmented words full-text search indexes (see guanxi/search.py)
    CREATE TABLE post_search (
        post_id      VARCHAR PRIMARY KEY,
        content_hash VARCHAR,   -- the post's content_hash when segmented; a change means re-segment
        search_text  VARCHAR    -- jieba-segmented Chinese and lower-cased English, space-separated
    );
    """,
    """
    -- mail: why the last send of a day's digest failed (status 'failed'), for `guanxi sql`
    ALTER TABLE digests ADD COLUMN last_error VARCHAR;
    """,
    """
    -- hostile: sources.last_note, what a limit did on the last fetch (e.g. entries capped)
    ALTER TABLE sources ADD COLUMN last_note VARCHAR;
    """,
    """
    -- mem: the secondary indexes go. No query of Guanxi's scans them (DuckDB reads ranges and
    -- IN (SELECT ...) lists by scanning and hash joins), and each write window's checkpoint wrote
    -- them out again, in memory and CPU that grew with the store (docs/ingestion.md). The primary
    -- keys and UNIQUE constraints stay: they keep every post and link stored once.
    DROP INDEX IF EXISTS post_topics_post;
    DROP INDEX IF EXISTS post_signals_post;
    DROP INDEX IF EXISTS posts_published;
    DROP INDEX IF EXISTS post_links_post;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class StoreBusy(GuanxiError):
    """Another process held the store for longer than we were willing to wait."""


class StoreError(GuanxiError):
    """The store file is unusable (corrupt, newer schema, not a DuckDB file)."""


def _is_lock_error(exc: Exception) -> bool:
    msg = str(exc)
    return "lock" in msg.lower() and ("Conflicting" in msg or "Could not set lock" in msg)


# Rows per row group that a writer appends (DuckDB's default is 122,880). Each write window's
# checkpoint recompresses the table's last, growing row group; posts' long texts made that cost
# up to 1.3 CPU-s and +250 MB per window before a row group filled (docs/ingestion.md). A row
# group of two waves' posts keeps every checkpoint about as cheap as the first.
ROW_GROUP_ROWS = 10_240
STORE_ALIAS = "store"  # the catalog a writer attaches the file as (readers open it directly)


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """One DuckDB connection to the file. DuckDB takes the row group size only when a file is
    attached, never from the file itself, so a writer attaches it to an in-memory database."""
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    con = duckdb.connect()
    try:
        quoted = str(path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS {STORE_ALIAS} (ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
        con.execute(f"USE {STORE_ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def connect(path: Path, *, read_only: bool = False, wait_s: float = 60.0,
            say=lambda msg: print(msg, file=sys.stderr)) -> duckdb.DuckDBPyConnection:
    """Open the store, waiting with backoff (up to wait_s) while another process holds it."""
    if read_only and not path.exists():
        raise StoreError(f"store: {path} does not exist yet (run `guanxi ingest` first)")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    delay, told = 0.05, False
    while True:
        try:
            con = _open(path, read_only)
            break
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise StoreError(f"store: cannot open {path}: {str(exc).splitlines()[0]}") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreBusy(
                    f"store: {path} is held by another process ({_holder(exc)}); gave up after "
                    f"{wait_s:g} s. Nothing was written; close the other session and run again."
                ) from None
            if not told:
                say(f"store: {path} is held by another process ({_holder(exc)}); waiting up to "
                    f"{wait_s:g} s")
                told = True
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 2.0)
        except duckdb.Error as exc:
            raise StoreError(f"store: cannot open {path}: {str(exc).splitlines()[0]}") from None
    if not read_only:
        migrate(con)
    else:
        _check_version(con, path)
    return con


def _holder(exc: Exception) -> str:
    msg = str(exc)
    marker = "(PID "
    if marker in msg:
        return "PID " + msg.split(marker, 1)[1].split(")", 1)[0]
    return "lock conflict"


def _current_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "applied_at TIMESTAMPTZ DEFAULT current_timestamp)")
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def _check_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        v = con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0
    except duckdb.CatalogException:
        v = 0
    if v > SCHEMA_VERSION:
        raise StoreError(f"store: {path} has schema {v}, newer than this Guanxi ({SCHEMA_VERSION})")


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply pending forward migrations, each in its own transaction; return the new version."""
    version = _current_version(con)
    if version > SCHEMA_VERSION:
        raise StoreError(f"store: schema {version} is newer than this Guanxi ({SCHEMA_VERSION})")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(MIGRATIONS[target - 1])
            con.execute("INSERT INTO schema_migrations (version) VALUES (?)", [target])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


@contextlib.contextmanager
def write_window(path: Path, *, wait_s: float = 60.0, say=lambda msg: print(msg, file=sys.stderr),
                 threads: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short transaction on the store: commit on success, roll back on error, then close.
    `threads` caps DuckDB's threads for it (by default, one per core)."""
    con = connect(path, wait_s=wait_s, say=say)
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            give_back_memory()  # before the commit's checkpoint adds its own on top
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
        give_back_memory()


def give_back_memory() -> None:
    """Return to the system what the allocators keep of memory freed in a window: Arrow's
    (mimalloc) held about 40 MB of a 5,000-post wave's tables, glibc's the wave's texts once
    let go, both under the checkpoint that follows (docs/ingestion.md). A run that never
    imported pyarrow (a re-check that heard only 304s) skips Arrow's."""
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        pa.default_memory_pool().release_unused()
    trim_heap()


@contextlib.contextmanager
def reader(path: Path, *, wait_s: float = 60.0,
           say=lambda msg: print(msg, file=sys.stderr)) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection that is closed as soon as the block ends."""
    con = connect(path, read_only=True, wait_s=wait_s, say=say)
    try:
        yield con
    finally:
        con.close()


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def arrow_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]):
    """Rows as an Arrow table, the one way bulk data crosses into DuckDB.

    Binding Python values as statement parameters costs DuckDB a failed `import pandas` per
    value (measured: 90 % of a cold ingest); an Arrow table is scanned in C instead.
    """
    import pyarrow as pa

    data = zip(*rows) if rows else [()] * len(columns)  # rows to columns in C, not per value
    return pa.table({c: pa.array(values) for c, values in zip(columns, data)})


@contextlib.contextmanager
def rows_view(con: duckdb.DuckDBPyConnection, name: str, columns: Sequence[str],
              rows: Sequence[Sequence[Any]]) -> Iterator[str]:
    """Expose rows as a temporary view `name` for the block (for joins, IN lists, inserts)."""
    con.register(name, arrow_table(columns, rows))
    try:
        yield name
    finally:
        con.unregister(name)


def bulk_insert(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """Insert many rows in one statement from an Arrow table (never row by row)."""
    if not rows:
        return
    cols = ", ".join(columns)
    with rows_view(con, "_bulk_rows", columns, rows) as view:
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {view}")


# --- people and sources --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceRow:
    source_id: int
    person_id: int
    person: str
    kind: str
    spec: str
    url: str
    status: str
    etag: str | None
    last_modified: str | None
    error_count: int
    next_attempt_at: datetime | None
    redirect_seen: str | None


def upsert_person(con: duckdb.DuckDBPyConnection, *, name: str, origin: str,
                  grp: str | None = None, aliases: Sequence[str] = (), email: str | None = None,
                  cadence_days: int | None = None, language: str | None = None,
                  notes: str | None = None) -> tuple[int, bool]:
    """Insert or update a person by name; return (person_id, created)."""
    row = con.execute("SELECT person_id FROM people WHERE name = ?", [name]).fetchone()
    if row:
        con.execute(
            """UPDATE people SET grp = coalesce(?, grp), aliases = ?, email = coalesce(?, email),
               cadence_days = coalesce(?, cadence_days), language = coalesce(?, language),
               notes = coalesce(?, notes) WHERE person_id = ?""",
            [grp, list(aliases), email, cadence_days, language, notes, row[0]])
        return row[0], False
    pid = con.execute(
        """INSERT INTO people (name, grp, aliases, email, cadence_days, language, notes, origin)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING person_id""",
        [name, grp, list(aliases), email, cadence_days, language, notes, origin]).fetchone()[0]
    return pid, True


def ensure_source(con: duckdb.DuckDBPyConnection, *, person_id: int, kind: str, spec: str,
                  url: str) -> tuple[int, bool]:
    """Add a source for a person unless it exists; return (source_id, created)."""
    row = con.execute("SELECT source_id FROM sources WHERE person_id = ? AND spec = ?",
                      [person_id, spec]).fetchone()
    if row:
        return row[0], False
    sid = con.execute(
        "INSERT INTO sources (person_id, kind, spec, url) VALUES (?, ?, ?, ?) RETURNING source_id",
        [person_id, kind, spec, url]).fetchone()[0]
    return sid, True


def load_sources(con: duckdb.DuckDBPyConnection) -> list[SourceRow]:
    rows = con.execute(
        """SELECT s.source_id, s.person_id, p.name, s.kind, s.spec, s.url, s.status, s.etag,
                  s.last_modified, s.error_count, s.next_attempt_at, s.redirect_seen
           FROM sources s JOIN people p USING (person_id) ORDER BY s.source_id""").fetchall()
    return [SourceRow(*r) for r in rows]


def find_person(con: duckdb.DuckDBPyConnection, who: str) -> tuple[int, str] | None:
    """Find a person by name, alias or email (case-insensitive)."""
    row = con.execute(
        """SELECT person_id, name FROM people
           WHERE lower(name) = lower(?) OR lower(coalesce(email, '')) = lower(?)
              OR list_contains(list_transform(aliases, a -> lower(a)), lower(?))
           ORDER BY person_id LIMIT 1""", [who, who, who]).fetchone()
    return (row[0], row[1]) if row else None


# --- the follow-up loop ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShownStarter:
    starter_id: str
    day: Any
    person_id: int | None
    kind: str
    subject: str
    post_ids: tuple[str, ...]
    other_person_id: int | None
    favour_what: str | None
    text: str


def record_shown(con: duckdb.DuckDBPyConnection, starters: Sequence[ShownStarter], now: datetime) -> None:
    """Remember the starters a digest or `guanxi starters` showed, so `done ID` can find them later."""
    for s in starters:
        con.execute("DELETE FROM starters_shown WHERE starter_id = ?", [s.starter_id])
    bulk_insert(con, "starters_shown",
                ("starter_id", "day", "person_id", "kind", "subject", "post_ids", "other_person_id",
                 "favour_what", "text", "shown_at"),
                [(s.starter_id, s.day, s.person_id, s.kind, s.subject, list(s.post_ids), s.other_person_id,
                  s.favour_what, s.text, now) for s in starters])


def find_shown(con: duckdb.DuckDBPyConnection, starter_id: str) -> ShownStarter | None:
    row = con.execute(
        """SELECT starter_id, day, person_id, kind, subject, post_ids, other_person_id, favour_what, text
           FROM starters_shown WHERE starter_id = ?""", [starter_id.strip().lower()]).fetchone()
    if not row:
        return None
    return ShownStarter(*row[:5], tuple(row[5] or ()), *row[6:])


def record_feedback(con: duckdb.DuckDBPyConnection, s: ShownStarter, action: str, now: datetime) -> None:
    """`done` or `skip`: the starter (its posts, or its subject) is never shown again."""
    con.execute("INSERT INTO starter_feedback (starter_id, person_id, action, happened_at, subject, post_ids) "
                "VALUES (?, ?, ?, ?, ?, ?)", [s.starter_id, s.person_id, action, now, s.subject, list(s.post_ids)])


def add_contact(con: duckdb.DuckDBPyConnection, person_id: int, kind: str, note: str | None,
                when: datetime) -> None:
    """A contact restarts the person's keep-in-touch cadence."""
    con.execute("INSERT INTO contacts (person_id, happened_at, kind, note) VALUES (?, ?, ?, ?)",
                [person_id, when, kind, note])


def add_favour(con: duckdb.DuckDBPyConnection, person_id: int, direction: str, what: str,
               when: datetime) -> None:
    """One line in the reciprocity ledger: direction is "gave" or "received"."""
    if direction not in ("gave", "received"):
        raise ValueError(f"favour direction must be gave or received, not {direction!r}")
    con.execute("INSERT INTO favours (person_id, happened_at, direction, what) VALUES (?, ?, ?, ?)",
                [person_id, when, direction, what])
