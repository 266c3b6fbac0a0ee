"""The admin area over HTTP, on each engine: access control, CSRF, path traversal, background
ingest and reindex, searches during a reindex, SIGKILL mid-reindex, rollback."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest

from models.settings import Settings
from tests.support import FIXTURES
from tests.web_fixtures import serving


TOKEN = "test-admin-token-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUERY = {"q": "stochastic gradient descent noise", "kind": "works", "per_page": 5}


def _settings(kind: str, data_dir) -> Settings:
    extra = {}
    if kind == "opensearch":
        url = os.environ.get("DISCOVERY_TEST_OPENSEARCH_URL")
        if not url:
            if os.environ.get("CI") == "true":
                pytest.fail("CI=true but DISCOVERY_TEST_OPENSEARCH_URL is not set")
            pytest.skip("DISCOVERY_TEST_OPENSEARCH_URL is not set")
        extra = {"opensearch_url": url, "opensearch_prefix": f"test-admin-{uuid.uuid4().hex[:8]}"}
    # small embedding batches: a reindex reports progress early and runs long enough to interrupt
    return Settings(data_dir=data_dir, engine=kind, admin_token=TOKEN, embedding_batch_size=4, **extra)


def cli(settings: Settings, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "web.cli", *args], env={**os.environ, **settings.as_environment()},
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module", params=["embedded", pytest.param("opensearch", marks=pytest.mark.opensearch)])
def admin(request, tmp_path_factory):
    from web.app import create_app

    settings = _settings(request.param, tmp_path_factory.mktemp(f"admin-{request.param}"))
    (settings.imports_path).mkdir(parents=True)
    (settings.imports_path / "seed.jsonl").write_bytes((FIXTURES / "seed-researcher.openalex.jsonl").read_bytes())
    cli(settings, "ingest", str(FIXTURES / "seed-researcher.openalex.jsonl"), str(FIXTURES / "openalex-old.slice.jsonl.gz"))
    cli(settings, "index")
    with serving(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield settings, client
    if request.param == "opensearch":
        from search.engines import open_engine

        engine = open_engine(settings)
        engine.drop()
        engine.close()


def live_version(client) -> int:
    response = client.get("/api/admin/status", headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()["live"]["version"]


def jobs(client) -> list[dict]:
    return client.get("/api/admin/status", headers=AUTH).json()["recent"]


def wait_for(client, job_id: int, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/admin/jobs/{job_id}", headers=AUTH).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still running after {timeout}s")


def search_ids(client) -> list[str]:
    response = client.get("/api/search", params=QUERY)
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["hits"]]


def test_without_valid_credentials_nothing_changes(admin):
    settings, client = admin
    before = (live_version(client), len(jobs(client)))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic " + TOKEN}):
        assert client.get("/api/admin/status", headers=headers).status_code == 401
        assert client.post("/api/admin/reindex", json={"full": True}, headers=headers).status_code == 401
        assert client.post("/api/admin/rollback", headers=headers).status_code == 401
        assert client.post("/api/admin/ingest", json={"path": "seed.jsonl"}, headers=headers).status_code == 401
        upload = client.post("/api/admin/upload", files={"file": ("x.jsonl", b"{}\n")}, headers=headers)
        assert upload.status_code == 401
        body = upload.json()
        assert body["error"]["status"] == 401 and "Bearer" in body["error"]["message"]
    # a browser without a session: refused, nothing launched
    assert client.post("/admin/reindex", data={"csrf": "x"}).status_code == 401
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"
    assert (live_version(client), len(jobs(client))) == before
    assert not list(settings.data_dir.glob("uploads/*"))


def test_a_rollback_needs_confirmation_from_the_api_and_the_form(admin):
    settings, client = admin
    before = (live_version(client), len(jobs(client)))
    for body in (None, {}, {"confirm": False}):
        refused = client.post("/api/admin/rollback", json=body, headers=AUTH)
        assert refused.status_code == 400 and '"confirm": true' in refused.json()["error"]["message"]
    with httpx.Client(base_url=str(client.base_url), timeout=60) as browser:
        assert browser.post("/admin/login", data={"token": TOKEN}).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/admin").text).group(1)
        refused = browser.post("/admin/rollback", data={"csrf": csrf})
        assert refused.status_code == 400 and "confirmed" in refused.text
    assert (live_version(client), len(jobs(client))) == before


def test_the_claims_review_shows_the_admin_session_in_the_header(admin):
    settings, client = admin
    with httpx.Client(base_url=str(client.base_url), timeout=60) as browser:
        assert browser.post("/admin/login", data={"token": TOKEN}).status_code == 303
        page = browser.get("/admin/claims")
    assert page.status_code == 200
    header = page.text.split("<main", 1)[0]
    assert "Admin session" in header and 'action="/admin/logout"' in header
    assert "Log in" not in header and "Sign up" not in header


def test_browser_login_sets_a_safe_cookie_and_forms_need_csrf(admin):
    settings, client = admin
    with httpx.Client(base_url=str(client.base_url), timeout=60) as browser:
        assert browser.post("/admin/login", data={"token": "wrong"}).status_code == 401
        login = browser.post("/admin/login", data={"token": TOKEN})
        assert login.status_code == 303
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        page = browser.get("/admin")
        assert page.status_code == 200 and 'name="csrf"' in page.text
        before = len(jobs(client))
        for data in ({}, {"csrf": "forged"}):
            refused = browser.post("/admin/reindex", data=data)
            assert refused.status_code == 403 and "CSRF" in refused.text
        assert len(jobs(client)) == before
    audit = client.get("/api/admin/status", headers=AUTH).json()["audit"]
    assert {"refused", "ok"} <= {e["outcome"] for e in audit if e["action"] == "login"}


def test_wrong_admin_tokens_are_rate_limited_per_address(admin):
    """Past DISCOVERY_ADMIN_MAX_FAILURES wrong tokens from one address: 429 with Retry-After, even
    for the right token from there; the admin from another address is not locked out."""
    settings, client = admin
    base = str(client.base_url)
    with httpx.Client(base_url=base, timeout=60, transport=httpx.HTTPTransport(local_address="127.0.0.5")) as guesser:
        statuses = [guesser.get("/api/admin/status", headers={"Authorization": f"Bearer wrong-{n}"}).status_code
                    for n in range(settings.admin_max_failures + 5)]
        statuses += [guesser.post("/admin/login", data={"token": "wrong"}).status_code for _ in range(3)]
        assert statuses.count(401) == settings.admin_max_failures and statuses.count(429) == 8, statuses
        limited = guesser.get("/api/admin/status", headers=AUTH)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert limited.json()["error"]["status"] == 429
    assert client.get("/api/admin/status", headers=AUTH).status_code == 200


def test_admin_upload_form_starts_an_ingest(admin):
    """The admin page's upload form (multipart, Starlette's UploadFile) starts a job: not a 400."""
    settings, client = admin
    with httpx.Client(base_url=str(client.base_url), timeout=60) as browser:
        assert browser.post("/admin/login", data={"token": TOKEN}).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/admin").text).group(1)
        data = (FIXTURES / "seed-researcher.openalex.jsonl").read_bytes()
        started = browser.post("/admin/ingest", data={"csrf": csrf, "path": ""},
                               files={"file": ("seed.openalex.jsonl", data, "application/octet-stream")})
        assert started.status_code == 303, started.text[:500]
        job_id = int(started.headers["location"].rsplit("/", 1)[1])
    job = wait_for(client, job_id)
    assert job["status"] == "succeeded" and job["result"]["read"] == 9, job


@pytest.mark.parametrize("name", ["seed\x00.jsonl", "x" * 300])
def test_unusable_import_names_are_400_on_the_api_and_the_form(admin, name):
    settings, client = admin
    before = len(jobs(client))
    response = client.post("/api/admin/ingest", json={"path": name}, headers=AUTH)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["status"] == 400
    with httpx.Client(base_url=str(client.base_url), timeout=60) as browser:
        browser.post("/admin/login", data={"token": TOKEN})
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/admin").text).group(1)
        form = browser.post("/admin/ingest", data={"csrf": csrf, "path": name})
        assert form.status_code == 400, form.text[:300]
        assert "\x00" not in form.text
    assert len(jobs(client)) == before


def test_searches_answer_while_an_admin_request_waits_for_the_catalog_lock(admin):
    """An admin write blocked on the catalog's write lock waits in a worker thread: searches (which
    never touch the catalog) still answer meanwhile."""
    settings, client = admin
    holder = sqlite3.connect(settings.catalog_path, isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")
    answers: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(
        client.post("/api/admin/rollback", json={"confirm": True}, headers=AUTH)))
    try:
        waiting.start()
        with httpx.Client(base_url=str(client.base_url), timeout=60) as searcher:
            for _ in range(3):
                assert searcher.get("/api/search", params=QUERY).status_code == 200
                assert searcher.get("/api/status").status_code == 200
        assert waiting.is_alive() and not answers  # the admin request is still waiting for the lock
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        waiting.join(timeout=120)
    assert answers and answers[0].status_code in (202, 409), answers[0].text
    if answers[0].status_code == 202:
        wait_for(client, answers[0].json()["id"])


@pytest.mark.parametrize("path", ["../catalog.sqlite", "/etc/passwd", "imports/../../admin-token", "..", ""])
def test_path_traversal_is_refused(admin, path):
    settings, client = admin
    before = len(jobs(client))
    response = client.post("/api/admin/ingest", json={"path": path}, headers=AUTH)
    assert response.status_code in (400, 404, 422)
    assert len(jobs(client)) == before


def test_symlink_out_of_the_import_folder_is_refused(admin):
    settings, client = admin
    link = settings.imports_path / "sneaky.jsonl"
    link.symlink_to(settings.data_dir / "admin-token" if (settings.data_dir / "admin-token").exists() else "/etc/hostname")
    assert client.post("/api/admin/ingest", json={"path": "sneaky.jsonl"}, headers=AUTH).status_code == 400


def test_upload_runs_in_the_background_and_reports_rejections(admin):
    settings, client = admin
    data = (FIXTURES / "malformed.openalex.jsonl").read_bytes()
    started = client.post("/api/admin/upload", files={"file": ("malformed.openalex.jsonl", data)}, headers=AUTH)
    assert started.status_code == 202, started.text
    job = wait_for(client, started.json()["id"])
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert (result["read"], result["rejected"]) == (7, 5)
    assert len(result["rejections"]) == 5 and all(r["line"] and r["reason"] for r in result["rejections"])
    named = client.post("/api/admin/ingest", json={"path": "seed.jsonl"}, headers=AUTH)
    assert wait_for(client, named.json()["id"])["result"]["unchanged"] == 9


def test_searches_during_a_reindex_see_no_errors_and_rollback_restores(admin):
    settings, client = admin
    ingest = client.post("/api/admin/ingest", json={"path": "seed.jsonl"}, headers=AUTH)
    wait_for(client, ingest.json()["id"])
    client.post("/api/admin/upload", files={"file": ("arxiv.jsonl", (FIXTURES / "arxiv.slice.jsonl").read_bytes())}, headers=AUTH)
    assert wait_for(client, jobs(client)[0]["id"])["status"] == "succeeded"
    assert client.get("/api/admin/status", headers=AUTH).json()["index_lag"] == 40
    old_version, old_ids = live_version(client), search_ids(client)

    seen, failures, stop = [], [], threading.Event()

    def search_loop():
        with httpx.Client(base_url=str(client.base_url), timeout=60) as reader:
            while not stop.is_set():
                response = reader.get("/api/search", params=QUERY)
                if response.status_code != 200:
                    failures.append(response.text)
                seen.append(reader.get("/api/admin/status", headers=AUTH).json()["live"]["version"])

    loop = threading.Thread(target=search_loop)
    loop.start()
    try:
        started = client.post("/api/admin/reindex", json={"full": False}, headers=AUTH)
        assert started.status_code == 202
        second = client.post("/api/admin/reindex", json={}, headers=AUTH)
        assert second.status_code == 409 and f"job {started.json()['id']}" in second.json()["error"]["message"]
        job = wait_for(client, started.json()["id"])
    finally:
        stop.set()
        loop.join()
    assert job["status"] == "succeeded", job
    assert job["result"]["embedded"] == 40  # incremental: only the new works
    assert failures == [] and seen
    assert set(seen) <= {old_version, old_version + 1} and seen == sorted(seen)
    assert live_version(client) == old_version + 1
    assert client.get("/api/admin/status", headers=AUTH).json()["index_lag"] == 0

    rollback = client.post("/api/admin/rollback", json={"confirm": True}, headers=AUTH)
    assert wait_for(client, rollback.json()["id"])["status"] == "succeeded"
    assert live_version(client) == old_version
    assert search_ids(client) == old_ids


def test_sigkill_mid_reindex_keeps_serving_and_the_next_reindex_succeeds(admin):
    settings, client = admin
    version, ids = live_version(client), search_ids(client)
    started = client.post("/api/admin/reindex", json={"full": True}, headers=AUTH).json()
    deadline = time.monotonic() + 120
    while True:
        job = client.get(f"/api/admin/jobs/{started['id']}", headers=AUTH).json()
        if job["status"] == "running" and job["progress"].get("stage") == "embed":
            break
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.05)
    os.kill(job["pid"], signal.SIGKILL)
    assert wait_for(client, job["id"])["status"] == "interrupted"
    assert live_version(client) == version and search_ids(client) == ids

    again = client.post("/api/admin/reindex", json={}, headers=AUTH)
    assert again.status_code == 202
    assert wait_for(client, again.json()["id"])["status"] == "succeeded"
    assert live_version(client) > version
    if settings.engine == "embedded":
        built = [d for d in settings.index_dir.iterdir() if d.is_dir()]
        assert all((d / "manifest.json").exists() for d in built), built
