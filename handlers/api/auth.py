"""Which client system is calling: its bearer token (or Open311's api_key) looked up once per request, the
scope intake.people.access gives it, and the rate-limit key, which is the client, not its address."""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, g, request

from intake.foundation.models import ApiClient
from intake.people.access import Scope
from intake.people.clients import authenticate

from ..extensions import client_network, limiter
from ..runtime import db, services


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def client(token: Callable[[], str]) -> ApiClient | None:
    """The calling client, looked up once; bodies are bounded before the token is read (Open311's may be in a
    form body)."""
    if "api_client" not in g:
        request.max_content_length = services().settings.api.max_body_bytes
        g.api_client = authenticate(db(), token())
    return g.api_client


def scope() -> Scope:
    return g.api_scope


def rate_limited(bp: Blueprint, token: Callable[[], str]) -> None:
    """Each client counts against its own rate limit; calls without a valid token against their address."""

    def rate_key() -> str:
        found = client(token)
        return f"api-client:{found.id}" if found is not None else f"api-anonymous:{client_network()}"

    limiter.limit(lambda: services().settings.api.rate_limit, key_func=rate_key)(bp)


def protect(bp: Blueprint, token: Callable[[], str], refuse: Callable[[], object]) -> None:
    """Every request of the blueprint: bodies bounded, the client authenticated (`refuse` answers otherwise)
    and rate-limited."""

    @bp.before_request
    def _authenticate():
        found = client(token)
        if found is None:
            return refuse()
        g.api_scope = Scope.of(found)
        return None

    rate_limited(bp, token)
