"""The `guanxi` command line: a thin layer over plain functions.

Start-up must stay quick (`guanxi --help` well under 0.3 s), so this module imports only the
standard library at the top; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from typing import Callable

from guanxi.errors import GuanxiError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CliError(GuanxiError):
    """A user-facing failure: printed as one line on stderr, exit 1."""


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def _config(args: argparse.Namespace):
    from guanxi.config import load_config

    return load_config(args.config)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


# --- commands ------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from guanxi.demo import run_demo

    path = run_demo(out=args.dir, say=_say)
    print(path)
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from guanxi.ingest import ingest
    from guanxi.runlock import run_lock

    config = _config(args)
    with run_lock(config.store_path, what="ingest"):
        summary = ingest(config, say=_say)
    print(summary.line())
    for person, url, error in summary.failures:
        print(f"  failed: {person} — {url}: {error}")
    return EXIT_OK


def cmd_digest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reports.publish import publish_digest

    res = publish_digest(_config(args), day=args.date, out_dir=Path(args.out) if args.out else None,
                         send=args.send, force=args.force)
    print(res.html_path)
    if args.send:
        _say("mail: already sent for this day (use --force to send again)" if res.already_sent
             else "mail: quiet day, nothing sent (quiet_day = \"skip\")" if res.skipped_quiet
             else f"mail: sent ({res.images} inline image{'s' if res.images != 1 else ''})")
    if args.open:
        _open_in_browser(res.html_path)
    return EXIT_OK


def _open_in_browser(path) -> None:
    """Show a written digest in the user's browser (honours $BROWSER, like `webbrowser`)."""
    import webbrowser

    if not webbrowser.open(path.resolve().as_uri()):
        raise CliError(f"open: no browser could be started (set BROWSER); the digest is at {path}")


def cmd_run(args: argparse.Namespace) -> int:
    from guanxi.runlock import run_lock

    config = _config(args)
    # Take the run lock before Prefect starts, so a busy store fails fast in one line.
    with run_lock(config.store_path, what="run"):
        from flows.pipeline import daily

        result = daily(config_path=str(config.path), send=args.send)
    print(result["digest_path"])
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.deploy import build_deployments, serve

    config = _config(args)
    if args.dry_run:
        for d in build_deployments(config):
            sched = "; ".join(f"{getattr(s.schedule, 'cron', None) or s.schedule.interval} "
                              f"({s.schedule.timezone})" for s in d.schedules)
            print(f"{d.flow_name}/{d.name}: {sched}; parameters {json.dumps(d.parameters, ensure_ascii=False)}")
        return EXIT_OK
    serve(config)
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from guanxi import store
    from guanxi.search import ensure_index, search_posts

    config = _config(args)
    ensure_index(config.store_path, wait_s=config.store_wait_s, say=_say)
    with store.reader(config.store_path, wait_s=config.store_wait_s, say=_say) as con:
        hits = search_posts(con, args.words, limit=args.limit)
    if args.format == "json":
        print(json.dumps(hits, default=str, ensure_ascii=False, indent=2))
    else:
        cols = ["score", "person", "published_at", "title", "text", "url"]
        _print_rows(cols, [tuple(h[c] for c in cols) for h in hits], "table")
    return EXIT_OK


def cmd_people_list(args: argparse.Namespace) -> int:
    from guanxi import store
    from guanxi.ingest import sync_config_roster
    from guanxi.roster import list_people

    config = _config(args)
    with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
        sync_config_roster(con, config, _say)
        people = list_people(con)
    if args.format == "json":
        print(json.dumps(people, default=str, ensure_ascii=False, indent=2))
        return EXIT_OK
    for p in people:
        print(f"{p['name']}" + (f"  [{p['group']}]" if p["group"] else ""))
        for s in p["sources"]:
            health = s["status"]
            if s["last_error"]:
                health += f" ({s['error_count']}×: {s['last_error']}"
                health += f"; next try {s['next_attempt_at']:%Y-%m-%d %H:%M} UTC)" if s["next_attempt_at"] else ")"
            print(f"  {s['kind']:<8} {s['url']}  {health}  posts: {s['posts']}")
    return EXIT_OK


def cmd_people_import_opml(args: argparse.Namespace) -> int:
    from pathlib import Path

    from guanxi import store
    from guanxi.roster import import_opml, parse_opml

    config = _config(args)
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"opml: cannot read {path}: {exc.strerror}") from None
    people = parse_opml(data, filename=str(path))
    with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
        added_people, added_sources = import_opml(con, people, rsshub_base_url=config.rsshub_base_url,
                                                   options=config.source_options)
    print(f"opml: {len(people)} people in file; {added_people} people and {added_sources} sources added")
    return EXIT_OK


