"""SMS through Aliyun (阿里云短信): the shared mainland scenarios (tests/mainland_sms.py) in Aliyun's push
format, and the SendSms request as the official SDK makes it."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from mainland_sms import *  # noqa: F401,F403  (the shared scenarios run against this provider)
from mainland_sms import PHONE, FakeApi, Provider, Sent, mainland_sms

from handlers.channels.aliyun_sms import make_sender
from intake.foundation.settings import AliyunSettings

VARIABLES = ("c1", "c2", "c3")


def _settings(url: str) -> dict:
    return {"sms": mainland_sms(provider="aliyun", template_variables=VARIABLES),
            "aliyun": AliyunSettings(access_key_id="LTAI5tTestKeyId", access_key_secret="aliyun-test-secret",
                                     sign_name="清零", endpoint=url)}


def _uplink(phone: str, text: str, n: int) -> dict:
    return {"phone_number": phone, "send_time": "2026-12-01 10:00:00", "content": text, "sign_name": "清零",
            "dest_code": "1234", "sequence_id": 880000 + n}


def _report(biz_id: str, ok: bool) -> dict:
    return {"phone_number": PHONE, "send_time": "2026-12-01 10:00:00", "report_time": "2026-12-01 10:00:05",
            "success": ok, "err_code": "DELIVERED" if ok else "MK:0001", "err_msg": "用户接收成功" if ok else "停机",
            "sms_size": "1", "biz_id": biz_id, "out_id": ""}


def _read_sent(request: dict) -> Sent:
    query = {k: v[0] for k, v in parse_qs(urlsplit(request["path"]).query).items()}
    values = json.loads(query["TemplateParam"])
    return Sent(query["PhoneNumbers"], query["TemplateCode"], [values[name] for name in VARIABLES],
                query["SignName"])


ALIYUN = Provider(
    name="aliyun", settings=_settings, uplink=_uplink, report=_report, ack={"code": 0, "msg": "成功"},
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
    result = make_sender(make_settings(**_settings(api.url))).send("sms:13812345678", {"kind": "notice", "text": "x"})
    assert (result.ok, result.permanent) == (False, permanent)
    assert answer[1]["Code"] in result.error


def test_aliyun_being_unreachable_is_retried(make_settings):
    closed = FakeApi(lambda n: (200, {}))
    closed.close()
    sender = make_sender(make_settings(**_settings(closed.url)))
    result = sender.send("sms:13812345678", {"kind": "notice", "text": "x"})
    assert (result.ok, result.permanent) == (False, False) and "unreachable" in result.error
