"""`guanxi demo`: the whole pipeline on bundled sample data, fetched over a loopback server.

The sample feeds carry relative date tokens (`@@RFC822:-26h@@`, `@@ISO:-3d@@`, `@@ICS:+2h@@`,
`@@ICSDATE:+0d@@`) that the server replaces when it serves a file, so the demo never goes stale.
Their pictures are `@@IMG:host/path@@` tokens: served by the demo they point back at it
(`/img/host/path`, drawn by scripts/make_sample_images.py), so the demo's digest shows them;
read anywhere else they are the plain `https://host/path` the platform would have sent.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SAMPLE_DIR = Path(__file__).with_name("sample")
TOKEN = re.compile(r"@@(RFC822|ISO|ICS|ICSDATE):([+-])((?:\d+[dhm])+)@@")
_PART = re.compile(r"(\d+)([dhm])")
IMAGE_TOKEN = re.compile(r"@@IMG:([^@\s]+)@@")
IMAGES_DIR = SAMPLE_DIR / "images"
CONTENT_TYPES = {".xml": "application/xml; charset=utf-8", ".rss": "application/rss+xml; charset=utf-8",
                 ".atom": "application/atom+xml; charset=utf-8", ".json": "application/feed+json; charset=utf-8",
                 ".ics": "text/calendar; charset=utf-8", ".opml": "text/x-opml; charset=utf-8"}


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading server that says nothing when a client drops its connection (a pooled
    keep-alive connection closed at the end of a run): that is not an error worth a traceback."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def token_time(sign: str, spec: str, now: datetime) -> datetime:
    units = {"d": "days", "h": "hours", "m": "minutes"}
    delta = timedelta(**{units[u]: int(n) for n, u in _PART.findall(spec)})
    return now + delta if sign == "+" else now - delta


def render_tokens(text: str, now: datetime, *, base_url: str | None = None) -> str:
    """Replace every relative date token with a real date in that token's format, and every
    picture token with its URL: on the demo server at `base_url`, else on its own host."""
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    images_at = f"{base_url}/img/" if base_url else "https://"
    text = IMAGE_TOKEN.sub(lambda m: images_at + m.group(1), text)

    def repl(m: re.Match) -> str:
        fmt, when = m.group(1), token_time(m.group(2), m.group(3), now)
        if fmt == "RFC822":
            return format_datetime(when)
        if fmt == "ISO":
            return when.strftime("%Y-%m-%dT%H:%M:%SZ")
        if fmt == "ICS":
            return when.strftime("%Y%m%dT%H%M%SZ")
        return when.strftime("%Y%m%d")

    return TOKEN.sub(repl, text)


@contextlib.contextmanager
def serve_folder(root: Path, *, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
                 ) -> Iterator[str]:
    """Serve `root` on 127.0.0.1 with date tokens rendered; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            rel = self.path.split("?", 1)[0].lstrip("/")
            if rel.startswith("img/"):  # a sample picture, found by its file name
                target = (IMAGES_DIR / (rel.rsplit("/", 1)[-1] + ".png")).resolve()
                root_dir, kind = IMAGES_DIR.resolve(), "image/png"
            else:
                target = (root / rel).resolve()
                root_dir, kind = root.resolve(), CONTENT_TYPES.get(target.suffix, "application/octet-stream")
            if root_dir not in target.parents or not target.is_file():
                self.send_error(404)
                return
            if kind == "image/png":
                body = target.read_bytes()
            else:
                host, port = self.server.server_address[:2]
                base = f"http://{host}:{port}"
                body = render_tokens(target.read_text(encoding="utf-8"), now(), base_url=base).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_demo_config(out: Path, base_url: str, *, store_name: str = "guanxi.duckdb") -> Path:
    """A config for the demo: the sample roster with feeds pointed at the loopback server."""
    roster = (SAMPLE_DIR / "people.toml").read_text(encoding="utf-8").replace("{base}", base_url)
    (out / "people.toml").write_text(roster, encoding="utf-8")
    calendar = out / "calendar.ics"
    calendar.write_text(render_tokens((SAMPLE_DIR / "calendar.ics").read_text(encoding="utf-8"),
                                      datetime.now(timezone.utc)), encoding="utf-8", newline="")
    config = out / "guanxi.toml"
    config.write_text(
        f'''# Written by `guanxi demo`. A real config looks the same; see README.md.
roster = "people.toml"

[store]
path = "{store_name}"

[digest]
recipient = "you@example.com"
timezone = "Asia/Shanghai"
send_at = "07:30"
out_dir = "digests"
# The demo's pictures live on its own short-lived server: keep them inside the written digest.
embed_images = true

[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
sender = "guanxi@example.com"

[calendar]
ics = "calendar.ics"
''', encoding="utf-8")
    return config


def seed_history(config, now: datetime) -> None:
    """Past contacts and favours from the sample seed, so the follow-up loop has history."""
    from guanxi import store

    seed_path = SAMPLE_DIR / "seed.toml"
    if not seed_path.exists():
        return
    seed = tomllib.loads(seed_path.read_text(encoding="utf-8"))
    with store.write_window(config.store_path) as con:
        con.execute("DELETE FROM contacts")
        con.execute("DELETE FROM favours")
        for c in seed.get("contacts", []):
            found = store.find_person(con, c["person"])
            if found:
                con.execute("INSERT INTO contacts VALUES (?, ?, ?, ?)",
                            [found[0], now - timedelta(days=c["days_ago"]), c["kind"], c.get("note")])
        for f in seed.get("favours", []):
            found = store.find_person(con, f["person"])
            if found:
                con.execute("INSERT INTO favours VALUES (?, ?, ?, ?)",
                            [found[0], now - timedelta(days=f["days_ago"]), f["direction"], f["what"]])


def run_demo(out: str | Path = "demo-out", *, say: Callable[[str], None] = print) -> Path:
    """Fresh scratch folder, loopback feeds, ingest, seed, digest; return the HTML digest path."""
    from guanxi.config import load_config
    from guanxi.ingest import ingest
    from reports.publish import publish_digest

    out = Path(out).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with serve_folder(SAMPLE_DIR) as base_url:
        config = load_config(str(write_demo_config(out, base_url)))
        say(f"demo: serving sample feeds at {base_url}; store {config.store_path}")
        summary = ingest(config, say=say)
        say(f"demo: {summary.line()}")
        now = datetime.now(timezone.utc)
        seed_history(config, now)
        published = publish_digest(config, now=now)  # while the server is up: it has the pictures
    say(f"demo: digest for {published.digest.day} with {len(published.digest.starters)} starters "
        f"for {len(published.digest.people)} people")
    return published.html_path
