"""The site registry: import the project list (项目清单) from CSV or XLSX, list sites and their complaint links.

The import takes (filename, bytes) and returns a report, so the CLI and the administrators' web console share
one implementation and only format the report. Like the other operations it flushes and never commits.
By default a file with any bad row changes nothing (the administrator fixes the sheet and imports it again);
`partial=True` imports the good rows. Sites are keyed on their project code, so importing the same file twice
changes nothing, and a site's public token (the QR code on its notice board) never changes once issued.
"""
from __future__ import annotations

import csv
import io
import itertools
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

import openpyxl
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from intake.foundation.models import INVESTMENT_LABELS, Industry, Investment, Site
from intake.foundation.refcache import RefCache
from intake.foundation.settings import Settings
from intake.foundation.validation import normalise_phone
from intake.reading.extract import SiteRef

from .directory import find_jurisdiction

log = logging.getLogger(__name__)

TOKEN_BYTES = 16
_site_cache = RefCache(seconds=60.0)
MAX_ROWS = 100_000
MAX_COLUMNS = 100
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls, and encrypted .xlsx
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_QUERY_CHUNK = 500


class SiteFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, header); the message is for the user."""


@dataclass(frozen=True)
class Column:
    attr: str  # the Site attribute, also accepted as an English header
    header: str
    required: bool = False
    alias: str | None = None


COLUMNS = (
    Column("code", "项目编号", required=True),
    Column("name", "项目名称", required=True),
    Column("jurisdiction_code", "所在区县", required=True, alias="county"),
    Column("address", "详细地址"),
    Column("industry", "行业"),
    Column("investment", "投资类型"),
    Column("owner", "建设单位"),
    Column("general_contractor", "施工总承包单位"),
    Column("project_office", "总包项目部", alias="项目部"),
    Column("subcontractors", "分包单位"),
    Column("labour_manager", "劳资专管员"),
    Column("labour_manager_phone", "劳资专管员电话"),
    Column("start_date", "开工日期"),
    Column("pay_day", "工资发放日"),
    Column("minimum_wage", "最低工资标准"),
    Column("contract_amount", "合同价款", alias="施工合同额"),
    Column("aliases", "别名", alias="简称"),
)
_BY_ATTR = {c.attr: c for c in COLUMNS}
_HEADERS = {name: c.attr for c in COLUMNS for name in (c.header, c.attr, c.alias) if name}

_INDUSTRIES = {i.value: i.value for i in Industry} | {i.name.lower(): i.value for i in Industry} | {
    "房建": Industry.BUILDING.value, "房屋建筑工程": Industry.BUILDING.value, "市政工程": Industry.MUNICIPAL.value,
    "交通运输": Industry.TRANSPORT.value, "交通工程": Industry.TRANSPORT.value, "水利工程": Industry.WATER.value,
}
_INVESTMENTS = {i.value: i.value for i in Investment} | {v: k.value for k, v in INVESTMENT_LABELS.items()} | {
    "政府": Investment.GOVERNMENT.value, "国有企业投资": Investment.SOE.value, "国企": Investment.SOE.value,
    "民营": Investment.PRIVATE.value, "私营": Investment.PRIVATE.value,
}
_DEFAULTS = {"industry": Industry.OTHER.value, "investment": Investment.PRIVATE.value, "aliases": (),
             "subcontractors": ()}

_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\d{1,2}:\d{2}(?::\d{2})?)?")  # spaces removed
_PAY_DAY = re.compile(r"(?:每月)?(\d{1,2})[日号]?")
_LANDLINE = re.compile(r"0\d{9,11}")
_WAGE = re.compile(r"(\d{3,5})(?:元(?:/月|每月)?)?")


@dataclass(frozen=True)
class RowError:
    row: int  # as the user sees it in the spreadsheet: the header is row 1
    column: str  # the Chinese header; "" when the whole row is wrong
    reason: str

    def __str__(self) -> str:
        where = f" [{self.column}]" if self.column else ""
        return f"第{self.row}行{where} {self.reason}"


@dataclass(frozen=True)
class ParsedRow:
    row: int
    values: dict[str, str | date]  # Site attribute -> stripped text, or a date from an Excel date cell
    overflow: bool = False  # cells beyond the header: usually an unquoted comma in a CSV


@dataclass(frozen=True)
class ParseResult:
    columns: tuple[str, ...]  # the Site attributes present in the file, in file order
    rows: list[ParsedRow]
    warnings: list[str]


@dataclass
class ImportReport:
    filename: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    file_error: str | None = None
    codes: list[str] = field(default_factory=list)  # the sites the import created, updated or left unchanged

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def failed(self) -> bool:
        """Nothing was imported because the file or its rows are wrong."""
        return self.file_error is not None or (bool(self.errors) and self.accepted == 0)


def parse_sites(filename: str, content: bytes) -> ParseResult:
    """Read a CSV or XLSX project list into rows of stripped cells; raises SiteFileError for an unusable file."""
    keys: list[str | None] | None = None
    warnings: list[str] = []
    rows: list[ParsedRow] = []
    for number, record in enumerate(read_records(filename, content), start=1):
        if number > MAX_ROWS:  # a city's project list is thousands of rows; millions means a broken or hostile file
            raise SiteFileError(f"文件超过 {MAX_ROWS} 行，请拆分成几个文件再导入")
        cells = [cell_value(value) for value in itertools.islice(record, MAX_COLUMNS)]
        if all(cell == "" for cell in cells):
            continue
        if keys is None:
            keys = _read_header(cells, warnings)
            continue
        values = {key: cells[i] if i < len(cells) else "" for i, key in enumerate(keys) if key}
        rows.append(ParsedRow(number, values, overflow=any(cell != "" for cell in cells[len(keys):])))
    if keys is None:
        raise SiteFileError("文件是空的，没有表头和数据")
    if not rows:
        raise SiteFileError("文件只有表头，没有项目数据")
    return ParseResult(tuple(key for key in keys if key), rows, warnings)


def import_sites(session: Session, filename: str, content: bytes, partial: bool = False) -> ImportReport:
    """Create or update sites from a project list; with any bad row nothing is imported unless `partial`."""
    report = ImportReport(filename)
    try:
        parsed = parse_sites(filename, content)
    except SiteFileError as exc:
        report.file_error = str(exc)
        return report
    report.warnings = parsed.warnings
    good, report.errors = _check_rows(session, parsed)
    if report.errors and not partial:
        report.skipped = len(parsed.rows)
        return report
    report.skipped = len(parsed.rows) - len(good)
    report.codes = [values["code"] for values in good]
    existing = _sites_by_code(session, report.codes)
    for values in good:
        site = existing.get(values["code"])
        if site is None:
            session.add(Site(public_token=new_token(), **values))
            report.created += 1
        elif all(getattr(site, attr) == value for attr, value in values.items()):
            report.unchanged += 1
        else:
            for attr, value in values.items():
                setattr(site, attr, value)
            report.updated += 1
    session.flush()
    _site_cache.clear()
    log.info("site import %s: %d created, %d updated, %d unchanged, %d skipped", filename, report.created,
             report.updated, report.unchanged, report.skipped)
    return report


def list_sites(session: Session, county_code: str | None = None) -> list[Site]:
    query = select(Site).options(joinedload(Site.jurisdiction)).order_by(Site.jurisdiction_code, Site.code)
    if county_code:
        query = query.where(Site.jurisdiction_code == county_code)
    return list(session.scalars(query))


def site_refs(session: Session, county_code: str | None) -> tuple[SiteRef, ...]:
    """The sites the chat matches a worker's words against (a county's, or the city's): cached, since every chat
    turn needs them and the registry changes with an import now and then."""
    def load() -> tuple[SiteRef, ...]:
        query = select(Site.id, Site.name, Site.address, Site.jurisdiction_code, Site.aliases,
                       Site.general_contractor)
        if county_code:
            query = query.where(Site.jurisdiction_code == county_code)
        return tuple(SiteRef(str(i), n, a or "", c, tuple(al or ()), gc or "")
                     for i, n, a, c, al, gc in session.execute(query))

    return _site_cache.get(session, county_code, load)


def site_by_token(session: Session, token: str) -> Site | None:
    """The site behind a QR code; anything that is not a well-formed token is not even looked up."""
    if not _TOKEN.fullmatch(token or ""):
        return None
    return session.scalar(select(Site).where(Site.public_token == token))


def complaint_url(settings: Settings, site: Site) -> str:
    """The address behind the site's QR code: the complaint form with the site already known."""
    return settings.public_url(f"/s/{site.public_token}")


