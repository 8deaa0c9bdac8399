"""Every response carries the security headers: each GET route of the app (found in its URL map, so a new route is
crawled without anyone remembering to add it), logged in and not, and the webhooks' answers, good and bad."""
from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers.security import CONTENT_SECURITY_POLICY
from intake.case.links import confirm_url, documents_token
from intake.foundation.models import Attachment, PaymentOrder, SiteWarning, StaffUser, utcnow
from intake.foundation.settings import RankingSettings, UnitSettings
from intake.people.access import Scope
from intake.units import inspections, rankings, tasks
from tests.helpers import (
    CAL,
    PNG,
    SMS_CALLBACK_SECRET,
    TWILIO,
    WECHAT,
    aliyun_settings,
    aliyun_uplink,
    login,
    make_accounts,
    routed,
    text_in,
)

STATIC = Path(__file__).resolve().parents[1] / "handlers" / "static"
DIRECTIVES = {"script-src 'self'", "style-src 'self'", "img-src 'self' data:", "frame-ancestors 'none'",
              "base-uri 'none'", "form-action 'self'", "object-src 'none'"}


def assert_secure(response, what: str) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    directives = {d.strip() for d in policy.split(";")}
    # An evidence photo has its own stricter policy: nothing at all may load, in a sandbox.
    stricter = "default-src 'none'" in directives and not any("-src" in d for d in directives - {"default-src 'none'"})
    assert stricter or DIRECTIVES <= directives, (what, policy)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), what


@pytest.fixture
def demo_app(configured_app):
    """Demo mode (the chat simulator) with WeChat and Twilio on, so every route of those blueprints exists."""
    return configured_app(demo=True, wechat=WECHAT, twilio=TWILIO)


def get_urls(app, values: dict[str, list]) -> dict[str, list[str]]:
    """Every GET rule built with each combination of candidate arguments that fits it; a rule with an argument
    nobody supplied has no URL, and the test says which."""
    urls: dict[str, list[str]] = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        names = sorted(rule.arguments)
        built = []
        for combo in itertools.product(*(values.get(n, []) for n in names)):
            try:
                built.append(rule.build(dict(zip(names, combo)), append_unknown=False)[1])
            except ValueError:  # e.g. "pdf" for the QR code's <any(png, svg)>
                continue
        urls[rule.rule] = sorted(set(built))
    return urls


def test_every_get_route_sends_the_security_headers(demo_app, session, settings, lanshan_site):
    complaint = routed(demo_app, session, settings, lanshan_site)
    photo = Attachment(complaint_id=complaint.id, filename="iou.png", content_type="image/png", size=len(PNG),
                       sha256="0" * 64, content=PNG)
    warning = SiteWarning(site_id=lanshan_site.id, indicator="no_roster_update", grade="general",
                          figures={"last_update": None})
    session.add_all([photo, warning])
    order = PaymentOrder(complaint=complaint, employer="某劳务公司", amount=5000, due_at=utcnow(),
                         compensation_percent=50, state="served", issued_by="staff:x")
    session.add(order)
    confirm_token = confirm_url(settings, complaint).rsplit("/", 1)[1]
    papers_token = documents_token(settings, complaint)
    session.commit()
    users = make_accounts(session)
    task, task_file = answered_task(session, users)
    inspection = an_inspection(session, users)
    ranking = a_ranking(session, users)
    values = {
        "filename": sorted(p.name for p in STATIC.iterdir()),
        "token": [lanshan_site.public_token, confirm_token, papers_token, "no-such-token"],
        "ticket_no": [complaint.ticket_no, "000000000000"],
        "fmt": ["png", "svg", "pdf", "json", "xml"],
        "attachment_id": [photo.id],
        "order_id": [order.id, 999999],
        "warning_id": [warning.id],
        "name": ["swagger-ui.css", "swagger-ui-bundle.js"],
        "service_code": ["wage_arrears", "potholes"],
        "service_request_id": [complaint.ticket_no, "000000000000"],
        "task_id": [task.id, 999999],
        "file_id": [task_file.id, 999999],
        "inspection_id": [inspection.id, 999999],
        "ranking_id": [ranking.id, 999999],
        "code": [lanshan_site.code, "no-such-site"],
        "job_id": [999999],
    }
    urls = get_urls(demo_app, values)
    assert all(urls.values()), [rule for rule, built in urls.items() if not built]
    assert "/s/<token>/poster.<any(png, pdf):fmt>" in urls and "/demo/chat" in urls and "/wechat" in urls

    statuses = {}
    for logged_in in (False, True):
        client = demo_app.test_client()
        if logged_in:
            login(client, users["admin"])
            with client.session_transaction() as cookie:
                cookie["receipts"] = [complaint.ticket_no]
        for url in itertools.chain.from_iterable(urls.values()):
            response = client.get(url)
            assert response.status_code < 500, (url, response.status_code)
            assert_secure(response, url)
            statuses[(logged_in, url)] = response.status_code
    # The crawl saw the real pages, not only log-in redirects and 404s.
    for url in ("/console/", f"/console/cases/{complaint.ticket_no}", "/console/audit", "/console/sites",
                f"/console/warnings/{warning.id}",
                f"/console/tasks/{task.id}", f"/console/tasks/files/{task_file.id}", "/console/countdown",
                f"/console/inspections/{inspection.id}", "/console/inspections/new", "/console/rankings",
                f"/console/rankings/{ranking.id}", f"/console/rankings/{ranking.id}.pdf",
                f"/s/{lanshan_site.public_token}/poster.pdf", f"/r/{complaint.ticket_no}", "/demo/chat", "/status"):
        assert statuses[(True, url)] == 200, url
    assert statuses[(False, "/console/")] == 302 and statuses[(False, "/s/no-such-token")] == 404


