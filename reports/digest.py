"""A day's digest as data: which posts, which starters, in what order, and why.

`build_digest` reads the store (read-only, briefly) and returns a `Digest` that templates
render. Everything here is plain data so ranking can be tested with a fixed clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from collections.abc import Callable, Sequence

from connectors.calendar import CalendarError, Occurrence, PersonKey, match_meetings, occurrences_on, read_calendar
from reports import rank
from reports.rank import lower_first
from reports.wording import age_phrase, clean_excerpt, fill, load_templates, named_things, quote_posts
from transforms.text import normalise_space, snippet

FIRST_DIGEST_LOOKBACK = timedelta(days=7)
MIN_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class RelatedPost:
    """Another post folded into the same starter (several posts on one theme)."""

    url: str | None
    title: str
    excerpt: str
    published_at: datetime


@dataclass(frozen=True, slots=True)
class Starter:
    id: str
    person: str
    person_id: int
    signal: str | None
    topics: tuple[str, ...]
    text: str
    lang: str
    post_id: str | None
    post_url: str | None
    post_title: str
    post_excerpt: str
    published_at: datetime | None
    image: str | None
    score: float
    reasons: tuple[str, ...]
    evidence: dict[str, tuple[str, ...]] = field(default_factory=dict)
    kind: str = "post"             # post | favour | quiet | introduce | meeting
    section: str = "catch_up"      # the Section.id it is shown under
    subject: str = ""              # stable key that done/skip suppress
    post_ids: tuple[str, ...] = ()
    related: tuple[RelatedPost, ...] = ()   # the other posts of a grouped starter, newest first
    other_person: str | None = None         # introductions: the second colleague
    meeting: str | None = None              # "10:00 Weekly 1:1 with Tom" when you meet them today
    other_person_id: int | None = None
    favour_what: str | None = None          # favours: what they did for you
    also_at: tuple[str, ...] = ()           # the same post's links on other platforms


@dataclass(frozen=True, slots=True)
class SourceHealth:
    person: str
    url: str
    status: str
    error: str | None
    error_count: int


@dataclass(frozen=True, slots=True)
class Section:
    """One block of the digest, in display order; templates render sections generically."""

    id: str          # meeting_today | congratulate | offer_help | check_in | catch_up | ...
    title_en: str
    title_zh: str
    items: tuple[Starter, ...]
    note_en: str = ""   # one line under the title, e.g. what "gone quiet" means
    note_zh: str = ""


SECTION_TITLES = {
    "meeting_today": ("Meeting today", "今天见面"),
    "congratulate": ("Congratulate", "恭喜"),
    "offer_help": ("Offer help", "帮一把"),
    "check_in": ("Check in privately", "私下问候"),
    "catch_up": ("Catch up", "聊聊近况"),
    "favours": ("Return a favour", "还个人情"),
    "gone_quiet": ("Gone quiet", "好久没联系"),
    "introduce": ("Introduce", "牵线搭桥"),
}
SECTION_NOTES = {
    "check_in": ("Raise these privately and gently, never as small talk in front of others.",
                 "请私下、温和地提起，别在人前当闲聊。"),
    "gone_quiet": ("People with neither posts nor contact for longer than their cadence.",
                   "超过约定节奏既没发帖也没联系的人。"),
    "introduce": ("Two colleagues posting on the same topic who might help each other.",
                  "在同一话题上发帖、可能互相帮上忙的两位同事。"),
}


@dataclass(frozen=True, slots=True)
class Digest:
    day: date
    timezone: str
    window_start: datetime
    window_end: datetime
    starters: tuple[Starter, ...]          # every ranked starter, best first
    sections: tuple[Section, ...]          # the same starters grouped for display
    failing_sources: tuple[SourceHealth, ...]
    calendar_error: str | None = None      # the calendar could not be read; ranking went on without it

    @property
    def people(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.starters:
            seen.setdefault(s.person)
        return list(seen)


def group_sections(starters: tuple[Starter, ...]) -> tuple[Section, ...]:
    """Sections in display order, each starter under its own section; empty sections dropped."""
    out = []
    for sid, (en, zh) in SECTION_TITLES.items():
        items = tuple(s for s in starters if s.section == sid)
        if items:
            note_en, note_zh = SECTION_NOTES.get(sid, ("", ""))
            out.append(Section(sid, en, zh, items, note_en, note_zh))
    return tuple(out)


def starter_id(post_id: str, day: date) -> str:
    """Stable for the same post and day, short enough to type: `guanxi done 3f9a1c2b`."""
    return hashlib.sha256(f"{post_id}|{day.isoformat()}".encode()).hexdigest()[:10]


def subject_id(subject: str, day: date) -> str:
    """Ids for starters that are not about one post (favours, gone quiet, introductions)."""
    return hashlib.sha256(f"{subject}|{day.isoformat()}".encode()).hexdigest()[:10]


def day_window(day: date, tz: ZoneInfo, now: datetime, previous: datetime | None) -> tuple[datetime, datetime]:
    """Posts since the previous digest (at least 24 hours) up to now or the day's end."""
    day_end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(timezone.utc)
    end = min(now, day_end)
    start = end - (FIRST_DIGEST_LOOKBACK if previous is None else MIN_WINDOW)
    if previous is not None and previous < start:
        start = previous
    return start, end


