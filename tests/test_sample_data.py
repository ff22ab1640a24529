"""Checks on the bundled demo data in guanxi/sample/.

Dates are expanded with the demo server's own `render_tokens`, then each file is checked with
feedparser and the standard library, independently of Guanxi's connectors.
"""

from __future__ import annotations

import json
import re
import tomllib
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest

from guanxi.demo import render_tokens

SAMPLE = Path(__file__).resolve().parents[1] / "guanxi" / "sample"
FEEDS = SAMPLE / "feeds"
XML_FEEDS = sorted(p for p in FEEDS.iterdir() if p.suffix in {".xml", ".atom"})
JSON_FEEDS = sorted(FEEDS.glob("*.json"))
ALL_FEEDS = XML_FEEDS + JSON_FEEDS

# Several "now"s: an ordinary morning, just after midnight UTC, just before midnight UTC,
# and a year boundary, so that "today"/"tomorrow" checks cannot pass by luck of the clock.
NOWS = [
    datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc),
    datetime(2026, 11, 22, 0, 1, tzinfo=timezone.utc),
    datetime(2026, 6, 30, 23, 59, tzinfo=timezone.utc),
    datetime(2027, 1, 1, 0, 0, tzinfo=timezone.utc),
]
NOW = NOWS[0]

# ---------------------------------------------------------------------------------------------
# Token syntax and a test-only substitution helper
# ---------------------------------------------------------------------------------------------

TOKEN_RE = re.compile(
    r"@@(?P<kind>RFC822|ISO|ICS|ICSDATE):(?P<sign>[+-])"
    r"(?=\d)(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?@@"
)
# A picture: @@IMG:host/path@@, on the demo server while it serves, else https://host/path.
IMAGE_TOKEN_RE = re.compile(r"@@IMG:(?P<host>[a-z0-9.-]+)/(?P<path>[^@\s]+)@@")
# Anything that looks like an attempt at a token, well-formed or not.
CANDIDATE_RE = re.compile(r"@@[^@\s]*@@|@@[A-Z0-9]+:")


def _token_offset(m: re.Match[str]) -> timedelta:
    delta = timedelta(days=int(m["d"] or 0), hours=int(m["h"] or 0), minutes=int(m["m"] or 0))
    return delta if m["sign"] == "+" else -delta


def _read(path: Path) -> str:
    # Bytes-then-decode keeps CRLF intact (read_text would translate newlines).
    return path.read_bytes().decode("utf-8")


def _expanded(path: Path, now: datetime = NOW) -> str:
    return render_tokens(_read(path), now)


def _all_sample_text_files() -> list[Path]:
    return sorted(p for p in SAMPLE.rglob("*") if p.is_file() and p.parent.name != "images")


def test_helper_renders_expected_shapes():
    now = datetime(2026, 11, 22, 1, 0, tzinfo=timezone.utc)
    text = "@@RFC822:-1d@@|@@ISO:-3d4h@@|@@ICS:+2h@@|@@ICSDATE:+0d@@|@@ISO:-1d2h30m@@"
    assert render_tokens(text, now) == (
        "Sat, 21 Nov 2026 01:00:00 +0000|2026-11-18T21:00:00Z|20261122T030000Z|20261122"
        "|2026-11-20T22:30:00Z"
    )


@pytest.mark.parametrize("path", _all_sample_text_files(), ids=lambda p: p.name)
def test_every_token_matches_the_syntax(path):
    text = _read(path)  # also proves the file is UTF-8
    for cand in CANDIDATE_RE.findall(text):
        assert TOKEN_RE.fullmatch(cand) or IMAGE_TOKEN_RE.fullmatch(cand), f"{path.name}: malformed token {cand!r}"
    if path.suffix != ".md":  # the README talks about `@@` itself
        expanded = render_tokens(text, NOW)
        assert "@@" not in expanded, f"{path.name}: leftover '@@' after substitution"