def answered_task(session, users: dict[str, str]):
    """A task from the city to 兰山区住建, answered with a file: its page and the file are crawled too."""
    def scope(key):
        return Scope.of(session.scalar(select(StaffUser).where(StaffUser.username == users[key])))
    now = utcnow()
    task = tasks.issue(session, scope("admin"), kind="ledger", title="报送台账", body="", due_at=now + timedelta(days=3),
                       department_ids=[scope("staff").department_id], county_codes=[], now=now, calendar=CAL,
                       settings=UnitSettings())
    part = tasks.answer(session, scope("staff"), task.id, "已报送", [tasks.Upload("台账.pdf", b"%PDF-1.4")], now)
    session.commit()
    return task, part.files[0]


def an_inspection(session, users: dict[str, str]):
    """An inspection of 兰山区 by the city with one item for the county: its page is crawled too."""
    admin = Scope.of(session.scalar(select(StaffUser).where(StaffUser.username == users["admin"])))
    now = utcnow()
    found = inspections.record(session, admin, inspected_on=now.astimezone(CAL.timezone).date(), county="371302",
                               department_id=None, site_code="", inspectors="市治欠办", summary="", now=now,
                               calendar=CAL, settings=UnitSettings(), items=[inspections.NewItem("台账未更新", "county:371302",
                                                                        (now + timedelta(days=7)).date())])
    session.commit()
    return found


def a_ranking(session, users: dict[str, str]):
    """November's departments list, published by the city: its page and PDF are crawled too."""
    admin = Scope.of(session.scalar(select(StaffUser).where(StaffUser.username == users["admin"])))
    found = rankings.publish(session, admin, "department", date(2026, 11, 1), date(2026, 11, 30), utcnow(),
                             "Asia/Shanghai", RankingSettings(), "hrss")
    session.commit()
    return found


def test_error_pages_and_posts_send_them_too(client):
    for response in (client.get("/no/such/page"), client.post("/status", data={}), client.put("/report")):
        assert_secure(response, response.request.path)


def test_the_policy_is_the_one_documented():
    assert CONTENT_SECURITY_POLICY == ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                       "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                                       "form-action 'self'; object-src 'none'")


def test_webhook_answers_send_them(demo_app):
    client = demo_app.test_client()
    assert_secure(client.post("/wechat", data=b"<xml/>"), "wechat unsigned")
    assert_secure(client.get("/wechat"), "wechat verify unsigned")
    good = text_in(client, "兰山区阳光城工地欠我们三万", "SM" + "1" * 32)
    assert good.status_code == 200
    assert_secure(good, "twilio signed")
    assert_secure(client.post("/sms/twilio", data={"Body": "x"}), "twilio unsigned")


def test_mainland_callbacks_send_them(configured_app):
    client = configured_app(**aliyun_settings("http://127.0.0.1:9")).test_client()
    good = client.post(f"/sms/aliyun/{SMS_CALLBACK_SECRET}", json=[aliyun_uplink("13812345678", "欠钱了", 1)])
    assert good.status_code == 200
    assert_secure(good, "aliyun uplink")
    assert_secure(client.post("/sms/aliyun/wrong-secret-0123456789", json=[]), "aliyun wrong secret")


def test_access_logs_never_show_a_key_given_as_a_parameter(app, caplog):
    import logging

    from handlers.security import RedactSecrets

    line = '"GET /open311/v2/requests.json?api_key=ql_abc_SECRET&status=open HTTP/1.1" %s %s'
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, line, ("200", "-"), None)
    assert RedactSecrets().filter(record)
    assert "SECRET" not in record.getMessage() and "api_key=***&status=open" in record.getMessage()
    gunicorn = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(r)s", ({"r": line},), None)
    RedactSecrets().filter(gunicorn)
    assert "SECRET" not in gunicorn.getMessage()
    assert any(isinstance(f, RedactSecrets) for f in logging.getLogger("werkzeug").filters)
