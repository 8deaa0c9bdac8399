"""A case's whole life: routed by the worker, handled step by step, confirmed by the worker, with the clocks
and the notices each step must leave behind."""
from __future__ import annotations

import io
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from handlers.cli.worker import start_background_worker
from handlers.runtime import services
from intake.case import cases
from intake.case.timers import PENDING
from intake.delivery.outbox import sms_destination
from intake.foundation.encryption import identity
from intake.foundation.models import Attachment, Complaint, Conversation, Event, EventKind, Status, Timer, utcnow
from tests.helpers import csrf_token, ctx, jpeg, new_case, outbox, routed, worker_pass


def open_clocks(session, complaint) -> set[str]:
    session.expire_all()
    clocks = session.scalars(select(Timer.clock).where(Timer.complaint_id == complaint.id, Timer.state == PENDING))
    return {c.split(":")[0] for c in clocks}


def test_the_worker_routes_a_new_case_and_tells_department_and_worker(app, session, settings, lanshan_site):
    complaint = new_case(session, settings, lanshan_site)
    assert open_clocks(session, complaint) == {"route"}
    report = worker_pass(app)
    assert report.fired == 1
    session.expire_all()
    complaint = session.get(Complaint, complaint.id)
    assert complaint.status == Status.ROUTED.value
    assert complaint.department.name == "兰山区住房和城乡建设局"
    assert open_clocks(session, complaint) == {"acknowledge", "contact", "accept", "reply"}
    (new,) = outbox(session, complaint, "new_case")
    assert new.destination == f"department:{complaint.department_id}"
    assert "阳光城三期" in new.payload["text"] and "3人" in new.payload["text"] and "1.2万元" in new.payload["text"]
    (receipt,) = outbox(session, complaint, "worker_received")
    assert (receipt.destination, receipt.phone) == (sms_destination("13912345678"), "13912345678")
    assert complaint.ticket_no in receipt.payload["text"] and "https://qingling.test/status" in receipt.payload["text"]
    assert worker_pass(app).fired == 0


def test_chat_workers_are_not_sent_a_second_receipt_and_hear_back_on_wechat(app, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site, channel="wechat", user="openid-1")
    assert outbox(session, complaint, "worker_received") == []
    cases.acknowledge(session, complaint, ctx(app), actor="staff:1")
    session.commit()
    (told,) = outbox(session, complaint, "worker_acknowledged")
    assert told.destination == "wechat:openid-1"
    assert told.payload["fallbacks"] == ["wechat-template:openid-1", sms_destination("13912345678")]
    assert told.phone == "13912345678"
    assert "兰山区住房和城乡建设局" in told.payload["text"]


def test_an_sms_opt_out_is_respected_for_notices(app, session, settings, lanshan_site):
    session.add(Conversation(channel="sms", user_id=identity("13912345678"), state="idle", draft={},
                             opted_out_at=utcnow(), version=1))
    session.commit()
    complaint = routed(app, session, settings, lanshan_site)
    assert outbox(session, complaint, "worker_received") == []
    assert outbox(session, complaint, "new_case") != []


