"""A case's documents: the order to pay as a PDF from the case page, the dossier ZIP (PDF, evidence files, manifest
and SHA256SUMS matching the case's hash chain) for the staff who hold the case, and the worker's own copy through
a signed link that expires; every download audited."""
from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from intake.case.links import DOCUMENTS_MAX_AGE_DAYS, confirm_url
from intake.foundation.models import AuditEntry, Complaint, Event, EventKind, utcnow
from tests.helpers import (
    CAL,
    act,
    case_page,
    csrf_token,
    invoke,
    login,
    pdf_text,
    phone_photo,
    submit,
    ticket_of,
    worker_pass,
)


@pytest.fixture
def case(app, client, session, lanshan_site, users):
    """A web complaint with two photos to 兰山区住建局, accepted, an order to pay served and an internal note written."""
    ticket = ticket_of(submit(client, f"/s/{lanshan_site.public_token}", name="王五",
                              photos=[(phone_photo(), "欠条.jpg"), (phone_photo(kind="PNG"), "考勤.png")]))
    worker_pass(app)
    head = app.test_client()
    login(head, users["head"])
    for action in ("acknowledge", "accept"):
        act(head, ticket, action)
    due = (utcnow() + timedelta(days=10)).astimezone(CAL.timezone).date().isoformat()
    act(head, ticket, "order_payment", employer="临沂某建筑劳务公司", amount="12001", due=due, percent="60")
    act(head, ticket, "note", note="内部：老板电话已核实")
    session.rollback()
    return session.scalar(select(Complaint).where(Complaint.ticket_no == ticket)), head


def _audits(session, ticket, action) -> list[AuditEntry]:
    session.rollback()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.ticket_no == ticket,
                                                         AuditEntry.action == action)))


def _order_link(page: str) -> str:
    return re.search(r'href="(/[^"]+/orders/\d+\.pdf)"', page).group(1)


def test_the_order_to_pay_prints_from_the_case_page_and_is_audited(session, case):
    complaint, head = case
    link = _order_link(case_page(head, complaint.ticket_no).text)
    response = head.get(link)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"] and response.headers["Cache-Control"] == "no-store"
    text = pdf_text(response.data)
    for words in ("限期改正指令书", "兰山区住房和城乡建设局", "临沂某建筑劳务公司", "12,001 元", "60%", "王五",
                  complaint.ticket_no, "被责令单位签收"):
        assert words in text, words
    assert [a.detail["document"] for a in _audits(session, complaint.ticket_no, "document")] == ["order"]


def test_an_anonymous_workers_name_is_never_on_the_order(session, case):
    complaint, head = case
    complaint.anonymous = True
    session.commit()
    text = pdf_text(head.get(_order_link(case_page(head, complaint.ticket_no).text)).data)
    assert "王五" not in text and "匿名投诉" in text


