"""The Open311 GeoReport v2 facade, as an Open311 client uses it: form-encoded POST, JSON and XML answers."""
from __future__ import annotations

from xml.etree import ElementTree

from intake.case import cases
from intake.foundation.models import Complaint
from tests.helpers import complaint_count, ctx, make_client, worker_pass

FORM = {"service_code": "wage_arrears", "phone": "13912345678", "description": "老板欠我们三个人一万二",
        "address_id": "S-1", "last_name": "张", "first_name": "三", "attribute[workers]": "3",
        "attribute[amount]": "12000"}


def test_an_open311_client_files_and_follows_a_request_in_json(app, client, session, lanshan_site):
    key = make_client(session, "open311-app")
    services = client.get(f"/open311/v2/services.json?api_key={key}").get_json()
    assert [s["service_code"] for s in services] == ["wage_arrears"]
    created = client.post("/open311/v2/requests.json", data={**FORM, "api_key": key})
    assert created.status_code == 200, created.get_data(as_text=True)
    [answer] = created.get_json()
    ticket = answer["service_request_id"]
    worker_pass(app)
    [request] = client.get(f"/open311/v2/requests/{ticket}.json?api_key={key}").get_json()
    assert request["status"] == "open" and request["address_id"] == "S-1"
    assert request["agency_responsible"] == "兰山区住房和城乡建设局"
    complaint = session.query(Complaint).filter_by(ticket_no=ticket).one()
    assert complaint.workers == 3 and complaint.amount == 12000 and complaint.complainant.name == "张 三"
    assert request["expected_datetime"] == complaint.next_due_at.isoformat()
    listed = client.get(f"/open311/v2/requests.json?api_key={key}&status=open").get_json()
    assert [r["service_request_id"] for r in listed] == [ticket]
    for step in ("acknowledge", "accept"):
        getattr(cases, step)(session, complaint, ctx(app), actor="staff:x")
    cases.resolve(session, complaint, ctx(app), actor="staff:x", outcome="已付清", amount_recovered=12000,
                  workers_paid=3)
    cases.confirm_payment(session, complaint, ctx(app), paid=True, actor="worker:web")
    session.commit()
    [closed] = client.get(f"/open311/v2/requests.json?api_key={key}&service_request_id={ticket}").get_json()
    assert closed["status"] == "closed" and closed["expected_datetime"] == ""


def test_an_open311_client_files_and_follows_a_request_in_xml(app, client, session, lanshan_site):
    key = make_client(session, "open311-xml")
    created = client.post("/open311/v2/requests.xml", data={**FORM, "api_key": key})
    assert created.mimetype == "text/xml"
    ticket = ElementTree.fromstring(created.data).findtext("request/service_request_id")
    found = ElementTree.fromstring(client.get(f"/open311/v2/requests/{ticket}.xml?api_key={key}").data)
    assert found.tag == "service_requests" and found.findtext("request/status") == "open"
    assert found.findtext("request/service_code") == "wage_arrears"
    definition = ElementTree.fromstring(client.get(f"/open311/v2/services/wage_arrears.xml?api_key={key}").data)
    assert [a.findtext("code") for a in definition.iter("attribute")] == ["workers", "amount", "months"]


def test_open311_errors_follow_the_specification_and_change_nothing(client, session, lanshan_site):
    key = make_client(session, "open311-app")
    bad_key = client.get("/open311/v2/requests.xml?api_key=ql_x_y")
    assert bad_key.status_code == 401 and ElementTree.fromstring(bad_key.data).findtext("error/code") == "401"
    wrong = client.post("/open311/v2/requests.json", data={**FORM, "api_key": key, "phone": "110"})
    assert wrong.status_code == 400 and "phone" in wrong.get_json()[0]["description"]
    unknown_site = client.post("/open311/v2/requests.json", data={**FORM, "api_key": key, "address_id": "NOPE"})
    assert unknown_site.status_code == 422 and "site_code" in unknown_site.get_json()[0]["description"]
    other = client.post("/open311/v2/requests.json", data={**FORM, "api_key": key, "service_code": "potholes"})
    assert other.status_code == 400
    assert client.get(f"/open311/v2/requests/000000000000.json?api_key={key}").status_code == 404
    assert complaint_count(session) == 0
