"""Event kinds are EventKind members wherever the code writes or compares them, and old rows still read; the
dialogue's draft is typed yet stored as the same JSON, so conversations stored before still carry on."""
from __future__ import annotations

import ast
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.case import cases
from intake.case.complaints import NewComplaint, create_complaint
from intake.conversation.dialogue import handle_message
from intake.conversation.draft import Draft, Figure, sealed_mapped
from intake.foundation import encryption
from intake.foundation.models import Complaint, Conversation, Event, EventKind, Status, utcnow
from intake.foundation.texts import EVENT_LABELS, EVENT_TEXT, event_text
from intake.foundation.transitions import record, transition
from tests.helpers import CAL

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- the enum


def test_the_status_kinds_are_the_status_values():
    for status in Status:
        assert EventKind[status.name] == status.value == status
        assert EventKind(status.value) is EventKind[status.name]


def test_kinds_are_stored_as_their_plain_strings():
    assert str(EventKind.CLOCK_OVERDUE) == f"{EventKind.CLOCK_OVERDUE}" == "clock_overdue"
    assert {"contacted": 1}[EventKind.CONTACTED] == 1 and {EventKind.CONTACTED: 1}["contacted"] == 1
    assert len({k.value for k in EventKind}) == len(EventKind) and all(len(k.value) <= 40 for k in EventKind)


def test_a_typo_in_a_kind_fails_loudly(session):
    with pytest.raises(AttributeError):
        EventKind.CONTACTD
    complaint = _new_case(session)
    with pytest.raises(ValueError):
        record(session, complaint, "contaced", actor="staff:1")
    with pytest.raises(ValueError):
        transition(session, complaint, Status.ROUTED, actor="staff:1", kind="transfered")
    assert session.scalars(select(Event.kind).where(Event.complaint_id == complaint.id)).all() == ["received"]


def test_labels_are_keyed_by_event_kind():
    assert all(type(k) is EventKind for k in EVENT_TEXT)
    assert all(type(k) is EventKind for k in EVENT_LABELS)
    # 立案 is written as investigation_opened, never as the bare status; collective_flagged shows as it is.
    assert set(EventKind) - set(EVENT_LABELS) == {EventKind.INVESTIGATING, EventKind.COLLECTIVE_FLAGGED}


def _bare_kinds(path: Path) -> list[str]:
    """Places that write or compare an event kind as a string literal instead of an EventKind member (the direct
    forms: record, transition, Event and Rung arguments, comparisons with Event.kind, event.kind or a rung)."""
    found = []

    def literal(node) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str)

    def is_event_kind(node) -> bool:  # Event.kind (the column), event.kind, e.kind, rung.event_kind
        return isinstance(node, ast.Attribute) and (
            node.attr == "event_kind" or node.attr == "kind" and isinstance(node.value, ast.Name)
            and node.value.id in ("Event", "event", "e"))

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "record" and len(node.args) >= 3 and literal(node.args[2]):
                found.append(f"{path.name}:{node.lineno} record(..., {node.args[2].value!r})")
            if name in ("transition", "_move", "Event", "Rung") and any(
                    k.arg in ("kind", "event_kind") and literal(k.value) for k in node.keywords):
                found.append(f"{path.name}:{node.lineno} {name}(kind=...)")
            if name == "Rung" and node.args and literal(node.args[0]):
                found.append(f"{path.name}:{node.lineno} Rung({node.args[0].value!r}, ...)")
            if name == "in_" and is_event_kind(node.func.value) and node.args and any(
                    literal(e) for e in getattr(node.args[0], "elts", [])):
                found.append(f"{path.name}:{node.lineno} .kind.in_(literals)")
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(is_event_kind(s) for s in sides) and any(literal(s) for s in sides):
                found.append(f"{path.name}:{node.lineno} kind compared with a literal")
    return found


def test_no_kind_is_written_or_compared_as_a_bare_string():
    files = sorted((ROOT / "intake").rglob("*.py")) + sorted((ROOT / "handlers").rglob("*.py"))
    assert [hit for path in files for hit in _bare_kinds(path)] == []


# ---------------------------------------------------------------- events on a real timeline


def _new_case(session, site=None) -> Complaint:
    complaint, _ = create_complaint(session, NewComplaint(
        channel="web", channel_user_id=None, phone="13912345678", name="张三", site_id=site.id if site else None,
        workers=3, amount=12000, free_text="老板欠我们三个人一万二"))
    session.commit()
    return complaint


