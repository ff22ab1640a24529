"""The digest's HTML and text parts: layout, languages, generic sections, hostile feed content."""

from __future__ import annotations

from html.parser import HTMLParser

from reports.images import InlineImage, fit, sniff
from reports.render import SECTION_STYLE, render_html, render_text, safe_url, subject
from tests.digest_fixtures import HOSTILE, hostile_digest, quiet_digest, sample_digest
from tests.pngtools import make_png


class Doc(HTMLParser):
    """Every element with its attributes, the <title> text, and the text of each <style>."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title, self.styles, self._in = "", [], None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "style":
            self.styles.append(data)

    def all(self, tag: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag]


def test_subject_english_and_chinese():
    d = sample_digest()
    assert subject(d) == "Guanxi · Tue 24 Nov · 7 people to catch up with"
    assert subject(d, "zh") == "Guanxi · 11月24日 周二 · 7 位同事值得联系"
    assert subject(quiet_digest()) == "Guanxi · Tue 24 Nov · a quiet day"
    assert subject(quiet_digest(), "zh") == "Guanxi · 11月24日 周二 · 今天很安静"


def test_html_is_a_600px_table_email_with_inlined_css_and_dark_mode():
    html = render_html(sample_digest("https://img.example"))
    doc = Doc(html)
    assert any(a.get("width") == "600" and "container" in (a.get("class") or "") for a in doc.all("table"))
    # css-inline moved the rules onto the elements...
    assert any("font-size" in (a.get("style") or "") for a in doc.all("td"))
    # ...and kept only the @media rules (dark mode, phone) in <head>.
    assert len(doc.styles) == 1 and "prefers-color-scheme: dark" in doc.styles[0]
    assert "max-width: 620px" in doc.styles[0] and "!important" in doc.styles[0]
    assert {"name": "color-scheme", "content": "light dark"} in doc.all("meta")
    # No remote fonts, stylesheets or scripts.
    assert not doc.all("link") and not doc.all("script") and "@import" not in html and "@font-face" not in html


def test_every_section_renders_in_order_with_names_reasons_and_links():
    d = sample_digest()
    html, text = render_html(d), render_text(d)
    ids = [a["data-section"] for _, a in Doc(html).tags if "data-section" in a]
    assert ids == ["congratulate", "offer_help", "check_in", "recommend", "catch_up"]
    for sec in d.sections:
        for s in sec.items:
            assert s.person in html and s.person in text
            assert f"id {s.id}" in html and f"id {s.id}" in text
    assert "signal: congratulate · topics: work · posted 5 hours ago" in html
    assert 'href="https://weibo.com/5873204116/PgvQ1nH8e"' in html
    assert "https://weibo.com/5873204116/PgvQ1nH8e" in text
    # Known ids get their icon and colour, an unknown id the default; check_in its gentle note.
    assert SECTION_STYLE["congratulate"].icon in html and "•" in html
    assert "raise it privately and gently" in html and "raise it privately and gently" in text
    # The source-health footer names the failing feed.
    assert "Feeds needing attention" in html and "https://zhangming.example/feed.json" in html
    assert "HTTP 503" in text and "3 times in a row" in text


def test_chinese_language_uses_chinese_titles_and_labels():
    d = sample_digest()
    html, text = render_html(d, language="zh"), render_text(d, language="zh")
    assert '<html lang="zh-CN"' in html
    for t in ("恭喜", "帮一把", "私下问候", "推荐", "需要留意的订阅源", "查看原帖"):
        assert t in html
    assert "Offer help" not in html and "帮一把" in text and "理由" in text


def test_thumbnails_on_disk_and_in_the_email():
    d = sample_digest("https://img.example")
    disk = Doc(render_html(d))
    imgs = disk.all("img")
    assert [a["src"] for a in imgs] == ["https://img.example/img/lantern.png", "https://img.example/img/hike.png",
                                        "https://img.example/img/climb.png"]
    for a in imgs:
        assert a["width"] == "96" and a["height"] == "96" and a["alt"] and a["referrerpolicy"] == "no-referrer"
    # In the email only fetched images appear, by cid:, sized to their real aspect ratio.
    png = make_png(400, 200, (200, 30, 30))
    kind = sniff(png)
    w, h = fit(kind[1], kind[2])
    got = {"https://img.example/img/hike.png": InlineImage("https://img.example/img/hike.png", "img-1@guanxi",
                                                           "png", png, w, h)}
    email = Doc(render_html(d, images=got))
    assert [(a["src"], a["width"], a["height"], a["alt"]) for a in email.all("img")] == [
        ("cid:img-1@guanxi", "96", "48", "Image from 李伟's post")]
    # A copy on disk with embed_images carries the same fetched image inside the page itself.
    embedded = Doc(render_html(d, images=got, embedded=True)).all("img")
    assert [(a["src"], a["width"]) for a in embedded] == [(got["https://img.example/img/hike.png"].data_uri, "96")]
    assert embedded[0]["src"].startswith("data:image/png;base64,iVBORw0KGgo")


def test_quiet_day_is_a_short_friendly_note():
    html, text = render_html(quiet_digest()), render_text(quiet_digest())
    assert "A quiet day" in html and "A quiet day" in text
    assert "data-starter" not in html
    assert len(text.splitlines()) < 10
    assert "今天很安静" in render_html(quiet_digest(), language="zh")


def test_hostile_feed_content_is_inert():
    html = render_html(hostile_digest())
    doc = Doc(html)
    assert doc.title == "Guanxi · Tue 24 Nov · 4 people to catch up with"
    tags = {t for t, _ in doc.tags}
    assert not tags & {"script", "iframe", "svg", "object", "embed", "link", "form"}
    assert len(doc.all("style")) == 1  # ours, in <head>
    assert doc.all("img") == []  # every image URL was javascript:, data: or malformed
    for tag, attrs in doc.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert "javascript" not in (value or "").lower(), (tag, name, value)
            assert "expression" not in (value or "").lower(), (tag, name, value)
            if name in ("href", "src"):
                assert value.startswith(("https://", "http://", "cid:")), value
            if name == "lang":
                assert value in ("en", "zh-CN")
    # The hostile strings are there, as text.
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;iframe" in html
    # Plain text shows them literally but links only http(s) URLs.
    text = render_text(hostile_digest())
    assert HOSTILE in text and "javascript:alert(4)" not in text and "JaVaScRiPt" not in text


def test_safe_url():
    assert safe_url("https://a.example/x?y=1") == "https://a.example/x?y=1"
    assert safe_url(" http://a.example ") == "http://a.example"
    for bad in ("javascript:alert(1)", "JAVASCRIPT:x", "data:text/html,x", "vbscript:x", "//a.example",
                "https://a.example/\"onerror=x", "https://a.example/\nx", "https:///nohost", "", None):
        assert safe_url(bad) is None, bad


def test_sniff_refuses_non_images_and_reads_sizes():
    assert sniff(make_png(640, 480, (1, 2, 3))) == ("png", 640, 480)
    assert sniff(b"GIF89a\x10\x00\x20\x00" + b"\x00" * 20) == ("gif", 16, 32)
    jpeg = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            b"\xff\xc0\x00\x11\x08\x01\xe0\x02\x80\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01")
    assert sniff(jpeg) == ("jpeg", 640, 480)
    assert sniff(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>') is None
    assert sniff(b"<html>403 Forbidden</html>") is None
    assert fit(400, 200) == (96, 48) and fit(50, 80) == (50, 80) and fit(0, 0) == (96, 96)


def test_charset_comes_first_so_a_browser_reads_the_file_as_utf8():
    html = render_html(sample_digest())
    assert html.index('<meta charset="utf-8">') < 200
