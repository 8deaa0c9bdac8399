"""The API's request and response bodies as pydantic v2 models: requests are validated with them and the OpenAPI
document is generated from them (handlers.api.spec), so the two cannot drift.

Requests are strict (no "5" for 5) and refuse unknown fields, so a client's typo is an error, not a silently
dropped value. Text fields lose control characters (PostgreSQL cannot store a NUL) and outer spaces first.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    RootModel,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from intake.case.cases import MEASURES, MESSAGE_MAX
from intake.case.co_steps import PAYMENT_STATUSES
from intake.foundation.models import Industry, Priority, Status
from intake.foundation.validation import (
    AMOUNT_MAX,
    MONTHS_MAX,
    ROW_ID_MAX,
    WORKERS_MAX,
    clean_text,
    normalise_id_number,
    normalise_phone,
)
from intake.warnings.ledger import OPINION_SOURCES

MAX_PAGE = 200
DEFAULT_PAGE = 50
TEXT_MAX = 2000
PHONE_PATTERN = r"^[\s+]*(?:86|0086)?[\s-]*1[3-9](?:[\s-]*\d){9}\s*$"
VISIBLE = r"[^\s\x00-\x1f\x7f]"  # at least one visible character (unanchored, as JSON Schema patterns are)
OPEN311_TEXT_MAX = 4000  # GeoReport v2's own limit on a description
MEDIA_URL_MAX = 190  # stored as the attachment's source "url:<address>" (200 characters)
NOTE_MAX = 1000


def _clean(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def _normalised(normalise, code: str, message: str):
    """A validator that keeps the normalised form of what people type (full-width digits, +86 ...)."""
    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise PydanticCustomError("string_type", "Input should be a valid string")
        found = normalise(value)
        if found is None:
            raise PydanticCustomError(code, message)
        return found

    return validate


def _query_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise PydanticCustomError("bool_parsing", "Input should be true or false")


def _query_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("datetime_parsing", "Input should be an ISO 8601 date-time") from None
    return value


def Text(max_length: int, min_length: int = 1, **extra: Any) -> Any:
    """A text field: control characters and outer spaces go first, then its length is counted in characters;
    a required text must hold something visible, which the document says too (a pattern)."""
    visible = {"pattern": VISIBLE} if min_length else {}
    return Annotated[str, Field(min_length=min_length, max_length=max_length, **visible, **extra),
                     BeforeValidator(_clean)]


def _whole(value: Any) -> Any:
    """8.0 is the integer 8, as JSON Schema (and so the document) says; 8.5 and "8" stay errors."""
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53 else value


def Whole(**constraints: Any) -> Any:
    return Annotated[int, Field(**constraints), BeforeValidator(_whole)]
Phone = Annotated[str, PlainValidator(_normalised(normalise_phone, "phone_invalid", "不是有效的中国大陆手机号码")),
                  WithJsonSchema({"type": "string", "pattern": PHONE_PATTERN, "examples": ["13912345678"],
                                  "description": "Mainland mobile number (+86 and spaces are accepted too)"})]
IdNumber = Annotated[str, PlainValidator(_normalised(normalise_id_number, "id_number_invalid",
                                                    "不是有效的18位居民身份证号码")),
                     WithJsonSchema({"type": "string", "pattern": r"^\s*\d{17}[\dXx]\s*$",
                                     "description": "18-character resident ID (GB 11643), with a valid check digit"})]
QueryBool = Annotated[bool, PlainValidator(_query_bool), WithJsonSchema({"type": "boolean"})]
QueryTime = Annotated[AwareDatetime, BeforeValidator(_query_time)]
County = Annotated[str, Field(pattern=r"^\d{6}$", description="6-digit 行政区划代码, e.g. 371302 (兰山区)")]
TicketNo = Annotated[str, Field(pattern=r"^\d{12}$", description="12-digit ticket number (受理编号)")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class Query(BaseModel):
    """Query strings are text: numbers are parsed from it, unknown parameters refused."""

    model_config = ConfigDict(extra="forbid")


# --- requests ---------------------------------------------------------------------------------------------

class ClueSource(Request):
    system: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$", examples=["12345", "national_platform"],
                                 description="The system the clue comes from: 12345 hotline, national platform ...")]
    external_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$",
                                      description="The work order or clue id in that system")]


class ComplaintIn(Request):
    """A worker's complaint, typed in by another system. The same (source.system, source.external_id) again is
    the same complaint."""

    phone: Phone
    description: Text(TEXT_MAX, description="What the worker said")
    name: Text(100) | None = None
    id_number: IdNumber | None = None
    anonymous: bool = False
    site_code: Text(64, description="项目编号 of a known site") | None = None
    county: County | None = None
    project_name: Text(300) | None = None
    workers: Whole(ge=1, le=WORKERS_MAX) | None = None
    amount: Whole(ge=0, le=AMOUNT_MAX, description="Yuan owed") | None = None
    months: Whole(ge=1, le=MONTHS_MAX) | None = None
    source: ClueSource | None = None


class Open311Request(ComplaintIn):
    """A GeoReport v2 request as its clients post it: contact optional (a clue without one is marked 无联系方式),
    a longer description, where it happened, and a photo's address for the worker to fetch."""

    phone: Phone | None = None
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    description: Text(OPEN311_TEXT_MAX)
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    long: Annotated[float, Field(ge=-180, le=180)] | None = None
    media_url: Annotated[str, Field(max_length=MEDIA_URL_MAX, pattern=r"^https?://[\x21-\x7e]+$")] | None = None


