"""The web app over HTTP: pages and JSON twins agree, errors have one shape, user text is escaped,
and the seed researcher's profile shows what the seed page shows, computed from data."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["tests.web_fixtures"]

SEED_WORK_TITLES = {
    "Exact Phase Transitions in Deep Learning",
    "Power Laws and Symmetries in a Minimal Model of Financial Market Economy",
    "Power-law escape rate of SGD",
    "Stochastic Neural Networks with Infinite Width are Deterministic",
    "Strength of Minibatch Noise in SGD",
    "Universal Thermodynamic Uncertainty Relation in Non-Equilibrium Dynamics",
    "Learning Not to Learn in the Presence of Noisy Labels",
    "Think Locally, Act Globally: Federated Learning with Local and Global Representations",
    "Volumization as a Natural Generalization of Weight Decay",
}
HOSTILE_ID = "arxiv-hostile-0000001"


# -- helpers ------------------------------------------------------------------------------------


def ids(html: str, css_class: str) -> list[str]:
    """`data-id` of every element whose class list starts with `css_class`, in page order."""
    return re.findall(rf'<(?:li|article)\s+class="{css_class}[^"]*"\s+data-id="([^"]+)"', html)


def alternate(html: str) -> str:
    found = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)">', html)
    assert found, "page has no JSON twin link"
    return found.group(1).replace("&amp;", "&")


def assert_error(response, status: int) -> dict:
    """The one error shape: {"error": {"status", "message", "details"}} and nothing else."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"status", "message", "details"}
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    return body["error"]


def get_page(http, url: str, **params) -> str:
    response = http.get(url, params=params)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


# -- twins --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"q": "stochastic gradient noise"},
        {"q": "stochastic gradient noise", "mode": "keyword", "page": "2"},
        {"q": "label noise", "mode": "semantic", "type": "preprint"},
        {"q": "optimization", "fusion": "weighted", "year_from": "2020", "year_to": "2025"},
        {},  # the browse listing
    ],
)
def test_search_page_and_json_twin_return_the_same_ids(http, params):
    html = get_page(http, "/search", **params)
    api = http.get("/api/search", params=params).json()
    assert api["hits"], api
    assert ids(html, "hit") == [h["id"] for h in api["hits"]]
    assert alternate(html).startswith("/api/search")
    twin = http.get(alternate(html)).json()
    assert [h["id"] for h in twin["hits"]] == [h["id"] for h in api["hits"]]


def test_search_json_shape_explains_every_hit(http):
    data = http.get("/api/search", params={"q": "minibatch noise SGD", "per_page": 5}).json()
    assert {"total", "hits", "facets", "page", "per_page", "mode"} <= set(data)
    assert data["total"] >= len(data["hits"]) == 5 and data["mode"] == "hybrid"
    assert set(data["facets"]) == {"year", "venue", "type", "topic"}
    for hit in data["hits"]:
        assert {"id", "title", "year", "venue", "scores", "highlights"} <= set(hit)
        assert {"keyword", "vector", "fused"} <= set(hit["scores"])
        assert "vector" not in hit or not isinstance(hit.get("vector"), list)
    assert "<mark>" in data["hits"][0]["highlights"]["title"]


def test_people_and_topic_search_twins(http):
    for kind, q in (("people", "Liu Ziyin"), ("people", "label noise"), ("topics", "stochastic gradient")):
        html = get_page(http, "/search", kind=kind, q=q)
        api = http.get("/api/search", params={"kind": kind, "q": q}).json()
        assert api["hits"]
        assert ids(html, "hit") == [h["id"] for h in api["hits"]]


def test_facets_are_links_with_counts_that_filter(http):
    # Keyword mode: a facet's count is exactly the total after choosing it. (In hybrid mode the vector
    # candidates are drawn again within the filter, so the filtered total can be a little larger.)
    html = get_page(http, "/search", q="stochastic gradient", mode="keyword")
    facet = re.search(r'<a href="([^"]+)" class="facet-link" data-facet="type" data-value="([^"]+)">', html)
    assert facet, "no type facet link"
    url, value = facet.group(1).replace("&amp;", "&"), facet.group(2)
    filtered = http.get(url.replace("/search", "/api/search", 1)).json()
    assert filtered["hits"] and all(h["type"] == value for h in filtered["hits"])
    unfiltered = http.get("/api/search", params={"q": "stochastic gradient", "mode": "keyword"}).json()
    counts = {f["value"]: f["count"] for f in unfiltered["facets"]["type"]}
    assert filtered["total"] == counts[value]
    assert "aria-current" in get_page(http, url)


