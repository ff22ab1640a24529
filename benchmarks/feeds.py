"""A deterministic generator of realistic feeds for benchmarks (same seed, same bytes).

Six shapes, as met in the wild: blog RSS 2.0, Atom 1.0, Mastodon-style RSS, Bluesky-style
RSS, RSSHub-Weibo-style Chinese RSS, and JSON Feed 1.1; entries of roughly 0.5-3 KB.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

KINDS = ("blog", "atom", "mastodon", "bluesky", "weibo", "jsonfeed")

EN_WORDS = ("team launch hiking weekend coffee project release database migration conference talk "
            "recommend advice family daughter trip Kyoto ramen marathon training promotion kubernetes "
            "python book course festival lantern puppy garden concert museum rain sunny deadline "
            "review design metrics dashboard customer feedback onboarding mentor").split()
ZH_WORDS = ("今天 团队 项目 上线 周末 爬山 火锅 推荐 求助 女儿 出差 杭州 西湖 马拉松 训练 升职 数据库 "
            "迁移 大会 分享 读书 课程 中秋 月饼 小猫 花园 音乐会 博物馆 下雨 晴天 复盘 指标 客户 反馈 "
            "新人 导师 感谢 大家 支持 终于 完成 一起 加油").split()


def _para(rng: random.Random, zh: bool, size: int) -> str:
    words = ZH_WORDS if zh else EN_WORDS
    out, n = [], 0
    sep = "" if zh else " "
    while n < size:
        w = rng.choice(words)
        out.append(w)
        n += len(w.encode("utf-8")) + len(sep)
    end = "。" if zh else "."
    return sep.join(out) + end


def _entries(rng: random.Random, feed_no: int, count: int, zh: bool, now: datetime) -> list[dict]:
    items = []
    for i in range(count):
        size = rng.randint(500, 3000)
        body = _para(rng, zh, size)
        title = body[: rng.randint(8, 20)] if zh else " ".join(body.split()[:rng.randint(3, 9)])
        items.append({
            "id": f"{feed_no}-{i}",
            "title": title,
            "html": f"<p>{escape(body)}</p>" + (f'<p><img src="https://img.example/{feed_no}/{i}.jpg"></p>'
                                                if i % 5 == 0 else ""),
            "text": body,
            "date": now - timedelta(hours=feed_no % 48 + i * 7, minutes=feed_no % 60),
        })
    return items


def render_feed(kind: str, feed_no: int, entries: int = 20, *, seed: int = 42,
                now: datetime = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc)) -> tuple[bytes, str]:
    """One feed's bytes and content type."""
    rng = random.Random(seed * 1_000_003 + feed_no)
    zh = kind == "weibo" or (kind in ("blog", "jsonfeed") and feed_no % 3 == 0)
    items = _entries(rng, feed_no, entries, zh, now)
    base = f"https://u{feed_no}.example"
    if kind == "jsonfeed":
        doc = {"version": "https://jsonfeed.org/version/1.1", "title": f"Feed {feed_no}",
               "home_page_url": base, "items": [
                   {"id": f"{base}/p/{it['id']}", "url": f"{base}/p/{it['id']}", "title": it["title"],
                    "content_html": it["html"], "date_published": it["date"].strftime("%Y-%m-%dT%H:%M:%SZ")}
                   for it in items]}
        return json.dumps(doc, ensure_ascii=False).encode("utf-8"), "application/feed+json"
    if kind == "atom":
        parts = [f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                 f"<title>Feed {feed_no}</title><id>{base}/</id><updated>{now:%Y-%m-%dT%H:%M:%SZ}</updated>"]
        for it in items:
            parts.append(f"<entry><title>{escape(it['title'])}</title><id>{base}/p/{it['id']}</id>"
                         f'<link href="{base}/p/{it["id"]}"/><updated>{it["date"]:%Y-%m-%dT%H:%M:%SZ}</updated>'
                         f'<content type="html">{escape(it["html"])}</content></entry>')
        parts.append("</feed>")
        return "".join(parts).encode("utf-8"), "application/atom+xml; charset=utf-8"
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
             f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
             f"<title>Feed {feed_no}</title><link>{base}/</link>"]
    for it in items:
        link = f"{base}/p/{it['id']}"
        date = format_datetime(it["date"])
        if kind == "mastodon":
            parts.append(f"<item><guid isPermaLink=\"true\">{link}</guid><link>{link}</link>"
                         f"<pubDate>{date}</pubDate><description>{escape(it['html'])}</description></item>")
        elif kind == "bluesky":
            parts.append(f"<item><link>{link}</link><description>{escape(it['text'])}</description>"
                         f"<pubDate>{it['date']:%Y-%m-%dT%H:%M:%S.000Z}</pubDate><guid isPermaLink=\"false\">"
                         f"at://did:plc:{feed_no}/app.bsky.feed.post/{it['id']}</guid></item>")
        elif kind == "weibo":
            parts.append(f"<item><title>{escape(it['title'])}</title><description><![CDATA[{it['html']}]]>"
                         f"</description><pubDate>{date}</pubDate><guid isPermaLink=\"false\">{link}</guid>"
                         f"<link>{link}</link><author>用户{feed_no}</author></item>")
        else:
            parts.append(f"<item><title>{escape(it['title'])}</title><link>{link}</link><guid>{link}</guid>"
                         f"<pubDate>{date}</pubDate><description>{escape(it['text'][:200])}</description>"
                         f"<content:encoded><![CDATA[{it['html']}]]></content:encoded></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8"), "application/rss+xml; charset=utf-8"


def feed_kind(feed_no: int) -> str:
    return KINDS[feed_no % len(KINDS)]


def parsed_posts(count: int) -> list[tuple[str, str]]:
    """(title, text) of the first `count` entries of these feeds (20 per feed, every shape in
    turn), parsed as an ingest parses them: the posts the tagging benchmarks read."""
    from connectors.feed import parse_feed

    posts: list[tuple[str, str]] = []
    for i in range(max(1, count // 20)):
        _, entries = parse_feed(render_feed(KINDS[i % len(KINDS)], i, 20)[0])
        posts += [(entry.title, entry.text) for entry in entries]
    return posts
