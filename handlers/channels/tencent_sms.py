"""Tencent Cloud SMS (腾讯云短信), a mainland gateway: `POST /sms/tencent/<callback_secret>` takes the reply
callback (回复短信回调), `POST /sms/tencent/<callback_secret>/report` the status reports (状态报告回调), and the
sender sends approved templates through the official SDK (SendSms, API 2021-01-11).

Tencent does not sign its callbacks: the secret in the URL and, where set, `[sms] callback_allowed_ips` are the
authentication. A reply carries no message id, so one is made of the number, the send time and the text: a
callback Tencent repeats is recognised, and two different texts in one second are not confused.
"""
from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlparse

from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111.models import SendSmsRequest
from tencentcloud.sms.v20210111.sms_client import SmsClient

from intake.delivery.outbox import SendResult
from intake.delivery.sms_templates import Templates
from intake.foundation.settings import Settings

from .sms import InboundSms, TemplateSender, callback_blueprint, checked_sms

NAME = "tencent"
# Seconds for one API call; without it a stalled call would hold the worker.
API_TIMEOUT = 30
# SendSms codes that no retry can cure; the outbox then tries the payload's fallbacks at once. Others
# (LimitExceeded.*, InternalError.*, FailedOperation.InsufficientBalanceInSmsPackage, network errors) are retried.
PERMANENT_ERRORS = {
    "InvalidParameterValue.IncorrectPhoneNumber": "not a valid mobile number",
    "FailedOperation.PhoneNumberInBlacklist": "the number has unsubscribed (blacklist)",
    "FailedOperation.TemplateIncorrectOrUnapproved": "the template is not approved",
    "FailedOperation.SignatureIncorrectOrUnapproved": "the signature is not approved",
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": "the variables differ from the template's",
    "InvalidParameterValue.TemplateParameterFormatError": "a variable's value is not allowed by the template",
    "InvalidParameterValue.TemplateParameterLengthLimit": "a variable is longer than the template allows "
                                                          "([sms] variable_max_chars)",
    "FailedOperation.ContainSensitiveWord": "the text contains words the carrier blocks",
}


def configured(settings: Settings) -> bool:
    t = settings.tencent
    return settings.sms.provider == NAME and bool(t.secret_id and t.secret_key and t.sdk_app_id and t.sign_name
                                                  and settings.sms.callback_secret)


class Gateway:
    name = NAME
    report_id = "sid"

    def uplink(self, item: Any) -> InboundSms:
        if not isinstance(item, dict):
            raise ValueError("a reply must be a JSON object")
        mobile, nation, sent, text = (item.get(key) for key in ("mobile", "nationcode", "time", "text"))
        if not isinstance(mobile, str) or not isinstance(nation, str) or not isinstance(text, str):
            raise ValueError("mobile, nationcode and text are required strings")
        if not isinstance(sent, int) or isinstance(sent, bool):
            raise ValueError("time must be Unix seconds")
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return checked_sms(f"{nation}{mobile}:{sent}:{digest}", f"+{nation}{mobile}", text)

    def delivered(self, report: dict[str, Any]) -> bool:
        return report.get("report_status") == "SUCCESS"

    def failure(self, report: dict[str, Any]) -> str:
        return f"{report.get('errmsg')}: {report.get('description')}"

    def answer(self, ok: bool) -> dict[str, Any]:
        return {"result": 0, "errmsg": "OK"} if ok else {"result": 1, "errmsg": "处理失败，请重新推送"}


bp = callback_blueprint(NAME, __name__, configured, Gateway())


class TencentTemplates:
    """SendSms of one template to one number; its SerialNo comes back as the status report's sid."""

    def __init__(self, client: SmsClient, sdk_app_id: str, sign_name: str):
        self.client = client
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name

    def send(self, number: str, code: str, values: dict[str, str]) -> SendResult:
        request = SendSmsRequest()
        request.PhoneNumberSet = [f"+86{number}"]
        request.SmsSdkAppId, request.SignName = self.sdk_app_id, self.sign_name
        request.TemplateId, request.TemplateParamSet = code, list(values.values())
        try:
            status = self.client.SendSms(request).SendStatusSet[0]
        except TencentCloudSDKException as exc:  # the whole call failed: network, credentials, Tencent's trouble
            code = exc.get_code()
            return SendResult(ok=False, permanent=code in PERMANENT_ERRORS,
                              error=f"Tencent {code}: {exc.get_message()}")
        if status.Code != "Ok":
            reason = PERMANENT_ERRORS.get(status.Code) or status.Message
            return SendResult(ok=False, permanent=status.Code in PERMANENT_ERRORS,
                              error=f"Tencent {status.Code}: {reason}")
        return SendResult(ok=True, provider_id=status.SerialNo)


def make_sender(settings: Settings) -> TemplateSender:
    """`[tencent] endpoint` is the API's address; tests point it at a local stand-in for Tencent's servers."""
    t = settings.tencent
    endpoint = urlparse(t.endpoint)
    profile = ClientProfile(httpProfile=HttpProfile(protocol=endpoint.scheme, endpoint=endpoint.netloc,
                                                    reqTimeout=API_TIMEOUT))
    client = SmsClient(Credential(t.secret_id, t.secret_key), t.region, profile)
    return TemplateSender(Templates.from_settings(settings.sms),
                          TencentTemplates(client, t.sdk_app_id, t.sign_name).send)
