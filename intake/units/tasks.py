"""Tasks to member units: a supervisor gives departments or counties a task with a deadline; each unit answers
with a text and files and gets a receipt; the office follows completion per task and per unit.

Who issues: the roles with the "tasks" power, to the units in their reach (a county supervisor: the county
itself and its departments; the city: any). Who answers: a department's staff for a department's part, the
county supervisor for a county's part. An answer after the deadline is kept and counted late.

Units that have not answered are reminded `[units] remind_days` working days before the deadline and told when
it has passed: two timer rows of the task ("unit_task:remind", "unit_task:overdue") that the worker fires.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session, selectinload

from intake.case import timers
from intake.case.co_clocks import remind_at
from intake.delivery.outbox import notify_department
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import (
    Complaint,
    Department,
    Jurisdiction,
    RectificationItem,
    Timer,
    UnitTask,
    UnitTaskAssignment,
    UnitTaskFile,
)
from intake.foundation.settings import UnitSettings
from intake.people.access import Scope, departments_in_reach
from intake.people.staff import Role
from intake.registry.directory import department

KINDS = {"ledger": "台账报送", "self_inspection": "自查自纠", "reply": "通报回复", "other": "其他任务"}
FILE_TYPES = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
              ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              ".xls": "application/vnd.ms-excel", ".csv": "text/csv",
              ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
              ".doc": "application/msword"}
MAX_FILES = 5
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TEXT = 5000
TASK_CLOCK = "unit_task"
REMIND, OVERDUE = "remind", "overdue"


class TaskError(ValueError):
    """A task or an answer that cannot be taken as given; nothing was changed."""


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class UnitProgress:
    """One unit's part of a task as the office sees it."""

    assignment: UnitTaskAssignment
    unit: str
    state: str  # "on_time", "late" (answered after the deadline), "overdue" (not answered, past it), "open"


@dataclass(frozen=True)
class UnitRecord:
    """One unit over every task it was given."""

    unit: str
    assigned: int
    answered: int
    on_time: int
    late: int
    overdue: int


def unit_name(part: UnitTaskAssignment | RectificationItem) -> str:
    """The unit a part is given to: a department, or a county."""
    if part.department is not None:
        return part.department.name
    return part.jurisdiction.name


def deadline_state(due: datetime, answered_at: datetime | None, now: datetime) -> str:
    """"on_time" or "late" once answered, "overdue" past the deadline unanswered, else "open"."""
    if answered_at is not None:
        return "on_time" if answered_at <= due else "late"
    return "overdue" if now > due else "open"


def state_of(assignment: UnitTaskAssignment, now: datetime) -> str:
    return deadline_state(assignment.task.due_at, assignment.answered_at, now)


def issue(session: Session, scope: Scope, *, kind: str, title: str, body: str, due_at: datetime,
          department_ids: list[int], county_codes: list[str], now: datetime, calendar: WorkingCalendar,
          settings: UnitSettings) -> UnitTask:
    """A new task to the chosen units, all with the same deadline, and its reminders."""
    scope.require("tasks")
    title, body = (title or "").strip(), (body or "").strip()
    if kind not in KINDS:
        raise TaskError(f"未知的任务类型：{kind}")
    if not title or len(title) > 200:
        raise TaskError("请填写任务名称（200字以内）")
    if len(body) > MAX_TEXT:
        raise TaskError(f"任务说明不能超过{MAX_TEXT}字")
    if due_at <= now:
        raise TaskError("截止时间须晚于现在")
    departments, counties = check_units(session, scope, department_ids, county_codes)
    task = UnitTask(kind=kind, title=title, body=body, due_at=due_at, issued_by=scope.username,
                    jurisdiction_code=scope.jurisdiction_code if scope.role is Role.COUNTY else None, created_at=now)
    task.assignments = ([UnitTaskAssignment(department_id=d) for d in departments]
                        + [UnitTaskAssignment(jurisdiction_code=c) for c in counties])
    session.add(task)
    session.flush()
    reminder = remind_at(due_at, calendar, settings)
    for step, when in ((REMIND, reminder), (OVERDUE, due_at)):
        if when is not None and when > now:
            session.add(Timer(unit_task_id=task.id, clock=f"{TASK_CLOCK}:{step}", due_at=when, version=0,
                              state=timers.PENDING, created_at=now))
    session.flush()
    return task


