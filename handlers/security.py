"""Security headers on every response, pages, images, PDFs, webhook answers and errors alike.

The policy allows no inline script or style, so a payload that slips past escaping still cannot run; nobody may
frame our pages (a framed 工资已到手 button is a click away from a false close); a photo or poster is never
sniffed into HTML; and links out do not carry a worker's ticket or case URL in the Referer.
"""
from __future__ import annotations

import logging
import re

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def secure_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


# An Open311 client may put its key in the query string; access logs keep the request line, never the key.
SECRET_PARAMETER = re.compile(r"(?i)\b(api_key|access_token|token)=[^&\s\"']+")
ACCESS_LOGS = ("werkzeug", "gunicorn.access")


class RedactSecrets(logging.Filter):
    """Rewrites a log record's request line so a key given as a parameter is logged as ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        elif record.args:
            record.msg, record.args = _redacted(record.getMessage()), ()
        else:
            record.msg = _redacted(record.msg)
        return True


def _redacted(value):
    return SECRET_PARAMETER.sub(r"\1=***", value) if isinstance(value, str) else value


def register(app: Flask) -> None:
    app.after_request(secure_headers)
    for name in ACCESS_LOGS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
