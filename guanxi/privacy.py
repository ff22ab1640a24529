"""Privacy: forget a person, prune old posts, and keep URL secrets out of the store and logs.

Deletion is driven by the schema itself (information_schema), not by a hand-kept list of
tables: any table, including ones added later, that has a `person_id`, `other_person_id`,
`source_id`, `post_id` or `post_ids` column is cleaned. The tests check the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

# --- secrets in URLs -----------------------------------------------------------------------

# Query parameters whose value is a credential (RSSHub's key/code, API tokens, signatures).
SECRET_PARAM = re.compile(r"token|key|secret|pass|pwd|auth|sig|code|session|credential|ticket",
                          re.I)
REDACTED = "REDACTED"
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def redact_url(url: str) -> str:
    """The URL with user:password and secret-looking query values replaced by REDACTED.

    Deterministic, so the same roster URL always maps to the same stored form; anything that is
    not a URL with credentials comes back unchanged.
    """
    if not url or ("@" not in url and "?" not in url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(SECRET_PARAM.search(k) for k, _ in pairs):
            query = "&".join(f"{quote(k, safe='')}={REDACTED if SECRET_PARAM.search(k) else quote(v, safe='')}"
                             for k, v in pairs)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str | None) -> str | None:
    """Every URL inside a message (an error line, a log line) redacted."""
    if not text:
        return text
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def secret_urls(config) -> dict[str, str]:
    """Stored (redacted) URL -> the real one, for the roster's URLs that carry credentials.

    The real URL lives only in the config file (or whatever the user keeps it in); the store,
    logs and artefacts see the redacted form, and the fetch gets the real one back from here.
    """
    from connectors.sources import SpecError, resolve_spec

    base_dir = str(config.path.parent) if config.path else None
    out: dict[str, str] = {}
    for p in config.people:
        for spec in p.feeds:
            try:
                url = resolve_spec(spec, rsshub_base_url=config.rsshub_base_url, base_dir=base_dir,
                                   options=config.source_options).url
            except SpecError:
                continue
            if redact_url(url) != url:
                out[redact_url(url)] = url
    return out


def restore_secrets(tasks: Sequence, config) -> list:
    """The run's tasks with each redacted URL swapped back for the real one from the config."""
    real = secret_urls(config)
    return [replace(t, url=real[t.url]) if t.url in real else t for t in tasks]


# --- deleting what is stored about a person, or about old posts ------------------------------

PERSON_COLUMNS = ("person_id", "other_person_id")


@dataclass(frozen=True, slots=True)
class Column:
    table: str
    column: str
    data_type: str


def columns(con) -> list[Column]:
    """Every column of every user table in the store (main schema; the FTS index is rebuilt)."""
    rows = con.execute(
        """SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
           WHERE c.table_schema = 'main' AND t.table_type = 'BASE TABLE'
           ORDER BY c.table_name, c.ordinal_position""").fetchall()
    return [Column(*r) for r in rows]


def delete_posts(con, post_ids: Sequence[str]) -> dict[str, int]:
    """Delete posts and every row naming them (tags, links, search rows, starters shown, feedback)."""
    counts: dict[str, int] = {}
    if not post_ids:
        return counts
    ids = list(post_ids)
    for c in columns(con):
        if c.column == "post_id":
            n = con.execute(f'DELETE FROM "{c.table}" WHERE post_id IN (SELECT unnest(?))', [ids]).fetchone()[0]
        elif c.column == "post_ids" and c.data_type.endswith("[]"):
            n = con.execute(f'DELETE FROM "{c.table}" WHERE list_has_any(post_ids, ?)', [ids]).fetchone()[0]
        else:
            continue
        if n:
            counts[c.table] = counts.get(c.table, 0) + n
    return counts


