"""A pre-parse guard for XML from strangers: no entity declarations, no external DTDs.

Whatever the parser underneath does (feedparser's expat path, its sgmllib loose path, the
stdlib ElementTree), the bytes it is handed have no `<!ENTITY` declaration at all, so there is
nothing to expand (billion laughs, quadratic blow-up) and nothing external to resolve. A DOCTYPE
is allowed only if it declares nothing and names either no external DTD or one of a few
well-known public DTDs (the Netscape RSS 0.91 one, XHTML/HTML); those are never fetched: our
fetcher is the only network code and nothing asks it for a DTD.
"""

from __future__ import annotations

import re

from guanxi.errors import GuanxiError


class UnsafeXml(GuanxiError, ValueError):
    """The document declares entities or needs an external DTD; one line starting with "parse:"."""


# Public identifiers of DTDs that feeds carry by habit. The system URL next to them is ignored.
KNOWN_PUBLIC_IDS = frozenset({
    "-//netscape communications//dtd rss 0.91//en",
    "-//userland//dtd rss 0.91//en",
    "-//w3c//dtd xhtml 1.0 transitional//en",
    "-//w3c//dtd xhtml 1.0 strict//en",
    "-//w3c//dtd xhtml 1.1//en",
    "-//w3c//dtd html 4.01//en",
    "-//w3c//dtd html 4.01 transitional//en",
})

MAX_DOCTYPE_BYTES = 64 * 1024  # a longer DOCTYPE is refused rather than examined
_ENTITY = re.compile(rb"<!\s*ENTITY", re.I)
_DOCTYPE = re.compile(rb"<!\s*DOCTYPE", re.I)
# name, then an optional external id, then an optional [internal subset], then ">".
_DOCTYPE_PARTS = re.compile(
    rb"""<!\s*DOCTYPE\s+[^\s\[>]+\s*
         (?:(?P<kind>PUBLIC|SYSTEM)\s*
            (?:(?P<q1>["'])(?P<id1>.*?)(?P=q1))\s*
            (?:(?P<q2>["'])(?P<id2>.*?)(?P=q2))?\s*)?
         (?:\[(?P<subset>.*?)\]\s*)?>""", re.S | re.I | re.X)


def to_scannable(body: bytes) -> bytes:
    """The document as ASCII-compatible bytes: UTF-16/32 (BOM or NUL pattern) is transcoded."""
    for bom, enc in ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
                     (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le")):
        if body.startswith(bom):
            return body.decode(enc, "replace").encode("utf-8", "replace")
    head = body[:4]
    if head.startswith(b"<\x00") or head.startswith(b"\x00<"):
        enc = "utf-16-le" if head.startswith(b"<\x00") else "utf-16-be"
        if head in (b"<\x00\x00\x00", b"\x00\x00\x00<"):
            enc = "utf-32-le" if head[0:1] == b"<" else "utf-32-be"
        return body.decode(enc, "replace").encode("utf-8", "replace")
    # UTF-8, Latin-1, GBK, Big5, Shift_JIS...: "<" (0x3C) is never a trail byte, so ASCII
    # markup can be matched on the raw bytes.
    return body


_OPAQUE = ((b"<![CDATA[", b"]]>"), (b"<!--", b"-->"), (b"<?", b"?>"))


def strip_opaque(doc: bytes) -> bytes:
    """Drop CDATA sections, comments and processing instructions (text there declares nothing).

    A plain left-to-right scan with bytes.find, so it is linear even for hostile input (a regex
    with a lazy `.*?` would rescan to the end for every unterminated opener).
    """
    out, pos, n = [], 0, len(doc)
    nxt = {open_: doc.find(open_) for open_, _ in _OPAQUE}  # next occurrence of each opener
    while pos < n:
        for open_, _ in _OPAQUE:  # refresh only the ones we have passed: each byte scanned once
            if 0 <= nxt[open_] < pos:
                nxt[open_] = doc.find(open_, pos)
        found = [(nxt[open_], open_, close) for open_, close in _OPAQUE if nxt[open_] >= 0]
        if not found:
            out.append(doc[pos:])
            break
        at, open_, close = min(found)
        out.append(doc[pos:at])
        end = doc.find(close, at + len(open_))
        if end < 0:
            break  # unterminated: the rest is opaque to any parser too
        out.append(b" ")
        pos = end + len(close)
    return b"".join(out)


def check_xml(body: bytes) -> None:
    """Raise UnsafeXml if the document declares entities or references an unknown external DTD."""
    doc = strip_opaque(to_scannable(body))
    if _ENTITY.search(doc):
        raise UnsafeXml("parse: refused: the document declares XML entities "
                        "(entity expansion and external entities are not allowed)")
    doctypes = list(_DOCTYPE.finditer(doc))
    if not doctypes:
        return
    root = re.search(rb"<[A-Za-z_]", doc)
    if len(doctypes) > 1 or (root is not None and doctypes[0].start() > root.start()):
        raise UnsafeXml("parse: refused: a DOCTYPE outside the prolog")
    start = doctypes[0].start()
    m = _DOCTYPE_PARTS.match(doc[start:start + MAX_DOCTYPE_BYTES])
    if m is None:
        raise UnsafeXml("parse: refused: a DOCTYPE this reader cannot vouch for")
    subset = m.group("subset")
    if subset is not None and (b"%" in subset or b"<!" in subset):
        raise UnsafeXml("parse: refused: the DOCTYPE has declarations (internal DTD subset)")
    kind = (m.group("kind") or b"").upper()
    if kind == b"SYSTEM":
        raise UnsafeXml(f"parse: refused: the DOCTYPE references an external DTD "
                        f"({_show(m.group('id1'))})")
    if kind == b"PUBLIC":
        public_id = b" ".join(m.group("id1").split()).decode("ascii", "replace").lower()
        if public_id not in KNOWN_PUBLIC_IDS:
            raise UnsafeXml(f"parse: refused: the DOCTYPE references an unknown external DTD "
                            f"({_show(m.group('id1'))})")


def _show(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").replace("\n", " ")[:120]
