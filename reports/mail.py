"""Build the digest email (multipart/alternative) and send it over SMTP."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from datetime import date
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from guanxi.config import SmtpConfig
from guanxi.errors import GuanxiError


class SendError(GuanxiError):
    """Sending failed; one line saying why (never containing the password)."""


def message_id(day: date, recipient: str, sender: str) -> str:
    """Deterministic per date and recipient, so a resend is recognisable as the same digest."""
    digest = hashlib.sha256(f"{day.isoformat()}|{recipient.lower()}".encode()).hexdigest()[:24]
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "guanxi.local"
    return f"<guanxi-{day.isoformat()}-{digest}@{domain}>"


def build_message(*, subject: str, html: str, text: str, sender: str, recipient: str, day: date) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = Address(display_name="Guanxi", addr_spec=sender)
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id(day, recipient, sender)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def send_message(msg: EmailMessage, smtp: SmtpConfig) -> None:
    """Deliver one message per the [smtp] config; raise SendError with one clear line."""
    try:
        if smtp.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                password = smtp.password
                if password is None:
                    raise SendError("mail: [smtp] username is set but GUANXI_SMTP_PASSWORD is not")
                client.login(smtp.username, password)
            client.send_message(msg)
    except SendError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"mail: could not send via {smtp.host}:{smtp.port}: "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")) from None
