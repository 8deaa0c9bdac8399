"""Open311 GeoReport v2 at /open311/v2 (and its discovery document), to the letter, so that existing Open311
clients read and file complaints unchanged.

One service, `wage_arrears` (欠薪投诉), with attributes for workers, amount and months. As the specification
says, reading needs no key: a read without one gets the public face of a case only (service, status, status
notes, agency, dates and the county), never the worker's words, name or contact, because a wage complaint is
sensitive and an employer could read it too. A client's key (header `X-Api-Key`, `Authorization: Bearer`, or
the `api_key` parameter) gives the scope it has on /api/v1: its cases in full. Filing a request needs a key. A
request is "closed" once the case is closed (销号) or ends as a duplicate of another (its status notes say so), "open"
before; `expected_datetime` is the case's most urgent
running deadline. `address_id` is our site code (项目编号), `address_string` the project as the worker named it.
Every answer is JSON or XML after the URL's extension, errors too (also for a URL or method no route takes).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from flask import Blueprint, Response, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from intake.case.queue import Filters, queue_page
from intake.foundation.models import Complaint, Site, Status, utcnow
from intake.foundation.texts import status_text
from intake.foundation.validation import mask_numbers
from intake.people.access import Scope, case_for, scoped_complaints
from intake.reading.photos import Photo

from ..runtime import db
from . import problems, schemas
from .auth import bearer_token, client, rate_limited
from .v1 import store

PREFIX = "/open311"
bp = Blueprint("open311", __name__, url_prefix=PREFIX)
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-04T00:00:00+08:00"  # when this interface last changed, for the discovery document
SERVICE_CODE = "wage_arrears"
SERVICE = {"service_code": SERVICE_CODE, "service_name": "欠薪投诉", "description": "农民工工资拖欠投诉（线索）",
           "metadata": True, "type": "realtime", "keywords": "欠薪,工资,农民工", "group": "劳动保障"}
ATTRIBUTES = [("workers", "涉及人数"), ("amount", "拖欠金额（元）"), ("months", "拖欠月数")]
DEFAULT_DAYS = 90  # GeoReport: without a date range, the last 90 days
MAX_REQUESTS = 1000
NO_CONTACT = "无联系方式"
FORMATS = ("json", "xml")
ENDED = (Status.CLOSED.value, Status.DUPLICATE.value)  # a request GeoReport calls "closed"


class Open311Error(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


# ---------------------------------------------------------------- formats

def _format() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


def _answer(root: str, item: str, rows: list[dict[str, Any]], status: int = 200) -> Response:
    if _format() == "json":
        response = jsonify(rows)
        response.status_code = status
        return response
    top = ElementTree.Element(root)
    for row in rows:
        _xml_fields(ElementTree.SubElement(top, item), row)
    return _xml(top, status)


def _object(root: str, fields: dict[str, Any]) -> Response:
    if _format() == "json":
        return jsonify(fields)
    top = ElementTree.Element(root)
    _xml_fields(top, fields)
    return _xml(top)


def _xml(top: ElementTree.Element, status: int = 200) -> Response:
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ElementTree.tostring(top, encoding="utf-8",
                                                                             xml_declaration=False)
    return Response(body, status, mimetype="text/xml")


def _xml_fields(element: ElementTree.Element, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        _xml_value(ElementTree.SubElement(element, key), key, value)


def _xml_value(element: ElementTree.Element, key: str, value: Any) -> None:
    """Lists become repeated children named in the singular (attributes/attribute, formats/format ...)."""
    if isinstance(value, list):
        for entry in value:
            child = ElementTree.SubElement(element, key.removesuffix("s"))
            if isinstance(entry, dict):
                _xml_fields(child, entry)
            else:
                child.text = str(entry)
    elif isinstance(value, dict):
        _xml_fields(element, value)
    elif value is not None:
        element.text = "true" if value is True else "false" if value is False else str(value)


def _error(status: int, description: str) -> Response:
    return _answer("errors", "error", [{"code": status, "description": description}], status)


def http_error(error: HTTPException) -> Response:
    """Any HTTP error under /open311, routing's too (no such URL or extension, a method the URL does not take)."""
    code = error.code or 500
    response = _error(code, problems.KINDS[problems.BY_STATUS.get(code, "server-error")][2])
    response.headers.extend([(k, v) for k, v in error.get_headers() if k == "Allow"])
    return response


def _problem(problem: problems.ApiProblem) -> Response:
    """The shared intake's problems in Open311's words: its bad requests are 400s."""
    status = problems.KINDS[problem.kind][0]
    detail = "; ".join(f"{e.field}: {e.detail}" for e in problem.errors) or problem.detail \
        or problems.KINDS[problem.kind][2]
    return _error(400 if status == 422 else status, detail)


