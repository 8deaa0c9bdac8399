"""A PostgreSQL cluster of a test's own, in a temporary directory on a free port, that the test may stop and
restart at will: the shared server (QINGLING_TEST_DATABASE_URL) must never be. It runs in both CI passes.

initdb and postgres refuse to run as root, and CI runs as root: then they run as the postgres user, which owns
the directory.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from test_contact_senders import free_port

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