def test_every_picture_token_has_its_image_and_every_image_is_used():
    from guanxi.demo import IMAGES_DIR
    from reports.images import sniff

    feeds = [p for p in _all_sample_text_files() if p.suffix != ".md"]  # the README shows the syntax
    names = {m["path"].rsplit("/", 1)[-1] for p in feeds for m in IMAGE_TOKEN_RE.finditer(_read(p))}
    assert len(names) >= 10
    assert {p.name for p in IMAGES_DIR.iterdir()} == {f"{n}.png" for n in names}
    for n in names:
        assert sniff((IMAGES_DIR / f"{n}.png").read_bytes())[0] == "png", n
    text = "<img src=\"@@IMG:tvax3.sinaimg.cn/large/x.jpg@@\">"
    assert render_tokens(text, NOW) == '<img src="https://tvax3.sinaimg.cn/large/x.jpg">'
    assert render_tokens(text, NOW, base_url="http://127.0.0.1:8") == '<img src="http://127.0.0.1:8/img/tvax3.sinaimg.cn/large/x.jpg">'


# Every date-bearing field must be a token (so the demo never goes stale).
XML_DATE_TAGS = {"pubDate", "lastBuildDate", "updated", "published"}


@pytest.mark.parametrize("path", XML_FEEDS, ids=lambda p: p.name)
def test_every_xml_date_is_a_token(path):
    root = ET.fromstring(_read(path).encode("utf-8"))
    dates = [el for el in root.iter() if el.tag.rsplit("}", 1)[-1] in XML_DATE_TAGS]
    assert dates, f"{path.name}: no date elements at all"
    for el in dates:
        assert TOKEN_RE.fullmatch((el.text or "").strip()), f"{path.name}: {el.tag}={el.text!r}"


@pytest.mark.parametrize("path", JSON_FEEDS, ids=lambda p: p.name)
def test_every_json_feed_date_is_a_token(path):
    for item in json.loads(_read(path))["items"]:
        for key in ("date_published", "date_modified"):
            if key in item:
                assert TOKEN_RE.fullmatch(item[key]), f"{path.name}: {key}={item[key]!r}"


def test_every_calendar_date_is_a_token():
    for line in _unfold(_read(SAMPLE / "calendar.ics")):
        name = line.split(":", 1)[0].split(";", 1)[0]
        if name in {"DTSTART", "DTEND", "DTSTAMP", "CREATED", "LAST-MODIFIED", "RECURRENCE-ID"}:
            assert TOKEN_RE.fullmatch(line.split(":", 1)[1]), line


# ---------------------------------------------------------------------------------------------
# Feeds
# ---------------------------------------------------------------------------------------------


def _parsed(path: Path, now: datetime = NOW):
    return feedparser.parse(_expanded(path, now).encode("utf-8"))


@pytest.mark.parametrize("now", NOWS, ids=lambda n: n.isoformat())
@pytest.mark.parametrize("path", XML_FEEDS, ids=lambda p: p.name)
def test_xml_feed_parses_cleanly_with_dated_entries(path, now):
    d = _parsed(path, now)
    assert not d.bozo, f"{path.name}: {d.get('bozo_exception')!r}"
    assert d.version in {"rss20", "atom10"}, d.version
    assert 4 <= len(d.entries) <= 7, f"{path.name}: {len(d.entries)} entries"
    for e in d.entries:
        assert e.get("published_parsed") or e.get("updated_parsed"), f"{path.name}: undated {e.get('id')}"
        assert e.get("id") and e.get("link"), f"{path.name}: entry without id/link"
    if _format_of(path) == "bluesky":
        # bsky.app's profile RSS has no lastBuildDate; kept faithful on purpose.
        assert not d.feed.get("updated_parsed")
    else:
        assert d.feed.get("updated_parsed"), f"{path.name}: no feed-level date"


def _item_dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.mark.parametrize("path", JSON_FEEDS, ids=lambda p: p.name)
def test_json_feed_is_valid_json_feed_1_1(path):
    feed = json.loads(_expanded(path))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    known_top = {
        "version", "title", "home_page_url", "feed_url", "description", "user_comment",
        "next_url", "icon", "favicon", "authors", "language", "expired", "hubs", "items",
    }
    assert set(k for k in feed if not k.startswith("_")) <= known_top
    assert "author" not in feed, "1.1 uses `authors` (array)"
    for a in feed.get("authors", []):
        assert isinstance(a, dict) and a.get("name")
    items = feed["items"]
    assert 4 <= len(items) <= 7
    ids = [it["id"] for it in items]
    assert len(set(ids)) == len(ids)
    for it in items:
        assert isinstance(it["id"], str) and it["id"]
        assert it.get("url", "").startswith("https://")
        assert isinstance(it.get("content_html"), str) or isinstance(it.get("content_text"), str)
        published = _item_dt(it["date_published"])
        assert published.tzinfo is not None
        if "date_modified" in it:
            assert _item_dt(it["date_modified"]) >= published
        assert all(isinstance(t, str) for t in it.get("tags", []))
        if "image" in it:
            assert it["image"].startswith("https://")
    assert any("image" in it for it in items)