def cmd_people_export_opml(args: argparse.Namespace) -> int:
    from pathlib import Path

    from guanxi import store
    from guanxi.ingest import sync_config_roster
    from guanxi.roster import export_opml

    config = _config(args)
    with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:  # the config's people count too
        sync_config_roster(con, config, _say)
        data = export_opml(con)
    if not args.file or args.file == "-":
        sys.stdout.write(data.decode("utf-8"))
        return EXIT_OK
    path = Path(args.file)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise CliError(f"opml: cannot write {path}: {exc.strerror}") from None
    _say(f"opml: wrote {path}")
    return EXIT_OK


def cmd_people_add(args: argparse.Namespace) -> int:
    from guanxi import store
    from guanxi.roster import add_person

    config = _config(args)
    name = args.name.strip()
    if not name:
        raise CliError("people: a person needs a name")
    with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
        created, added = add_person(con, name, args.feeds, group=args.group, aliases=args.alias,
                                    email=args.email, options=config.source_options,
                                    base_dir=str(config.path.parent) if config.path else None)
    print(f"people: {'added' if created else 'updated'} {name}; {added} source"
          f"{'' if added == 1 else 's'} added")
    return EXIT_OK


def cmd_tag(args: argparse.Namespace) -> int:
    from transforms.tagging import load_taxonomy, tag_post

    config = None
    if args.config or _default_config_exists():
        config = _config(args)
    taxonomy = load_taxonomy(config.taxonomy_path if config else None)
    bad = 0
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or "text" not in item:
                raise ValueError("expected an object with \"text\"")
        except ValueError as exc:
            _say(f"tag: line {n}: {str(exc).splitlines()[0]}")
            bad += 1
            continue
        tags = tag_post(str(item.get("title") or ""), str(item.get("text") or ""), taxonomy=taxonomy)
        out = {"id": item.get("id"), "topics": list(tags.topics), "signals": list(tags.signals),
               "lang": tags.lang}
        if args.evidence:
            out["evidence"] = {k: list(v) for k, v in tags.evidence.items()}
        print(json.dumps(out, ensure_ascii=False))
    return EXIT_ERROR if bad else EXIT_OK


def cmd_retag(args: argparse.Namespace) -> int:
    from guanxi.ingest import retag
    from guanxi.runlock import run_lock
    from transforms.tagging import load_taxonomy

    config = _config(args)
    taxonomy = load_taxonomy(config.taxonomy_path)
    with run_lock(config.store_path, what="retag"):
        count = retag(config.store_path, taxonomy=taxonomy, force=args.all, say=_say)
    print(f"retag: {count} post{'s' if count != 1 else ''} re-tagged")
    return EXIT_OK


def _default_config_exists() -> bool:
    from guanxi.config import find_config_path

    return find_config_path(None).exists()


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from guanxi import store

    config = _config(args)
    with store.reader(config.store_path, wait_s=config.store_wait_s, say=_say) as con:
        try:
            cur = con.execute(args.query)
        except duckdb.Error as exc:
            raise CliError(f"sql: {str(exc).splitlines()[0]}") from None
        cols = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall() if cols else []
    _print_rows(cols, rows, args.format)
    return EXIT_OK


