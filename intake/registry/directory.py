"""The handling directory: jurisdictions and their departments, loaded from a city's data file.

Loading is an upsert keyed on (jurisdiction code) and (jurisdiction, department kind), so running it twice, or
after editing the file, leaves exactly what the file says and never duplicates a row.
"""
from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from intake.foundation.models import Department, Jurisdiction
from intake.foundation.refcache import RefCache
from intake.reading.extract import CountyRef, town_names

DEFAULT_FILE = "linyi.toml"
DISPATCH_DESK = "dispatch_desk"
LEADING_GROUP_OFFICE = "leading_group_office"
HRSS = "hrss"
# How long a process keeps the county list it read (county_refs); a load in this process clears it at once.
_county_cache = RefCache(seconds=60.0)


class DirectoryError(ValueError):
    pass


@dataclass(frozen=True)
class Departments:
    """Some departments of one county and of the city, by kind, with their jurisdictions (see `departments`)."""

    county: Mapping[str, Department]
    city: Mapping[str, Department]

    def of_county(self, kind: str) -> Department | None:
        return self.county.get(kind)

    def of_city(self, kind: str) -> Department:
        """As city_department(): the directory must have it."""
        if kind not in self.city:
            raise DirectoryError(_NO_CITY_DEPARTMENT.format(kind=kind))
        return self.city[kind]


_NO_CITY_DEPARTMENT = "the directory has no city-level {kind} (load it with `qingling directory load`)"
# Built once: composing it costs more than running it.
_DEPARTMENTS = (select(Department).join(Department.jurisdiction).options(contains_eager(Department.jurisdiction))
                .where(or_(and_(Department.jurisdiction_code == bindparam("county"),
                                Department.kind.in_(bindparam("kinds", expanding=True))),
                           and_(Jurisdiction.parent_code.is_(None),
                                Department.kind.in_(bindparam("city_kinds", expanding=True))))))


@dataclass(frozen=True)
class LoadResult:
    jurisdictions: int
    departments: int
    created: int


def read_directory(path: str | Path | None = None) -> dict[str, Any]:
    """Parse and check a directory file; the packaged Linyi file when no path is given."""
    if path:
        raw = Path(path).read_bytes()
    else:
        raw = resources.files("intake.data").joinpath(DEFAULT_FILE).read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DirectoryError(f"directory file {path or DEFAULT_FILE}: {exc}") from exc
    for key in ("city", "units", "department_kinds", "industries"):
        if key not in data:
            raise DirectoryError(f"directory file lacks [{key}]")
    codes = [data["city"]["code"]] + [u["code"] for u in data["units"]]
    if len(set(codes)) != len(codes):
        raise DirectoryError("directory file repeats a jurisdiction code")
    return data


@functools.lru_cache(maxsize=8)
def industry_department_kinds(path: str | Path | None = None) -> Mapping[str, str]:
    """Site industry -> the department kind that leads for it (e.g. 房屋建筑 -> housing); read once per file."""
    return MappingProxyType(dict(read_directory(path)["industries"]))


def load_directory(session: Session, path: str | Path | None = None) -> LoadResult:
    data = read_directory(path)
    city = data["city"]
    kinds = data["department_kinds"]
    created = 0
    jurisdictions = [(city, "city", None)] + [(u, u["kind"], city["code"]) for u in data["units"]]
    towns = town_names(data["units"], data.get("places", {}).get("ordinary_words", ()))
    departments = 0
    for entry, kind, parent in jurisdictions:
        created += _upsert_jurisdiction(session, entry, kind, parent, towns.get(entry["code"], ()))
        if parent is None:
            wanted = [(d["kind"], d) for d in city.get("departments", [])]
        else:
            prefix = entry.get("department_prefix", entry["name"])
            overrides = {d["kind"]: d for d in entry.get("departments", [])}
            wanted = [(k, {"name": spec["name_pattern"].format(unit=prefix), **overrides.get(k, {})})
                      for k, spec in kinds.items()]
        for dept_kind, spec in wanted:
            created += _upsert_department(session, entry["code"], dept_kind, spec)
            departments += 1
    session.flush()
    _county_cache.clear()
    return LoadResult(jurisdictions=len(jurisdictions), departments=departments, created=created)