_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_token() -> str:
    """Unguessable, so nobody can enumerate sites or file complaints against a site they never worked on."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def read_records(filename: str, content: bytes) -> Iterable[Iterable[Any]]:
    if not content.strip():
        raise SiteFileError("文件是空的")
    if content.startswith(_ZIP_MAGIC):
        return _xlsx_records(content)
    if content.startswith(_OLE_MAGIC):
        raise SiteFileError("不支持旧版 Excel（.xls）或加密的文件，请另存为 .xlsx 或 CSV 后再导入")
    if PurePath(filename).suffix.lower() in {".xlsx", ".xlsm"}:
        raise SiteFileError("文件不是有效的 Excel（.xlsx）文件，可能已损坏")
    return _csv_records(_decode(content))


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM) as saved by most tools, else GB18030 as saved by Excel on Chinese Windows."""
    if b"\x00" not in content:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = content.decode(encoding)
            except UnicodeDecodeError:
                continue
            if not _CONTROL.search(text):
                return text
            break
    raise SiteFileError("无法识别的文件：请上传 CSV（UTF-8 或 GB18030 编码）或 Excel（.xlsx）文件")


def _csv_records(text: str) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        raise SiteFileError(f"CSV 格式错误（第{reader.line_num}行附近）：引号或分隔符不匹配") from exc