def test_empty_and_no_result_states_say_what_to_try(http):
    html = get_page(http, "/search", kind="people")
    assert "Type a name" in html
    html = get_page(http, "/search", q="zzqxv", mode="keyword")
    assert "No results" in html and "Try fewer or broader words" in html
    api = http.get("/api/search", params={"q": "zzqxv", "mode": "keyword"}).json()
    assert api["hits"] == [] and api["hint"]


def test_profile_page_and_json_twin_agree(http, seed_id):
    html = get_page(http, f"/researchers/{seed_id}")
    assert alternate(html) == f"/api/researchers/{seed_id}"
    api = http.get(f"/api/researchers/{seed_id}").json()
    assert ids(html, "work") == [w["id"] for w in api["works"]]
    assert re.findall(r'<li class="suggestion" data-id="([^"]+)"', html) == [
        s["id"] for s in api["similar_researchers"] + api["new_collaborators"]
    ]


def test_topic_and_work_pages_and_twins(http, seed_id):
    profile = http.get(f"/api/researchers/{seed_id}").json()
    topic_id = profile["topics"][0]["id"]
    html = get_page(http, f"/topics/{topic_id}")
    api = http.get(alternate(html)).json()
    assert api["topic"]["id"] == topic_id and api["description"]
    assert re.findall(r'<li data-id="([^"]+)"><a href="/works/', html)[: len(api["recent_works"])] == [
        w["id"] for w in api["recent_works"]
    ]
    assert "<svg class=\"chart\"" in html and api["works_per_year"]

    work_id = profile["works"][0]["id"]
    html = get_page(http, f"/works/{work_id}")
    api = http.get(alternate(html)).json()
    assert api["work"]["id"] == work_id and 'data-id="%s"' % work_id in html
    assert all(f'href="/researchers/{a["id"]}"' in html for a in api["work"]["authors"])
    assert [s["id"] for s in api["similar_works"]] == re.findall(r'<li data-id="([^"]+)"><a href="/works/', html)


def test_status_and_docs(http):
    status = http.get("/api/status").json()
    assert status["ready"] is True and status["index"]["counts"]["works"] > 0
    spec = http.get("/openapi.json").json()
    api_paths = {p for p in spec["paths"] if p.startswith("/api/")}
    assert {"/api/search", "/api/researchers/{researcher_id}", "/api/researchers/{researcher_id}/graph",
            "/api/topics/{topic_id}", "/api/works/{work_id}", "/api/status"} <= api_paths
    docs = get_page(http, "/docs")
    assert all(path in docs for path in api_paths)
    assert "cdn" not in docs.lower()


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, status",
    [
        ({"page": "0"}, 422),
        ({"per_page": "100000"}, 422),
        ({"year_from": "abc"}, 422),
        ({"mode": "bogus"}, 422),
        ({"kind": "bogus"}, 422),
        ({"page": "1.5"}, 422),
        ({"year_from": "2021", "year_to": "2019"}, 400),
        ({"q": "noise", "page": "200", "per_page": "100"}, 400),
        ({"q": "x" * 10_001}, 422),
    ],
)
def test_bad_parameters_get_the_one_error_shape(http, params, status):
    error = assert_error(http.get("/api/search", params=params), status)
    if status == 422:
        assert error["details"] and {"location", "parameter", "message", "type"} <= set(error["details"][0])
    # The page answers with the same status and an HTML explanation, never a 500.
    page = http.get("/search", params=params)
    assert page.status_code == status and page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path",
    ["/api/researchers/r-0000000000", "/api/works/nope", "/api/topics/t-nope", "/api/researchers/r-nope/graph",
     "/api/researchers/r-nope/similar", "/api/nothing-here"],
)
def test_unknown_ids_are_404_json(http, path):
    assert_error(http.get(path), 404)


@pytest.mark.parametrize("path", ["/researchers/r-0000000000", "/works/nope", "/topics/t-nope", "/nothing-here"])
def test_unknown_ids_are_404_pages(http, path):
    response = http.get(path)
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text


def test_other_bad_parameters(http, seed_id):
    assert_error(http.get(f"/api/researchers/{seed_id}/similar", params={"mode": "friends"}), 422)
    assert_error(http.get(f"/api/researchers/{seed_id}/similar", params={"limit": "0"}), 422)
    assert_error(http.get("/api/topics/t-stochastic-gradient", params={"limit": "abc"}), 422)
    assert_error(http.post("/api/search"), 405)


def test_blank_form_fields_mean_no_filter(http):
    response = http.get("/search", params={"q": "noise", "year_from": "", "year_to": "", "mode": "hybrid"})
    assert response.status_code == 200


