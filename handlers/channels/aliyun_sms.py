"""Aliyun SMS (阿里云短信服务), a mainland gateway: `POST /sms/aliyun/<callback_secret>` takes the HTTP batch push
of uplink messages (上行消息, SmsUp), `POST /sms/aliyun/<callback_secret>/report` the delivery reports (回执,
SmsReport), and the sender sends approved templates through the official SDK (SendSms).

Aliyun does not sign its pushes: the secret in the URL and, where set, `[sms] callback_allowed_ips` are the
authentication. Each push is a JSON array; every item is taken on its own (`receive_uplinks`).
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_dysmsapi20170525.models import SendSmsRequest
from alibabacloud_tea_openapi.utils_models import Config
from Tea.exceptions import TeaException, UnretryableException

from intake.delivery.outbox import SendResult
from intake.delivery.sms_templates import Templates
from intake.foundation.settings import Settings

from .sms import InboundSms, TemplateSender, callback_blueprint, checked_sms

NAME = "aliyun"
# Milliseconds to connect and to read an answer; without them a stalled call would hold the worker.
CONNECT_TIMEOUT_MS = 10_000
READ_TIMEOUT_MS = 30_000
# SendSms codes that no retry can cure; the outbox then tries the payload's fallbacks at once. Others (flow
# control isv.BUSINESS_LIMIT_CONTROL, isv.DAY_LIMIT_CONTROL, arrears isv.AMOUNT_NOT_ENOUGH, isp.*) are retried.
PERMANENT_ERRORS = {
    "isv.MOBILE_NUMBER_ILLEGAL": "not a valid mobile number",
    "isv.SMS_TEMPLATE_ILLEGAL": "the template is not approved or not this account's",
    "isv.SMS_SIGNATURE_ILLEGAL": "the signature is not approved",
    "isv.TEMPLATE_MISSING_PARAMETERS": "the template's variables differ from [sms] template_variables",
    "isv.TEMPLATE_PARAMS_ILLEGAL": "a variable's value is not allowed by the template",
    "isv.PARAM_LENGTH_LIMIT": "a variable is longer than the template allows ([sms] variable_max_chars)",
    "isv.BLACK_KEY_CONTROL_LIMIT": "the text contains words the carrier blocks",
}


def configured(settings: Settings) -> bool:
    a = settings.aliyun
    return settings.sms.provider == NAME and bool(a.access_key_id and a.access_key_secret and a.sign_name
                                                  and settings.sms.callback_secret)


class Gateway:
    name = NAME
    report_id = "biz_id"

    def uplink(self, item: Any) -> InboundSms:
        if not isinstance(item, dict):
            raise ValueError("an uplink item must be a JSON object")
        return checked_sms(item.get("sequence_id"), item.get("phone_number"), item.get("content", ""))

    def delivered(self, report: dict[str, Any]) -> bool:
        return report.get("success") is True

    def failure(self, report: dict[str, Any]) -> str:
        return f"{report.get('err_code')}: {report.get('err_msg')}"

    def answer(self, ok: bool) -> dict[str, Any]:
        return {"code": 0, "msg": "成功"} if ok else {"code": 1, "msg": "处理失败，请重新推送"}


bp = callback_blueprint(NAME, __name__, configured, Gateway())


class AliyunTemplates:
    """SendSms of one template; its BizId comes back in the delivery report."""

    def __init__(self, client: Client, sign_name: str):
        self.client = client
        self.sign_name = sign_name

    def send(self, number: str, code: str, values: dict[str, str]) -> SendResult:
        request = SendSmsRequest(phone_numbers=number, sign_name=self.sign_name, template_code=code,
                                 template_param=json.dumps(values, ensure_ascii=False))
        try:
            body = self.client.send_sms(request).body
        except UnretryableException as exc:
            return SendResult(ok=False, error=f"Aliyun unreachable: {exc}")
        except TeaException as exc:  # an HTTP error status: credentials, throttling, Aliyun's own trouble
            return SendResult(ok=False, permanent=exc.code in PERMANENT_ERRORS,
                              error=f"Aliyun {exc.code}: {exc.message}")
        if body.code != "OK":
            reason = PERMANENT_ERRORS.get(body.code) or body.message
            return SendResult(ok=False, permanent=body.code in PERMANENT_ERRORS, error=f"Aliyun {body.code}: {reason}")
        return SendResult(ok=True, provider_id=body.biz_id)


def make_sender(settings: Settings) -> TemplateSender:
    """`[aliyun] endpoint` is the API's address; tests point it at a local stand-in for Aliyun's servers."""
    a = settings.aliyun
    endpoint = urlparse(a.endpoint)
    client = Client(Config(access_key_id=a.access_key_id, access_key_secret=a.access_key_secret,
                           endpoint=endpoint.netloc, protocol=endpoint.scheme,
                           connect_timeout=CONNECT_TIMEOUT_MS, read_timeout=READ_TIMEOUT_MS))
    return TemplateSender(Templates.from_settings(settings.sms), AliyunTemplates(client, a.sign_name).send)
