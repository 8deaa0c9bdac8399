"""The supervisors' daily tallies (models.DailyTally), kept in step with the cases.

Each case adds one "received" row vector to the bucket of the day it was received (its unit: handling
department, county, site industry and investment type) and, once closed, one "closed" vector to the bucket of
the day it was closed; a duplicate (marked so, its survivor carrying the matter) adds nothing while it is one, so
the 两个清零 counts see one matter once. What it added is kept on its fact row (case_facts.tallied); when the case changes, the
transaction recomputes its contribution as it commits and moves only the difference, so the tallies always
equal a count over the cases themselves (`rebuild` recounts them from scratch, e.g. after a site's industry was
corrected).

Days are local days of one reporting time zone (the calendar's), set by the composition root.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from intake.foundation.models import CaseFacts, Complaint, DailyTally, Department, Satisfaction, Site, Status

# satisfied, answered, fully_satisfied: the workers' grades of closed cases (满意 or 基本满意, any grade, 满意).
COUNTERS = ("received", "ack_met", "ack_missed", "accept_met", "accept_missed", "reply_met", "reply_missed",
            "closed", "satisfied", "answered", "claimed", "recovered", "fully_satisfied")
BUCKET = ("kind", "day", "department_id", "county", "industry", "investment")
RECEIVED, CLOSED = "received", "closed"
SATISFIED = (Satisfaction.SATISFIED, Satisfaction.BASIC)  # what 满意率 counts
# Complaint attributes a tally depends on (columns, and the relationships that set them): a flush that changes
# one of them, or writes an event of the case, recounts the case.
TALLIED_ATTRIBUTES = ("status", "satisfaction", "amount", "amount_recovered", "department_id", "department",
                      "jurisdiction_code", "jurisdiction", "site_id", "site", "duplicate_of_id")
# A case's unit as case_facts keeps it too, for the lists that count by site or employer (intake.supervision.figures).
UNIT = ("received_day", "department_id", "county", "industry", "investment", "site_id", "is_open")
BATCH = 5000
_DUPLICATE = 16 + len(UNIT)  # the position of duplicate_of_id in a row of _FACTS
_TOUCHED = "tallies.touched"
_zone = ZoneInfo("Asia/Shanghai")
T, F, C = DailyTally.__table__, CaseFacts, Complaint
_STORE = update(F.__table__).where(F.__table__.c.complaint_id == bindparam("b_id")).values(
    tallied=bindparam("b_tallied"), **{name: bindparam(f"b_{name}") for name in UNIT})


def touch(session: Session, complaint_ids: Iterable[int]) -> None:
    """Note cases whose tallies may have changed; `at_commit` recounts them once, as the transaction ends."""
    session.info.setdefault(_TOUCHED, set()).update(complaint_ids)


def at_commit(session: Session) -> None:
    """before_commit: move the touched cases' tallies, all buckets in one statement in key order.

    Done once at the end rather than at every flush, so a transaction of many flushes (a worker's batch) locks
    its buckets in one sorted sweep, and two transactions cannot take the same buckets in opposite orders
    (the load test deadlocked before). The recount compares each case with what it last added, so work a
    savepoint rolled back simply shows no change."""
    session.flush()
    touched = session.info.pop(_TOUCHED, None)
    if touched:
        refresh(session.connection(), touched)


def forget(session: Session, *_args) -> None:
    """after_rollback: what was touched is undone."""
    session.info.pop(_TOUCHED, None)


def configure(timezone: str) -> None:
    global _zone
    _zone = ZoneInfo(timezone)


def _local_day(moment) -> str:
    return moment.astimezone(_zone).date().isoformat()


# The cases' facts as a tally counts them; built once (every commit that changed a case runs it).
_FACTS = (select(C.id, C.created_at, C.status, C.satisfaction, C.amount, C.amount_recovered,
                 func.coalesce(C.department_id, 0),
                 func.coalesce(Department.jurisdiction_code, C.jurisdiction_code, ""),
                 func.coalesce(Site.industry, ""), func.coalesce(Site.investment, ""), F.acknowledged_on_time,
                 F.accept_on_time, F.reply_on_time, F.closed_at, C.site_id, F.tallied,
                 *(getattr(F, name) for name in UNIT), C.duplicate_of_id)
          .join(F, F.complaint_id == C.id).outerjoin(Site, Site.id == C.site_id)
          .outerjoin(Department, Department.id == C.department_id)
          .where(C.id.in_(bindparam("b_ids", expanding=True))))


def _upsert(dialect_insert):
    """Add the rows' counters to their buckets, creating those not there yet."""
    statement = dialect_insert(T)
    return statement.on_conflict_do_update(index_elements=list(BUCKET),
                                           set_={c: T.c[c] + statement.excluded[c] for c in COUNTERS})


_UPSERT = {"postgresql": _upsert(pg_insert), "sqlite": _upsert(sqlite_insert)}


def unit_of(row) -> tuple:
    """The case's unit as case_facts keeps it (UNIT): received day, department, county, industry, investment,
    site, open."""
    return (date.fromisoformat(_local_day(row[1])), row[6], row[7], row[8], row[9], row[14],
            row[2] != Status.CLOSED.value and row[_DUPLICATE] is None)


def contribution(row) -> list[list]:
    """What one case adds to the tallies: [[kind, day, department, county, industry, investment, *counters]]."""
    if row[_DUPLICATE] is not None:
        return []
    (_id, created_at, status, satisfaction, amount, recovered, department_id, county, industry, investment,
     ack, accept, reply, closed_at) = row[:14]
    unit = [department_id, county, industry, investment]
    closed = status == Status.CLOSED.value
    received = [1, ack is True, ack is False, accept is True, accept is False, reply is True, reply is False,
                closed, satisfaction in SATISFIED, satisfaction is not None, amount or 0, recovered or 0,
                satisfaction == Satisfaction.SATISFIED]
    found = [[RECEIVED, _local_day(created_at), *unit, *(int(v) for v in received)]]
    if closed and closed_at is not None:
        found.append([CLOSED, _local_day(closed_at), *unit, *(int(c == "closed") for c in COUNTERS)])
    return found


def refresh(connection: Connection, complaint_ids: Iterable[int]) -> int:
    """Move the tallies of these cases to what they are now; returns how many cases changed."""
    ids = sorted(set(complaint_ids))
    if not ids:
        return 0
    deltas: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    stored = []
    for row in connection.execute(_FACTS, {"b_ids": ids}):
        new, old = contribution(row), row[15] or []
        unit = unit_of(row)
        if new == old and unit == tuple(row[16:_DUPLICATE]):
            continue
        for sign, entries in ((-1, old), (1, new)):
            for entry in entries:
                bucket = deltas[tuple(entry[:len(BUCKET)])]
                for i, value in enumerate(entry[len(BUCKET):]):
                    bucket[i] += sign * value
        stored.append({"b_id": row[0], "b_tallied": new, **{f"b_{k}": v for k, v in zip(UNIT, unit)}})
    _add(connection, deltas)
    if stored:
        connection.execute(_STORE, stored)
    return len(stored)


def _add(connection: Connection, deltas: dict[tuple, list[int]]) -> None:
    """Upsert the buckets in key order (two transactions touching the same buckets lock them in one order)."""
    rows = [{**dict(zip(BUCKET, (kind, date.fromisoformat(day), *unit))), **dict(zip(COUNTERS, vector))}
            for (kind, day, *unit), vector in sorted(deltas.items()) if any(vector)]
    if rows:
        connection.execute(_UPSERT[connection.dialect.name], rows)


def rebuild(connection: Connection) -> None:
    """Recount every case from scratch (the migration that made the tallies, or after a site was corrected)."""
    connection.execute(T.delete())
    connection.execute(update(F.__table__).values(tallied=None))
    last = 0
    while True:
        ids = list(connection.scalars(select(C.id).join(F, F.complaint_id == C.id).where(C.id > last)
                                      .order_by(C.id).limit(BATCH)))
        if not ids:
            return
        refresh(connection, ids)
        last = ids[-1]
