"""HTTP hardening on the served app: security headers on every kind of response, no raw NUL byte
from a query ever reaches HTML, the admin bearer token declared in the OpenAPI description."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.web_fixtures"]


@pytest.mark.parametrize("path", ["/", "/search?q=noise", "/api/search?q=noise", "/api/status", "/no-such-page",
                                  "/static/style.css", "/openapi.json", "/admin/login"])
def test_every_response_carries_the_security_headers(http, path):
    response = http.get(path)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("params", [{"q": "noise\x00<b>"}, {"q": "\x00", "kind": "people"}, {"q": "x", "venue": "a\x00b"}])
def test_nul_bytes_from_the_query_never_reach_html(http, params):
    response = http.get("/search", params=params)
    assert response.status_code < 500
    assert "\x00" not in response.text
    assert "<b>" not in response.text  # and markup stays escaped


def test_the_admin_bearer_token_is_an_openapi_security_scheme(http):
    spec = http.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    name, scheme = next((n, s) for n, s in schemes.items() if s.get("scheme") == "bearer")
    admin_operations = [op for path, ops in spec["paths"].items() if path.startswith("/api/admin/") for op in ops.values()]
    assert admin_operations and all({name: []} in op.get("security", []) for op in admin_operations)
    public = spec["paths"]["/api/search"]["get"]
    assert "security" not in public
