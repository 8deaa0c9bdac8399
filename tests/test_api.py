"""The JSON API for other systems: tokens, scopes like the console's, idempotent creates and clues, actions,
lists, and precise problem responses for bad input that change nothing."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from handlers.api.v1 import api
from handlers.cli import main
from intake.foundation.models import AuditEntry, Complaint, ExternalRef, Status
from intake.foundation.settings import ApiSettings
from intake.registry.directory import department
from tests.helpers import API_BODY, auth, complaint_count, make_client, routed, worker_pass


def post(client, token, body, **headers):
    return client.post("/api/v1/complaints", json=body, headers=auth(token, **headers))


def test_a_created_complaint_is_stored_routed_and_readable(app, client, session):
    token = make_client(session, "hotline")
    response = post(client, token, API_BODY)
    assert response.status_code == 201
    created = response.get_json()
    assert created["status"] == "received" and created["channel"] == "api"
    assert created["phone_masked"] == "139****5678" and "13912345678" not in response.get_data(as_text=True)
    assert response.headers["Location"] == f"/api/v1/complaints/{created['ticket_no']}"
    worker_pass(app)
    found = client.get(response.headers["Location"], headers=auth(token)).get_json()
    assert found["status"] == "routed" and found["department"]["name"] == "兰山区人力资源和社会保障局"
    assert [e["kind"] for e in found["events"]] == ["received", "routed"]
    assert found["events"][0]["actor"] == "worker:api"
    assert {d["clock"] for d in found["deadlines"]} >= {"acknowledge", "accept"}
    assert session.scalar(select(AuditEntry.username).where(AuditEntry.action == "intake")) == "api:hotline"


def test_a_retried_create_with_the_same_idempotency_key_returns_the_first_complaint(client, session):
    token = make_client(session, "hotline")
    first = post(client, token, API_BODY, **{"Idempotency-Key": "order-1"})
    again = post(client, token, API_BODY, **{"Idempotency-Key": "order-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["ticket_no"] == first.get_json()["ticket_no"]
    other = post(client, token, {**API_BODY, "amount": 1}, **{"Idempotency-Key": "order-1"})
    assert other.status_code == 422 and other.get_json()["type"].endswith("#problem-idempotency-mismatch")
    assert complaint_count(session) == 1
    other_client = make_client(session, "platform")
    assert post(client, other_client, API_BODY, **{"Idempotency-Key": "order-1"}).status_code == 201  # per client
    assert complaint_count(session) == 2


def test_the_same_external_id_twice_is_one_complaint(client, session):
    token = make_client(session, "hotline")
    clue = {**API_BODY, "source": {"system": "12345", "external_id": "GD-2026-0042"}}
    first = post(client, token, clue)
    again = post(client, make_client(session, "platform"), {**clue, "description": "重复推送的同一工单"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["ticket_no"] == first.get_json()["ticket_no"]
    assert again.get_json()["source"] == {"system": "12345", "external_id": "GD-2026-0042"}
    assert complaint_count(session) == 1 and session.scalar(select(func.count(ExternalRef.id))) == 1
    other = post(client, token, {**clue, "source": {"system": "national_platform", "external_id": "GD-2026-0042"}})
    assert other.status_code == 201 and complaint_count(session) == 2


def test_a_department_client_sees_only_its_cases_and_only_its_roles_actions(app, client, session, settings,
                                                                            lanshan_site):
    case = routed(app, session, settings, lanshan_site)
    housing = case.department
    other = department(session, "371311", "housing")
    staff = make_client(session, "dept-a", "staff", housing.id)
    head = make_client(session, "dept-a-head", "head", housing.id)
    stranger = make_client(session, "dept-b", "staff", other.id)
    url = f"/api/v1/complaints/{case.ticket_no}"

    assert client.get(url, headers=auth(stranger)).status_code == 404
    refused = client.post(f"{url}/actions", json={"action": "acknowledge"}, headers=auth(stranger))
    assert refused.status_code == 404 and refused.mimetype == "application/problem+json"
    listed = client.get("/api/v1/complaints", headers=auth(stranger)).get_json()
    assert listed["items"] == []

    assert client.get(url, headers=auth(staff)).status_code == 200
    forbidden = client.post(f"{url}/actions", json={"action": "return", "reason": "不归我们管"}, headers=auth(staff))
    assert forbidden.status_code == 403 and forbidden.get_json()["type"].endswith("#problem-forbidden")
    done = client.post(f"{url}/actions", json={"action": "acknowledge"}, headers=auth(staff))
    assert done.status_code == 200 and done.get_json()["status"] == "acknowledged"
    assert done.get_json()["events"][-1]["actor"] == "api:dept-a"
    again = client.post(f"{url}/actions", json={"action": "acknowledge"}, headers=auth(staff))
    assert again.status_code == 409 and again.get_json()["type"].endswith("#problem-case-rule")
    steps = [{"action": "contact", "note": "电话联系了工人"}, {"action": "accept"},
             {"action": "measures", "measures": ["ordered_to_pay"]},
             {"action": "resolve", "outcome": "已责令支付", "amount_recovered": 12000, "workers_paid": 3}]
    for step in steps:
        answer = client.post(f"{url}/actions", json=step, headers=auth(head))
        assert answer.status_code == 200, answer.get_json()
    session.expire_all()
    assert session.get(Complaint, case.id).status == Status.RESOLVED.value
    assert session.get(Complaint, case.id).amount_recovered == 12000


def test_bad_input_gets_a_precise_problem_and_changes_nothing(client, session):
    token = make_client(session, "hotline")
    cases = [
        (client.post("/api/v1/complaints", data="{\"phone\": ", headers=auth(token, **{
            "Content-Type": "application/json"})), 400, "malformed-json", None),
        (post(client, token, {**API_BODY, "workers": "8"}), 422, "validation", ("/workers", "int_type")),
        (post(client, token, {**API_BODY, "worker": 8}), 422, "validation", ("/worker", "extra_forbidden")),
        (post(client, token, {**API_BODY, "phone": "12345"}), 422, "validation", ("/phone", "phone_invalid")),
        (post(client, token, {**API_BODY, "source": {"system": "12345"}}), 422, "validation",
         ("/source/external_id", "missing")),
        (post(client, token, {**API_BODY, "county": "999999"}), 422, "validation", ("/county", "county_unknown")),
        (post(client, token, {**API_BODY, "description": "欠" * 70_000}), 413, "too-large", None),
        (client.post("/api/v1/complaints", data=json.dumps(API_BODY), headers=auth(token)), 415,
         "unsupported-media-type", None),
        (post(client, token, API_BODY, **{"Idempotency-Key": "含中文"}), 422, "validation", None),
        (post(client, "ql_nope_nope", API_BODY), 401, "unauthorized", None),
        (client.post("/api/v1/complaints", json=API_BODY), 401, "unauthorized", None),
    ]
    for response, status, kind, field in cases:
        problem = response.get_json()
        assert (response.status_code, response.mimetype) == (status, "application/problem+json"), problem
        assert problem["type"] == f"/api/v1/docs#problem-{kind}" and problem["status"] == status
        if field:
            assert (problem["errors"][0]["pointer"], problem["errors"][0]["code"]) == field, problem
    assert cases[-1][0].headers["WWW-Authenticate"].startswith("Bearer")
    assert complaint_count(session) == 0


def test_lists_filter_and_page_by_keyset(app, client, session, settings, lanshan_site):
    tickets = {routed(app, session, settings, lanshan_site, phone=f"1391234560{i}").ticket_no for i in range(3)}
    token = make_client(session, "city")
    first = client.get("/api/v1/complaints?limit=2", headers=auth(token)).get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get("/api/v1/complaints", query_string={"limit": 2, "cursor": first["next_cursor"]},
                      headers=auth(token)).get_json()
    assert {c["ticket_no"] for c in first["items"] + rest["items"]} == tickets and rest["next_cursor"] is None
    assert client.get("/api/v1/complaints?status=closed", headers=auth(token)).get_json()["items"] == []
    assert len(client.get("/api/v1/complaints?county=371302", headers=auth(token)).get_json()["items"]) == 3
    for cursor in ("nonsense", "-|3000000000", "2026-01-01T00:00:00|1"):  # too big an id; no time zone
        bad = client.get("/api/v1/complaints", query_string={"cursor": cursor}, headers=auth(token)).get_json()
        assert bad["errors"][0]["field"] == "cursor", cursor
    assert client.get("/api/v1/sites?cursor=3000000000", headers=auth(token)).status_code == 422
    assert client.get("/api/v1/complaints?overdue=yes", headers=auth(token)).status_code == 422
    assert client.get("/api/v1/complaints?colour=red", headers=auth(token)).get_json()["errors"][0]["code"] == \
        "extra_forbidden"
    sites = client.get("/api/v1/sites?county=371302", headers=auth(token)).get_json()["items"]
    assert [s["code"] for s in sites] == ["S-1"] and sites[0]["complaint_url"].endswith(lanshan_site.public_token)
    departments = client.get("/api/v1/departments?county=371302", headers=auth(token)).get_json()["items"]
    assert "兰山区住房和城乡建设局" in {d["name"] for d in departments}


def test_each_client_has_its_own_rate_limit(configured_app, session):
    app = configured_app(api=ApiSettings(rate_limit="2 per minute"))
    client = app.test_client()
    busy, quiet = make_client(session, "busy"), make_client(session, "quiet")
    statuses = [client.get("/api/v1/departments", headers=auth(busy)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.get("/api/v1/departments", headers=auth(busy))
    assert limited.mimetype == "application/problem+json" and limited.get_json()["type"].endswith("rate-limited")
    assert client.get("/api/v1/departments", headers=auth(quiet)).status_code == 200


def test_clients_commands_print_the_token_once_and_disable_it(app, client, session):
    runner = CliRunner()
    obj = ScriptInfo(create_app=lambda: app)
    created = runner.invoke(main, ["clients", "create", "county-tool", "--role", "county_supervisor",
                                   "--county", "兰山区"], obj=obj)
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert client.get("/api/v1/departments", headers=auth(token)).status_code == 200
    listed = runner.invoke(main, ["clients", "list"], obj=obj).output
    assert "county-tool" in listed and token not in listed
    refused = runner.invoke(main, ["clients", "create", "hooked", "--role", "admin", "--webhook",
                                   "http://example.cn/hook"], obj=obj)
    assert refused.exit_code != 0 and "https" in refused.output
    assert runner.invoke(main, ["clients", "disable", "county-tool"], obj=obj).exit_code == 0
    assert client.get("/api/v1/departments", headers=auth(token)).status_code == 401


def test_the_reference_page_and_document_need_no_token(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["schemas"]["ComplaintIn"]["additionalProperties"] is False
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "problem-idempotency-mismatch" in page and 'data-spec="openapi.json"' in page
    assert 'src="http' not in page and 'href="http' not in page  # nothing from a CDN
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page):
        assert client.get(asset).status_code == 200, asset
    assert "SwaggerUIBundle" in client.get("/api/v1/docs/renderer/swagger-ui-bundle.js").get_data(as_text=True)
    assert client.get("/api/v1/docs/renderer/index.html").status_code == 404


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/v1/nothing-here", 404), ("GET", "/api/v1/complaints/123/nope", 404), ("GET", "/api/v1", 404),
    ("PUT", "/api/v1/complaints", 405), ("DELETE", "/api/v1/complaints", 405),
    ("PATCH", "/api/v1/complaints/123456789012", 405)])
def test_unknown_routes_and_methods_answer_problems_too(client, method, path, status):
    answer = client.open(path, method=method)
    assert answer.status_code == status and answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["status"] == status and problem["type"].startswith("/api/v1/docs#problem-")
    if status == 405:
        assert "GET" in answer.headers["Allow"]


def test_integers_written_as_whole_floats_are_integers_and_lengths_are_in_characters(client, session, lanshan_site):
    token = make_client(session, "city")
    created = client.post("/api/v1/complaints", json={**API_BODY, "workers": 8.0, "amount": 35000.0},
                          headers=auth(token))
    assert created.status_code == 201, created.get_json()
    assert (created.get_json()["workers"], created.get_json()["amount"]) == (8, 35000)
    for bad, field in (({"workers": 8.5}, "workers"), ({"workers": "8"}, "workers"),
                       ({"description": "欠" * 2001}, "description"), ({"description": " \t\u0001 "}, "description")):
        refused = client.post("/api/v1/complaints", json={**API_BODY, **bad}, headers=auth(token))
        assert refused.status_code == 422
        (error,) = [e for e in refused.get_json()["errors"] if e["field"] == field]
        assert "item" not in error["detail"], error
    too_long = client.post("/api/v1/complaints", json={**API_BODY, "description": "欠" * 2001}, headers=auth(token))
    assert "2000 characters" in too_long.get_json()["errors"][0]["detail"]


def test_the_document_says_what_the_server_enforces():
    document = api.document()
    complaint = document["components"]["schemas"]["ComplaintIn"]["properties"]
    assert re.fullmatch(complaint["phone"]["pattern"], "13912345678")
    assert not re.fullmatch(complaint["phone"]["pattern"], "110")
    assert complaint["description"]["pattern"] and not re.search(complaint["description"]["pattern"], "  \t ")
    create = document["paths"]["/api/v1/complaints"]["post"]
    (key,) = [p for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["schema"]["pattern"].startswith("^") and key["schema"]["pattern"].endswith("$")
