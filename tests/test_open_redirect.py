"""After log-in the console goes only to its own pages, whatever `next` a phishing link carries.

Browsers are more lenient than urllib: they drop tabs and line breaks inside a URL, read a backslash as a slash
and decode nothing before choosing the host, so every value is judged the way a browser would resolve it."""
from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

import pytest

from handlers.console.auth import _safe_next
from tests.helpers import PASSWORD, csrf_token, make_accounts

BASE = "https://qingling.test/console/login"
HOSTILE = (
    "https://evil.example/", "http://evil.example/console", "//evil.example", "///evil.example",
    "////evil.example/console", "/\\evil.example", "\\\\evil.example", "/\\/evil.example", "\\/evil.example",
    "%2F%2Fevil.example", "/%2F%2Fevil.example", "%5C%5Cevil.example", "https:evil.example", "http:/\\evil.example",
    "https:/evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "\t//evil.example", "/\t/evil.example", "\n//evil.example",
    "/\n/evil.example", "/\r/evil.example", " //evil.example", "\x00//evil.example", "/console\t//evil.example",
    "/console\\..\\..\\\\evil.example", "/console\r\nLocation: https://evil.example",
    "/console\r\nSet-Cookie: session=stolen", "/console/\u2028//evil.example", "ｈｔｔｐｓ://evil.example",
    "/\u3000/evil.example", "//evil.example%2F@qingling.test", "//qingling.test@evil.example/console",
    "/consoleevil.example", "console//evil.example", "", None,
)
KEPT = ("/console/", "/console/cases/261202333110", "/console/?status=routed&page=2", "/console/audit?user=a%20b")


def lands_on(target) -> str:
    """Where a browser goes after the log-in redirect: the Location resolved against the log-in page, with the
    characters browsers strip removed first."""
    location = "".join(ch for ch in _safe_next(target) if ch not in "\t\n\r").replace("\\", "/")
    return urljoin(BASE, location)


@pytest.mark.parametrize("target", HOSTILE)
def test_a_hostile_next_leads_to_the_queue(app, target):
    with app.test_request_context("/console/login"):
        assert _safe_next(target) == "/console/"
        assert urlsplit(lands_on(target)).netloc == "qingling.test"


@pytest.mark.parametrize("target", KEPT)
def test_a_console_page_is_kept(app, target):
    with app.test_request_context("/console/login"):
        assert _safe_next(target) == target


def test_through_the_real_log_in(client, session):
    username = make_accounts(session)["staff"]
    for target, expected in (("/console/cases/261202333110", "/console/cases/261202333110"),
                             ("/console\r\nSet-Cookie: x=1", "/console/"), ("//evil.example", "/console/"),
                             ("/\\evil.example", "/console/")):
        page = client.get("/console/login?next=" + quote(target, safe=""))
        response = client.post("/console/login?next=" + quote(target, safe=""), data={
            "username": username, "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))})
        assert response.status_code == 303 and response.headers["Location"] == expected, target
        assert "Set-Cookie: x" not in str(response.headers)
        client.post("/console/logout", data={"csrf_token": csrf_token(client.get("/console/").get_data(as_text=True))})
