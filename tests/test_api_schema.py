"""Schemathesis against the API's own OpenAPI document: generated requests, valid and invalid, never meet a server
error or an answer that breaks the document (status, content type, headers, body schema).

The document is the one the app serves (the registry builds it from the models without a database); each
generated request goes to a real app on the suite's database, through the WSGI interface. Schema-valid requests
may still be refused (422) for what only the database knows (an unknown county or site code), so the check that
every schema-valid request succeeds is left out; every other check runs.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from handlers.api.v1 import api
from intake.foundation.settings import ApiSettings
from tests.helpers import make_client

schema = schemathesis.openapi.from_dict(api.document())


@pytest.fixture
def api_app(configured_app, lanshan_site):
    return configured_app(api=ApiSettings(rate_limit="100000 per minute"))


@pytest.fixture
def token(session):
    return make_client(session, "schemathesis")


def test_the_served_document_is_the_one_tested(api_app):
    assert api_app.test_client().get("/api/v1/openapi.json").get_json() == api.document()


@schema.parametrize()
@settings(max_examples=20, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_generated_requests_meet_no_server_error_and_no_answer_outside_the_document(case, api_app, token):
    case.operation.schema.app = api_app  # so schemathesis's own probes (e.g. without the token) reach it too
    case.call_and_validate(app=api_app, headers={"Authorization": f"Bearer {token}"},
                           excluded_checks=[positive_data_acceptance])
