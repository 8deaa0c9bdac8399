""""url:<address>": a photo a client system named by its address (Open311's media_url), fetched by the worker.

The address comes from outside, so it must not make us read what only this machine can reach: only http(s),
only hosts that resolve to public addresses (unless `[api] media_fetch_private_hosts`), no redirects, a time
limit and the photo size limit while reading.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse

import requests

from intake.delivery.media import FetchResult

SCHEME = "url"
TIMEOUT_SECONDS = 10


class UrlFetcher:
    def __init__(self, max_bytes: int, allow_private: bool = False):
        self.max_bytes, self.allow_private = max_bytes, allow_private

    def fetch(self, source: str) -> FetchResult:
        address = source.split(":", 1)[1]
        refused = self._refused(address)
        if refused:
            return FetchResult(ok=False, permanent=True, error=refused)
        try:
            with requests.get(address, stream=True, timeout=TIMEOUT_SECONDS, allow_redirects=False) as response:
                if response.is_redirect or response.status_code >= 400:
                    return FetchResult(ok=False, permanent=400 <= response.status_code < 500 or response.is_redirect,
                                       error=f"HTTP {response.status_code}")
                content = b""
                for chunk in response.iter_content(64 * 1024):
                    content += chunk
                    if len(content) > self.max_bytes:
                        return FetchResult(ok=False, permanent=True, error="larger than the photo limit")
                return FetchResult(ok=True, content=content, content_type=response.headers.get("Content-Type"))
        except requests.RequestException as exc:
            return FetchResult(ok=False, error=f"{type(exc).__name__}: {exc}")

    def _refused(self, address: str) -> str | None:
        parsed = urlparse(address)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            return "only http(s) addresses are fetched"
        if self.allow_private:
            return None
        try:
            found = {info[4][0] for info in socket.getaddrinfo(parsed.hostname, parsed.port or 80)}
        except OSError as exc:
            return f"cannot resolve {parsed.hostname}: {exc}"
        for ip in found:
            ip_address = ipaddress.ip_address(ip.split("%")[0])
            if not ip_address.is_global:
                return f"{parsed.hostname} is a private or local address ({ip})"
        return None
