"""The sites' payroll records, imported from a CSV / XLSX file or pushed by a bank or platform through the API.

Three kinds, each with documented columns (Chinese headers, English aliases): the real-name roster (实名制), the
monthly attendance, and the wage account statement (工资专用账户: labour-cost deposits 人工费拨付, payroll
payouts 代发, wage guarantee deposits 工资保证金, and the owner's progress payments 工程款拨付 to the contractor,
which the labour-cost deposits are measured against). Records are keyed (roster and attendance by worker and
month, statement lines by the bank's serial number or a digest of the line), so importing the same records
twice changes nothing. Any bad record rejects the whole import, each error named by row and column. Workers are
named by the keyed hash of their ID number; only the roster holds the number itself, encrypted. Operations
flush and never commit.
"""
from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.foundation.encryption import lookup_hash
from intake.foundation.models import AppState, Attendance, RosterEntry, Site, WageAccountEntry, utcnow
from intake.foundation.validation import mask_id_number, normalise_id_number, normalise_phone
from intake.registry.sites import (
    MAX_COLUMNS,
    MAX_ROWS,
    Column,
    RowError,
    SiteFileError,
    cell_value,
    header_name,
    parse_date,
    plain,
    read_records,
    shown,
)

ROSTER, ATTENDANCE, ACCOUNT = "roster", "attendance", "account"
DEPOSIT, PAYOUT, GUARANTEE, PROGRESS = "deposit", "payout", "guarantee", "progress"
# The local day the indicators were last evaluated on, or a token after new records (intake.warnings.ledger).
EVALUATED_KEY = "warnings.evaluated_on"

COLUMNS: Mapping[str, tuple[Column, ...]] = {
    ROSTER: (Column("name", "姓名", required=True), Column("id_number", "身份证号", required=True),
             Column("phone", "手机号"), Column("team", "班组"), Column("subcontractor", "分包单位"),
             Column("start_date", "进场日期"), Column("end_date", "退场日期")),
    ATTENDANCE: (Column("id_number", "身份证号", required=True), Column("month", "月份", required=True),
                 Column("days", "出勤天数", required=True), Column("daily_wage", "日工资"),
                 Column("monthly_wage", "月工资")),
    ACCOUNT: (Column("kind", "类型", required=True), Column("day", "日期", required=True),
              Column("amount", "金额", required=True), Column("payer", "拨付单位"), Column("id_number", "身份证号"),
              Column("ref", "流水号")),
}
KIND_LABELS = {ROSTER: "实名制花名册", ATTENDANCE: "考勤", ACCOUNT: "工资专用账户流水"}
_ENTRY_KINDS = {"人工费拨付": DEPOSIT, "拨付": DEPOSIT, "人工费": DEPOSIT, "deposit": DEPOSIT,
                "工资代发": PAYOUT, "代发": PAYOUT, "发放": PAYOUT, "payout": PAYOUT,
                "工资保证金": GUARANTEE, "保证金": GUARANTEE, "guarantee": GUARANTEE,
                "工程款拨付": PROGRESS, "工程款": PROGRESS, "进度款": PROGRESS, "工程进度款": PROGRESS,
                "progress": PROGRESS}
_MONTH = re.compile(r"(\d{4})[-/.年](\d{1,2})月?(?:[-/.]\d{1,2}日?)?")


class PayrollError(ValueError):
    """The import as a whole cannot be taken (unknown kind or site, unusable file); the message is for staff."""


@dataclass
class PayrollReport:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def summary(self) -> str:
        if self.errors:
            return f"{KIND_LABELS[self.kind]}有 {len(self.errors)} 处错误，未导入任何记录：请修正后重新导入。"
        return (f"{KIND_LABELS[self.kind]}：新增 {self.created} 条，更新 {self.updated} 条，"
                f"无变化 {self.unchanged} 条。")


def site_by_code(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == unicodedata.normalize("NFKC", (code or "").strip())))
    if site is None:
        raise PayrollError(f"未知的项目编号“{shown(code)}”")
    return site


