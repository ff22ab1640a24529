"""The DuckDB store: contract tables, migrations, and waiting for another process's lock."""

import subprocess
import sys
import time

import duckdb
import pytest

from guanxi import store

CONTRACT = {
    "people": {"person_id", "name", "grp"},
    "sources": {"source_id", "person_id", "kind", "url", "status", "last_error"},
    "posts": {"post_id", "person_id", "source_id", "url", "title", "text", "published_at", "lang"},
    "post_topics": {"post_id", "topic"},
    "post_signals": {"post_id", "signal"},
}


def test_contract_tables_and_types(tmp_path):
    path = tmp_path / "s.duckdb"
    store.connect(path).close()
    con = duckdb.connect(str(path), read_only=True)
    for table, cols in CONTRACT.items():
        have = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        assert cols <= have, (table, cols - have)
    kind = con.execute("SELECT data_type FROM information_schema.columns WHERE table_name='posts' "
                       "AND column_name='published_at'").fetchone()[0]
    assert kind == "TIMESTAMP WITH TIME ZONE"
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == store.SCHEMA_VERSION
    con.close()


def test_only_the_keys_index_the_post_tables_and_a_post_is_still_stored_once(tmp_path):
    path = tmp_path / "s.duckdb"
    store.connect(path).close()
    con = duckdb.connect(str(path))
    assert con.execute("SELECT index_name FROM duckdb_indexes() WHERE table_name LIKE 'post%'").fetchall() == []
    con.execute("INSERT INTO posts (post_id, person_id, source_id) VALUES ('p1', 1, 1)")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO posts (post_id, person_id, source_id) VALUES ('p1', 1, 2)")
    con.close()


def test_migrations_apply_once_and_forward(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    store.connect(path).close()
    store.connect(path).close()  # re-opening applies nothing twice
    con = duckdb.connect(str(path))
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == store.SCHEMA_VERSION
    con.close()
    monkeypatch.setattr(store, "MIGRATIONS", store.MIGRATIONS + ["ALTER TABLE people ADD COLUMN nickname VARCHAR"])
    monkeypatch.setattr(store, "SCHEMA_VERSION", len(store.MIGRATIONS))
    con = store.connect(path)
    assert "nickname" in {r[0] for r in con.execute("DESCRIBE people").fetchall()}
    con.close()


def test_newer_schema_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    store.connect(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations (version) VALUES (999)")
    con.close()
    with pytest.raises(store.StoreError, match="newer than this Guanxi"):
        store.connect(path)


def test_write_window_rolls_back_on_error(tmp_path):
    path = tmp_path / "s.duckdb"
    with pytest.raises(RuntimeError):
        with store.write_window(path) as con:
            store.upsert_person(con, name="王芳", origin="cli")
            raise RuntimeError("boom")
    with store.reader(path) as con:
        assert con.execute("SELECT count(*) FROM people").fetchone()[0] == 0


def test_write_window_may_cap_duckdb_threads(tmp_path):
    path = tmp_path / "s.duckdb"
    with store.write_window(path, threads=1) as con:
        assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 1
    default = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]
    with store.write_window(path) as con:
        assert con.execute("SELECT current_setting('threads')").fetchone()[0] == default


def test_writers_append_row_groups_of_bounded_size(tmp_path):
    # Each window's checkpoint recompresses the last row group: the writer keeps it small.
    path = tmp_path / "s.duckdb"
    for wave in range(3):
        with store.write_window(path) as con:
            con.execute(f"""INSERT INTO posts (post_id, person_id, source_id, text)
                SELECT 'w{wave}-' || i, 1, 1, repeat('words ', 50) FROM range(8000) t(i)""")
    with store.reader(path) as con:
        sizes = [r[0] for r in con.execute(
            """SELECT sum(count) FROM pragma_storage_info('posts')
               WHERE column_name = 'post_id' AND segment_type = 'VARCHAR'
               GROUP BY row_group_id""").fetchall()]
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 24_000
    assert sum(sizes) == 24_000 and max(sizes) <= store.ROW_GROUP_ROWS


def _hold(path, seconds):
    code = (f"import duckdb, time; c = duckdb.connect({str(path)!r}, read_only=True); "
            f"print('held', flush=True); time.sleep({seconds}); c.close()")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_writer_waits_for_another_process_then_succeeds(tmp_path):
    path = tmp_path / "s.duckdb"
    store.connect(path).close()
    holder = _hold(path, 1.5)
    start = time.monotonic()
    with store.write_window(path, wait_s=30) as con:
        store.upsert_person(con, name="Sarah Chen", origin="cli")
    assert time.monotonic() - start >= 0.5
    holder.wait(10)
    with store.reader(path) as con:
        assert con.execute("SELECT name FROM people").fetchall() == [("Sarah Chen",)]


def test_writer_gives_up_with_one_line(tmp_path):
    path = tmp_path / "s.duckdb"
    store.connect(path).close()
    holder = _hold(path, 5)
    try:
        said = []
        with pytest.raises(store.StoreBusy) as exc:
            store.connect(path, wait_s=0.5, say=said.append)
        msg = str(exc.value)
        assert "held by another process" in msg and "gave up after 0.5 s" in msg and "\n" not in msg
        assert said and said[0].startswith("store: ") and "waiting up to 0.5 s" in said[0]
    finally:
        holder.kill()
        holder.wait(5)
