"""Check that two ingested stores hold the same posts: speed work on ingest must not change them.

    .venv/bin/python -m benchmarks.run --ingest-only --keep /tmp/before   # before the change
    .venv/bin/python -m benchmarks.run --ingest-only --keep /tmp/after    # after it
    .venv/bin/python -m benchmarks.store_equivalence /tmp/before/bench.duckdb /tmp/after/bench.duckdb

Compares every stored post (id, person, source, URL, title, text, time, language, guid,
identity, hashes, image, repost flag, taxonomy), its topics and signals with their evidence, and
its links, row for row in both directions. What differs by run alone is left out: the clock
(fetched_at, updated_at, first_seen_at) and the sources' URLs (the loopback server's port).
Prints the differences and exits 1 if there are any. Both files are opened read-only.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

TABLES = {
    "posts": "post_id, person_id, source_id, url, title, text, published_at, lang, guid, identity, "
             "content_hash, text_hash, image, is_repost, tagged_with",
    "post_topics": "post_id, topic, evidence",
    "post_signals": "post_id, signal, evidence",
    "post_links": "post_id, source_id, url, identity",
}


def differences(before: str, after: str, *, show: int = 5) -> list[str]:
    """Per table: row counts, and up to `show` rows found in one store and not the other."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{before}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{after}' AS b (READ_ONLY)")
        out = []
        for table, cols in TABLES.items():
            counts = [con.execute(f"SELECT count(*) FROM {db}.{table}").fetchone()[0] for db in "ab"]
            if counts[0] != counts[1]:
                out.append(f"{table}: {counts[0]} rows before, {counts[1]} after")
            for one, other, label in (("a", "b", "only before"), ("b", "a", "only after")):
                # EXCEPT ALL: a row stored twice on one side and once on the other counts too.
                missing = con.execute(f"SELECT {cols} FROM {one}.{table} EXCEPT ALL "
                                      f"SELECT {cols} FROM {other}.{table}").fetchall()
                if missing:
                    out.append(f"{table}: {len(missing)} rows {label}")
                    out += [f"  {row!r}"[:300] for row in missing[:show]]
        return out
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", help="the store ingested before the change")
    ap.add_argument("after", help="the store ingested after it")
    args = ap.parse_args(argv)
    diffs = differences(args.before, args.after)
    for line in diffs:
        print(line)
    con = duckdb.connect(args.after, read_only=True)
    try:
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()
    print(", ".join(f"{n:,} {t}" for t, n in counts.items()) + ": "
          + ("the same in both stores" if not diffs else f"{len(diffs)} differences"))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