Reason = Text(NOTE_MAX)


class Acknowledge(Request):
    action: Literal["acknowledge"]


class Contact(Request):
    action: Literal["contact"]
    note: Reason


class Wait(Request):
    action: Literal["wait"]
    needed: Reason


class Material(Request):
    action: Literal["material"]


class Accept(Request):
    action: Literal["accept"]


class Reject(Request):
    action: Literal["reject"]
    reason: Reason


class Measures(Request):
    action: Literal["measures"]
    measures: Annotated[list[Literal[tuple(MEASURES)]], Field(min_length=1, max_length=len(MEASURES))]
    note: Reason | None = None


class Investigate(Request):
    action: Literal["investigate"]
    note: Reason | None = None


class Resolve(Request):
    action: Literal["resolve"]
    outcome: Reason
    amount_recovered: Whole(ge=0, le=AMOUNT_MAX)
    workers_paid: Whole(ge=0, le=WORKERS_MAX) | None = None


class Reopen(Request):
    action: Literal["reopen"]
    reason: Reason


class Return(Request):
    action: Literal["return"]
    reason: Reason


class RequestReturn(Request):
    action: Literal["request_return"]
    reason: Reason


class Transfer(Request):
    action: Literal["transfer"]
    department_id: Whole(ge=1, le=ROW_ID_MAX)
    reason: Reason


class Close(Request):
    action: Literal["close"]
    reason: Reason


class Message(Request):
    action: Literal["message"]
    text: Text(MESSAGE_MAX)


Deadline = Annotated[AwareDatetime, BeforeValidator(_query_time),
                     Field(description="ISO 8601 date-time with its offset, e.g. 2027-01-15T17:30:00+08:00")]


class OrderPayment(Request):
    """责令限期支付: served on the employer; unpaid by `due`, the compensation at `compensation_percent` (within
    the configured 50-100 %) is fixed and the case escalates."""
    action: Literal["order_payment"]
    employer: Text(300)
    amount: Whole(ge=1, le=AMOUNT_MAX, description="Yuan to pay")
    due: Deadline
    compensation_percent: Whole(ge=0, le=1000)


class OrderPaid(Request):
    action: Literal["order_paid"]
    note: Reason | None = None


class PoliceTransfer(Request):
    """移送公安: refused, with the reasons, below the configured thresholds or without an order to pay ignored."""
    action: Literal["police_transfer"]
    police: Text(200, description="The receiving public security organ")
    note: Reason | None = None


class PoliceReceipt(Request):
    action: Literal["police_receipt"]
    note: Reason | None = None


class PoliceDecision(Request):
    action: Literal["police_decision"]
    outcome: Literal["filed", "declined"]
    reason: Reason | None = Field(None, description="Required when declined")


class PlanStep(Request):
    """一案一策 (serious cases only): a step, who answers for it, by when."""
    action: Literal["plan_step"]
    what: Text(500)
    owner: Text(100)
    due: Deadline


class PlanStepDone(Request):
    action: Literal["plan_step_done"]
    step_id: Whole(ge=1, le=ROW_ID_MAX)
    note: Reason | None = None


class ClearingNotice(Request):
    """清出建筑市场: a notice to the housing department of the case's county, awaited for its reply."""
    action: Literal["clearing_notice"]
    employer: Text(300)
    reason: Reason


class ClearingReply(Request):
    action: Literal["clearing_reply"]
    reply: Reason


class CoFunds(Request):
    """A co-handler's step: money it released for the project (财政's disbursement, an SOE's payment)."""
    action: Literal["co_funds"]
    amount: Whole(ge=1, le=AMOUNT_MAX)
    paid_on: date
    to_whom: Text(200)