def test_a_case_life_writes_only_event_kinds(session, settings, lanshan_site):
    ctx = cases.CaseContext(settings, CAL, utcnow())
    complaint = _new_case(session, lanshan_site)
    cases.route(session, complaint, ctx)
    cases.acknowledge(session, complaint, ctx, actor="staff:1")
    cases.record_contact(session, complaint, ctx, actor="staff:1", note="已电话联系")
    cases.accept(session, complaint, ctx, actor="staff:1")
    cases.wait_for_worker(session, complaint, ctx, actor="staff:1", needed="欠条")
    cases.material_received(session, complaint, ctx, actor="staff:1")
    cases.request_approval(session, complaint, ctx, actor="staff:1", kind="extension", reason="需调取记录",
                           clock="reply", days=5)
    cases.decide_approval(session, complaint, ctx, actor="staff:head", kind="extension", approve=True)
    cases.record_measures(session, complaint, ctx, actor="staff:1", measures=["ordered_to_pay"])
    line = cases.add_claim_line(session, complaint, actor="staff:1", worker_name="李四", amount_claimed=4000)
    cases.record_payment(session, complaint, ctx, actor="staff:1", line_id=line.id, amount_paid=4000)
    cases.supervise(session, complaint, ctx, actor="staff:boss", due=ctx.now + timedelta(days=3), reason="重点")
    cases.resolve(session, complaint, ctx, actor="staff:1", outcome="已支付", amount_recovered=4000, workers_paid=1)
    cases.confirm_payment(session, complaint, ctx, paid=False, actor="worker")
    session.commit()
    kinds = session.scalars(select(Event.kind).where(Event.complaint_id == complaint.id).order_by(Event.id)).all()
    assert kinds == [
        "received", "routed", "acknowledged", "contacted", "accepted", "clocks_paused", "clocks_resumed",
        "approval_requested", "approval_decided", "clock_extended", "measures", "claim_line_added",
        "payment_recorded", "supervised", "resolved", "reopened"]
    assert all(EventKind(kind) for kind in kinds)


def test_an_old_row_with_a_kind_no_longer_written_still_reads(session):
    complaint = _new_case(session)
    session.add(Event(complaint_id=complaint.id, kind="route", from_status="received", to_status="routed",
                      actor="system:router", data={}))
    session.commit()
    session.expire_all()
    old = session.scalar(select(Event).where(Event.kind == "route"))
    assert old.kind == "route" and "route" not in set(EventKind)
    assert event_text(old) == "已派给负责部门，等待部门签收"
    assert EVENT_LABELS.get(old.kind, old.kind) == "route"


# ---------------------------------------------------------------- the dialogue's draft

# A draft as the dialogue stored it before it was typed, with every key it writes: explicit nulls and falses
# included, which must come back exactly as they were.
OLD_DRAFT = {
    "asking": "phone", "site_id": None, "county_code": "371302", "site_score": None,
    "amount": {"value": 35000, "approximate": False}, "amount_per_person": {"value": 4000, "approximate": True},
    "workers": {"value": 8, "approximate": False}, "months": {"value": 3, "approximate": False},
    "period": "5月到7月", "employer": "老板", "name": None, "anonymous": True, "amount_unknown": True,
    "risk_flags": ["petition_media"], "risk_terms": {"petition_media": ["上访"]},
    "texts": ["兰山区，老板欠我们8个人三万五", "匿名"], "truncated": True,
    "photos": [{"filename": "iou.jpg", "content_type": "image/jpeg", "source": None, "content": "AAEC"}],
    "lookup": {"ticket": "250101123456", "back": "collecting"},
    "resume": {"state": "collecting", "pending": "我叫张三"}, "last_ticket": "250101000001",
}


