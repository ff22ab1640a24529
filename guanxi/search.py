"""Full-text search over stored posts, Chinese included, on DuckDB's fts extension.

Posts are segmented into `post_search.search_text` (jieba for Chinese, lower-cased words for
English) and the BM25 index rebuilt *off* the ingest path, which must stay fast: `guanxi search`
brings the index up to date before it searches, and the scheduled `ingest` and `daily` flows
refresh it after storing. The extension is loaded from the installed `duckdb_extension_fts`
package: never downloaded at run time.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from guanxi.errors import GuanxiError

INDEX_SCHEMA = "fts_main_post_search"


class SearchError(GuanxiError):
    """The search could not run (no index yet, extension missing)."""


def fts_extension_path() -> Path:
    """The fts extension shipped by the `duckdb-extension-fts` wheel for this DuckDB version."""
    import duckdb_extension_fts

    path = (Path(duckdb_extension_fts.__file__).parent / "extensions" / f"v{duckdb.__version__}"
            / "fts.duckdb_extension")
    if not path.is_file():
        raise SearchError(f"search: the fts extension for DuckDB {duckdb.__version__} is not installed "
                          f"(expected {path}); reinstall with `make install`")
    return path


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """LOAD the bundled fts extension into this connection (no INSTALL, no network)."""
    con.execute(f"LOAD '{fts_extension_path()}'")


_STALE_SQL = """SELECT p.post_id, p.content_hash, coalesce(p.title, ''), coalesce(p.text, ''), p.lang
                FROM posts p LEFT JOIN post_search s USING (post_id)
                WHERE s.post_id IS NULL OR s.content_hash IS DISTINCT FROM p.content_hash"""
# From this many posts on, segmenting is spread over worker processes (jieba is pure Python).
PARALLEL_FROM = 2_000


def segment_posts(rows: list[tuple]) -> dict[tuple[str, str], str]:
    """Search words of (post_id, content_hash, title, text, lang) rows, keyed by (post_id, hash):
    one process per core for many posts (the same words as in one process: the same function)."""
    import multiprocessing
    import os

    from transforms.segment import segment_for_search

    texts = [(f"{title}\n{text}", lang) for _, _, title, text, lang in rows]
    workers = min(os.cpu_count() or 1, 4)
    if len(rows) < PARALLEL_FROM or workers < 2 or multiprocessing.current_process().daemon:
        words = [segment_for_search(text, lang) for text, lang in texts]
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            words = pool.starmap(segment_for_search, texts, chunksize=200)
    return {(row[0], row[1]): line for row, line in zip(rows, words)}


def refresh_search(con: duckdb.DuckDBPyConnection, ready: dict[tuple[str, str], str] | None = None) -> int:
    """Segment new and edited posts into post_search, drop rows of removed posts, rebuild the index.
    `ready` holds words already segmented outside the write window (see ensure_index), by
    (post_id, content_hash); posts that changed since are segmented here.

    Runs inside the caller's write window; returns how many posts were (re)segmented.
    """
    from transforms.segment import segment_for_search

    con.execute("DELETE FROM post_search WHERE post_id NOT IN (SELECT post_id FROM posts)")
    stale = con.execute(_STALE_SQL).fetchall()
    if stale:
        from guanxi.store import bulk_insert, rows_view

        ready = ready or {}
        with rows_view(con, "_stale", ["post_id"], [[r[0]] for r in stale]):
            con.execute("DELETE FROM post_search WHERE post_id IN (SELECT post_id FROM _stale)")
        bulk_insert(con, "post_search", ["post_id", "content_hash", "search_text"],
                    [[pid, chash, ready.get((pid, chash)) or segment_for_search(f"{title}\n{text}", lang)]
                     for pid, chash, title, text, lang in stale])
    if stale or not _index_exists(con):
        build_index(con)
    return len(stale)


def index_is_stale(con: duckdb.DuckDBPyConnection) -> bool:
    """True when some post is not (or no longer) segmented, or the index was never built."""
    if not _index_exists(con):
        return True
    return bool(con.execute(
        """SELECT EXISTS (SELECT 1 FROM posts p LEFT JOIN post_search s USING (post_id)
                          WHERE s.post_id IS NULL OR s.content_hash IS DISTINCT FROM p.content_hash)
               OR EXISTS (SELECT 1 FROM post_search s ANTI JOIN posts p USING (post_id))
               OR (SELECT count(*) FROM post_search) <> (SELECT count(*) FROM {INDEX_SCHEMA}.docs)"""
        .replace("{INDEX_SCHEMA}", INDEX_SCHEMA)).fetchone()[0])


def ensure_index(path: Path, *, wait_s: float, say) -> int:
    """Refresh the search index if stale. Posts are segmented between a read and a short write
    window (on every core when there are many), so the store is never held while jieba works."""
    from guanxi import store

    with store.reader(path, wait_s=wait_s, say=say) as con:
        if not index_is_stale(con):
            return 0
        stale = con.execute(_STALE_SQL).fetchall()
    ready = segment_posts(stale)
    with store.write_window(path, wait_s=wait_s, say=say) as con:
        return refresh_search(con, ready)


def build_index(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build the BM25 index over post_search.search_text (already segmented: split on spaces)."""
    load_fts(con)
    con.execute("SET enable_progress_bar = false")  # DuckDB's bar would land on the user's terminal
    con.execute(r"""PRAGMA create_fts_index('post_search', 'post_id', 'search_text',
                    stemmer = 'none', stopwords = 'none', ignore = '\s+',
                    strip_accents = 0, lower = 1, overwrite = 1)""")


def _index_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ?",
                            [INDEX_SCHEMA]).fetchone()[0])


def search_posts(con: duckdb.DuckDBPyConnection, words: str, *, limit: int = 20) -> list[dict]:
    """Posts matching `words` (any of them, BM25-ranked), best first."""
    from transforms.segment import segment_for_search

    query = segment_for_search(words)
    if not query:
        raise SearchError(f"search: no searchable words in {words!r}")
    if not _index_exists(con):
        raise SearchError("search: no search index yet; run `guanxi ingest` first")
    load_fts(con)
    cur = con.execute(
        f"""SELECT p.post_id, pe.name AS person, p.published_at, p.lang, p.title, p.url,
                   round(m.score, 4) AS score, left(regexp_replace(coalesce(p.text, ''), '\\s+', ' ', 'g'), 160) AS text
            FROM (SELECT post_id, {INDEX_SCHEMA}.match_bm25(post_id, ?) AS score FROM post_search) m
            JOIN posts p USING (post_id) JOIN people pe USING (person_id)
            WHERE m.score IS NOT NULL
            ORDER BY m.score DESC, p.published_at DESC LIMIT ?""", [query, limit])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]