def _post(row) -> rank.Post:
    (pid, person_id, url, title, text, published, lang, image, signals, topics, sig_ev, top_ev,
     also_at) = row
    evidence = {e["label"]: tuple(e["words"] or ()) for e in (sig_ev or []) + (top_ev or [])}
    return rank.Post(post_id=pid, person_id=person_id, url=url, title=title or "", text=text or "",
                     published_at=published, lang=lang, image=image, signals=tuple(signals or ()),
                     topics=tuple(topics or ()), evidence=evidence, also_at=tuple(also_at or ()))


def _select_posts(where: str, *, order: str = "") -> str:
    """Posts matching `where`, each with its signals, topics, evidence and other links.

    The tag and link lists are aggregated once for the selected posts and joined, rather than
    looked up by a correlated subquery per post (20,000 posts in a window: 3 s -> a fraction).
    """
    return f"""
    WITH w AS (SELECT * FROM posts p WHERE {where}),
    s AS (SELECT post_id, list(signal ORDER BY signal) AS names,
                 list({{'label': signal, 'words': evidence}}) AS ev
          FROM post_signals WHERE post_id IN (SELECT post_id FROM w) GROUP BY post_id),
    t AS (SELECT post_id, list(topic ORDER BY topic) AS names,
                 list({{'label': topic, 'words': evidence}}) AS ev
          FROM post_topics WHERE post_id IN (SELECT post_id FROM w) GROUP BY post_id),
    l AS (SELECT l.post_id, list(DISTINCT l.url) AS urls FROM post_links l JOIN w USING (post_id)
          WHERE l.url IS NOT NULL AND l.url IS DISTINCT FROM w.url GROUP BY l.post_id)
    SELECT w.post_id, w.person_id, w.url, w.title, w.text, w.published_at, w.lang, w.image,
           s.names, t.names, s.ev, t.ev, l.urls
    FROM w LEFT JOIN s USING (post_id) LEFT JOIN t USING (post_id) LEFT JOIN l USING (post_id)
    {order}"""


def _select_ranking_facts(where: str, *, order: str = "") -> str:
    """Posts matching `where` with only what ranking reads: `_facts_reader` turns a row into a Post.

    No text, evidence or links; the time as a naive UTC timestamp; the tag names joined into
    one string. Turning 20,000 posts' evidence and tag lists and zone-aware times
    into Python objects cost more than ranking them. The main topic (most evidence words, ties
    alphabetical) is worked out here instead.
    """
    return f"""
    WITH w AS (SELECT post_id, person_id, published_at FROM posts p WHERE {where}),
    s AS (SELECT post_id, string_agg(signal, chr(31)) AS names
          FROM post_signals WHERE post_id IN (SELECT post_id FROM w) GROUP BY post_id),
    t AS (SELECT post_id, string_agg(topic, chr(31)) AS names,
                 arg_min(topic, {{'words': -coalesce(len(evidence), 0), 'topic': topic}}) AS main
          FROM post_topics WHERE post_id IN (SELECT post_id FROM w) GROUP BY post_id)
    SELECT w.post_id, w.person_id, w.published_at AT TIME ZONE 'UTC', s.names, t.names, t.main
    FROM w LEFT JOIN s USING (post_id) LEFT JOIN t USING (post_id)
    {order}"""


