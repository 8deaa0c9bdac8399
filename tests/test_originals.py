"""Every stored file's original as it was received: sealed with the data key beside the cleaned copy, its SHA-256 and
time of receipt sealed into the case's hash chain, in both dossiers, downloadable (audited) by staff who hold the
case, re-keyed by rotation and dropped with the case's files by retention."""
from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from fpdf import FPDF
from PIL import ExifTags, Image
from sqlalchemy import select, text

from handlers import create_app
from intake.foundation.encryption import encrypt_bytes
from intake.foundation.models import Attachment, AuditEntry, CoHandling, Complaint, Event, EventKind, Status, utcnow
from intake.foundation.settings import PrivacySettings
from intake.registry.directory import department
from tests.helpers import (
    CST,
    act,
    case_page,
    csrf_token,
    invoke,
    login,
    make_site,
    pdf_text,
    phone_photo,
    submit,
    ticket_of,
    worker_pass,
)

PHOTO = phone_photo()  # with GPS, the camera's make and serial number, a comment
OLD_KEY, NEW_KEY = (Fernet.generate_key().decode() for _ in range(2))


def a_pdf() -> bytes:
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text="Interview record")
    return bytes(document.output())


def raw_originals(session) -> dict[int, bytes | None]:
    """Each attachment's original as the database holds it, read with plain SQL."""
    session.rollback()
    return {row.id: None if row.original is None else bytes(row.original)
            for row in session.execute(text("SELECT id, original FROM attachments"))}


def files_of(session, ticket: str) -> list[Attachment]:
    session.rollback()
    return list(session.scalars(select(Attachment).join(Complaint).where(Complaint.ticket_no == ticket)
                                .order_by(Attachment.id)))


def upload(client, ticket: str, content: bytes, filename: str, kind: str = "interview"):
    token = csrf_token(case_page(client, ticket).text)
    return client.post(f"/console/cases/{ticket}/documents", content_type="multipart/form-data",
                       data={"csrf_token": token, "kind": kind, "document": (io.BytesIO(content), filename)})


@pytest.fixture
def filed(app, client, session, lanshan_site, users):
    """A web complaint with a phone's photo, routed to 兰山区住建局, where staff add a PDF and a scan with EXIF."""
    ticket = ticket_of(submit(client, f"/s/{lanshan_site.public_token}", photos=[(PHOTO, "欠条.jpg")]))
    worker_pass(app)
    staff = app.test_client()
    login(staff, users["staff"])
    assert upload(staff, ticket, a_pdf(), "询问笔录.pdf").status_code == 303
    assert upload(staff, ticket, phone_photo(kind="PNG"), "盖章扫描件.png", "scan").status_code == 303
    return ticket, staff


def test_the_original_is_kept_sealed_beside_the_cleaned_copy_with_its_hash_and_time(session, filed):
    ticket, _staff = filed
    photo, pdf, scan = files_of(session, ticket)
    raw = raw_originals(session)
    assert raw[photo.id] and raw[photo.id] != PHOTO and b"HUAWEI" not in raw[photo.id]
    assert b"Exif" not in raw[scan.id] and raw[pdf.id] is None  # a PDF is stored as received: kept once
    assert photo.original == PHOTO and photo.original_sha256 == hashlib.sha256(PHOTO).hexdigest() != photo.sha256
    assert pdf.original is None and pdf.original_sha256 == pdf.sha256
    cleaned, original = (Image.open(io.BytesIO(b)).getexif() for b in (photo.content, photo.original))
    assert not cleaned and original[ExifTags.Base.Make] == "HUAWEI"
    assert original.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert b"HUAWEI" in scan.original and b"HUAWEI" not in scan.content
    assert all(utcnow() - timedelta(minutes=5) < f.received_at <= utcnow() for f in (photo, pdf, scan))
    sealed = {e.data["attachment_id"]: e.data for e in session.scalars(
        select(Event).where(Event.kind == EventKind.EVIDENCE_STORED))}
    assert {i: s["original_sha256"] for i, s in sealed.items()} == {f.id: f.original_sha256 for f in (photo, pdf, scan)}


