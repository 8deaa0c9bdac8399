"""Shared steps of the console tests: accounts of every role, logging in through the real form, acting on a case."""
from __future__ import annotations

import re

from argon2 import PasswordHasher
from sqlalchemy import select

from intake.foundation.models import Complaint, StaffUser
from intake.registry.directory import department
from tests.conftest import csrf_token

PASSWORD = "console-pass-1"
# Hashed once for the whole suite (argon2id takes ~0.1 s by design); intake.people.staff.create_user is tested itself.
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)


def make_accounts(session) -> dict[str, str]:
    """One account per role around 兰山区 (371302) plus outsiders; returns role key -> username."""
    housing = department(session, "371302", "housing")
    accounts = {
        "staff": ("ls_staff", "staff", housing.id, None),
        "head": ("ls_head", "head", housing.id, None),
        "other_staff": ("ls_hrss", "staff", department(session, "371302", "hrss").id, None),
        "far_staff": ("lz_staff", "staff", department(session, "371311", "housing").id, None),
        "county": ("ls_county", "county_supervisor", None, "371302"),
        "far_county": ("lz_county", "county_supervisor", None, "371311"),
        "admin": ("city_admin", "admin", None, None),
    }
    for username, role, department_id, county in accounts.values():
        session.add(StaffUser(username=username, display_name=username, password_hash=PASSWORD_HASH, role=role,
                              department_id=department_id, jurisdiction_code=county, active=True))
    session.commit()
    return {key: value[0] for key, value in accounts.items()}


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/console/login")
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_token(page.get_data(as_text=True))})


def case_page(client, ticket_no: str):
    return client.get(f"/console/cases/{ticket_no}")


def act(client, ticket_no: str, action: str, version: int | None = None, **fields):
    """Post one action from the case page, with the page's own CSRF token and version."""
    page = case_page(client, ticket_no).get_data(as_text=True)
    if version is None:
        found = re.search(r'name="version" value="(\d+)"', page)
        version = int(found.group(1)) if found else 0
    return client.post(f"/console/cases/{ticket_no}/actions/{action}",
                       data={"csrf_token": csrf_token(page), "version": str(version), **fields})


def flashed(client, response) -> str:
    """The page a redirect leads to, as text (where the flash message is shown)."""
    return client.get(response.headers["Location"]).get_data(as_text=True)


def reload(session, complaint: Complaint) -> Complaint:
    session.expire_all()
    return session.scalar(select(Complaint).where(Complaint.id == complaint.id))
