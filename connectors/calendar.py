"""Whom you meet on a day: parse an iCalendar file (bytes), expand recurrences, match attendees.

Pure functions over bytes and plain data; `read_calendar` is the only part that touches a file or
the network (a URL goes through the shared fetcher in connectors/http.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from guanxi.errors import GuanxiError

MAX_ICS_BYTES = 5 * 2**20


class CalendarError(GuanxiError):
    """The calendar could not be read or parsed (one line, starting with "calendar:")."""


@dataclass(frozen=True, slots=True)
class Attendee:
    name: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One event occurrence that touches the day (times in the digest's time zone)."""

    summary: str
    start: datetime | None     # None for all-day events
    all_day: bool
    location: str | None
    attendees: tuple[Attendee, ...]


@dataclass(frozen=True, slots=True)
class PersonKey:
    """What a calendar attendee can be matched on."""

    person_id: int
    name: str
    aliases: tuple[str, ...] = ()
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Meeting:
    person_id: int
    summary: str
    start: datetime | None
    all_day: bool

    def reason(self) -> str:
        """A short, human reason string: "meeting today at 10:00 (Weekly 1:1 with Tom)"."""
        when = "all day" if self.all_day or self.start is None else f"at {self.start:%H:%M}"
        return f"meeting today {when} ({self.summary})" if self.summary else f"meeting today {when}"

    def reason_zh(self) -> str:
        when = "全天" if self.all_day or self.start is None else f"{self.start:%H:%M}"
        return f"今天{when}见面（{self.summary}）" if self.summary else f"今天{when}见面"


def read_calendar(source: str, *, timeout_s: float = 20.0) -> bytes:
    """The raw bytes of an .ics path or http(s) URL; CalendarError if unreadable."""
    if re.match(r"^https?://", source, re.I):
        from connectors.http import FetchLimits, FetchRequest, run_fetches

        limits = FetchLimits(read_s=timeout_s, total_s=timeout_s * 2, max_bytes=MAX_ICS_BYTES,
                             concurrency=1, per_host=1)
        res = run_fetches([FetchRequest(source)], limits)[0]
        if res.error or res.body is None:
            raise CalendarError(f"calendar: cannot fetch {source}: "
                                f"{(res.error or 'no body').removeprefix('fetch: ')}")
        return res.body
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise CalendarError(f"calendar: cannot read {source}: {exc.strerror or exc}") from None


def occurrences_on(data: bytes, day: date, tz: ZoneInfo) -> list[Occurrence]:
    """Every event occurrence that overlaps `day` in `tz` (all-day, timed, recurring)."""
    import icalendar

    try:
        cal = icalendar.Calendar.from_ical(data)
    except Exception as exc:  # icalendar raises ValueError and friends for bad input
        raise CalendarError(f"calendar: not a valid iCalendar file: {_one_line(exc)}") from None
    day_start = datetime.combine(day, time(0), tz)
    day_end = day_start + timedelta(days=1)
    events = list(cal.walk("VEVENT"))
    # A RECURRENCE-ID event replaces one occurrence of its series: drop that occurrence there.
    overridden: dict[str, set] = {}
    for ev in events:
        rid = ev.get("RECURRENCE-ID")
        if rid is not None:
            overridden.setdefault(str(ev.get("UID")), set()).add(_as_key(rid.dt, tz))
    out: list[Occurrence] = []
    for ev in events:
        if str(ev.get("STATUS", "")).upper() == "CANCELLED" or ev.get("DTSTART") is None:
            continue
        skip = overridden.get(str(ev.get("UID")), set()) if ev.get("RECURRENCE-ID") is None else set()
        for start, all_day in _starts_on(ev, day_start, day_end, tz):
            if _as_key(start, tz) in skip:
                continue
            out.append(Occurrence(
                summary=str(ev.get("SUMMARY", "")).strip(),
                start=None if all_day else start.astimezone(tz),
                all_day=all_day,
                location=str(ev.get("LOCATION")) if ev.get("LOCATION") else None,
                attendees=_attendees(ev)))
    out.sort(key=lambda o: (not o.all_day, o.start or day_start, o.summary))
    return out


def _as_key(value: date | datetime, tz: ZoneInfo) -> str:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=tz)
        return value.astimezone(ZoneInfo("UTC")).isoformat()
    return value.isoformat()