def fire_reminder(session: Session, timer: Timer, _complaint: Complaint | None, context: timers.FireContext) -> None:
    """Remind each unit that has not answered the task yet, or tell it the deadline has passed: a department in
    its console inbox and contacts, a county through its supervising department."""
    task = session.get(UnitTask, timer.unit_task_id)
    step = timer.clock.split(":", 1)[1]
    when = task.due_at.astimezone(context.calendar.timezone).strftime("%m月%d日%H:%M")
    if step == REMIND:
        kind, text = "task_reminder", f"【任务提醒】“{task.title}”须于{when}前报送，本单位尚未报送，请及时办理。"
    else:
        kind, text = "task_overdue", f"【任务逾期】“{task.title}”已于{when}截止，本单位尚未报送，请尽快报送。"
    for part in task.assignments:
        if part.answered_at is not None:
            continue
        unit = part.department or department(session, part.jurisdiction_code, context.settings.routing.supervisor_kind)
        if unit is not None:
            notify_department(session, unit, {"kind": kind, "task_id": task.id, "text": text}, None, context.now,
                              flush=False)


def check_units(session: Session, scope: Scope, department_ids: list[int],
                county_codes: list[str]) -> tuple[list[int], list[str]]:
    """The units chosen, each once, if all are in the user's reach (a county supervisor: the county and its
    departments); TaskError otherwise."""
    reach = {d.id for d in departments_in_reach(session, scope)}
    departments, counties = sorted(set(department_ids)), sorted(set(county_codes))
    if not departments and not counties:
        raise TaskError("请至少选择一个单位")
    if any(d not in reach for d in departments):
        raise TaskError("所选部门不在您的范围内")
    known = set(session.scalars(select(Jurisdiction.code).where(Jurisdiction.code.in_(counties))))
    if set(counties) - known or scope.role is Role.COUNTY and set(counties) - {scope.jurisdiction_code}:
        raise TaskError("所选区县不在您的范围内")
    return departments, counties


def answerable(scope: Scope, model: type[UnitTaskAssignment] | type[RectificationItem] = UnitTaskAssignment):
    """The parts (of tasks, or of inspections) this user answers for: their department's, or their county's as its
    supervisor; None for none."""
    mine = []
    if scope.department_id is not None:
        mine.append(model.department_id == scope.department_id)
    if scope.role is Role.COUNTY and scope.jurisdiction_code:
        mine.append(model.jurisdiction_code == scope.jurisdiction_code)
    return or_(*mine) if mine else None


def _followed(scope: Scope):
    """The tasks this user follows as their issuer's office: all for the city, the county's own for a county."""
    if scope.role is Role.ADMIN:
        return true()
    if scope.role is Role.COUNTY:
        return UnitTask.jurisdiction_code == scope.jurisdiction_code
    return None


def _loaded(query):
    return query.options(selectinload(UnitTask.assignments).selectinload(UnitTaskAssignment.department),
                         selectinload(UnitTask.assignments).selectinload(UnitTaskAssignment.jurisdiction))


def followed_tasks(session: Session, scope: Scope) -> list[UnitTask]:
    condition = _followed(scope)
    if condition is None:
        return []
    return list(session.scalars(_loaded(select(UnitTask)).where(condition).order_by(UnitTask.due_at.desc(),
                                                                                     UnitTask.id.desc())))


def my_assignments(session: Session, scope: Scope) -> list[UnitTaskAssignment]:
    condition = answerable(scope)
    if condition is None:
        return []
    return list(session.scalars(
        select(UnitTaskAssignment).join(UnitTask).where(condition)
        .options(selectinload(UnitTaskAssignment.task), selectinload(UnitTaskAssignment.files))
        .order_by(UnitTaskAssignment.answered_at.is_not(None), UnitTask.due_at, UnitTaskAssignment.id)))


def task_for(session: Session, scope: Scope, task_id: int) -> UnitTask | None:
    """A task the user follows or has a part in; None (so: 404) otherwise."""
    task = session.scalar(_loaded(select(UnitTask)).where(UnitTask.id == task_id))
    if task is None:
        return None
    if scope.role is Role.ADMIN or scope.role is Role.COUNTY and task.jurisdiction_code == scope.jurisdiction_code:
        return task
    return task if any(answers_for(scope, a) for a in task.assignments) else None


