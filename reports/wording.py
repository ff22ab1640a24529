"""Turning a ranked candidate into words: clean excerpts, named things, templates in en and zh.

Templates live in reports/starters.toml (a user file may override any key). Pure functions.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from transforms.text import normalise_space, snippet

DEFAULT_TEMPLATES = Path(__file__).with_name("starters.toml")
EXCERPT_CHARS = {"en": 70, "zh": 36}

_NOISE = re.compile(r"\[(?:图片|视频|组图)\]|https?://\S+|\s-\s*转发\s*@.*$|[\u200b\ufeff]", re.S)
_NOISE_HINTS = ("[", "http", "转发", "\u200b", "\ufeff")  # each of _NOISE's branches needs one of these
_HASHTAG = re.compile(r"#([^#\s]{1,30})#")              # Weibo: #招聘#
_EN_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ZH_SENTENCE = re.compile(r"(?<=[。！？!?])")
_BOOK = re.compile(r"《[^》]{1,30}》")
_CAPS = re.compile(r"\b(?:[A-Z][\w’'\-]*|[A-Z]{2,})(?:\s+(?:of\s+|the\s+|de\s+)?(?:[A-Z][\w’'\-]*|\d+(?:\.\d+)?))*")
_NOT_NAMES = {"I", "I'm", "I’m", "I've", "I’ve", "It's", "It’s", "The", "A", "An", "My", "We", "Our", "This",
              "That", "Any", "Last", "First", "Best", "Hot", "Week", "Today", "Tonight", "Just", "So",
              "And", "But", "Also", "Yes", "No", "OK", "PB", "TIL", "Saturday", "Sunday", "Monday",
              "Tuesday", "Wednesday", "Thursday", "Friday", "January", "February", "March", "April",
              "May", "June", "July", "August", "September", "October", "November", "December"}


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@lru_cache(maxsize=8)
def load_templates(path: str | None = None) -> dict:
    """The bundled templates, with a user file's keys (if any) laid over them."""
    with DEFAULT_TEMPLATES.open("rb") as fh:
        data = tomllib.load(fh)
    if path:
        from guanxi.errors import GuanxiError

        try:
            with Path(path).open("rb") as fh:
                data = _merge(data, tomllib.load(fh))
        except OSError as exc:
            raise GuanxiError(f"starters: cannot read {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise GuanxiError(f"starters: {path}: invalid TOML: {exc}") from None
    return data


def _denoise(text: str) -> str:
    """`_NOISE` blanked out; the regex runs only where it could match (most posts: nowhere)."""
    return _NOISE.sub(" ", text) if any(h in text for h in _NOISE_HINTS) else text


def clean_excerpt(title: str, text: str, lang: str) -> str:
    """A concise excerpt: a real title if there is one, else the first sentence of the text."""
    title = normalise_space(_denoise(title or "")).replace("\n", " ")
    body = normalise_space(_denoise(text or "")).replace("\n", " ")
    # Weibo-style "titles" are the text cut at N characters plus "...": not a real title.
    truncated = title.endswith(("...", "…")) or (body and title and body.startswith(title[:20]))
    source = title if title and not truncated else body or title
    source = _HASHTAG.sub(r"\1 ", source).strip()
    splitter = _ZH_SENTENCE if lang == "zh" else _EN_SENTENCE
    first = next((s.strip() for s in splitter.split(source) if s.strip()), source)
    limit = EXCERPT_CHARS.get(lang, 70)
    return snippet(first, limit).rstrip("。.!！") or snippet(source, limit)


def named_things(title: str, text: str, lang: str = "en") -> list[str]:
    """Named places and things a post mentions: 《书名》, #话题#, Capitalised Names mid-sentence (English)."""
    body = f"{title}\n{text}"
    found: list[str] = []
    for m in _BOOK.finditer(body):
        found.append(m.group(0))
    for m in _HASHTAG.finditer(body):
        found.append(m.group(1))
    for m in (_CAPS.finditer(body) if lang != "zh" else ()):
        phrase = m.group(0).strip()
        start = m.start()
        before = body[:start].rstrip()
        at_sentence_start = not before or before[-1] in ".!?\n:。！？“\"'"
        words = phrase.split()
        if at_sentence_start:
            words = words[1:]  # "Dawn surf at Manly": the first word is just capitalised
            if words and words[0] in ("of", "the", "de"):
                words = words[1:]
        words = [w for w in words]
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        phrase = " ".join(words).strip(" -’'")
        if len(phrase) >= 3 and phrase not in _NOT_NAMES and not phrase.isdigit():
            found.append(phrase)
    seen: dict[str, None] = {}
    for f in found:
        seen.setdefault(f)
    return list(seen)


def age_phrase(published: datetime, now: datetime, lang: str) -> str:
    secs = max(0, (now - published).total_seconds())
    hours, days = int(secs // 3600), int(secs // 86400)
    if lang == "zh":
        return "刚刚" if hours < 1 else f"{hours}小时前" if days < 1 else "昨天" if days == 1 else f"{days}天前"
    if hours < 1:
        return "just now"
    if days < 1:
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    return "yesterday" if days == 1 else f"{days} days ago"


def quote_posts(items: list[tuple[str, datetime]], now: datetime, lang: str) -> str:
    """“A” (2 days ago), or for several: 3 posts: “A” (2 days ago) and “B” (5 days ago)."""
    parts = [f"“{ex}”（{age_phrase(at, now, lang)}）" if lang == "zh" else f"“{ex}” ({age_phrase(at, now, lang)})"
             for ex, at in items[:2]]
    if len(items) == 1:
        return parts[0]
    if lang == "zh":
        return f"{len(items)}条：" + "和".join(parts) + ("等" if len(items) > 2 else "")
    return f"{len(items)} posts: " + " and ".join(parts) + (" and more" if len(items) > 2 else "")


def fill(templates: dict, lang: str, group: str, key: str, **values: str) -> str:
    """Format one template; fall back to English, then to the group's `default`."""
    for lg in (lang, "en"):
        table = templates.get(lg, {}).get(group, {})
        tpl = table.get(key) or table.get("default")
        if tpl:
            return tpl.format_map(_Blank(values))
    return ""


class _Blank(dict):
    """Unknown placeholders in a user's template render empty instead of crashing the digest."""

    def __missing__(self, key: str) -> str:
        return ""
