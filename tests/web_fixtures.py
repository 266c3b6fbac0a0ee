"""The web app served for real: uvicorn in a background thread over an embedded index of the
fixture corpus (conftest's `corpus`), called over HTTP. Test modules load this with
`pytest_plugins = ["tests.web_fixtures"]`, so every module shares one server per session."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest

from tests.support import CHROMIUM, CHROMIUM_ARGS




@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def web_service(corpus, engine_factory, embedder):
    """A `Discovery` over a fresh embedded index of the fixture corpus."""
    from search.service import Discovery

    engine = engine_factory("embedded")()
    engine.build(corpus)
    return Discovery(engine, embedder)


@pytest.fixture(scope="session")
def web_app(web_service, tmp_path_factory):
    from models.settings import Settings
    from web.app import create_app

    settings = Settings(data_dir=tmp_path_factory.mktemp("web-data"), engine="embedded")
    return create_app(settings, web_service)


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve `app` with uvicorn on a free port in a background thread; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="web-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="session")
def web_server(web_app) -> Iterator[str]:
    """Base URL of the app served by uvicorn on a free port; stopped at the end of the session."""
    with serving(web_app) as url:
        yield url


@pytest.fixture(scope="session")
def http(web_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_server, timeout=60, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="session")
def seed_id(http) -> str:
    """The seed researcher, found the way a user would: people search for the name."""
    response = http.get("/api/search", params={"kind": "people", "q": "Liu Ziyin"})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert hits and hits[0]["name"] == "Liu Ziyin"
    return hits[0]["id"]
