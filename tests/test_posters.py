"""A site's QR code and poster over HTTP, the county batch on the command line, and the demo set-up."""
from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select

from handlers import create_app
from handlers.cli import main
from handlers.cli.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from handlers.posters import poster_data, poster_font
from intake.case.complaints import NewComplaint, create_complaint
from intake.foundation.models import Department, Site
from intake.registry.directory import counties, department, industry_department_kinds
from intake.registry.sites import import_sites
from qr import layout_poster
from tests.helpers import invoke, login

CSV = """项目编号,项目名称,所在区县,行业,投资类型,建设单位,劳资专管员,劳资专管员电话,工资发放日,最低工资标准
P-1,阳光城三期,兰山区,房屋建筑,政府投资,临沂阳光置业,王建国,13905391234,15,2100
P-2,<script>alert(1)</script>滨河大道,兰山区,市政,社会投资,,,,,
P-3,沂河堤防,河东区,水利,国有企业,,,,,
"""


@pytest.fixture
def sites(session):
    report = import_sites(session, "sites.csv", CSV.encode())
    assert report.created == 3
    session.commit()
    return {s.code: s for s in session.scalars(select(Site))}


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]


def test_qr_code_opens_the_sites_form(client, sites):
    site = sites["P-1"]
    response = client.get(f"/s/{site.public_token}/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert decode(response.data) == [f"https://qingling.test/s/{site.public_token}"]
    svg = client.get(f"/s/{site.public_token}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data


def test_poster_png_and_pdf_carry_the_sites_qr_code(client, sites):
    site = sites["P-1"]
    png = client.get(f"/s/{site.public_token}/poster.png")
    assert png.status_code == 200
    assert Image.open(io.BytesIO(png.data)).size == (2480, 3508)
    assert decode(png.data) == [f"https://qingling.test/s/{site.public_token}"]
    pdf = client.get(f"/s/{site.public_token}/poster.pdf")
    assert pdf.mimetype == "application/pdf"
    assert len(PdfReader(io.BytesIO(pdf.data)).pages) == 1


def test_poster_shows_the_notice_board_and_the_right_departments(app, session, sites, settings):
    data = poster_data(session, settings, sites["P-1"])
    assert data.county_name == "兰山区"
    assert data.industry_department == "兰山区住房和城乡建设局"
    assert data.labour_inspection == "兰山区人力资源和社会保障局"
    assert data.investment == "政府投资"
    assert (data.minimum_wage, data.pay_day) == ("2100元/月", "每月15日")
    assert data.city_name == "临沂市"
    assert "https://qingling.test/status" in data.check_hint
    water = poster_data(session, settings, sites["P-3"])
    assert water.industry_department == "河东区水利局" and water.investment == "国有企业"


def test_poster_never_names_a_worker(app, session, sites, settings):
    create_complaint(session, NewComplaint(channel="web", phone="13912345678", name="张秘密",
                                           site_id=sites["P-1"].id, free_text="欠薪"))
    session.commit()
    data = poster_data(session, settings, sites["P-1"])
    assert not any("张秘密" in str(v) or "13912345678" in str(v) for v in vars(data).values())


def test_script_in_a_project_name_is_just_text_on_the_poster(client, sites):
    site = sites["P-2"]
    response = client.get(f"/s/{site.public_token}/poster.png")
    assert response.status_code == 200
    assert decode(response.data) == [f"https://qingling.test/s/{site.public_token}"]


@pytest.mark.parametrize("path", ["/s/AAAAAAAAAAAAAAAAAAAAAA/qr.png", "/s/short/poster.png",
                                  "/s/%2e%2e%2fetc%2fpasswd/poster.pdf", "/s/" + "x" * 300 + "/qr.svg"])
def test_unknown_or_forged_tokens_get_a_chinese_404(client, sites, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "找不到这个页面" in response.get_data(as_text=True)


def test_wechat_target_when_configured(make_settings, session, sites):
    from intake.foundation.settings import PosterSettings

    site = sites["P-1"]
    site.wechat_qr_url = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=abc"
    session.commit()
    app = create_app(make_settings(poster=PosterSettings(qr_target="wechat")))
    assert decode(app.test_client().get(f"/s/{site.public_token}/qr.png").data) == [site.wechat_qr_url]
    other = sites["P-3"]
    assert decode(app.test_client().get(f"/s/{other.public_token}/qr.png").data) == \
        [f"https://qingling.test/s/{other.public_token}"]


def test_county_batch_writes_one_page_per_site(app, sites, tmp_path):
    out = tmp_path / "lanshan.pdf"
    result = app.test_cli_runner().invoke(main, ["posters", "--county", "兰山", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "已生成 2 张海报" in result.output
    assert len(PdfReader(out).pages) == 2
    one = tmp_path / "one.pdf"
    assert app.test_cli_runner().invoke(main, ["posters", "--site", "P-3", "-o", str(one)]).exit_code == 0
    assert len(PdfReader(one).pages) == 1


@pytest.mark.parametrize("args, message", [
    (["--county", "火星区"], "未知的区县"),
    (["--county", "371311"], "没有找到项目"),
    ([], "--county 或 --site"),
    (["--county", "兰山", "--site", "P-1"], "--county 或 --site"),
])
def test_county_batch_errors(app, sites, tmp_path, args, message):
    out = tmp_path / "x.pdf"
    result = app.test_cli_runner().invoke(main, ["posters", *args, "-o", str(out)])
    assert result.exit_code != 0 and message in result.output
    assert not out.exists()


@pytest.mark.parametrize("base, refused, warned", [
    ("", "QINGLING_PUBLIC_BASE_URL", None),
    ("/s", "QINGLING_PUBLIC_BASE_URL", None),
    ("qingling.example.cn", "QINGLING_PUBLIC_BASE_URL", None),
    ("http://127.0.0.1:5000", None, "本机或内网地址"),
    ("http://192.168.1.20:5000", None, "本机或内网地址"),
    ("https://qingling.example.cn", None, None),
])
def test_posters_need_an_address_a_phone_can_open(make_settings, sites, tmp_path, base, refused, warned):
    app = create_app(make_settings(public_base_url=base))
    out = tmp_path / "x.pdf"
    result = app.test_cli_runner().invoke(main, ["posters", "--county", "兰山", "-o", str(out)])
    if refused:
        assert result.exit_code != 0 and refused in result.output and not out.exists()
        assert "已生成" not in result.output
        return
    assert result.exit_code == 0, result.output
    assert (warned in result.output) if warned else "注意" not in result.output
    assert len(PdfReader(out).pages) == 2


def test_demo_sets_up_sites_idempotently_and_prints_urls(make_settings, session):
    app = create_app(make_settings(demo=True))
    first = app.test_cli_runner().invoke(main, ["demo"])
    assert first.exit_code == 0, first.output
    assert "https://qingling.test/s/" in first.output and "https://qingling.test/report" in first.output
    assert app.test_cli_runner().invoke(main, ["demo"]).exit_code == 0
    assert session.scalar(select(func.count()).select_from(Site)) == 8
    assert "https://qingling.test/console/" in first.output and DEMO_PASSWORD in first.output
    form_line = next(line for line in first.output.splitlines() if "complaint form of a demo site" in line)
    assert "兰山区" in form_line
    accounts = [line.split() for line in first.output.splitlines() if line.startswith("      ")]
    assert accounts[0][0] == "lanshan-zj" and "兰山区住房和城乡建设局" in accounts[0][1]
    for username, *_ in DEMO_ACCOUNTS:
        assert login(app.test_client(), username, DEMO_PASSWORD).status_code == 303, username
    refused = create_app(make_settings(demo=False)).test_cli_runner().invoke(main, ["demo"])
    assert refused.exit_code != 0 and "QINGLING_DEMO" in refused.output


@pytest.fixture
def phones(session):
    """Set county departments' complaint phones for one test; the directory is shared, so they are put back."""
    before = dict(session.execute(select(Department.id, Department.phone)).all())
    yield
    session.rollback()
    for row in session.scalars(select(Department)):
        row.phone = before[row.id]
    session.commit()


def test_the_poster_names_the_project_office_the_subcontractors_and_leaves_a_blank_for_an_unknown_phone(
        client, session, settings, phones):
    report = import_sites(session, "sites.csv", (
        "项目编号,项目名称,所在区县,行业,施工总承包单位,项目部,分包单位\n"
        "P-9,阳光城四期,兰山区,房屋建筑,山东建工集团,山东建工集团阳光城四期项目部,临沂劳务有限公司、沂蒙钢筋班组\n"
    ).encode())
    assert report.created == 1 and not report.errors
    site = session.scalar(select(Site).where(Site.code == "P-9"))
    assert site.subcontractors == ["临沂劳务有限公司", "沂蒙钢筋班组"]
    department(session, "371302", "housing").phone = "0539-8123456"
    session.commit()

    assert client.get(f"/s/{site.public_token}/poster.png").status_code == 200
    texts = "\n".join(layout_poster(poster_data(session, settings, site), poster_font(settings)).texts())
    assert "总包项目部" in texts and "山东建工集团阳光城四期项目部" in texts
    assert "分包单位" in texts and "临沂劳务有限公司、沂蒙钢筋班组" in texts
    assert "投诉电话 0539-8123456" in texts  # 兰山区住建局's published number
    # 兰山区人社局 has none configured: a blank to write in
    assert "兰山区人力资源和社会保障局 投诉电话 ＿＿" in texts and "待公布，可手写" in texts


def test_doctor_warns_of_county_departments_whose_phone_is_missing(app, session, settings, phones):
    result = invoke(app, "doctor")
    assert "! 告示牌投诉电话：没有配置投诉电话：" in result.output and "兰山区人力资源和社会保障局" in result.output
    kinds = {"hrss", *industry_department_kinds().values()}
    for county in counties(session):
        for kind in kinds:
            found = department(session, county.code, kind)
            if found is not None:
                found.phone = "0539-8000000"
    session.commit()
    assert "✓ 告示牌投诉电话：每个区县的行业主管部门和劳动保障监察都有投诉电话" in invoke(app, "doctor").output
