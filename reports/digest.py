"""A day's digest as data: which posts, which starters, in what order, and why.

`build_digest` reads the store (read-only, briefly) and returns a `Digest` that templates
render. Everything here is plain data so ranking can be tested with a fixed clock.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from transforms.text import snippet

SIGNAL_WEIGHT = {"check_in": 3.0, "congratulate": 3.0, "offer_help": 2.5}
SIGNAL_ORDER = ("congratulate", "offer_help", "check_in")
FIRST_DIGEST_LOOKBACK = timedelta(days=7)
MIN_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Starter:
    id: str
    person: str
    person_id: int
    signal: str | None
    topics: tuple[str, ...]
    text: str
    lang: str
    post_id: str
    post_url: str | None
    post_title: str
    post_excerpt: str
    published_at: datetime
    image: str | None
    score: float
    reasons: tuple[str, ...]
    evidence: dict[str, tuple[str, ...]] = field(default_factory=dict)


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


SECTION_TITLES = {
    "congratulate": ("Congratulate", "恭喜"),
    "offer_help": ("Offer help", "帮一把"),
    "check_in": ("Check in privately", "私下问候"),
    "catch_up": ("Catch up", "聊聊近况"),
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

    @property
    def people(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.starters:
            seen.setdefault(s.person)
        return list(seen)


def group_sections(starters: tuple[Starter, ...]) -> tuple[Section, ...]:
    """Signal sections first, then everything else under catch-up; empty sections dropped."""
    out = []
    for sid, (en, zh) in SECTION_TITLES.items():
        items = tuple(s for s in starters if (s.signal or "catch_up") == sid)
        if items:
            out.append(Section(sid, en, zh, items))
    return tuple(out)


@lru_cache(maxsize=4)
def load_templates(path: str | None = None) -> dict:
    p = Path(path) if path else Path(__file__).with_name("starters.toml")
    with p.open("rb") as fh:
        return tomllib.load(fh)


def starter_id(post_id: str, day: date) -> str:
    """Stable for the same post and day, short enough to type: `guanxi done 3f9a1c2b`."""
    return hashlib.sha256(f"{post_id}|{day.isoformat()}".encode()).hexdigest()[:10]


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


def starter_text(*, name: str, signal: str | None, topics: tuple[str, ...], excerpt: str,
                 age: str, lang: str, templates: dict | None = None) -> str:
    t = (templates or load_templates()).get(lang) or load_templates()["en"]
    if signal and signal in t.get("signals", {}):
        tpl = t["signals"][signal]
    else:
        tpl = next((t["topics"][x] for x in topics if x in t.get("topics", {})), t["topics"]["default"])
    return tpl.format(name=name, snippet=excerpt, age=age, topic=topics[0] if topics else "")


def day_window(day: date, tz: ZoneInfo, now: datetime, previous: datetime | None) -> tuple[datetime, datetime]:
    """Posts since the previous digest (at least 24 hours) up to now or the day's end."""
    day_end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(timezone.utc)
    end = min(now, day_end)
    start = end - (FIRST_DIGEST_LOOKBACK if previous is None else MIN_WINDOW)
    if previous is not None and previous < start:
        start = previous
    return start, end


def build_digest(con, *, day: date, tz_name: str, now: datetime, max_items: int = 10,
                 max_per_person: int = 2, language: str | None = None) -> Digest:
    """Select and rank the day's starters from the store (one read-only pass)."""
    tz = ZoneInfo(tz_name)
    prev_row = con.execute(
        "SELECT max(rendered_at) FROM digests WHERE day < ? AND sent_at IS NOT NULL", [day]).fetchone()
    start, end = day_window(day, tz, now, prev_row[0] if prev_row else None)
    rows = con.execute(
        """
        SELECT p.post_id, p.person_id, pe.name, p.url, coalesce(p.title, ''), coalesce(p.text, ''),
               p.published_at, p.lang, p.image, pe.language,
               (SELECT list(signal ORDER BY signal) FROM post_signals s WHERE s.post_id = p.post_id),
               (SELECT list(topic ORDER BY topic) FROM post_topics t WHERE t.post_id = p.post_id),
               (SELECT list({'label': signal, 'words': evidence}) FROM post_signals s WHERE s.post_id = p.post_id),
               (SELECT list({'label': topic, 'words': evidence}) FROM post_topics t WHERE t.post_id = p.post_id)
        FROM posts p JOIN people pe USING (person_id)
        WHERE p.published_at >= ? AND p.published_at < ? AND NOT coalesce(p.is_repost, false)
        ORDER BY p.published_at DESC
        """, [start, end]).fetchall()
    suppressed = {r[0] for r in con.execute("SELECT starter_id FROM starter_feedback").fetchall()}
    candidates = []
    for (pid, person_id, name, url, title, text, published, lang, image, person_lang,
         signals, topics, sig_ev, top_ev) in rows:
        sid = starter_id(pid, day)
        if sid in suppressed:
            continue
        signals, topics = tuple(signals or ()), tuple(topics or ())
        signal = next((s for s in ("check_in", "congratulate", "offer_help") if s in signals), None)
        out_lang = language or lang or person_lang or "en"
        excerpt = snippet(title if title and len(title) >= 12 else text or title, 60)
        age_h = max(0.0, (now - published).total_seconds() / 3600)
        recency = max(0.0, 1.0 - age_h / (24 * 7))
        score = SIGNAL_WEIGHT.get(signal, 1.0) + recency + 0.1 * len(topics)
        reasons = []
        if signal:
            reasons.append(f"signal: {signal}")
        if topics:
            reasons.append("topics: " + ", ".join(topics))
        reasons.append(f"posted {age_phrase(published, now, 'en')}")
        evidence = {e["label"]: tuple(e["words"] or ()) for e in (sig_ev or []) + (top_ev or [])}
        candidates.append(Starter(
            id=sid, person=name, person_id=person_id, signal=signal, topics=topics,
            text=starter_text(name=name, signal=signal, topics=topics, excerpt=excerpt,
                              age=age_phrase(published, now, out_lang), lang=out_lang),
            lang=out_lang, post_id=pid, post_url=url, post_title=title, post_excerpt=snippet(text, 220),
            published_at=published, image=image, score=round(score, 3), reasons=tuple(reasons),
            evidence=evidence))
    candidates.sort(key=lambda s: (-s.score, -s.published_at.timestamp(), s.id))
    chosen, per_person = [], {}
    for s in candidates:
        if per_person.get(s.person_id, 0) >= max_per_person:
            continue
        per_person[s.person_id] = per_person.get(s.person_id, 0) + 1
        chosen.append(s)
        if len(chosen) >= max_items:
            break
    failing = tuple(SourceHealth(*r) for r in con.execute(
        """SELECT p.name, s.url, s.status, s.last_error, s.error_count
           FROM sources s JOIN people p USING (person_id)
           WHERE s.status IN ('failed', 'gone') ORDER BY p.name, s.url""").fetchall())
    return Digest(day=day, timezone=tz_name, window_start=start, window_end=end,
                  starters=tuple(chosen), sections=group_sections(tuple(chosen)),
                  failing_sources=failing)