def _facts_reader() -> Callable[[tuple], rank.Post]:
    """Turns `_select_ranking_facts` rows into Posts fit for ranking only (no text).

    `_with_full_posts` swaps in the full ones. Posts with the same tags share one tuple, sorted
    here once rather than in SQL for every post.
    """
    tag_tuples: dict[str | None, tuple[str, ...]] = {None: ()}

    def tags(joined: str | None) -> tuple[str, ...]:
        found = tag_tuples.get(joined)
        if found is None:
            found = tag_tuples[joined] = tuple(sorted(joined.split("\x1f")))
        return found

    def post(row: tuple) -> rank.Post:
        pid, person_id, published_utc, signals, topics, main_topic = row
        return rank.Post(pid, person_id, None, "", "", published_utc.replace(tzinfo=timezone.utc),
                         signals=tags(signals), topics=tags(topics), main_topic=main_topic)

    return post


def _with_full_posts(con, ranked: Sequence[rank.Ranked]) -> list[rank.Ranked]:
    """The chosen candidates with their posts read in full (text, evidence, links) for wording."""
    ids = sorted({p.post_id for r in ranked for p in r.candidate.posts + r.candidate.other_posts})
    # An IN list of parameters: DuckDB looks these up faster than a join with an unnested list.
    in_list = ", ".join("?" * len(ids)) or "NULL"
    full = {p.post_id: p for p in map(_post, con.execute(
        _select_posts(f"p.post_id IN ({in_list})"), ids).fetchall())}

    def fuller(posts: tuple[rank.Post, ...]) -> tuple[rank.Post, ...]:
        return tuple(full[p.post_id] for p in posts)

    return [replace(r, candidate=replace(r.candidate, posts=fuller(r.candidate.posts),
                                         other_posts=fuller(r.candidate.other_posts)))
            for r in ranked]


def load_people(con, now: datetime) -> tuple[list[rank.PersonState], list[PersonKey]]:
    """Each person's cadence, last contact, newest post and favour ledger, as of `now`.

    Ranking reads only the newest post's time, so that is all it holds (no text or tags) until
    `_with_full_posts` reads it in full for a "gone quiet" starter.
    """
    rows = con.execute(
        """SELECT person_id, name, language, cadence_days, aliases, email,
                  (SELECT max(happened_at) FROM contacts c WHERE c.person_id = pe.person_id AND c.happened_at <= ?)
           FROM people pe ORDER BY person_id""", [now]).fetchall()
    last_posts = {p.person_id: p for p in map(_facts_reader(), con.execute(
        """SELECT post_id, person_id, published_at AT TIME ZONE 'UTC', NULL, NULL, NULL FROM posts p
           WHERE p.published_at <= ? AND NOT coalesce(p.is_repost, false)
           QUALIFY row_number() OVER (PARTITION BY p.person_id ORDER BY p.published_at DESC, p.post_id) = 1""",
        [now]).fetchall())}
    favours: dict[int, list[rank.Favour]] = {}
    for person_id, at, direction, what in con.execute(
            "SELECT person_id, happened_at, direction, what FROM favours WHERE happened_at <= ? "
            "ORDER BY happened_at", [now]).fetchall():
        favours.setdefault(person_id, []).append(rank.Favour(at, direction, what))
    people, keys = [], []
    for person_id, name, language, cadence, aliases, email, last_contact in rows:
        people.append(rank.PersonState(person_id=person_id, name=name, language=language,
                                       cadence_days=cadence, last_contact=last_contact,
                                       last_post=last_posts.get(person_id),
                                       favours=tuple(favours.get(person_id, ()))))
        keys.append(PersonKey(person_id, name, tuple(aliases or ()), email))
    return people, keys


