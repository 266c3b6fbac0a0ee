"""The admin area a person can read (issue 15, point 5), in headless Chromium at 1280 and 390 px:
styled pages, the header naming the admin session, job results as tables with times to the second,
a named stage for every moment of a job, and a rollback that asks for confirmation first.
Screenshots go to `test-screenshots/` like the other browser tests."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest

from models.settings import Settings
from tests.support import CHROMIUM, DESKTOP, FIXTURES, PHONE, guarded_page
from tests.test_pages_browser import shot
from web.admin_view import STAGES

pytest_plugins = ["tests.web_fixtures"]
pytestmark = [pytest.mark.browser, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium: apt-get install chromium")]

TOKEN = "test-admin-token-" + uuid.uuid4().hex
SECOND = re.compile(r"\d{1,2}:\d{2}:\d{2}")


@pytest.fixture(scope="module")
def admin_site(tmp_path_factory):
    from tests.test_admin import cli
    from tests.web_fixtures import serving
    from web.app import create_app

    settings = Settings(data_dir=tmp_path_factory.mktemp("admin-browser"), engine="embedded", admin_token=TOKEN)
    settings.imports_path.mkdir(parents=True)
    (settings.imports_path / "seed.jsonl").write_bytes((FIXTURES / "seed-researcher.openalex.jsonl").read_bytes())
    cli(settings, "ingest", str(FIXTURES / "openalex-old.slice.jsonl.gz"))
    cli(settings, "index")
    with serving(create_app(settings)) as url:
        yield url


@pytest.fixture
def admin_page(browser, admin_site):
    opened = []

    def make(viewport):
        outside: list[str] = []
        errors: list[str] = []
        context, page = guarded_page(browser, admin_site, outside, errors, viewport=viewport)
        opened.append((context, outside, errors))
        page.goto(admin_site + "/admin/login")
        page.fill("#token", TOKEN)
        page.click("form.stack button[type=submit]")
        page.wait_for_url("**/admin")
        return page

    yield make
    for context, outside, errors in opened:
        context.close()
        assert outside == [] and errors == [], (outside, errors)


def follow_job(page, name: str) -> list[str]:
    """Reload a job page until the job ends; the stage shown on every visit while it runs (the
    first such visit is screenshotted as `name`)."""
    seen = []
    deadline = time.monotonic() + 600
    while True:
        status = page.locator(".job-status").first.inner_text().split()[0]
        if status not in ("queued", "running"):
            return seen
        seen.append(page.locator(".job-progress .stage").inner_text())
        if len(seen) == 1:
            shot(page, name, full_page=False)
        assert time.monotonic() < deadline, seen
        time.sleep(0.3)
        page.goto(page.url)


def test_ingest_and_reindex_read_like_a_report(admin_page):
    page = admin_page(DESKTOP)
    assert page.locator("header .admin-session").is_visible()
    assert page.locator("header .nav-login").count() == 0, "a signed-in admin is not asked to log in"
    shot(page, "desktop-admin")

    page.fill("input[name=path]", "seed.jsonl")
    page.click("#ingest button[type=submit]")
    page.wait_for_url("**/admin/jobs/*")
    stages = follow_job(page, "desktop-admin-ingest-running")
    assert all(stage in STAGES.values() for stage in stages), stages
    rows = dict(zip(page.locator("table.result th").all_inner_texts(), page.locator("table.result td").all_inner_texts()))
    assert rows["records read"] == "9" and rows["added"] == "9"
    text = page.locator("main").inner_text()
    assert "False" not in text and "{" not in text and not re.search(r"\d\.\d{6}", text), text
    assert SECOND.search(page.locator("time").first.inner_text())
    shot(page, "desktop-admin-ingest-job")

    page.goto(page.url.rsplit("/admin/", 1)[0] + "/admin")
    page.click("#reindex form button[type=submit]")
    page.wait_for_url("**/admin/jobs/*")
    stages = follow_job(page, "desktop-admin-reindex-running")
    assert stages, "the job page showed the job running"
    assert all(stage in STAGES.values() for stage in stages), stages
    rows = dict(zip(page.locator("table.result th").all_inner_texts(), page.locator("table.result td").all_inner_texts()))
    assert rows["full rebuild"] == "no" and rows["texts embedded"] == "9"
    assert "s" in rows["time taken"] and "{" not in rows["time taken"]
    shot(page, "desktop-admin-reindex-job")


def test_upload_from_the_admin_page_ingests_the_file(admin_page):
    """The upload form (issue 11, point 7: it answered 400) sends a file picked in the browser and the
    job reports its records, the malformed ones with their line."""
    page = admin_page(PHONE)
    page.set_input_files("#ingest input[type=file]", str(FIXTURES / "malformed.openalex.jsonl"))
    page.click("#ingest button[type=submit]")
    page.wait_for_url("**/admin/jobs/*")
    follow_job(page, "phone-admin-upload-running")
    assert page.locator(".job-status").first.inner_text().split()[0] == "succeeded", page.locator("main").inner_text()
    rows = dict(zip(page.locator("table.result th").all_inner_texts(), page.locator("table.result td").all_inner_texts()))
    assert int(rows["records read"]) > 0 and int(rows["rejected"]) > 0, rows
    assert rows["files"] == "malformed.openalex.jsonl" and rows["time taken"].endswith(" s"), rows
    assert page.locator(".upload-name").inner_text() == "malformed.openalex.jsonl"
    rejected = page.locator("table.rejections tbody tr").first.locator("td").all_inner_texts()
    assert rejected[0] == "malformed.openalex.jsonl" and rejected[1].isdigit() and rejected[2], rejected
    shot(page, "phone-admin-upload-job")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_rollback_asks_first(admin_page):
    page = admin_page(PHONE)
    jobs_before = page.locator("#recent tbody tr").count()
    page.click("details.rollback summary")
    page.click("details.rollback button[type=submit]")  # not confirmed: the browser keeps the form
    assert page.url.endswith("/admin")
    assert page.locator("#recent tbody tr").count() == jobs_before
    page.check("details.rollback input[name=confirm]")
    page.click("details.rollback button[type=submit]")
    page.wait_for_url("**/admin/jobs/*")
    assert "rollback" in page.locator("h1").inner_text()
    follow_job(page, "phone-admin-rollback-running")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.goto(page.url.rsplit("/admin/", 1)[0] + "/admin")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-admin")
