"""SMS through Aliyun (阿里云短信): the shared mainland scenarios (tests/helpers.py) in Aliyun's push
format, and the SendSms request as the official SDK makes it."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from handlers.channels.aliyun_sms import make_sender
from tests.helpers import (  # noqa: F401  (the test_ functions: the shared scenarios, collected here)
    ALIYUN_VARIABLES,
    PHONE,
    FakeApi,
    Provider,
    Sent,
    aliyun_settings,
    aliyun_uplink,
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


def _report(biz_id: str, ok: bool) -> dict:
    return {"phone_number": PHONE, "send_time": "2026-12-01 10:00:00", "report_time": "2026-12-01 10:00:05",
            "success": ok, "err_code": "DELIVERED" if ok else "MK:0001", "err_msg": "用户接收成功" if ok else "停机",
            "sms_size": "1", "biz_id": biz_id, "out_id": ""}


def _read_sent(request: dict) -> Sent:
    query = {k: v[0] for k, v in parse_qs(urlsplit(request["path"]).query).items()}
    values = json.loads(query["TemplateParam"])
    return Sent(query["PhoneNumbers"], query["TemplateCode"], [values[name] for name in ALIYUN_VARIABLES],
                query["SignName"])


ALIYUN = Provider(
    name="aliyun", settings=aliyun_settings, uplink=aliyun_uplink, report=_report, ack={"code": 0, "msg": "成功"},
    accepted=lambda biz_id: (200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": "req-1"}),
    refused=lambda code: (200, {"Code": code, "Message": "refused", "RequestId": "req-2"}),
    unreachable_number_code="isv.MOBILE_NUMBER_ILLEGAL", read_sent=_read_sent, make_sender=make_sender,
    signature="ACS3-HMAC-SHA256 Credential=LTAI5tTestKeyId,")


@pytest.fixture
def provider():
    return ALIYUN


@pytest.mark.parametrize("answer, permanent", [
    ((200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控", "RequestId": "r"}), False),
    ((200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法", "RequestId": "r"}), True),
    ((400, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found.",
            "RequestId": "r"}), False),
])
def test_aliyun_errors_are_retried_or_final(api: FakeApi, make_settings, answer, permanent):
    api.answers = [answer]
    sender = make_sender(make_settings(**aliyun_settings(api.url)))
    result = sender.send("sms:13812345678", {"kind": "notice", "text": "x"})
    assert (result.ok, result.permanent) == (False, permanent)
    assert answer[1]["Code"] in result.error


def test_aliyun_being_unreachable_is_retried(make_settings):
    closed = FakeApi(lambda n: (200, {}))
    closed.close()
    sender = make_sender(make_settings(**aliyun_settings(closed.url)))
    result = sender.send("sms:13812345678", {"kind": "notice", "text": "x"})
    assert (result.ok, result.permanent) == (False, False) and "unreachable" in result.error
