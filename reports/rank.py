"""Ranking a day's conversation starters: pure functions over plain data, with an injected clock.

Inputs are `Post`s (the window's tagged posts) and `PersonState`s (cadence, last contact, last
post, favour ledger, today's meetings); output is `Ranked` candidates, best first, each with
short reasons. Nothing here reads the store, the network or the wall clock.

score = item base (signal weight + recency, or the weight of a favour / gone-quiet / introduce
item) + person boost (meeting today, overdue against cadence, favour owed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectors.calendar import Meeting

SECTION_ORDER = ("meeting_today", "congratulate", "offer_help", "check_in", "catch_up", "favours",
                 "gone_quiet", "introduce")
# Nobody needs an introduction for these: family and festivals are personal, and nearly every
# colleague posts about work, so "both posted about work" would introduce everyone to everyone.
NO_INTRO_TOPICS = frozenset({"family", "festivals", "work"})
SIGNAL_PRIORITY = ("check_in", "congratulate", "offer_help")  # a sensitive post is never anything else


@dataclass(frozen=True, slots=True)
class Weights:
    """Every factor's weight in one place (documented in docs/follow-up.md)."""

    meeting_today: float = 4.0
    signal: tuple[tuple[str, float], ...] = (("congratulate", 3.0), ("check_in", 3.0), ("offer_help", 2.5))
    topic_only: float = 1.0          # a post with a topic but no signal
    untagged: float = 0.5            # a post with neither
    recency: float = 1.0             # full for a post just now, falling linearly to 0 at recency_days
    recency_days: float = 7.0
    group_per_extra_post: float = 0.25
    group_max: float = 0.75
    overdue_per_cadence: float = 1.0  # per cadence period past due, capped at overdue_max
    overdue_max: float = 2.0
    never_contacted: float = 0.5     # has a cadence but no contact on record yet
    favour_owed: float = 1.5         # person boost while you owe them a favour
    favour_item: float = 2.5         # the "return a favour" starter itself
    quiet_item: float = 2.0          # the "gone quiet" starter itself (its overdue boost adds on)
    introduce_item: float = 1.5
    introduce_asker: float = 0.5     # one of the two asked for help on that topic
    meeting_only_item: float = 1.0   # you meet them today and there is nothing else to say

    def signal_weight(self, signal: str | None) -> float:
        return dict(self.signal).get(signal or "", self.topic_only)


@dataclass(frozen=True, slots=True)
class Post:
    post_id: str
    person_id: int
    url: str | None
    title: str
    text: str
    published_at: datetime
    lang: str | None = None
    image: str | None = None
    signals: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    evidence: dict[str, tuple[str, ...]] = field(default_factory=dict)
    also_at: tuple[str, ...] = ()  # the same post seen on other platforms (post_links)
    # The topic with the most evidence words (ties: alphabetical). Derived from `evidence` unless
    # given: the digest's window query computes it in SQL and leaves the evidence out.
    main_topic: str | None = None
    # The signal that decides the post's theme (SIGNAL_PRIORITY); always derived from `signals`.
    signal: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        # Worked out once: ranking 20,000 posts reads these about ten times per post.
        if self.signals:
            object.__setattr__(self, "signal", next((s for s in SIGNAL_PRIORITY if s in self.signals), None))
        if self.main_topic is None and self.topics:
            object.__setattr__(self, "main_topic",
                               min(self.topics, key=lambda t: (-len(self.evidence.get(t, ())), t)))


@dataclass(frozen=True, slots=True)
class Favour:
    happened_at: datetime
    direction: str  # gave | received
    what: str


@dataclass(frozen=True, slots=True)
class PersonState:
    person_id: int
    name: str
    language: str | None = None
    cadence_days: int | None = None
    last_contact: datetime | None = None
    last_post: Post | None = None          # newest post ever, not only in the window
    favours: tuple[Favour, ...] = ()
    meetings: tuple[Meeting, ...] = ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """Something worth saying to someone, before scoring."""

    kind: str                      # post | favour | quiet | introduce | meeting
    person_id: int
    subject: str                   # stable key for suppression across days
    posts: tuple[Post, ...] = ()   # newest first; empty for non-post kinds
    signal: str | None = None
    topic: str | None = None
    other_person_id: int | None = None
    other_posts: tuple[Post, ...] = ()
    favour: Favour | None = None


