"""What the tests share that is not a fixture (fixtures are in conftest.py): constants, steps through the app,
fake provider servers and HTTP receivers in threads, real browsers, a private PostgreSQL cluster, and the scenarios
every mainland SMS gateway must pass, which test_sms_aliyun.py and test_sms_tencent.py import to run.

Test modules import from here and never from each other (tests/test_layout.py checks it).
"""
from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

import pytest
from argon2 import PasswordHasher
from flask.cli import ScriptInfo
from PIL import ExifTags, Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import create_engine, func, select
from sqlalchemy import text as sql_text
from twilio.request_validator import RequestValidator
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner
from werkzeug.serving import make_server

from handlers.cli import main
from handlers.cli.doctor import check_sms
from handlers.cli.worker import senders_for
from handlers.console.ledger import ledger_exporter
from handlers.runtime import services
from intake.case import cases, clocks, timers
from intake.case.complaints import ROUTE_CLOCK, NewComplaint, create_complaint
from intake.case.notices import tell_worker
from intake.conversation import replies as R
from intake.conversation.dialogue import handle_message
from intake.conversation.inbound import STATUS_CHANNEL
from intake.delivery.outbox import sms_destination
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import (
    ClaimLine,
    Complaint,
    Event,
    EventKind,
    InboundMessage,
    Outbox,
    Site,
    StaffUser,
    Status,
    utcnow,
)
from intake.foundation.settings import (
    AliyunSettings,
    ClockSettings,
    Settings,
    SmsSettings,
    TwilioSettings,
    WeChatSettings,
    WorkerSettings,
)
from intake.foundation.texts import WORKER_TEXT
from intake.foundation.transitions import transition
from intake.people.clients import NewClient, create_client
from intake.registry.directory import department
from intake.runtime.worker import run_once

# ---------------------------------------------------------------- pages

def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


# ---------------------------------------------------------------- ports, threads and fake HTTP servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def receiving(handler: type[BaseHTTPRequestHandler]):
    """A real HTTP server on 127.0.0.1 for webhook deliveries, served from a thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Meanwhile:
    """What another thread did while the test held a transaction open: finished (set when it returned), its
    result, and what it raised."""
    finished: threading.Event
    result: Any = None
    error: BaseException | None = None


@contextlib.contextmanager
def meanwhile(work: Callable[[], Any]):
    """Run `work` on another thread during the with-block (e.g. a second writer while the test's transaction is
    open) and wait for it on leaving; the test asserts whether it finished before the block let go."""
    outcome = Meanwhile(threading.Event())

    def run():
        try:
            outcome.result = work()
        except BaseException as error:  # noqa: BLE001 - the test asserts it
            outcome.error = error
        outcome.finished.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield outcome
    finally:
        thread.join(timeout=30)


class WebhookReceiver(BaseHTTPRequestHandler):
    """A department's or client's webhook system; the path picks the answer: /ok 204, /slow 200 after 1 s,
    /moved 302, otherwise /<status>."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append((self.path, dict(self.headers), body))
        if self.path == "/slow":
            time.sleep(1)
        status = {"/ok": 204, "/slow": 200, "/moved": 302}.get(self.path) or int(self.path.strip("/"))
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the client of /slow has gone when the answer is written


# ---------------------------------------------------------------- the working calendar and the clocks

# Long enough for create_app, which refuses a weak secret key outside demo mode.
SECRET_KEY = "test-secret-key-that-is-long-enough-0123"
CAL = WorkingCalendar.from_config({})
CST = CAL.timezone
CLOCKS = ClockSettings()


def at(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=CST)


def routed_complaint(session, now, priority="normal", county="371302", kind="hrss", settings=CLOCKS):
    """A complaint routed by hand to a county department, with its clocks started as routing does; the route
    timer every new complaint gets is cancelled, so only the clocks under test fire."""
    complaint, _ = create_complaint(session, NewComplaint(channel="web", phone="13900000000"))
    timers.cancel_timers(session, complaint, [ROUTE_CLOCK])
    complaint.priority = priority
    complaint.jurisdiction_code = county
    complaint.department_id = department(session, county, kind).id
    transition(session, complaint, "routed", actor="test")
    clocks.start_clocks_for(session, complaint, "routed", now, CAL, settings)
    return complaint


# ---------------------------------------------------------------- a case's life
# New, routed by a worker pass, its notices looked at in the outbox.

def new_case(session, settings, site=None, channel="web", user=None, phone="13912345678") -> Complaint:
    complaint, _ = create_complaint(session, NewComplaint(
        channel=channel, channel_user_id=user, phone=phone, name="张三", site_id=site.id if site else None,
        workers=3, amount=12000, free_text="老板欠我们三个人一万二"))
    session.commit()
    return complaint


def worker_pass(app, now: datetime | None = None):
    """One pass with no senders, so every notice stays in the outbox to be looked at."""
    return run_once(services(app).sessions, {}, CAL, services(app).settings, now=now or utcnow())