def test_engine_unavailable_is_503_with_retry_after(tmp_path):
    """An app whose index was never built answers 503 + Retry-After, in the one shape."""
    import httpx

    from models.settings import Settings
    from search.embedded import EmbeddedEngine
    from search.service import Discovery
    from tests.support import real_embedder
    from web.app import create_app

    engine = EmbeddedEngine(tmp_path / "index")
    try:
        app = create_app(Settings(data_dir=tmp_path), Discovery(engine, real_embedder()))
        transport = httpx.ASGITransport(app=app)

        async def run():
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return [await client.get(u) for u in ("/api/search?q=noise", "/search?q=noise", "/api/status")]

        import asyncio

        api, page, status = asyncio.run(run())
    finally:
        engine.close()
    assert_error(api, 503)
    assert api.headers["retry-after"].isdigit()
    assert page.status_code == 503 and page.headers["retry-after"].isdigit()
    assert status.status_code == 200 and status.json()["ready"] is False


# -- escaping -----------------------------------------------------------------------------------


def test_hostile_title_renders_as_text(http):
    api = http.get("/api/search", params={"q": "clustering stochastic model one-dimensional gas"}).json()
    assert HOSTILE_ID in [h["id"] for h in api["hits"]]
    hit = next(h for h in api["hits"] if h["id"] == HOSTILE_ID)
    assert "<script>" in hit["title"]  # JSON carries the text as it is ...
    assert "<script>" not in hit["highlights"]["title"] and "&lt;script&gt;" in hit["highlights"]["title"]  # ... HTML escaped

    for html in (
        get_page(http, "/search", q="clustering stochastic model one-dimensional gas"),
        get_page(http, f"/works/{HOSTILE_ID}"),
        get_page(http, "/search", q="<script>alert('x')</script>"),
    ):
        assert "<script>alert" not in html
        assert "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in get_page(http, f"/works/{HOSTILE_ID}")


# -- the seed researcher ------------------------------------------------------------------------


def test_seed_profile_shows_the_seed_page(http, seed_id):
    data = http.get(f"/api/researchers/{seed_id}").json()
    html = get_page(http, f"/researchers/{seed_id}")

    assert data["name"] == "Liu Ziyin"
    assert "Ziyin Liu" in data["name_variants"]
    assert data["counts"]["followers"] == 0
    assert data["counts"]["works"] == len(data["works"])
    assert data["counts"]["topics"] == len(data["topics"]) > 0
    assert data["counts"]["close_collaborators"] == len(data["close_collaborators"])
    names = [c["name"] for c in data["close_collaborators"]]
    assert "Masahito Ueda" in names and names[0] == "Masahito Ueda"
    for w in data["works"]:
        assert {"id", "title", "year", "type", "venue", "abstract"} <= set(w)

    # Every figure of the page is on it.
    for text in ("Liu Ziyin", "Ziyin Liu", "Trust snapshot", "Masahito Ueda", "Published work", "Research graph",
                 "Similar researchers", "New collaborators", "Follow researcher", "Log in to claim", "followers"):
        assert text in html, text
    affiliation = data["affiliation"] or "Affiliation not imported"
    assert affiliation in html
    assert html.count('<details class="abstract">') == sum(1 for w in data["works"] if w["abstract"])
    # Logged out: follow and claim lead to the log-in page; invite stays off until the record is claimed.
    assert "coming soon" not in html
    assert len(re.findall(r"<button[^>]*disabled", html)) == 1


def test_seed_profile_holds_all_nine_seed_works(http, seed_id):
    data = http.get(f"/api/researchers/{seed_id}").json()
    titles = {w["title"] for w in data["works"]}
    assert SEED_WORK_TITLES <= titles
    assert data["counts"]["works"] >= 9
    assert {"Liu Ziyin", "Ziyin Liu"} <= set(data["name_variants"])  # the UAI 2021 paper joins too


def test_seed_trust_snapshot_is_the_documented_sum(http, seed_id):
    from web import trust

    data = http.get(f"/api/researchers/{seed_id}").json()
    t = data["trust"]
    assert t["score"] == sum(c["points"] for c in t["components"])
    assert t["max_score"] == sum(c["max_points"] for c in t["components"]) == 100
    assert {c["key"] for c in t["components"]} == {"identifiers", "works", "network", "affiliation", "years", "impact", "claim"}
    assert all(0 <= c["points"] <= c["max_points"] and c["evidence"] for c in t["components"])
    assert t["band"] == trust.band(t["score"])
    assert t["level"] == ("L1" if data["identifiers"] else "L0")
    assert t["claim_status"] == "unclaimed"
    by_key = {c["key"]: c for c in t["components"]}
    assert by_key["works"]["points"] == min(20, data["counts"]["works"])
    assert by_key["claim"]["points"] == 0

    html = get_page(http, f"/researchers/{seed_id}")
    assert f'<span class="num">{t["score"]}</span><span class="band">{t["band"]}</span>' in html
    assert f"Verification {t['level']}" in html and "Unclaimed author" in html
    for c in t["components"]:
        assert f'data-component="{c["key"]}"' in html


