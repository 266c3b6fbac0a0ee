"""Fixtures of the account tests: a fresh accounts database per module, on SQLite and on
PostgreSQL (`database_url`), and `clients`, a factory of HTTP clients closed after each test.

Load with `pytest_plugins = ["tests.web_fixtures", "tests.accounts_fixtures"]`.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.accounts_support import DATABASES, Client, fresh_postgres


@pytest.fixture(scope="module", params=DATABASES)
def database_url(request, tmp_path_factory) -> Iterator[str]:
    """A fresh, empty accounts database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('accounts-db') / 'accounts.sqlite'}"
    else:
        yield from fresh_postgres()


@pytest.fixture
def clients(request) -> Iterator:
    """`clients(base_url, address=None)` -> a new Client; all closed after the test."""
    made: list[Client] = []

    def make(base_url: str, address: str | None = None) -> Client:
        client = Client(base_url, address)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


