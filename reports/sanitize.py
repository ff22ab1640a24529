"""The allowlist sanitiser for any feed-derived HTML fragment, and an audit for rendered pages.

The digest templates autoescape every value, so feed text reaches the page only as text. A
template that wants a rich fragment (a post's own markup) must pipe it through the `rich`
filter, which runs `clean_fragment` (nh3, i.e. Rust's ammonia) as the very last step and only
then marks it safe. `executable_parts` lists anything executable in a whole rendered page; the
tests run it over every digest rendered from feedparser's sanitizer corpus.
"""

from __future__ import annotations

import re

ALLOWED_TAGS = frozenset({"a", "abbr", "b", "blockquote", "br", "code", "del", "em", "i", "img",
                          "li", "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "u",
                          "ul"})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"},
                      "abbr": {"title"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed with everything inside them, not just unwrapped (their text is code, not prose).
DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "noscript",
                               "template", "svg", "math", "xmp", "noembed", "noframes"})


def clean_fragment(html: str | None) -> str:
    """Feed HTML reduced to harmless markup: allowlisted tags/attributes, http(s)/mailto links."""
    if not html:
        return ""
    import nh3  # only the render path needs it

    return nh3.clean(html, tags=set(ALLOWED_TAGS), clean_content_tags=set(DROP_WITH_CONTENT),
                     attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
                     url_schemes=set(URL_SCHEMES), strip_comments=True,
                     link_rel="noopener noreferrer nofollow")


def rich(html: str | None):
    """Jinja filter: the sanitised fragment, marked safe only after nh3 has run."""
    from markupsafe import Markup

    return Markup(clean_fragment(html))


EXECUTABLE_TAGS = ("script", "iframe", "frame", "object", "embed", "applet", "base", "form",
                   "meta", "link", "style")
_BAD_SCHEME = re.compile(r"^\s*(javascript|vbscript|data|livescript|mocha)\s*:", re.I)
_URL_ATTRS = ("href", "src", "action", "formaction", "background", "poster", "xlink:href",
              "lowsrc", "dynsrc", "srcset", "data")


def executable_parts(html: str, *, allowed: dict[str, int] | None = None) -> list[str]:
    """Everything executable in a rendered page (an empty list means inert).

    `allowed` lets the page's own chrome through: tag -> how many of them the template itself
    writes (the digest's <meta charset> and its <style> in <head>).
    """
    import lxml.html

    root = lxml.html.document_fromstring(html)
    found: list[str] = []
    counts: dict[str, int] = {}
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag in EXECUTABLE_TAGS:
            counts[tag] = counts.get(tag, 0) + 1
        for name, value in el.attrib.items():
            lname = name.lower()
            # lxml unescapes entities, and browsers ignore embedded tabs/newlines in schemes.
            squeezed = re.sub(r"[\x00-\x20]", "", value)
            if lname.startswith("on"):
                found.append(f"<{tag} {name}=...>: event handler")
            elif lname in _URL_ATTRS and _BAD_SCHEME.match(squeezed):
                found.append(f"<{tag} {name}={value[:60]!r}>: script URL")
            elif lname == "style" and re.search(r"expression\s*\(|javascript:|behaviou?r\s*:|-moz-binding",
                                                value, re.I):
                found.append(f"<{tag} style={value[:60]!r}>: script in style")
    for tag, n in counts.items():
        if n > (allowed or {}).get(tag, 0):
            found.append(f"<{tag}> x{n}")
    return found