def test_trust_bands_and_levels():
    from web import trust

    assert [trust.band(s) for s in (0, 24, 25, 49, 50, 74, 75, 100)] == [
        "Emerging", "Emerging", "Established", "Established", "Trusted", "Trusted", "Verified", "Verified"]


def test_seed_similar_researchers_and_new_collaborators_explain_themselves(http, seed_id):
    data = http.get(f"/api/researchers/{seed_id}").json()
    coauthors = {c["id"] for c in data["coauthors"]}
    assert data["similar_researchers"] and data["new_collaborators"]
    for s in data["similar_researchers"] + data["new_collaborators"]:
        assert s["id"] != seed_id and 0 < s["similarity"] <= 1
        assert s["shared_topics"] or s["paper_pairs"]
        for pair in s["paper_pairs"]:
            assert {"theirs", "yours", "similarity"} <= set(pair)
    assert not coauthors & {s["id"] for s in data["new_collaborators"]}
    assert not coauthors & {s["id"] for s in data["similar_researchers"]}  # co-authors are "close collaborators"
    # someone shown as similar comes back among new collaborators only when a shared co-author brought them
    assert all(s["via"] for s in data["new_collaborators"] if s["id"] in {t["id"] for t in data["similar_researchers"]})
    assert any(p["similarity"] for s in data["new_collaborators"] for p in s["paper_pairs"])

    html = get_page(http, f"/researchers/{seed_id}")
    assert "Shared topics" in html and ("Closest papers" in html or "Wrote together" in html)

    api = http.get(f"/api/researchers/{seed_id}/similar", params={"mode": "collaborators", "limit": 3}).json()
    assert len(api["hits"]) <= 3 and api["hits"][0]["id"] == data["new_collaborators"][0]["id"]


def test_seed_graph_has_all_four_node_types(http, seed_id):
    graph = http.get(f"/api/researchers/{seed_id}/graph").json()
    assert graph["center"] == seed_id
    types = {n["type"] for n in graph["nodes"]}
    assert types == {"researcher", "work", "topic", "institution"}
    node_ids = {n["id"] for n in graph["nodes"]}
    assert all(e["source"] in node_ids and e["target"] in node_ids for e in graph["edges"])
    html = get_page(http, f"/researchers/{seed_id}")
    assert f'data-graph-src="/api/researchers/{seed_id}/graph"' in html
    assert '<script src="/static/graph.js"' in html
    assert 'class="graph-fallback"' in html  # the lists a browser without JavaScript shows
    script = http.get("/static/graph.js")
    assert script.status_code == 200 and "http" not in re.sub(r'"http://www\.w3\.org/2000/svg"', "", script.text)


# -- shapes used by the CLI and the API ---------------------------------------------------------


def test_safe_highlight_keeps_only_mark_tags():
    from web.shapes import safe_highlight

    assert safe_highlight("a <mark>b</mark> &lt;i&gt;") == "a <mark>b</mark> &lt;i&gt;"  # escaped input: unchanged
    assert safe_highlight("<script>x</script><mark>y</mark>") == "&lt;script&gt;x&lt;/script&gt;<mark>y</mark>"
    assert safe_highlight("<mark onclick=x>z</mark>") == "&lt;mark onclick=x&gt;z</mark>"
    assert safe_highlight("cut <mark>mid") == "cut <mark>mid</mark>"


def test_filters_from_raw_values():
    from search.interface import BadQuery, WorkFilters
    from web.shapes import filters_from

    f = filters_from({"year_from": ["2020"], "type": ["article", "article", "preprint"], "topic": ["t-x"],
                      "researcher": ["r-1"]}, WorkFilters)
    assert f == WorkFilters(year_from=2020, types=("article", "preprint"), topics=("t-x",), researcher="r-1")
    for bad, message in (({"year_from": ["abc"]}, "year_from"), ({"colour": ["red"]}, "unknown filter"),
                         ({"year_from": ["2022"], "year_to": ["2020"]}, "after"), ({"researcher": ["a", "b"]}, "one")):
        with pytest.raises(BadQuery, match=message):
            filters_from(bad, WorkFilters)
