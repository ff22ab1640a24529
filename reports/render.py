"""Render a Digest to HTML and plain text with Jinja2 (autoescape on; no feed HTML passes raw)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from reports.digest import Digest

def safe_url(url: str | None) -> str | None:
    """Only http(s) links reach the digest; anything else (javascript:, data:) is dropped."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = safe_url
    return env


def subject(digest: Digest) -> str:
    n = len(digest.people)
    who = "person" if n == 1 else "people"
    return f"Guanxi · {digest.day.strftime('%a %d %b')} · {n} {who} to catch up with"


def _context(digest: Digest) -> dict:
    return dict(digest=digest, subject=subject(digest), sections=digest.sections,
                people=digest.people)


def render_html(digest: Digest) -> str:
    return _env().get_template("digest.html.j2").render(**_context(digest))


def render_text(digest: Digest) -> str:
    env = _env()
    # Plain text must not be HTML-escaped: render the text template without autoescape.
    tpl = env.overlay(autoescape=False).get_template("digest.txt.j2")
    return tpl.render(**_context(digest))


def write_digest(digest: Digest, out_dir: Path) -> tuple[Path, Path]:
    """Write digest-YYYY-MM-DD.html and .txt atomically; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext, body in (("html", render_html(digest)), ("txt", render_text(digest))):
        path = out_dir / f"digest-{digest.day.isoformat()}.{ext}"
        tmp = path.with_suffix(f".{ext}.tmp")
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(path)
        paths.append(path)
    return paths[0], paths[1]