def _xlsx_records(content: bytes) -> Iterator[tuple[Any, ...]]:
    """The first worksheet's rows. openpyxl raises many different exceptions for a damaged file, hence the
    broad except: whatever it is, the user gets one clear message and no traceback."""
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:
        raise SiteFileError("无法读取 Excel 文件：文件已损坏或不是 .xlsx 格式") from exc
    try:
        yield from workbook.worksheets[0].iter_rows(values_only=True)
    except Exception as exc:
        raise SiteFileError("无法读取 Excel 文件：文件内容已损坏") from exc
    finally:
        workbook.close()


def cell_value(value: Any) -> str | date:
    """A cell as stripped text; Excel date cells stay dates and whole numbers lose the '.0' Excel gives them."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_header(cells: list[str | date], warnings: list[str]) -> list[str | None]:
    keys: list[str | None] = []
    for cell in cells:
        text = str(cell)
        key = _HEADERS.get(header_name(text))
        if key is not None and key in keys:
            raise SiteFileError(f"表头中“{_BY_ATTR[key].header}”列出现了不止一次")
        if key is None and text:
            warnings.append(f"未识别的列“{shown(text)}”，已忽略")
        keys.append(key)
    missing = [c.header for c in COLUMNS if c.required and c.attr not in keys]
    if missing:
        raise SiteFileError(f"缺少必填列：{'、'.join(missing)}（表头须在第一行）")
    return keys


def header_name(text: str) -> str:
    """'*项目编号', '最低工资标准（元/月）', ' Labour Manager Phone ' -> the name looked up in _HEADERS."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[(\[【].*?[)\]】]", "", text).replace("*", "").strip()
    return re.sub(r"\s+", "_", text.lower())


