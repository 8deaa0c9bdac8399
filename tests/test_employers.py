"""The employer register: employers found through complaints in scope, credit codes checked, 失信 listings
recorded with basis, date and a 3-year default term, removed with a reason, audited, exported for 信用中国."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select

from intake.case.complaints import NewComplaint, create_complaint
from intake.foundation.models import AuditEntry, EmployerListing, utcnow
from intake.supervision.employers import CREDIT_HEADER, RegisterError, check_credit_code
from tests.helpers import CAL, csrf_token, login, make_accounts, worker_pass

EMPLOYER = "临沂恒达建筑劳务有限公司"
CODE = "91350100M000100Y43"


def complain(session, settings, site, phone, employer=EMPLOYER):
    create_complaint(session, NewComplaint(channel="web", phone=phone, name="李四", site_id=site.id, workers=4,
                                           amount=20000, free_text="包工头不给钱", claim={"employer": employer}))
    session.commit()


def post(client, path, page_path, **fields):
    token = csrf_token(client.get(page_path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **fields})


def test_credit_codes_are_checked():
    assert check_credit_code(" 91350100m000100y43 ") == CODE
    for bad in ("91350100M000100Y44", "123", "91350100M000100YI3"):
        try:
            check_credit_code(bad)
        except RegisterError:
            continue
        raise AssertionError(bad)


def test_a_supervisor_lists_and_removes_an_employer_and_the_credit_file_follows(app, client, session, settings,
                                                                               lanshan_site):
    complain(session, settings, lanshan_site, "13900001111")
    complain(session, settings, lanshan_site, "13900002222", employer="临沂恒达 建筑劳务有限公司")  # spacing differs only
    worker_pass(app)
    accounts = make_accounts(session)
    login(client, accounts["county"])
    page = client.get("/console/employers").get_data(as_text=True)
    assert EMPLOYER in page and "<td>2</td>" in page
    detail = f"/console/employers/view?name={EMPLOYER}"
    assert "阳光城三期" in client.get(detail).get_data(as_text=True)
    post(client, "/console/employers/code", detail, name=EMPLOYER, credit_code="91350100M000100Y44")
    assert "校验位不正确" in client.get(detail).get_data(as_text=True)
    post(client, "/console/employers/code", detail, name=EMPLOYER, credit_code=CODE)
    post(client, "/console/employers/list", detail, name=EMPLOYER, kind="blacklist", basis="")
    assert "请填写列入依据" in client.get(detail).get_data(as_text=True)
    post(client, "/console/employers/list", detail, name=EMPLOYER, kind="blacklist",
         basis="临人社监罚字〔2026〕12号", term_years="")
    listing = session.scalar(select(EmployerListing))
    assert (listing.state, listing.term_years, listing.authority) == ("draft", 3, "兰山区")
    assert "待审批" in client.get(detail).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(client.get("/console/employers/credit.csv").data.decode("utf-8-sig"))))
    assert rows == [list(CREDIT_HEADER)]  # a draft is in force nowhere
    post(client, "/console/employers/decide", detail, name=EMPLOYER, listing_id=str(listing.id), approve="yes")
    assert "列入申请须由另一位督办人员审批" in client.get(detail).get_data(as_text=True)
    city = app.test_client()
    login(city, accounts["admin"])
    post(city, "/console/employers/decide", detail, name=EMPLOYER, listing_id=str(listing.id), approve="yes",
         note="同意")
    session.expire_all()
    listing = session.get(EmployerListing, listing.id)
    today = utcnow().astimezone(CAL.timezone).date()
    assert (listing.state, listing.decided_by, listing.listed_on) == ("approved", "staff:city_admin", today)

    rows = list(csv.reader(io.StringIO(client.get("/console/employers/credit.csv").data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CREDIT_HEADER
    assert rows[1][:2] == [EMPLOYER, CODE] and rows[1][4:7] == [today.isoformat(), "3", listing.ends_on.isoformat()]
    assert listing.ends_on == today.replace(year=today.year + 3)
    assert "李四" not in str(rows) and "13900001111" not in str(rows)  # employers only, never a worker

    post(client, "/console/employers/unlist", detail, name=EMPLOYER, listing_id=str(listing.id), reason="已整改完毕")
    rows = list(csv.reader(io.StringIO(client.get("/console/employers/credit.csv").data.decode("utf-8-sig"))))
    assert rows == [list(CREDIT_HEADER)]
    session.expire_all()
    assert session.get(EmployerListing, listing.id).removed_reason == "已整改完毕"
    actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert {"employer_code", "employer_listing_drafted", "employer_listed", "employer_unlisted"} <= set(actions)
    assert actions.count("export") == 3


def test_others_cannot_see_or_list_an_employer_outside_their_scope(app, client, session, settings, lanshan_site):
    complain(session, settings, lanshan_site, "13900003333")
    worker_pass(app)
    accounts = make_accounts(session)
    login(client, accounts["far_county"])
    detail = f"/console/employers/view?name={EMPLOYER}"
    assert client.get(detail).status_code == 404
    assert EMPLOYER not in client.get("/console/employers").get_data(as_text=True)
    staff = app.test_client()
    login(staff, accounts["staff"])
    assert staff.get(detail).status_code == 200
    assert post(staff, "/console/employers/list", detail, name=EMPLOYER, kind="blacklist", basis="x").status_code == 403
    assert session.scalar(select(EmployerListing)) is None
    head = app.test_client()
    login(head, accounts["head"])
    post(head, "/console/employers/list", detail, name=EMPLOYER, kind="blacklist", basis="临人社监罚字〔2026〕13号")
    draft = session.scalar(select(EmployerListing))
    assert draft.state == "draft"
    assert post(head, "/console/employers/decide", detail, name=EMPLOYER, listing_id=str(draft.id),
                approve="yes").status_code == 403  # a head drafts; a supervisor approves
    county = app.test_client()
    login(county, accounts["county"])
    post(county, "/console/employers/decide", detail, name=EMPLOYER, listing_id=str(draft.id), approve="no")
    assert "不同意列入的，请填写理由" in county.get(detail).get_data(as_text=True)
    post(county, "/console/employers/decide", detail, name=EMPLOYER, listing_id=str(draft.id), approve="no",
         note="证据不足")
    session.expire_all()
    assert (session.get(EmployerListing, draft.id).state, session.get(EmployerListing, draft.id).decision_note) \
        == ("rejected", "证据不足")
