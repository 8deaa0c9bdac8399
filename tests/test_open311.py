"""The Open311 GeoReport v2 facade, as an Open311 client uses it: form-encoded POST, JSON and XML answers."""
from __future__ import annotations

import http.server
import io
import threading
from xml.etree import ElementTree

import pytest
from georeport import GeoReport
from PIL import Image

from handlers import create_app
from handlers.channels.wiring import build_fetchers
from handlers.runtime import services
from intake.case import cases
from intake.foundation.models import Complaint
from intake.foundation.settings import ApiSettings
from intake.runtime.worker import run_once
from tests.helpers import CAL, complaint_count, ctx, make_client, worker_pass

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
    assert closed["status"] == "closed" and closed["expected_datetime"] is None


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
    assert bad_key.status_code == 403 and ElementTree.fromstring(bad_key.data).findtext("error/code") == "403"
    no_key = client.post("/open311/v2/requests.json", data=FORM)
    assert no_key.status_code == 403 and no_key.get_json()[0]["code"] == 403
    wrong = client.post("/open311/v2/requests.json", data={**FORM, "api_key": key, "phone": "110"})
    assert wrong.status_code == 400 and "phone" in wrong.get_json()[0]["description"]
    unknown_site = client.post("/open311/v2/requests.json", data={**FORM, "api_key": key, "address_id": "NOPE"})
    assert unknown_site.status_code == 400 and "site_code" in unknown_site.get_json()[0]["description"]
    other = client.post("/open311/v2/requests.json", data={**FORM, "api_key": key, "service_code": "potholes"})
    assert other.status_code == 400
    assert client.get(f"/open311/v2/requests/000000000000.json?api_key={key}").status_code == 404
    assert complaint_count(session) == 0


def _routed(client, session, app, key, **extra) -> str:
    created = client.post("/open311/v2/requests.json", data={**FORM, "api_key": key, **extra})
    assert created.status_code == 200, created.get_data(as_text=True)
    worker_pass(app)
    return created.get_json()[0]["service_request_id"]


def test_reading_needs_no_key_and_shows_only_the_public_face(app, client, session, lanshan_site):
    key = make_client(session, "open311-app")
    ticket = _routed(client, session, app, key, description="老板欠我们三个人一万二，电话13912345678")
    assert client.get("/open311/v2/services.json").status_code == 200
    assert client.get("/open311/v2/services/wage_arrears.xml").status_code == 200
    for url in (f"/open311/v2/requests/{ticket}.json", "/open311/v2/requests.json",
                f"/open311/v2/requests.json?service_request_id={ticket},000000000000"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        [public] = answer.get_json()
        assert public["service_request_id"] == ticket and public["status"] == "open"
        assert public["agency_responsible"] == "兰山区住房和城乡建设局" and public["address"] == "兰山区"
        assert public["description"] is None and public["address_id"] is None
        assert "张" not in answer.get_data(as_text=True) and "1391234" not in answer.get_data(as_text=True)
    xml = ElementTree.fromstring(client.get(f"/open311/v2/requests/{ticket}.xml").data)
    assert xml.findtext("request/description") == "" and xml.findtext("request/status") == "open"
    [full] = client.get(f"/open311/v2/requests/{ticket}.json", headers={"X-Api-Key": key}).get_json()
    assert full["description"].startswith("老板欠我们三个人一万二") and full["address_id"] == "S-1"


def test_comma_separated_filters_as_the_specification_says(app, client, session, lanshan_site):
    key = make_client(session, "open311-app")
    first, second = _routed(client, session, app, key), _routed(client, session, app, key, phone="13912340000")
    listed = lambda query: {r["service_request_id"] for r in client.get(f"/open311/v2/requests.json?{query}").get_json()}  # noqa: E731
    assert listed(f"service_request_id={first},{second}") == {first, second}
    assert listed("status=open,closed") == {first, second} == listed("status=open")
    assert listed("status=closed") == set()
    assert listed("service_code=potholes,wage_arrears") == {first, second}
    assert listed("service_code=potholes") == set()
    assert client.get("/open311/v2/requests.json?status=pending").status_code == 400


def test_the_specifications_example_post_without_contact_is_a_clue_marked_so(app, client, session, lanshan_site):
    key = make_client(session, "open311-app")
    example = {"api_key": key, "service_code": "wage_arrears", "lat": "35.1041", "long": "118.3564",
               "address_string": "兰山区银雀山街道通达路工地", "description": "工地拖欠三个月工资" * 200,
               "media_url": "http://127.0.0.1:9/photo.jpg", "attribute[workers]": "3"}
    created = client.post("/open311/v2/requests.xml", data=example)
    assert created.status_code == 200, created.get_data(as_text=True)
    notice = ElementTree.fromstring(created.data).findtext("request/service_notice")
    assert "无联系方式" in notice
    ticket = ElementTree.fromstring(created.data).findtext("request/service_request_id")
    complaint = session.query(Complaint).filter_by(ticket_no=ticket).one()
    assert complaint.claim["location"] == {"lat": 35.1041, "long": 118.3564} and complaint.claim["no_contact"]
    assert complaint.complainant.phone is None and len(complaint.free_text) == 1800
    assert [a.source for a in complaint.attachments] == ["url:http://127.0.0.1:9/photo.jpg"]
    [full] = client.get(f"/open311/v2/requests/{ticket}.json?api_key={key}").get_json()
    assert (full["lat"], full["long"], full["service_notice"]) == (35.1041, 118.3564, "无联系方式")
    assert full["media_url"] == "http://127.0.0.1:9/photo.jpg" and full["address"].endswith("通达路工地")
    too_long = client.post("/open311/v2/requests.json", data={**example, "description": "欠" * 4001})
    assert too_long.status_code == 400 and "description" in too_long.get_json()[0]["description"]
    for field, value in (("lat", "north"), ("lat", "91"), ("media_url", "file:///etc/passwd"),
                         ("email", "not-an-address")):
        bad = client.post("/open311/v2/requests.json", data={**example, field: value})
        assert bad.status_code == 400 and field in bad.get_json()[0]["description"], (field, bad.get_json())


def test_every_error_under_open311_is_an_open311_error_in_the_asked_format(client, session):
    for method, url, status in (("GET", "/open311/v2/services/potholes.json", 404),
                                ("GET", "/open311/v2/requests/999999999999.xml", 404),
                                ("GET", "/open311/v2/services.html", 404), ("GET", "/open311/v2/services", 404),
                                ("GET", "/open311/v2/nothing-here.xml", 404),
                                ("PUT", "/open311/v2/requests.json", 405), ("DELETE", "/open311/v2/requests.xml", 405)):
        answer = client.open(url, method=method)
        assert answer.status_code == status, (method, url)
        if url.endswith(".xml"):
            assert answer.mimetype == "text/xml"
            assert ElementTree.fromstring(answer.data).findtext("error/code") == str(status)
        else:
            assert answer.mimetype == "application/json" and answer.get_json()[0]["code"] == status, url
        if status == 405:
            assert "GET" in answer.headers["Allow"]


def test_the_discovery_document_names_the_endpoint_and_its_formats(client):
    found = client.get("/open311/discovery.json").get_json()
    (endpoint,) = found["endpoints"]
    assert endpoint["url"].endswith("/open311/v2") and endpoint["specification"].endswith("GeoReport_v2")
    assert set(endpoint["formats"]) == {"application/json", "text/xml"} and found["changeset"]
    xml = ElementTree.fromstring(client.get("/open311/v2/discovery.xml").data)
    assert [f.text for f in xml.iter("format")] == ["application/json", "text/xml"]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 40)).save(out, "PNG")
    return out.getvalue()


