"""Reach and cite (issue 15, point 1): every work links to where it lives, from each source shape,
and exports as BibTeX, RIS and CSL-JSON for one work, a researcher's works and a page of results.
The exports are read back with the same maintained libraries a reference manager would use."""

from __future__ import annotations

import bibtexparser
import pytest
import rispy

from tests.test_web import assert_error, get_page

pytest_plugins = ["tests.web_fixtures"]

ARXIV_WORK = "arxiv-0704.0710"  # arXiv record with a journal DOI
OLD_OPENALEX_WORK = "W3087646693"  # older OpenAlex shape, with an open-access URL
ML_VENUES_WORK = "paperlists-acl2021-2021.acl-long.447"  # ml-venues (OpenAlex shape), landing page only


def links(http, work_id: str) -> dict[str, str]:
    response = http.get(f"/api/works/{work_id}")
    assert response.status_code == 200, response.text
    return {link["kind"]: link["url"] for link in response.json()["work"]["links"]}


def test_every_source_shape_links_to_where_the_work_lives(http):
    assert links(http, ARXIV_WORK) == {
        "doi": "https://doi.org/10.1140/epja/i2006-10302-7",
        "arxiv": "https://arxiv.org/abs/0704.0710",
        "arxiv-pdf": "https://arxiv.org/pdf/0704.0710",
    }
    old = links(http, OLD_OPENALEX_WORK)
    assert old["openalex"] == "https://openalex.org/W3087646693"
    assert old["doi"].startswith("https://doi.org/10.")
    assert old["open-access"].startswith("https://academic.oup.com/")
    assert links(http, ML_VENUES_WORK) == {"landing": "https://aclanthology.org/2021.acl-long.447/"}
    assert links(http, "arxiv-acc-phys-9411002")["arxiv"] == "https://arxiv.org/abs/acc-phys/9411002"


def test_a_seed_work_without_identifiers_is_found_on_arxiv_by_title(http, seed_id):
    works = http.get(f"/api/researchers/{seed_id}").json()["works"]
    work = next(w for w in works if w["title"] == "Strength of Minibatch Noise in SGD")
    assert work["links"] == [{"kind": "arxiv-search", "label": "Find on arXiv by title",
                              "url": "https://arxiv.org/search/?query=Strength+of+Minibatch+Noise+in+SGD&searchtype=title"}]


def test_the_work_page_shows_its_links(http):
    html = get_page(http, f"/works/{ARXIV_WORK}")
    assert 'href="https://arxiv.org/abs/0704.0710"' in html
    assert 'href="https://arxiv.org/pdf/0704.0710"' in html
    assert 'href="https://doi.org/10.1140/epja/i2006-10302-7"' in html
    assert f'href="/api/works/{ARXIV_WORK}/cite?format=bibtex"' in html


def test_one_work_in_three_formats(http):
    bib = http.get(f"/api/works/{ARXIV_WORK}/cite", params={"format": "bibtex"})
    assert bib.status_code == 200 and bib.headers["content-type"].startswith("application/x-bibtex")
    assert "attachment" in bib.headers["content-disposition"]
    [entry] = bibtexparser.parse_string(bib.text).entries
    assert entry["title"].startswith("Photoproduction of pi0 omega off protons")
    assert entry["doi"] == "10.1140/epja/i2006-10302-7"
    assert entry["eprint"] == "0704.0710" and entry["archiveprefix"] == "arXiv"
    assert "Junkersfeld" in entry["author"]

    [record] = rispy.loads(http.get(f"/api/works/{ARXIV_WORK}/cite", params={"format": "ris"}).text)
    assert record["title"].startswith("Photoproduction") and record["doi"] == "10.1140/epja/i2006-10302-7"
    assert "https://arxiv.org/abs/0704.0710" in record["urls"]

    csl = http.get(f"/api/works/{ARXIV_WORK}/cite", params={"format": "csl-json"})
    [item] = csl.json()
    assert item["id"] == ARXIV_WORK and item["DOI"] == "10.1140/epja/i2006-10302-7"
    assert item["issued"] == {"date-parts": [[2007]]}
    assert item["author"][0]["family"] == "Junkersfeld"


def test_a_researchers_works_and_a_page_of_results(http, seed_id):
    profile = http.get(f"/api/researchers/{seed_id}").json()
    bib = http.get(f"/api/researchers/{seed_id}/cite", params={"format": "bibtex"})
    assert bib.status_code == 200
    entries = bibtexparser.parse_string(bib.text).entries
    assert {e["title"] for e in entries} == {w["title"] for w in profile["works"]}
    assert len({e.key for e in entries}) == len(entries), "citation keys must be unique"

    page = http.get("/api/search", params={"q": "minibatch noise", "per_page": 7}).json()
    ris = http.get("/api/search/cite", params={"q": "minibatch noise", "per_page": 7, "format": "ris"})
    assert [r["id"] for r in rispy.loads(ris.text)] == [h["id"] for h in page["hits"]]
    csl = http.get("/api/search/cite", params={"q": "minibatch noise", "per_page": 7, "format": "csl-json"}).json()
    assert [i["id"] for i in csl] == [h["id"] for h in page["hits"]]


def test_export_errors_have_the_one_shape(http, seed_id):
    assert_error(http.get(f"/api/works/{ARXIV_WORK}/cite", params={"format": "docx"}), 422)
    assert_error(http.get("/api/works/W0/cite"), 404)
    assert_error(http.get("/api/researchers/r-unknown/cite"), 404)
    assert_error(http.get("/api/search/cite", params={"kind": "people", "q": "Liu"}), 400)


def test_source_markup_in_abstracts_is_reduced_to_text_structure():
    from web.richtext import plain_text, rich_text, tidy_highlight

    abstract = '<h2>Abstract</h2><p>We bound <jats:italic>x</jats:italic> &amp; y.</p><script>alert(1)</script><p onclick="x()">Next</p>'
    assert str(rich_text(abstract)) == "<p>We bound <em>x</em> &amp; y.</p><p>Next</p>"
    assert plain_text(abstract) == "We bound x & y. Next"
    assert str(rich_text(r"plain $a<b$ & <not a tag")) == r"plain $a&lt;b$ &amp; &lt;not a tag"
    assert str(tidy_highlight("&lt;h2&gt;Abstract&lt;/h2&gt;&lt;p&gt;We <mark>bound</mark>")).split() == ["Abstract", "We", "<mark>bound</mark>"]