def _check_rows(session: Session, parsed: ParseResult) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Each row's Site values, or its errors; a repeated code is an error on the later rows."""
    counties: dict[str, str | None] = {}

    def county_code(text: str) -> str | None:
        if text not in counties:
            found = find_jurisdiction(session, unicodedata.normalize("NFKC", text))
            counties[text] = found.code if found is not None and found.parent_code is not None else None
        return counties[text]

    good: list[dict[str, Any]] = []
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    for row in parsed.rows:
        values, row_errors = _check_row(row, parsed.columns, county_code)
        if row.overflow:
            row_errors.insert(0, RowError(row.row, "", "该行的单元格比表头多，内容中的英文逗号可能未加引号"))
        code = values.get("code")
        if code in first_row:
            row_errors.append(RowError(row.row, _BY_ATTR["code"].header,
                                       f"项目编号“{shown(code)}”与第{first_row[code]}行重复"))
        elif code:
            first_row[code] = row.row
        if row_errors:
            errors += row_errors
        else:
            good.append(values)
    return good, errors


def _check_row(row: ParsedRow, columns: tuple[str, ...],
               county_code: Callable[[str], str | None]) -> tuple[dict[str, Any], list[RowError]]:
    values: dict[str, Any] = {}
    errors: list[RowError] = []
    for attr in columns:
        column = _BY_ATTR[attr]
        raw = row.values[attr]
        text = str(raw)
        try:
            if not text:
                if column.required:
                    raise ValueError("不能为空")
                default = _DEFAULTS.get(attr)
                values[attr] = list(default) if isinstance(default, tuple) else default
            elif attr == "jurisdiction_code":
                values[attr] = county_code(text) or _fail(
                    f"未知的区县“{shown(text)}”，请填写区县名称、简称或6位行政区划代码")
            elif attr in _PARSERS:
                values[attr] = _PARSERS[attr](raw)
            else:
                values[attr] = _text(attr, text)
        except ValueError as exc:
            errors.append(RowError(row.row, column.header, str(exc)))
    return values, errors


def _text(attr: str, text: str) -> str:
    if attr == "code":
        text = unicodedata.normalize("NFKC", text)
    limit = Site.__table__.c[attr].type.length
    if len(text) > limit:
        raise ValueError(f"内容过长（{len(text)}个字，最多{limit}个字）")
    return text


def _industry(raw: str | date) -> str:
    return _INDUSTRIES.get(plain(raw).lower()) or _fail(
        f"行业“{shown(raw)}”无效，应为：{'、'.join(i.value for i in Industry)}")


def _investment(raw: str | date) -> str:
    return _INVESTMENTS.get(plain(raw).lower()) or _fail(
        f"投资类型“{shown(raw)}”无效，应为：政府投资、国有企业、社会投资")


def _phone(raw: str | date) -> str:
    """A mobile as 11 digits; a landline as area code, dash, number (0539-8123456)."""
    mobile = normalise_phone(str(raw))
    if mobile:
        return mobile
    digits = re.sub(r"[\s\-()]", "", plain(raw))
    if _LANDLINE.fullmatch(digits):
        area = 3 if digits[1] in "12" else 4  # 010 and 02x are the three-digit area codes
        if len(digits) - area in (7, 8):
            return f"{digits[:area]}-{digits[area:]}"
    return _fail(f"电话号码“{shown(raw)}”无效，应为11位手机号或带区号的固定电话（如0539-8123456）")


def parse_date(raw: str | date) -> date:
    if isinstance(raw, date):
        return raw
    match = _DATE.fullmatch(plain(raw))
    if match:
        try:
            return date(*(int(part) for part in match.groups()))
        except ValueError:
            pass
    return _fail(f"日期“{shown(raw)}”无效，应写成2024-03-01、2024/3/1或2024年3月1日")


