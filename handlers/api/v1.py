"""The JSON API for other systems, version 1, under /api/v1: complaints in (the same create_complaint as every
channel), read and listed in the client's scope, case actions by the client's role, sites and departments.

Views stay thin: the registry (spec.py) has validated the input, intake does the work, one commit per request.
The OpenAPI document and the reference page come from the same registry, and need no token.
"""
from __future__ import annotations

import hashlib
from importlib import resources

from flask import Blueprint, Response, jsonify, render_template, request, send_from_directory
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from intake.case import cases
from intake.case.clues import Clue, ClueSeenElsewhere, IdempotencyMismatch, external_refs, submit
from intake.case.complaints import NewComplaint
from intake.case.queue import Filters, clock_views, co_step_views, parse_cursor, queue_page
from intake.case.routing import RoutingError, collective_view
from intake.foundation.models import (
    Channel,
    Complaint,
    Department,
    ExternalRef,
    Jurisdiction,
    Site,
    SiteWarning,
    utcnow,
)
from intake.foundation.texts import event_sentence, status_text
from intake.foundation.transitions import TransitionError
from intake.foundation.validation import mask_phone
from intake.people.access import AccessDenied, case_for
from intake.people.audit import audit
from intake.reading.photos import Photo
from intake.registry.sites import complaint_url
from intake.warnings import ledger, payroll

from ..runtime import case_context, db, services
from . import actions, problems, schemas
from .auth import bearer_token, protect, scope
from .spec import Api, Header

PREFIX = "/api/v1"
# Swagger UI's files as the flask-swagger-ui package ships them.
RENDERER = str(resources.files("flask_swagger_ui").joinpath("dist"))
bp = Blueprint("api_v1", __name__, url_prefix=PREFIX)
docs_bp = Blueprint("api_v1_docs", __name__, url_prefix=PREFIX)
api = Api(bp, "Qingling API", "1.0.0", "欠薪投诉的接入接口：线索推送、进度查询、案件办理。所有时间为 UTC（ISO 8601）。")
IDEMPOTENCY_KEY = Header("Idempotency-Key", "重试同一请求时带上同一个值（1-200 个可见 ASCII 字符），不会重复建案",
                         200, r"^[\x21-\x7e]+$")
problems.register(bp)
protect(bp, bearer_token, lambda: problems.problem_response(
    "unauthorized", headers={"WWW-Authenticate": 'Bearer realm="qingling"'}))


def _field_problem(field: str, code: str, detail: str, location: str = "body") -> problems.ApiProblem:
    return problems.ApiProblem("validation", errors=[schemas.FieldError(
        location=location, field=field, pointer=f"/{field}" if location == "body" else "", code=code, detail=detail)])


@api.operation("POST", "/complaints", summary="Submit a complaint or clue (12345 work order, national platform)",
               tag="complaints", ok={201: schemas.ComplaintOut, 200: schemas.ComplaintOut}, body=schemas.ComplaintIn,
               headers=(IDEMPOTENCY_KEY,), problems=("forbidden", "idempotency-mismatch", "clue-seen"), location_header=True)
def create_complaint(body: schemas.ComplaintIn, idempotency_key: str | None) -> Response:
    """201 with the new complaint; 200 with the first one for a retried request or a clue seen before."""
    complaint, created = store(body, idempotency_key)
    response = jsonify(_complaint(complaint, schemas.ComplaintOut).model_dump(mode="json"))
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"{bp.url_prefix}/complaints/{complaint.ticket_no}"
    return response


