"""The real pages in headless Chromium (Debian's `chromium` package, driven by Playwright; never a
browser download): search, use a facet, open a profile with its graph, open a similar researcher.
The page must make no request outside the app and log no JavaScript error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import CHROMIUM, SCREENSHOTS, guarded_page

pytest_plugins = ["tests.web_fixtures"]

SCREENSHOT = Path(os.environ.get("DISCOVERY_PROFILE_SCREENSHOT") or SCREENSHOTS / "desktop-profile-full.png")

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium: apt-get install chromium")]


@pytest.fixture
def page(browser, web_server):
    outside: list[str] = []
    errors: list[str] = []
    context, page = guarded_page(browser, web_server, outside, errors)
    yield page
    context.close()
    assert outside == [], f"requests outside the app: {outside}"
    assert errors == [], f"JavaScript errors: {errors}"


def test_search_then_use_a_facet(page, web_server):
    page.goto(web_server + "/")
    page.fill("#q", "minibatch noise in SGD")
    page.click(".search-form button[type=submit]")
    page.wait_for_url("**/search?**")
    hits = page.locator("li.hit")
    assert hits.count() == 10
    assert "Strength of Minibatch Noise in SGD" in hits.first.inner_text()
    page.locator("li.hit details.why-ranked summary").first.click()
    assert "Keyword (BM25)" in page.locator("li.hit details.why-ranked").first.inner_text()

    facet = page.locator("a.facet-link[data-facet=type]").first
    value = facet.get_attribute("data-value")
    facet.click()
    page.wait_for_url(f"**type={value}**")
    assert page.locator(".active-filters").inner_text().count(value) >= 1
    assert page.locator("a.facet-link.on[data-facet=type]").count() == 1
    types = page.locator("li.hit .hit-meta .pill").all_inner_texts()
    assert types and set(types) == {value}


def test_profile_graph_and_a_similar_researcher(page, web_server):
    page.goto(web_server + "/search?kind=people&q=Liu+Ziyin")
    page.locator("li.hit.person h3 a").first.click()
    page.wait_for_selector("h1:text('Liu Ziyin')")
    # The graph explorer draws itself from the JSON API and hides the fallback lists.
    page.wait_for_selector(".graph.ready svg .node")
    kinds = page.eval_on_selector_all(".graph svg .node", "nodes => [...new Set(nodes.map(n => n.classList[1]))]")
    assert set(kinds) == {"researcher", "work", "topic", "institution"}
    assert not page.locator(".graph-fallback").is_visible()
    assert page.locator("#trust").inner_text().count("Emerging") >= 1
    assert "Masahito Ueda" in page.locator("#collaborators").inner_text()
    page.locator("details.abstract summary").first.click()
    assert page.locator("details.abstract[open] .abstract-body").first.is_visible()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    first = page.locator("#similar li.suggestion a.name").first
    name = first.inner_text()
    first.click()
    page.wait_for_selector(f"h1:text-is('{name}')")
    assert page.locator("#trust .trust-score").is_visible()
    page.wait_for_selector(".graph.ready svg .node")


def test_profile_without_javascript_shows_the_lists(browser, web_server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(web_server + "/search?kind=people&q=Liu+Ziyin")
        page.locator("li.hit.person h3 a").first.click()
        page.wait_for_selector("h1:text('Liu Ziyin')")
        assert page.locator(".graph-fallback").is_visible()
        assert "Masahito Ueda" in page.locator(".graph-fallback").inner_text()
    finally:
        context.close()


def test_search_box_shows_a_researcher_for_a_name_and_no_works_for_nonsense(page, web_server):
    page.goto(web_server + "/")
    page.fill("#q", "Liu Ziyin")
    page.click(".search-form button[type=submit]")
    page.wait_for_url("**/search?**")
    panel = page.locator(".people-panel")
    assert "Liu Ziyin" in panel.inner_text()
    panel.locator("li.person a").first.click()
    page.wait_for_selector("h1:text('Liu Ziyin')")

    page.goto(web_server + "/")
    page.fill("#q", "xyzzyqwertyplugh")
    page.click(".search-form button[type=submit]")
    page.wait_for_url("**/search?**")
    assert "No works match" in page.locator(".results .empty").inner_text()
    assert page.locator("li.hit").count() == 0