def test_staff_who_see_the_case_download_an_original_audited_and_outsiders_do_not(app, session, users, filed):
    ticket, staff = filed
    photo, pdf, scan = files_of(session, ticket)
    page = case_page(staff, ticket).text
    assert f"/photos/{photo.id}/original" in page and f"/photos/{scan.id}/original" in page
    assert f"/photos/{pdf.id}/original" not in page  # the PDF is its own original
    response = staff.get(f"/console/cases/{ticket}/photos/{photo.id}/original")
    assert response.status_code == 200 and response.data == PHOTO
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    assert staff.get(f"/console/cases/{ticket}/photos/{photo.id}").data == photo.content  # shown: the cleaned copy
    for who in ("far_staff", "far_county"):
        outsider = app.test_client()
        login(outsider, users[who])
        assert outsider.get(f"/console/cases/{ticket}/photos/{photo.id}/original").status_code == 404
    complaint = session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
    session.add(CoHandling(complaint=complaint, department_id=department(session, "371302", "hrss").id))
    session.commit()
    co_handler = app.test_client()
    login(co_handler, users["other_staff"])  # reads the case as a co-handler, never takes the worker's files
    assert "原件" not in case_page(co_handler, ticket).text
    assert co_handler.get(f"/console/cases/{ticket}/photos/{photo.id}/original").status_code == 403
    for missing in (999999, 2 ** 31, 10 ** 20):  # beyond an INTEGER column: still a plain 404, for the copy too
        assert staff.get(f"/console/cases/{ticket}/photos/{missing}/original").status_code == 404
        assert staff.get(f"/console/cases/{ticket}/photos/{missing}").status_code == 404
    session.rollback()
    audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "original_download")).all()
    assert [(a.username, a.ticket_no, a.detail["attachment_id"]) for a in audits] == [(users["staff"], ticket, photo.id)]
    admin = app.test_client()
    login(admin, users["admin"])
    assert "下载证据原件" in admin.get("/console/audit", query_string={"action": "original_download"}).text


def test_the_worker_never_gets_an_original_from_a_page(app, session, filed):
    ticket, _staff = filed
    worker = app.test_client()
    token = csrf_token(worker.get("/status").text)
    page = worker.post("/status", data={"csrf_token": token, "ticket_no": ticket, "phone_last4": "8000"}).text
    assert f"受理编号 {ticket}" in page and "original" not in page
    photo = files_of(session, ticket)[0]
    assert worker.get(f"/console/cases/{ticket}/photos/{photo.id}/original").status_code in (302, 401)


def _dossier(client, link: str) -> tuple[zipfile.ZipFile, dict]:
    response = client.get(link)
    assert response.status_code == 200, response.status_code
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    return archive, json.loads(archive.read("manifest.json"))


def test_both_dossiers_hold_the_originals_beside_the_cleaned_copies(app, session, users, filed):
    ticket, _staff = filed
    head = app.test_client()
    login(head, users["head"])
    for action in ("acknowledge", "accept"):
        act(head, ticket, action)
    worker = app.test_client()
    token = csrf_token(worker.get("/status").text)
    status = worker.post("/status", data={"csrf_token": token, "ticket_no": ticket, "phone_last4": "8000"}).text
    worker_link = re.search(r'href="(/d/[^"]+/dossier\.zip)"', status).group(1)
    photo, pdf, scan = files_of(session, ticket)
    for client, link in ((head, f"/console/cases/{ticket}/dossier.zip"), (worker, worker_link)):
        archive, manifest = _dossier(client, link)
        entries = {f["attachment_id"]: f for f in manifest["files"]}
        assert sorted(entries) == [photo.id, pdf.id, scan.id]
        for attachment in (photo, scan):
            original = entries[attachment.id]["original"]
            assert original["path"] != entries[attachment.id]["path"] and not original["same_as_cleaned"]
            assert archive.read(original["path"]) == attachment.original
            assert original["sha256"] == original["sealed_sha256"] == attachment.original_sha256
            assert original["matches_chain"] and original["size"] == len(attachment.original)
        assert archive.read(entries[photo.id]["original"]["path"]) == PHOTO
        assert entries[pdf.id]["original"]["path"] == entries[pdf.id]["path"] == f"files/{pdf.id}.pdf"
        assert entries[pdf.id]["original"]["same_as_cleaned"]
        assert entries[photo.id]["received_at"] == photo.received_at.astimezone(CST).isoformat(timespec="seconds")
        sums = dict(reversed(line.split("  ")) for line in archive.read("SHA256SUMS").decode().splitlines())
        assert sums[entries[photo.id]["original"]["path"]] == photo.original_sha256
        assert all(hashlib.sha256(archive.read(path)).hexdigest() == digest for path, digest in sums.items())
        assert manifest["chain_findings"] == []


