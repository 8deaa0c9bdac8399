"""The handling directory loads from a data file, idempotently, for Linyi or any other city."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from handlers.cli import main
from intake.foundation.models import Department, Jurisdiction
from intake.registry.directory import DirectoryError, department, find_jurisdiction, load_directory, read_directory

OTHER_CITY = """
[city]
code = "379900"
name = "示例市"
[[city.departments]]
kind = "dispatch_desk"
name = "示例市派单中心"
[industries]
"房屋建筑" = "housing"
[department_kinds.hrss]
name_pattern = "{unit}人社局"
[department_kinds.housing]
name_pattern = "{unit}住建局"
[[units]]
code = "379901"
name = "甲区"
kind = "district"
short_names = ["甲"]
[[units.departments]]
kind = "hrss"
name = "甲区劳动保障监察大队"
phone = "0000-1234567"
contacts = {sms = ["13800000001"], email = "jc@example.cn"}
"""


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_linyi_has_fifteen_units_and_the_city_offices(session):
    units = session.scalars(select(Jurisdiction).where(Jurisdiction.parent_code == "371300")).all()
    assert len(units) == 15
    assert {u.code for u in units} >= {"371302", "371371", "371372", "371373"}
    assert department(session, "371300", "leading_group_office").name == "临沂市根治拖欠农民工工资工作领导小组办公室"
    assert department(session, "371300", "dispatch_desk") is not None
    assert department(session, "371371", "hrss").name == "临沂高新区人力资源和社会保障局"
    for unit in units:
        assert {d.kind for d in unit.departments} >= {"hrss", "housing", "transport", "water"}


def test_loading_twice_changes_nothing(session):
    before = (count(session, Jurisdiction), count(session, Department))
    result = load_directory(session)
    assert result.created == 0
    assert (count(session, Jurisdiction), count(session, Department)) == before
    session.rollback()


def test_units_are_found_by_code_name_and_short_name(session):
    assert find_jurisdiction(session, "371302").name == "兰山区"
    assert find_jurisdiction(session, "兰山").code == "371302"
    assert find_jurisdiction(session, "经开区").code == "371372"
    assert find_jurisdiction(session, "临港区").code == "371373"
    assert find_jurisdiction(session, "火星区") is None
    assert find_jurisdiction(session, "") is None


def test_another_city_loads_its_own_file(app, session, tmp_path):
    path = tmp_path / "other.toml"
    path.write_text(OTHER_CITY, encoding="utf-8")
    result = app.test_cli_runner().invoke(main, ["directory", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert "新增" in result.output
    hrss = department(session, "379901", "hrss")
    assert (hrss.name, hrss.phone) == ("甲区劳动保障监察大队", "0000-1234567")
    assert hrss.contacts == {"sms": ["13800000001"], "email": "jc@example.cn"}
    assert department(session, "379901", "housing").name == "甲区住建局"
    assert find_jurisdiction(session, "甲").parent.name == "示例市"
    again = app.test_cli_runner().invoke(main, ["directory", "load", str(path)])
    assert "新增 0 条" in again.output
    session.execute(Department.__table__.delete().where(Department.jurisdiction_code.in_(["379900", "379901"])))
    session.execute(Jurisdiction.__table__.delete().where(Jurisdiction.code == "379901"))
    session.execute(Jurisdiction.__table__.delete().where(Jurisdiction.code == "379900"))
    session.commit()


def test_broken_files_are_refused_with_a_reason(app, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[city\nname = 1", encoding="utf-8")
    result = app.test_cli_runner().invoke(main, ["directory", "load", str(bad)])
    assert result.exit_code != 0 and "bad.toml" in result.output
    incomplete = tmp_path / "incomplete.toml"
    incomplete.write_text('[city]\ncode = "1"\nname = "x"\n', encoding="utf-8")
    with pytest.raises(DirectoryError, match="units"):
        read_directory(incomplete)
