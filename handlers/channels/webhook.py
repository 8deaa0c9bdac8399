"""Signed HTTP webhooks to departments' and client systems' own systems ("webhook:https://...").

The body is the payload as JSON plus "sent_at" and a fresh "id": a department contact's notices, and every case
event in a client system's scope (intake.people.publish). `X-Qingling-Timestamp` is the sending time in Unix seconds
and `X-Qingling-Signature` is "sha256=" and the hex HMAC-SHA256, under the shared secret, of
f"{timestamp}.{raw body}", so a receiver checks both with `verify_signature` before parsing and refuses a replay
of an old delivery (the timestamp cannot be changed without breaking the signature).
Redirects are not followed: they would re-send a signed case elsewhere, perhaps in the clear.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from intake.delivery.outbox import SendResult
from intake.foundation.settings import Settings

SCHEME = "webhook"
SIGNATURE_HEADER = "X-Qingling-Signature"
TIMESTAMP_HEADER = "X-Qingling-Timestamp"
# Plain http only to this machine, for tests and a receiver on the same host; anything else must be https.
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
RETRYABLE_STATUS = {408, 429}
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


def configured(settings: Settings) -> bool:
    return bool(settings.webhook.secret)


MAX_AGE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    signed = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str, timestamp: str, *,
                     max_age_seconds: int = MAX_AGE_SECONDS, now: float | None = None) -> bool:
    """True when `header` signs exactly this timestamp and these body bytes, and the timestamp is at most
    max_age_seconds from now; an empty secret verifies nothing."""
    if not secret or not header or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > max_age_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), header.strip().encode("utf-8", "replace"))


def url_problem(url: str) -> str | None:
    """Why this URL must not be called, or None: whitespace or control characters (which could add request
    lines or headers), non-ASCII, no host, or http to anywhere but this machine."""
    if _UNSAFE.search(url):
        return "the URL contains whitespace or control characters"
    if not url.isascii():
        return "the URL is not ASCII (percent-encode other characters)"
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # .port raises ValueError when malformed
    except ValueError as exc:
        return f"malformed URL: {exc}"
    if not host:
        return "the URL has no host"
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL_HOSTS):
        return None
    return "only https URLs are allowed (plain http only to 127.0.0.1 / localhost)"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


class WebhookSender:
    """POSTs the signed JSON; 2xx is delivered, 5xx / 408 / 429 / network trouble retry, other codes are final."""

    def __init__(self, secret: str, timeout: float = 10):
        self.secret = secret
        self.timeout = timeout
        self.opener = urllib.request.build_opener(_NoRedirect)

    def send(self, destination: str, payload: dict[str, Any]) -> SendResult:
        url = destination.split(":", 1)[1]
        problem = url_problem(url)
        if problem:
            return SendResult(ok=False, permanent=True, error=f"webhook {url!r} refused: {problem}")
        now = datetime.now(timezone.utc).replace(microsecond=0)
        delivery_id = uuid.uuid4().hex
        body = json.dumps({**payload, "sent_at": now.isoformat(), "id": delivery_id},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(now.timestamp()))
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "Qingling-Webhook/1",
            SIGNATURE_HEADER: sign(self.secret, timestamp, body), TIMESTAMP_HEADER: timestamp})
        try:
            with self.opener.open(request, timeout=self.timeout):
                pass
        except urllib.error.HTTPError as exc:
            exc.close()
            status = exc.code
            retry = status >= 500 or status in RETRYABLE_STATUS
            where = f" to {exc.headers.get('Location')}" if 300 <= status < 400 else ""
            return SendResult(ok=False, permanent=not retry, error=f"webhook HTTP {status} {exc.reason}{where}")
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:  # refused, timeout, TLS
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            return SendResult(ok=False, error=f"webhook unreachable: {type(reason).__name__}: {reason}")
        return SendResult(ok=True, provider_id=delivery_id)


def make_sender(settings: Settings) -> WebhookSender:
    return WebhookSender(settings.webhook.secret, settings.webhook.timeout_seconds)
