"""One search box over HTTP: the works search carries people and topic panels, related works and a
"did you mean" in the page and its JSON twin alike; "who knows about this?" as a page and an API.
The engines' side of each is in the contract suite (tests/test_search_contract.py)."""

from __future__ import annotations

import pytest

from tests.test_web import alternate, assert_error, get_page

pytest_plugins = ["tests.web_fixtures"]

SEED_TEXT = (
    "Strength of Minibatch Noise in SGD. The noise in stochastic gradient descent (SGD), caused by minibatch "
    "sampling, is poorly understood despite its practical importance in deep learning."
)


def test_a_name_in_the_works_box_shows_the_researcher_above_the_works(http, seed_id):
    api = http.get("/api/search", params={"q": "Liu Ziyin"}).json()
    assert api["kind"] == "works" and seed_id in [p["id"] for p in api["people"]]
    html = get_page(http, "/search", q="Liu Ziyin")
    assert "Researchers matching" in html and f'href="/researchers/{seed_id}"' in html
    twin = http.get(alternate(html)).json()
    assert [p["id"] for p in twin["people"]] == [p["id"] for p in api["people"]]


def test_topics_panel_and_related_works_in_page_and_twin(http):
    api = http.get("/api/search", params={"q": "noisy labels"}).json()
    assert api["topics"] and api["people"] == []
    html = get_page(http, "/search", q="noisy labels")
    assert all(f'href="/topics/{t["id"]}"' in html for t in api["topics"])
    related = http.get("/api/search", params={"q": "shrinking coefficients toward zero during optimisation"}).json()
    assert related["related"] and not {h["id"] for h in related["related"]} & {h["id"] for h in related["hits"]}
    html = get_page(http, "/search", q="shrinking coefficients toward zero during optimisation")
    assert "Related by meaning" in html and all(h["id"] in html for h in related["related"])


def test_nonsense_says_no_works_match_and_misspellings_get_did_you_mean(http):
    api = http.get("/api/search", params={"q": "xyzzyqwertyplugh"}).json()
    assert (api["total"], api["hits"], api["related"], api["people"], api["topics"]) == (0, [], [], [], [])
    assert "No works match" in get_page(http, "/search", q="xyzzyqwertyplugh")
    misspelt = http.get("/api/search", params={"q": "stochstic gradeint desent"}).json()
    assert misspelt["suggestion"] == "stochastic gradient descent"
    assert "Did you mean" in get_page(http, "/search", q="stochstic gradeint desent")


def test_expertise_page_api_and_a_given_list(http, seed_id):
    api = http.get("/api/expertise", params={"text": SEED_TEXT, "limit": 5}).json()
    assert seed_id in [h["id"] for h in api["hits"]]
    fits = [h["fit"] for h in api["hits"]]
    assert fits == sorted(fits, reverse=True) and all(0 < f <= 1.1 for f in fits)
    assert all(h["works"] and h["works"][0]["similarity"] > 0 for h in api["hits"])
    html = get_page(http, "/expertise", text=SEED_TEXT, limit=5)
    assert alternate(html).startswith("/api/expertise")
    assert f'href="/researchers/{seed_id}"' in html

    others = [h["id"] for h in api["hits"] if h["id"] != seed_id][:2]
    posted = http.post("/api/expertise", json={"text": SEED_TEXT * 20, "researchers": [*others, seed_id]}).json()
    assert sorted(h["id"] for h in posted["hits"]) == sorted([*others, seed_id]) and posted["chunks"] > 1
    mine = next(h for h in posted["hits"] if h["id"] == seed_id)
    assert mine["works"][0]["title"].startswith("Strength of Minibatch Noise")


@pytest.mark.parametrize(
    "call",
    [
        lambda http: http.get("/api/expertise", params={"text": "x" * 10_001}),
        lambda http: http.get("/api/expertise", params={"text": "noise", "limit": 0}),
        lambda http: http.post("/api/expertise", json={"text": ""}),
        lambda http: http.post("/api/expertise", json={"text": "noise", "researchers": ["r-" + str(n) for n in range(101)]}),
    ],
)
def test_bad_expertise_requests_are_4xx(http, call):
    response = call(http)
    assert_error(response, response.status_code)
    assert 400 <= response.status_code < 500


def test_unknown_researcher_to_score_is_404(http):
    assert_error(http.post("/api/expertise", json={"text": "noise", "researchers": ["r-0000000000"]}), 404)
