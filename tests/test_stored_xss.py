"""Stored XSS and template injection: hostile text planted in every free-text field through the real entry points
(the worker's forms, the chat, a site import, staff intake and case actions) is shown as text everywhere it
appears: the console's queue, inbox, case pages, site list and audit log, the worker's status page, the chat
simulator and the posters. Never as markup, never evaluated by Jinja.

`PAYLOADS` and `plant_everywhere` are meant to be reused: an output added later (the ledger export, the JSON API)
is checked by planting once and asserting on its bytes, e.g. with `assert_inert_html` or a CSV/JSON check.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

import pytest
from markupsafe import escape
from sqlalchemy import select

from handlers.posters import poster_data, poster_font
from handlers.runtime import services
from intake.foundation.models import Complaint, Site
from qr import layout_poster
from tests.helpers import act, csrf_token, filled, form_fields, login, make_accounts, worker_pass

PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{7*7}}",
    "${7*7}",
    "</textarea><svg onload=alert(1)>",
    "=cmd|' /C calc'!A0",
)
# Two plantings cover every payload in every field: all of them at once, and again in reverse order, so that a
# field cut to 100 characters (names) also carries the ones at the end.
PLANTINGS = ("".join(PAYLOADS), "".join(reversed(PAYLOADS)))
PHONE = "13800001234"
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background"}


@dataclass
class Planted:
    """What plant_everywhere made: a logged-in administrator and the cases and site carrying the payload."""

    payload: str
    admin: object  # a test client logged in as the city administrator
    chat: object  # the browser that chatted in the simulator (its history is kept in its cookie)
    site: Site
    tickets: dict[str, str] = field(default_factory=dict)  # entry point -> ticket number


def plant_everywhere(app, session, payload: str) -> Planted:
    """Put `payload` into every free-text field through the app's own entry points, and move the cases on so
    that staff notes, reasons, outcomes and messages are stored too."""
    admin = app.test_client()
    login(admin, make_accounts(session)["admin"])
    site = _import_site(admin, session, payload)
    worker, chat_browser = app.test_client(), app.test_client()
    tickets = {"site_form": _post_form(worker, f"/s/{site.public_token}", name=payload[:100], free_text=payload),
               "general_form": _post_form(worker, "/report", name=payload[:100], free_text=payload,
                                          county="371302", project_name=f"项目{payload}"),
               "staff_intake": _staff_intake(admin, payload),
               "chat": _chat(chat_browser, payload)}
    worker_pass(app)
    web, walk_in, chat = tickets["site_form"], tickets["staff_intake"], tickets["chat"]
    for name, fields in (("acknowledge", {}), ("contact", {"note": payload}), ("accept", {}),
                         ("claim_line", {"worker_name": payload[:100], "amount": "1000"}),
                         ("measures", {"measures": "ordered_to_pay", "note": payload}),
                         ("message", {"text": payload}), ("supervise", {"due": "2099-12-31", "reason": payload}),
                         ("resolve", {"outcome": payload, "amount_recovered": "1000", "workers_paid": "1"})):
        _acted(act(admin, web, name, **fields), name)
    for name, fields in (("acknowledge", {}), ("reject", {"reason": payload})):
        _acted(act(admin, walk_in, name, **fields), name)
    _acted(act(admin, chat, "return", reason=payload), "return")
    _acted(act(admin, tickets["general_form"], "transfer", department_id=str(_other_department(admin, tickets)),
               reason=payload), "transfer")
    return Planted(payload, admin, chat_browser, site, tickets)


def _acted(response, name: str) -> None:
    assert response.status_code == 303, (name, response.status_code, response.get_data(as_text=True)[:2000])


def _import_site(admin, session, payload: str) -> Site:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["项目编号", "项目名称", "所在区县", "详细地址", "行业", "建设单位", "施工总承包单位", "劳资专管员"])
    writer.writerow(["XSS-1", f"阳光城{payload}", "兰山区", f"北京路{payload}", "房屋建筑", f"建设{payload}",
                     f"总包{payload}", payload[:100]])
    page = admin.get("/console/sites").get_data(as_text=True)
    done = admin.post("/console/sites/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "file": (io.BytesIO(out.getvalue().encode("utf-8-sig")), "sites.csv")})
    assert "已导入：新增 1 个" in admin.get(done.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    return session.scalar(select(Site).where(Site.code == "XSS-1"))


def _post_form(client, url: str, **changes) -> str:
    response = client.post(url, data=form_fields(client, url) | filled(phone=PHONE, **changes))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[1]


def _staff_intake(admin, payload: str) -> str:
    page = admin.get("/console/intake").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    response = admin.post("/console/intake", data={
        "csrf_token": csrf_token(page), "submission_key": key, "channel": "phone", "name": payload[:100],
        "phone": PHONE, "county": "371302", "project_name": f"项目{payload}", "workers": "3", "amount": "9000",
        "free_text": payload})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    flashed = admin.get(response.headers["Location"]).get_data(as_text=True)
    return re.search(r"已登记，受理编号 (\d{12})", flashed).group(1)


def _chat(client, payload: str) -> str:
    """A whole conversation in the simulator, the payload in the first message; returns the ticket filed."""
    reply = None
    for text in (f"兰山区工地老板欠我们8个人三万五 {payload}", "张三", PHONE, "确认"):
        page = client.get("/demo/chat").get_data(as_text=True)
        message_id = re.search(r'name="message_id" value="([0-9a-f]{32})"', page).group(1)
        reply = client.post("/demo/chat", data={"csrf_token": csrf_token(page), "message_id": message_id,
                                                "text": text}, headers={"Accept": "application/json"}).get_json()
    return re.search(r"\d{12}", reply["reply"]).group(0)


def _other_department(admin, tickets) -> int:
    page = admin.get(f"/console/cases/{tickets['general_form']}").get_data(as_text=True)
    form = page[page.index("/actions/transfer"):]
    return int(re.search(r'<option value="(\d+)"', form).group(1))


class _Markup(HTMLParser):
    """What a browser would run from a page: inline scripts, event handlers, javascript: URLs, foreign elements."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._in_script = True
            src = dict(attrs).get("src") or ""
            if not src.startswith("/static/"):
                self.found.append(f"<script src={src!r}>")
        if tag in ("svg", "iframe", "object", "embed", "base") or (tag == "img" and dict(attrs).get("src") == "x"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name in URL_ATTRIBUTES and re.sub(r"[\s\x00-\x1f]", "", value or "").lower().startswith("javascript:"):
                self.found.append(f"{tag} {name}={value}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append("inline script")


def assert_inert_html(html: str, payload: str, where: str, shown: bool = True) -> None:
    """The page holds the payload only as text (and, when `shown`, does hold it), and nothing in it would run."""
    if any(ch in payload for ch in "<>\"'&"):
        assert payload not in html, f"{where}: the payload is in the page unescaped"
    if shown:
        assert str(escape(payload)) in html, f"{where}: the payload is not shown"
    parser = _Markup()
    parser.feed(html)
    assert parser.found == [], f"{where}: {parser.found}"


def pages(planted: Planted, app) -> dict[str, tuple[str, bool]]:
    """Every page that shows planted text: name -> (html, whether the payload must appear in it)."""
    admin = planted.admin
    out = {"queue and inbox": (admin.get("/console/?status=").get_data(as_text=True), True),
           "sites": (admin.get("/console/sites").get_data(as_text=True), True),
           "audit log": (admin.get("/console/audit").get_data(as_text=True), False),
           "simulator": (planted.chat.get("/demo/chat").get_data(as_text=True), True)}
    for entry, ticket in planted.tickets.items():
        out[f"case page ({entry})"] = (admin.get(f"/console/cases/{ticket}").get_data(as_text=True), True)
    worker = app.test_client()
    for entry in ("site_form", "general_form"):
        page = worker.get("/status").get_data(as_text=True)
        found = worker.post("/status", data={"csrf_token": csrf_token(page), "ticket_no": planted.tickets[entry],
                                             "phone_last4": PHONE[-4:]})
        out[f"status page ({entry})"] = (found.get_data(as_text=True), True)
    out["site form"] = (worker.get(f"/s/{planted.site.public_token}").get_data(as_text=True), True)
    return out


@pytest.fixture
def hostile_app(configured_app, settings):
    """Demo mode (for the chat simulator) with limits that a planting run's many posts stay under."""
    limits = replace(settings.ratelimit, submit_per_address="1000 per hour", submit_per_phone="1000 per day",
                     login_per_address="1000 per minute", status_per_address="1000 per minute")
    return configured_app(demo=True, ratelimit=limits)


@pytest.mark.parametrize("planting", PLANTINGS)
def test_planted_text_is_shown_as_text_everywhere(hostile_app, session, planting):
    planted = plant_everywhere(hostile_app, session, planting)
    session.expire_all()
    stored = session.scalars(select(Complaint).order_by(Complaint.id)).all()
    assert len(stored) == 4 and all(planting in (c.free_text or "") for c in stored)
    for where, (html, shown) in pages(planted, hostile_app).items():
        for payload in PAYLOADS:
            assert_inert_html(html, payload, where, shown)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_posters_print_planted_text_literally(app, session, payload):
    """A poster is pixels: the site's fields are drawn as the characters they are, nothing is interpreted."""
    admin = app.test_client()
    login(admin, make_accounts(session)["admin"])
    site = _import_site(admin, session, payload)
    settings = services(app).settings
    printed = "".join(layout_poster(poster_data(session, settings, site), poster_font(settings)).texts())
    compact = printed.replace(" ", "").replace("…", "")
    for value in (f"阳光城{payload}", f"北京路{payload}", f"建设{payload}", f"总包{payload}"):
        assert value.replace(" ", "") in compact, value
    for fmt, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
        response = app.test_client().get(f"/s/{site.public_token}/poster.{fmt}")
        assert response.status_code == 200 and response.data.startswith(magic)