def _entries(path: Path, now: datetime = NOW) -> list[dict]:
    """(text, published datetime) for every post, whatever the format."""
    out = []
    if path.suffix == ".json":
        for it in json.loads(_expanded(path, now))["items"]:
            out.append(
                {
                    "text": (it.get("title", "") + " " + (it.get("content_text") or it.get("content_html", ""))),
                    "html": it.get("content_html", ""),
                    "when": _item_dt(it["date_published"]),
                }
            )
        return out
    for e in _parsed(path, now).entries:
        tt = e.get("published_parsed") or e.get("updated_parsed")
        body = e.get("content", [{}])[0].get("value") if e.get("content") else e.get("summary", "")
        out.append(
            {
                "text": (e.get("title", "") + " " + (body or "")),
                "html": body or "",
                "when": datetime(*tt[:6], tzinfo=timezone.utc),
            }
        )
    return out


def _feed_file(url: str) -> Path:
    assert url.startswith("{base}/feeds/"), url
    return FEEDS / url.removeprefix("{base}/feeds/")


def _roster() -> list[dict]:
    return tomllib.loads(_read(SAMPLE / "people.toml"))["people"]


def _person_entries(person: dict) -> list[dict]:
    return [e for url in person["feeds"] for e in _entries(_feed_file(url))]


def test_post_ages_match_the_story():
    quiet = []
    for person in _roster():
        ages = [(NOW - e["when"]) for e in _person_entries(person)]
        assert all(timedelta(0) <= a <= timedelta(days=60) for a in ages), person["name"]
        if min(ages) > timedelta(days=30):
            quiet.append(person["name"])
            assert all(timedelta(days=35) <= a <= timedelta(days=60) for a in ages)
        else:
            assert min(ages) <= timedelta(days=4), f"{person['name']} has nothing recent"
    assert len(quiet) == 1, f"exactly one gone-quiet person expected, got {quiet}"


def _has_cjk(s: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in s)


