"""Whatever a feed says, the digest HTML carries no markup from it."""

from datetime import date, datetime, timezone

import lxml.html

from reports.digest import Digest, SourceHealth, Starter, group_sections
from reports.render import render_html, render_text

EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'</title>'


def test_hostile_fields_are_escaped():
    s = Starter(id="abc", person=f"Mallory {EVIL}", person_id=1, signal="congratulate", topics=("work",),
                text=f"Congratulate {EVIL}", lang="en", post_id="p", post_url="javascript:alert(3)",
                post_title=EVIL, post_excerpt=EVIL, published_at=datetime(2026, 11, 21, tzinfo=timezone.utc),
                image="javascript:alert(4)", score=1.0, reasons=(EVIL,))
    d = Digest(day=date(2026, 11, 22), timezone="UTC", window_start=s.published_at, window_end=s.published_at,
               starters=(s,), sections=group_sections((s,)),
               failing_sources=(SourceHealth(EVIL, "http://x/" + EVIL, "failed", EVIL, 2),))
    html = render_html(d)
    tree = lxml.html.fromstring(html)
    assert not tree.xpath("//script | //iframe | //object")
    assert not [a for el in tree.iter() if isinstance(el.tag, str) for a in el.attrib if a.startswith("on")]
    assert not [v for el in tree.iter() if isinstance(el.tag, str) for k, v in el.attrib.items()
                if k in ("href", "src") and not v.startswith(("http://", "https://", "#", "cid:"))]
    assert "javascript:" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = render_text(d)
    assert EVIL in text  # plain text stays literal, not entity-encoded
    assert "javascript:" not in text
