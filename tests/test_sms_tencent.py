"""SMS through Tencent Cloud (腾讯云短信): the shared mainland scenarios (tests/helpers.py) in Tencent's
callback format, and the SendSms request as the official SDK makes it."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from handlers.channels.tencent_sms import make_sender
from intake.foundation.encryption import identity
from intake.foundation.models import InboundMessage
from intake.foundation.settings import TencentSettings
from tests.helpers import (  # noqa: F401  (the test_ functions: the shared scenarios, collected here)
    PHONE,
    FakeApi,
    Provider,
    Sent,
    count,
    mainland_sms,
    push,
    test_a_bad_item_in_a_batch_costs_only_itself,
    test_a_forged_or_missing_secret_is_refused_and_nothing_stored,
    test_a_number_no_retry_can_reach_is_dead_lettered_to_the_dispatch_desk,
    test_a_replayed_push_files_nothing_twice_and_answers_once,
    test_a_text_without_a_template_is_dead_lettered_not_dropped,
    test_a_whole_conversation_goes_out_as_templated_replies,
    test_an_outage_is_retried_until_the_reply_goes_out,
    test_delivery_reports_are_kept_item_by_item_and_never_go_back,
    test_doctor_names_what_a_half_configured_gateway_lacks,
    test_every_worker_is_asked_by_sms_and_answers_by_replying,
    test_malformed_and_huge_bodies_change_nothing,
    test_the_address_allow_list_is_applied,
    test_the_callbacks_are_absent_while_another_provider_is_chosen,
    test_the_sdk_sends_the_template_signed_with_the_accounts_key,
    test_the_worker_texts_on_after_the_receipt_and_staff_reply_in_one_thread,
    test_the_workers_phone_receives_every_notice_through_templates,
)

SENT_AT = 1_764_560_000


def _settings(url: str) -> dict:
    return {"sms": mainland_sms(provider="tencent", template_variables=("1", "2", "3")),
            "tencent": TencentSettings(secret_id="AKIDtest", secret_key="tencent-test-key", sdk_app_id="1400000001",
                                       sign_name="清零", endpoint=url)}


def _uplink(phone: str, text: str, n: int) -> dict:
    return {"extend": "", "mobile": phone, "nationcode": "86", "sign": "清零", "text": text, "time": SENT_AT + n}


def _report(sid: str, ok: bool) -> dict:
    return {"user_receive_time": "2026-12-01 10:00:05", "nationcode": "86", "mobile": PHONE,
            "report_status": "SUCCESS" if ok else "FAIL", "errmsg": "DELIVRD" if ok else "MN:0001",
            "description": "用户短信送达成功" if ok else "空号", "sid": sid}


def _status(serial: str, code: str = "Ok") -> dict:
    return {"Response": {"SendStatusSet": [{"SerialNo": serial, "PhoneNumber": f"+86{PHONE}", "Fee": 1,
                                            "SessionContext": "", "Code": code, "Message": "send success",
                                            "IsoCode": "CN"}], "RequestId": "req-1"}}


def _read_sent(request: dict) -> Sent:
    body = json.loads(request["body"])
    return Sent(body["PhoneNumberSet"][0].removeprefix("+86"), body["TemplateId"], body["TemplateParamSet"],
                body["SignName"])


TENCENT = Provider(
    name="tencent", settings=_settings, uplink=_uplink, report=_report, ack={"result": 0, "errmsg": "OK"},
    accepted=lambda serial: (200, _status(serial)), refused=lambda code: (200, _status("", code)),
    unreachable_number_code="InvalidParameterValue.IncorrectPhoneNumber", read_sent=_read_sent,
    make_sender=make_sender, signature="TC3-HMAC-SHA256 Credential=AKIDtest/")


@pytest.fixture
def provider():
    return TENCENT


def test_a_single_reply_object_is_taken_and_its_repeat_recognised(sms_client, session):
    """Tencent pushes one reply per request and gives it no id: number, time and text make one."""
    for item in (_uplink(PHONE, "你好", 1), _uplink(PHONE, "你好", 1), _uplink(PHONE, "欠我三万", 1)):
        response = push(sms_client, TENCENT, item)
        assert response.status_code == 200 and response.get_json() == TENCENT.ack
    assert count(session, InboundMessage, channel="sms") == 2
    assert {m.sender for m in session.scalars(select(InboundMessage))} == {identity(PHONE)}


def test_the_request_names_the_sms_application(api, make_settings):
    make_sender(make_settings(**_settings(api.url))).send("sms:13812345678", {"kind": "reply", "text": "你好"})
    assert api.requests[0]["headers"]["x-tc-action"] == "SendSms"
    assert json.loads(api.requests[0]["body"])["SmsSdkAppId"] == "1400000001"


@pytest.mark.parametrize("answer, permanent", [
    ((200, _status("", "LimitExceeded.PhoneNumberDailyLimit")), False),
    ((200, _status("", "FailedOperation.PhoneNumberInBlacklist")), True),
    ((200, {"Response": {"Error": {"Code": "FailedOperation.TemplateIncorrectOrUnapproved", "Message": "x"},
                         "RequestId": "r"}}), True),
    ((502, {"Response": {}}), False),
])
def test_tencent_errors_are_retried_or_final(api: FakeApi, make_settings, answer, permanent):
    api.answers = [answer]
    result = make_sender(make_settings(**_settings(api.url))).send("sms:13812345678", {"kind": "notice", "text": "x"})
    assert (result.ok, result.permanent) == (False, permanent)