def outbox(session, complaint, kind=None) -> list[Outbox]:
    session.expire_all()
    rows = session.scalars(select(Outbox).where(Outbox.complaint_id == complaint.id).order_by(Outbox.id)).all()
    return [r for r in rows if kind is None or r.payload.get("kind") == kind]


def ctx(app, later: timedelta = timedelta(0)) -> cases.CaseContext:
    return cases.CaseContext(services(app).settings, CAL, utcnow() + later)


def routed(app, session, settings, site, **kwargs) -> Complaint:
    complaint = new_case(session, settings, site, **kwargs)
    worker_pass(app)
    session.expire_all()
    return session.get(Complaint, complaint.id)


def exported(app, client, path: str, **args):
    """A ledger export as staff get it: asked for by its old link, written by a worker pass, downloaded from
    its page."""
    asked = client.get(path, query_string=args)
    assert asked.status_code == 303, asked.status_code
    page = asked.headers["Location"]
    assert "生成中" in client.get(page).get_data(as_text=True)
    run_once(services(app).sessions, {}, CAL, services(app).settings, exporter=ledger_exporter(app))
    link = re.search(r'href="(/console/exports/\d+/file)"', client.get(page).get_data(as_text=True))
    assert link, "the export's page offers no download"
    response = client.get(link.group(1))
    assert response.status_code == 200, response.status_code
    return response


# ---------------------------------------------------------------- the console
# Accounts of every role, logging in through the real form, acting on a case.

PASSWORD = "console-pass-1"
# Hashed once for the whole suite (argon2id takes ~0.1 s by design); intake.people.staff.create_user is tested itself.
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)


def make_accounts(session) -> dict[str, str]:
    """One account per role around 兰山区 (371302) plus outsiders; returns role key -> username."""
    housing = department(session, "371302", "housing")
    accounts = {
        "staff": ("ls_staff", "staff", housing.id, None),
        "head": ("ls_head", "head", housing.id, None),
        "other_staff": ("ls_hrss", "staff", department(session, "371302", "hrss").id, None),
        "far_staff": ("lz_staff", "staff", department(session, "371311", "housing").id, None),
        "county": ("ls_county", "county_supervisor", None, "371302"),
        "far_county": ("lz_county", "county_supervisor", None, "371311"),
        "admin": ("city_admin", "admin", None, None),
    }
    for username, role, department_id, county in accounts.values():
        session.add(StaffUser(username=username, display_name=username, password_hash=PASSWORD_HASH, role=role,
                              department_id=department_id, jurisdiction_code=county, active=True))
    session.commit()
    return {key: value[0] for key, value in accounts.items()}


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/console/login")
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_token(page.get_data(as_text=True))})


def case_page(client, ticket_no: str):
    return client.get(f"/console/cases/{ticket_no}")


def act(client, ticket_no: str, action: str, version: int | None = None, **fields):
    """Post one action from the case page, with the page's own CSRF token and version."""
    page = case_page(client, ticket_no).get_data(as_text=True)
    if version is None:
        found = re.search(r'name="version" value="(\d+)"', page)
        version = int(found.group(1)) if found else 0
    return client.post(f"/console/cases/{ticket_no}/actions/{action}",
                       data={"csrf_token": csrf_token(page), "version": str(version), **fields})


def confirm_link(text: str) -> str:
    """The path of the signed 工资到手了吗 link in a notice's text."""
    return re.search(r"(/c/[\w.\-]+)", text).group(1)


def flashed(client, response) -> str:
    """The page a redirect leads to, as text (where the flash message is shown)."""
    return client.get(response.headers["Location"]).get_data(as_text=True)


def reload(session, complaint: Complaint) -> Complaint:
    session.expire_all()
    return session.scalar(select(Complaint).where(Complaint.id == complaint.id))


# ---------------------------------------------------------------- the web form and photos

def make_site(session, name: str = "阳光城三期工地", address: str = "兰山区沂蒙路100号") -> Site:
    """Sites are inserted directly: the importer is not what is tested here."""
    site = Site(code=secrets.token_hex(6), name=name, jurisdiction_code="371302", address=address,
                public_token=secrets.token_urlsafe(16))
    session.add(site)
    session.commit()
    return site


