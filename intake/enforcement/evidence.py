"""Evidence that holds: recompute each case's hash chain (intake.foundation.chain) and each stored file's SHA-256,
and report every place where what is stored no longer matches what was sealed.

The chain is walked by its links, not by row ids, so the order in which a batch's rows got their ids does not
matter; a fork (two events naming the same predecessor), an event the walk never reaches, an edited event, an
unsealed event after the chain began, or a file whose bytes or hash changed is each a finding. So is a file's
original (kept sealed with the data key beside the cleaned copy) that no longer opens, whose bytes or hash changed,
or whose time of receipt is not the one the chain registered.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.foundation.chain import event_hash
from intake.foundation.encryption import DataKeyError
from intake.foundation.models import Attachment, Complaint, Event, EventKind
from intake.foundation.transitions import received_text


@dataclass(frozen=True)
class Finding:
    ticket_no: str
    what: str


@dataclass(frozen=True)
class Report:
    cases: int
    events: int
    files: int
    findings: list[Finding]


def _chain_findings(events: list[Event]) -> Iterator[str]:
    sealed = [e for e in events if e.hash is not None]
    if not sealed:
        return
    first_sealed = min(e.id for e in sealed)
    for event in events:
        if event.hash is None and event.id > first_sealed:
            yield f"事件 {event.id}（{event.kind}）没有哈希，是在存证链开始后写入的"
    for event in sealed:
        if event_hash(event) != event.hash:
            yield f"事件 {event.id}（{event.kind}）的内容与其哈希不符，已被改动"
    by_prev: dict[str | None, list[Event]] = {}
    for event in sealed:
        by_prev.setdefault(event.prev_hash, []).append(event)
    reached, head = 0, None  # the first sealed event follows the unsealed past, whose head is no hash
    while head in by_prev:
        following = by_prev.pop(head)
        if len(following) > 1:
            yield f"事件 {', '.join(str(e.id) for e in following)} 接在同一个前序事件之后，链条分叉"
        reached += len(following)
        head = following[0].hash
    if reached < len(sealed):
        known = {e.hash for e in sealed}
        for event in sorted((e for rest in by_prev.values() for e in rest), key=lambda e: e.id):
            if event.prev_hash not in known:
                yield f"事件 {event.id} 接不上存证链：它的前序事件已被删除或改动"


def original_of(attachment: Attachment) -> bytes | None:
    """The file as it was received: the sealed original opened, or the cleaned copy when the two are the same;
    None when no original was kept (stored before originals were). DataKeyError when it does not open."""
    if attachment.original_sha256 is None:
        return None
    return attachment.original if attachment.original is not None else attachment.content


def _file_findings(complaint: Complaint, events: list[Event], files: list[Attachment]) -> Iterator[str]:
    stored = {e.data.get("attachment_id"): e.data for e in events
              if e.kind == EventKind.EVIDENCE_STORED and e.hash is not None}
    present = {f.id for f in files}
    for attachment in files:
        if not attachment.content:
            continue
        actual = hashlib.sha256(attachment.content).hexdigest()
        if actual != attachment.sha256:
            yield f"文件 {attachment.id}（{attachment.filename}）的内容与记录的 SHA-256 不符"
        if attachment.id in stored and stored[attachment.id].get("sha256") != actual:
            yield f"文件 {attachment.id}（{attachment.filename}）与存证链中登记的 SHA-256 不符"
        yield from _original_findings(attachment, stored.get(attachment.id, {}))
    if complaint.anonymised_at is None:
        for attachment_id in sorted(set(stored) - present):
            yield f"存证链登记的文件 {attachment_id} 已不存在"


def _original_findings(attachment: Attachment, sealed: dict) -> Iterator[str]:
    label = f"文件 {attachment.id}（{attachment.filename}）的原件"
    if "original_sha256" not in sealed and attachment.original_sha256 is None:
        return  # stored before originals were kept
    try:
        original = original_of(attachment)
    except DataKeyError:
        yield f"{label}无法解密：已被改动，或不是用已配置的数据密钥加密的"
        return
    actual = hashlib.sha256(original).hexdigest() if original is not None else None
    if actual != attachment.original_sha256:
        yield f"{label}与记录的 SHA-256 不符"
    if "original_sha256" in sealed and sealed["original_sha256"] != actual:
        yield f"{label}与存证链中登记的 SHA-256 不符"
    if "received_at" in sealed and sealed["received_at"] != received_text(attachment.received_at):
        yield f"{label}的收到时间与存证链中登记的不符"


def verify(session: Session, ticket_no: str | None = None, batch_size: int = 200) -> Report:
    """Check one case (by ticket) or every case, a batch of cases at a time; reads only."""
    query = select(Complaint).order_by(Complaint.id)
    if ticket_no is not None:
        query = query.where(Complaint.ticket_no == ticket_no)
    cases = events_seen = files_seen = 0
    findings: list[Finding] = []
    for complaint in session.scalars(query.execution_options(yield_per=batch_size)):
        events = list(session.scalars(select(Event).where(Event.complaint_id == complaint.id).order_by(Event.id)))
        files = list(session.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id)))
        cases, events_seen, files_seen = cases + 1, events_seen + len(events), files_seen + len(files)
        findings += [Finding(complaint.ticket_no, what) for what in
                     [*_chain_findings(events), *_file_findings(complaint, events, files)]]
    return Report(cases, events_seen, files_seen, findings)