def store(body: schemas.ComplaintIn, idempotency_key: str | None, *, claim: dict | None = None,
          photos: list[Photo] | None = None) -> tuple[Complaint, bool]:
    """Check the client may file complaints and that the site or county exists, store and commit; for the
    Open311 facade too (with its claim facts and photos to fetch)."""
    who = scope()
    try:
        who.require("intake")
    except AccessDenied:
        raise problems.ApiProblem("forbidden", "接入系统的角色不能录入投诉") from None
    session = db()
    site, county = None, body.county
    if body.site_code is not None:
        site = session.scalar(select(Site).where(Site.code == body.site_code, who.sites()))
        if site is None:
            raise _field_problem("site_code", "site_unknown", "没有这个项目编号（或不在权限范围内）")
        county = site.jurisdiction_code
    elif county is not None and session.scalar(select(Jurisdiction.code).where(
            Jurisdiction.code == county, Jurisdiction.parent_code.is_not(None))) is None:
        raise _field_problem("county", "county_unknown", "没有这个区县代码")
    new = NewComplaint(channel=Channel.API.value, phone=body.phone, email=getattr(body, "email", None),
                       name=body.name, id_number=body.id_number, claim=claim or {}, photos=photos or [],
                       anonymous=body.anonymous, site_id=site.id if site else None, jurisdiction_code=county,
                       project_name=body.project_name, workers=body.workers, amount=body.amount,
                       months=body.months, free_text=body.description,
                       risk_words=services().settings.reading.all_risk_words())
    clue = Clue(body.source.system, body.source.external_id) if body.source else None
    try:
        complaint, created = submit(session, who.user_id, new, idempotency_key=idempotency_key,
                                    request_hash=hashlib.sha256(body.model_dump_json().encode()).hexdigest(),
                                    in_scope=who.complaints(), clue=clue)
    except IdempotencyMismatch:
        raise problems.ApiProblem("idempotency-mismatch") from None
    except ClueSeenElsewhere:
        raise problems.ApiProblem("clue-seen") from None
    if created:
        audit(session, user_id=None, username=who.actor, action="intake", ticket_no=complaint.ticket_no,
              address=request.remote_addr)
    session.commit()
    return complaint, created


@api.operation("GET", "/complaints", summary="Complaints in the client's scope, most urgent deadline first",
               tag="complaints", ok={200: schemas.ComplaintPage}, query=schemas.ComplaintQuery)
def list_complaints(query: schemas.ComplaintQuery) -> Response:
    if query.cursor is not None and parse_cursor(query.cursor) is None:
        raise _field_problem("cursor", "cursor_invalid", "不是上一页给出的 next_cursor", location="query")
    filters = Filters(status=query.status, priority=query.priority or "", county=query.county or "",
                      industry=query.industry or "", overdue=query.overdue, collective=query.collective,
                      supervised=query.supervised, received_from=query.received_from,
                      received_before=query.received_before)
    page = queue_page(db(), scope(), filters, utcnow(), query.cursor, query.limit)
    refs = external_refs(db(), [c.id for c in page.complaints])
    items = [_complaint(c, schemas.ComplaintOut, refs) for c in page.complaints]
    return _json(schemas.ComplaintPage(items=items, next_cursor=page.next_cursor))


@api.operation("GET", "/complaints/<ticket_no>", summary="One complaint with its deadlines and timeline",
               tag="complaints", ok={200: schemas.ComplaintDetail}, path=schemas.TicketPath)
def get_complaint(path: schemas.TicketPath) -> Response:
    return _json(_complaint(_case(path.ticket_no), schemas.ComplaintDetail))


@api.operation("POST", "/complaints/<ticket_no>/actions", summary="Take a step on a case (签收, 联系, 受理 ...)",
               tag="complaints", ok={200: schemas.ComplaintDetail}, path=schemas.TicketPath, body=schemas.Action,
               problems=("forbidden", "case-rule", "conflict"))
def act(path: schemas.TicketPath, body: schemas.Action) -> Response:
    session, who = db(), scope()
    complaint = _case(path.ticket_no)
    try:
        actions.take(session, complaint, case_context(), who, body.root)
        audit(session, user_id=None, username=who.actor, action="case_action", ticket_no=complaint.ticket_no,
              detail={"action": body.root.action}, address=request.remote_addr)
        session.commit()
        session.expire(complaint)  # its timeline has the new event
    except AccessDenied:
        session.rollback()
        raise problems.ApiProblem("forbidden", f"角色 {who.role.value} 不能执行 {body.root.action}") from None
    except (cases.CaseError, TransitionError, RoutingError) as exc:
        session.rollback()
        raise problems.ApiProblem("case-rule", str(exc)) from None
    except StaleDataError:
        session.rollback()
        raise problems.ApiProblem("conflict") from None
    return _json(_complaint(complaint, schemas.ComplaintDetail))


