"""Dump a store's digest (every starter field, the HTML and the text) or check it against a dump.

Speed work on the digest must not change what it shows; run this before the change to make a
reference and after it to compare (read-only: nothing is recorded in the store):

    .venv/bin/python -m benchmarks.run --keep /tmp/bench      # leaves a 1,000-person store there
    .venv/bin/python -m benchmarks.digest_equivalence dump /tmp/bench/guanxi.toml /tmp/digest_ref.json
    .venv/bin/python -m benchmarks.digest_equivalence check /tmp/bench/guanxi.toml /tmp/digest_ref.json

The clock defaults to the benchmark's (2026-11-22 09:00 UTC); `--now` sets another.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

BENCH_NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def digest_dump(config_path: str, now: datetime) -> dict[str, Any]:
    """The digest as plain data, with its rendered HTML and text."""
    from guanxi.config import load_config
    from reports.digest import digest_for_config
    from reports.publish import today_in
    from reports.render import render_html, render_text

    config = load_config(config_path)
    digest = digest_for_config(config, day=today_in(config, now), now=now)
    language = config.digest.language
    return {"digest": _plain(digest), "html": render_html(digest, language=language),
            "text": render_text(digest, language=language)}


def differences(reference: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable differences, empty when the two digests are the same."""
    out = []
    ref_starters, cur_starters = reference["digest"]["starters"], current["digest"]["starters"]
    for i, (a, b) in enumerate(zip(ref_starters, cur_starters)):
        for key in a.keys() | b.keys():
            if a.get(key) != b.get(key):
                out.append(f"starter {i} {key}: {a.get(key)!r} != {b.get(key)!r}")
    if len(ref_starters) != len(cur_starters):
        out.append(f"starters: {len(ref_starters)} in the reference, {len(cur_starters)} now")
    for key in reference["digest"].keys() - {"starters"}:
        if reference["digest"][key] != current["digest"].get(key):
            out.append(f"digest {key} differs")
    for key in ("html", "text"):
        if reference[key] != current[key]:
            out.append(f"{key} differs")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("dump", "check"))
    ap.add_argument("config", help="the guanxi.toml of the store to read")
    ap.add_argument("reference", type=Path)
    ap.add_argument("--now", type=datetime.fromisoformat, default=BENCH_NOW)
    args = ap.parse_args(argv)
    current = digest_dump(args.config, args.now)
    if args.action == "dump":
        args.reference.write_text(json.dumps(current, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"{len(current['digest']['starters'])} starters, {len(current['html']):,} bytes of HTML "
              f"-> {args.reference}")
        return 0
    diffs = differences(json.loads(args.reference.read_text(encoding="utf-8")), current)
    for line in diffs[:40]:
        print(line)
    print(f"{len(current['digest']['starters'])} starters: "
          + ("same digest as the reference" if not diffs else f"{len(diffs)} differences"))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
