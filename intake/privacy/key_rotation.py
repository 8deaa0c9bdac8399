"""Re-encrypt every stored phone and ID number under the current data key, and re-key their lookup hashes.

Run while the old key is still configured as a previous key, so every process reads both meanwhile. Rows go
in id order, one transaction per batch: an interrupted run has lost at most one batch's work, and a re-run
skips what is already under the current key. Old ciphertexts stay readable throughout.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Text, select, type_coerce, update
from sqlalchemy.orm import Session, sessionmaker

from intake.foundation import encryption
from intake.foundation.models import ClaimLine, Complainant

# Per table, each encrypted column -> the lookup hash kept beside it (None: looked up by nothing).
ENCRYPTED = {
    Complainant.__table__: {"phone": "phone_hash", "id_number": "id_number_hash", "email": None},
    ClaimLine.__table__: {"phone": "phone_hash"},
}


@dataclass
class RotationReport:
    rows: int = 0
    rotated: int = 0

    @property
    def current(self) -> int:
        return self.rows - self.rotated


def rotate_keys(sessions: sessionmaker[Session], batch_size: int,
                progress: Callable[[RotationReport], None] = lambda report: None) -> RotationReport:
    """A value that no configured key opens stops the run (DataKeyError) with its batch rolled back."""
    report = RotationReport()
    for table, columns in ENCRYPTED.items():
        _rotate_table(sessions, table, columns, batch_size, report, progress)
    return report


def _rotate_table(sessions: sessionmaker[Session], table, columns: dict[str, str | None], batch_size: int,
                  report: RotationReport, progress: Callable[[RotationReport], None]) -> None:
    raw = [type_coerce(table.c[name], Text).label(name) for name in columns]
    last_id = 0
    while True:
        with sessions.begin() as session:
            rows = session.execute(select(table.c.id, *raw).where(table.c.id > last_id).order_by(table.c.id)
                                   .limit(batch_size).with_for_update()).all()
            if not rows:
                return
            for row in rows:
                changes = _rekeyed(row._mapping, columns)
                if changes:
                    session.execute(update(table).where(table.c.id == row.id).values(changes))
                    report.rotated += 1
        report.rows += len(rows)
        last_id = rows[-1].id
        progress(report)


def _rekeyed(row, columns: dict[str, str | None]) -> dict:
    changes: dict = {}
    for name, hash_name in columns.items():
        token = row[name]
        if token is None or encryption.is_current(token):
            continue
        value = encryption.decrypt(token)
        changes[name] = type_coerce(encryption.encrypt(value), Text)  # raw: the column type would encrypt again
        if hash_name is not None:
            changes[hash_name] = encryption.lookup_hash(value)
    return changes
