"""Pages a researcher is glad to use (issue 15), in headless Chromium at desktop (1280 px) and phone
(390 px) sizes: reach and cite a work, read its maths, a phone layout with results and the profile's
essentials first and nothing wider than the screen, the "More" suggestions page, the home page,
favicon and docs. Every test writes screenshots to `test-screenshots/` (DISCOVERY_TEST_SCREENSHOTS);
no page may request anything outside the app or log a JavaScript error."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import bibtexparser
import pytest

from tests.support import CHROMIUM, DESKTOP, PHONE, SCREENSHOTS, guarded_page

pytest_plugins = ["tests.web_fixtures"]
pytestmark = [pytest.mark.browser, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium: apt-get install chromium")]

MATH_WORK = "arxiv-0704.0005"  # "From dyadic $\Lambda_{\alpha}$ to $\Lambda_{\alpha}$"


@pytest.fixture
def open_page(browser, web_server):
    """`open_page(viewport, java_script=True)` -> a guarded page; checked for outside requests and
    JavaScript errors when the test ends."""
    opened = []

    def make(viewport=DESKTOP, java_script=True):
        outside: list[str] = []
        errors: list[str] = []
        context, page = guarded_page(browser, web_server, outside, errors, viewport=viewport, java_script=java_script)
        opened.append((context, outside, errors))
        return page

    yield make
    for context, outside, errors in opened:
        context.close()
        assert outside == [], f"requests outside the app: {outside}"
        assert errors == [], f"JavaScript errors: {errors}"


def shot(page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def every_page(seed_id: str, http) -> dict[str, str]:
    topic = http.get("/api/search", params={"kind": "topics", "q": "stochastic gradient"}).json()["hits"][0]["id"]
    return {
        "topic": f"/topics/{topic}",
        "home": "/",
        "search-works": "/search?q=minibatch+noise+in+SGD",
        "search-people": "/search?kind=people&q=Liu+Ziyin",
        "search-topics": "/search?kind=topics&q=stochastic+gradient",
        "profile": f"/researchers/{seed_id}",
        "suggestions": f"/researchers/{seed_id}/similar?mode=collaborators",
        "explorer": f"/researchers/{seed_id}/explore",
        "work-math": f"/works/{MATH_WORK}",
        "work-doi": "/works/arxiv-0704.0710",
        "docs": "/docs",
        "status": "/status",
        "login": "/login",
        "signup": "/signup",
        "admin-login": "/admin/login",
    }


# -- point 3: mobile first ------------------------------------------------------------------------


def test_no_page_is_wider_than_a_phone(open_page, web_server, seed_id, http):
    page = open_page(PHONE)
    too_wide = {}
    for name, path in every_page(seed_id, http).items():
        page.goto(web_server + path)
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[name] = width
        shot(page, f"phone-{name}")
    assert too_wide == {}, f"pages wider than {PHONE['width']} px: {too_wide}"


def test_signed_in_pages_fit_a_phone(open_page, web_server, seed_id):
    page = open_page(PHONE)
    page.goto(web_server + "/signup")
    page.fill("input[name=email]", f"phone-{uuid.uuid4().hex[:8]}@example.org")
    page.fill("input[name=display_name]", "Phone Reader")
    page.fill("input[name=password]", "a long enough password")
    page.click("form.stack button[type=submit]")
    page.wait_for_selector("a.nav-account")
    too_wide = {}
    for name, path in {"me": "/me", "following": "/me/following", "feed": "/me/feed", "inbox": "/me/inbox",
                       "claim": f"/researchers/{seed_id}/claim", "profile-signed-in": f"/researchers/{seed_id}"}.items():
        page.goto(web_server + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[name] = width
        shot(page, f"phone-{name}")
    assert too_wide == {}, f"pages wider than {PHONE['width']} px: {too_wide}"


def test_desktop_pages(open_page, web_server, seed_id, http):
    page = open_page(DESKTOP)
    for name, path in every_page(seed_id, http).items():
        page.goto(web_server + path)
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"], name
        shot(page, f"desktop-{name}", full_page=False)


def test_results_come_before_the_filters_on_a_phone(open_page, web_server):
    page = open_page(PHONE)
    page.goto(web_server + "/search?q=minibatch+noise+in+SGD")
    first_hit = page.locator("li.hit").first.bounding_box()
    facets = page.locator("aside.facets").bounding_box()
    assert first_hit["y"] < PHONE["height"], "the first result must be on the first screen"
    assert first_hit["y"] < facets["y"]
    panel = page.locator("details.facets-panel")
    assert panel.get_attribute("open") is None, "filters start collapsed on a phone"
    panel.locator("> summary").click()
    facet = page.locator("a.facet-link[data-facet=type]").first
    value = facet.get_attribute("data-value")
    facet.click()
    page.wait_for_url(f"**type={value}**")
    assert set(page.locator("li.hit .hit-meta .pill").all_inner_texts()) == {value}

    desktop = open_page(DESKTOP)
    desktop.goto(web_server + "/search?q=minibatch+noise+in+SGD")
    assert desktop.locator("a.facet-link[data-facet=type]").first.is_visible(), "filters open on a desktop"


def test_profile_essentials_on_the_first_phone_screen(open_page, web_server, seed_id):
    page = open_page(PHONE)
    page.goto(web_server + f"/researchers/{seed_id}")
    for selector in ("h1", "#trust .trust-score", "#actions .follow"):
        box = page.locator(selector).first.bounding_box()
        assert box and box["y"] + box["height"] <= PHONE["height"], f"{selector} is below the first screen: {box}"
    shot(page, "phone-profile-first-screen", full_page=False)


# -- point 1: reach and cite ---------------------------------------------------------------------


def test_a_work_links_out_and_downloads_its_citation(open_page, web_server):
    page = open_page(DESKTOP)
    page.goto(web_server + "/search?q=Photoproduction+omega+protons")
    hit = page.locator("li.hit[data-id='arxiv-0704.0710']")
    assert hit.locator("a.reach-arxiv").get_attribute("href") == "https://arxiv.org/abs/0704.0710"
    hit.locator("h3 a").click()
    page.wait_for_url("**/works/arxiv-0704.0710")
    hrefs = page.eval_on_selector_all("ul.reach a", "links => links.map(a => a.href)")
    assert hrefs == ["https://doi.org/10.1140/epja/i2006-10302-7", "https://arxiv.org/abs/0704.0710",
                     "https://arxiv.org/pdf/0704.0710"]
    with page.expect_download() as download:
        page.click("#cite a[data-format=bibtex]")
    [entry] = bibtexparser.parse_string(Path(download.value.path()).read_text()).entries
    assert entry["eprint"] == "0704.0710"
    with page.expect_download() as download:
        page.click("#cite a[data-format=csl-json]")
    assert json.loads(Path(download.value.path()).read_text())[0]["id"] == "arxiv-0704.0710"
    shot(page, "desktop-work-links-and-cite")


def test_a_researchers_works_and_a_page_of_results_export(open_page, web_server, seed_id):
    page = open_page(DESKTOP)
    page.goto(web_server + f"/researchers/{seed_id}")
    with page.expect_download() as download:
        page.click("#works .cite-links a[data-format=bibtex]")
    titles = {e["title"] for e in bibtexparser.parse_string(Path(download.value.path()).read_text()).entries}
    assert "Strength of Minibatch Noise in SGD" in titles and len(titles) == page.locator("#works li.work").count()
    page.goto(web_server + "/search?q=minibatch+noise+in+SGD")
    with page.expect_download() as download:
        page.click(".summary .cite-links a[data-format=ris]")
    text = Path(download.value.path()).read_text()
    assert text.count("ER  -") == page.locator("li.hit").count() == 10


# -- point 2: readable text ----------------------------------------------------------------------


def test_maths_is_typeset_from_our_own_files(open_page, web_server):
    page = open_page(DESKTOP)
    page.goto(web_server + f"/works/{MATH_WORK}")
    page.wait_for_selector("h1 .katex")
    assert "$" not in page.locator("h1").inner_text()
    assert page.locator(".abstract-text .katex").count() >= 2
    shot(page, "desktop-work-maths")

    no_js = open_page(DESKTOP, java_script=False)
    no_js.goto(web_server + f"/works/{MATH_WORK}")
    assert no_js.locator("h1").inner_text() == r"From dyadic $\Lambda_{\alpha}$ to $\Lambda_{\alpha}$"
    shot(no_js, "desktop-work-maths-without-javascript")


# -- point 7: the rest ---------------------------------------------------------------------------


def test_home_favicon_docs_and_more_suggestions(open_page, web_server, seed_id, http):
    page = open_page(PHONE)
    page.goto(web_server + "/")
    assert "Discovery searches papers, researchers and topics" in page.locator(".hero").inner_text()
    assert page.locator(".ways-in .way").count() == 3
    page.click("#way-people a.example >> nth=0")
    page.wait_for_url("**kind=people**")
    assert page.locator("li.hit.person").count() >= 1

    assert http.get("/favicon.ico").status_code == 200
    assert page.evaluate("fetch('/static/favicon.svg').then(r => r.status)") == 200
    redoc = http.get("/redoc")
    assert redoc.status_code == 308 and redoc.headers["location"] == "/docs"
    page.goto(web_server + "/docs")
    assert page.locator(".lede code").first.inner_text() == "/api", "markdown in the API description is rendered"
    assert "`" not in page.locator(".lede").inner_text()

    page.goto(web_server + f"/researchers/{seed_id}")
    page.click("#similar a.more")
    page.wait_for_url("**/similar?mode=similar**")
    assert page.locator("li.suggestion").count() > 0
    twin = page.locator("link[rel=alternate]").get_attribute("href")
    ids = [h["id"] for h in http.get(twin).json()["hits"]]
    assert page.eval_on_selector_all("li.suggestion", "els => els.map(e => e.dataset.id)") == ids
    shot(page, "phone-more-suggestions")


# -- point 4: the graph explorer -----------------------------------------------------------------


def label_overlaps(page, selector: str = ".explorer-graph .node text") -> list[tuple[str, str]]:
    """Pairs of shown graph labels whose drawn boxes intersect."""
    return page.evaluate("""(selector) => {
        const boxes = [...document.querySelectorAll(selector)].filter(t => getComputedStyle(t).visibility !== 'hidden')
            .map(t => [t.textContent, t.getBoundingClientRect()]);
        const out = [];
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
            const [a, p] = boxes[i], [b, q] = boxes[j];
            if (p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom) out.push([a, b]);
        }
        return out;
    }""", selector)


def test_the_explorer_two_hops_labelled_filtered_and_linked_from_the_profile(open_page, web_server, seed_id, http):
    page = open_page(DESKTOP)
    page.goto(web_server + f"/researchers/{seed_id}")
    page.wait_for_selector(".graph.ready svg .node")  # the profile's slice: labelled, no two labels overlap
    shown = page.eval_on_selector_all(".graph-canvas .node text",
                                      "ts => ts.filter(t => getComputedStyle(t).visibility !== 'hidden').map(t => t.parentNode.classList[1])")
    assert "work" in shown and "researcher" in shown
    assert label_overlaps(page, ".graph-canvas .node text") == []
    page.click("#graph a.open-explorer")
    page.wait_for_url(f"**/researchers/{seed_id}/explore")
    kinds = set(page.eval_on_selector_all(".explorer-graph .node", "ns => ns.map(n => n.classList[1])"))
    assert kinds == {"researcher", "work", "topic", "institution"}
    assert page.locator(".explorer-graph .node.hop-2").count() > 0, "a second hop"
    labels = page.locator(".explorer-graph .node text").all_text_contents()
    assert all(label.strip() for label in labels) and len(labels) == page.locator(".explorer-graph .node").count()
    assert label_overlaps(page) == []
    shot(page, "desktop-explorer")
    page.hover(".explorer-graph .node.center circle")
    assert page.locator(".explorer-graph.focus .node.near").count() > 1

    twin = http.get(page.locator("link[rel=alternate]").get_attribute("href")).json()
    assert sorted(n["id"] for n in twin["nodes"]) == sorted(
        page.eval_on_selector_all(".explorer-graph .node", "ns => ns.map(n => n.dataset.id)"))

    page.uncheck(".explore-filters input[value=topic]")
    page.uncheck(".explore-filters input[value=institution]")
    page.fill(".explore-filters input[name=year_from]", "2021")
    page.click(".explore-filters button[type=submit]")
    page.wait_for_url("**year_from=2021**")
    kinds = set(page.eval_on_selector_all(".explorer-graph .node", "ns => ns.map(n => n.classList[1])"))
    assert kinds == {"researcher", "work"}
    titles = page.eval_on_selector_all(".explorer-graph .node.work title", "ts => ts.map(t => t.textContent)")
    assert titles and all(int(t.rsplit("(", 1)[1].rstrip(")")) >= 2021 for t in titles), titles
    assert label_overlaps(page) == []

    phone = open_page(PHONE, java_script=False)
    phone.goto(web_server + f"/researchers/{seed_id}/explore")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert "Masahito Ueda" in phone.locator("#lists").inner_text()
    shot(phone, "phone-explorer-without-javascript")