PHOTO = _png()


class _Photo(http.server.BaseHTTPRequestHandler):
    """A web server somewhere holding the photo a client system named."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(PHOTO)

    def log_message(self, *args):
        pass


def test_a_media_url_is_fetched_by_the_worker_as_evidence(app, session, lanshan_site, make_settings):
    key = make_client(session, "open311-app")
    settings = make_settings(api=ApiSettings(media_fetch_private_hosts=True))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Photo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/p.png"
    try:
        created = create_app(settings).test_client().post("/open311/v2/requests.json",
                                                          data={**FORM, "api_key": key, "media_url": url})
        ticket = created.get_json()[0]["service_request_id"]
        run_once(services(app).sessions, {}, CAL, settings, fetchers=build_fetchers(settings))
    finally:
        server.shutdown()
        server.server_close()
    session.expire_all()
    (photo,) = session.query(Complaint).filter_by(ticket_no=ticket).one().attachments
    assert photo.size > 0 and photo.content_type == "image/png", photo.fetch_error
    refused = build_fetchers(make_settings())["url"].fetch(f"url:{url}")
    assert not refused.ok and refused.permanent and "private or local" in refused.error


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_the_georeport_client_from_pypi_reads_everything_unchanged(app, server, client, session, lanshan_site,
                                                                   output_format):
    key = make_client(session, "open311-app")
    ticket = _routed(client, session, app, key)
    reader = GeoReport(f"{server}/open311/v2", output_format=output_format)
    services_found = reader.get_service_list()
    service = services_found if isinstance(services_found, dict) else services_found[0]  # xmltodict: one is a dict
    assert service["service_code"] == "wage_arrears" and service["service_name"] == "欠薪投诉"
    definition = reader.get_service_definition("wage_arrears")
    assert definition["service_code"] == "wage_arrears"
    listed = reader.get_service_requests(status="open")
    listed = [listed] if isinstance(listed, dict) else listed
    assert [r["service_request_id"] for r in listed] == [ticket]
    one = reader.get_service_request(ticket)
    assert one["service_request_id"] == ticket and one["status"] == "open"
    assert one["agency_responsible"] == "兰山区住房和城乡建设局" and not one["description"]
