"""Render a day's digest to disk, then send it once (the sent ledger lives in the store).

Order matters for "never lost": the files are written first, the ledger row says 'rendered'
(or 'failed' with the reason) until a send succeeds, and only a row with `sent_at` makes a
later send for the same day and recipient a no-op (unless forced).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from guanxi import store
from guanxi.config import Config
from guanxi.runlock import send_lock
from reports.digest import Digest, digest_for_config, shown
from reports.render import is_quiet, render_html, render_text, subject, write_digest


@dataclass(slots=True)
class Published:
    digest: Digest
    html_path: Path
    text_path: Path
    sent: bool = False
    already_sent: bool = False
    skipped_quiet: bool = False
    images: int = 0           # thumbnails embedded in the email
    attempts: int = 0         # SMTP attempts the send took


def today_in(config: Config, now: datetime) -> date:
    return now.astimezone(config.tz).date()


def publish_digest(config: Config, *, day: date | None = None, out_dir: Path | None = None,
                   send: bool = False, force: bool = False, now: datetime | None = None) -> Published:
    """Build, write (always, before any send) and optionally send the digest for `day`."""
    from reports.mail import parse_address

    now = now or store.now_utc()
    day = day or today_in(config, now)
    dc = config.digest
    digest = digest_for_config(config, day=day, now=now)
    images = _thumbnails(config, digest) if dc.embed_images else None
    html_path, text_path = write_digest(digest, out_dir or dc.out_dir, language=dc.language, images=images)
    result = Published(digest, html_path, text_path)
    # The ledger is keyed by the bare address, so adding a display name later changes nothing.
    recipient = parse_address(dc.recipient).addr_spec.lower() if dc.recipient else ""
    # A send holds the send lock from reading the ledger to writing it, so two sends started
    # together deliver once: the second waits, then finds the day sent.
    with send_lock(config.store_path, wait_s=_send_wait_s(config)) if send else contextlib.nullcontext():
        return _record_and_send(config, digest, result, day=day, recipient=recipient,
                                send=send, force=force, now=now, images=images)


def _record_and_send(config: Config, digest: Digest, result: Published, *, day: date, recipient: str,
                     send: bool, force: bool, now: datetime, images: dict | None = None) -> Published:
    """Record the rendered digest in the ledger, then send it unless it was sent already."""
    from reports.mail import SendError

    dc = config.digest
    html_path, text_path = result.html_path, result.text_path
    with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
        store.record_shown(con, shown(digest), now)
        sent_before = con.execute(
            "SELECT count(*) FROM digests WHERE day = ? AND coalesce(recipient, '') = ? AND sent_at IS NOT NULL",
            [day, recipient]).fetchone()[0]
        if not sent_before:
            con.execute("DELETE FROM digests WHERE day = ? AND coalesce(recipient, '') = ? AND sent_at IS NULL",
                        [day, recipient])
            con.execute("INSERT INTO digests (day, recipient, html_path, text_path, rendered_at, status) "
                        "VALUES (?, ?, ?, ?, ?, 'rendered')", [day, recipient, str(html_path), str(text_path), now])
    if not send:
        return result
    if sent_before and not force:
        result.already_sent = True
        return result
    if is_quiet(digest) and dc.quiet_day == "skip":
        result.skipped_quiet = True
        return result
    if not dc.recipient:
        raise SendError("mail: [digest] recipient is not set in the config")
    try:
        msg_id, result.images, result.attempts = _send(config, digest, images)
    except SendError as exc:
        with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
            con.execute("UPDATE digests SET status = 'failed', last_error = ? "
                        "WHERE day = ? AND coalesce(recipient, '') = ? AND sent_at IS NULL",
                        [str(exc), day, recipient])
        raise SendError(f"{exc} (digest saved at {html_path}; the next run sends it)") from None
    with store.write_window(config.store_path, wait_s=config.store_wait_s) as con:
        con.execute("DELETE FROM digests WHERE day = ? AND coalesce(recipient, '') = ? AND sent_at IS NULL",
                    [day, recipient])
        con.execute("INSERT INTO digests (day, recipient, html_path, text_path, message_id, rendered_at, sent_at, status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 'sent')",
                    [day, recipient, str(html_path), str(text_path), msg_id, now, store.now_utc()])
    result.sent = True
    return result


def _send_wait_s(config: Config) -> float:
    """How long a send waits for another one: that send's worst case (every SMTP attempt timing
    out, with its backoffs) plus the store's own wait."""
    smtp = config.smtp
    return (smtp.timeout_s * (smtp.retries + 1) + smtp.retry_delay_s * (2 ** smtp.retries - 1)
            + config.store_wait_s)


def _thumbnails(config: Config, digest: Digest) -> dict:
    """The digest's thumbnails, each fetched once with its platform's Referer (url -> InlineImage)."""
    from reports.images import fetch_inline_images

    urls = [item.image for sec in digest.sections for item in sec.items]
    return fetch_inline_images(urls, user_agent=config.ingest.user_agent)


def _send(config: Config, digest: Digest, images: dict | None = None) -> tuple[str, int, int]:
    """Fetch thumbnails (unless the copy on disk already did), build the email and deliver it;
    (Message-ID, images, attempts)."""
    from reports.mail import build_message, send_message

    dc = config.digest
    if images is None:
        images = _thumbnails(config, digest)
    # Only images the HTML actually cites travel with it.
    html = render_html(digest, language=dc.language, images=images)
    used = [img for img in images.values() if f"cid:{img.cid}" in html]
    msg = build_message(subject=subject(digest, dc.language), html=html,
                        text=render_text(digest, language=dc.language),
                        sender=config.smtp.sender or dc.recipient, recipient=dc.recipient,
                        day=digest.day, images=used)
    attempts = send_message(msg, config.smtp)
    return msg["Message-ID"], len(used), attempts
