"""Every case of feedparser's sanitizer corpus, read through the feed connector and rendered into
a digest, leaves nothing executable; and nh3 (`clean_fragment`, the `rich` filter) does the same
for the raw entry HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.http import FetchResult
from connectors.sources import batch_from_fetch
from reports.digest import Digest, Section, Starter
from reports.render import _env, render_html
from reports.sanitize import clean_fragment, executable_parts
from tests.conftest import PEER_CORPUS
from tests.digest_fixtures import DAY, HOSTILE, NOW, make_digest, sample_digest, starter
from tests.test_peer_corpus import declared_headers
from transforms.text import first_image, snippet

SANITIZE = PEER_CORPUS / "wellformed" / "sanitize"
pytestmark = pytest.mark.skipif(not SANITIZE.is_dir(), reason=f"peer corpus not present at {SANITIZE}")


def chrome() -> dict[str, int]:
    """The page's own <meta>/<style> tags, counted on a digest with harmless content."""
    import lxml.html

    root = lxml.html.document_fromstring(render_html(sample_digest()))
    return {tag: len(root.findall(f".//{tag}")) for tag in ("meta", "style", "link")}


def test_the_audit_itself_catches_executable_content():
    bad = ('<html><body><script>x</script><a href=" jav&#x09;ascript:alert(1)">a</a>'
           '<img src=x onerror=alert(1)><p style="width: expression(alert(1))">p</p>'
           '<iframe src="https://e.org"></iframe><a href="DATA:text/html,x">d</a></body></html>')
    problems = executable_parts(bad)
    assert len(problems) == 6, problems


def test_clean_fragment_and_rich_filter():
    assert executable_parts(f"<html><body>{clean_fragment(HOSTILE)}</body></html>") == []
    out = _env().from_string("<div>{{ x|rich }}</div>").render(
        x='<p onclick="x()">Hi <a href="javascript:alert(1)">there</a> <b>bold</b>'
          '<a href="https://example.org/">ok</a></p><script>alert(1)</script>')
    assert "<b>bold</b>" in out and 'href="https://example.org/"' in out
    assert "onclick" not in out and "javascript" not in out and "<script" not in out
    # Without the filter the same fragment is escaped text, never markup.
    assert "&lt;script&gt;" in _env().from_string("{{ x }}").render(x="<script>")


def test_templates_have_no_unsanitised_markup_path():
    """`|safe`, Markup or an autoescape switch in a template would bypass both layers."""
    templates = Path(__file__).resolve().parent.parent / "reports" / "templates"
    for path in templates.glob("*.html*"):
        src = path.read_text(encoding="utf-8")
        for needle in ("|safe ", "|safe}", "| safe", "autoescape false", "Markup("):
            assert needle not in src.replace("|safe_url", ""), (path.name, needle)


def test_every_sanitizer_corpus_case_renders_inert():
    files = sorted(SANITIZE.iterdir())
    assert len(files) >= 700
    allowed = chrome()
    starters: list[Starter] = []
    with_html = 0
    for i, f in enumerate(files):
        body = f.read_bytes()
        ct = declared_headers(body).get("Content-type") or declared_headers(body).get("Content-Type")
        batch = batch_from_fetch(FetchResult(f.name, f"https://example.org/{f.name}", status_code=200,
                                             body=body, headers={"content-type": ct or "application/xml"}))
        for e in batch.entries:
            if e.html:
                with_html += 1
                page = f"<html><body>{clean_fragment(e.html)}</body></html>"
                assert executable_parts(page) == [], (f.name, e.html[:200])
            s = starter(i, person=(e.author or batch.meta.title or f.name)[:80],
                        text=f"{e.title} — {e.text}"[:2000], post_url=e.url,
                        image=e.image or first_image(e.html), excerpt=snippet(e.text or e.title))
            starters.append(s)
    assert with_html >= 500 and len(starters) >= 550, (with_html, len(starters))  # the corpus really reached the sanitiser
    for start in range(0, len(starters), 60):
        chunk = starters[start:start + 60]
        digest = make_digest([("catch_up", "Catch up", "聊聊近况", chunk)])
        html = render_html(digest)
        assert executable_parts(html, allowed=allowed) == [], files[start].name


def test_hostile_strings_in_every_field_render_inert():
    evil_url = "javascript:alert(1)"
    s = Starter(id="id00000001", person=HOSTILE, person_id=1, signal=None, topics=(HOSTILE,),
                text=HOSTILE, lang="en", post_id="p", post_url=evil_url, post_title=HOSTILE,
                post_excerpt=HOSTILE + "x", published_at=NOW, image="data:image/svg+xml,<svg onload=alert(1)>",
                score=1.0, reasons=(HOSTILE,))
    digest = Digest(day=DAY, timezone="UTC", window_start=NOW, window_end=NOW, starters=(s,),
                    sections=(Section("catch_up", HOSTILE, HOSTILE, (s,)),), failing_sources=())
    assert executable_parts(render_html(digest), allowed=chrome()) == []
