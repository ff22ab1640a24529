"""The roster outside the config: OPML import/export and people listing."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from guanxi import store
from guanxi.errors import GuanxiError


class OpmlError(GuanxiError, ValueError):
    """A malformed OPML file; one line naming the problem."""


@dataclass(slots=True)
class OpmlPerson:
    name: str
    group: str | None
    feeds: list[str] = field(default_factory=list)


class _Rest:
    """The not-yet-visited siblings of an outline, shaped like an element for the walk."""

    def __init__(self, outlines: list[ET.Element]):
        self.outlines = outlines

    def findall(self, _tag: str) -> list[ET.Element]:
        return self.outlines


def parse_opml(data: bytes, *, filename: str = "OPML") -> list[OpmlPerson]:
    """People from an OPML export: outline title (else text) names the person, xmlUrl the feed;
    outlines with the same name join one person; a parent outline's name becomes the group."""
    from connectors.xmlsafety import UnsafeXml, check_xml

    if b"<!DOCTYPE" in data[:2048] or b"<!ENTITY" in data:
        raise OpmlError(f"opml: {filename}: DOCTYPE/ENTITY declarations are not allowed")
    try:
        check_xml(data)  # also catches UTF-16 documents and lower-case declarations
    except UnsafeXml as exc:
        raise OpmlError(f"opml: {filename}: {str(exc).removeprefix('parse: ')}") from None
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OpmlError(f"opml: {filename}: not well-formed XML ({exc})") from None
    if root.tag.lower() != "opml":
        raise OpmlError(f"opml: {filename}: root element is <{root.tag}>, expected <opml>")
    body = root.find("body")
    if body is None:
        raise OpmlError(f"opml: {filename}: no <body> element")
    people: dict[str, OpmlPerson] = {}

    def label(el: ET.Element) -> str:
        return (el.get("title") or el.get("text") or "").strip()

    # An explicit stack, not recursion: a hostile file may nest outlines thousands deep.
    stack: list[tuple[ET.Element, str | None]] = [(body, None)]
    while stack:
        el, group = stack.pop()
        children = el.findall("outline")
        for i, child in enumerate(children):
            url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
            if url:
                name = label(child) or url
                person = people.setdefault(name, OpmlPerson(name, group))
                if url not in person.feeds:
                    person.feeds.append(url)
            else:
                # Finish this level's remaining siblings after the child's subtree (file order).
                stack.append((_Rest(children[i + 1:]), group))
                stack.append((child, label(child) or group))
                break
    return list(people.values())


def import_opml(con, people: list[OpmlPerson], *, rsshub_base_url: str,
                options=None) -> tuple[int, int]:
    """Add people and sources; return (people added, sources added). Idempotent."""
    from connectors.sources import SpecError, resolve_spec

    added_people = added_sources = 0
    for p in people:
        pid, created = store.upsert_person(con, name=p.name, origin="opml", grp=p.group,
                                           aliases=_existing_aliases(con, p.name))
        added_people += created
        for url in p.feeds:
            try:
                resolved = resolve_spec(url, rsshub_base_url=rsshub_base_url, options=options)
            except SpecError:
                continue
            _, created = store.ensure_source(con, person_id=pid, kind=resolved.kind, spec=url,
                                             url=resolved.url)
            added_sources += created
    return added_people, added_sources


def _existing_aliases(con, name: str) -> list[str]:
    row = con.execute("SELECT aliases FROM people WHERE name = ?", [name]).fetchone()
    return list(row[0] or []) if row else []


def list_people(con) -> list[dict]:
    """Each person with their sources and health, for `guanxi people list`."""
    rows = con.execute(
        """SELECT p.name, p.grp, s.kind, s.url, s.status, s.last_error, s.error_count,
                  s.next_attempt_at, s.last_ok_at,
                  (SELECT count(*) FROM posts x WHERE x.source_id = s.source_id)
           FROM people p LEFT JOIN sources s USING (person_id)
           ORDER BY p.grp NULLS LAST, p.name, s.source_id""").fetchall()
    out: dict[str, dict] = {}
    for name, grp, kind, url, status, err, count, next_at, last_ok, posts in rows:
        person = out.setdefault(name, {"name": name, "group": grp, "sources": []})
        if url:
            person["sources"].append({"kind": kind, "url": url, "status": status, "last_error": err,
                                      "error_count": count, "next_attempt_at": next_at,
                                      "last_ok_at": last_ok, "posts": posts})
    return list(out.values())


def export_opml(con, *, title: str = "Guanxi roster") -> bytes:
    """The roster as OPML 2.0 that `import_opml` reads back: groups as parent outlines, one
    outline per source titled with the person's name (feeds by their current URL, other kinds
    by their spec). People without sources have nothing OPML can carry and are left out."""
    rows = con.execute(
        """SELECT p.name, p.grp, s.kind, s.spec, s.url FROM people p JOIN sources s USING (person_id)
           ORDER BY p.grp NULLS FIRST, p.name, s.source_id""").fetchall()
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = title
    body = ET.SubElement(root, "body")
    groups: dict[str, ET.Element] = {}
    for name, grp, kind, spec, url in rows:
        parent = body
        if grp:
            parent = groups.get(grp)
            if parent is None:
                parent = groups[grp] = ET.SubElement(body, "outline", text=grp, title=grp)
        ET.SubElement(parent, "outline", text=name, title=name, type="rss",
                      xmlUrl=url if kind == "feed" else spec)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def add_person(con, name: str, feeds: list[str], *, group: str | None = None,
               aliases: list[str] = (), email: str | None = None, options=None,
               base_dir: str | None = None) -> tuple[bool, int]:
    """Add one person (or extend them) with feeds; return (person created, sources added).
    Every spec is checked before anything is written, so a typo stores nothing."""
    from connectors.sources import resolve_spec

    resolved = [(spec, resolve_spec(spec, options=options, base_dir=base_dir)) for spec in feeds]
    known = _existing_aliases(con, name)
    pid, created = store.upsert_person(con, name=name, origin="cli", grp=group, email=email,
                                       aliases=known + [a for a in aliases if a not in known])
    added = 0
    for spec, r in resolved:
        added += store.ensure_source(con, person_id=pid, kind=r.kind, spec=spec.strip(), url=r.url)[1]
    return created, added