def _starts_on(ev, day_start: datetime, day_end: datetime, tz: ZoneInfo) -> Iterable[tuple[datetime, bool]]:
    """Start times (aware) of the event's occurrences that overlap [day_start, day_end)."""
    from dateutil.rrule import rruleset, rrulestr

    raw = ev.get("DTSTART").dt
    all_day = not isinstance(raw, datetime)
    # All-day and floating times live in the reader's own time zone.
    start = datetime.combine(raw, time(0), tz) if all_day else (raw if raw.tzinfo else raw.replace(tzinfo=tz))
    duration = _duration(ev, raw, start, all_day, tz)
    if ev.get("RRULE") is None:
        starts: Iterable[datetime] = [start]
    else:
        # dateutil wants the rule and dtstart in the same naive/aware flavour: expand in local
        # wall time (naive), which also keeps a weekly 10:00 at 10:00 across DST changes.
        local_tz = start.tzinfo
        naive = start.replace(tzinfo=None)
        rules = rruleset()
        for rule in _as_list(ev.get("RRULE")):
            text = rule.to_ical().decode()
            text = re.sub(r"UNTIL=(\d{8})(T\d{6})?Z?",
                          lambda m: "UNTIL=" + _until_local(m, local_tz), text)
            try:
                rules.rrule(rrulestr(text, dtstart=naive, ignoretz=True))
            except (ValueError, TypeError):
                continue
        for exdates in _as_list(ev.get("EXDATE")):
            for ex in exdates.dts:
                v = ex.dt
                if isinstance(v, datetime):
                    v = (v if v.tzinfo else v.replace(tzinfo=local_tz)).astimezone(local_tz).replace(tzinfo=None)
                else:
                    v = datetime.combine(v, time(0))
                rules.exdate(v)
        lo = (day_start - duration - timedelta(days=1)).astimezone(local_tz).replace(tzinfo=None)
        hi = (day_end + timedelta(days=1)).astimezone(local_tz).replace(tzinfo=None)
        starts = [s.replace(tzinfo=local_tz) for s in rules.between(lo, hi, inc=True)]
    for s in starts:
        end = s + duration
        if s < day_end and (end > day_start if end > s else s >= day_start):
            yield s, all_day


def _until_local(m: re.Match, local_tz) -> str:
    """UNTIL as naive local wall time, so it matches a naive dtstart."""
    day, clock = m.group(1), m.group(2)
    if not clock:
        return day + "T235959"
    value = datetime.strptime(day + clock, "%Y%m%dT%H%M%S")
    if m.group(0).endswith("Z"):
        value = value.replace(tzinfo=ZoneInfo("UTC")).astimezone(local_tz).replace(tzinfo=None)
    return value.strftime("%Y%m%dT%H%M%S")


def _duration(ev, raw, start: datetime, all_day: bool, tz: ZoneInfo) -> timedelta:
    if ev.get("DTEND") is not None:
        end_raw = ev.get("DTEND").dt
        if isinstance(end_raw, datetime):
            end = end_raw if end_raw.tzinfo else end_raw.replace(tzinfo=tz)
        else:
            end = datetime.combine(end_raw, time(0), tz)
        return max(end - start, timedelta(0))
    if ev.get("DURATION") is not None:
        return ev.get("DURATION").dt
    return timedelta(days=1) if all_day else timedelta(0)


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _attendees(ev) -> tuple[Attendee, ...]:
    people = []
    for prop in _as_list(ev.get("ORGANIZER")) + _as_list(ev.get("ATTENDEE")):
        addr = str(prop)
        email = addr[7:].strip() if addr.lower().startswith("mailto:") else None
        cn = prop.params.get("CN") if hasattr(prop, "params") else None
        people.append(Attendee(name=str(cn).strip().strip('"') if cn else None,
                               email=email.lower() if email else None))
    return tuple(people)


def match_meetings(occurrences: Sequence[Occurrence], people: Sequence[PersonKey]) -> dict[int, list[Meeting]]:
    """Occurrences per person: attendees matched by name, alias or email, case-insensitive."""
    by_key: dict[str, int] = {}
    for p in people:
        for key in (p.name, *p.aliases):
            by_key.setdefault(f"n:{key.casefold().strip()}", p.person_id)
        if p.email:
            by_key.setdefault(f"e:{p.email.casefold().strip()}", p.person_id)
    out: dict[int, list[Meeting]] = {}
    for occ in occurrences:
        seen: set[int] = set()
        for a in occ.attendees:
            pid = (by_key.get(f"e:{a.email.casefold()}") if a.email else None) \
                or (by_key.get(f"n:{a.name.casefold()}") if a.name else None) \
                or (by_key.get(f"n:{a.email.casefold()}") if a.email else None)
            if pid is not None and pid not in seen:
                seen.add(pid)
                out.setdefault(pid, []).append(Meeting(pid, occ.summary, occ.start, occ.all_day))
    return out


def _one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
