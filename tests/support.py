"""Shared test helpers: one real embedding model per test process; the browser the browser tests drive."""

import os
import shutil
from collections import Counter
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from indexer import aggregates
from models.embedding import Embedder
from search.interface import CoauthorList

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@lru_cache(maxsize=1)
def real_embedder() -> Embedder:
    return Embedder()


def coauthor_list(rid: str, works) -> CoauthorList:
    """What `researcher_coauthors` should say of `rid`, counted from its works."""
    joint, in_teams = Counter(), Counter()
    for work in works:
        others = set(work.researcher_ids) - {rid}
        joint.update(others)
        in_teams.update(others if len(set(work.researcher_ids)) <= aggregates.LARGE_TEAM else ())
    large = [w.id for w in sorted(works, key=lambda w: (-(w.year or 0), w.id)) if len(set(w.researcher_ids)) > aggregates.LARGE_TEAM]
    return CoauthorList(dict(in_teams), large, len(joint))


# Debian's chromium, driven by Playwright (never a downloaded browser)
CHROMIUM = os.environ.get("DISCOVERY_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # an iPhone 12-14 sized screen
SCREENSHOTS = Path(os.environ.get("DISCOVERY_TEST_SCREENSHOTS") or Path(__file__).resolve().parents[1] / "test-screenshots")


def guarded_page(browser, base_url: str, outside: list[str], errors: list[str], allow_401: bool = False,
                 viewport: dict = DESKTOP, java_script: bool = True):
    """A page that may only reach the app: other requests are aborted and recorded in `outside`,
    JavaScript errors in `errors` (`allow_401`: a logged-out call answered 401 is expected)."""
    context = browser.new_context(viewport=viewport, java_script_enabled=java_script)
    page = context.new_page()
    page.set_default_timeout(30_000)
    own = urlsplit(base_url).netloc

    def guard(route):
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not (allow_401 and "401" in msg.text) else None)
    return context, page
