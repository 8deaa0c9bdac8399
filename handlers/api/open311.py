"""An Open311 GeoReport v2 facade at /open311/v2, so existing Open311 clients can file and follow complaints.

One service, `wage_arrears` (欠薪投诉), with attributes for workers, amount and months. `api_key` is the client's
token and gives the same scope as on /api/v1. A request is "closed" once the case is closed (销号), "open"
before; `expected_datetime` is the case's most urgent running deadline (complaints.next_due_at), so a client
sees when the next step is due by law or local policy. `address_id` is our site code (项目编号),
`address_string` the project as the worker named it. Complaints are stored by the same path as /api/v1's.
Every answer is JSON or XML after the URL's extension, errors too, as the specification lists them.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

from flask import Blueprint, Response, jsonify, request
from pydantic import ValidationError
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from intake.case.queue import Filters, queue_page
from intake.foundation.models import Complaint, Status, utcnow
from intake.foundation.texts import status_text
from intake.foundation.validation import mask_numbers
from intake.people.access import case_for, scoped_complaints

from ..runtime import db
from . import problems, schemas
from .auth import protect, scope
from .v1 import store

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
SERVICE_CODE = "wage_arrears"
SERVICE = {"service_code": SERVICE_CODE, "service_name": "欠薪投诉", "description": "农民工工资拖欠投诉（线索）",
           "metadata": True, "type": "realtime", "keywords": "欠薪,工资,农民工", "group": "劳动保障"}
ATTRIBUTES = [("workers", "涉及人数"), ("amount", "拖欠金额（元）"), ("months", "拖欠月数")]
DEFAULT_DAYS = 90  # GeoReport: without a date range, the last 90 days
MAX_REQUESTS = 1000


def _api_key() -> str:
    return request.values.get("api_key", "")


def _format() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


def _answer(root: str, item: str, rows: list[dict[str, Any]], status: int = 200) -> Response:
    if _format() == "json":
        response = jsonify(rows)
        response.status_code = status
        return response
    top = ElementTree.Element(root)
    for row in rows:
        child = ElementTree.SubElement(top, item)
        for key, value in row.items():
            _xml_value(ElementTree.SubElement(child, key), value)
    return _xml(top, status)


def _xml(top: ElementTree.Element, status: int = 200) -> Response:
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ElementTree.tostring(top, encoding="utf-8",
                                                                             xml_declaration=False)
    return Response(body, status, mimetype="text/xml")


def _xml_value(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, list):
        for entry in value:
            child = ElementTree.SubElement(element, "attribute")
            for key, inner in entry.items():
                _xml_value(ElementTree.SubElement(child, key), inner)
    else:
        element.text = "true" if value is True else "false" if value is False else "" if value is None else str(value)


def _error(status: int, description: str) -> Response:
    return _answer("errors", "error", [{"code": status, "description": description}], status)


class Open311Error(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def _http_error(error: HTTPException) -> Response:
    return _error(error.code or 500, problems.KINDS[problems.BY_STATUS.get(error.code or 500, "server-error")][2])


problems.handle_errors(bp, _http_error, lambda p: _error(
    problems.KINDS[p.kind][0], "; ".join(f"{e.field}: {e.detail}" for e in p.errors) or p.detail
    or problems.KINDS[p.kind][2]))
bp.register_error_handler(Open311Error, lambda e: _error(e.status, e.description))
protect(bp, _api_key, lambda: _error(401, "api_key 缺少或无效"))


@bp.get("/services.<any(json, xml):fmt>")
def services_list(fmt: str) -> Response:
    return _answer("services", "service", [SERVICE])


@bp.get(f"/services/{SERVICE_CODE}.<any(json, xml):fmt>")
def service_definition(fmt: str) -> Response:
    attributes = [{"variable": True, "code": code, "datatype": "number", "required": False,
                   "datatype_description": "整数", "order": order, "description": label}
                  for order, (code, label) in enumerate(ATTRIBUTES, 1)]
    if fmt == "json":
        return jsonify({"service_code": SERVICE_CODE, "attributes": attributes})
    top = ElementTree.Element("service_definition")
    ElementTree.SubElement(top, "service_code").text = SERVICE_CODE
    _xml_value(ElementTree.SubElement(top, "attributes"), attributes)
    return _xml(top)


@bp.post("/requests.<any(json, xml):fmt>")
def create_request(fmt: str) -> Response:
    form = request.form
    if form.get("service_code") != SERVICE_CODE:
        raise Open311Error(400, f"service_code 须为 {SERVICE_CODE}")
    data: dict[str, Any] = {"phone": form.get("phone", ""), "description": form.get("description", "")}
    name = " ".join(p for p in (form.get("last_name", "").strip(), form.get("first_name", "").strip()) if p)
    optional = {"name": name, "site_code": form.get("address_id"), "project_name": form.get("address_string")}
    data.update({key: value for key, value in optional.items() if value})
    for code, _ in ATTRIBUTES:
        value = form.get(f"attribute[{code}]", "").strip()
        if value:
            if not value.isascii() or not value.isdigit():
                raise Open311Error(400, f"attribute[{code}] 须为整数")
            data[code] = int(value)
    try:
        body = schemas.ComplaintIn.model_validate(data)
    except ValidationError as exc:
        raise Open311Error(400, "; ".join(f"{e.field}: {e.detail}" for e in problems.field_errors(exc, "body"))) from None
    complaint, _ = store(body, None)
    return _answer("service_requests", "request", [{"service_request_id": complaint.ticket_no,
                                                    "service_notice": "已收到，正在分派给负责部门", "account_id": None}])


@bp.get("/requests.<any(json, xml):fmt>")
def list_requests(fmt: str) -> Response:
    args = request.args
    if args.get("service_request_id"):
        tickets = [t.strip() for t in args["service_request_id"].split(",") if t.strip()][:MAX_REQUESTS]
        found = {c.ticket_no: c for c in db().scalars(
            scoped_complaints(scope()).where(Complaint.ticket_no.in_(tickets))
            .options(selectinload(Complaint.site), selectinload(Complaint.department)))}
        return _answer("service_requests", "request", [_request(found[t]) for t in tickets if t in found])
    if args.get("service_code", SERVICE_CODE) != SERVICE_CODE:
        return _answer("service_requests", "request", [])
    status = args.get("status", "")
    if status not in ("", "open", "closed"):
        raise Open311Error(400, "status 须为 open 或 closed")
    try:
        period = schemas.ComplaintQuery.model_validate({k: args[k2] for k, k2 in (("received_from", "start_date"),
                                                                             ("received_before", "end_date"))
                                                  if args.get(k2)})
    except ValidationError:
        raise Open311Error(400, "start_date / end_date 须为带时区的 ISO 8601 时间") from None
    end = period.received_before or utcnow()
    start = period.received_from or end - timedelta(days=DEFAULT_DAYS)
    filters = Filters(status={"": "all", "open": "open", "closed": Status.CLOSED.value}[status],
                      received_from=start, received_before=end)
    page = queue_page(db(), scope(), filters, utcnow(), size=MAX_REQUESTS)
    return _answer("service_requests", "request", [_request(c) for c in page.complaints])


@bp.get("/requests/<ticket_no>.<any(json, xml):fmt>")
def get_request(ticket_no: str, fmt: str) -> Response:
    complaint = case_for(db(), scope(), ticket_no)
    if complaint is None:
        raise Open311Error(404, "没有这个案件，或不在权限范围内")
    return _answer("service_requests", "request", [_request(complaint)])


def _request(c: Complaint) -> dict[str, Any]:
    site = c.site
    return {
        "service_request_id": c.ticket_no,
        "status": "closed" if c.status == Status.CLOSED.value else "open",
        "status_notes": status_text(c.status),
        "service_name": SERVICE["service_name"],
        "service_code": SERVICE_CODE,
        "description": mask_numbers(c.free_text),
        "agency_responsible": c.department.name if c.department else "",
        "service_notice": "",
        "requested_datetime": c.created_at.isoformat(),
        "updated_datetime": c.updated_at.isoformat(),
        "expected_datetime": c.next_due_at.isoformat() if c.next_due_at else "",
        "address": (site.address or site.name) if site else (c.project_name or ""),
        "address_id": site.code if site else "",
        "zipcode": "",
        "media_url": "",
    }
