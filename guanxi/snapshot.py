"""Parquet snapshots of the store, so analysts can keep long sessions open without blocking writers.

A DuckDB file admits one writing process and any open session (even read-only) blocks it;
Parquet files block nobody. Each table is written to a temporary folder and then moved into
place with os.replace, so a reader sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from guanxi import store

SNAPSHOT_TABLES = ("people", "sources", "posts", "post_topics", "post_signals")


def write_snapshot(store_path: Path, dest: Path, *, wait_s: float = 60.0) -> list[Path]:
    """Copy the contract tables to `dest/<table>.parquet` (atomically per file) plus `views.sql`."""
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".snapshot-", dir=dest))
    try:
        with store.reader(store_path, wait_s=wait_s) as con:
            for table in SNAPSHOT_TABLES:
                target = tmp / f"{table}.parquet"
                con.execute(f"COPY (SELECT * FROM {table}) TO '{_sql_str(target)}' "
                            "(FORMAT parquet, COMPRESSION zstd)")
        views = "".join(f"CREATE OR REPLACE VIEW {t} AS SELECT * FROM read_parquet("
                        f"'{_sql_str(dest / (t + '.parquet'))}');\n" for t in SNAPSHOT_TABLES)
        (tmp / "views.sql").write_text(views, encoding="utf-8")
        written = []
        for name in [f"{t}.parquet" for t in SNAPSHOT_TABLES] + ["views.sql"]:
            os.replace(tmp / name, dest / name)  # same folder, same file system: atomic
            written.append(dest / name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")
