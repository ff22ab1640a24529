"""Calendar match with a fixed day: all-day, weekly recurrence, TZID and UTC, tomorrow, alias/email, loopback."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from connectors.calendar import CalendarError, PersonKey, match_meetings, occurrences_on, read_calendar
from tests.loopback import static

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 23)  # a Monday

ICS = "\r\n".join([
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN",
    "BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
    "BEGIN:STANDARD", "DTSTART:19701025T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD", "END:VTIMEZONE",
    # UTC: 02:00Z is 10:00 in Shanghai on the day
    "BEGIN:VEVENT", "UID:utc@x", "DTSTAMP:20261101T000000Z", "DTSTART:20261123T020000Z",
    "DTEND:20261123T030000Z", "SUMMARY:Design review",
    "ATTENDEE;CN=Someone Else:mailto:LI.WEI@EXAMPLE.COM", "END:VEVENT",
    # TZID: 09:00 Berlin = 16:00 Shanghai
    "BEGIN:VEVENT", "UID:tzid@x", "DTSTAMP:20261101T000000Z",
    "DTSTART;TZID=Europe/Berlin:20261123T090000", "DTEND;TZID=Europe/Berlin:20261123T093000",
    "SUMMARY:Berlin sync", "ATTENDEE;CN=thomas becker:mailto:tb@elsewhere.example", "END:VEVENT",
    # all-day today
    "BEGIN:VEVENT", "UID:allday@x", "DTSTAMP:20261101T000000Z", "DTSTART;VALUE=DATE:20261123",
    "DTEND;VALUE=DATE:20261124", "SUMMARY:Offsite", "ATTENDEE;CN=Em Walsh:invalid:nomail", "END:VEVENT",
    # weekly since three weeks ago, Mondays 11:00 Shanghai (03:00Z)
    "BEGIN:VEVENT", "UID:weekly@x", "DTSTAMP:20261101T000000Z", "DTSTART:20261102T030000Z",
    "DURATION:PT30M", "RRULE:FREQ=WEEKLY", "SUMMARY:1:1", "ATTENDEE;CN=Priya:mailto:p@x.example", "END:VEVENT",
    # weekly on Tuesdays: never today
    "BEGIN:VEVENT", "UID:tue@x", "DTSTAMP:20261101T000000Z", "DTSTART:20261103T030000Z",
    "DURATION:PT30M", "RRULE:FREQ=WEEKLY", "SUMMARY:Tuesday thing",
    "ATTENDEE:mailto:zhang.ming@example.com", "END:VEVENT",
    # tomorrow: must not count
    "BEGIN:VEVENT", "UID:tomorrow@x", "DTSTAMP:20261101T000000Z", "DTSTART:20261124T020000Z",
    "DTEND:20261124T030000Z", "SUMMARY:Tomorrow", "ATTENDEE;CN=王芳:mailto:w@x.example", "END:VEVENT",
    "END:VCALENDAR", ""]).encode()

PEOPLE = [
    PersonKey(1, "李伟", ("Li Wei",), "li.wei@example.com"),
    PersonKey(2, "Tom Becker", ("Thomas Becker",), "tom.becker@example.com"),
    PersonKey(3, "Emily Walsh", ("Em Walsh",), "emily.walsh@example.com"),
    PersonKey(4, "Priya Nair", ("Priya",), "priya.nair@example.com"),
    PersonKey(5, "王芳", ("Wang Fang",), "wang.fang@example.com"),
    PersonKey(6, "张明", (), "zhang.ming@example.com"),
]


def test_occurrences_on_the_day_only():
    occ = occurrences_on(ICS, DAY, TZ)
    assert [(o.summary, o.all_day, o.start and o.start.strftime("%H:%M")) for o in occ] == [
        ("Offsite", True, None), ("Design review", False, "10:00"), ("1:1", False, "11:00"),
        ("Berlin sync", False, "16:00")]


def test_attendees_matched_by_email_alias_and_name_case_insensitively():
    meetings = match_meetings(occurrences_on(ICS, DAY, TZ), PEOPLE)
    assert set(meetings) == {1, 2, 3, 4}  # email (upper-case), alias (lower-case), alias by CN, alias
    assert meetings[1][0].reason() == "meeting today at 10:00 (Design review)"
    assert meetings[3][0].reason() == "meeting today all day (Offsite)"
    assert 5 not in meetings and 6 not in meetings  # tomorrow, and a Tuesday series


def test_the_day_before_sees_tomorrows_event_and_not_the_weekly_one():
    occ = occurrences_on(ICS, date(2026, 11, 24), TZ)
    assert {o.summary for o in occ} == {"Tomorrow", "Tuesday thing"}


def test_ics_served_over_loopback(server):
    server.routes["/cal.ics"] = static(ICS, content_type="text/calendar")
    data = read_calendar(server.url("/cal.ics"))
    assert {m for m in match_meetings(occurrences_on(data, DAY, TZ), PEOPLE)} == {1, 2, 3, 4}


def test_unreadable_calendar_is_one_line(server, tmp_path):
    with pytest.raises(CalendarError, match=r"^calendar: cannot fetch"):
        read_calendar(server.url("/missing.ics"))
    with pytest.raises(CalendarError, match=r"^calendar: cannot read"):
        read_calendar(str(tmp_path / "nope.ics"))
    with pytest.raises(CalendarError, match=r"^calendar: not a valid iCalendar"):
        occurrences_on(b"this is not a calendar", DAY, TZ)
