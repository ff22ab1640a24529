"""A real SMTP server on 127.0.0.1 (aiosmtpd) for tests, with optional STARTTLS, TLS and AUTH.

TLS uses a throwaway self-signed certificate made at test time; the client trusts it through
the `[smtp] ca_file` config option, exactly as a user would trust a private relay's CA.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed CA-flagged certificate for localhost / 127.0.0.1; (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "guanxi test SMTP")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Sink:
    """Collects delivered messages; `replies` scripts RCPT answers (e.g. a 451 then success)."""

    messages: list[bytes] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    rcpt_calls: int = 0
    data_delay_s: float = 0.0  # a slow relay: wait this long before accepting DATA

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.rcpt_calls += 1
        if self.rcpt_replies:
            reply = self.rcpt_replies.pop(0)
            if not reply.startswith("250"):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data_delay_s:
            await asyncio.sleep(self.data_delay_s)
        self.messages.append(envelope.content)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"

    def parsed(self) -> list[EmailMessage]:
        return [BytesParser(policy=policy.default).parsebytes(m) for m in self.messages]


class SmtpServer:
    """aiosmtpd on loopback. security: none | starttls | tls; `password` enables AUTH."""

    def __init__(self, *, security: str = "none", cert: tuple[Path, Path] | None = None,
                 username: str | None = None, password: str | None = None, port: int | None = None):
        self.sink = Sink()
        self.port = port or free_port()
        kwargs: dict = {}
        if security != "none":
            assert cert, "TLS needs a certificate"
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
            if security == "tls":
                kwargs["ssl_context"] = ctx
            else:
                kwargs.update(tls_context=ctx, require_starttls=True)
        if password is not None:
            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = isinstance(auth_data, LoginPassword) and (
                    auth_data.login.decode() == username and auth_data.password.decode() == password)
                if isinstance(auth_data, LoginPassword):
                    self.sink.logins.append((auth_data.login.decode(), auth_data.password.decode()))
                return AuthResult(success=ok, handled=False)  # let aiosmtpd send the 535
            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=security == "starttls")  # aiosmtpd cannot see implicit TLS
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def smtp_toml(self, security: str = "none", **extra) -> str:
        lines = ["[smtp]", 'host = "127.0.0.1"', f"port = {self.port}", f'security = "{security}"',
                 "retry_delay_s = 0", "timeout_s = 10"]
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
        return "\n".join(lines) + "\n"
