"""HTML to plain text, and picking a post's image: pure functions, fast on the hot path."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urljoin

import lxml.html
from lxml import etree

_BLOCK = {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
          "pre", "tr", "table", "section", "article", "header", "footer", "figure", "figcaption",
          "hr", "dd", "dt"}
_SKIP = {"script", "style", "noscript", "template", "head", "title", "iframe", "object", "embed"}
_OTHER_SPACES = "\t\r\f\v\u00a0\u3000"  # each counts as a space (see normalise_space)
_SPACE_RUNS = re.compile(" {2,}")
_NEWLINES = re.compile(r"\n\s*\n+")
_MARKUP_HINT = re.compile(r"<[a-zA-Z/!]|&[#a-zA-Z0-9]+;")


def looks_like_html(text: str) -> bool:
    # `in` first: text without "<" or "&" (most plain text) is then never searched by the
    # regex, which tries its two alternatives at every character.
    return ("<" in text or "&" in text) and bool(_MARKUP_HINT.search(text))


MAX_HTML_CHARS = 2_000_000  # a post is never this long; beyond it is an attack or a mistake
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # lxml refuses these
_NOT_XML_BYTES = bytes(c for c in range(32) if c not in (9, 10, 13))  # those below U+0020


def _without_not_xml(text: str) -> str:
    """text without the characters _NOT_XML matches. Most texts have none, and finding that
    out in bytes (one C pass that drops the controls, then a length compare) costs a third of
    the regex's search, which tries its character class at every character."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw.translate(None, _NOT_XML_BYTES)) == len(raw) and "\ufffe" not in text and "\uffff" not in text:
        return text
    return _NOT_XML.sub("", text)


_TAG = re.compile(r"<[^<>]*>")


def html_to_text(html: str | None) -> str:
    """Readable plain text from an HTML fragment: blocks become lines, scripts vanish.

    lxml parses in C, and the tree is read in one walk in linear time, without recursion, so
    hostile markup (deep nesting, unclosed tags by the hundred thousand) cannot stall or crash it.
    """
    if not html:
        return ""
    if not looks_like_html(html):
        return normalise_space(html)
    html = _without_not_xml(html[:MAX_HTML_CHARS])
    root = _fragment_body(html)
    if root is None:
        import html as htmllib

        return normalise_space(htmllib.unescape(_TAG.sub(" ", html)))
    return normalise_space(_readable_text(root))


# Plain lxml elements: lxml.html's parser looks up a Python class for every element it hands
# out, and its fragment_fromstring moves the parsed nodes into a new document; together those
# cost twice the parse itself. The same libxml2 parser options, so the same tree.
_HTML_PARSER = etree.HTMLParser()
_FULL_DOCUMENT = re.compile(r"^\s*<(?:html|!doctype)", re.I)


def _fragment_body(html: str) -> etree._Element | None:
    """The <body> holding a fragment as lxml.html.fragment_fromstring(create_parent=...) reads
    it (same tree, same leading text), or None when lxml cannot parse it at all."""
    if _FULL_DOCUMENT.match(html):
        return _lxml_html_fragment(html)  # a whole page in a post: rare, left to lxml.html
    try:
        root = etree.fromstring(f"<html><body>{html}</body></html>", _HTML_PARSER)
    except (etree.LxmlError, ValueError):
        return None
    bodies = [] if root is None or root.tag != "html" else [e for e in root if e.tag == "body"]
    if len(bodies) > 1:
        return _joined_bodies(bodies)
    if len(bodies) != 1:
        return _lxml_html_fragment(html)  # whatever lxml.html makes of it
    body = bodies[0]
    if body.text and not body.text.strip():
        body.text = None  # fragment_fromstring keeps leading text only if it is more than spaces
    return body


def _joined_bodies(bodies: list[etree._Element]) -> etree._Element:
    """One root for a fragment that closes its <body> and opens another ("</body><body>", seen
    in pasted pages): lxml.html refuses it (an AssertionError, which used to fail the whole
    feed). Each body becomes a block of its own, so all of their text is kept, in order."""
    root = etree.Element("div")
    for body in bodies:
        body.tag = "div"
        body.tail = None
        root.append(body)
    return root


def _lxml_html_fragment(html: str) -> etree._Element | None:
    try:
        return lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.LxmlError, ValueError, AssertionError):
        # AssertionError: lxml.html asserts a page has one <body>. None makes the caller fall
        # back to the text with its tags stripped: a post is never lost to its markup.
        return None


def _readable_text(root: etree._Element) -> str:
    """The text of root's tree with the subtrees of _SKIP elements left out, a line break after
    each <br>, an image's alt text in its place, and each block on lines of its own (a newline
    before its text and after its end), read in one walk in document order. It is what setting
    those marks into the tree's text and tails, dropping the skipped subtrees (keeping their tails)
    and taking string() would give, without decoding each text twice and encoding it back."""
    out: list[str] = []
    walk = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in walk:
        if event == "comment" or event == "pi":  # not text: only what follows one counts
            if el.tail:
                out.append(el.tail)
        elif event == "start":
            if el.tag in _SKIP:
                walk.skip_subtree()  # its end (and so its tail) still comes
                continue
            if el.tag in _BLOCK:
                out.append("\n")
            if el.text:
                out.append(el.text)
        elif el is root:
            break  # the root's tail is not its text
        else:
            if el.tag == "br":
                out.append("\n")
            elif el.tag == "img":
                alt = (el.get("alt") or "").strip()
                if alt:
                    out.append(f" {alt} ")
            elif el.tag in _BLOCK:
                out.append("\n")
            if el.tail:
                out.append(el.tail)
    return "".join(out)


def normalise_space(text: str) -> str:
    """NFC, each run of spaces (tabs, no-break and ideographic spaces too) as one space, lines
    stripped, at most one blank line in a row. Plain replaces, then one regex for runs only
    where there is one: linear, and four times faster than a regex over every space."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n")
    for space in _OTHER_SPACES:
        if space in text:
            text = text.replace(space, " ")
    if "  " in text:
        text = _SPACE_RUNS.sub(" ", text)
    lines = (line.strip() for line in text.split("\n"))
    return _NEWLINES.sub("\n\n", "\n".join(lines)).strip()


# An absolute http(s) URL that urljoin would hand back as it is, whatever the base: lower-case
# scheme, an ASCII host without brackets, and no query, fragment, parameters, spaces or controls
# (each of which urljoin may normalise). Feeds' links are mostly like this; the rest go to urljoin.
_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.:@_~%!$&'()*+,=-]+(?:/[A-Za-z0-9._~%!$&'()*+,=:@/-]*)?")


def join_url(base: str | None, url: str) -> str:
    """urljoin(base, url), without parsing both when url is already a plain absolute URL."""
    return url if base and _PLAIN_ABSOLUTE.fullmatch(url) else urljoin(base, url)


_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']?([^"'\s>]+)""", re.I)


def first_image(html: str | None, base_url: str | None = None) -> str | None:
    """The first <img> source in an HTML fragment, resolved against base_url, if http(s)."""
    if not html:
        return None
    m = _IMG_SRC.search(html)
    if not m:
        return None
    src = m.group(1).replace("&amp;", "&")
    if base_url:
        src = join_url(base_url, src)
    return src if src.lower().startswith(("http://", "https://")) else None


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