def _print_rows(cols: list[str], rows: list[tuple], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([dict(zip(cols, r)) for r in rows], default=str, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(cols)
        w.writerows(rows)
    else:
        cells = [[("" if v is None else str(v)).replace("\n", " ") for v in r] for r in rows]
        widths = [min(60, max([_width(c)] + [_width(r[i]) for r in cells])) for i, c in enumerate(cols)]
        print("  ".join(_pad(c, w) for c, w in zip(cols, widths)))
        print("  ".join("-" * w for w in widths))
        for r in cells:
            print("  ".join(_pad(_clip(v, w), w) for v, w in zip(r, widths)))
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def _width(s: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _clip(s: str, width: int) -> str:
    if _width(s) <= width:
        return s
    out = ""
    for ch in s:
        if _width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


def _pad(s: str, width: int) -> str:
    return s + " " * max(0, width - _width(s))


def cmd_starters(args: argparse.Namespace) -> int:
    from guanxi import store
    from reports.digest import digest_for_config, shown
    from reports.publish import today_in

    config = _config(args)
    now = store.now_utc()
    day = args.date or today_in(config, now)
    digest = digest_for_config(config, day=day, now=now)
    if digest.calendar_error:
        _say(digest.calendar_error)
    with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
        store.record_shown(con, shown(digest), now)  # so `guanxi done ID` finds it later
    items = [{"id": s.id, "person": s.person, "signal": s.signal, "text": s.text,
              "reasons": list(s.reasons), "post_url": s.post_url} for s in digest.starters]
    if args.format == "json":
        print(json.dumps(items, ensure_ascii=False, indent=2))
    else:
        for i, s in enumerate(items, 1):
            print(f"{i:>2}. [{s['id']}] {s['person']}: {s['text']}")
            print(f"    why: {'; '.join(s['reasons'])}")
    return EXIT_OK


def _feedback(args: argparse.Namespace, action: str) -> int:
    """`done` / `skip`: find a shown starter by id, record feedback (and for done, a contact)."""
    from guanxi import store

    config = _config(args)
    now = store.now_utc()
    with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
        s = store.find_shown(con, args.id)
        if s is None:
            raise CliError(f"{action}: no starter with id {args.id!r} (see `guanxi starters`)")
        store.record_feedback(con, s, action, now)
        if action == "done":
            for pid in (s.person_id, s.other_person_id if s.kind == "introduce" else None):
                if pid is not None:
                    store.add_contact(con, pid, "starter", s.text, now)
            if s.kind == "favour" and s.person_id is not None:
                store.add_favour(con, s.person_id, "gave", f"returned: {s.favour_what or s.text}", now)
            if s.kind == "introduce" and s.person_id is not None:
                store.add_favour(con, s.person_id, "gave", "an introduction", now)
                if s.other_person_id is not None:
                    store.add_favour(con, s.other_person_id, "gave", "an introduction", now)
    print(f"{action}: {args.id} — " + ("the person's cadence restarts" if action == "done"
                                        else "it will not be shown again"))
    return EXIT_OK


def cmd_done(args: argparse.Namespace) -> int:
    return _feedback(args, "done")


def cmd_skip(args: argparse.Namespace) -> int:
    return _feedback(args, "skip")


def _person(con, who: str, stage: str) -> tuple[int, str]:
    from guanxi import store

    found = store.find_person(con, who.strip())
    if found is None:
        raise CliError(f"{stage}: no person named {who!r} (match by name, alias or email; see `guanxi people list`)")
    return found


def cmd_log(args: argparse.Namespace) -> int:
    from guanxi import store

    if not args.note.strip():
        raise CliError("log: the note is empty")
    config = _config(args)
    with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
        pid, name = _person(con, args.person, "log")
        store.add_contact(con, pid, args.kind, args.note.strip(), store.now_utc())
    print(f"log: {args.kind} with {name} recorded; cadence restarts")
    return EXIT_OK


def cmd_favour(args: argparse.Namespace) -> int:
    from guanxi import store

    direction, what = ("gave", args.gave) if args.gave is not None else ("received", args.received)
    if not what.strip():
        raise CliError("favour: say what the favour was")
    config = _config(args)
    with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
        pid, name = _person(con, args.person, "favour")
        store.add_favour(con, pid, direction, what.strip(), store.now_utc())
    print(f"favour: {'you gave' if direction == 'gave' else 'you received'} — {name}: {what.strip()}")
    return EXIT_OK


def cmd_forget(args: argparse.Namespace) -> int:
    from guanxi import privacy, store

    config = _config(args)
    if not config.store_path.exists():
        raise CliError(f"forget: no person named {args.person!r} (the store {config.store_path} is empty)")
    from guanxi.runlock import run_lock

    with run_lock(config.store_path, what="forget"):
        with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
            pid, name = _person(con, args.person, "forget")
            counts = privacy.forget_person(con, pid)
        privacy.compact_store(config.store_path, wait_s=config.store_wait_s)  # no bytes left behind
    posts = counts.get("posts", 0)
    print(f"forget: removed {name} and everything stored about them "
          f"({posts} posts, {sum(counts.values())} rows in {len(counts)} tables)")
    if config.snapshot_dir is not None:
        from guanxi.ingest import snapshot_after_ingest

        snapshot_after_ingest(config, say=_say)  # rewrite the Parquet copies without them
    if privacy.in_roster(config, name):
        _say(f"forget: {name} is still in the roster of {config.path}: remove them there, "
             "or the next ingest adds them back")
    return EXIT_OK


# --- wiring --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="guanxi",
        description="Notice what colleagues share publicly; follow up in person. "
                    "Feeds -> DuckDB -> a morning digest of conversation starters.")
    p.add_argument("--config", metavar="PATH",
                   help="config file (default: $GUANXI_CONFIG, else ./guanxi.toml)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, fn: Callable[[argparse.Namespace], int], help: str, parent=sub) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help, description=help)
        sp.set_defaults(func=fn)
        return sp

    sp = add("demo", cmd_demo, "run the whole pipeline on bundled sample data; print the digest path")
    sp.add_argument("--dir", default="demo-out", help="scratch folder (default: ./demo-out)")

    people = sub.add_parser("people", help="the roster: list, import-opml, export-opml, add").add_subparsers(
        dest="people_command", metavar="ACTION", required=True)
    sp = add("list", cmd_people_list, "the roster with each person's sources and their health", people)
    sp.add_argument("--format", choices=("table", "json"), default="table")
    sp = add("import-opml", cmd_people_import_opml, "add people and feeds from an OPML file", people)
    sp.add_argument("file")
    sp = add("export-opml", cmd_people_export_opml, "write the roster as OPML (to FILE, else stdout)", people)
    sp.add_argument("file", nargs="?", metavar="FILE")
    sp = add("add", cmd_people_add, "add one person with their feeds (URLs or source specs)", people)
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("feeds", nargs="+", metavar="FEED")
    sp.add_argument("--group")
    sp.add_argument("--alias", action="append", default=[], help="another name (repeatable)")
    sp.add_argument("--email")

    add("ingest", cmd_ingest, "fetch every active source, store new and changed posts, tag them")

    sp = add("digest", cmd_digest, "render a day's digest to HTML and text; send it with --send")
    sp.add_argument("--date", type=_parse_date, help="YYYY-MM-DD (default: today in [digest] timezone)")
    sp.add_argument("--out", metavar="DIR", help="output folder (default: [digest] out_dir)")
    sp.add_argument("--send", action=argparse.BooleanOptionalAction, default=False,
                    help="send by SMTP (default: --no-send)")
    sp.add_argument("--force", action="store_true", help="send even if already sent for that day")
    sp.add_argument("--open", action="store_true", help="open the written HTML in a web browser")

    sp = add("run", cmd_run, "the daily flow: ingest, then digest and send")
    sp.add_argument("--send", action=argparse.BooleanOptionalAction, default=True)

    sp = add("serve", cmd_serve, "serve the Prefect deployments (daily on a cron, ingest on an interval)")
    sp.add_argument("--dry-run", action="store_true", help="print the deployments and exit")

    sp = add("tag", cmd_tag, 'tag JSON lines {"id","text","title"?} from stdin; one JSON line out each')
    sp.add_argument("--evidence", action="store_true", help="include the words behind each label")

    sp = add("retag", cmd_retag, "re-apply the current taxonomy to stored posts tagged with another one")
    sp.add_argument("--all", action="store_true", help="re-tag every stored post, not only stale ones")

    sp = add("sql", cmd_sql, "run a read-only query against the store")
    sp.add_argument("query")
    sp.add_argument("--format", choices=("table", "csv", "json"), default="table")

    sp = add("search", cmd_search, "full-text search over stored posts, Chinese included")
    sp.add_argument("words")
    sp.add_argument("--limit", type=int, default=20)
    sp.add_argument("--format", choices=("table", "json"), default="table")

    sp = add("starters", cmd_starters, "that day's ranked conversation starters")
    sp.add_argument("--date", type=_parse_date)
    sp.add_argument("--format", choices=("table", "json"), default="table")

    sp = add("done", cmd_done, "a starter was used: never shown again; the person's cadence restarts")
    sp.add_argument("id")
    sp = add("skip", cmd_skip, "a starter was not useful: never shown again")
    sp.add_argument("id")
    sp = add("log", cmd_log, "record a contact with a person (name, alias or email)")
    sp.add_argument("person")
    sp.add_argument("note")
    sp.add_argument("--kind", choices=("met", "call", "message"), default="met")
    sp = add("favour", cmd_favour, "the reciprocity ledger: a favour you gave or received")
    sp.add_argument("person")
    way = sp.add_mutually_exclusive_group(required=True)
    way.add_argument("--gave", metavar="WHAT")
    way.add_argument("--received", metavar="WHAT")
    sp = add("forget", cmd_forget, "remove a person and everything stored about them (no question asked)")
    sp.add_argument("person", help="name, alias or email")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except GuanxiError as exc:
        _say(_one_line(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        # A bug, not bad input: still one line, with the traceback only on request.
        if os.environ.get("GUANXI_DEBUG"):
            raise
        _say(f"guanxi: internal error: {type(exc).__name__}: {_one_line(exc)} "
             "(set GUANXI_DEBUG=1 for the traceback)")
        return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


if __name__ == "__main__":
    sys.exit(main())