def _pay_day(raw: str | date) -> int:
    match = _PAY_DAY.fullmatch(plain(raw))
    if match and 1 <= int(match.group(1)) <= 31:
        return int(match.group(1))
    return _fail(f"工资发放日“{shown(raw)}”无效，应为1到31之间的日子，如15或每月15日")


def _minimum_wage(raw: str | date) -> int:
    match = _WAGE.fullmatch(plain(raw).replace(",", ""))
    if match:
        return int(match.group(1))
    return _fail(f"最低工资标准“{shown(raw)}”无效，应为每月多少元的整数，如2100")


def _contract_amount(raw: str | date) -> int:
    """Yuan, or 万元 when the cell says so ("1,200万"); whole yuan."""
    text = plain(raw).replace(",", "").removesuffix("元")
    scale = 10_000 if text.endswith("万") else 1
    number = text.removesuffix("万")
    if re.fullmatch(r"\d{1,13}(?:\.\d{1,4})?", number) and 0 < float(number) * scale < 10 ** 13:
        return round(float(number) * scale)
    return _fail(f"合同价款“{shown(raw)}”无效，应为金额（元），如35000000或3500万")


_ALIAS_SPLIT = re.compile(r"[、,，;；/|]+")
MAX_ALIASES = 10
MAX_ALIAS_CHARS = 30
MAX_SUBCONTRACTORS = 30
MAX_SUBCONTRACTOR_CHARS = 100


def _names(what: str, most: int, longest: int) -> Callable[[str | date], list[str]]:
    """Several names in one cell, separated by 、 , ; or /: "罗庄万达、万达广场"."""
    def parse(raw: str | date) -> list[str]:
        names = [n for n in (plain(part) for part in _ALIAS_SPLIT.split(str(raw))) if n]
        if len(names) > most:
            _fail(f"{what}最多{most}个，用顿号或逗号分隔")
        long = [n for n in names if len(n) > longest]
        if long:
            _fail(f"{what}“{shown(long[0])}”过长（最多{longest}个字）")
        return list(dict.fromkeys(names))
    return parse


_PARSERS = {"industry": _industry, "investment": _investment, "labour_manager_phone": _phone,
            "start_date": parse_date, "pay_day": _pay_day, "minimum_wage": _minimum_wage,
            "aliases": _names("别名", MAX_ALIASES, MAX_ALIAS_CHARS),
            "subcontractors": _names("分包单位", MAX_SUBCONTRACTORS, MAX_SUBCONTRACTOR_CHARS),
            "contract_amount": _contract_amount}


def plain(raw: str | date) -> str:
    """Full-width digits and letters to ASCII, spaces removed: how people type numbers in Chinese sheets."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(raw)))


def shown(raw: Any) -> str:
    """A cell quoted back in a message, cut short so a pasted essay does not flood the report."""
    text = str(raw)
    return text if len(text) <= 30 else text[:30] + "…"


def whole(raw: Any, low: int, high: int) -> int | None:
    """An optional whole number as people type it (全角 digits, thousands commas, 元 or 人); None when blank,
    ValueError (saying what was typed) when it is no whole number from low to high."""
    digits = plain(str(raw or "")).replace(",", "").removesuffix("元").removesuffix("人")
    if not digits:
        return None
    if not digits.isdigit() or not low <= int(digits) <= high:
        raise ValueError(f"“{shown(raw)}”不是{low}到{high}之间的整数")
    return int(digits)


def _fail(reason: str):
    raise ValueError(reason)


def _sites_by_code(session: Session, codes: list[str]) -> dict[str, Site]:
    """Existing sites for the file's codes, fetched in chunks so a huge file stays within parameter limits."""
    found: dict[str, Site] = {}
    for start in range(0, len(codes), _QUERY_CHUNK):
        chunk = codes[start:start + _QUERY_CHUNK]
        found.update((site.code, site) for site in session.scalars(select(Site).where(Site.code.in_(chunk))))
    return found