problems.handle_errors(bp, http_error, _problem)
bp.register_error_handler(Open311Error, lambda e: _error(e.status, e.description))


# ---------------------------------------------------------------- who is asking

def _key() -> str:
    return request.headers.get("X-Api-Key", "").strip() or bearer_token() or request.values.get("api_key", "")


@bp.before_request
def _authenticate() -> None:
    """No key: a public reader. A key that opens nothing is refused (403), as is filing without one."""
    given = bool(request.headers.get("X-Api-Key") or request.headers.get("Authorization")
                 or "api_key" in request.args or "api_key" in request.form)
    found = client(_key) if given else None
    if given and found is None:
        raise Open311Error(403, "api_key 无效或已停用")
    if found is None and request.method not in ("GET", "HEAD"):
        raise Open311Error(403, "提交投诉需要接入系统的 api_key")
    g.api_scope = Scope.of(found) if found is not None else None


rate_limited(bp, _key)


def _reader() -> Scope | None:
    return g.api_scope


# ---------------------------------------------------------------- discovery and services

@bp.get("/discovery.<any(json, xml):fmt>")
@bp.get("/v2/discovery.<any(json, xml):fmt>")
def discovery(fmt: str) -> Response:
    endpoint = {"specification": SPECIFICATION, "url": request.host_url.rstrip("/") + f"{PREFIX}/v2",
                "changeset": CHANGESET, "type": "production", "formats": ["application/json", "text/xml"]}
    return _object("discovery", {"changeset": CHANGESET, "contact": "各区县人社局劳动保障监察机构（12333）",
                                 "key_service": "向市治欠办申请接入令牌（qingling clients create）",
                                 "endpoints": [endpoint]})


@bp.get("/v2/services.<any(json, xml):fmt>")
def services_list(fmt: str) -> Response:
    return _answer("services", "service", [SERVICE])


@bp.get("/v2/services/<service_code>.<any(json, xml):fmt>")
def service_definition(service_code: str, fmt: str) -> Response:
    if service_code != SERVICE_CODE:
        raise Open311Error(404, f"没有这个服务：{service_code}（只有 {SERVICE_CODE}）")
    attributes = [{"variable": True, "code": code, "datatype": "number", "required": False,
                   "datatype_description": "整数", "order": order, "description": label}
                  for order, (code, label) in enumerate(ATTRIBUTES, 1)]
    return _object("service_definition", {"service_code": SERVICE_CODE, "attributes": attributes})


# ---------------------------------------------------------------- requests

@bp.post("/v2/requests.<any(json, xml):fmt>")
def create_request(fmt: str) -> Response:
    form = request.form
    if form.get("service_code") != SERVICE_CODE:
        raise Open311Error(400, f"service_code 须为 {SERVICE_CODE}")
    name = " ".join(p for p in (form.get("last_name", "").strip(), form.get("first_name", "").strip()) if p)
    data: dict[str, Any] = {key: value for key, value in {
        "description": form.get("description", ""), "phone": form.get("phone", "").strip(),
        "email": form.get("email", "").strip(), "name": name, "site_code": form.get("address_id", "").strip(),
        "project_name": form.get("address_string", "").strip(), "media_url": form.get("media_url", "").strip(),
        "lat": _number(form, "lat"), "long": _number(form, "long")}.items() if value not in ("", None)}
    for code, _ in ATTRIBUTES:
        value = form.get(f"attribute[{code}]", "").strip()
        if value:
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise Open311Error(400, f"attribute[{code}] 须为整数")
            data[code] = int(value)
    try:
        body = schemas.Open311Request.model_validate(data)
    except ValidationError as exc:
        raise Open311Error(400, "; ".join(f"{e.field}: {e.detail}" for e in problems.field_errors(exc, "body"))) \
            from None
    photos = [Photo("media_url", "", b"", source=f"url:{body.media_url}")] if body.media_url else []
    complaint, _ = store(body, None, claim=_claim(body), photos=photos)
    notice = "已收到，正在分派给负责部门" + ("（无联系方式：部门无法回电，请提醒工人拨打12333查询）"
                                       if not (body.phone or body.email) else "")
    return _answer("service_requests", "request", [{"service_request_id": complaint.ticket_no,
                                                    "service_notice": notice, "account_id": None}])


def _number(form, name: str) -> float | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} 须为数字") from None