def import_file(session: Session, site: Site, kind: str, filename: str, content: bytes,
                now: datetime | None = None) -> PayrollReport:
    """A CSV (UTF-8 or GB18030) or XLSX file of one kind for one site; raises PayrollError for an unusable file."""
    columns = _columns(kind)
    headers = {name: c.attr for c in columns for name in (c.header, c.attr, c.alias) if name}
    keys: list[str | None] | None = None
    rows: list[tuple[int, dict[str, Any]]] = []
    warnings: list[str] = []
    try:
        for number, record in enumerate(read_records(filename, content), start=1):
            if number > MAX_ROWS:
                raise PayrollError(f"文件超过 {MAX_ROWS} 行，请拆分成几个文件再导入")
            cells = [cell_value(value) for value in itertools.islice(record, MAX_COLUMNS)]
            if all(cell == "" for cell in cells):
                continue
            if keys is None:
                keys = [headers.get(header_name(str(cell))) for cell in cells]
                warnings += [f"未识别的列“{shown(cell)}”，已忽略" for cell, key in zip(cells, keys) if key is None and cell]
                continue
            rows.append((number, {key: cells[i] if i < len(cells) else "" for i, key in enumerate(keys) if key}))
    except SiteFileError as exc:
        raise PayrollError(str(exc)) from exc
    if keys is None or not rows:
        raise PayrollError("文件没有数据行（表头须在第一行）")
    missing = [c.header for c in columns if c.required and c.attr not in keys]
    if missing:
        raise PayrollError(f"缺少必填列：{'、'.join(missing)}（表头须在第一行）")
    report = import_records(session, site, kind, rows, now)
    report.warnings = warnings
    return report


def import_records(session: Session, site: Site, kind: str, rows: Sequence[tuple[int, Mapping[str, Any]]],
                   now: datetime | None = None) -> PayrollReport:
    """Records as (row number, {attribute: value}); with any bad record nothing is imported."""
    columns = _columns(kind)
    report = PayrollReport(kind)
    roster = _roster_hashes(session, site) if kind != ROSTER else set()
    checked: list[dict[str, Any]] = []
    first: dict[Any, int] = {}
    for number, raw in rows:
        values, errors = _check(kind, columns, number, raw, roster)
        key = None if errors else _KEYS[kind](values)
        if key is not None and key in first:
            errors.append(RowError(number, "", f"与第{first[key]}行重复"))
        elif key is not None:
            first[key] = number
        report.errors += errors
        checked.append(values)
    if report.errors:
        return report
    _STORE[kind](session, site, checked, report, now or utcnow())
    if report.created or report.updated:
        mark_changed(session)
    session.flush()
    return report


def mark_changed(session: Session) -> None:
    """Tell the worker the records changed: a fresh token in the evaluation mark. An evaluation running
    meanwhile finds its mark changed when it sets it (intake.warnings.ledger.run_due), so it does not claim
    these records as seen and the next pass evaluates again."""
    token = f"changed {uuid.uuid4().hex}"
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(AppState).values(key=EVALUATED_KEY, value=token, updated_at=utcnow())
                    .on_conflict_do_update(index_elements=["key"], set_={"value": token, "updated_at": utcnow()}))


def _columns(kind: str) -> tuple[Column, ...]:
    if kind not in COLUMNS:
        raise PayrollError(f"未知的数据类型“{shown(kind)}”，应为：{'、'.join(COLUMNS)}")
    return COLUMNS[kind]


def _check(kind: str, columns: tuple[Column, ...], number: int, raw: Mapping[str, Any],
           roster: set[str]) -> tuple[dict[str, Any], list[RowError]]:
    values: dict[str, Any] = {}
    errors: list[RowError] = []
    for column in columns:
        value = raw.get(column.attr, "")
        text = "" if value is None else str(value).strip()
        try:
            if not text:
                if column.required:
                    raise ValueError("不能为空")
                values[column.attr] = None
            else:
                values[column.attr] = _PARSERS.get(column.attr, _text)(value if isinstance(value, date) else text)
        except ValueError as exc:
            errors.append(RowError(number, column.header, str(exc)))
    worker = values.get("id_number")
    if kind == ACCOUNT and not errors and values["kind"] == PAYOUT and worker is None:
        errors.append(RowError(number, "身份证号", "工资代发须填写收款工人的身份证号"))
    if kind != ROSTER and worker is not None and lookup_hash(worker) not in roster:
        errors.append(RowError(number, "身份证号", "该工人不在本项目的实名制花名册中，请先导入花名册"))
    return values, errors


def _text(text: str) -> str:
    if len(text) > 100:
        raise ValueError(f"内容过长（{len(text)}个字，最多100个字）")
    return text


def _id_number(raw: str) -> str:
    return normalise_id_number(raw) or _fail(f"身份证号“{shown(raw)}”无效，应为18位且校验位正确")


def _phone(raw: str) -> str:
    return normalise_phone(raw) or _fail(f"手机号“{shown(raw)}”无效，应为11位手机号")


def _month(raw: str | date) -> date:
    if isinstance(raw, date):
        return raw.replace(day=1)
    match = _MONTH.fullmatch(plain(raw))
    if match and 1 <= int(match.group(2)) <= 12:
        return date(int(match.group(1)), int(match.group(2)), 1)
    return _fail(f"月份“{shown(raw)}”无效，应写成2026-11或2026年11月")


