"""HTML to plain text, and picking a post's image: pure functions, fast on the hot path."""

from __future__ import annotations

import re
import unicodedata

import lxml.html
from lxml import etree

_BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
          "pre", "tr", "table", "section", "article", "header", "footer", "figure", "figcaption",
          "hr", "dd", "dt"}
_SKIP = {"script", "style", "noscript", "template", "head", "title", "iframe", "object", "embed"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_NEWLINES = re.compile(r"\n\s*\n+")
_MARKUP_HINT = re.compile(r"<[a-zA-Z/!]|&[#a-zA-Z0-9]+;")


def looks_like_html(text: str) -> bool:
    return bool(_MARKUP_HINT.search(text))


def html_to_text(html: str | None) -> str:
    """Readable plain text from an HTML fragment: blocks become lines, scripts vanish."""
    if not html:
        return ""
    if not looks_like_html(html):
        return normalise_space(html)
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return normalise_space(_soup_text(html))
    parts: list[str] = []
    _walk(root, parts)
    return normalise_space("".join(parts))


def _walk(el, parts: list[str]) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _SKIP:
        if el.tail:
            parts.append(el.tail)
        return
    if tag == "br":
        parts.append("\n")
        if el.tail:
            parts.append(el.tail)
        return
    block = tag in _BLOCK
    if block:
        parts.append("\n")
    if tag == "img" and el.get("alt"):
        parts.append(f" {el.get('alt')} ")
    if el.text and isinstance(el.tag, str):
        parts.append(el.text)
    for child in el:
        _walk(child, parts)
    if block:
        parts.append("\n")
    if el.tail:
        parts.append(el.tail)


def _soup_text(html: str) -> str:
    """Fallback for markup lxml refuses: BeautifulSoup is slower but never gives up."""
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser").get_text("\n")


def normalise_space(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n")
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _NEWLINES.sub("\n\n", "\n".join(lines)).strip()


_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']?([^"'\s>]+)""", re.I)


def first_image(html: str | None) -> str | None:
    """The first <img> source in an HTML fragment, if it is an http(s) URL."""
    if not html:
        return None
    m = _IMG_SRC.search(html)
    if m and m.group(1).lower().startswith(("http://", "https://")):
        return m.group(1).replace("&amp;", "&")
    return None


def snippet(text: str, limit: int = 80) -> str:
    """A short one-line excerpt that does not cut a word (or a CJK run) in half badly."""
    one = " ".join(text.split())
    if len(one) <= limit:
        return one
    cut = one[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:，。；：、") + "…"