def _verify(app, ticket: str):
    return invoke(app, "evidence", "verify", "--case", ticket)


def test_verify_reports_a_tampered_original(app, session, users, filed):
    ticket, staff = filed
    photo, pdf, scan = files_of(session, ticket)
    assert _verify(app, ticket).exit_code == 0
    sealed = raw_originals(session)[photo.id]
    session.execute(text("UPDATE attachments SET original = :raw WHERE id = :id"),
                    {"raw": sealed[:-1] + bytes([sealed[-1] ^ 1]), "id": photo.id})  # one bit of the ciphertext
    session.commit()
    result = _verify(app, ticket)
    assert result.exit_code == 1
    assert f"文件 {photo.id}（欠条.jpg）的原件无法解密" in result.output
    refused = staff.get(f"/console/cases/{ticket}/photos/{photo.id}/original")
    assert refused.status_code == 303 and "原件无法解密" in staff.get(refused.headers["Location"]).text
    head = app.test_client()
    login(head, users["head"])
    archive, manifest = _dossier(head, f"/console/cases/{ticket}/dossier.zip")  # still exported, the loss told
    assert next(f for f in manifest["files"] if f["attachment_id"] == photo.id)["original"] is None
    assert any("原件无法解密" in finding for finding in manifest["chain_findings"])
    assert "原件：未附" in pdf_text(archive.read("dossier.pdf"))

    forged = PHOTO.replace(b"HUAWEI", b"XIAOMI")  # a new original under the right key, its hash rewritten too
    session.execute(text("UPDATE attachments SET original = :raw, original_sha256 = :digest WHERE id = :id"),
                    {"raw": encrypt_bytes(forged), "digest": hashlib.sha256(forged).hexdigest(), "id": photo.id})
    session.execute(text("UPDATE attachments SET original_sha256 = :digest WHERE id = :id"),
                    {"digest": "0" * 64, "id": pdf.id})
    session.execute(text("UPDATE attachments SET received_at = :at WHERE id = :id"),
                    {"at": scan.received_at - timedelta(days=3), "id": scan.id})
    session.commit()
    output = _verify(app, ticket).output
    assert f"文件 {photo.id}（欠条.jpg）的原件与存证链中登记的 SHA-256 不符" in output
    assert f"文件 {pdf.id}（询问笔录.pdf）的原件与记录的 SHA-256 不符" in output
    assert f"文件 {scan.id}（盖章扫描件.png）的原件的收到时间与存证链中登记的不符" in output


def test_rotation_reencrypts_originals_and_keeps_them_readable(make_settings, session):
    old = create_app(make_settings(privacy=PrivacySettings(data_key=OLD_KEY)))
    client = old.test_client()
    site = make_site(session)
    tickets = [ticket_of(submit(client, f"/s/{site.public_token}", photos=[(PHOTO, f"{n}.jpg")])) for n in range(3)]
    before = raw_originals(session)
    rotating = create_app(make_settings(privacy=PrivacySettings(data_key=NEW_KEY, previous_data_keys=(OLD_KEY,))))
    result = invoke(rotating, "keys", "rotate", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "本次重新加密 6 条" in result.output  # three complainants, three originals
    after = raw_originals(session)
    assert sorted(after) == sorted(before) and all(after[i] != before[i] for i in before)
    create_app(make_settings(privacy=PrivacySettings(data_key=NEW_KEY)))  # the old key is gone
    assert [f.original for t in tickets for f in files_of(session, t)] == [PHOTO] * 3
    assert _verify(rotating, tickets[0]).exit_code == 0


def test_retention_drops_the_originals_with_the_cases_files(app, session, filed):
    ticket, _staff = filed
    complaint = session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
    complaint.status = Status.CLOSED.value
    session.add(Event(complaint_id=complaint.id, kind="closed", from_status="resolved", to_status="closed",
                      actor="worker", created_at=utcnow() - timedelta(days=4 * 365)))
    session.commit()
    assert len(raw_originals(session)) == 3
    result = invoke(app, "retention")
    assert result.exit_code == 0, result.output
    assert raw_originals(session) == {} and files_of(session, ticket) == []
    assert _verify(app, ticket).exit_code == 0
