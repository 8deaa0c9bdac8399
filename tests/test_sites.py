"""The site registry: project-list import (CSV in three encodings, XLSX), row errors, idempotent re-import,
malformed files, and the `qingling sites` commands, on the real database."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from PIL import Image
from sqlalchemy import func, select

from handlers.cli import main
from intake.foundation.models import Site
from intake.reading.extract import extract_claim
from intake.registry.sites import RowError, complaint_url, import_sites, list_sites, parse_sites, site_refs

DATA = Path(__file__).parent / "data"
GOOD_CSV = (DATA / "sites_good.csv").read_text(encoding="utf-8")
HEADER = ["项目编号", "项目名称", "所在区县", "详细地址", "行业", "投资类型", "建设单位", "施工总承包单位",
          "劳资专管员", "劳资专管员电话", "开工日期", "工资发放日", "最低工资标准"]
GOOD_ROW = {"项目编号": "HD-001", "项目名称": "河东区人民医院新院区", "所在区县": "河东区", "行业": "房屋建筑",
            "投资类型": "政府投资", "劳资专管员电话": "13805391111", "开工日期": "2024-05-06", "工资发放日": "20"}


def csv_bytes(*rows: dict[str, str], header: list[str] = HEADER, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def row(**changes: str) -> dict[str, str]:
    return GOOD_ROW | changes


def count_sites(session) -> int:
    return session.scalar(select(func.count()).select_from(Site))


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for line in rows:
        workbook.active.append(line)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def cli(app, *args: str):
    return app.test_cli_runner().invoke(main, list(args))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_each_encoding_is_imported(session, encoding):
    report = import_sites(session, "清单.csv", GOOD_CSV.encode(encoding))

    assert (report.created, report.updated, report.unchanged, report.skipped) == (3, 0, 0, 0)
    assert report.errors == [] and report.file_error is None
    assert report.warnings == ["未识别的列“备注”，已忽略"]
    sites = {site.code: site for site in session.scalars(select(Site))}
    lanshan = sites["LS-2024-001"]
    assert (lanshan.name, lanshan.jurisdiction_code, lanshan.address) == ("阳光城三期住宅", "371302", "兰山区解放路18号")
    assert (lanshan.industry, lanshan.investment) == ("房屋建筑", "private")
    assert (lanshan.owner, lanshan.general_contractor) == ("临沂阳光置业有限公司", "山东建工集团有限公司")
    assert (lanshan.labour_manager, lanshan.labour_manager_phone) == ("张伟", "13905391234")
    assert (lanshan.start_date, lanshan.pay_day, lanshan.minimum_wage) == (date(2024, 3, 1), 15, 2100)
    luozhuang = sites["LZ-2024-002"]
    assert luozhuang.name == "罗庄区滨河路改造工程（一期，二标段）"
    assert (luozhuang.jurisdiction_code, luozhuang.industry, luozhuang.investment) == ("371311", "市政", "government")
    assert (luozhuang.labour_manager_phone, luozhuang.start_date) == ("0539-8123456", date(2024, 3, 1))
    assert luozhuang.pay_day == 15
    assert luozhuang.minimum_wage is None
    feixian = sites["371325-003"]
    assert (feixian.jurisdiction_code, feixian.industry, feixian.investment) == ("371325", "水利", "soe")
    assert (feixian.labour_manager_phone, feixian.start_date, feixian.pay_day) == ("0539-5123456", date(2024, 3, 1), 10)


def test_xlsx_with_an_excel_date_cell_and_number_cells(session):
    content = xlsx_bytes([
        [" code ", "name", "county", "*开工日期", "工资发放日（每月）", "labour_manager_phone", "最低工资标准【元】"],
        [],
        [20240001, "沂河新区安置房", "沂南", datetime(2024, 3, 1), 15, 13905391234, 2100],
        ["YS-02", "沂水县城南小学", "沂水县", "2024年3月1日", "每月15日", "0539-2212345", None],
    ])

    report = import_sites(session, "项目清单.xlsx", content)

    assert report.errors == [] and report.warnings == []
    assert report.created == 2
    site = session.scalar(select(Site).where(Site.code == "20240001"))
    assert (site.jurisdiction_code, site.start_date, site.pay_day) == ("371321", date(2024, 3, 1), 15)
    assert (site.labour_manager_phone, site.minimum_wage) == ("13905391234", 2100)
    assert (site.industry, site.investment) == ("其他", "private")
    assert session.scalar(select(Site.start_date).where(Site.code == "YS-02")) == date(2024, 3, 1)


def test_xlsx_row_numbers_are_the_spreadsheet_rows(session):
    content = xlsx_bytes([HEADER[:3], ["A-1", "甲", "兰山"], [], ["A-2", "乙", "火星区"]])

    report = import_sites(session, "x.xlsx", content)

    assert report.errors == [RowError(4, "所在区县", "未知的区县“火星区”，请填写区县名称、简称或6位行政区划代码")]


@pytest.mark.parametrize("column, value, reason", [
    ("项目编号", "", "不能为空"),
    ("项目编号", "X" * 65, "内容过长（65个字，最多64个字）"),
    ("项目名称", "", "不能为空"),
    ("项目名称", "工" * 301, "内容过长（301个字，最多300个字）"),
    ("所在区县", "", "不能为空"),
    ("所在区县", "火星区", "未知的区县“火星区”"),
    ("所在区县", "371300", "未知的区县“371300”"),  # the city itself is not a handling county
    ("详细地址", "路" * 501, "内容过长（501个字，最多500个字）"),
    ("行业", "农业", "行业“农业”无效"),
    ("投资类型", "外资", "投资类型“外资”无效"),
    ("建设单位", "公" * 301, "内容过长"),
    ("施工总承包单位", "司" * 301, "内容过长"),
    ("劳资专管员", "张" * 101, "内容过长"),
    ("劳资专管员电话", "12345", "电话号码“12345”无效"),
    ("劳资专管员电话", "1390539123", "电话号码"),
    ("开工日期", "2024-02-30", "日期“2024-02-30”无效"),
    ("开工日期", "去年春天", "日期“去年春天”无效"),
    ("工资发放日", "32", "工资发放日“32”无效"),
    ("工资发放日", "0", "工资发放日“0”无效"),
    ("工资发放日", "月底", "工资发放日“月底”无效"),
    ("最低工资标准", "两千", "最低工资标准“两千”无效"),
    ("别名", "、".join(f"名{i}" for i in range(11)), "别名最多10个"),
    ("别名", "万" * 31, "过长"),
])
def test_a_bad_row_is_reported_by_row_and_column_and_nothing_is_imported(session, column, value, reason):
    content = csv_bytes(row(**{"项目编号": "OK-1"}), row(**{"项目编号": "BAD-1", column: value}),
                        header=HEADER + ["别名"])

    report = import_sites(session, "清单.csv", content)

    assert [(e.row, e.column) for e in report.errors] == [(3, column)]
    assert reason in report.errors[0].reason
    assert str(report.errors[0]).startswith(f"第3行 [{column}] ")
    assert (report.created, report.skipped, report.failed) == (0, 2, True)
    assert count_sites(session) == 0


@pytest.mark.parametrize("column, value, attr, expected", [
    ("开工日期", "2024/3/1", "start_date", date(2024, 3, 1)),
    ("开工日期", "2024年3月1日", "start_date", date(2024, 3, 1)),
    ("开工日期", "2024-03-01 00:00:00", "start_date", date(2024, 3, 1)),
    ("工资发放日", "每月15日", "pay_day", 15),
    ("工资发放日", "１５号", "pay_day", 15),
    ("劳资专管员电话", "+86 139-0539-1234", "labour_manager_phone", "13905391234"),
    ("劳资专管员电话", "010-12345678", "labour_manager_phone", "010-12345678"),
    ("劳资专管员电话", "05398123456", "labour_manager_phone", "0539-8123456"),
    ("行业", "房建", "industry", "房屋建筑"),
    ("投资类型", "国企", "investment", "soe"),
    ("所在区县", "高新区", "jurisdiction_code", "371371"),
    ("最低工资标准", "2,100元", "minimum_wage", 2100),
    ("别名", "罗庄万达、万达广场，万达; 罗庄万达", "aliases", ["罗庄万达", "万达广场", "万达"]),
    ("简称", "", "aliases", []),
])
def test_value_variants_people_type_are_accepted(session, column, value, attr, expected):
    """(别名 and 简称 are one column: several names a cell, split on 、 , ; /.)"""
    report = import_sites(session, "清单.csv", csv_bytes(row(**{column: value}),
                                                        header=list(dict.fromkeys(HEADER + [column]))))

    assert report.errors == []
    assert getattr(session.scalar(select(Site)), attr) == expected


def test_aliases_town_and_contractor_find_the_site_in_the_chat(session):
    """What the dialogue matches against: the site file's aliases, the address's street and the contractor."""
    content = csv_bytes(
        row(**{"项目编号": "LZ-1", "项目名称": "罗庄区沂河路商业综合体", "所在区县": "罗庄", "详细地址": "罗庄区罗庄街道沂河路",
               "施工总承包单位": "中建八局第二建设有限公司", "别名": "罗庄万达、万达广场"}),
        row(**{"项目编号": "LS-2", "项目名称": "兰山区第二实验小学扩建工程", "所在区县": "兰山",
               "详细地址": "兰山区柳青街道北京路66号", "别名": "二实小"}),
        header=HEADER + ["别名"])
    report = import_sites(session, "清单.csv", content)
    assert (report.file_error, report.errors, report.created) == (None, [], 2)
    refs = site_refs(session, None)
    ids = {s.code: str(s.id) for s in session.scalars(select(Site))}

    def found(text):
        claim = extract_claim(text, refs)
        return claim.site.site_id if claim.site else None

    assert found("罗庄万达欠钱") == ids["LZ-1"]
    assert found("二实小的活") == ids["LS-2"]
    assert found("柳青街道那个学校") == ids["LS-2"]
    assert found("给中建八局干活") == ids["LZ-1"]
    assert found("在工地干活") is None


def test_several_bad_rows_via_cli_nothing_imported_then_partial(app, session, tmp_path):
    path = tmp_path / "清单.csv"
    path.write_bytes(csv_bytes(
        row(**{"项目编号": "G-1"}),
        row(**{"项目编号": "B-1", "所在区县": "火星区", "开工日期": "明年"}),
        row(**{"项目编号": "G-2", "项目名称": "兰山区某小区"}),
        row(**{"项目编号": "G-1", "项目名称": "重复的编号"}),
    ))

    result = cli(app, "sites", "import", str(path))

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert "第3行 [所在区县] 未知的区县“火星区”，请填写区县名称、简称或6位行政区划代码" in lines
    assert "第3行 [开工日期] 日期“明年”无效，应写成2024-03-01、2024/3/1或2024年3月1日" in lines
    assert "第5行 [项目编号] 项目编号“G-1”与第2行重复" in lines
    assert "清单.csv：新增 0 个，更新 0 个，无变化 0 个，跳过 4 个。" in lines
    assert "未导入任何项目" in result.output
    assert count_sites(session) == 0

    result = cli(app, "sites", "import", "--partial", str(path))

    assert result.exit_code == 0, result.output
    assert "清单.csv：新增 2 个，更新 0 个，无变化 0 个，跳过 2 个。" in result.output
    assert sorted(session.scalars(select(Site.code))) == ["G-1", "G-2"]
    assert session.scalar(select(Site.name).where(Site.code == "G-1")) == GOOD_ROW["项目名称"]


def test_partial_with_every_row_bad_fails(app, session, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(row(**{"所在区县": "火星区"})))

    result = cli(app, "sites", "import", "--partial", str(path))

    assert result.exit_code == 1
    assert count_sites(session) == 0


def test_reimport_is_idempotent_and_updates_in_place_keeping_the_token(session):
    content = GOOD_CSV.encode()
    import_sites(session, "清单.csv", content)
    session.commit()
    before = {s.code: (s.id, s.public_token, s.updated_at) for s in session.scalars(select(Site))}

    again = import_sites(session, "清单.csv", content)
    session.commit()

    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert {s.code: (s.id, s.public_token, s.updated_at) for s in session.scalars(select(Site))} == before

    changed = GOOD_CSV.replace("阳光城三期住宅", "阳光城三期住宅（二标段）").replace(",兰山区,", ",兰山,")
    report = import_sites(session, "清单.csv", changed.encode("gb18030"))
    session.commit()

    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    site = session.scalar(select(Site).where(Site.code == "LS-2024-001"))
    assert site.name == "阳光城三期住宅（二标段）"
    assert (site.id, site.public_token) == before["LS-2024-001"][:2]
    assert count_sites(session) == 3


def test_columns_missing_from_the_file_are_left_alone_on_update(session):
    import_sites(session, "full.csv", csv_bytes(row()))
    import_sites(session, "names.csv", csv_bytes({"项目编号": "HD-001", "项目名称": "新名称", "所在区县": "河东"},
                                                 header=HEADER[:3]))

    site = session.scalar(select(Site))
    assert (site.name, site.investment, site.pay_day) == ("新名称", "government", 20)


def test_markup_in_a_name_is_stored_as_is(session):
    name = "<script>alert(1)</script>工地"
    import_sites(session, "x.csv", csv_bytes(row(**{"项目名称": name})))

    assert session.scalar(select(Site.name)) == name


def test_tokens_are_unique_long_and_url_safe(session):
    rows = [row(**{"项目编号": f"T-{i:03d}"}) for i in range(60)]
    assert import_sites(session, "many.csv", csv_bytes(*rows)).created == 60

    tokens = list(session.scalars(select(Site.public_token)))
    assert len(set(tokens)) == 60
    assert all(len(token) >= 16 and re.fullmatch(r"[A-Za-z0-9_-]+", token) for token in tokens)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


def _broken_xlsx() -> bytes:
    good = xlsx_bytes([HEADER, list(GOOD_ROW.values())])
    return good[: len(good) // 2]


@pytest.mark.parametrize("filename, content, message", [
    ("empty.csv", b"", "文件是空的"),
    ("blank.csv", b"\r\n  \r\n", "文件是空的"),
    ("header.csv", ",".join(HEADER).encode(), "没有项目数据"),
    ("photo.csv", _png(), "无法识别的文件"),
    ("junk.csv", bytes(range(256)) * 4, "无法识别的文件"),
    ("latin.csv", "项目编号,项目名称,所在区县\n".encode() + b"\xff\xfe\xfd\n", "无法识别的文件"),
    ("quotes.csv", '项目编号,项目名称,所在区县\nA-1,"未闭合的引号,兰山\n'.encode(), "CSV 格式错误"),
    ("quotes2.csv", '项目编号,项目名称,所在区县\nA-1,"名称"多余,兰山\n'.encode(), "CSV 格式错误（第2行附近）"),
    ("broken.xlsx", _broken_xlsx(), "无法读取 Excel 文件"),
    ("zipjunk.xlsx", b"PK\x03\x04" + b"\x00garbage" * 50, "无法读取 Excel 文件"),
    ("notzip.xlsx", "项目编号,项目名称,所在区县\n".encode(), "不是有效的 Excel"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "不支持旧版 Excel"),
    ("nohead.csv", "A-1,兰山某工地,兰山\n".encode(), "缺少必填列：项目编号、项目名称、所在区县"),
    ("twice.csv", "项目编号,项目名称,所在区县,name\nA-1,甲,兰山,乙\n".encode(), "“项目名称”列出现了不止一次"),
])
def test_a_malformed_file_gives_a_clear_error_and_changes_nothing(app, session, tmp_path, filename, content, message):
    report = import_sites(session, filename, content)
    assert message in report.file_error
    assert report.failed and count_sites(session) == 0

    path = tmp_path / filename
    path.write_bytes(content)
    result = cli(app, "sites", "import", str(path))

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert message in result.output and "Traceback" not in result.output
    assert count_sites(session) == 0


def test_extra_cells_in_a_row_are_a_row_error(session):
    content = "项目编号,项目名称,所在区县\nA-1,阳光城,一期,兰山\n".encode()

    report = import_sites(session, "x.csv", content)

    assert report.errors[0] == RowError(2, "", "该行的单元格比表头多，内容中的英文逗号可能未加引号")
    assert str(report.errors[0]).startswith("第2行 该行")


def test_parse_keeps_file_rows_and_columns(session):
    parsed = parse_sites("清单.csv", GOOD_CSV.encode("utf-8-sig"))

    assert [r.row for r in parsed.rows] == [2, 4, 5]
    assert parsed.columns[:3] == ("code", "name", "jurisdiction_code")
    assert parsed.rows[0].values["name"] == "阳光城三期住宅"


def test_sites_list_json_table_and_county_filter(app, session, settings, tmp_path):
    path = tmp_path / "清单.csv"
    path.write_bytes(GOOD_CSV.encode())
    assert cli(app, "sites", "import", str(path)).exit_code == 0

    result = cli(app, "sites", "list", "--json")

    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [item["code"] for item in listed] == ["LS-2024-001", "LZ-2024-002", "371325-003"]
    assert set(listed[0]) == {"code", "name", "county_code", "county", "url"}
    assert (listed[1]["county_code"], listed[1]["county"]) == ("371311", "罗庄区")
    sites = {site.code: site for site in list_sites(session)}
    for item in listed:
        assert item["url"] == complaint_url(settings, sites[item["code"]])
        assert re.fullmatch(r"https://qingling\.test/s/[A-Za-z0-9_-]{16,}", item["url"])

    table = cli(app, "sites", "list", "--county", "罗庄").output.splitlines()
    assert table[0].split() == ["项目编号", "项目名称", "所在区县", "投诉链接"]
    assert len(table) == 2 and "LZ-2024-002" in table[1] and listed[1]["url"] in table[1]
    assert [s.code for s in list_sites(session, "371325")] == ["371325-003"]

    unknown = cli(app, "sites", "list", "--county", "火星区")
    assert unknown.exit_code == 1 and "未知的区县：火星区" in unknown.output


def test_sites_list_when_empty(app):
    result = cli(app, "sites", "list")

    assert result.exit_code == 0 and result.output.strip() == "没有项目。"


def test_a_file_with_absurdly_many_rows_is_refused(session):
    from intake.registry.sites import MAX_ROWS

    content = ("项目编号,项目名称,所在区县\n" + "\n" * (MAX_ROWS + 5)).encode()
    report = import_sites(session, "huge.csv", content)
    assert report.failed and "拆分" in report.file_error


def test_the_chat_sees_an_import_at_once(session):
    from intake.registry.sites import site_refs

    assert site_refs(session, "371302") == ()
    content = "项目编号,项目名称,所在区县\nC-1,阳光城三期,兰山区\n".encode()
    assert import_sites(session, "sites.csv", content).created == 1
    assert [s.name for s in site_refs(session, "371302")] == ["阳光城三期"]
    assert [s.name for s in site_refs(session, None)] == ["阳光城三期"]
    session.rollback()