@api.operation("POST", "/sites/<site_code>/payroll/<kind>", summary="Push a site's payroll records (花名册, 考勤, "
               "工资专用账户流水)", tag="sites", ok={200: schemas.PayrollOut}, path=schemas.PayrollPath,
               body=schemas.PayrollIn, problems=("forbidden",))
def push_payroll(path: schemas.PayrollPath, body: schemas.PayrollIn) -> Response:
    """All records or none: a bad record is a 422 naming it (/records/<index>) and its column."""
    session, who = db(), scope()
    try:
        who.require("payroll_import")
    except AccessDenied:
        raise problems.ApiProblem("forbidden", "接入系统的角色不能推送用工数据") from None
    site = session.scalar(select(Site).where(Site.code == path.site_code, who.sites()))
    if site is None:
        raise problems.ApiProblem("not-found")
    known = [c.attr for c in payroll.COLUMNS[path.kind]]
    unknown = [(i, key) for i, record in enumerate(body.records) for key in record if key not in known]
    if unknown:
        i, key = unknown[0]
        raise _field_problem(f"records.{i}.{key}", "unknown_field", f"未知的字段“{key[:30]}”，应为：{'、'.join(known)}")
    report = payroll.import_records(session, site, path.kind, [(i + 1, r) for i, r in enumerate(body.records)])
    if report.failed:
        raise problems.ApiProblem("validation", errors=[schemas.FieldError(
            location="body", field=f"records.{e.row - 1}", pointer=f"/records/{e.row - 1}", code="invalid",
            detail=f"{e.column}：{e.reason}" if e.column else e.reason) for e in report.errors[:100]])
    audit(session, user_id=None, username=who.actor, action="payroll_import", address=request.remote_addr,
          detail={"site": site.code, "kind": path.kind, "created": report.created, "updated": report.updated})
    session.commit()
    return _json(schemas.PayrollOut(kind=report.kind, created=report.created, updated=report.updated,
                                    unchanged=report.unchanged))


@api.operation("GET", "/sites", summary="Construction sites in the client's scope, with their complaint links",
               tag="directory", ok={200: schemas.SitePage}, query=schemas.SiteQuery)
def list_sites(query: schemas.SiteQuery) -> Response:
    found = select(Site).where(scope().sites()).options(selectinload(Site.jurisdiction)).order_by(Site.id)
    if query.county:
        found = found.where(Site.jurisdiction_code == query.county)
    if query.cursor:
        found = found.where(Site.id > int(query.cursor))
    rows = list(db().scalars(found.limit(query.limit + 1)))
    more, rows = len(rows) > query.limit, rows[:query.limit]
    settings = services().settings
    items = [schemas.SiteOut(code=r.code, name=r.name, county=r.jurisdiction_code, county_name=r.jurisdiction.name,
                       address=r.address, industry=r.industry, investment=r.investment, owner=r.owner,
                       general_contractor=r.general_contractor,
                       complaint_url=complaint_url(settings, r)) for r in rows]
    return _json(schemas.SitePage(items=items, next_cursor=str(rows[-1].id) if more else None))


@api.operation("GET", "/departments", summary="Handling departments (the ids a transfer names)", tag="directory",
               ok={200: schemas.DepartmentList}, query=schemas.DepartmentQuery)
def list_departments(query: schemas.DepartmentQuery) -> Response:
    found = select(Department).order_by(Department.jurisdiction_code, Department.kind)
    if query.county:
        found = found.where(Department.jurisdiction_code == query.county)
    return _json(schemas.DepartmentList(items=[_department(d) for d in db().scalars(found)]))


@api.operation("GET", "/warnings", summary="Warnings (预警) in the client's scope, newest first", tag="warnings",
               ok={200: schemas.WarningPage}, query=schemas.WarningQuery, problems=("forbidden",))