def answers_for(scope: Scope, part: UnitTaskAssignment | RectificationItem) -> bool:
    """Whether this user answers for the unit a part is given to: its department's staff, its county's
    supervisor."""
    return (scope.department_id is not None and part.department_id == scope.department_id
            or scope.role is Role.COUNTY and part.jurisdiction_code is not None
            and part.jurisdiction_code == scope.jurisdiction_code)


def my_part(task: UnitTask, scope: Scope) -> UnitTaskAssignment | None:
    return next((a for a in task.assignments if answers_for(scope, a)), None)


def file_for(session: Session, scope: Scope, file_id: int) -> UnitTaskFile | None:
    """A file of an answer, only through a task the user may see."""
    found = session.get(UnitTaskFile, file_id)
    if found is None or task_for(session, scope, found.assignment.task_id) is None:
        return None
    return found


def _checked_files(files: list[Upload]) -> list[UnitTaskFile]:
    if len(files) > MAX_FILES:
        raise TaskError(f"最多上传{MAX_FILES}个文件")
    kept = []
    for upload in files:
        name = PurePath((upload.filename or "").replace("\\", "/")).name[-200:]
        suffix = PurePath(name).suffix.lower()
        if suffix not in FILE_TYPES:
            raise TaskError(f"文件“{name}”的类型不支持：请上传 PDF、图片、Excel、Word 或 CSV")
        if not upload.data:
            raise TaskError(f"文件“{name}”是空的")
        if len(upload.data) > MAX_FILE_BYTES:
            raise TaskError(f"文件“{name}”超过{MAX_FILE_BYTES // 1024 // 1024}MB")
        kept.append(UnitTaskFile(filename=name, content_type=FILE_TYPES[suffix], data=upload.data))
    return kept


def answer(session: Session, scope: Scope, task_id: int, text: str, files: list[Upload],
           now: datetime) -> UnitTaskAssignment:
    """The user's unit answers its part of a task, once; the receipt number says it was received and when."""
    task = task_for(session, scope, task_id)
    part = my_part(task, scope) if task is not None else None
    if part is None:
        raise TaskError("这项任务没有分配给您的单位")
    if part.answered_at is not None:
        raise TaskError(f"本单位已于回执{part.receipt_no}报送，不能重复报送")
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise TaskError(f"报送内容不能超过{MAX_TEXT}字")
    kept = _checked_files(files)
    if not text and not kept:
        raise TaskError("请填写报送内容或上传文件")
    part.answer, part.answered_at, part.answered_by = text, now, scope.username
    part.files.extend(kept)
    part.receipt_no = f"RW{task.id:05d}-{part.id:05d}"
    session.flush()
    return part


def progress(task: UnitTask, now: datetime) -> list[UnitProgress]:
    """Each unit's part of one task, late and overdue first."""
    order = {"overdue": 0, "late": 1, "open": 2, "on_time": 3}
    rows = [UnitProgress(a, unit_name(a), state_of(a, now)) for a in task.assignments]
    return sorted(rows, key=lambda r: (order[r.state], r.unit))


def per_unit(tasks: list[UnitTask], now: datetime) -> list[UnitRecord]:
    """Completion per unit over these tasks, the units with the most overdue and late first."""
    counts: dict[str, dict[str, int]] = {}
    for task in tasks:
        for a in task.assignments:
            row = counts.setdefault(unit_name(a), {"open": 0, "on_time": 0, "late": 0, "overdue": 0})
            row[state_of(a, now)] += 1
    records = [UnitRecord(unit, sum(c.values()), c["on_time"] + c["late"], c["on_time"], c["late"], c["overdue"])
               for unit, c in counts.items()]
    return sorted(records, key=lambda r: (-r.overdue, -r.late, r.unit))


def overdue(session: Session, scope: Scope, now: datetime) -> list[UnitProgress]:
    """Every unit, over the tasks the user follows, that has not answered a task past its deadline."""
    return [row for task in followed_tasks(session, scope) for row in progress(task, now) if row.state == "overdue"]


def departments_to_choose(session: Session, scope: Scope) -> list[Department]:
    return departments_in_reach(session, scope) if _followed(scope) is not None else []
