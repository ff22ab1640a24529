"""Render a Digest to HTML and plain text with Jinja2 (autoescape on; no feed HTML passes raw).

Sections are rendered generically: any `Section.id` works, and `SECTION_STYLE` only adds an
icon, an accent colour and an optional note for the ids it knows. The HTML is an email: one
600px table column, CSS inlined by css-inline, with the dark-mode and phone media queries
kept in <head> for the clients that honour them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from reports.digest import Digest
from reports.sanitize import rich


def safe_url(url: str | None) -> str | None:
    """Only http(s) links reach the digest; anything else (javascript:, data:) is dropped."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    # Control characters and quotes have no business in a URL we put in an attribute.
    if any(ord(c) < 0x20 or c in '"<>\\`' for c in url.strip()):
        return None
    return url.strip()


@dataclass(frozen=True, slots=True)
class SectionStyle:
    icon: str
    color: str              # accent: the card's left border and the heading
    note_en: str = ""
    note_zh: str = ""


DEFAULT_STYLE = SectionStyle("•", "#6e7781")
SECTION_STYLE: dict[str, SectionStyle] = {
    "meeting_today": SectionStyle("📅", "#0b62c4", "You meet them today.", "今天会见面。"),
    "congratulate": SectionStyle("🎉", "#c25e00"),
    "offer_help": SectionStyle("🤝", "#1a7f37"),
    "check_in": SectionStyle("🫶", "#8250df", "Sensitive: raise it privately and gently, never as small talk.",
                             "比较敏感：私下、温和地问候，别当作闲聊。"),
    "catch_up": SectionStyle("☕", "#6e5494"),
    "favours": SectionStyle("🎁", "#bf3989"),
    "gone_quiet": SectionStyle("🌙", "#57606a", "Not heard from in a while.", "好久没联系了。"),
    "introduce": SectionStyle("🔗", "#0a7a8f"),
}

UI = {
    "en": dict(
        html_lang="en", brand="Guanxi", summary="{n} starters for {p} colleagues",
        why="Why", open_post="Open post", also_at="also here", image_alt="Image from {name}'s post",
        quiet_title="A quiet day", quiet_body="Nobody you follow posted anything new since the last "
        "digest. A good morning to message someone you have not heard from in a while.",
        health_title="Feeds needing attention", times="{n} times in a row",
        footer="Used a starter? Run `guanxi done ID`. Not useful? `guanxi skip ID`.",
    ),
    "zh": dict(
        html_lang="zh-CN", brand="Guanxi 关系", summary="{p} 位同事，{n} 条话题",
        why="理由", open_post="查看原帖", also_at="另见", image_alt="{name} 的帖子配图",
        quiet_title="今天很安静", quiet_body="自上次摘要以来，你关注的人没有发新内容。"
        "不妨主动问候一位好久没联系的同事。",
        health_title="需要留意的订阅源", times="连续 {n} 次",
        footer="用过某条话题？运行 `guanxi done ID`；没用？`guanxi skip ID`。",
    ),
}
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


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
    # The only way feed HTML may reach a template unescaped: nh3 runs last, then Markup.
    env.filters["rich"] = rich
    return env


def _ui(language: str | None) -> dict:
    return UI["zh" if language == "zh" else "en"]


def people_in(digest: Digest) -> list[str]:
    """Everyone named anywhere in the digest, in order of first appearance."""
    seen: dict[str, None] = {}
    for sec in digest.sections:
        for item in sec.items:
            seen.setdefault(item.person)
    for s in digest.starters:
        seen.setdefault(s.person)
    return list(seen)


def is_quiet(digest: Digest) -> bool:
    """Nothing to say today: no section has anything in it."""
    return not digest.starters and not any(sec.items for sec in digest.sections)


def subject(digest: Digest, language: str | None = None) -> str:
    """`Guanxi · Tue 24 Nov · 7 people to catch up with` (or its Chinese form)."""
    d, n = digest.day, len(people_in(digest))
    if language == "zh":
        when = f"{d.month}月{d.day}日 {_WEEKDAYS_ZH[d.weekday()]}"
        return f"Guanxi · {when} · " + ("今天很安静" if is_quiet(digest) else f"{n} 位同事值得联系")
    when = f"{_WEEKDAYS_EN[d.weekday()]} {d.day} {_MONTHS_EN[d.month - 1]}"
    if is_quiet(digest):
        return f"Guanxi · {when} · a quiet day"
    return f"Guanxi · {when} · {n} {'person' if n == 1 else 'people'} to catch up with"


def _context(digest: Digest, language: str | None, images: Mapping[str, object] | None,
             embedded: bool = False) -> dict:
    sections = [(sec, SECTION_STYLE.get(sec.id, DEFAULT_STYLE)) for sec in digest.sections if sec.items]
    first = next((item for sec, _ in sections for item in sec.items), None)
    return dict(digest=digest, subject=subject(digest, language), sections=sections,
                people=people_in(digest), language=language, t=_ui(language), quiet=is_quiet(digest),
                preheader=f"{first.person}: {first.text}" if first else _ui(language)["quiet_title"],
                images=images, embedded=embedded)


def render_html(digest: Digest, *, language: str | None = None,
                images: Mapping[str, object] | None = None, embedded: bool = False) -> str:
    """The HTML part with CSS inlined. `images` (url -> InlineImage) switches to cid: images,
    or with `embedded` to data: images inside the page.

    Without `images` (the copy on disk, by default) thumbnails load from their http(s) URL with
    no Referer; with it (the email, or a copy on disk with `[digest] embed_images`) only the
    fetched ones appear and nothing loads remotely.
    """
    import css_inline

    html = _env().get_template("digest.html.j2").render(**_context(digest, language, images, embedded))
    # keep_at_rules keeps the dark-mode and phone @media rules in <head>; the rest is inlined.
    html = css_inline.inline(html, keep_at_rules=True, load_remote_stylesheets=False)
    # css-inline puts the kept <style> first in <head>; a browser opening the file from disk
    # only honours <meta charset> within the first 1024 bytes, so move it back to the front.
    charset = '<meta charset="utf-8">'
    return html.replace(charset, "", 1).replace("<head>", "<head>" + charset, 1)


@lru_cache(maxsize=1)
def _text_env() -> jinja2.Environment:
    # Plain text must not be HTML-escaped: the text template renders without autoescape. Kept,
    # because an overlay starts with a copy of the cache and would compile the template each time.
    return _env().overlay(autoescape=False)


def render_text(digest: Digest, *, language: str | None = None) -> str:
    return _text_env().get_template("digest.txt.j2").render(**_context(digest, language, None))


def write_digest(digest: Digest, out_dir: Path, *, language: str | None = None,
                 images: Mapping[str, object] | None = None) -> tuple[Path, Path]:
    """Write digest-YYYY-MM-DD.html and .txt atomically; return their paths. With `images`
    (url -> InlineImage) the page carries those thumbnails inside it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    html = render_html(digest, language=language, images=images, embedded=images is not None)
    for ext, body in (("html", html),
                      ("txt", render_text(digest, language=language))):
        path = out_dir / f"digest-{digest.day.isoformat()}.{ext}"
        tmp = path.with_suffix(f".{ext}.tmp")
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(path)
        paths.append(path)
    return paths[0], paths[1]
