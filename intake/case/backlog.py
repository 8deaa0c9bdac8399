"""陈案积案 and 摸排: cases that existed before this service (a county's old register of unfinished arrears cases)
and hidden arrears found in inspections, imported from one spreadsheet, so the 两个清零 figures and the ledger
count them.

A 摸排 row goes to the register of findings (intake.case.findings), not to the cases: its site (a registered site
of that name in the county, else the name as the place), employer, estimates and finder, found on its date, open
until staff make it a case or close it as resolved on the spot. Every other row becomes a complaint of channel
"backlog", dated when it was first received, handed to its department (待签收) and marked as imported, with its clocks computed from that date (intake.case.clocks.
start_clocks_from: overdue at once if the time has run out, without a card sent for it). The state it had in the
old register is kept as a fact on the case, not replayed: replaying 签收 and 受理 at import time would count them
as done on time. The worker is not messaged. A row names its original reference, so importing the same file again
adds nothing; with any bad row nothing is imported, and each bad row is reported with its column and what is wrong.
"""
from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import Channel, Complaint, Department, Finding, Site, Status
from intake.foundation.settings import Settings
from intake.foundation.transitions import transition
from intake.foundation.validation import normalise_phone
from intake.registry.directory import HRSS, department, find_jurisdiction, read_directory
from intake.registry.sites import SiteFileError, parse_date, plain, read_records, shown, whole

from .clocks import start_clocks_from
from .complaints import ROUTE_CLOCK, NewComplaint, create_complaint
from .findings import add_finding
from .timers import cancel_timers

ACTOR = "system:import"
SOURCES = {"陈案": Channel.BACKLOG.value, "积案": Channel.BACKLOG.value, "陈案积案": Channel.BACKLOG.value,
           "摸排": Channel.SURVEY.value}
# What a 摸排 row must name besides the columns every row needs: the register keeps who found whom.
SURVEY_REQUIRED = {"欠薪单位": "employer", "发现人": "found_by"}
# Header -> field; the starred ones are required.
COLUMNS = {"来源": "source", "原编号": "reference*", "收到日期": "received*", "所在区县": "county*",
           "承办部门": "department", "工人姓名": "name", "手机号": "phone", "项目名称": "project*",
           "欠薪单位": "employer", "人数": "workers", "欠薪金额": "amount", "原状态": "state", "情况": "text",
           "发现人": "found_by"}
MAX_ROWS = 5000
TEXT_MAX = 2000


@dataclass
class BacklogReport:
    created: list[str] = field(default_factory=list)  # the new tickets
    findings: int = 0  # new 摸排 findings in the register
    already: int = 0  # rows imported before (same source and original reference)
    errors: list[str] = field(default_factory=list)
    file_error: str | None = None

    @property
    def failed(self) -> bool:
        return self.file_error is not None or bool(self.errors)


class _RowError(ValueError):
    def __init__(self, column: str, reason: str):
        super().__init__(reason)
        self.column = column


def _whole(column: str, low: int, high: int) -> Callable[[str | None], int | None]:
    def parse(text: str | None) -> int | None:
        try:
            return whole(text, low, high)
        except ValueError as exc:
            raise _RowError(column, str(exc)) from None
    return parse


_WORKERS = _whole("人数", 1, 100_000)
_AMOUNT = _whole("欠薪金额", 1, 10_000_000_000)


def _department_kinds(directory_file: str | None) -> dict[str, str]:
    """承办部门 as people write it (人社局, 住建局, or the kind itself) -> the department kind."""
    kinds = read_directory(directory_file)["department_kinds"]
    return {name: kind for kind, spec in kinds.items() for name in (kind, spec.get("short_name", ""), spec["name_pattern"]
                                                                      .removeprefix("{unit}")) if name}


def _row(values: dict[str, str], session: Session, kinds: dict[str, str], today: date) -> dict[str, Any]:
    """One row's complaint, or _RowError naming the column and what is wrong."""
    source = SOURCES.get(values.get("source") or "陈案")
    if source is None:
        raise _RowError("来源", f"“{shown(values['source'])}”无效，应为陈案或摸排")
    for header, name in COLUMNS.items():
        if name.endswith("*") and not values.get(name.rstrip("*")):
            raise _RowError(header, "不能为空")
    for header, name in SURVEY_REQUIRED.items() if source == Channel.SURVEY.value else ():
        if not values.get(name):
            raise _RowError(header, "摸排线索必填")
    try:
        received = parse_date(values["received"])
    except ValueError as exc:
        raise _RowError("收到日期", str(exc)) from None
    if received > today:
        raise _RowError("收到日期", "不能晚于今天")
    county = find_jurisdiction(session, unicodedata.normalize("NFKC", values["county"]))
    if county is None or county.parent_code is None:
        raise _RowError("所在区县", f"未知的区县“{shown(values['county'])}”")
    kind = kinds.get(plain(values.get("department") or "") or HRSS)
    handler = department(session, county.code, kind) if kind else None
    if handler is None:
        raise _RowError("承办部门", f"{county.name}没有“{shown(values.get('department'))}”，应为人社局、住建局等")
    phone = None
    if values.get("phone"):
        phone = normalise_phone(values["phone"])
        if phone is None:
            raise _RowError("手机号", f"“{shown(values['phone'])}”不是11位手机号")
    for header, name in (("项目名称", "project"), ("欠薪单位", "employer"), ("情况", "text"), ("原状态", "state"),
                         ("发现人", "found_by")):
        if len(values.get(name) or "") > {"text": TEXT_MAX, "found_by": 100}.get(name, 300):
            raise _RowError(header, "内容过长")
    return {"source": source, "reference": values["reference"][:100], "received": received, "county": county.code,
            "department": handler, "phone": phone, "name": values.get("name") or None,
            "project": values["project"], "employer": values.get("employer") or None,
            "workers": _WORKERS(values.get("workers")), "amount": _AMOUNT(values.get("amount")),
            "state": values.get("state") or "", "text": values.get("text") or "", "found_by": values.get("found_by")}


