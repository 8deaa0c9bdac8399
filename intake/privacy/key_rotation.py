"""Re-encrypt every stored phone and ID number, and every file's original, under the current data key, and re-key
the numbers' lookup hashes.

Run while the old key is still configured as a previous key, so every process reads both meanwhile. Rows go in id
order, one transaction per batch: an interrupted run has lost at most one batch's work, and a re-run skips what is
already under the current key. Old ciphertexts stay readable throughout.

What is encrypted: the complainants' and claim lines' numbers (with their lookup hashes), the number an outbox row texts and a sealed
text in its payload, what a conversation's draft keeps sealed, and the originals of stored files (read a few at a
time: each may be megabytes). Chat identities
(intake.foundation.encryption.identity) are keyed by the secret key, not the data keys, so they stay as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from sqlalchemy import LargeBinary, Table, Text, select, true, type_coerce, update
from sqlalchemy.orm import Session, sessionmaker

from intake.conversation.draft import sealed_mapped, sealed_tokens
from intake.delivery.outbox import SEALED_TEXT
from intake.foundation import encryption
from intake.foundation.models import Attachment, ClaimLine, Complainant, Conversation, Outbox

# Per table of people, each encrypted column -> the lookup hash kept beside it (None: looked up by nothing).
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


def _rekeyed(row, columns: dict[str, str | None]) -> dict:
    """A complainant's or claim line's changes: each old token re-encrypted, its lookup hash re-keyed."""
    changes: dict = {}
    for name, hash_name in columns.items():
        token = row[name]
        if token is None or encryption.is_current(token):
            continue
        value = encryption.decrypt(token)
        changes[name] = _raw(encryption.encrypt(value))
        if hash_name is not None:
            changes[hash_name] = encryption.lookup_hash(value)
    return changes


def _outbox(row) -> dict:
    changes: dict = {}
    token, payload = row["phone"], row["payload"] or {}
    if token is not None and not encryption.is_current(token):
        changes["phone"] = _raw(encryption.encrypt(encryption.decrypt(token)))
    if payload.get(SEALED_TEXT) and not encryption.is_current(payload[SEALED_TEXT]):
        changes["payload"] = payload | {SEALED_TEXT: encryption.encrypt(encryption.decrypt(payload[SEALED_TEXT]))}
    return changes


def _conversation(row) -> dict:
    if all(encryption.is_current(token) for token in sealed_tokens(row["draft"])):
        return {}
    return {"draft": sealed_mapped(row["draft"], lambda token: encryption.encrypt(encryption.decrypt(token)))}


def _original(row) -> dict:
    sealed = row["original"]
    if encryption.is_current(sealed):
        return {}
    return {"original": type_coerce(encryption.encrypt_bytes(encryption.decrypt_bytes(sealed)), LargeBinary)}


def _raw(token: str) -> Any:
    """A token written as it is: the column's type would encrypt it again."""
    return type_coerce(token, Text)


def _ciphertext(table: Table, name: str, stored_as: Any = Text) -> Any:
    """An encrypted column as stored: the token, not the value the column type would decrypt."""
    return type_coerce(table.c[name], stored_as).label(name)


_OUTBOX, _CONVERSATIONS, _ATTACHMENTS = Outbox.__table__, Conversation.__table__, Attachment.__table__
ORIGINALS_PER_BATCH = 10
# Each table with encrypted values: what to read of a row, the changes the row needs, which rows hold any, and at
# most how many rows a batch reads.
TABLES: tuple[tuple[Table, tuple[Any, ...], Callable[[Any], dict], Any, int | None], ...] = (
    *((table, tuple(_ciphertext(table, name) for name in columns), partial(_rekeyed, columns=columns), true(), None)
      for table, columns in ENCRYPTED.items()),
    (_OUTBOX, (_ciphertext(_OUTBOX, "phone"), _OUTBOX.c.payload), _outbox, true(), None),
    (_CONVERSATIONS, (_CONVERSATIONS.c.draft,), _conversation, true(), None),
    (_ATTACHMENTS, (_ciphertext(_ATTACHMENTS, "original", LargeBinary),), _original,
     _ATTACHMENTS.c.original.is_not(None), ORIGINALS_PER_BATCH),
)


def rotate_keys(sessions: sessionmaker[Session], batch_size: int,
                progress: Callable[[RotationReport], None] = lambda report: None) -> RotationReport:
    """A value that no configured key opens stops the run (DataKeyError) with its batch rolled back."""
    report = RotationReport()
    for table, columns, changes, holding, most in TABLES:
        last_id = 0
        while True:
            with sessions.begin() as session:
                rows = session.execute(select(table.c.id, *columns).where(table.c.id > last_id, holding)
                                       .order_by(table.c.id).limit(min(batch_size, most or batch_size))
                                       .with_for_update()).all()
                for row in rows:
                    found = changes(row._mapping)
                    if found:
                        session.execute(update(table).where(table.c.id == row.id).values(found))
                        report.rotated += 1
            if not rows:
                break
            report.rows += len(rows)
            last_id = rows[-1].id
            progress(report)
    return report
