"""Templates render off the event loop (issue 11, point 14): while several page renders are held on
their threads, an unknown route still gets its 404 page. Bounded: a few requests to a loopback server;
every wait has a limit, and nothing is asserted about how long anything took."""

from __future__ import annotations

import asyncio
import threading

import httpx

from models.settings import Settings
from tests.web_fixtures import serving
from web.app import create_app

pytest_plugins = ["tests.web_fixtures"]

MISSING = "/no-such-page"


def test_pages_render_on_worker_threads_so_a_404_is_not_held_up_by_them(web_service, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, engine="embedded"), web_service)
    release = threading.Event()
    entered = threading.Semaphore(0)
    renders: list[tuple[str, bool]] = []  # (path, ran on a thread with a running event loop)

    def hold(request) -> dict:  # noqa: ANN001 - a Jinja2Templates context processor: runs in the rendering thread
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        renders.append((request.url.path, on_loop))
        if request.url.path != MISSING:
            entered.release()
            release.wait(timeout=30)
        return {}

    app.state.templates.context_processors.append(hold)
    with serving(app) as base, httpx.Client(base_url=base, timeout=90) as client:
        hits = client.get("/api/search", params={"q": "gradient noise"}).json()["hits"]
        person = client.get("/api/search", params={"q": "Liu Ziyin", "kind": "people"}).json()["hits"][0]["id"]
        topic = client.get("/api/search", params={"q": "gradient", "kind": "topics"}).json()["hits"][0]["id"]
        pages = ["/", "/search?q=gradient+noise", "/status", "/docs", "/expertise?text=stochastic+gradient",
                 f"/works/{hits[0]['id']}", f"/researchers/{person}", f"/topics/{topic}"]
        answers: dict[str, int] = {}

        def fetch(path: str) -> None:
            with httpx.Client(base_url=base, timeout=90) as own:
                answers[path] = own.get(path).status_code

        threads = [threading.Thread(target=fetch, args=(path,)) for path in pages]
        for thread in threads:
            thread.start()
        try:
            held = sum(entered.acquire(timeout=20) for _ in pages)
            assert held == len(pages), f"only {held} of {len(pages)} pages reached their template at once"
            missing = client.get(MISSING)  # every page above is mid-render now
            assert missing.status_code == 404 and "no page at" in missing.text
        finally:
            release.set()
            for thread in threads:
                thread.join(timeout=90)
    assert answers == {path: 200 for path in pages}
    assert sorted(path for path, _ in renders) == sorted([*(p.split("?")[0] for p in pages), MISSING])
    assert [path for path, on_loop in renders if on_loop] == []
