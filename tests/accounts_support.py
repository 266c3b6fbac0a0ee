"""Helpers of the account tests: fresh PostgreSQL databases, snapshots of the accounts database,
and `Client`, an HTTP client that behaves like one browser (cookies) or API user.

PostgreSQL comes from DISCOVERY_TEST_DATABASE_URL (scripts/test starts a local server with
scripts/postgres-node.sh). Each module gets a database of its own, created and dropped here.
Without the variable the PostgreSQL half skips; under CI=true it fails instead.

The fixtures themselves are in `tests.accounts_fixtures`.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

ADMIN_TOKEN = "test-admin-token-" + uuid.uuid4().hex
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
PASSWORD = "correct horse battery staple"


def postgres_url() -> str:
    url = os.environ.get("DISCOVERY_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but DISCOVERY_TEST_DATABASE_URL is not set: the PostgreSQL account tests must run")
        pytest.skip("DISCOVERY_TEST_DATABASE_URL is not set (bash scripts/postgres-node.sh start)")
    return url


def fresh_postgres() -> Iterator[str]:
    base = make_url(postgres_url())
    name = f"discovery_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"cannot create a PostgreSQL test database: {exc}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def snapshot(url: str, skip: tuple[str, ...] = ("sessions", "rate_events", "alembic_version")) -> dict:
    """Every row of every accounts table (but sessions and rate-limit events), to prove nothing changed."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            out = {}
            for table in sorted(inspect(connection).get_table_names()):
                if table in skip:
                    continue
                rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
                out[table] = sorted(tuple(str(v) for v in row) for row in rows)
            return out
    finally:
        engine.dispose()


def all_text(url: str) -> str:
    """Every value stored in the accounts database, as one string."""
    return repr(snapshot(url, skip=()))


class Client:
    """One browser or API user: its own cookies; `api()` adds the CSRF header once logged in."""

    def __init__(self, base_url: str, address: str | None = None):
        """`address`: the loopback address to connect from (e.g. 127.0.0.2), to be another client address."""
        transport = httpx.HTTPTransport(local_address=address) if address else None
        self.http = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False, transport=transport)
        self.csrf: str | None = None
        self.user: dict | None = None

    def close(self) -> None:
        self.http.close()

    # API
    def anonymous_csrf(self) -> str:
        response = self.http.get("/api/auth/csrf")
        assert response.status_code == 200, response.text
        return response.json()["csrf"]

    def signup(self, name: str, email: str | None = None, password: str = PASSWORD) -> dict:
        email = email or f"{uuid.uuid4().hex[:10]}@example.org"
        response = self.http.post("/api/auth/signup", json={"email": email, "display_name": name, "password": password},
                                  headers={"X-CSRF-Token": self.anonymous_csrf()})
        assert response.status_code == 201, response.text
        self.csrf, self.user, self.email = response.json()["csrf"], response.json()["user"], email
        return self.user

    def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = self.http.post("/api/auth/login", json={"email": email, "password": password},
                                  headers={"X-CSRF-Token": self.anonymous_csrf()})
        if response.status_code == 200:
            self.csrf, self.user = response.json()["csrf"], response.json()["user"]
        return response

    def api(self, method: str, path: str, json: dict | None = None, csrf: str | None | bool = True,
            **kwargs) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        token = self.csrf if csrf is True else (csrf or None)
        if token:
            headers["X-CSRF-Token"] = token
        return self.http.request(method, path, json=json, headers=headers, **kwargs)

    # pages
    def page_csrf(self, path: str = "/me") -> str:
        page = self.http.get(path)
        assert page.status_code == 200, page.text[:300]
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    def form(self, path: str, data: dict | None = None, csrf: str | None | bool = True) -> httpx.Response:
        data = dict(data or {})
        if csrf is True:
            data["csrf"] = self.csrf
        elif csrf:
            data["csrf"] = csrf
        return self.http.post(path, data=data)


def assert_error(response: httpx.Response, status: int) -> dict:
    """The one error shape: {"error": {"status", "message", "details"}}."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "message", "details"}
    assert body["error"]["status"] == status and body["error"]["message"]
    return body["error"]


def find_researcher(http: httpx.Client, name: str) -> str:
    response = http.get("/api/search", params={"kind": "people", "q": name})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert hits and hits[0]["name"] == name, hits[:3]
    return hits[0]["id"]


def users_table(url: str) -> list[tuple]:
    from models.accounts.tables import User

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(User.email, User.password_hash)).all()
    finally:
        engine.dispose()