def _plain(s: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", s)).strip()


def test_post_mix_language_images_emoji_short():
    posts = [e for p in ALL_FEEDS for e in _entries(p)]
    assert 40 <= len(posts) <= 70
    zh = sum(_has_cjk(_plain(e["html"]) or e["text"]) for e in posts)
    assert 0.35 <= zh / len(posts) <= 0.65, f"{zh}/{len(posts)} Chinese"
    assert any("<img" in e["html"] for e in posts), "no post with an inline image"
    assert any(any(ord(ch) >= 0x1F300 or ch in "❄✨" for ch in e["text"]) for e in posts), "no emoji"
    assert min(len(_plain(e["text"])) for e in posts) <= 25, "no very short post"


SIGNAL_WORDS = {
    "congratulate": ["晋升", "shipped", "Married", "出生"],
    "offer_help": ["招聘", "recommendations", "relocating", "advice"],
    "check_in": ["走了", "住院", "病假"],
}


@pytest.mark.parametrize("signal", sorted(SIGNAL_WORDS))
def test_signal_posts_are_present(signal):
    texts = [_plain(e["text"]) for p in ALL_FEEDS for e in _entries(p)]
    hits = [w for w in SIGNAL_WORDS[signal] if any(w in t for t in texts)]
    assert len(hits) >= (2 if signal == "check_in" else 3), (signal, hits)


# Which format is which, by the fingerprints the real tools leave.
def _format_of(path: Path) -> str:
    text = _read(path)
    if path.suffix == ".json":
        return "jsonfeed" if '"https://jsonfeed.org/version/1.1"' in text else "json?"
    if "<generator>RSSHub</generator>" in text and "weibo.com" in text:
        return "rsshub-weibo"
    if "<generator>Mastodon" in text:
        return "mastodon"
    if "app.bsky.feed.post" in text and "bsky.app/profile/" in text:
        return "bluesky"
    if "wordpress.org/?v=" in text and "content:encoded" in text and "dc:creator" in text:
        return "wordpress"
    if 'xmlns="http://www.w3.org/2005/Atom"' in text and "<feed" in text:
        return "atom"
    return "unknown"


def test_every_format_is_present():
    formats = {p.name: _format_of(p) for p in ALL_FEEDS}
    assert "unknown" not in formats.values(), formats
    assert set(formats.values()) == {"wordpress", "atom", "mastodon", "bluesky", "rsshub-weibo", "jsonfeed"}


def test_platform_shapes():
    for p in ALL_FEEDS:
        fmt = _format_of(p)
        d = _parsed(p) if p.suffix != ".json" else None
        if fmt in {"mastodon", "bluesky"}:
            assert all(not e.get("title") for e in d.entries), f"{p.name}: toots/skeets have no titles"
        if fmt == "mastodon":
            assert all(e.id == e.link for e in d.entries)
            assert any(e.get("media_content") for e in d.entries)
        if fmt == "bluesky":
            assert all(e.id.startswith("at://") for e in d.entries)
            assert all("<" not in e.summary for e in d.entries), "Bluesky descriptions are plain text"
        if fmt == "rsshub-weibo":
            assert all(e.link.startswith("https://weibo.com/") for e in d.entries)
            assert all(e.get("author") for e in d.entries)
            assert all(_has_cjk(e.title) for e in d.entries)
            assert "sinaimg.cn" in _read(p)
        if fmt == "wordpress":
            assert all(e.get("content") and e.get("tags") and e.get("author") for e in d.entries)
            assert any("<img" in e.content[0].value for e in d.entries)


# ---------------------------------------------------------------------------------------------
# Roster, seed, OPML
# ---------------------------------------------------------------------------------------------


def test_roster_parses_and_feeds_exist():
    people = _roster()
    assert len(people) == 8
    names = [p["name"] for p in people]
    assert len(set(names)) == 8
    emails = [p["email"] for p in people]
    assert len(set(emails)) == 8 and all(e.endswith("@example.com") for e in emails)
    all_aliases = [a for p in people for a in p["aliases"]]
    assert len(set(all_aliases + names)) == len(all_aliases) + len(names), "alias clash"
    assert sum(_has_cjk(n) for n in names) >= 3 and sum(not _has_cjk(n) for n in names) >= 3
    referenced = set()
    for p in people:
        assert isinstance(p["group"], str) and p["group"]
        assert isinstance(p["cadence_days"], int) and p["cadence_days"] > 0
        assert p.get("language", "zh") in {"zh", "en"}
        assert 1 <= len(p["feeds"]) <= 2
        for url in p["feeds"]:
            f = _feed_file(url)
            assert f.is_file(), f"{p['name']}: missing {f.name}"
            referenced.add(f.name)
    assert referenced == {f.name for f in ALL_FEEDS}, "feed files not named in the roster"


def test_seed_parses_and_names_roster_people():
    seed = tomllib.loads(_read(SAMPLE / "seed.toml"))
    names = {p["name"] for p in _roster()}
    assert 4 <= len(seed["contacts"]) <= 7
    assert len(seed["favours"]) >= 3
    for c in seed["contacts"]:
        assert c["person"] in names
        assert c["kind"] in {"met", "call", "message"}
        assert isinstance(c["days_ago"], int) and c["days_ago"] >= 0 and c["note"]
    for f in seed["favours"]:
        assert f["person"] in names
        assert f["direction"] in {"received", "gave"}
        assert isinstance(f["days_ago"], int) and f["days_ago"] >= 0 and f["what"]
    unreturned = [
        f
        for f in seed["favours"]
        if f["direction"] == "received"
        and not any(
            g["direction"] == "gave" and g["person"] == f["person"] and g["days_ago"] < f["days_ago"]
            for g in seed["favours"]
        )
    ]
    assert unreturned, "need at least one received favour not yet returned"


def test_opml_matches_roster_and_joins_duplicates():
    root = ET.parse(SAMPLE / "people.opml").getroot()
    assert root.tag == "opml" and root.get("version") == "2.0"
    people = {p["name"]: p for p in _roster()}
    seen: dict[str, int] = {}
    body = root.find("body")
    for group in body.findall("outline"):
        for o in group.findall("outline"):
            assert o.get("type") == "rss"
            url = o.get("xmlUrl")
            assert url.startswith("http://127.0.0.1:8765/feeds/"), url
            person = people[o.get("title")]
            assert group.get("text") == person["group"]
            assert url.replace("http://127.0.0.1:8765", "{base}") in person["feeds"]
            seen[person["name"]] = seen.get(person["name"], 0) + 1
    assert len(seen) >= 4
    assert any(n >= 2 for n in seen.values()), "no person with two outlines"


# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")


def _events(text: str) -> list[dict[str, list[tuple[dict[str, str], str]]]]:
    events, cur = [], None
    for line in _unfold(text):
        if line == "BEGIN:VEVENT":
            cur = {}
        elif line == "END:VEVENT":
            events.append(cur)
            cur = None
        elif cur is not None and line:
            head, value = line.split(":", 1) if '"' not in line.split(":", 1)[0] else (None, None)
            assert head is not None, f"quoted params not expected here: {line}"
            name, *params = head.split(";")
            cur.setdefault(name, []).append((dict(p.split("=", 1) for p in params), value))
    return events


def _ics_dt(params: dict[str, str], value: str) -> datetime | date:
    if params.get("VALUE") == "DATE":
        return datetime.strptime(value, "%Y%m%d").date()
    assert value.endswith("Z"), "sample uses UTC times only"
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def test_calendar_is_well_formed():
    raw = (SAMPLE / "calendar.ics").read_bytes()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    text = _expanded(SAMPLE / "calendar.ics")
    physical = text.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in physical), "unfolded long line"
    lines = _unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT")
    for ev in _events(text):
        for req in ("UID", "DTSTAMP", "DTSTART", "SUMMARY"):
            assert req in ev, f"event without {req}"