def build_digest(con, *, day: date, tz_name: str, now: datetime, max_items: int = 10,
                 max_per_person: int = 2, language: str | None = None,
                 occurrences: Sequence[Occurrence] = (), templates_path: str | None = None,
                 calendar_error: str | None = None, weights: rank.Weights = rank.Weights()) -> Digest:
    """Select and rank the day's starters from the store (one read-only pass)."""
    tz = ZoneInfo(tz_name)
    prev_row = con.execute(
        "SELECT max(rendered_at) FROM digests WHERE day < ? AND sent_at IS NOT NULL", [day]).fetchone()
    start, end = day_window(day, tz, now, prev_row[0] if prev_row else None)
    done_posts, done_subjects, done_ids = set(), set(), set()
    for sid, subject, post_ids in con.execute(
            "SELECT starter_id, subject, post_ids FROM starter_feedback").fetchall():
        done_ids.add(sid)
        if subject:
            done_subjects.add(subject)
        done_posts.update(post_ids or ())
    posts = [*map(_facts_reader(), con.execute(_select_ranking_facts(
        "p.published_at >= ? AND p.published_at < ? AND NOT coalesce(p.is_repost, false)",
        order="ORDER BY w.published_at DESC, w.post_id"), [start, end]).fetchall())]
    if done_posts or done_ids:
        posts = [p for p in posts if p.post_id not in done_posts and starter_id(p.post_id, day) not in done_ids]
    people, keys = load_people(con, now)
    people = rank.with_meetings(people, match_meetings(occurrences, keys))
    candidates = [c for c in rank.post_candidates(posts) + rank.person_candidates(people, now, posts)
                  + rank.introduce_candidates(posts)
                  if c.subject not in done_subjects]
    ranked = _with_full_posts(con, rank.select(rank.rank(candidates, people, now, weights),
                                               max_items=max_items, max_per_person=max_per_person))
    by_id = {p.person_id: p for p in people}
    starters = []
    for r in ranked:
        s = to_starter(r, by_id, day=day, now=now, language=language,
                       templates=load_templates(templates_path))
        if s.id not in done_ids:
            starters.append(s)
    failing = tuple(SourceHealth(*r) for r in con.execute(
        """SELECT p.name, s.url, s.status, s.last_error, s.error_count
           FROM sources s JOIN people p USING (person_id)
           WHERE s.status IN ('failed', 'gone') ORDER BY p.name, s.url""").fetchall())
    return Digest(day=day, timezone=tz_name, window_start=start, window_end=end,
                  starters=tuple(starters), sections=group_sections(tuple(starters)),
                  failing_sources=failing, calendar_error=calendar_error)