def list_warnings(query: schemas.WarningQuery) -> Response:
    rows = ledger.warnings_for(db(), _warnings_scope(), status="" if query.status == "all" else query.status,
                               grade=query.grade or "", indicator=query.indicator or "", county=query.county or "",
                               limit=query.limit + 1, before=int(query.cursor) if query.cursor else None)
    more, rows = len(rows) > query.limit, rows[:query.limit]
    tickets = _tickets([w.complaint_id for w in rows])
    return _json(schemas.WarningPage(items=[_warning(w, tickets, schemas.WarningOut) for w in rows],
                                     next_cursor=str(rows[-1].id) if more else None))


@api.operation("GET", "/warnings/<warning_id>", summary="One warning with its figures, clocks and timeline",
               tag="warnings", ok={200: schemas.WarningDetail}, path=schemas.WarningPath, problems=("forbidden",))
def get_warning(path: schemas.WarningPath) -> Response:
    found = ledger.warning_for(db(), _warnings_scope(), path.warning_id)
    if found is None:
        raise problems.ApiProblem("not-found", "没有这条预警，或不在接入系统的权限范围内")
    return _json(_warning(found, _tickets([found.complaint_id]), schemas.WarningDetail))


@api.operation("POST", "/warnings", summary="Report a public-opinion warning (舆情) at a site (the one kind a "
               "client system raises)", tag="warnings", ok={201: schemas.WarningDetail, 200: schemas.WarningDetail},
               body=schemas.OpinionIn, problems=("forbidden",), location_header=True)
def push_opinion(body: schemas.OpinionIn) -> Response:
    """201 with the new warning; 200 with the first one for a reference sent before."""
    session, who = db(), _warnings_scope()
    site = session.scalar(select(Site).where(Site.code == body.site_code, who.sites()))
    if site is None:
        raise _field_problem("site_code", "site_unknown", "没有这个项目编号（或不在权限范围内）")
    try:
        found, created = ledger.push_opinion(
            session, who, (who.user_id, body.reference), site, services().settings, utcnow(), source=body.source,
            link=body.url or "", summary=body.summary, happened_at=body.happened_at)
    except ledger.OpinionMismatch as exc:
        session.rollback()
        raise _field_problem("reference", "reference_reused", str(exc)) from None
    except ledger.WarningError as exc:
        session.rollback()
        raise problems.ApiProblem("validation", str(exc)) from None
    if created:
        audit(session, user_id=None, username=who.actor, action="opinion_record", address=request.remote_addr,
              detail={"warning_id": found.id, "site": site.code, "reference": body.reference})
    session.commit()
    response = _json(_warning(found, {}, schemas.WarningDetail))
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"{bp.url_prefix}/warnings/{found.id}"
    return response


def _warnings_scope():
    who = scope()
    try:
        who.require("warnings")
    except AccessDenied:
        raise problems.ApiProblem("forbidden", "接入系统的角色不能查看预警") from None
    return who


