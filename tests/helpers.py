"""What the tests share that is not a fixture (those are in conftest.py): constants, steps through the app,
threads serving fake HTTP servers, real browsers, a private PostgreSQL cluster.

Test modules import from here and never from each other.
"""
from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from argon2 import PasswordHasher
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from sqlalchemy import create_engine, select, text
from werkzeug.serving import make_server

from intake.foundation.models import Complaint, StaffUser
from intake.registry.directory import department

# ---------------------------------------------------------------- pages

def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


# ---------------------------------------------------------------- threads and ports

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def flashed(client, response) -> str:
    """The page a redirect leads to, as text (where the flash message is shown)."""
    return client.get(response.headers["Location"]).get_data(as_text=True)


def reload(session, complaint: Complaint) -> Complaint:
    session.expire_all()
    return session.scalar(select(Complaint).where(Complaint.id == complaint.id))


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
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)

    def remove(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        except RuntimeError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)