def _parse(session: Session, filename: str, content: bytes, kinds: dict[str, str], today: date,
           report: BacklogReport) -> list[tuple[int, dict[str, Any]]]:
    records = iter(read_records(filename, content))
    header = [plain(str(h or "")) for h in next(records, [])]
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown or not header:
        raise SiteFileError(f"不认识的表头：{'、'.join(unknown) or '（空）'}。可用的表头：{'、'.join(COLUMNS)}")
    good, seen = [], {}
    for number, cells in enumerate(records, start=2):
        cells = ["" if c is None else c.isoformat() if isinstance(c, (date, datetime)) else str(c).strip()
                 for c in cells]
        if not any(cells):
            continue
        if number > MAX_ROWS + 1:
            raise SiteFileError(f"一次最多导入 {MAX_ROWS} 行")
        values = {COLUMNS[h].rstrip("*"): v for h, v in zip(header, cells) if h}
        try:
            row = _row(values, session, kinds, today)
        except _RowError as exc:
            report.errors.append(f"第{number}行 [{exc.column}] {exc}")
            continue
        key = (row["source"], row["reference"])
        if key in seen:
            report.errors.append(f"第{number}行 [原编号] “{shown(row['reference'])}”与第{seen[key]}行重复")
            continue
        seen[key] = number
        good.append((number, row))
    return good


def _start(calendar: WorkingCalendar, received: date) -> datetime:
    """The working day's start on the day the case was received: the most the old register tells of the time."""
    opening = calendar.periods[0][0] if calendar.periods else datetime.min.time()
    return datetime.combine(received, opening, calendar.timezone)


def import_backlog(session: Session, filename: str, content: bytes, settings: Settings, calendar: WorkingCalendar,
                   now: datetime) -> BacklogReport:
    """Import the file's cases; flushes, never commits. With any bad row nothing is imported."""
    report = BacklogReport()
    today = now.astimezone(calendar.timezone).date()
    try:
        rows = _parse(session, filename, content, _department_kinds(settings.directory_file or None), today, report)
    except SiteFileError as exc:
        report.file_error = str(exc)
        return report
    if report.errors:
        return report
    for _number, row in rows:
        if row["source"] == Channel.SURVEY.value:
            _register(session, row, today, report)
            continue
        complaint, created = create_complaint(session, NewComplaint(
            channel=row["source"], phone=row["phone"], name=row["name"], jurisdiction_code=row["county"],
            project_name=row["project"], workers=row["workers"] or 1, amount=row["amount"], free_text=row["text"],
            submission_key=hashlib.sha256(f"{row['source']}:{row['reference']}".encode()).hexdigest(),
            claim={"employer": row["employer"], "imported": {
                "reference": row["reference"], "received_on": row["received"].isoformat(), "state": row["state"],
                "found_by": row["found_by"], "file": filename[-200:]}}))
        if not created:
            report.already += 1
            continue
        _hand_over(session, complaint, row["department"], _start(calendar, row["received"]), row, settings,
                   calendar, now)
        report.created.append(complaint.ticket_no)
    return report


def _register(session: Session, row: dict[str, Any], today: date, report: BacklogReport) -> None:
    """A 摸排 row into the register of findings, unless its county already has its original number."""
    if session.scalar(select(Finding.id).where(Finding.jurisdiction_code == row["county"],
                                               Finding.reference == row["reference"])) is not None:
        report.already += 1
        return
    site = session.scalar(select(Site).where(Site.jurisdiction_code == row["county"], Site.name == row["project"])
                          .order_by(Site.id).limit(1))
    add_finding(session, county=row["county"], site=site, place=row["project"], employer=row["employer"],
                amount=row["amount"], workers=row["workers"], found_by=row["found_by"], found_on=row["received"],
                note=row["text"], actor=ACTOR, today=today, reference=row["reference"])
    report.findings += 1


def _hand_over(session: Session, complaint: Complaint, handler: Department, start: datetime, row: dict[str, Any],
               settings: Settings, calendar: WorkingCalendar, now: datetime) -> None:
    """Dated when first received, at its department, its clocks running from then."""
    cancel_timers(session, complaint, [ROUTE_CLOCK])
    complaint.created_at = start
    complaint.department_id = handler.id
    note = "；".join(part for part in (f"陈案导入，原编号{row['reference']}", f"{row['received'].isoformat()}收到",
                                       f"原状态：{row['state']}" if row["state"] else "",
                                       f"发现人：{row['found_by']}" if row["found_by"] else "") if part)
    transition(session, complaint, Status.ROUTED, actor=ACTOR, note=note, data={"imported": True})
    start_clocks_from(session, complaint, Status.ROUTED, start, now, calendar, settings.clocks)