def _tickets(ids: list[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    return dict(db().execute(select(Complaint.id, Complaint.ticket_no).where(Complaint.id.in_(wanted)))) if wanted \
        else {}


def _warning(w: SiteWarning, tickets: dict[int, str], model: type[schemas.WarningOut]) -> schemas.WarningOut:
    """The warning as a client system reads it: the workers' lines without the keys that name them."""
    fields = dict(
        id=w.id, site=schemas.SiteRef(code=w.site.code, name=w.site.name), county=w.site.jurisdiction_code,
        indicator=w.indicator, indicator_text=ledger.INDICATOR_LABELS.get(w.indicator, w.indicator), grade=w.grade,
        status=w.status, status_text=ledger.STATUS_LABELS[w.status],
        department=_department(w.department) if w.department else None,
        employers=schemas.WarningEmployers(**{k: w.employers.get(k) for k in ("owner", "general_contractor")},
                                           subcontractors=w.employers.get("subcontractors") or []),
        figures={k: v for k, v in w.figures.items() if k != "lines"},
        lines=[schemas.WarningLine(**line) for line in (w.figures.get("lines") or {}).values()],
        opened_at=w.opened_at, due_at=w.due_at, escalated_at=w.escalated_at, cleared_at=w.cleared_at,
        cleared_reason=w.cleared_reason, ticket_no=tickets.get(w.complaint_id))
    if model is schemas.WarningDetail:
        fields["deadlines"] = [schemas.WarningDeadline(label=label, due=due) for label, due in ledger.deadlines(db(), w)]
        fields["events"] = [schemas.WarningEventOut(kind=e.kind, text=ledger.EVENT_LABELS.get(e.kind, e.kind),
                                                    note=e.note, at=e.created_at) for e in w.events]
    return model(**fields)


@docs_bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(api.document())


@docs_bp.get("/docs")
def reference():
    """The reference page: Swagger UI renders the document; the problem types are listed here for their links."""
    return render_template("api_docs.html", doc=api.document(), problems=problems.KINDS)


@docs_bp.get("/docs/renderer/<any(\"swagger-ui.css\", \"swagger-ui-bundle.js\"):name>")
def renderer(name: str):
    """The renderer's files, from the installed package (the same version pip installed, no CDN)."""
    return send_from_directory(RENDERER, name, max_age=86400)


def _case(ticket_no: str) -> Complaint:
    complaint = case_for(db(), scope(), ticket_no)
    if complaint is None:
        raise problems.ApiProblem("not-found", "没有这个案件，或不在接入系统的权限范围内")
    return complaint


def _json(model: schemas.BaseModel) -> Response:
    return jsonify(model.model_dump(mode="json"))


def _department(d: Department) -> schemas.DepartmentOut:
    return schemas.DepartmentOut(id=d.id, name=d.name, kind=d.kind, county=d.jurisdiction_code)


def _complaint(c: Complaint, model: type[schemas.ComplaintOut],
               refs: dict[int, ExternalRef] | None = None) -> schemas.ComplaintOut:
    """`refs`: the clue origins of a whole page, looked up once (external_refs); without, this one's."""
    ref = (external_refs(db(), [c.id]) if refs is None else refs).get(c.id)
    fields = dict(
        ticket_no=c.ticket_no, status=c.status, status_text=status_text(c.status), priority=c.priority,
        channel=c.channel, received_at=c.created_at, updated_at=c.updated_at, county=c.jurisdiction_code,
        site=schemas.SiteRef(code=c.site.code, name=c.site.name) if c.site else None, project_name=c.project_name,
        department=_department(c.department) if c.department else None,
        complainant_name=None if c.anonymous else c.complainant.name, phone_masked=mask_phone(c.complainant.phone),
        workers=c.workers, amount=c.amount, months=c.months, amount_recovered=c.amount_recovered,
        workers_paid=c.workers_paid, supervised=c.supervised, collective=c.collective_id is not None,
        next_due_at=c.next_due_at,
        deadlines=[schemas.DeadlineOut(clock=v.clock, label=v.label, state=v.state, due=v.due, left=v.left)
                   for v in clock_views(c, utcnow(), services().calendar)],
        source=schemas.SourceOut(system=ref.source, external_id=ref.external_id) if ref else None)
    if model is schemas.ComplaintDetail:
        fields["events"] = [schemas.EventOut(id=e.id, kind=e.kind, text=event_sentence(e.kind, c.ticket_no),
                                             from_status=e.from_status, to_status=e.to_status,
                                       actor=e.actor, note=e.note, at=e.created_at) for e in c.events]
        view = collective_view(db(), scope(), c)
        fields["collective_case"] = schemas.CollectiveOut(
            id=view.id, complaints=view.size.complaints, workers=view.size.workers, amount=view.size.amount,
            members=[m.ticket_no for m in view.members]) if view else None
        co_steps = co_step_views(db(), [c.id], utcnow(), services().calendar, services().settings.units)
        fields["co_handlers"] = [schemas.CoHandlerOut(
            department=_department(v.department), roles=v.roles, reply_due=v.clock.due,
            replied_at=v.replied_at, state=v.clock.state, left=v.clock.left) for v in co_steps.get(c.id, [])]
    return model(**fields)