def to_starter(r: rank.Ranked, people: dict[int, rank.PersonState], *, day: date, now: datetime,
               language: str | None, templates: dict) -> Starter:
    """Words for one ranked candidate, in the post's language unless the user chose one."""
    c, person = r.candidate, people[r.candidate.person_id]
    lead = c.posts[0] if c.posts else None
    lang = language or (lead.lang if lead and lead.lang in ("en", "zh") else None) or person.language or "en"
    if lang not in ("en", "zh"):
        lang = "en"

    def quoted(posts: Sequence[rank.Post]) -> str:
        return quote_posts([(clean_excerpt(p.title, p.text, lang), p.published_at) for p in posts], now, lang)

    topic_word = fill(templates, lang, "about", c.topic or "default")
    things = [t for p in c.posts for t in named_things(p.title, p.text, p.lang or lang)]
    meeting = person.meetings[0] if person.meetings else None
    meeting_text = None
    if meeting:
        meeting_text = (("全天" if lang == "zh" else "all day") if meeting.all_day or not meeting.start
                        else f"{meeting.start:%H:%M}") + f" {meeting.summary}".rstrip()
    values = dict(name=person.name, posts=quoted(c.posts) if c.posts else "",
                  about=things[0] if things else topic_word,
                  topic=fill(templates, lang, "topic_names", c.topic or "default") or (c.topic or ""),
                  age=age_phrase(lead.published_at, now, lang) if lead else "",
                  meeting=meeting_text or "")
    if c.kind == "post":
        text = (fill(templates, lang, "signals", c.signal, **values) if c.signal
                else fill(templates, lang, "topics", c.topic or "default", **values))
    elif c.kind == "favour":
        values.update(what=lower_first(c.favour.what), age=age_phrase(c.favour.happened_at, now, lang))
        text = fill(templates, lang, "other", "favour_with_ask" if c.posts else "favour", **values)
    elif c.kind == "quiet":
        last = max([d for d in (person.last_contact, person.last_post.published_at if person.last_post else None)
                    if d is not None])
        values.update(days=str(rank.days_between(last, now)))
        text = fill(templates, lang, "other", "quiet" if c.posts else "quiet_no_post", **values)
    elif c.kind == "introduce":
        other = people[c.other_person_id]
        values.update(other=other.name, other_posts=quoted(c.other_posts))
        text = fill(templates, lang, "other", "introduce", **values)
    else:
        text = fill(templates, lang, "other", "meeting", **values)
    sid = starter_id(lead.post_id, day) if c.kind == "post" else subject_id(c.subject, day)
    return Starter(
        id=sid, person=person.name, person_id=person.person_id, signal=c.signal,
        topics=tuple(dict.fromkeys(t for p in c.posts for t in p.topics)), text=text, lang=lang,
        post_id=lead.post_id if lead else None, post_url=lead.url if lead else None,
        post_title=lead.title if lead else "",
        post_excerpt=snippet(normalise_space(lead.text), 220) if lead else "",
        published_at=lead.published_at if lead else None,
        # A thumbnail belongs to a starter about that post, not to an introduction or favour.
        image=lead.image if lead and c.kind == "post" else None,
        score=r.score, reasons=r.reasons, evidence=dict(lead.evidence) if lead else {},
        kind=c.kind, section=r.section, subject=c.subject,
        post_ids=tuple(p.post_id for p in c.posts) if c.kind == "post" else (),
        also_at=tuple(sorted(lead.also_at)) if lead and c.kind == "post" else (),
        related=tuple(RelatedPost(p.url, p.title, clean_excerpt(p.title, p.text, lang), p.published_at)
                      for p in c.posts[1:]) if c.kind == "post" else (),
        other_person=people[c.other_person_id].name if c.other_person_id in people else None,
        meeting=meeting_text, other_person_id=c.other_person_id,
        favour_what=c.favour.what if c.favour else None)


def digest_for_config(config, *, day: date, now: datetime) -> Digest:
    """The day's digest for a Config: read the calendar (a failure is noted, not fatal), then rank."""
    from guanxi import store

    dc = config.digest
    occurrences, calendar_error = [], None
    if config.calendar_ics:
        try:
            occurrences = occurrences_on(read_calendar(config.calendar_ics), day, ZoneInfo(dc.timezone))
        except CalendarError as exc:
            calendar_error = str(exc)
    with store.reader(config.store_path, wait_s=config.store_wait_s) as con:
        return build_digest(con, day=day, tz_name=dc.timezone, now=now, max_items=dc.max_items,
                            max_per_person=dc.max_per_person, language=dc.language,
                            occurrences=occurrences, calendar_error=calendar_error,
                            templates_path=str(dc.starters) if getattr(dc, "starters", None) else None)


def shown(digest: Digest) -> list:
    """The digest's starters as rows for store.record_shown."""
    from guanxi.store import ShownStarter

    return [ShownStarter(s.id, digest.day, s.person_id, s.kind, s.subject, s.post_ids,
                         s.other_person_id, s.favour_what, s.text) for s in digest.starters]