def test_acknowledging_stops_its_clock_and_keeps_the_others(app, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    cases.acknowledge(session, complaint, ctx(app, timedelta(minutes=30)), actor="staff:1")
    session.commit()
    assert complaint.status == Status.ACKNOWLEDGED.value
    assert open_clocks(session, complaint) == {"contact", "accept", "reply"}


def test_a_recorded_contact_is_not_restarted_by_a_later_step(app, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    cases.acknowledge(session, complaint, ctx(app), actor="staff:1")
    cases.record_contact(session, complaint, ctx(app), actor="staff:1", note="电话联系了张三")
    assert "contact" not in open_clocks(session, complaint)
    cases.accept(session, complaint, ctx(app), actor="staff:1")
    session.commit()
    assert open_clocks(session, complaint) == {"reply"}
    with pytest.raises(cases.CaseError, match="联系情况"):
        cases.record_contact(session, complaint, ctx(app), actor="staff:1", note="  ")


def test_waiting_for_the_workers_material_pauses_the_clocks(app, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    cases.acknowledge(session, complaint, ctx(app), actor="staff:1")
    session.commit()
    before = session.scalar(select(Timer.due_at).where(Timer.complaint_id == complaint.id,
                                                       Timer.clock == "accept:overdue", Timer.state == PENDING))
    assert cases.wait_for_worker(session, complaint, ctx(app), actor="staff:1", needed="欠条照片") > 0
    session.commit()
    assert open_clocks(session, complaint) == set()
    (told,) = outbox(session, complaint, "worker_waiting")
    assert "欠条照片" in told.payload["text"]
    with pytest.raises(cases.CaseError, match="无需暂停"):
        cases.wait_for_worker(session, complaint, ctx(app), actor="staff:1", needed="考勤")
    cases.material_received(session, complaint, ctx(app, timedelta(days=14)), actor="staff:1")
    session.commit()
    after = session.scalar(select(Timer.due_at).where(Timer.complaint_id == complaint.id,
                                                      Timer.clock == "accept:overdue", Timer.state == PENDING))
    assert after > before
    with pytest.raises(cases.CaseError, match="没有暂停"):
        cases.material_received(session, complaint, ctx(app), actor="staff:1")


def test_a_misrouted_case_goes_back_to_the_dispatch_desk_within_two_working_days(app, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    cases.return_case(session, complaint, ctx(app, timedelta(hours=3)), actor="staff:1",
                      reason="不是住建领域，应由人社处理")
    session.commit()
    worker_pass(app, utcnow() + timedelta(hours=3))
    session.expire_all()
    complaint = session.get(Complaint, complaint.id)
    assert complaint.status == Status.ROUTED.value
    assert complaint.department.kind == "dispatch_desk"
    assert "不是住建领域" in complaint.events[-1].note
    late = routed(app, session, settings, lanshan_site, phone="13912345679")
    with pytest.raises(cases.CaseError, match="不能退回"):
        cases.return_case(session, late, ctx(app, timedelta(days=7)), actor="staff:1", reason="不归我们")
    session.rollback()
    assert session.get(Complaint, late.id).status == Status.ROUTED.value


def test_rejection_needs_a_reason_that_the_worker_is_told(app, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    cases.acknowledge(session, complaint, ctx(app), actor="staff:1")
    with pytest.raises(cases.CaseError, match="不予受理的理由"):
        cases.reject(session, complaint, ctx(app), actor="staff:1", reason="")
    cases.reject(session, complaint, ctx(app), actor="staff:1", reason="已超过仲裁时效，请走诉讼")
    session.commit()
    (told,) = outbox(session, complaint, "worker_rejected")
    assert "已超过仲裁时效" in told.payload["text"]
    assert open_clocks(session, complaint) == set()


def test_handling_resolving_and_the_workers_confirmation_close_the_case(app, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    cases.acknowledge(session, complaint, ctx(app), actor="staff:1")
    with pytest.raises(cases.CaseError, match="受理后"):
        cases.record_measures(session, complaint, ctx(app), actor="staff:1", measures=["ordered_to_pay"])
    cases.accept(session, complaint, ctx(app), actor="staff:1")
    with pytest.raises(cases.CaseError, match="处理措施"):
        cases.record_measures(session, complaint, ctx(app), actor="staff:1", measures=["magic"])
    cases.record_measures(session, complaint, ctx(app), actor="staff:1", measures=["ordered_to_pay"])
    assert complaint.status == Status.IN_PROGRESS.value
    with pytest.raises(cases.CaseError, match="负数"):
        cases.resolve(session, complaint, ctx(app), actor="staff:1", outcome="已支付", amount_recovered=-1,
                      workers_paid=3)
    cases.resolve(session, complaint, ctx(app), actor="staff:1", outcome="已责令支付全部工资",
                  amount_recovered=12000, workers_paid=3)
    session.commit()
    (asked,) = outbox(session, complaint, "worker_resolved")
    assert "工资到手了吗" in asked.payload["text"] and "已责令支付全部工资" in asked.payload["text"]
    cases.confirm_payment(session, complaint, ctx(app), paid=True, actor="worker:web")
    session.commit()
    assert complaint.status == Status.CLOSED.value and complaint.satisfied is True
    assert complaint.amount_recovered == 12000
    assert outbox(session, complaint, "worker_closed") != []
    with pytest.raises(cases.CaseError, match="已经销号结案"):
        cases.confirm_payment(session, complaint, ctx(app), paid=True, actor="worker:web")


def resolved_case(app, session, settings, site) -> Complaint:
    complaint = routed(app, session, settings, site)
    for step in (cases.acknowledge, cases.accept):
        step(session, complaint, ctx(app), actor="staff:1")
    cases.resolve(session, complaint, ctx(app), actor="staff:1", outcome="老板已付清", amount_recovered=12000,
                  workers_paid=3)
    session.commit()
    return complaint


def test_money_not_arrived_reopens_with_a_fresh_reply_clock(app, session, settings, lanshan_site):
    complaint = resolved_case(app, session, settings, lanshan_site)
    cases.confirm_payment(session, complaint, ctx(app), paid=False, actor="worker:web")
    session.commit()
    assert complaint.status == Status.REOPENED.value and complaint.satisfied is False
    assert open_clocks(session, complaint) == {"reply"}
    assert outbox(session, complaint, "worker_reopened") != []


def status_page(client, complaint, last4="5678"):
    token = csrf_token(client.get("/status").get_data(as_text=True))
    return client.post("/status", data={"csrf_token": token, "ticket_no": complaint.ticket_no, "phone_last4": last4})


def confirm_link(session, complaint) -> str:
    (asked,) = outbox(session, complaint, "worker_resolved")
    link = re.search(r"https://qingling\.test(/c/\S+?)确认", asked.payload["text"]).group(1)
    return link


def test_the_worker_confirms_from_the_link_in_the_resolved_notice(app, client, session, settings, lanshan_site):
    complaint = resolved_case(app, session, settings, lanshan_site)
    link = confirm_link(session, complaint)
    page = client.get(link).get_data(as_text=True)
    assert "工资到手了吗" in page and complaint.ticket_no in page
    response = client.post(link, data={"csrf_token": csrf_token(page), "paid": "yes"})
    assert "案件已结案" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Complaint, complaint.id).status == Status.CLOSED.value
    assert "工资到手了吗" not in client.get(link).get_data(as_text=True)


def test_ticket_and_phone_digits_show_the_case_but_cannot_close_it(app, client, session, settings, lanshan_site):
    complaint = resolved_case(app, session, settings, lanshan_site)
    page = status_page(client, complaint).get_data(as_text=True)
    assert "请打开短信或微信里的确认链接" in page and 'name="paid"' not in page


def test_forged_or_altered_links_and_odd_answers_change_nothing(app, client, session, settings, lanshan_site):
    complaint = resolved_case(app, session, settings, lanshan_site)
    link = confirm_link(session, complaint)
    for forged in ("/c/" + "A" * 40, link[:-3] + "xyz", "/c/1"):
        assert client.get(forged).status_code == 404
    page = client.get(link).get_data(as_text=True)
    response = client.post(link, data={"csrf_token": csrf_token(page), "paid": "maybe"})
    assert response.status_code == 200 and "工资到手了吗" in response.get_data(as_text=True)
    assert client.post(link, data={"paid": "yes"}).status_code == 400  # no CSRF token
    session.expire_all()
    assert session.get(Complaint, complaint.id).status == Status.RESOLVED.value


def test_wrong_phone_digits_lock_the_ticket_for_a_while(app, client, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    for _ in range(5):
        assert "没有找到这个编号" in status_page(client, complaint, last4="0000").get_data(as_text=True)
    assert "没有找到这个编号" in status_page(client, complaint, last4="5678").get_data(as_text=True)
    session.expire_all()
    locked = session.get(Complaint, complaint.id)
    locked.lookup_locked_until = utcnow() - timedelta(seconds=1)
    session.commit()
    assert "办理进度" in status_page(client, complaint, last4="5678").get_data(as_text=True)


def test_the_demo_worker_thread_routes_cases_while_the_app_serves(make_settings, session, lanshan_site):
    from handlers import create_app

    app = create_app(make_settings(demo=True))
    complaint = new_case(session, services(app).settings, lanshan_site)
    thread, stop = start_background_worker(app)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            session.expire_all()
            if session.get(Complaint, complaint.id).status == Status.ROUTED.value:
                break
            time.sleep(0.1)
        assert session.get(Complaint, complaint.id).status == Status.ROUTED.value
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()


def test_a_transfer_rearms_the_clocks_and_tells_the_new_department(app, session, settings, lanshan_site):
    from intake.registry.directory import department

    complaint = routed(app, session, settings, lanshan_site)
    cases.acknowledge(session, complaint, ctx(app), actor="staff:1")
    hrss = department(session, "371302", "hrss")
    cases.transfer(session, complaint, ctx(app), department=hrss, actor="supervisor:1", reason="属于劳动保障监察")
    session.commit()
    assert complaint.department_id == hrss.id and complaint.status == Status.ROUTED.value
    assert open_clocks(session, complaint) == {"acknowledge", "contact", "accept", "reply"}
    session.expire_all()
    versions = set(session.scalars(select(Timer.version).where(Timer.complaint_id == complaint.id,
                                                               Timer.state == PENDING)))
    assert versions == {session.get(Complaint, complaint.id).version}
    (told,) = outbox(session, complaint, "transferred")
    assert told.destination == f"department:{hrss.id}" and "属于劳动保障监察" in told.payload["text"]
    (worker,) = outbox(session, complaint, "worker_transferred")
    assert worker.destination.startswith("sms:") and f"已转给{hrss.name}办理" in worker.payload["text"]
    assert "属于劳动保障监察" not in worker.payload["text"]  # the internal reason stays with staff


def test_a_returned_case_keeps_its_legal_clocks_through_re_routing(app, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    accept_due = session.scalar(select(Timer.due_at).where(Timer.complaint_id == complaint.id,
                                                           Timer.clock == "accept:overdue", Timer.state == PENDING))
    cases.return_case(session, complaint, ctx(app), actor="staff:1", reason="不归住建管")
    session.commit()
    worker_pass(app)
    assert open_clocks(session, complaint) == {"acknowledge", "contact", "accept", "reply"}
    assert session.scalar(select(Timer.due_at).where(Timer.complaint_id == complaint.id,
                                                     Timer.clock == "accept:overdue", Timer.state == PENDING)) \
        == accept_due
    session.expire_all()
    desk_case = session.get(Complaint, complaint.id)
    with pytest.raises(cases.CaseError, match="派单中心不能退回"):
        cases.return_case(session, desk_case, ctx(app), actor="desk:1", reason="也不归我")


def test_a_resolved_case_reminds_the_department_to_follow_up(app, session, settings, lanshan_site):
    complaint = resolved_case(app, session, settings, lanshan_site)
    assert open_clocks(session, complaint) == {"follow_up", "confirm"}  # staff's 回访, the worker's reminder
    worker_pass(app, utcnow() + timedelta(days=30))
    reminders = [r for r in outbox(session, complaint) if r.payload.get("clock") == "follow_up"]
    assert reminders and "回访确认" in reminders[0].payload["text"]


def test_two_people_answering_one_case_at_once_cannot_both_win(app, session, settings, lanshan_site):
    from sqlalchemy.orm.exc import StaleDataError

    complaint = resolved_case(app, session, settings, lanshan_site)
    first, second = services(app).sessions(), services(app).sessions()
    try:
        mine = first.get(Complaint, complaint.id)
        if settings.database.url.startswith("postgresql"):
            theirs = second.get(Complaint, complaint.id)  # both read "resolved"
            cases.confirm_payment(first, mine, ctx(app), paid=True, actor="worker:web")
            first.commit()
            with pytest.raises(StaleDataError):
                cases.confirm_payment(second, theirs, ctx(app), paid=False, actor="staff:1")
                second.flush()
        else:  # SQLite: the second transaction cannot even read until the first has committed
            cases.confirm_payment(first, mine, ctx(app), paid=True, actor="worker:web")
            first.commit()
            with pytest.raises(cases.CaseError, match="已经销号结案"):
                cases.confirm_payment(second, second.get(Complaint, complaint.id), ctx(app), paid=False,
                                      actor="staff:1")
    finally:
        first.close()
        second.close()
    session.expire_all()
    assert session.get(Complaint, complaint.id).status == Status.CLOSED.value
    assert outbox(session, complaint, "worker_reopened") == []


def test_the_workers_timeline_shows_their_steps_and_not_the_offices_business(app, client, session, settings,
                                                                             lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    cases.acknowledge(session, complaint, ctx(app), actor="staff:1")
    cases.record_contact(session, complaint, ctx(app), actor="staff:1", note="打电话问了情况，张三说老板姓王")
    session.commit()
    worker_pass(app, utcnow() + timedelta(days=30))  # cards and escalations fire
    page = status_page(client, complaint).get_data(as_text=True)
    assert "负责部门已签收" in page and "负责部门已与您联系" in page
    assert "老板姓王" not in page and "超期" not in page and "督办" not in page


def test_tapping_paid_again_on_a_closed_case_says_it_is_closed(app, client, session, settings, lanshan_site):
    complaint = resolved_case(app, session, settings, lanshan_site)
    link = confirm_link(session, complaint)
    page = client.get(link).get_data(as_text=True)
    client.post(link, data={"csrf_token": csrf_token(page), "paid": "yes"})
    again = client.post(link, data={"csrf_token": csrf_token(page), "paid": "yes"}).get_data(as_text=True)
    assert "已经销号结案" in again and "还没有办结" not in again


def test_the_status_page_takes_a_message_and_photos_onto_the_case(app, client, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    url = f"/status/{complaint.ticket_no}/message"
    stranger = app.test_client()
    token = csrf_token(stranger.get("/status").get_data(as_text=True))
    assert stranger.post(url, data={"csrf_token": token, "text": "假的"}).status_code == 404
    page = status_page(client, complaint).get_data(as_text=True)
    assert "补充情况或照片" in page
    empty = client.post(url, data={"csrf_token": csrf_token(page), "text": " "}).get_data(as_text=True)
    assert "请写几句话，或者选择照片" in empty
    sent = client.post(url, data={"csrf_token": csrf_token(page), "text": "还差一万七",
                                  "photos": [(io.BytesIO(jpeg()), "iou.jpg")]}, content_type="multipart/form-data")
    assert "已转给负责部门" in sent.get_data(as_text=True)
    session.expire_all()
    [wrote] = session.scalars(select(Event).where(Event.complaint_id == complaint.id,
                                                  Event.kind == EventKind.WORKER_WROTE)).all()
    assert (wrote.note, wrote.actor, wrote.data) == ("还差一万七", "worker:web", {"photos": 1})
    [photo] = session.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id)).all()
    assert photo.size > 0 and photo.content_type == "image/jpeg"
    assert "收到您补充的内容" in sent.get_data(as_text=True)
