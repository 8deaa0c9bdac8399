"""Property-based: whatever arrives in any field of the public web form, the status page, the chat webhooks or
the JSON API, the service answers with a page, a refusal or a stored complaint, never a 500; and a refusal
changes nothing (no complaint, no stored message).

Each test puts one hostile value into one field of an otherwise good request, so a refusal is that value's:
arbitrary Unicode, signs, huge and odd numbers, markup, characters XML cannot carry, long runs of digits; for
JSON also every JSON type. Examples are few (the suite's profile runs them the same on every machine).
"""
from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from intake.foundation.models import Complaint, InboundMessage
from tests.helpers import (
    API_BODY,
    SMS_CALLBACK_SECRET,
    TWILIO,
    TWILIO_PHONE,
    WECHAT,
    aliyun_settings,
    aliyun_uplink,
    auth,
    csrf_token,
    filled,
    form_fields,
    make_client,
    signed_post,
    text_xml,
    wechat_post,
)

ODD = ["", " ", "-5", "－5", "−5", "+5", "0", "5.5", "1e309", "NaN", "Infinity", "0x10", "³", "١٢٣", "五百万",
       "99999999999999999999999", "-99999999999999999999999", "<script>alert(1)</script>", "]]>", "\x00", "\ufffe",
       "\uffff", "\u202e", "%s%n", "' OR 1=1 --", "13800138000", "37010219900307123X"]
hostile = st.one_of(st.sampled_from(ODD), st.text(max_size=60), st.integers().map(str),
                    st.text(alphabet="0123456789", min_size=12, max_size=300))
json_value = st.one_of(hostile, st.none(), st.booleans(), st.integers(), st.floats(), st.lists(st.integers(), max_size=3),
                       st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
# Limits high enough that the examples meet no rate limit: a 429 is not what these tests look at.
UNLIMITED = {"submit_per_address": "100000 per hour", "submit_per_phone": "100000 per day",
             "status_per_address": "100000 per minute"}
FORM_FIELDS = ["csrf_token", "submission_key", "name", "phone", "id_number", "workers", "amount", "months",
               "free_text", "consent", "keep_location", "county", "project_name"]
REFUSED = {400, 403, 404, 413, 415, 422, 409}
message_ids = itertools.count(1)


def stored(session, model) -> int:
    session.rollback()  # a fresh snapshot: what the app committed
    return session.scalar(select(func.count()).select_from(model))


def test_no_value_in_any_field_of_the_web_form_gives_a_500(app_with, session, lanshan_site):
    client = app_with(ratelimit=UNLIMITED).test_client()

    @hypothesis_settings(max_examples=40)
    @given(field=st.sampled_from(FORM_FIELDS), value=hostile, general=st.booleans())
    def post(field, value, general):
        url = "/report" if general else f"/s/{lanshan_site.public_token}"
        before = stored(session, Complaint)
        data = form_fields(client, url) | filled(county="371302", project_name="阳光城工地") | {field: value}
        response = client.post(url, data=data)
        assert response.status_code in {200, 303} | REFUSED
        if response.status_code != 303:
            assert stored(session, Complaint) == before

    post()


def test_no_value_on_the_status_page_gives_a_500(app_with, session):
    client = app_with(ratelimit=UNLIMITED).test_client()

    @hypothesis_settings(max_examples=25)
    @given(ticket=hostile, last4=hostile)
    def look_up(ticket, last4):
        before = stored(session, Complaint)
        page = client.get("/status").text
        response = client.post("/status", data={"csrf_token": csrf_token(page), "ticket_no": ticket,
                                                "phone_last4": last4})
        assert response.status_code in {200} | REFUSED
        assert stored(session, Complaint) == before

    look_up()


def test_no_value_in_a_signed_twilio_message_gives_a_500(configured_app, session):
    client = configured_app(twilio=TWILIO).test_client()

    @hypothesis_settings(max_examples=25)
    @given(field=st.sampled_from(["MessageSid", "From", "To", "Body", "NumMedia"]), value=hostile)
    def text(field, value):
        before = stored(session, InboundMessage)
        params = {"MessageSid": f"SMprop{next(message_ids)}", "From": TWILIO_PHONE, "To": TWILIO.from_number,
                  "Body": "你好", "NumMedia": "0", field: value}
        response = signed_post(client, "/sms/twilio", params)
        assert response.status_code in {200} | REFUSED
        if response.status_code != 200:
            assert stored(session, InboundMessage) == before

    text()


def test_no_value_in_a_pushed_aliyun_reply_gives_a_500(configured_app, session):
    client = configured_app(**aliyun_settings("http://127.0.0.1:9")).test_client()

    @hypothesis_settings(max_examples=25)
    @given(field=st.sampled_from(["phone_number", "content", "sequence_id", "send_time", "sign_name"]),
           value=json_value)
    def push(field, value):
        before = stored(session, InboundMessage)
        item = aliyun_uplink("13812345678", "你好", next(message_ids)) | {field: value}
        response = client.post(f"/sms/aliyun/{SMS_CALLBACK_SECRET}", json=[item])
        assert response.status_code in {200} | REFUSED
        if response.status_code != 200 or response.get_json().get("refused"):
            assert stored(session, InboundMessage) == before

    push()


def test_no_text_or_sender_in_a_wechat_message_gives_a_500(configured_app, session):
    client = configured_app(wechat=WECHAT).test_client()

    @hypothesis_settings(max_examples=25)
    @given(content=hostile, user=hostile)
    def message(content, user):
        before = stored(session, InboundMessage)
        response = wechat_post(client, text_xml(content, next(message_ids), user=user))
        assert response.status_code in {200} | REFUSED
        if response.status_code != 200:
            assert stored(session, InboundMessage) == before

    message()


def test_no_value_in_any_field_of_the_json_api_gives_a_500(app_with, session):
    client, token = app_with(ratelimit=UNLIMITED).test_client(), make_client(session, "prop")
    fields = sorted(API_BODY) + ["name", "id_number", "anonymous", "site_code", "project_name", "months", "source"]

    @hypothesis_settings(max_examples=40)
    @given(field=st.sampled_from(fields), value=json_value)
    def post(field, value):
        before = stored(session, Complaint)
        response = client.post("/api/v1/complaints", json=API_BODY | {field: value}, headers=auth(token))
        assert response.status_code in {200, 201} | REFUSED
        if response.status_code not in (200, 201):
            assert response.mimetype == "application/problem+json"
            assert stored(session, Complaint) == before

    post()