def forget_person(con, person_id: int) -> dict[str, int]:
    """Remove a person and everything stored about them; return rows deleted per table.

    Runs in the caller's write window (one transaction), then rebuilds the search index so no
    trace of their words stays in it.
    """
    post_ids = [r[0] for r in con.execute("SELECT post_id FROM posts WHERE person_id = ?", [person_id]).fetchall()]
    source_ids = [r[0] for r in con.execute("SELECT source_id FROM sources WHERE person_id = ?",
                                            [person_id]).fetchall()]
    counts = delete_posts(con, post_ids)
    for c in columns(con):
        if c.column in PERSON_COLUMNS:
            n = con.execute(f'DELETE FROM "{c.table}" WHERE "{c.column}" = ?', [person_id]).fetchone()[0]
        elif c.column == "source_id" and source_ids:
            n = con.execute(f'DELETE FROM "{c.table}" WHERE source_id IN (SELECT unnest(?))',
                            [source_ids]).fetchone()[0]
        else:
            continue
        if n:
            counts[c.table] = counts.get(c.table, 0) + n
    from guanxi.search import build_index

    build_index(con)
    return counts


def prune_expired(con, retention_days: int | None, now: datetime) -> int:
    """Delete posts published more than `retention_days` ago (and their rows); return how many."""
    if not retention_days:
        return 0
    cutoff = now - timedelta(days=retention_days)
    old = [r[0] for r in con.execute("SELECT post_id FROM posts WHERE published_at < ?", [cutoff]).fetchall()]
    delete_posts(con, old)
    return len(old)


def in_roster(config, name: str) -> bool:
    """Whether the config's roster would bring this person back on the next ingest."""
    return any(p.name == name for p in config.people)


def referencing_rows(con, person_id: int, post_ids: Iterable[str], source_ids: Iterable[int]) -> dict[str, int]:
    """Rows anywhere in the store that still name the person, their posts or their sources."""
    posts, sources = list(post_ids), list(source_ids)
    found: dict[str, int] = {}
    for c in columns(con):
        if c.column in PERSON_COLUMNS:
            sql, args = f'SELECT count(*) FROM "{c.table}" WHERE "{c.column}" = ?', [person_id]
        elif c.column == "post_id" and posts:
            sql, args = f'SELECT count(*) FROM "{c.table}" WHERE post_id IN (SELECT unnest(?))', [posts]
        elif c.column == "post_ids" and c.data_type.endswith("[]") and posts:
            sql, args = f'SELECT count(*) FROM "{c.table}" WHERE list_has_any(post_ids, ?)', [posts]
        elif c.column == "source_id" and sources:
            sql, args = f'SELECT count(*) FROM "{c.table}" WHERE source_id IN (SELECT unnest(?))', [sources]
        else:
            continue
        n = con.execute(sql, args).fetchone()[0]
        if n:
            found[f"{c.table}.{c.column}"] = n
    return found


def compact_store(path, *, wait_s: float = 60.0) -> None:
    """Rewrite the store file so deleted rows leave no bytes behind.

    DuckDB reuses the blocks a DELETE frees but does not wipe them, so a forgotten person's words
    would stay readable in the file. Copying every table into a fresh file (the FTS index is
    rebuilt there, not copied) and swapping it in leaves only what is still stored. The caller
    holds the run lock, so no ingest writes to the old file meanwhile.
    """
    import os
    from pathlib import Path

    import duckdb

    from guanxi import store
    from guanxi.search import build_index, load_fts

    path = Path(path)
    fresh = path.with_name(path.name + ".compact")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = store.connect(path, wait_s=wait_s)
    try:
        name = con.execute("SELECT current_database()").fetchone()[0]
        if con.execute("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'fts_main_post_search'"
                       ).fetchone()[0]:
            load_fts(con)
            con.execute("PRAGMA drop_fts_index('post_search')")
        con.execute(f"ATTACH '{str(fresh).replace(chr(39), chr(39) * 2)}' AS guanxi_fresh")
        con.execute(f'COPY FROM DATABASE "{name}" TO guanxi_fresh')
        con.execute("DETACH guanxi_fresh")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    con = duckdb.connect(str(fresh))
    try:
        build_index(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(fresh, path)