def _upsert_jurisdiction(session: Session, entry: dict, kind: str, parent: str | None, towns: tuple[str, ...]) -> int:
    row = session.get(Jurisdiction, entry["code"])
    is_new = row is None
    if is_new:
        row = Jurisdiction(code=entry["code"])
        session.add(row)
    row.name = entry["name"]
    row.kind = kind
    row.parent_code = parent
    row.short_names = list(entry.get("short_names", []))
    row.towns = list(towns)
    row.minimum_wage = entry.get("minimum_wage")
    row.note = entry.get("note")
    session.flush()
    return int(is_new)


def _upsert_department(session: Session, code: str, kind: str, spec: dict) -> int:
    """spec: name, and optionally phone and contacts ({sms = [...], wechat = "...", email = ..., webhook = ...})."""
    row = session.scalar(select(Department).where(Department.jurisdiction_code == code, Department.kind == kind))
    is_new = row is None
    if is_new:
        row = Department(jurisdiction_code=code, kind=kind)
        session.add(row)
    row.name = spec["name"]
    row.phone = spec.get("phone")
    row.contacts = dict(spec.get("contacts", {}))
    return int(is_new)


def find_jurisdiction(session: Session, text: str) -> Jurisdiction | None:
    """A unit by its 6-digit code, full name or a short name (兰山, 高新区); None when unknown."""
    text = (text or "").strip()
    if not text:
        return None
    if text.isdigit():
        return session.get(Jurisdiction, text)
    for row in session.scalars(select(Jurisdiction).where(Jurisdiction.parent_code.is_not(None))):
        if text == row.name or text in (row.short_names or []):
            return row
    return None


def counties(session: Session) -> list[Jurisdiction]:
    """The handling units below the city, in code order (the county choice on the general form)."""
    return list(session.scalars(select(Jurisdiction).where(Jurisdiction.parent_code.is_not(None))
                                .order_by(Jurisdiction.code)))


def county_refs(session: Session) -> tuple[CountyRef, ...]:
    """The counties as the extractor reads them (cached: every chat turn needs them)."""
    return _county_cache.get(session, "counties", lambda: tuple(
        CountyRef(c.code, c.name, tuple(c.short_names or ()), tuple(c.towns or ())) for c in counties(session)))


def city_department(session: Session, kind: str) -> Department:
    """The city-level department of a kind (dispatch desk, leading-group office); the directory must have it."""
    found = session.scalar(select(Department).join(Jurisdiction)
                           .where(Jurisdiction.parent_code.is_(None), Department.kind == kind))
    if found is None:
        raise DirectoryError(_NO_CITY_DEPARTMENT.format(kind=kind))
    return found


def departments(session: Session, county: str | None, kinds: Iterable[str], city_kinds: Iterable[str]) -> Departments:
    """The county's departments of `kinds` and the city's of `city_kinds`, in one query (a route needs up to five,
    which took as many queries)."""
    of_county: dict[str, Department] = {}
    of_city: dict[str, Department] = {}
    for row in session.scalars(_DEPARTMENTS, {"county": county, "kinds": sorted(kinds),
                                              "city_kinds": sorted(city_kinds)}):
        if row.jurisdiction_code == county:
            of_county[row.kind] = row
        if row.jurisdiction.parent_code is None:
            of_city[row.kind] = row
    return Departments(of_county, of_city)


def without_phone(session: Session, kinds: Iterable[str]) -> list[Department]:
    """The counties' departments of these kinds with no complaint phone configured: a site poster (Art. 34) shows
    a blank there, to be written in by hand until the directory has the number."""
    return list(session.scalars(
        select(Department).join(Jurisdiction, Jurisdiction.code == Department.jurisdiction_code)
        .where(Jurisdiction.parent_code.is_not(None), Department.kind.in_(list(kinds)),
               or_(Department.phone.is_(None), Department.phone == ""))
        .options(joinedload(Department.jurisdiction)).order_by(Department.jurisdiction_code, Department.kind)))


def department(session: Session, jurisdiction_code: str, kind: str) -> Department | None:
    """The county's (or city's) department of a kind, with its jurisdiction (whose name routing and notices
    show) in the same query."""
    return session.scalar(select(Department).options(joinedload(Department.jurisdiction))
                          .where(Department.jurisdiction_code == jurisdiction_code, Department.kind == kind))