def jpeg(size: tuple[int, int] = (64, 48), noise: bool = False) -> bytes:
    image = Image.frombytes("RGB", size, secrets.token_bytes(size[0] * size[1] * 3)) if noise \
        else Image.new("RGB", size, (200, 40, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def form_fields(client, url: str) -> dict:
    """What a browser would send back from a fresh page: the CSRF token and the page's submission key."""
    html = client.get(url).text
    key = re.search(r'name="submission_key" type="hidden" value="([0-9a-f]{32})"', html)
    assert key, "the form carries no submission key"
    return {"csrf_token": csrf_token(html), "submission_key": key.group(1)}


def filled(**changes) -> dict:
    data = {"name": "张三", "phone": "13800138000", "id_number": "", "workers": "8", "amount": "35000",
            "months": "3", "free_text": "干了三个月，老板一直不给钱。", "consent": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def submit(client, url: str, photos: list[tuple[bytes, str]] = (), **changes):
    data = form_fields(client, url) | filled(**changes)
    if photos:
        data["photos"] = [(io.BytesIO(content), name) for content, name in photos]
    return client.post(url, data=data, content_type="multipart/form-data")


def pdf_text(data: bytes) -> str:
    """A PDF's text as poppler's pdftotext reads it (what a printed or searched document says)."""
    assert data.startswith(b"%PDF-"), data[:40]
    with tempfile.NamedTemporaryFile(suffix=".pdf") as pdf:
        pdf.write(data)
        pdf.flush()
        return subprocess.run(["pdftotext", "-layout", pdf.name, "-"], check=True, capture_output=True,
                              text=True).stdout


def stored(session) -> list[Complaint]:
    session.rollback()  # a fresh transaction sees what the app committed
    return list(session.scalars(select(Complaint).order_by(Complaint.id)))


def ticket_of(response) -> str:
    assert response.status_code == 303, response.text
    return re.fullmatch(r"/r/(\d{12})", response.headers["Location"]).group(1)


GPS = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (35.0, 3.0, 30.5),
       ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (118.0, 20.0, 10.0)}
RED, BLUE = (220, 20, 20), (20, 20, 220)


def phone_photo(orientation: int = 1, kind: str = "JPEG") -> bytes:
    """64x48, left half red and right half blue, with what a phone's camera writes into it."""
    image = Image.new("RGB", (64, 48), BLUE)
    image.paste(RED, (0, 0, 32, 48))
    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "HUAWEI", "Mate 60"
    exif[ExifTags.Base.BodySerialNumber] = "SN-8848-0001"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS
    out = io.BytesIO()
    image.save(out, kind, exif=exif, **({"comment": b"owner: zhang san"} if kind == "JPEG" else {}))
    return out.getvalue()


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


# ---------------------------------------------------------------- the JSON API

API_BODY = {"phone": "13912345678", "description": "阳光城工地老板欠我们八个人三万五", "county": "371302",
            "workers": 8, "amount": 35000}


def make_client(session, name, role="admin", department_id=None, county=None, webhook=None) -> str:
    _, token = create_client(session, NewClient(name, role, department_id, county, webhook))
    session.commit()
    return token


def auth(token: str, **headers) -> dict:
    return {"Authorization": f"Bearer {token}", **headers}


def complaint_count(session) -> int:
    return session.scalar(select(func.count(Complaint.id)))


# ---------------------------------------------------------------- the chat engine, one committed message at a time

CHAT_T0 = datetime(2025, 3, 3, 1, 0, tzinfo=timezone.utc)
SMS_PHONE = "13911112222"


class Chat:
    """One worker on one channel; every message is its own committed transaction, one minute apart."""

    def __init__(self, session, settings, channel="wechat", user="openid-1", phone=None):
        self.session, self.settings = session, settings
        self.channel, self.user, self.phone = channel, user, phone
        self.now = CHAT_T0

    def say(self, text, *, after=timedelta(minutes=1), **kw):
        self.now += after
        reply = handle_message(self.session, self.settings, self.channel, self.user, text, now=self.now,
                               has_phone=self.phone is not None, phone=self.phone, **kw)
        self.session.commit()
        return reply


def sms(session, settings, phone=SMS_PHONE):
    return Chat(session, settings, channel="sms", user=phone, phone=phone)


# ---------------------------------------------------------------- the command line

def invoke(app, *args):
    return app.test_cli_runner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))


# ---------------------------------------------------------------- the outbox

OUTBOX_T0 = at(2024, 3, 4, 9, 0)


def worker_settings(**worker):
    return replace(Settings(), worker=replace(WorkerSettings(), **worker))


def outbox_rows(session):
    session.expire_all()
    return list(session.scalars(select(Outbox).order_by(Outbox.id)))


# ---------------------------------------------------------------- SMS through Twilio

TWILIO_AUTH_TOKEN = "twilio-test-auth-token"
TWILIO = TwilioSettings(account_sid="AC" + "0" * 32, auth_token=TWILIO_AUTH_TOKEN, from_number="+15005550006")
# The conftest's public_base_url, which Twilio signs; the test client itself runs on http://localhost.
PUBLIC_BASE_URL = "https://qingling.test"
TWILIO_PHONE = "+8613812345678"


def signed_post(client, path: str, params: dict[str, str], url: str | None = None, token: str = TWILIO_AUTH_TOKEN):
    """POST as Twilio does: the signature covers the public URL and the parameters."""
    signature = RequestValidator(token).compute_signature(url or PUBLIC_BASE_URL + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def text_in(client, body: str, sid: str, sender: str = TWILIO_PHONE):
    return signed_post(client, "/sms/twilio", {"MessageSid": sid, "From": sender, "To": TWILIO.from_number,
                                               "Body": body, "NumMedia": "0"})


def twiml_reply(response) -> str | None:
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/xml"
    found = re.search(r"<Message>(.*)</Message>", response.get_data(as_text=True))
    return found.group(1) if found else None


def count(session, model, **where) -> int:
    session.expire_all()
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return session.scalar(query)


# ---------------------------------------------------------------- the WeChat official account

WECHAT_TOKEN = "wechat-test-token"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECHAT_APP_ID = "wx0123456789abcdef"
WECHAT = WeChatSettings(app_id=WECHAT_APP_ID, app_secret="app-secret", token=WECHAT_TOKEN,
                        encoding_aes_key=WECHAT_AES_KEY, template_id="TEMPLATE-1")
WECHAT_CRYPTO = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APP_ID)
OPENID = "oWorker0000000000000000000A"


