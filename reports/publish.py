"""Render a day's digest to disk, then send it once (the sent ledger lives in the store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from guanxi import store
from guanxi.config import Config
from reports.digest import Digest, digest_for_config, shown
from reports.render import render_html, render_text, subject, write_digest


@dataclass(slots=True)
class Published:
    digest: Digest
    html_path: Path
    text_path: Path
    sent: bool = False
    already_sent: bool = False
    skipped_quiet: bool = False


def today_in(config: Config, now: datetime) -> date:
    return now.astimezone(config.tz).date()


def publish_digest(config: Config, *, day: date | None = None, out_dir: Path | None = None,
                   send: bool = False, force: bool = False, now: datetime | None = None) -> Published:
    """Build, write (always, before any send) and optionally send the digest for `day`."""
    now = now or store.now_utc()
    day = day or today_in(config, now)
    dc = config.digest
    digest = digest_for_config(config, day=day, now=now)
    html_path, text_path = write_digest(digest, out_dir or dc.out_dir)
    result = Published(digest, html_path, text_path)
    recipient = dc.recipient or ""
    with store.write_window(config.store_path) as con:
        store.record_shown(con, shown(digest), now)
        con.execute("DELETE FROM digests WHERE day = ? AND coalesce(recipient, '') = ? AND sent_at IS NULL",
                    [day, recipient])
        sent_before = con.execute(
            "SELECT count(*) FROM digests WHERE day = ? AND coalesce(recipient, '') = ? AND sent_at IS NOT NULL",
            [day, recipient]).fetchone()[0]
        if not sent_before:
            con.execute("INSERT INTO digests (day, recipient, html_path, text_path, rendered_at, status) "
                        "VALUES (?, ?, ?, ?, ?, 'rendered')", [day, recipient, str(html_path), str(text_path), now])
    if not send:
        return result
    if sent_before and not force:
        result.already_sent = True
        return result
    if not digest.starters and dc.quiet_day == "skip":
        result.skipped_quiet = True
        return result
    if not dc.recipient:
        from reports.mail import SendError
        raise SendError("mail: [digest] recipient is not set in the config")
    from reports.mail import build_message, message_id, send_message

    sender = config.smtp.sender or dc.recipient
    msg = build_message(subject=subject(digest), html=render_html(digest), text=render_text(digest),
                        sender=sender, recipient=dc.recipient, day=day)
    send_message(msg, config.smtp)
    with store.write_window(config.store_path) as con:
        con.execute("DELETE FROM digests WHERE day = ? AND coalesce(recipient, '') = ? AND sent_at IS NULL",
                    [day, recipient])
        con.execute("INSERT INTO digests (day, recipient, html_path, text_path, message_id, rendered_at, sent_at, status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 'sent')",
                    [day, recipient, str(html_path), str(text_path), message_id(day, dc.recipient, sender), now,
                     store.now_utc()])
    result.sent = True
    return result
