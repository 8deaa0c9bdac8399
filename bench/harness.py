"""What the benches that drive the real app over HTTP share: a gunicorn server on 127.0.0.1 against a fresh
bench database, the app's environment, and requests signed exactly as WeChat (safe mode) and Twilio sign them.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402
from wechatpy.crypto import WeChatCrypto  # noqa: E402
from wechatpy.utils import WeChatSigner  # noqa: E402

from intake.foundation.db import make_engine, recreate_postgres_database  # noqa: E402
from intake.registry.directory import load_directory  # noqa: E402
from intake.runtime.sessions import make_session_factory  # noqa: E402
from migrations import upgrade  # noqa: E402

TOKEN, AES_KEY, APP_ID = "bench-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxbench"
AUTH_TOKEN, FROM = "bench-auth-token", "+15005550006"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SECRET_KEY = "b" * 32  # the servers' data key is derived from it (no QINGLING_PRIVACY_DATA_KEY in a bench)


def app_env(url: str, base: str) -> dict[str, str]:
    """The app's settings for a bench: the database, the public URL both providers sign, both channels on."""
    return {"QINGLING_DATABASE_URL": url, "QINGLING_PUBLIC_BASE_URL": base, "QINGLING_SECRET_KEY": SECRET_KEY,
            "QINGLING_WECHAT_TOKEN": TOKEN, "QINGLING_WECHAT_APP_ID": APP_ID, "QINGLING_WECHAT_APP_SECRET": "s",
            "QINGLING_WECHAT_ENCODING_AES_KEY": AES_KEY, "QINGLING_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "QINGLING_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "QINGLING_TWILIO_FROM_NUMBER": FROM}


def serve(app_spec: str, port: int, env: dict[str, str], workers: int = 2,
          chdir: Path = ROOT / "bench") -> subprocess.Popen:
    """gunicorn (sync workers) serving `app_spec` (imported from `chdir`) on 127.0.0.1:`port`, once it accepts
    connections."""
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(workers),
                                "--bind", f"127.0.0.1:{port}", "--chdir", str(chdir),
                                "--log-level", "warning",
                                # each server its own control socket: two at once would fight over the default
                                "--control-socket", str(Path(tempfile.gettempdir()) / f"qingling-bench-{port}.ctl"),
                                app_spec],
                               env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"gunicorn for {app_spec} did not start on port {port}")


def prepare_database(url: str) -> None:
    """A fresh database (PostgreSQL dropped and created; a SQLite file is new) with the schema and directory."""
    if url.startswith("postgresql"):
        recreate_postgres_database(url)
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine).begin() as session:
        load_directory(session)
    engine.dispose()


class Requests:
    """Builds signed requests exactly as the providers do; each call is one new message (a new id)."""

    def __init__(self, base: str):
        self.base = base
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
        self.validator = RequestValidator(AUTH_TOKEN)
        self.seq = 0

    def next_id(self) -> int:
        self.seq += 1
        return self.seq

    def sms(self, user: int | str, text: str) -> tuple[str, bytes, dict]:
        """A text from +86138<user, 8 digits>."""
        params = {"MessageSid": f"SM{uuid.uuid4().hex}", "From": f"+86138{int(user):08d}", "To": FROM, "Body": text}
        signature = self.validator.compute_signature(self.base + "/sms/twilio", params)
        return "/sms/twilio", urlencode(params).encode(), {
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}

    def wechat(self, user: int | str, text: str) -> tuple[str, bytes, dict]:
        """A text from the follower oBench<user, 8 digits>, in safe mode."""
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        xml = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{wechat_user(user)}]]>"
               f"</FromUserName><CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
               f"<Content><![CDATA[{text}]]></Content><MsgId>{self.next_id()}{int(user):06d}</MsgId></xml>")
        envelope = self.crypto.encrypt_message(xml, nonce, timestamp)
        msg_signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        signer = WeChatSigner()
        signer.add_data(TOKEN, timestamp, nonce)
        query = urlencode({"signature": signer.signature, "timestamp": timestamp, "nonce": nonce,
                           "encrypt_type": "aes", "msg_signature": msg_signature})
        return f"/wechat?{query}", envelope.encode(), {"Content-Type": "text/xml"}

    def wechat_reply(self, body: bytes) -> str:
        """The text of an encrypted passive reply."""
        xml = body.decode()
        signature = xml.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        timestamp = xml.split("<TimeStamp>")[1].split("</TimeStamp>")[0]
        nonce = xml.split("<Nonce><![CDATA[")[1].split("]]>")[0]
        plain = self.crypto.decrypt_message(xml, signature, timestamp, nonce)
        return plain.split("<Content><![CDATA[")[1].split("]]>")[0]


def wechat_user(user: int | str) -> str:
    return f"oBench{int(user):08d}"


def sms_user(user: int | str) -> str:
    """The number the app stores for +86138<user>."""
    return f"138{int(user):08d}"