def test_the_dossier_holds_every_file_with_the_hash_the_chain_sealed(app, session, case):
    complaint, head = case
    assert "导出案卷" in case_page(head, complaint.ticket_no).text
    response = head.get(f"/console/cases/{complaint.ticket_no}/dossier.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    manifest = json.loads(archive.read("manifest.json"))
    events = list(session.scalars(select(Event).where(Event.complaint_id == complaint.id)))
    sealed = {e.data["attachment_id"]: e.data["sha256"] for e in events if e.kind == EventKind.EVIDENCE_STORED}
    assert len(manifest["files"]) == len(sealed) == 2
    for entry in manifest["files"]:
        content = archive.read(entry["path"])
        assert hashlib.sha256(content).hexdigest() == entry["sha256"] == sealed[entry["attachment_id"]]
        assert entry["matches_chain"] and entry["size"] == len(content)
    assert manifest["chain_head"] == max(events, key=lambda e: e.chain_index).hash and manifest["chain_findings"] == []
    sums = dict(reversed(line.split("  ")) for line in archive.read("SHA256SUMS").decode().splitlines())
    originals = [f["original"]["path"] for f in manifest["files"]]
    assert sorted(sums) == sorted(["dossier.pdf", *(f["path"] for f in manifest["files"]), *originals])
    assert all(hashlib.sha256(archive.read(path)).hexdigest() == digest for path, digest in sums.items())
    text = pdf_text(archive.read("dossier.pdf"))
    for words in ("案件卷宗", "王五", "临沂某建筑劳务公司", "责令限期支付", "内部：老板电话已核实", "欠条.jpg",
                  sealed[manifest["files"][0]["attachment_id"]], "未发现不符"):
        assert words in text, words
    assert [a.detail["copy"] for a in _audits(session, complaint.ticket_no, "dossier_export")] == ["staff"]
    assert invoke(app, "evidence", "verify", "--case", complaint.ticket_no).exit_code == 0


def test_a_tampered_file_shows_in_the_dossier(session, case):
    complaint, head = case
    photo = complaint.attachments[0]
    photo.content = photo.content + b"\0"
    session.commit()
    archive = zipfile.ZipFile(io.BytesIO(head.get(f"/console/cases/{complaint.ticket_no}/dossier.zip").data))
    manifest = json.loads(archive.read("manifest.json"))
    changed = next(f for f in manifest["files"] if f["attachment_id"] == photo.id)
    assert not changed["matches_chain"] and changed["sealed_sha256"] != changed["sha256"]
    assert any("与存证链中登记的 SHA-256 不符" in finding for finding in manifest["chain_findings"])
    assert "与存证链中登记的SHA-256不符" in "".join(pdf_text(archive.read("dossier.pdf")).split())


@pytest.mark.parametrize(("who", "code"), [("far_staff", 404), ("far_county", 404)])
def test_staff_outside_the_case_get_no_documents(app, session, case, users, who, code):
    complaint, head = case
    link = _order_link(case_page(head, complaint.ticket_no).text)
    outsider = app.test_client()
    login(outsider, users[who])
    assert outsider.get(link).status_code == code
    assert outsider.get(f"/console/cases/{complaint.ticket_no}/dossier.zip").status_code == code
    assert _audits(session, complaint.ticket_no, "dossier_export") == []


def _status(client, ticket: str) -> str:
    token = csrf_token(client.get("/status").text)
    return client.post("/status", data={"csrf_token": token, "ticket_no": ticket, "phone_last4": "8000"}).text


def test_the_worker_downloads_their_own_documents_from_the_status_page(app, session, case):
    complaint, _head = case
    worker = app.test_client()
    page = _status(worker, complaint.ticket_no)
    dossier_link = re.search(r'href="(/d/[^"]+/dossier\.zip)"', page).group(1)
    response = worker.get(dossier_link)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    manifest = json.loads(archive.read("manifest.json"))
    assert len(manifest["files"]) == 2 and all(f["matches_chain"] for f in manifest["files"])
    text = pdf_text(archive.read("dossier.pdf"))
    assert "案件材料（本人留存）" in text and "收到您的反映" in text
    assert "内部：老板电话已核实" not in text and "ls_head" not in text
    order = worker.get(_order_link(page))
    assert "临沂某建筑劳务公司" in pdf_text(order.data)
    audits = _audits(session, complaint.ticket_no, "dossier_export") + _audits(session, complaint.ticket_no, "document")
    assert {(a.username, a.action) for a in audits} == {("worker:web", "dossier_export"), ("worker:web", "document")}


def test_a_forged_expired_or_confirm_link_opens_nothing(app, session, settings, case, monkeypatch):
    complaint, _head = case
    worker = app.test_client()
    link = re.search(r'href="(/d/[^"]+/dossier\.zip)"', _status(worker, complaint.ticket_no)).group(1)
    token = link.split("/")[2]
    stranger = app.test_client()
    assert stranger.get(link).status_code == 200  # the link is the key: anyone the worker gives it to can use it
    assert stranger.get(link.replace(token, token[:-2] + "xx")).status_code == 404
    session.rollback()
    confirm_token = confirm_url(settings, session.get(Complaint, complaint.id)).rsplit("/", 1)[1]
    assert stranger.get(f"/d/{confirm_token}/dossier.zip").status_code == 404
    later = utcnow().timestamp() + (DOCUMENTS_MAX_AGE_DAYS + 1) * 86400
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert stranger.get(link).status_code == 404
    assert len(_audits(session, complaint.ticket_no, "dossier_export")) == 1