def signed_query(timestamp: int | None = None, **extra) -> dict[str, str]:
    timestamp, nonce = str(int(time.time()) if timestamp is None else timestamp), "nonce123"
    signer = WeChatSigner()
    signer.add_data(WECHAT_TOKEN, timestamp, nonce)
    return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce, **extra}


def text_xml(content: str, msg_id: int, user: str = OPENID) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def wechat_post(client, xml: str, query: dict | None = None):
    """POST as WeChat does: in safe mode (unless the query says otherwise) the message encrypted and signed with
    the account's EncodingAESKey."""
    query = dict(query or signed_query())
    if services(client.application).settings.wechat.encoding_aes_key and "encrypt_type" not in query:
        xml = WECHAT_CRYPTO.encrypt_message(xml, query["nonce"], query["timestamp"])
        query.update(encrypt_type="aes", msg_signature=parse_envelope(xml)["MsgSignature"])
    return client.post("/wechat?" + urlencode(query), data=xml, content_type="text/xml")


def reply_text(response) -> str | None:
    """The reply's text, decrypted when it came encrypted."""
    assert response.status_code == 200, response.data
    if response.data == b"success":
        return None
    xml, envelope = response.data, parse_envelope(response.data)
    if "Encrypt" in envelope:
        xml = WECHAT_CRYPTO.decrypt_message(xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    return parse_message(xml).content


def parse_envelope(xml: str | bytes) -> dict:
    import xmltodict

    return xmltodict.parse(xml)["xml"]


# ---------------------------------------------------------------- mainland SMS gateways (Aliyun, Tencent Cloud)
# What every mainland SMS gateway must do, written once and run by tests/test_sms_aliyun.py and
# tests/test_sms_tencent.py, each of which supplies a `provider` fixture (a `Provider`) and adds its own cases;
# the fixtures `api`, `sms_app` and `sms_client` are in conftest.py.
#
# The provider's servers are a real HTTP server on 127.0.0.1 (`FakeApi`) that the official SDK is pointed at
# through `[aliyun] endpoint` / `[tencent] endpoint`; callbacks are posted in the provider's documented JSON.

SMS_CALLBACK_SECRET = "callback-secret-0123456789"
PHONE = "13812345678"
REPLY_TEMPLATE, NOTICE_TEMPLATE, RESOLVED_TEMPLATE = "1000001", "1000002", "1000003"
TEMPLATES = (("reply", REPLY_TEMPLATE), ("notice", NOTICE_TEMPLATE), ("worker_resolved", RESOLVED_TEMPLATE))


@dataclass(frozen=True)
class Sent:
    """One template message as the provider's API received it."""

    phone: str
    template: str
    values: list[str]
    sign: str

    @property
    def text(self) -> str:
        return "".join(self.values)


@dataclass(frozen=True)
class Provider:
    """A gateway as the shared tests see it: how to configure it, how it pushes, how its API answers."""

    name: str
    settings: Callable[[str], dict[str, Any]]  # API base URL -> settings sections for make_settings
    uplink: Callable[[str, str, int], dict]  # phone, text, n -> one pushed reply
    report: Callable[[str, bool], dict]  # provider message id, delivered -> one pushed delivery report
    ack: dict[str, Any]  # the answer the provider expects
    accepted: Callable[[str], tuple[int, dict]]  # provider message id -> the API's answer to a good send
    refused: Callable[[str], tuple[int, dict]]  # provider error code -> the API's answer
    unreachable_number_code: str  # an error code for a number that no retry can reach
    read_sent: Callable[[dict], Sent]  # a recorded API request -> what was sent
    make_sender: Callable[[Settings], Any]  # the module's outbox sender
    signature: str  # how the SDK's Authorization header starts: it signed with the configured key


class FakeApi:
    """The provider's API servers: record each request, answer with the next canned (status, JSON) answer or,
    when none is left, with `default(n)` for the n-th request."""

    def __init__(self, default: Callable[[int], tuple[int, dict]]):
        self.answers: list[tuple[int, dict]] = []
        self.requests: list[dict] = []
        self.default = default
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                api.requests.append({"path": self.path, "headers": headers, "body": body})
                status, answer = api.answers.pop(0) if api.answers else api.default(len(api.requests))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def push(client, provider: Provider, items: Any, report: bool = False, secret: str = SMS_CALLBACK_SECRET, **kwargs):
    path = f"/sms/{provider.name}/{secret}" + ("/report" if report else "")
    return client.post(path, data=items if isinstance(items, bytes | str) else json.dumps(items, ensure_ascii=False),
                       content_type="application/json", **kwargs)


def say(client, provider: Provider, *texts: str, start: int = 1, phone: str = PHONE):
    """The worker texts each of `texts`, one push each; every push must be acknowledged as the provider expects."""
    for n, text in enumerate(texts, start):
        response = push(client, provider, [provider.uplink(phone, text, n)])
        assert response.status_code == 200, response.data
        assert response.get_json() == provider.ack


def deliver(app, now=None):
    """One worker pass, with the senders the real worker builds."""
    settings: Settings = services(app).settings
    return run_once(services(app).sessions, senders_for(settings), CAL, settings, now=now or utcnow())


def sent_to(api: FakeApi, provider: Provider, phone: str = PHONE) -> list[Sent]:
    return [s for s in map(provider.read_sent, api.requests) if s.phone == phone]


CONVERSATION = ("兰山区阳光城工地，老板欠我们8个人三万五", "张三", "确认")


# ---------------- mainland SMS scenarios: a worker's conversation

def test_a_whole_conversation_goes_out_as_templated_replies(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, *CONVERSATION)
    complaint = session.scalar(select(Complaint))
    assert complaint is not None and complaint.complainant.phone == PHONE and complaint.workers == 8
    assert api.requests == []  # nothing is sent on the callback's request path
    deliver(sms_app)
    replies = sent_to(api, provider)
    assert [s.template for s in replies] == [REPLY_TEMPLATE] * 3
    assert replies[0].text == R.QUESTIONS["name"]
    assert replies[-1].text.startswith(R.SUBMITTED.split("{")[0]) and complaint.ticket_no in replies[-1].text
    assert {s.sign for s in replies} == {"清零"}


def test_a_replayed_push_files_nothing_twice_and_answers_once(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, *CONVERSATION)
    say(sms_client, provider, *CONVERSATION)  # the provider pushes the same items again
    assert count(session, Complaint) == 1
    assert count(session, InboundMessage, channel="sms") == 3
    deliver(sms_app)
    assert len(sent_to(api, provider)) == 3


def test_a_bad_item_in_a_batch_costs_only_itself(sms_client, sms_app, api, provider, session):
    good = [provider.uplink(PHONE, "兰山区阳光城工地", 1), provider.uplink("13900000000", "你好", 2)]
    response = push(sms_client, provider, [good[0], {"phone_number": None, "mobile": 5}, "not an item", good[1]])
    assert response.status_code == 200
    assert response.get_json() == {**provider.ack, "refused": [1, 2]}
    assert count(session, InboundMessage, channel="sms") == 2
    deliver(sms_app)
    assert [s.text for s in sent_to(api, provider, "13900000000")] == [R.WELCOME]
    assert len(sent_to(api, provider)) == 1


def test_an_outage_is_retried_until_the_reply_goes_out(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, "兰山区阳光城工地")
    api.answers = [(503, {"Code": "ServiceUnavailable", "Message": "down", "RequestId": "r1"})]
    start = utcnow()
    assert deliver(sms_app, start).failed == 1
    row = session.scalar(select(Outbox).where(Outbox.destination == sms_destination(PHONE)))
    assert (row.state, row.attempts) == ("pending", 1)
    assert deliver(sms_app, start).sent == 0  # backing off
    assert deliver(sms_app, start + timedelta(hours=2)).sent >= 1
    answer = session.scalar(select(InboundMessage.reply))
    assert [s.text for s in sent_to(api, provider)] == [answer] * 2  # the failed try, then the good one
    session.expire_all()
    assert session.get(Outbox, row.id).state == "sent"


def test_a_number_no_retry_can_reach_is_dead_lettered_to_the_dispatch_desk(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, "你好")
    api.answers = [provider.refused(provider.unreachable_number_code)]
    deliver(sms_app)
    row = session.scalar(select(Outbox).where(Outbox.destination == sms_destination(PHONE)))
    assert row.state == "dead" and provider.unreachable_number_code in row.last_error
    alerts = session.scalars(select(Outbox).where(Outbox.destination.startswith("department:"))).all()
    assert any(a.payload["kind"] == "dead_letter" for a in alerts)


def test_the_sdk_sends_the_template_signed_with_the_accounts_key(api, provider, make_settings):
    sender = provider.make_sender(make_settings(**provider.settings(api.url)))
    result = sender.send("sms:+8613812345678", {"kind": "reply", "text": "【清零】请问您叫什么名字？"})
    assert (result.ok, result.provider_id) == (True, f"{provider.name}-msg-1")
    assert provider.read_sent(api.requests[0]) == Sent(PHONE, REPLY_TEMPLATE, ["请问您叫什么名字？", "", ""], "清零")
    assert api.requests[0]["headers"]["authorization"].startswith(provider.signature)


# ---------------- mainland SMS scenarios: notices through templates

def test_the_workers_phone_receives_every_notice_through_templates(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, *CONVERSATION)
    complaint = session.scalar(select(Complaint))
    facts = {"reason": "不属于欠薪问题", "outcome": "已责令施工单位足额支付8人工资共35000元",
             "needed": "欠条照片", "survivor": "250101000002",
             "confirm_url": "https://qingling.test/c/eyJ0IjoiMjUwMTAxMTIzNDU2In0.abcdef"}
    expected = {}
    for kind in WORKER_TEXT:
        row = tell_worker(session, services(sms_app).settings, complaint, kind, utcnow(), **facts)
        expected[f"worker_{kind}"] = row.payload["text"].removeprefix("【清零】")
    session.commit()
    deliver(sms_app)
    sent = {f"{provider.name}-msg-{n}": provider.read_sent(r) for n, r in enumerate(api.requests, 1)}
    session.expire_all()
    rows = session.scalars(select(Outbox).where(Outbox.destination == sms_destination(PHONE)).order_by(Outbox.id)).all()
    assert {r.state for r in rows} == {"sent"}
    for kind, text in expected.items():
        pieces = [sent[r.provider_id] for r in rows if r.payload["kind"] == kind]
        assert {p.template for p in pieces} == {RESOLVED_TEMPLATE if kind == "worker_resolved" else NOTICE_TEMPLATE}
        assert _joined([p.text for p in pieces]) == text, kind
        assert all(len(v) <= 35 for p in pieces for v in p.values)
    assert len([r for r in rows if r.payload["kind"] == "worker_resolved"]) > 1  # the long one went in pieces


def _joined(texts: list[str]) -> str:
    """The pieces of one text put back together: alone, or marked (1/n) ... (n/n)."""
    if len(texts) == 1:
        return texts[0]
    marked = sorted((int(t[1:t.index("/")]), t[t.index(")") + 1:]) for t in texts)
    assert [i for i, _ in marked] == list(range(1, len(texts) + 1)) and all(f"/{len(texts)})" in t for t in texts)
    return "".join(piece for _, piece in marked)


def test_a_text_without_a_template_is_dead_lettered_not_dropped(configured_app, provider, api, session):
    sections = provider.settings(api.url)
    sections["sms"] = replace(sections["sms"], templates=(("reply", REPLY_TEMPLATE),))
    app = configured_app(**sections)
    say(app.test_client(), provider, *CONVERSATION)
    tell_worker(session, services(app).settings, session.scalar(select(Complaint)), "accepted", utcnow())
    session.commit()
    deliver(app)
    session.expire_all()
    notice, = [r for r in session.scalars(select(Outbox)) if r.payload["kind"] == "worker_accepted"]
    assert notice.state == "dead" and "no SMS template" in notice.last_error
    assert [s.template for s in sent_to(api, provider)] == [REPLY_TEMPLATE] * 3
    alerts = [r for r in session.scalars(select(Outbox)) if r.payload["kind"] == "dead_letter"]
    assert alerts and all(a.payload["outbox_id"] == notice.id for a in alerts)


# ---------------- mainland SMS scenarios: the worker's thread after the receipt

OTHER_WORKER = "13900000000"


def _texts(api: FakeApi, provider: Provider, phone: str = PHONE, template: str | None = None) -> list[str]:
    """What one phone received so far, each text whole again (the pieces of a split one joined)."""
    found: list[str] = []
    pieces: list[str] = []
    for sent in sent_to(api, provider, phone):
        if template is not None and sent.template != template:
            continue
        pieces.append(sent.text)
        marker = re.match(r"\((\d+)/(\d+)\)", sent.text)
        if marker is None or marker.group(1) == marker.group(2):
            found.append(_joined(pieces))
            pieces = []
    return found


def _console(app, session) -> Any:
    """The city administrator, logged in to the console."""
    client = app.test_client()
    login(client, make_accounts(session)["admin"])
    return client


def test_the_worker_texts_on_after_the_receipt_and_staff_reply_in_one_thread(sms_client, sms_app, api, provider,
                                                                            session):
    say(sms_client, provider, *CONVERSATION)
    deliver(sms_app)  # the replies go out, and the new case is routed
    complaint = session.scalar(select(Complaint))
    say(sms_client, provider, "老板今天给了一半钱，还差一万七", start=4)
    staff = _console(sms_app, session)
    assert act(staff, complaint.ticket_no, "message", text="请把欠条拍照发过来").status_code == 303
    deliver(sms_app)
    say(sms_client, provider, "好的，明天拍了发", start=5)
    deliver(sms_app)
    session.expire_all()
    assert count(session, Complaint) == 1
    wrote = session.scalars(select(Event.note).where(Event.complaint_id == complaint.id,
                                                     Event.kind == EventKind.WORKER_WROTE).order_by(Event.id)).all()
    assert wrote == ["老板今天给了一半钱，还差一万七", "好的，明天拍了发"]
    department = session.get(Complaint, complaint.id).department.name
    follow_up = R.FOLLOW_UP.format(ticket=complaint.ticket_no, department=department)
    assert _texts(api, provider, template=REPLY_TEMPLATE)[-2:] == [follow_up, follow_up]
    [told] = _texts(api, provider, template=NOTICE_TEMPLATE)
    assert told == f"编号{complaint.ticket_no}，{department}：请把欠条拍照发过来"
    panel = case_page(staff, complaint.ticket_no).get_data(as_text=True).split("对话记录")[1].split("</section>")[0]
    assert panel.index("还差一万七") < panel.index("请把欠条拍照发过来") < panel.index("明天拍了发")


def test_every_worker_is_asked_by_sms_and_answers_by_replying(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, *CONVERSATION)
    deliver(sms_app)
    complaint = session.scalar(select(Complaint))
    staff = _console(sms_app, session)
    for action in ("acknowledge", "accept"):
        act(staff, complaint.ticket_no, action)
    for name, phone in (("张三", PHONE), ("李四", OTHER_WORKER)):
        act(staff, complaint.ticket_no, "claim_line", worker_name=name, amount="4000", phone=phone)
    for line in session.scalars(select(ClaimLine).where(ClaimLine.complaint_id == complaint.id)):
        act(staff, complaint.ticket_no, "payment", line_id=str(line.id), amount_paid="4000")
    act(staff, complaint.ticket_no, "resolve", outcome="已责令支付", amount_recovered="8000", workers_paid="2")
    deliver(sms_app)
    for name, phone in (("张三", PHONE), ("李四", OTHER_WORKER)):
        [asked] = [t for t in _texts(api, provider, phone, template=NOTICE_TEMPLATE) if "工资到手了吗" in t]
        assert asked.startswith(f"{name}您好，编号{complaint.ticket_no}已办结，记录发给您4000元") and "回复1" in asked
    say(sms_client, provider, "2", start=10, phone=OTHER_WORKER)
    say(sms_client, provider, "1", start=11)
    deliver(sms_app)
    session.expire_all()
    complaint = session.get(Complaint, complaint.id)
    assert complaint.status == Status.REOPENED.value and count(session, Complaint) == 1
    answers = {ln.worker_name: (ln.confirmation, ln.answered_via) for ln in complaint.claim_lines}
    assert answers == {"张三": ("confirmed", "sms"), "李四": ("disputed", "sms")}
    assert _texts(api, provider, OTHER_WORKER, template=REPLY_TEMPLATE) == [
        R.UNPAID_NOTED.format(ticket=complaint.ticket_no, department=complaint.department.name)]
    assert _texts(api, provider, template=REPLY_TEMPLATE)[-1] == R.PAID_NOTED.format(ticket=complaint.ticket_no)


# ---------------- mainland SMS scenarios: delivery reports

def test_delivery_reports_are_kept_item_by_item_and_never_go_back(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, "你好")
    deliver(sms_app)
    sent_id = session.scalar(select(Outbox.provider_id).where(Outbox.destination == sms_destination(PHONE)))
    assert sent_id
    response = push(sms_client, provider, [provider.report(sent_id, True), {"no": "id"},
                                       provider.report("other-id", False)], report=True)
    assert response.status_code == 200 and response.get_json() == {**provider.ack, "refused": [1]}
    push(sms_client, provider, [provider.report(sent_id, False)], report=True)  # a late, contradicting report

    def status(pid):
        session.expire_all()
        key = f"{provider.name}:{pid}"
        return session.scalar(select(InboundMessage).where(InboundMessage.channel == STATUS_CHANNEL,
                                                           InboundMessage.provider_message_id == key))

    assert status(sent_id).payload["status"] == "delivered"
    assert status("other-id").payload["status"] == "undelivered" and status("other-id").payload["error"]


# ---------------- mainland SMS scenarios: refused callbacks

@pytest.mark.parametrize("secret", ["wrong-secret-0123456789", SMS_CALLBACK_SECRET[:-1], ""])
def test_a_forged_or_missing_secret_is_refused_and_nothing_stored(sms_client, provider, session, secret):
    for report in (False, True):
        path = f"/sms/{provider.name}" + (f"/{secret}" if secret else "") + ("/report" if report else "")
        item = provider.report("x", True) if report else provider.uplink(PHONE, "你好", 1)
        response = sms_client.post(path, json=[item])
        assert response.status_code == 403, path
    assert count(session, InboundMessage) == 0


def test_the_address_allow_list_is_applied(configured_app, provider, api, session):
    sections = provider.settings(api.url)
    sections["sms"] = replace(sections["sms"], callback_allowed_ips=("100.64.0.0/10", "203.0.113.7"))
    client = configured_app(**sections).test_client()
    item = [provider.uplink(PHONE, "你好", 1)]
    assert push(client, provider, item).status_code == 403  # the test client comes from 127.0.0.1
    assert count(session, InboundMessage) == 0
    assert push(client, provider, item, environ_overrides={"REMOTE_ADDR": "100.100.1.2"}).status_code == 200
    assert count(session, InboundMessage) == 1


@pytest.mark.parametrize("body, code", [(b"{not json", 400), (b"\xff\xfe", 400), (b"42", 400),
                                        (json.dumps([{"content": "欠" * 40_000}]).encode(), 413)])
def test_malformed_and_huge_bodies_change_nothing(sms_client, provider, session, body, code):
    for report in (False, True):
        assert push(sms_client, provider, body, report=report).status_code == code
    assert count(session, InboundMessage) == 0 and count(session, Outbox) == 0


def test_the_callbacks_are_absent_while_another_provider_is_chosen(configured_app, provider, api, session):
    sections = provider.settings(api.url)
    sections["sms"] = replace(sections["sms"], provider="twilio")
    client = configured_app(**sections).test_client()
    assert push(client, provider, [provider.uplink(PHONE, "你好", 1)]).status_code == 404
    assert count(session, InboundMessage) == 0


def mainland_sms(**changes) -> SmsSettings:
    """The [sms] section the shared tests run with, for `Provider.settings`."""
    return SmsSettings(**{"templates": TEMPLATES, "callback_secret": SMS_CALLBACK_SECRET, **changes})


# ---------------- mainland SMS scenarios: qingling doctor

def test_doctor_names_what_a_half_configured_gateway_lacks(make_settings, provider, api):
    sections = provider.settings(api.url)
    assert check_sms(make_settings(**sections)).ok
    # the secret stays out of terminal logs
    assert SMS_CALLBACK_SECRET not in check_sms(make_settings(**sections)).detail
    bare = check_sms(make_settings(sms=sections["sms"]))
    assert not bare.ok and f"QINGLING_{provider.name.upper()}_" in bare.detail
    short = check_sms(make_settings(**{**sections, "sms": replace(sections["sms"], callback_secret="short")}))
    assert not short.ok and "QINGLING_SMS_CALLBACK_SECRET" in short.detail
    only_replies = replace(sections["sms"], templates=(("reply", REPLY_TEMPLATE), ("worker_received", "1")))
    uncovered = check_sms(make_settings(**{**sections, "sms": only_replies}))
    assert not uncovered.ok and "worker_resolved" in uncovered.detail and "worker_received" not in uncovered.detail
    bad_ips = replace(sections["sms"], callback_allowed_ips=("300.1.1.1",))
    assert not check_sms(make_settings(**{**sections, "sms": bad_ips})).ok


# Aliyun's settings and push format, which other tests post in too.

ALIYUN_VARIABLES = ("c1", "c2", "c3")


def aliyun_settings(url: str) -> dict:
    return {"sms": mainland_sms(provider="aliyun", template_variables=ALIYUN_VARIABLES),
            "aliyun": AliyunSettings(access_key_id="LTAI5tTestKeyId", access_key_secret="aliyun-test-secret",
                                     sign_name="清零", endpoint=url)}


def aliyun_uplink(phone: str, text: str, n: int) -> dict:
    return {"phone_number": phone, "send_time": "2026-12-01 10:00:00", "content": text, "sign_name": "清零",
            "dest_code": "1234", "sequence_id": 880000 + n}


# ---------------------------------------------------------------- real headless Chromium
# The app served over HTTP on 127.0.0.1, a browser sized like a phone or an office screen.

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WECHAT_UA = ("Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MicroMessenger/8.0.47")
SCREENSHOTS = Path(tempfile.gettempdir())


@contextlib.contextmanager
def serving(app):
    """The app on 127.0.0.1 at a free port, in a thread, as a phone would reach it."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join()


def console_login(driver, server: str, username: str) -> None:
    """Log in to the console through its form, as a clerk would, and wait for the logged-in page."""
    driver.get(f"{server}/console/login")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 15).until(expected_conditions.presence_of_element_located((By.CLASS_NAME, "nav")))


@contextlib.contextmanager
def chromium(width: int, height: int, phone: bool):
    """Debian's chromium through its chromedriver; `phone` emulates WeChat's browser on an Android phone."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    assert not missing, f"install Debian's chromium and chromium-driver (missing {', '.join(missing)})"
    profile = tempfile.mkdtemp(prefix="qingling-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", f"--user-data-dir={profile}", f"--window-size={width},{height}",
                     "--lang=zh-CN"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # driver.get_log("browser"): CSP reports
    if phone:
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2}, "userAgent": WECHAT_UA})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# ---------------------------------------------------------------- a PostgreSQL cluster of a test's own
# In a temporary directory on a free port, that the test may stop and restart at will: the shared server
# (QINGLING_TEST_DATABASE_URL) must never be. It runs in both CI passes.
#
# initdb and postgres refuse to run as root, and CI runs as root: then they run as the postgres user, which owns
# the directory.

START_WAIT = 30


def bin_dir() -> Path:
    """The server's programs: pg_config's answer, else the newest /usr/lib/postgresql/<version>/bin."""
    if shutil.which("pg_config"):
        found = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
        if (found / "initdb").exists():
            return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise RuntimeError("no PostgreSQL server programs (initdb) found: install the postgresql package")
    return Path(candidates[-1]).parent


class PrivateCluster:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="qingling-pg-"))  # not under pytest's root-only directory
        self.data = self.dir / "data"
        self.port = free_port()
        self.bin = bin_dir()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run([*self.as_postgres, str(self.bin / program), *args], capture_output=True,
                                text=True, timeout=START_WAIT + 10)
        if result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed: {result.stdout}{result.stderr}")

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", *args, "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", str(START_WAIT),
                  "-o", options)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale",
                  "--no-sync")
        self.start()

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def restart_immediately(self) -> None:
        """A crash and a start: every connection dropped, open transactions lost, committed ones kept."""
        self._pg_ctl("restart", "-m", "immediate")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sql_text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)

    def remove(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        except RuntimeError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)
