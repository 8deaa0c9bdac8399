"""E-mail to department staff ("email:<address>") through the deployment's SMTP relay.

One connection per message: notices are few, and a fresh connection never fails on a relay's idle timeout.
Addresses come from the directory file, subjects from payloads: both are checked so that a line break can never
add a header (e.g. a Bcc) or a second recipient.
"""
from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from intake.delivery.outbox import SendResult
from intake.foundation.settings import EmailSettings, Settings

SCHEME = "email"
DEFAULT_SUBJECT = "【清零】案件通知"
# A plain dot-atom address with a dotted domain: no quoting, comments, display names or non-ASCII, which no
# department needs and which are where injection and mis-parsing hide.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
                      r"[A-Za-z0-9-]{2,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def configured(settings: Settings) -> bool:
    return bool(settings.email.host and settings.email.from_address)


def valid_address(address: str) -> bool:
    return len(address) <= 254 and _ADDRESS.fullmatch(address) is not None


class EmailSender:
    """Sends a plain-text UTF-8 message; refusals are judged by SMTP reply code (5xx permanent, 4xx retry)."""

    def __init__(self, settings: EmailSettings):
        self.settings = settings
        self.domain = parseaddr(settings.from_address)[1].rpartition("@")[2] or None

    def send(self, destination: str, payload: dict[str, Any]) -> SendResult:
        address = destination.split(":", 1)[1]
        if not valid_address(address):
            return SendResult(ok=False, permanent=True, error=f"malformed e-mail address {address!r}")
        ticket = payload.get("ticket_no")
        subject = payload.get("subject") or (f"{DEFAULT_SUBJECT}（{ticket}）" if ticket else DEFAULT_SUBJECT)
        if _CONTROL.search(subject):
            return SendResult(ok=False, permanent=True, error="the subject contains a line break or control character")
        message = EmailMessage()
        message["From"] = self.settings.from_address
        message["To"] = address
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.domain)
        message.set_content(_body(payload), charset="utf-8")
        try:
            self._deliver(message, address)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients[address]
            return _refused(code, reply, "recipient refused")
        except smtplib.SMTPResponseException as exc:
            return _refused(exc.smtp_code, exc.smtp_error, type(exc).__name__)
        except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, TLS failure, no STARTTLS
            return SendResult(ok=False, error=f"SMTP {self.settings.host}:{self.settings.port} unusable: "
                                              f"{type(exc).__name__}: {exc}")
        return SendResult(ok=True, provider_id=message["Message-ID"])

    def _deliver(self, message: EmailMessage, address: str) -> None:
        s = self.settings
        tls = ssl.create_default_context()
        smtp = (smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=tls) if s.ssl
                else smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds))
        with smtp:
            if s.starttls and not s.ssl:
                # Raises when the relay does not offer STARTTLS: never send the password or a case in the clear.
                smtp.starttls(context=tls)
            if s.username:
                smtp.login(s.username, s.password)
            smtp.send_message(message, to_addrs=[address])


def _body(payload: dict[str, Any]) -> str:
    """The payload's text, then the ticket number (unless the text has it) and the console link, if any."""
    text = payload["text"]
    lines = [text, ""]
    ticket, url = payload.get("ticket_no"), payload.get("url")
    if ticket and ticket not in text:
        lines.append(f"案件编号：{ticket}")
    if url:
        lines.append(f"查看案件：{url}")
    lines.append("（本邮件由清零系统自动发送，请勿直接回复。）")
    return "\n".join(lines) + "\n"


def _refused(code: int, reply: bytes | str, what: str) -> SendResult:
    reply = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return SendResult(ok=False, permanent=500 <= code < 600, error=f"SMTP {code} ({what}): {reply}")


def make_sender(settings: Settings) -> EmailSender:
    return EmailSender(settings.email)