def _claim(body: schemas.Open311Request) -> dict[str, Any]:
    """Where it happened and how to reach the worker, as the client gave it."""
    claim: dict[str, Any] = {}
    if body.lat is not None and body.long is not None:
        claim["location"] = {"lat": body.lat, "long": body.long}
    if body.media_url:
        claim["media_url"] = body.media_url
    if not (body.phone or body.email):
        claim["no_contact"] = True
    return claim


@bp.get("/v2/requests.<any(json, xml):fmt>")
def list_requests(fmt: str) -> Response:
    reader = _reader()
    wanted = _listed("service_request_id")
    if wanted:
        query = _readable(reader).where(Complaint.ticket_no.in_(wanted[:MAX_REQUESTS]))
        found = {c.ticket_no: c for c in db().scalars(query)}
        return _answer("service_requests", "request", [_request(found[t], reader) for t in wanted if t in found])
    codes = _listed("service_code")
    statuses = set(_listed("status"))
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status 须为 open 或 closed（可用逗号分隔多个）")
    if codes and SERVICE_CODE not in codes:
        return _answer("service_requests", "request", [])
    start, end = _period()
    status = "all" if len(statuses) != 1 else ("open" if "open" in statuses else Status.CLOSED.value)
    if reader is not None:
        page = queue_page(db(), reader, Filters(status=status, received_from=start, received_before=end), utcnow(),
                          size=MAX_REQUESTS)
        return _answer("service_requests", "request", [_request(c, reader) for c in page.complaints])
    query = _readable(None).where(Complaint.created_at >= start, Complaint.created_at < end)
    if status == "open":
        query = query.where(Complaint.status.not_in(ENDED))
    elif status != "all":
        query = query.where(Complaint.status.in_(ENDED))
    found = db().scalars(query.order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(MAX_REQUESTS))
    return _answer("service_requests", "request", [_request(c, None) for c in found])


@bp.get("/v2/requests/<service_request_id>.<any(json, xml):fmt>")
def get_request(service_request_id: str, fmt: str) -> Response:
    reader = _reader()
    complaint = case_for(db(), reader, service_request_id) if reader is not None else \
        db().scalar(_readable(None).where(Complaint.ticket_no == service_request_id))
    if complaint is None:
        raise Open311Error(404, "没有这个案件" + ("，或不在权限范围内" if reader is not None else ""))
    return _answer("service_requests", "request", [_request(complaint, reader)])


def _listed(name: str) -> list[str]:
    """A parameter the specification lets be comma-delimited (or repeated)."""
    return [part.strip() for value in request.args.getlist(name) for part in value.split(",") if part.strip()]


def _period() -> tuple[datetime, datetime]:
    try:
        period = schemas.ComplaintQuery.model_validate({k: request.args[k2] for k, k2 in (
            ("received_from", "start_date"), ("received_before", "end_date")) if request.args.get(k2)})
    except ValidationError:
        raise Open311Error(400, "start_date / end_date 须为带时区的 ISO 8601 时间（如 2026-12-01T00:00:00+08:00）") \
            from None
    end = period.received_before or utcnow()
    return period.received_from or end - timedelta(days=DEFAULT_DAYS), end


def _readable(reader: Scope | None) -> Select:
    """Complaints the reader may see: its scope with a key, every one (in its public face) without."""
    query = scoped_complaints(reader) if reader is not None else select(Complaint)
    return query.options(selectinload(Complaint.site).selectinload(Site.jurisdiction),
                         selectinload(Complaint.jurisdiction), selectinload(Complaint.department))


def _request(c: Complaint, reader: Scope | None) -> dict[str, Any]:
    """The public face of a case; with a key in scope, the worker's words and the place too."""
    site, county = c.site, (c.site.jurisdiction if c.site else c.jurisdiction)
    public = {
        "service_request_id": c.ticket_no,
        "status": "closed" if c.status in ENDED else "open",
        "status_notes": status_text(c.status),
        "service_name": SERVICE["service_name"],
        "service_code": SERVICE_CODE,
        "description": None,
        "agency_responsible": c.department.name if c.department else None,
        "service_notice": None,
        "requested_datetime": c.created_at.isoformat(),
        "updated_datetime": c.updated_at.isoformat(),
        "expected_datetime": c.next_due_at.isoformat() if c.next_due_at else None,
        "address": county.name if county else None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }
    if reader is None:
        return public
    claim = c.claim or {}
    place = (site.address or site.name) if site else c.project_name
    location = claim.get("location") or {}
    return {**public, "description": mask_numbers(c.free_text),
            "service_notice": NO_CONTACT if claim.get("no_contact") else None,
            "address": "".join(p for p in (county.name if county else "", place or "") if p) or None,
            "address_id": site.code if site else None, "lat": location.get("lat"), "long": location.get("long"),
            "media_url": claim.get("media_url")}