class CoPaymentStatus(Request):
    """A co-handler's step: where the project's money stands as it knows it."""
    action: Literal["co_payment_status"]
    status: Literal[tuple(PAYMENT_STATUSES)]
    note: Reason | None = None


class CoReply(Request):
    """A co-handler's written answer on the case (协办答复): it stops the co-handler's reply clock."""
    action: Literal["co_reply"]
    text: Reason


class Action(RootModel[Annotated[Union[Acknowledge, Contact, Wait, Material, Accept, Reject, Measures, Investigate,
                                       Resolve, Reopen, Return, RequestReturn, Transfer, Close, Message,
                                       OrderPayment, OrderPaid, PoliceTransfer, PoliceReceipt, PoliceDecision,
                                       PlanStep, PlanStepDone, ClearingNotice, ClearingReply, CoFunds, CoPaymentStatus,
                                       CoReply],
                                 Field(discriminator="action")]]):
    """One step on a case, by the client's role; the case's rules (intake.case.cases) decide whether it may be taken
    now."""


class TicketPath(Query):
    ticket_no: TicketNo


class PayrollPath(Query):
    site_code: Annotated[str, Field(min_length=1, max_length=64, description="项目编号 of a known site")]
    kind: Literal["roster", "attendance", "account"]


PAYROLL_BATCH = 200
PayrollValue = Union[Annotated[str, BeforeValidator(_clean), Field(max_length=100)], int, None]


class PayrollIn(Request):
    """A site's payroll records of one kind, pushed by a bank or a platform, keyed like the import file's columns
    (English names): roster name, id_number, phone, team, subcontractor, start_date, end_date; attendance
    id_number, month, days, daily_wage, monthly_wage; account kind (deposit / payout / guarantee / progress: the
    owner's progress payment), day, amount, payer, id_number, ref. The same records again change nothing."""

    records: Annotated[list[Annotated[dict[str, PayrollValue], Field(max_length=8)]],
                       Field(min_length=1, max_length=PAYROLL_BATCH, description="At most 200 a request: send more in batches")]


class OpinionIn(Request):
    """A public-opinion warning (舆情: a post, a report, a gathering at a site) found by another system, recorded
    as staff record one: owned like a complaint at the site, with its verify and report-back clocks in hours
    from now. The same reference again from the same client is the same warning (200), or a 422 if it says
    something else."""

    reference: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$",
                                    description="The client's own id of this item (1-100 visible ASCII characters)")]
    site_code: Text(64, description="项目编号 of a site in the client's scope")
    source: Literal[tuple(OPINION_SOURCES)] = Field(description="post 网络帖文, media 媒体报道, gathering 现场聚集, "
                                                                "petition 信访, other 其他")
    summary: Text(TEXT_MAX, description="What was posted or seen")
    url: Annotated[str, Field(max_length=500, pattern=r"^https?://[\x21-\x7e]+$")] | None = None
    happened_at: AwareDatetime | None = Field(None, description="When it was posted or began, if known")


class ComplaintQuery(Query):
    status: Literal[("open", "all", *(s.value for s in Status))] = "open"
    priority: Priority | None = None
    county: County | None = None
    industry: Industry | None = None
    overdue: QueryBool = False
    collective: QueryBool = False
    supervised: QueryBool = False
    received_from: QueryTime | None = None
    received_before: QueryTime | None = None
    cursor: Annotated[str, Field(min_length=1, max_length=80, description="next_cursor of the previous page")] \
        | None = None
    limit: Whole(ge=1, le=MAX_PAGE) = DEFAULT_PAGE


class SiteQuery(Query):
    county: County | None = None
    cursor: Annotated[str, Field(pattern=r"^\d{1,9}$", description="next_cursor of the previous page")] | None = None
    limit: Whole(ge=1, le=MAX_PAGE) = DEFAULT_PAGE


class WarningQuery(Query):
    status: Literal["live", "open", "escalated", "cleared", "all"] = Field(
        "live", description="live: open or escalated (未消除)")
    grade: Literal["general", "key", "opinion"] | None = None
    indicator: Annotated[str, Field(pattern=r"^[a-z_]{1,30}$", description="e.g. workers_unpaid")] | None = None
    county: County | None = None
    cursor: Annotated[str, Field(pattern=r"^\d{1,9}$", description="next_cursor of the previous page")] | None = None
    limit: Whole(ge=1, le=MAX_PAGE) = DEFAULT_PAGE


class WarningPath(Query):
    warning_id: Whole(ge=1, le=2_147_483_647)


class DepartmentQuery(Query):
    county: County | None = None


