"""Security headers on every response, pages, images, PDFs, webhook answers and errors alike.

The policy allows no inline script or style, so a payload that slips past escaping still cannot run; nobody may
frame our pages (a framed 工资已到手 button is a click away from a false close); a photo or poster is never
sniffed into HTML; and links out do not carry a worker's ticket or case URL in the Referer.
"""
from __future__ import annotations

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


def register(app: Flask) -> None:
    app.after_request(secure_headers)