@pytest.mark.parametrize("now", NOWS, ids=lambda n: n.isoformat())
def test_calendar_has_the_described_events(now):
    people = _roster()
    by_email = {p["email"]: p["name"] for p in people}
    names = {p["name"] for p in people}
    today, tomorrow = now.date(), now.date() + timedelta(days=1)
    evs = _events(render_tokens(_read(SAMPLE / "calendar.ics"), now))
    assert 3 <= len(evs) <= 4

    def start(ev):
        return _ics_dt(*ev["DTSTART"][0])

    timed_today, allday_today, weekly_today, tomorrow_only = [], [], [], []
    for ev in evs:
        s = start(ev)
        if "RRULE" in ev:
            assert ev["RRULE"][0][1].startswith("FREQ=WEEKLY")
            assert isinstance(s, datetime) and s.date() == today - timedelta(days=14)
            if (today - s.date()).days % 7 == 0:
                weekly_today.append(ev)
        elif isinstance(s, datetime):
            if s.date() == today:
                timed_today.append(ev)
            elif s.date() == tomorrow:
                tomorrow_only.append(ev)
        else:
            end = _ics_dt(*ev["DTEND"][0])
            if s <= today < end:
                allday_today.append(ev)

    assert len(timed_today) == 1 and len(allday_today) == 1 and len(weekly_today) == 1
    assert len(tomorrow_only) == 1

    atts = timed_today[0]["ATTENDEE"]
    mailto = [(p["CN"], v.removeprefix("mailto:")) for p, v in atts if v.lower().startswith("mailto:")]
    assert len(mailto) >= 2
    for cn, email in mailto:
        assert by_email[email] == cn

    (params, value), = allday_today[0]["ATTENDEE"]
    assert params["CN"] in names and "@" not in value


def test_readme_covers_people_and_tokens():
    text = _read(SAMPLE / "README.md")
    for p in _roster():
        assert p["name"] in text
    for kind in ("RFC822", "ISO", "ICS", "ICSDATE"):
        assert f"@@{kind}:" in text


def test_demo_server_keeps_quiet_when_a_client_drops_its_connection(capsys):
    from guanxi.demo import QuietHTTPServer

    server = QuietHTTPServer(("127.0.0.1", 0), None)
    try:
        for exc in (ConnectionResetError(104, "Connection reset by peer"), ValueError("a real bug")):
            try:
                raise exc
            except Exception:
                server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    err = capsys.readouterr().err
    assert "ConnectionResetError" not in err and "ValueError: a real bug" in err
