"""Helpers for end-to-end ingest tests: a roster config on disk, ingest in-process, read the store."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from guanxi import store
from guanxi.config import load_config
from guanxi.ingest import IngestSummary, ingest
from tests.conftest import write_config

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)


def roster(people: dict[str, list[str]]) -> str:
    """[[people]] tables for a {name: [feed, ...]} mapping."""
    out = []
    for name, feeds in people.items():
        quoted = ", ".join(f'"{f}"' for f in feeds)
        out.append(f'[[people]]\nname = "{name}"\nfeeds = [{quoted}]\n')
    return "\n".join(out)


def make_config(tmp_path: Path, people: dict[str, list[str]], extra: str = "") -> Path:
    return write_config(tmp_path, roster(people), extra=extra)


def run_ingest(cfg: Path, now: datetime = T0) -> IngestSummary:
    return ingest(load_config(str(cfg)), now=now, say=lambda m: None)


def query(cfg: Path, sql: str, params=None) -> list[tuple]:
    with store.reader(load_config(str(cfg)).store_path) as con:
        return con.execute(sql, params or []).fetchall()


def source(cfg: Path, url_like: str = "%") -> dict:
    cols = ["source_id", "url", "status", "last_error", "error_count", "next_attempt_at",
            "http_status", "etag", "last_modified", "redirect_seen"]
    rows = query(cfg, f"SELECT {', '.join(cols)} FROM sources WHERE spec LIKE ? ORDER BY source_id",
                 [url_like])
    assert len(rows) == 1, rows
    return dict(zip(cols, rows[0]))