def _whole(limit: int, what: str) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        text = plain(raw).replace(",", "")
        if text.isdigit() and int(text) <= limit:
            return int(text)
        return _fail(f"{what}“{shown(raw)}”无效，应为0到{limit}之间的整数")
    return parse


def _amount(raw: str) -> int:
    """Yuan, rounded to whole yuan as Qingling keeps every sum; commas and a trailing 元 are fine."""
    text = plain(raw).replace(",", "").removesuffix("元")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value <= 0 or value >= 10 ** 12:
        return _fail(f"金额“{shown(raw)}”无效，应为大于0的数字（元）")
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _entry_kind(raw: str) -> str:
    return _ENTRY_KINDS.get(unicodedata.normalize("NFKC", raw).strip().lower()) or _fail(
        f"类型“{shown(raw)}”无效，应为“人工费拨付”“工资代发”“工资保证金”或“工程款拨付”")


def _ref(raw: str) -> str:
    text = plain(raw)
    return text if len(text) <= 64 else _fail("流水号过长（最多64个字符）")


def _fail(reason: str):
    raise ValueError(reason)


_PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "id_number": _id_number, "phone": _phone, "start_date": parse_date, "end_date": parse_date, "day": parse_date,
    "month": _month, "days": _whole(31, "出勤天数"), "daily_wage": _whole(100_000, "日工资"),
    "monthly_wage": _whole(1_000_000, "月工资"), "amount": _amount, "kind": _entry_kind, "ref": _ref,
    "subcontractor": lambda text: text[:300] if len(text) <= 300 else _fail("内容过长（最多300个字）"),
}


def _roster_hashes(session: Session, site: Site) -> set[str]:
    return set(session.scalars(select(RosterEntry.id_number_hash).where(RosterEntry.site_id == site.id)))


def _count(report: PayrollReport, row: Any, values: Mapping[str, Any], session: Session, new: Callable[[], Any],
           now: datetime | None = None) -> None:
    """Insert `new()` when there is no row, update a row that differs, count an identical one as unchanged."""
    if row is None:
        session.add(new())
        report.created += 1
    elif all(getattr(row, attr) == value for attr, value in values.items()):
        report.unchanged += 1
    else:
        for attr, value in values.items():
            setattr(row, attr, value)
        if now is not None:
            row.updated_at = now
        report.updated += 1


def _store_roster(session: Session, site: Site, records: list[dict[str, Any]], report: PayrollReport,
                  now: datetime) -> None:
    existing = {r.id_number_hash: r for r in session.scalars(select(RosterEntry).where(RosterEntry.site_id == site.id))}
    for values in records:
        fields = {k: values[k] for k in ("name", "phone", "team", "subcontractor", "start_date", "end_date")}
        _count(report, existing.get(lookup_hash(values["id_number"])), fields, session, lambda: RosterEntry(
            site_id=site.id, id_number=values["id_number"], id_number_masked=mask_id_number(values["id_number"]),
            updated_at=now, **fields), now)


def _store_attendance(session: Session, site: Site, records: list[dict[str, Any]], report: PayrollReport,
                      now: datetime) -> None:
    existing = {(a.worker_hash, a.month): a
                for a in session.scalars(select(Attendance).where(Attendance.site_id == site.id))}
    for values in records:
        worker = lookup_hash(values["id_number"])
        fields = {k: values[k] for k in ("days", "daily_wage", "monthly_wage")}
        _count(report, existing.get((worker, values["month"])), fields, session,
               lambda: Attendance(site_id=site.id, worker_hash=worker, month=values["month"], **fields))


def _store_account(session: Session, site: Site, records: list[dict[str, Any]], report: PayrollReport,
                   now: datetime) -> None:
    known = set(session.scalars(select(WageAccountEntry.ref).where(WageAccountEntry.site_id == site.id)))
    for values in records:
        worker = lookup_hash(values["id_number"]) if values["id_number"] else None
        ref = values["ref"] or hashlib.sha256("|".join(
            str(v) for v in (values["kind"], values["day"], values["amount"], values["payer"], worker)
        ).encode()).hexdigest()
        if ref in known:
            report.unchanged += 1
            continue
        known.add(ref)
        session.add(WageAccountEntry(site_id=site.id, kind=values["kind"], day=values["day"], amount=values["amount"],
                                     payer=values["payer"], worker_hash=worker, ref=ref))
        report.created += 1


_KEYS: Mapping[str, Callable[[dict[str, Any]], Any]] = {
    ROSTER: lambda v: v["id_number"], ATTENDANCE: lambda v: (v["id_number"], v["month"]),
    ACCOUNT: lambda v: v["ref"]}
_STORE = {ROSTER: _store_roster, ATTENDANCE: _store_attendance, ACCOUNT: _store_account}
