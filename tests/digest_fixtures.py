"""Digests built in memory for render tests: ordinary, Chinese, hostile and quiet."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from reports.digest import Digest, Section, SourceHealth, Starter

DAY = date(2026, 11, 24)  # a Tuesday
NOW = datetime(2026, 11, 24, 0, 30, tzinfo=timezone.utc)

HOSTILE = '</title><script>alert(1)</script><img src=x onerror="alert(2)"><style>*{x:expression(alert(3))}</style>'


def starter(n: int, *, person: str, text: str, signal: str | None = None, lang: str = "en",
            post_url: str | None = "https://example.org/post", image: str | None = None,
            excerpt: str = "", reasons: tuple[str, ...] = ("posted 2 hours ago",)) -> Starter:
    return Starter(id=f"id{n:08d}", person=person, person_id=n, signal=signal, topics=("work",),
                   text=text, lang=lang, post_id=f"p{n}", post_url=post_url, post_title="",
                   post_excerpt=excerpt, published_at=NOW - timedelta(hours=2), image=image,
                   score=1.0, reasons=reasons)


def make_digest(sections: list[tuple[str, str, str, list[Starter]]],
                failing: tuple[SourceHealth, ...] = ()) -> Digest:
    secs = tuple(Section(sid, en, zh, tuple(items)) for sid, en, zh, items in sections)
    starters = tuple(s for sec in secs for s in sec.items)
    return Digest(day=DAY, timezone="Asia/Shanghai", window_start=NOW - timedelta(days=1),
                  window_end=NOW, starters=starters, sections=secs, failing_sources=failing)


def sample_digest(image_base: str | None = None) -> Digest:
    """Seven people across known and unknown section ids, Chinese and English, with images."""
    img = (lambda name: f"{image_base}/img/{name}.png") if image_base else (lambda name: None)
    return make_digest([
        ("congratulate", "Congratulate", "恭喜", [
            starter(1, person="Sarah Chen", signal="congratulate", image=img("lantern"),
                    text="Congratulate Sarah Chen in person — they shared: “We shipped Lantern 2.0!” (5 hours ago).",
                    excerpt="Eighteen months of work by an incredible team across Singapore, Shanghai and Berlin.",
                    reasons=("signal: congratulate", "topics: work", "posted 5 hours ago")),
            starter(2, person="李伟", signal="congratulate", lang="zh", image=img("hike"),
                    post_url="https://weibo.com/5873204116/PgvQ1nH8e",
                    text="当面恭喜李伟——他分享了：“升职啦，谢谢团队！”（5小时前）。",
                    reasons=("signal: congratulate", "posted 5 hours ago")),
        ]),
        ("offer_help", "Offer help", "帮一把", [
            starter(3, person="Priya Nair", signal="offer_help",
                    text="Priya Nair is looking for help: “Moving to Shanghai” (yesterday). Offer a contact.",
                    reasons=("signal: offer_help", "topics: family", "posted yesterday")),
        ]),
        ("check_in", "Check in privately", "私下问候", [
            starter(4, person="王芳", signal="check_in", lang="zh",
                    text="王芳最近提到家人住院（昨天）。找个私下的时机问候一下。"),
        ]),
        ("recommend", "Recommend", "推荐", [  # an id this renderer has no style for
            starter(5, person="Tom Becker", text="Tom and Priya both asked about Rust: introduce them."),
        ]),
        ("catch_up", "Catch up", "聊聊近况", [
            starter(6, person="Emily Walsh", text="Emily Walsh went climbing in Yangshuo (2 days ago).",
                    image=img("climb")),
            starter(7, person="刘洋", lang="zh", text="刘洋写了一篇关于 DuckDB 的博客（3天前）。"),
        ]),
    ], failing=(SourceHealth("Zhang Ming", "https://zhangming.example/feed.json", "failed",
                             "fetch: HTTP 503 Service Unavailable", 3),))


def hostile_digest() -> Digest:
    """Every feed-controlled field carries markup, script or a dangerous URL."""
    return make_digest([
        ("congratulate", HOSTILE, HOSTILE, [
            starter(1, person=HOSTILE, text=HOSTILE, excerpt=HOSTILE, reasons=(HOSTILE,),
                    post_url="javascript:alert(4)", image="javascript:alert(5)"),
            starter(2, person='"><svg onload=alert(6)>', text="x", post_url=" JaVaScRiPt:alert(7)",
                    image="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoOCk+"),
            starter(3, person="ok", text="y", post_url='https://ok.example/"onmouseover="alert(9)',
                    image="https://img.example/a.png\" onerror=\"alert(10)"),
        ]),
        ('x" onclick="alert(11)', HOSTILE, HOSTILE, [
            starter(4, person="z", text="</td></tr></table><iframe src=//evil.example>", lang='en" x="1'),
        ]),
    ], failing=(SourceHealth(HOSTILE, "javascript:alert(12)", "failed", HOSTILE, 2),))


def quiet_digest() -> Digest:
    return make_digest([])