@dataclass(frozen=True, slots=True)
class Ranked:
    candidate: Candidate
    section: str
    score: float
    reasons: tuple[str, ...]


# --- facts about a person ----------------------------------------------------------------------


def owed_favours(favours: Iterable[Favour]) -> tuple[Favour, ...]:
    """Favours received and not yet matched by one given (oldest matched first)."""
    outstanding: list[Favour] = []
    credit = 0
    for f in sorted(favours, key=lambda f: f.happened_at):
        if f.direction == "received":
            if credit:
                credit -= 1
            else:
                outstanding.append(f)
        elif f.direction == "gave":
            if outstanding:
                outstanding.pop(0)
            else:
                credit += 1
    return tuple(outstanding)


def days_between(earlier: datetime, now: datetime) -> int:
    return max(0, int((now - earlier).total_seconds() // 86400))


def overdue(person: PersonState, now: datetime, w: Weights) -> tuple[float, str | None]:
    """Boost and reason for days since last contact vs cadence_days."""
    if not person.cadence_days:
        return 0.0, None
    if person.last_contact is None:
        return w.never_contacted, f"no contact logged yet (cadence {person.cadence_days})"
    days = days_between(person.last_contact, now)
    if days <= person.cadence_days:
        return 0.0, None
    boost = min(w.overdue_max, w.overdue_per_cadence * (days - person.cadence_days) / person.cadence_days)
    return boost, f"overdue: last contact {days} days ago (cadence {person.cadence_days})"


def person_boost(person: PersonState, now: datetime, w: Weights) -> tuple[float, list[str]]:
    """Meeting today + overdue + favour owed: what raises everything about this person."""
    boost, reasons = 0.0, []
    if person.meetings:
        boost += w.meeting_today
        reasons.append(person.meetings[0].reason())
    od, why = overdue(person, now, w)
    if why:
        boost += od
        reasons.append(why)
    owed = owed_favours(person.favours)
    if owed:
        boost += w.favour_owed
        reasons.append(f"you owe a favour: {lower_first(owed[-1].what)}")
    return boost, reasons


def lower_first(text: str) -> str:
    """"Reviewed my slides" -> "reviewed my slides" (but leave "API ..." and "李伟 ..." alone)."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def is_quiet(person: PersonState, now: datetime) -> bool:
    """Neither posts nor contact for longer than their cadence (and some history to go on)."""
    if not person.cadence_days or (person.last_post is None and person.last_contact is None):
        return False
    limit = person.cadence_days
    post_days = days_between(person.last_post.published_at, now) if person.last_post else None
    contact_days = days_between(person.last_contact, now) if person.last_contact else None
    return all(d is None or d > limit for d in (post_days, contact_days))


# --- candidates --------------------------------------------------------------------------------


def theme_of(post: Post) -> str:
    """Posts by one person on one theme (same signal, else same main topic) become one starter."""
    if post.signal:
        return f"signal:{post.signal}"
    if post.main_topic:
        return f"topic:{post.main_topic}"
    return f"post:{post.post_id}"


def post_candidates(posts: Sequence[Post]) -> list[Candidate]:
    """One candidate per (person, theme), its posts newest first."""
    groups: dict[tuple[int, str], list[Post]] = {}
    for p in sorted(posts, key=lambda p: (p.published_at, p.post_id), reverse=True):
        groups.setdefault((p.person_id, theme_of(p)), []).append(p)
    out = []
    for (person_id, _), group in groups.items():
        lead = group[0]
        out.append(Candidate(kind="post", person_id=person_id, subject=f"post:{lead.post_id}",
                             posts=tuple(group), signal=lead.signal,
                             topic=lead.main_topic or next((t for p in group for t in p.topics), None)))
    return out


INTRO_LEADS = 5     # people per topic who may be introduced to someone
INTRO_PARTNERS = 3  # recent posters on the topic each of them may be introduced to


def introduce_candidates(posts: Sequence[Post]) -> list[Candidate]:
    """Pairs of people whose posts are mainly about one topic; an asker (offer_help) leads. Sensitive
    posters are left out."""
    sensitive = {p.person_id for p in posts if p.signal == "check_in"}
    # topic -> person -> their newest post on it, and their newest ask for help on it.
    newest: defaultdict[str, dict[int, Post]] = defaultdict(dict)
    newest_ask: defaultdict[str, dict[int, Post]] = defaultdict(dict)
    for p in sorted(posts, key=lambda p: (p.published_at, p.post_id), reverse=True):
        if p.person_id in sensitive:
            continue
        # Only what the post is mainly about: a move that mentions the cat is not a post about pets.
        t = p.main_topic
        if t is not None and t not in NO_INTRO_TOPICS:
            newest[t].setdefault(p.person_id, p)
            if p.signal == "offer_help":
                newest_ask[t].setdefault(p.person_id, p)
    out, seen = [], set()
    for topic in sorted(newest):
        people, askers = newest[topic], newest_ask.get(topic, {})
        if len(people) < 2:
            continue
        # A few pairs per topic are all a digest can use: askers (or else the most recent
        # posters) with the most recent others. All pairs would be quadratic in the roster.
        recent = sorted(people, key=lambda pid: (-people[pid].published_at.timestamp(), pid))
        order = {pid: i for i, pid in enumerate(recent)}
        leads = sorted(askers, key=order.__getitem__)[:INTRO_LEADS] or recent[:INTRO_LEADS]
        for a in sorted(leads, key=lambda pid: (pid not in askers, pid)):
            for b in sorted(recent[:INTRO_PARTNERS + 1]):
                pair = tuple(sorted((a, b)))
                if a == b or (pair, topic) in seen:
                    continue
                seen.add((pair, topic))
                out.append(Candidate(kind="introduce", person_id=a, other_person_id=b, topic=topic,
                                     subject=f"introduce:{pair[0]}:{pair[1]}:{topic}",
                                     posts=(askers.get(a, people[a]),), other_posts=(people[b],),
                                     signal="offer_help" if a in askers else None))
    return out


def person_candidates(people: Sequence[PersonState], now: datetime,
                      posts: Sequence[Post] = ()) -> list[Candidate]:
    """Favours to return (with their latest ask for help, if any), people gone quiet, people you meet today."""
    asks: dict[int, Post] = {}
    for p in sorted(posts, key=lambda p: p.published_at):
        if p.signal == "offer_help":
            asks[p.person_id] = p
    out = []
    for person in people:
        owed = owed_favours(person.favours)
        if owed:
            f = owed[-1]
            ask = asks.get(person.person_id)
            out.append(Candidate(kind="favour", person_id=person.person_id, favour=f,
                                 posts=(ask,) if ask else (),
                                 subject=f"favour:{person.person_id}:{f.happened_at.date()}:{f.what}"))
        if is_quiet(person, now):
            out.append(Candidate(kind="quiet", person_id=person.person_id,
                                 subject=f"quiet:{person.person_id}",
                                 posts=(person.last_post,) if person.last_post else ()))
        if person.meetings:
            out.append(Candidate(kind="meeting", person_id=person.person_id,
                                 subject=f"meeting:{person.person_id}"))
    return out


# --- scoring and selection ---------------------------------------------------------------------


def section_for(c: Candidate, person: PersonState) -> str:
    """Where a candidate is shown: whom you meet today comes first, except a check_in."""
    if c.kind == "favour":
        return "favours"
    if c.kind == "quiet":
        return "gone_quiet"
    if c.kind == "introduce":
        return "introduce"
    if c.kind == "meeting":
        return "meeting_today"
    if c.signal == "check_in":
        return "check_in"  # never small talk at a meeting: it stays in the private section
    if person.meetings:
        return "meeting_today"  # the best thing to say when you see them today, signal or not
    return c.signal or "catch_up"


def score(c: Candidate, person: PersonState, now: datetime, w: Weights = Weights(),
          names: dict[int, str] | None = None) -> Ranked:
    """One candidate's score and the reasons for it."""
    reasons: list[str] = []
    if c.kind == "post":
        base = w.signal_weight(c.signal) if (c.signal or c.topic) else w.untagged
        lead = c.posts[0]
        age_days = max(0.0, (now - lead.published_at).total_seconds() / 86400)
        base += w.recency * max(0.0, 1.0 - age_days / w.recency_days)
        if c.signal:
            reasons.append(f"signal: {c.signal}")
        elif c.topic:
            reasons.append(f"topic: {c.topic}")
        reasons.append(f"posted {age_text(lead.published_at, now)}")
        if len(c.posts) > 1:
            base += min(w.group_max, w.group_per_extra_post * (len(c.posts) - 1))
            reasons.append(f"{len(c.posts)} posts on this theme")
    elif c.kind == "favour":
        base = w.favour_item
    elif c.kind == "quiet":
        base = w.quiet_item
        if person.last_post:
            reasons.append(f"last post {age_text(person.last_post.published_at, now)}")
    elif c.kind == "introduce":
        base = w.introduce_item + (w.introduce_asker if c.signal == "offer_help" else 0.0)
        other = (names or {}).get(c.other_person_id or -1, "a colleague")
        reasons.append(f"both posted about {c.topic}" + (f" ({other})" if names else ""))
        reasons.append("an introduction is a favour to both")
    else:  # meeting
        base = w.meeting_only_item
    boost, why = person_boost(person, now, w)
    if c.kind == "introduce":
        boost = 0.0  # an introduction is about the topic, not about catching up with one person
        why = []
    return Ranked(c, section_for(c, person), round(base + boost, 3), tuple(why + reasons))


def age_text(when: datetime, now: datetime) -> str:
    secs = max(0.0, (now - when).total_seconds())
    hours, days = int(secs // 3600), int(secs // 86400)
    if hours < 1:
        return "just now"
    if days < 1:
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    return "yesterday" if days == 1 else f"{days} days ago"


def rank(candidates: Sequence[Candidate], people: Sequence[PersonState], now: datetime,
         w: Weights = Weights()) -> list[Ranked]:
    """Score every candidate; best first (ties: newer post, then subject, so order is stable)."""
    by_id = {p.person_id: p for p in people}
    names = {p.person_id: p.name for p in people}
    have_other = {c.person_id for c in candidates if c.kind in ("post", "favour", "quiet")}
    ranked = [score(c, by_id[c.person_id], now, w, names) for c in candidates
              if c.person_id in by_id and not (c.kind == "meeting" and c.person_id in have_other)]
    return sorted(ranked, key=_order)


def _order(r: Ranked):
    newest = r.candidate.posts[0].published_at.timestamp() if r.candidate.posts else 0.0
    return (-r.score, -newest, r.candidate.subject)


def select(ranked: Sequence[Ranked], *, max_items: int = 10, max_per_person: int = 2) -> list[Ranked]:
    """Diversity: each non-empty section's best (scarcest sections first), then the rest by score; caps per person and overall."""
    chosen: list[Ranked] = []
    per_person: dict[int, int] = {}

    def take(r: Ranked) -> bool:
        if len(chosen) >= max_items or r in chosen or per_person.get(r.candidate.person_id, 0) >= max_per_person:
            return False
        per_person[r.candidate.person_id] = per_person.get(r.candidate.person_id, 0) + 1
        chosen.append(r)
        return True

    # Scarce sections first, so one person's many starters don't crowd out the only favour.
    sizes = {sec: sum(1 for r in ranked if r.section == sec) for sec in SECTION_ORDER}
    for section in sorted(SECTION_ORDER, key=lambda sec: (sizes[sec], SECTION_ORDER.index(sec))):
        for r in ranked:
            if r.section == section and take(r):
                break
    for r in ranked:
        take(r)
    return sorted(chosen, key=_order)


def with_meetings(people: Sequence[PersonState], meetings: dict[int, list[Meeting]]) -> list[PersonState]:
    """Attach today's meetings to each person."""
    return [replace(p, meetings=tuple(meetings.get(p.person_id, ()))) for p in people]