# --- responses --------------------------------------------------------------------------------------------

class DepartmentOut(BaseModel):
    id: int
    name: str
    kind: str
    county: str


class SiteRef(BaseModel):
    code: str
    name: str


class DeadlineOut(BaseModel):
    clock: str
    label: str
    state: Literal["green", "yellow", "red", "paused"]
    due: datetime
    left: str


class EventOut(BaseModel):
    id: int
    kind: str
    text: str  # the event in one Chinese sentence
    from_status: Status | None
    to_status: Status | None
    actor: str
    note: str | None
    at: datetime


class SourceOut(BaseModel):
    system: str
    external_id: str


class ComplaintOut(BaseModel):
    ticket_no: str
    status: Status
    status_text: str
    priority: Priority
    channel: str
    received_at: datetime
    updated_at: datetime
    county: str | None
    site: SiteRef | None
    project_name: str | None
    department: DepartmentOut | None
    complainant_name: str | None = Field(description="None when the worker complained anonymously")
    phone_masked: str
    workers: int | None
    amount: int | None
    months: int | None
    amount_recovered: int
    workers_paid: int | None
    supervised: bool
    collective: bool
    next_due_at: datetime | None
    deadlines: list[DeadlineOut]
    source: SourceOut | None


class CollectiveOut(BaseModel):
    id: int
    complaints: int = Field(description="every member, also those outside the client's scope")
    workers: int = Field(description="a member without a head count counts as one worker")
    amount: int
    members: list[str] = Field(description="ticket numbers of the members in the client's scope")


class CoHandlerOut(BaseModel):
    department: DepartmentOut
    roles: list[str] = Field(description="why it was told: ndrc, finance, sasac, supervisor, leading_group_office")
    reply_due: datetime
    replied_at: datetime | None
    state: Literal["green", "yellow", "red"] = Field(description="its reply clock: red past the deadline unanswered")
    left: str


class ComplaintDetail(ComplaintOut):
    events: list[EventOut]
    collective_case: CollectiveOut | None
    co_handlers: list[CoHandlerOut] = Field(description="departments told to co-handle the case, with their reply "
                                                        "clocks (units told before clocks existed are left out)")


class ComplaintPage(BaseModel):
    items: list[ComplaintOut]
    next_cursor: str | None


class SiteOut(BaseModel):
    code: str
    name: str
    county: str
    county_name: str
    address: str | None
    industry: str
    investment: str
    owner: str | None
    general_contractor: str | None
    complaint_url: str


class WarningEmployers(BaseModel):
    owner: str | None
    general_contractor: str | None
    subcontractors: list[str]


class WarningLine(BaseModel):
    """One worker of a "workers unpaid" warning, unnamed: the months not paid, the days and the sum owed."""

    months: list[str]
    days: int
    owed: int


class WarningEventOut(BaseModel):
    kind: str
    text: str  # 触发预警, 核查落实 ...
    note: str | None
    at: AwareDatetime


class WarningDeadline(BaseModel):
    label: str
    due: AwareDatetime


class WarningOut(BaseModel):
    id: int
    site: SiteRef
    county: str
    indicator: str
    indicator_text: str
    grade: Literal["general", "key", "opinion"]
    status: Literal["open", "escalated", "cleared"]
    status_text: str
    department: DepartmentOut | None
    employers: WarningEmployers
    figures: dict[str, Any] = Field(description="What raised it, as staff read it (workers' lines apart)")
    lines: list[WarningLine]
    opened_at: AwareDatetime
    due_at: AwareDatetime | None
    escalated_at: AwareDatetime | None
    cleared_at: AwareDatetime | None
    cleared_reason: str | None
    ticket_no: str | None = Field(description="The case it was turned into")


class WarningDetail(WarningOut):
    deadlines: list[WarningDeadline]
    events: list[WarningEventOut]


class WarningPage(BaseModel):
    items: list[WarningOut]
    next_cursor: str | None


class SitePage(BaseModel):
    items: list[SiteOut]
    next_cursor: str | None


class PayrollOut(BaseModel):
    kind: str
    created: int
    updated: int
    unchanged: int


class DepartmentList(BaseModel):
    items: list[DepartmentOut]


class FieldError(BaseModel):
    location: Literal["body", "query", "path", "header"]
    field: str = Field(description="Dotted path of the field, e.g. source.external_id")
    pointer: str = Field(description="JSON Pointer (RFC 6901) into the request body; empty for other locations")
    code: str = Field(description="Machine-readable reason, e.g. missing, int_type, phone_invalid")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details, served as application/problem+json."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] = []
