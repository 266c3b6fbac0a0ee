"""Fuzz the JSON API from its own OpenAPI schema (schemathesis) against the real server: no input
may produce a 5xx, and every response must match the documented status codes, content types and
response models. A few hundred requests; well under two minutes."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from models.settings import Settings
from web.app import create_app

pytest_plugins = ["tests.web_fixtures"]

EXAMPLES_PER_OPERATION = 60  # x 7 operations, plus schemathesis' own coverage cases

# The schema only: an app that is never started opens no engine and loads no model.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
def test_api_never_answers_5xx(case, web_server):
    case.call_and_validate(
        base_url=web_server,
        checks=[checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
                checks.response_schema_conformance],
    )
