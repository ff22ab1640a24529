"""Build the digest email (multipart/alternative, inline images) and send it over SMTP.

Message shape: multipart/alternative = text/plain + (multipart/related = text/html + images),
so clients that show HTML find the thumbnails by Content-ID and nothing loads remotely.
"""

from __future__ import annotations

import base64
import hashlib
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable
from datetime import date
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from guanxi.config import SmtpConfig
from guanxi.errors import GuanxiError


class SendError(GuanxiError):
    """Sending failed; one line saying why (never containing the password)."""


class _Permanent(Exception):
    """A failure that retrying will not fix (5xx, bad credentials, bad certificate)."""


def parse_address(raw: str, *, default_name: str = "") -> Address:
    """`关系 <me@example.com>` or `me@example.com` -> Address; SendError if it is not one."""
    name, addr = parseaddr(raw or "")
    if not addr or "@" not in addr or any(c in raw for c in "\r\n"):
        raise SendError(f"mail: not an email address: {raw!r}")
    try:
        return Address(display_name=name or default_name, addr_spec=addr)
    except (ValueError, HeaderParseError, IndexError):
        raise SendError(f"mail: not an email address: {raw!r}") from None


def message_id(day: date, recipient: str, sender: str) -> str:
    """Deterministic per date and recipient, so a resend is recognisable as the same digest."""
    digest = hashlib.sha256(f"{day.isoformat()}|{recipient.lower()}".encode()).hexdigest()[:24]
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "guanxi.local"
    return f"<guanxi-{day.isoformat()}-{digest}@{domain}>"


def build_message(*, subject: str, html: str, text: str, sender: str, recipient: str, day: date,
                  images: Iterable = ()) -> EmailMessage:
    """The digest as an EmailMessage; `images` are InlineImage parts the HTML cites by cid:."""
    frm = parse_address(sender, default_name="Guanxi")
    to = parse_address(recipient)
    msg = EmailMessage()
    # EmailMessage encodes non-ASCII subjects and display names as RFC 2047 UTF-8 words.
    msg["Subject"] = subject
    msg["From"] = frm
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id(day, to.addr_spec, frm.addr_spec)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    html_part = msg.get_payload()[1]
    for img in images:
        html_part.add_related(img.data, maintype="image", subtype=img.subtype, cid=f"<{img.cid}>",
                              filename=f"{img.cid.split('@')[0]}.{img.subtype}", disposition="inline")
    return msg


def _context(smtp: SmtpConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if smtp.ca_file:
        try:
            ctx.load_verify_locations(cafile=str(smtp.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise SendError(f"mail: cannot load [smtp] ca_file {smtp.ca_file}: {exc}") from None
    return ctx


def _deliver(msg: EmailMessage, smtp: SmtpConfig, context: ssl.SSLContext) -> None:
    """One attempt: connect, secure, authenticate, send. Raises _Permanent or a transient error."""
    if smtp.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s,
                                                context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username:
            password = smtp.password
            if password is None:
                raise SendError("mail: [smtp] username is set but GUANXI_SMTP_PASSWORD is not")
            try:
                _login(client, smtp.username, password)
            except smtplib.SMTPAuthenticationError as exc:
                raise _Permanent(f"login as {smtp.username} refused ({exc.smtp_code})") from None
        client.send_message(msg)


def _login(client: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib encodes credentials as ASCII; a non-ASCII password goes as UTF-8 AUTH PLAIN (RFC 4616)."""
    if username.isascii() and password.isascii():
        client.login(username, password)
        return
    client.ehlo_or_helo_if_needed()
    if "PLAIN" not in client.esmtp_features.get("auth", "").upper().split():
        raise smtplib.SMTPException("the server offers no AUTH PLAIN for a non-ASCII password")
    token = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode("ascii")
    code, resp = client.docmd("AUTH", "PLAIN " + token)
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, resp)


def _is_transient(exc: BaseException) -> bool:
    """Worth another try: a 4xx reply, a dropped or refused connection, a timeout.

    Order matters: every SMTPException and SSLError is also an OSError.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, (smtplib.SMTPException, ssl.SSLError)):
        return False  # no STARTTLS offered, bad certificate, handshake refused: config problems
    return isinstance(exc, OSError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return f"recipient refused: {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if isinstance(exc, smtplib.SMTPResponseException):
        err = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {err}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _redact(line: str, smtp: SmtpConfig) -> str:
    """Take the password (and its AUTH encodings) out of anything we are about to print."""
    password = smtp.password
    if not password:
        return line
    user = smtp.username or ""
    for secret in (password, base64.b64encode(password.encode()).decode(),
                   base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
                   base64.b64encode(password.encode()).decode()):
        line = line.replace(secret, "***")
    return line


def send_message(msg: EmailMessage, smtp: SmtpConfig, *,
                 sleep: Callable[[float], None] = time.sleep) -> int:
    """Deliver one message per [smtp], retrying transient failures; return attempts used.

    Raises SendError with one line (never the password) when it finally fails.
    """
    context = _context(smtp) if smtp.security != "none" else ssl.create_default_context()
    attempts = smtp.retries + 1
    where = f"{smtp.host}:{smtp.port}"
    for attempt in range(1, attempts + 1):
        try:
            _deliver(msg, smtp, context)
            return attempt
        except SendError:
            raise
        except _Permanent as exc:
            raise SendError(_redact(f"mail: {where}: {exc}", smtp)) from None
        except (OSError, smtplib.SMTPException) as exc:
            why = " ".join(_describe(exc).split())[:300]
            if not _is_transient(exc):
                raise SendError(_redact(f"mail: sending via {where} failed: {why}", smtp)) from None
            if attempt == attempts:
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                raise SendError(_redact(f"mail: could not send via {where}{tries}: {why}", smtp)) from None
            sleep(smtp.retry_delay_s * 2 ** (attempt - 1))
    raise AssertionError("unreachable")
