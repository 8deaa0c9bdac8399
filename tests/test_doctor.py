"""`qingling doctor` says plainly what is wrong with a deployment."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

from handlers import create_app
from handlers.cli.doctor import check_calendar, check_public_base_url, check_secret_key
from intake.foundation.settings import CalendarSettings, DatabaseSettings
from tests.helpers import invoke


def test_healthy_parts_are_ticked_and_missing_url_fails(make_settings):
    app = create_app(make_settings(public_base_url=""))
    result = invoke(app, "doctor")
    assert result.exit_code != 0
    assert "✓ 数据库：" in result.output
    assert "✓ 数据库结构：已是最新" in result.output
    assert "✓ 部门目录：16 个区划" in result.output
    assert "✓ 中文字体：" in result.output
    assert "✗ 公网地址：未设置 QINGLING_PUBLIC_BASE_URL" in result.output


def test_unreachable_database_and_unmigrated_schema_are_reported(make_settings, tmp_path):
    app = create_app(make_settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'empty.db'}")))
    result = invoke(app, "doctor")
    assert result.exit_code != 0
    assert "✗ 数据库结构：当前版本 空" in result.output
    assert "qingling db upgrade" in result.output
    app = create_app(make_settings(database=DatabaseSettings(
        url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")))
    assert "✗ 数据库：无法连接" in invoke(app, "doctor").output


def test_public_url_and_secret_key_rules(settings):
    assert not check_public_base_url(replace(settings, public_base_url="http://example.cn")).ok
    assert check_public_base_url(replace(settings, public_base_url="http://127.0.0.1:5000", demo=True)).ok
    assert check_public_base_url(replace(settings, public_base_url="https://qingling.example.cn")).ok
    assert not check_secret_key(replace(settings, secret_key="short")).ok


def test_calendar_check_fails_near_an_unpublished_year_until_configured(settings):
    assert check_calendar(settings, today=date(2026, 3, 1)).ok
    late = check_calendar(settings, today=date(2026, 11, 27))
    assert not late.ok and "2027" in late.detail
    configured = replace(settings, calendar=CalendarSettings(holidays=("2027-01-01", "2027-02-05")))
    assert check_calendar(configured, today=date(2026, 11, 27)).ok
    broken = replace(settings, calendar=CalendarSettings(working_hours=("18:00-08:00",)))
    assert not check_calendar(broken, today=date(2026, 3, 1)).ok


def test_demo_mode_is_refused_where_it_looks_like_production(settings):
    from handlers.cli.doctor import check_demo

    assert check_demo(replace(settings, demo=False)).ok
    local = replace(settings, demo=True, public_base_url="http://127.0.0.1:5000",
                    database=DatabaseSettings(url="sqlite:///demo.db"))
    assert check_demo(local).ok
    assert not check_demo(replace(settings, demo=True, public_base_url="https://qingling.example.cn")).ok
    assert not check_demo(replace(settings, demo=True, public_base_url="http://127.0.0.1:5000",
                                  database=DatabaseSettings(url="postgresql+psycopg://db/qingling"))).ok


def test_doctor_names_the_channels_that_are_off_and_what_happens_to_their_notices(settings):
    from handlers.cli.doctor import check_channels

    found = check_channels(settings)
    assert found.ok and "email" in found.detail and f"等待 {settings.worker.unsendable_wait_minutes} 分钟" in found.detail