def test_an_old_shaped_draft_loads_typed_and_goes_back_the_same(app):
    draft = Draft.from_json(sealed_mapped(OLD_DRAFT, encryption.encrypt))
    assert draft.workers == Figure(value=8, approximate=False) and draft.amount_per_person.approximate
    assert (draft.asking, draft.name, draft.anonymous, draft.site_id) == ("phone", None, True, None)
    assert draft.photos[0].content == "AAEC" and draft.lookup.back == "collecting"
    assert draft.resume.pending == "我叫张三" and draft.texts[1] == "匿名"
    stored = draft.to_json()
    assert "我叫张三" not in str(stored) and sealed_mapped(stored, encryption.decrypt) == OLD_DRAFT
    assert Draft.from_json({}).to_json() == {} and Draft.from_json(None).to_json() == {}
    assert Draft.from_json({"last_ticket": "250101000001"}).to_json() == {"last_ticket": "250101000001"}


def test_a_draft_keeps_unset_fields_out_and_taken_fields_leave():
    draft = Draft.from_json({"asking": "name", "texts": ["你好"]})
    draft.name, draft.anonymous = None, True
    assert draft.to_json() == {"asking": "name", "texts": ["你好"], "name": None, "anonymous": True}
    assert draft.take("asking") == "name" and draft.asking is None
    assert draft.to_json() == {"texts": ["你好"], "name": None, "anonymous": True}
    assert draft.told() == {"name": None, "anonymous": True}


def test_loading_a_draft_leaves_the_stored_json_alone():
    stored = {"texts": ["一"], "risk_terms": {"wage": ["欠薪"]}}
    draft = Draft.from_json(stored)
    draft.texts.append("二")
    draft.risk_terms["wage"].append("工资")
    assert stored == {"texts": ["一"], "risk_terms": {"wage": ["欠薪"]}}


def _stored_conversation(session, state: str, draft: dict, user: str, at: datetime) -> None:
    session.add(Conversation(channel="wechat", user_id=user, state=state, draft=draft, version=3,
                             created_at=at, updated_at=at))
    session.commit()


def test_a_conversation_stored_with_an_old_draft_carries_on_to_a_complaint(session, settings, chat_sites):
    at = datetime(2025, 3, 3, 1, 0, tzinfo=timezone.utc)
    old = {"asking": "phone", "county_code": "371302", "site_id": chat_sites["yg"].id, "site_score": 100.0,
           "amount": {"value": 35000, "approximate": False}, "workers": {"value": 8, "approximate": False},
           "employer": "老板", "name": "张三", "anonymous": False, "texts": ["兰山区阳光城工地，老板欠我们8个人三万五，我叫张三"]}
    _stored_conversation(session, "collecting", old, "openid-old", at)
    reply = handle_message(session, settings, "wechat", "openid-old", "13812345678", now=at + timedelta(minutes=1))
    session.commit()
    assert reply.text == ("请核对：兰山区阳光城工地，8人，欠35000元，姓名张三，电话138****5678。"
                          "回复“确认”提交，回复“修改”重填")
    conversation = session.scalar(select(Conversation).where(Conversation.user_id == "openid-old"))
    assert conversation.state == "confirm"
    assert "13812345678" not in str(conversation.draft)  # the number only encrypted
    assert sealed_mapped(conversation.draft, encryption.decrypt) == {
        **{k: v for k, v in old.items() if k != "asking"}, "phone": "13812345678",
        "texts": [*old["texts"], "138****5678"]}
    reply = handle_message(session, settings, "wechat", "openid-old", "确认", now=at + timedelta(minutes=2))
    session.commit()
    assert reply.complaint_created
    complaint = session.scalar(select(Complaint).where(Complaint.ticket_no == reply.ticket_no))
    assert (complaint.workers, complaint.amount, complaint.site_id, complaint.complainant.name) == \
        (8, 35000, chat_sites["yg"].id, "张三")
    session.expire_all()
    assert session.get(Conversation, conversation.id).draft == {"last_ticket": reply.ticket_no}


def test_an_old_status_look_up_waiting_for_the_last_four_digits_goes_back_where_it_was(session, settings, chat_sites):
    at = datetime(2025, 3, 3, 1, 0, tzinfo=timezone.utc)
    _stored_conversation(session, "last4", {"lookup": {"ticket": "250101123456", "back": "idle"}}, "openid-l4", at)
    reply = handle_message(session, settings, "wechat", "openid-l4", "1234", now=at + timedelta(minutes=1))
    session.commit()
    assert reply.text == "没有查到，请核对编号和手机号。"
    session.expire_all()
    conversation = session.scalar(select(Conversation).where(Conversation.user_id == "openid-l4"))
    assert (conversation.state, conversation.draft) == ("idle", {})
