"""A site's QR code and printable poster, served from its public token; the CLI batches the same posters."""
from __future__ import annotations

from flask import Blueprint, Response, abort
from sqlalchemy.orm import Session
from werkzeug.utils import secure_filename

from intake.foundation.models import INVESTMENT_LABELS, Investment, Site
from intake.foundation.settings import Settings
from intake.registry.directory import HRSS, department, industry_department_kinds
from intake.registry.sites import complaint_url, site_by_token
from qr import PosterData, find_cjk_font, poster_pdf, poster_png, qr_png, qr_svg

from .runtime import db, services

bp = Blueprint("posters", __name__)
CACHE_SECONDS = 300


class FontMissing(RuntimeError):
    """No CJK font on this machine: a poster would print boxes instead of Chinese."""


def poster_font(settings: Settings) -> str:
    path = find_cjk_font(settings.poster.font_path or None)
    if path is None:
        raise FontMissing("no CJK font found: install fonts-wqy-microhei or set [poster] font_path")
    return path


def qr_target(settings: Settings, site: Site) -> str:
    """The official account's site QR code when configured and created, otherwise the web form."""
    if settings.poster.qr_target == "wechat" and site.wechat_qr_url:
        return site.wechat_qr_url
    return complaint_url(settings, site)


def poster_data(session: Session, settings: Settings, site: Site) -> PosterData:
    """The rights notice board of Art. 34 from the site and its county's departments; nothing about workers."""
    county = site.jurisdiction
    lead_kind = industry_department_kinds(settings.directory_file or None).get(site.industry, HRSS)
    lead = department(session, county.code, lead_kind)
    inspection = department(session, county.code, HRSS)
    wage = site.minimum_wage or county.minimum_wage
    return PosterData(
        site_code=site.code,
        site_name=site.name,
        qr_data=qr_target(settings, site),
        address=site.address,
        county_name=county.name,
        industry=site.industry,
        investment=INVESTMENT_LABELS[Investment(site.investment)],
        owner=site.owner,
        general_contractor=site.general_contractor,
        project_office=site.project_office,
        subcontractors=tuple(site.subcontractors or ()),
        labour_manager=site.labour_manager,
        labour_manager_phone=site.labour_manager_phone,
        industry_department=lead.name if lead else None,
        industry_department_phone=lead.phone if lead else None,
        labour_inspection=inspection.name if inspection else None,
        labour_inspection_phone=inspection.phone if inspection else None,
        minimum_wage=f"{wage}元/月" if wage else None,
        pay_day=f"每月{site.pay_day}日" if site.pay_day else None,
        check_hint=f"查询进度：打开 {settings.public_url('/status')} ，输入受理编号和手机号后四位",
        hotlines=settings.poster.hotlines,
        city_name=county.parent.name if county.parent else None,
    )


def _site(token: str) -> Site:
    site = site_by_token(db(), token)
    if site is None:
        abort(404)
    return site


def _bytes(content: bytes, mimetype: str, filename: str | None = None) -> Response:
    response = Response(content, mimetype=mimetype)
    response.cache_control.public = True
    response.cache_control.max_age = CACHE_SECONDS
    if filename:
        response.headers["Content-Disposition"] = f'inline; filename="{secure_filename(filename) or "poster"}"'
    return response


QR_FORMATS = {"png": (qr_png, "image/png"), "svg": (qr_svg, "image/svg+xml")}
POSTER_FORMATS = {"png": (poster_png, "image/png"), "pdf": (poster_pdf, "application/pdf")}


@bp.get("/s/<token>/qr.<any(png, svg):fmt>")
def qr_code(token: str, fmt: str):
    encode, mimetype = QR_FORMATS[fmt]
    return _bytes(encode(qr_target(services().settings, _site(token))), mimetype)


@bp.get("/s/<token>/poster.<any(png, pdf):fmt>")
def poster(token: str, fmt: str):
    settings = services().settings
    site = _site(token)
    render, mimetype = POSTER_FORMATS[fmt]
    return _bytes(render(poster_data(db(), settings, site), poster_font(settings)), mimetype,
                  f"poster-{site.code}.{fmt}")
