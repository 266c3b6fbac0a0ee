"""The OpenSearch engine: its request bodies as plain dicts, its error handling, and (on a real node,
`DISCOVERY_TEST_OPENSEARCH_URL`) what only this engine has: versioned indices behind aliases, the
build lock, cluster failures. The behaviour shared with the embedded engine is in
tests/test_search_contract.py, which runs on both.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import asdict, replace

import numpy as np
import pytest

from models.records import AuthorRef, Collaborator, InstitutionSpan, ResearcherDoc, TopicCount, TopicDoc, TopicRef, WorkDoc
from search import opensearch as O
from search.interface import FACET_LIMIT, BadQuery, EngineUnavailable, NotFound, WorkFilters
from search.text import STOPWORDS, query_terms

FORBIDDEN_QUERIES = {"query_string", "simple_query_string"}


def walk(value):
    """Every (key, value) pair anywhere in a nested body."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def knn_mappings(body):
    return [v for k, v in walk(body["mappings"]["properties"]) if isinstance(v, dict) and v.get("type") == "knn_vector"]


# -- mappings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", O.KINDS)
def test_every_vector_field_is_lucene_hnsw_cosine(kind):
    """Any other engine (faiss is the default) kills the CI node: it has no native libraries."""
    body = O.index_body(kind, 384)
    [vector] = knn_mappings(body)
    assert vector == {
        "type": "knn_vector",
        "dimension": 384,
        "method": {
            "name": "hnsw",
            "engine": "lucene",
            "space_type": "cosinesimil",
            "parameters": {"m": 16, "ef_construction": 128},
        },
    }
    index = body["settings"]["index"]
    assert index["knn"] is True and index["number_of_shards"] == 1 and index["number_of_replicas"] == 0
    assert body["mappings"]["dynamic"] == "strict"
    assert body["mappings"]["properties"]["doc"] == {"type": "object", "enabled": False}


def test_work_mapping_fields():
    props = O.index_body("works", 384, {"version": 3})["mappings"]["properties"]
    text = {
        "type": "text",
        "analyzer": "english_folded",
        "fields": {"std": {"type": "text", "analyzer": "standard_folded"}},
    }
    for field in ("title", "abstract", "authors", "keywords", "topic_labels"):
        assert props[field] == text, field
    assert props["venue"]["type"] == "keyword" and set(props["venue"]["fields"]) == {"text", "std"}
    for field in ("id", "type", "topic_ids", "topic_facets", "researcher_ids"):
        assert props[field] == {"type": "keyword"}, field
    assert props["year"] == {"type": "integer"} and props["cited_by_count"] == {"type": "integer"}
    assert O.index_body("works", 384, {"version": 3})["mappings"]["_meta"] == {"version": 3}


def test_english_analyzer_is_the_embedded_engines_analysis():
    """Same tokens, stopwords and stems as FTS5 `porter unicode61 remove_diacritics 2` (tests/test_text_analysis.py)."""
    analyzer = O.ANALYSIS["analyzer"]["english_folded"]
    assert O.ANALYSIS["tokenizer"][analyzer["tokenizer"]] == {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"}
    assert analyzer["filter"] == ["lowercase", "asciifolding", "discovery_stop", "porter_stem"]
    assert O.ANALYSIS["filter"]["discovery_stop"] == {"type": "stop", "stopwords": sorted(STOPWORDS)}


def test_researcher_mapping_folds_names_and_keeps_filters_as_keywords():
    props = O.index_body("researchers", 384)["mappings"]["properties"]
    assert props["names"]["analyzer"] == "name_folded"
    assert "asciifolding" in O.ANALYSIS["analyzer"]["name_folded"]["filter"]
    assert props["names"]["fields"]["tri"]["analyzer"] == "name_trigram"
    for field in ("name_keys", "identifiers", "institutions"):
        assert props[field] == {"type": "keyword"}
    assert props["last_year"] == {"type": "integer"}


def test_unknown_index_kind():
    with pytest.raises(ValueError):
        O.index_body("people", 384)


# -- documents --------------------------------------------------------------------------------------


def work(**changes) -> WorkDoc:
    doc = WorkDoc(
        id="W1",
        title="Noise\x02 in <b>SGD</b>",
        abstract="",
        year=2021,
        type="article",
        venue="",
        doi=None,
        cited_by_count=3,
        source="openalex",
        keywords=["sgd"],
        topics=[TopicRef("t-sgd", "SGD"), TopicRef("t-sgd", "SGD"), TopicRef("t-noise", "Noise")],
        authors=[AuthorRef("r-1", "A", 1), AuthorRef("r-2", "B", 2), AuthorRef("r-1", "A", 3)],
        institutions=[],
        vector=[3.0, 4.0],
    )
    return replace(doc, **changes)


def test_work_source():
    source = O.work_source(work(), 2)
    assert source["vector"].dtype == np.float32 and source["vector"].tolist() == pytest.approx([0.6, 0.8])  # unit vector
    assert source["title"] == "Noise  in <b>SGD</b>"  # sentinels/controls cleaned, markup left to the highlighter
    assert source["abstract"] is None and source["venue"] is None  # empty values are no facet value
    assert source["topic_ids"] == ["t-sgd", "t-noise"]
    assert source["topic_facets"] == ["SGD\x1ft-sgd", "Noise\x1ft-noise"]
    assert source["researcher_ids"] == ["r-1", "r-2"]
    assert "vector" not in source["doc"] and source["doc"]["title"] == source["title"]
    O.FastJSON().dumps(source)  # what bulk sends


def test_documents_without_a_usable_vector_have_no_vector_field():
    """Lucene rejects zero vectors for cosine; a missing field is simply not a kNN candidate."""
    for vector in (None, [0.0, 0.0], [float("nan"), 1.0]):
        assert "vector" not in O.work_source(work(vector=vector), 2)
    with pytest.raises(ValueError, match="3 dimensions"):
        O.work_source(work(vector=[1.0, 2.0, 3.0]), 2)


def test_researcher_source():
    doc = ResearcherDoc(
        id="r-1",
        name="Ziyin Liu",
        name_variants=["Liu Ziyín"],
        identifiers={"orcid": "https://orcid.org/0000-0002-1825-009x", "openalex": "junk"},
        works_count=9,
        cited_by_count=0,
        h_index=1,
        first_year=2019,
        last_year=2024,
        topics=[],
        close_collaborators=[],
        institutions=[],
        work_ids=["W1"],
        link_methods={},
    )
    source = O.researcher_source(doc, 2)
    assert source["names"] == ["Ziyin Liu", "Liu Ziyín", "ziyin liu", "liu ziyin"]
    assert source["name_keys"] == ["liu ziyin", "z liu", "l ziyin"]  # one key for both orders, initials both ways
    assert source["identifiers"] == ["orcid:0000-0002-1825-009X"]  # canonical; unparseable dropped
    assert "vector" not in source


def test_bulk_json_means_what_the_standard_json_meant(monkeypatch):
    """What bulk sends (`FastJSON` of `*_source`) is the JSON `json.dumps` made of `doc_to_dict`
    documents before, but for the vector's digits: each value is the float32 Lucene stores."""
    from search.interface import doc_to_dict

    researcher = ResearcherDoc(
        id="r-1", name="Ziyin Liu", name_variants=["Liu Ziyín"], identifiers={"orcid": "0000-0002-1825-009X"},
        works_count=9, cited_by_count=4, h_index=1, first_year=2019, last_year=2024,
        topics=[TopicCount("t-sgd", "SGD", 3, 0.1 + 0.2)], close_collaborators=[Collaborator("r-2", "B", 2)],
        institutions=[InstitutionSpan("MIT", 2019, 2024, 9)], work_ids=["W1"], link_methods={"orcid": 9},
        coauthors={"r-2": 2}, large_works=["W9"], coauthors_count=1,
    )
    topic = TopicDoc(id="t-sgd", label="SGD", origin="derived", works_count=3, researchers_count=2,
                     subtopics=[TopicCount("t-x", "X", 1)])
    rng = np.random.default_rng(7)
    for doc, to_source in ((work(), O.work_source), (researcher, O.researcher_source), (topic, O.topic_source)):
        doc = replace(doc, vector=rng.normal(size=384).tolist())
        sent = json.loads(O.FastJSON().dumps(to_source(doc, 384)))
        with monkeypatch.context() as m:
            m.setattr(O, "plain", doc_to_dict)  # the deep copy it replaced
            before = to_source(doc, 384)
        before.pop("vector")
        unit = np.asarray(doc.vector) / np.linalg.norm(doc.vector)
        # each value parses to the float32 Lucene made of the float64 sent before
        assert np.array_equal(np.asarray(sent.pop("vector"), dtype=np.float32), unit.astype(np.float32))
        assert sent == json.loads(json.dumps(before)) and sent["doc"]["id"] == doc.id
    assert len(O.FastJSON().dumps(O.unit_vector(doc.vector, 384, "t"))) < 0.6 * len(json.dumps(unit.tolist()))


# -- query bodies -------------------------------------------------------------------------------------


def test_filter_clauses():
    filters = WorkFilters(year_from=2019, year_to=2021, types=("article",), venues=("ICML", "NeurIPS"), topics=("t-a",), researcher="r-1")
    assert O.filter_clauses(filters) == [
        {"range": {"year": {"gte": 2019, "lte": 2021}}},
        {"terms": {"type": ["article"]}},
        {"terms": {"venue": ["ICML", "NeurIPS"]}},
        {"terms": {"topic_ids": ["t-a"]}},
        {"term": {"researcher_ids": "r-1"}},
    ]
    assert O.filter_clauses(WorkFilters(year_to=2000)) == [{"range": {"year": {"lte": 2000}}}]
    assert O.filter_clauses(WorkFilters()) == []


def test_keyword_works_body():
    body = O.keyword_works_body(["minibatch", "noise"], WorkFilters(types=("article",)), 100)
    assert body == {
        "size": 100,
        "_source": False,
        "track_total_hits": False,
        "query": {
            "bool": {
                "must": [
                    {
                        "combined_fields": {
                            "query": "minibatch noise",
                            "fields": [
                                "title^2", "abstract^1", "authors^1", "venue.text^1", "keywords^1"
                            ],
                            "operator": "or",
                        }
                    }
                ],
                "filter": [{"terms": {"type": ["article"]}}],
            }
        },
        "sort": [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}],
    }


def test_all_stopword_queries_use_the_standard_fields():
    """The english analyzer drops "the"; `query_terms` keeps stopwords when nothing else is left."""
    match = O.work_match(query_terms("the OR not"))["combined_fields"]
    assert match["query"] == "the or not"
    assert match["fields"] == [
        "title.std^2", "abstract.std^1", "authors.std^1", "venue.std^1", "keywords.std^1"
    ]


@pytest.mark.parametrize("text", ['title:noise AND "x', "a OR b NOT c", "noise* -sgd (x)", "{a} [b] \\ ^2", "'; DROP --"])
def test_user_text_is_never_query_syntax(text):
    terms = query_terms(text)
    bodies = [
        O.keyword_works_body(terms, WorkFilters(), 10),
        O.work_facets_body(terms, ["W1"], WorkFilters()),
        O.highlight_body(terms, ["W1"]),
        O.keyword_topics_body(terms, 10),
        O.name_researchers_body("liu ziyin"),
    ]
    for body in bodies:
        keys = {key for key, _ in walk(body)}
        assert not keys & FORBIDDEN_QUERIES
    matches = [v for body in bodies for k, v in walk(body) if k == "combined_fields"]
    assert matches and all(set(m["query"]) <= set("abcdefghijklmnopqrstuvwxyz0123456789 ") for m in matches)


def test_browse_body_sorts_newest_then_most_cited_then_id():
    body = O.browse_works_body(WorkFilters(types=("preprint",)), 20)
    assert body["query"] == {"bool": {"filter": [{"terms": {"type": ["preprint"]}}]}}
    assert body["sort"] == [
        {"year": {"order": "desc", "missing": "_last"}},
        {"cited_by_count": {"order": "desc"}},
        {"id": {"order": "asc"}},
    ]


def test_knn_filters_go_inside_the_knn_clause():
    body = O.vector_works_body([0.6, 0.8], WorkFilters(year_from=2020, venues=("arXiv",)), 5)
    assert body["query"] == {
        "knn": {
            "vector": {
                "vector": [0.6, 0.8],
                "k": 5,
                "method_parameters": {"ef_search": O.EF_SEARCH_MIN},
                "filter": {
                    "bool": {"filter": [{"range": {"year": {"gte": 2020}}}, {"terms": {"venue": ["arXiv"]}}]}
                },
            }
        }
    }
    assert body["size"] == 5
    assert "filter" not in O.vector_works_body([1.0], WorkFilters(), 5)["query"]["knn"]["vector"]
    assert O.knn_body([1.0], 500)["query"]["knn"]["vector"]["method_parameters"] == {"ef_search": 500}
    single = O.vector_works_body([1.0], WorkFilters(types=("article",)), 5)["query"]["knn"]["vector"]["filter"]
    assert single == {"terms": {"type": ["article"]}}


def test_vector_researchers_body():
    body = O.vector_researchers_body([1.0], 10, exclude=["r-1", "r-2", "r-1"], active_since=2023, institution="Carnegie-Mellon*?")
    assert body["query"]["knn"]["vector"]["filter"] == {
        "bool": {
            "filter": [
                {"bool": {"must_not": [{"ids": {"values": ["r-1", "r-2"]}}]}},
                {"range": {"last_year": {"gte": 2023}}},
                {"wildcard": {"institutions": {"value": "*carnegie mellon*"}}},  # folded: no wildcard left from input
            ]
        }
    }
    assert "filter" not in O.vector_researchers_body([1.0], 10, institution=" ?* ")["query"]["knn"]["vector"]


def test_facet_bodies():
    terms = ["noise"]
    both = O.work_facets_body(terms, ["W2", "W1", "W2"], WorkFilters(types=("article",)))
    assert both["size"] == 0 and both["track_total_hits"] is True
    assert both["query"] == {
        "bool": {
            "filter": [{"terms": {"type": ["article"]}}],
            "should": [O.work_match(terms), {"ids": {"values": ["W2", "W1"]}}],
            "minimum_should_match": 1,
        }
    }
    assert both["aggs"] == {
        "year": {"terms": {"field": "year", "size": O.YEAR_BUCKETS, "order": {"_key": "desc"}}},
        "venue": {"terms": {"field": "venue", "size": FACET_LIMIT, "order": [{"_count": "desc"}, {"_key": "asc"}]}},
        "type": {"terms": {"field": "type", "size": FACET_LIMIT, "order": [{"_count": "desc"}, {"_key": "asc"}]}},
        "topic": {"terms": {"field": "topic_facets", "size": FACET_LIMIT, "order": [{"_count": "desc"}, {"_key": "asc"}]}},
    }
    every = O.work_facets_body(terms, ["W1"], WorkFilters(), all_works=True)
    assert every["query"] == {"bool": {"filter": []}}
    assert O.work_facets_body([], [], WorkFilters())["query"] == {"match_none": {}}


def test_highlight_body_escapes_on_the_server():
    body = O.highlight_body(["noise"], ["W1", "W2", "W1"])
    assert body["size"] == 2
    assert body["query"]["bool"]["filter"] == [{"ids": {"values": ["W1", "W2"]}}]
    assert body["highlight"] == {
        "pre_tags": ["<mark>"],
        "post_tags": ["</mark>"],
        "encoder": "html",
        "fields": {
            "title": {"number_of_fragments": 0},
            "abstract": {"fragment_size": O.SNIPPET_CHARS, "number_of_fragments": 1},
        },
    }


def test_topic_bodies():
    recent = O.topic_works_body("t-a", "recent", 10)
    cited = O.topic_works_body("t-a", "cited", 10)
    assert recent["query"] == cited["query"] == {"bool": {"filter": [{"term": {"topic_ids": "t-a"}}]}}
    assert recent["sort"][0] == {"year": {"order": "desc", "missing": "_last"}}
    assert cited["sort"][0] == {"cited_by_count": {"order": "desc"}}
    assert O.works_per_year_body("t-a")["aggs"]["year"]["terms"]["order"] == {"_key": "asc"}
    assert O.topic_researchers_body("t-a", 5)["aggs"] == {
        "researchers": {"terms": {"field": "researcher_ids", "size": 5, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
    }
    topics = O.keyword_topics_body(["noisy", "labels"], 7)
    assert topics["query"]["combined_fields"]["fields"] == ["label^10", "description^1"] and topics["size"] == 7


def test_name_body():
    body = O.name_researchers_body("z liu")
    assert body["query"]["bool"]["should"] == [
        {"match": {"names": {"query": "z liu", "fuzziness": "AUTO", "operator": "or", "boost": 2.0}}},
        {"match": {"names.tri": {"query": "z liu", "operator": "or"}}},
        {"prefix": {"names": {"value": "z"}}},  # an initial matches the names it starts
    ]
    assert body["size"] == O.NAME_CANDIDATES
    exact = O.exact_name_body(["liu z", "z liu"], 30)
    assert exact["query"] == {"bool": {"filter": [{"terms": {"name_keys": ["liu z", "z liu"]}}]}}
    assert exact["sort"][0] == {"works_count": {"order": "desc"}} and exact["size"] == 30


def test_identifier_body_prefers_the_researcher_with_more_works():
    body = O.identifier_body("orcid", "0000-0002-1825-009X")
    assert body["query"] == {"bool": {"filter": [{"term": {"identifiers": "orcid:0000-0002-1825-009X"}}]}}
    assert body["sort"] == [{"works_count": {"order": "desc"}}, {"id": {"order": "asc"}}]


def test_alias_actions_move_all_three_aliases_in_one_request():
    current = {"d-works": ["d-works-v6"], "d-researchers": ["d-researchers-v6"], "d-topics": ["d-topics-v6"]}
    assert O.alias_actions("d", 7, current) == [
        {"remove": {"index": "d-works-v6", "alias": "d-works"}},
        {"add": {"index": "d-works-v7", "alias": "d-works"}},
        {"remove": {"index": "d-researchers-v6", "alias": "d-researchers"}},
        {"add": {"index": "d-researchers-v7", "alias": "d-researchers"}},
        {"remove": {"index": "d-topics-v6", "alias": "d-topics"}},
        {"add": {"index": "d-topics-v7", "alias": "d-topics"}},
    ]
    assert [a for a in O.alias_actions("d", 1, {}) if "remove" in a] == []


# -- small pure helpers ---------------------------------------------------------------------------------


def test_cosine_from_lucene_score():
    assert O.cosine(1.0) == 1.0 and O.cosine(0.5) == 0.0 and O.cosine(0.0) == -1.0


def test_highlight_text_matches_python_escaping():
    server = "<mark>a</mark> &#x2F; &amp;#x2F; &#x27;"  # Lucene's html encoder
    assert O._server_escaped(server) == "<mark>a</mark> / &amp;#x2F; &#x27;"


def test_snippet_ellipses():
    full = "One two. Three <mark>four</mark>. Five."
    assert O.snippet("Three <mark>four</mark>.", "One two. Three four. Five.") == "…Three <mark>four</mark>.…"
    assert O.snippet("One <mark>two</mark>.", "One two. Three") == "One <mark>two</mark>.…"
    assert O.snippet(full, "One two. Three four. Five.") == full


def test_query_vector():
    assert O._query_vector([3, 4]) == [0.6, 0.8]
    assert O._query_vector([0, 0]) is None  # a zero vector has no direction: no neighbours
    for bad in ([], [float("inf")], ["x"]):
        with pytest.raises(BadQuery):
            O._query_vector(bad)


def test_prefix_and_url():
    for bad in ("", "Discovery", "-x", "a b", "a/b", "x" * 100):
        with pytest.raises(ValueError):
            O.OpenSearchEngine("http://127.0.0.1:1", prefix=bad)
    assert O._safe_url("https://user:secret@search.example.org:9200/") == "https://search.example.org:9200/"


# -- errors, without a node -------------------------------------------------------------------------------


def test_client_errors_become_interface_errors():
    from opensearchpy.exceptions import (
        AuthorizationException,
        ConnectionError,
        ConnectionTimeout,
        NotFoundError,
        RequestError,
        TransportError,
    )

    engine = O.OpenSearchEngine("http://u:p@127.0.0.1:1", prefix="t")
    missing = NotFoundError(404, "index_not_found_exception", {"error": {"root_cause": [{"reason": "no such index [t-works]"}]}})
    cases = [
        (ConnectionError("N/A", "refused", None), EngineUnavailable, "unreachable"),
        (ConnectionTimeout("TIMEOUT", "timed out", None), EngineUnavailable, "did not answer"),
        (missing, O.NoIndex, "no index has been built"),
        (RequestError(400, "search_phase_execution_exception", {"error": {"root_cause": [{"reason": "bad dims"}]}}), BadQuery, "bad dims"),
        (TransportError(503, "search_phase_execution_exception", {"error": {"reason": "all shards failed"}}), EngineUnavailable, "all shards"),
        (AuthorizationException(403, "security_exception", {}), EngineUnavailable, "403"),
    ]
    for exc, expected, words in cases:
        translated = engine._translate(exc)
        assert isinstance(translated, expected) and words in str(translated), (exc, translated)
        assert "p@" not in str(translated)  # credentials never reach a message
    assert isinstance(O.NoIndex("x"), EngineUnavailable)
    plain = RuntimeError("x")
    assert engine._translate(plain) is plain


def test_retries_are_bounded(monkeypatch):
    from opensearchpy.exceptions import ConnectionError, RequestError, TransportError

    monkeypatch.setattr(O, "BACKOFF", (0.0, 0.0))
    engine = O.OpenSearchEngine("http://127.0.0.1:1", prefix="t")
    calls = []

    def failing(exc):
        def method(**kwargs):
            calls.append(kwargs)
            raise exc

        return method

    with pytest.raises(EngineUnavailable):
        engine._call(failing(ConnectionError("N/A", "refused", None)), index="x")
    assert len(calls) == 1 + O.RETRIES
    calls.clear()
    with pytest.raises(EngineUnavailable):
        engine._call(failing(TransportError(429, "too_many_requests", {})))
    assert len(calls) == 1 + O.RETRIES
    calls.clear()
    with pytest.raises(BadQuery):
        engine._call(failing(RequestError(400, "parsing_exception", {})))
    assert len(calls) == 1  # the user's mistake is not retried
    answers = iter([ConnectionError("N/A", "refused", None), {"ok": True}])

    def flaky(**kwargs):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert engine._call(flaky) == {"ok": True}


def test_a_node_that_never_answers_is_unavailable_within_bounds():
    """Accepts the connection, never replies: the client timeout and the bounded retries end it."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        engine = O.OpenSearchEngine(f"http://127.0.0.1:{silent.getsockname()[1]}", prefix="t", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(EngineUnavailable, match="did not answer"):
            engine.keyword_works("noise", WorkFilters(), 5)
        assert time.monotonic() - started < (1 + O.RETRIES) * 0.3 + sum(O.BACKOFF) + 2
        engine.close()


def test_retries_stay_within_the_timeout():
    """A node that accepts and never answers uses up the whole timeout in one attempt: no second
    attempt starts after it (three attempts of a full timeout each made a request hang ~31 s)."""
    accepted = []
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        silent.settimeout(0.1)
        stop = threading.Event()

        def count_connections():
            while not stop.is_set():
                try:
                    accepted.append(silent.accept()[0])
                except OSError:
                    pass

        counter = threading.Thread(target=count_connections)
        counter.start()
        engine = O.OpenSearchEngine(f"http://127.0.0.1:{silent.getsockname()[1]}", prefix="t", timeout=1)
        try:
            with pytest.raises(EngineUnavailable, match="did not answer within 1 s"):
                engine.keyword_works("noise", WorkFilters(), 5)
        finally:
            stop.set()
            counter.join()
            engine.close()
            for connection in accepted:
                connection.close()
    assert len(accepted) == 1


def test_a_cluster_url_names_every_node():
    url = "http://127.0.0.1:9260, https://u:secret@127.0.0.1:9261/"
    assert O.node_urls(url) == ["http://127.0.0.1:9260", "https://u:secret@127.0.0.1:9261/"]
    assert O._safe_url(url) == "http://127.0.0.1:9260,https://127.0.0.1:9261/"


def test_a_closed_port_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = O.OpenSearchEngine(f"http://127.0.0.1:{port}", prefix="t", timeout=1)
    with pytest.raises(EngineUnavailable, match="unreachable"):
        engine.info()
    with pytest.raises(EngineUnavailable):
        engine.get_works(["W1"])
    engine.close()


# -- on a real node -----------------------------------------------------------------------------------------


def small(corpus, works: int = 30):
    docs = sorted(corpus.works(), key=lambda w: (not w.id.startswith("seed-"), w.id))[:works]
    return replace(corpus, works=lambda: iter(docs), counts={**corpus.counts, "works": len(docs)})


@pytest.fixture
def fresh(engine_factory):
    """An OpenSearch engine on a fresh prefix (dropped at the end of the session)."""
    return engine_factory("opensearch")()


def indices_of(engine) -> list[str]:
    return sorted(engine.client.indices.get(index=f"{engine.prefix}-*", expand_wildcards="all"))


@pytest.mark.opensearch
def test_keeps_the_live_and_previous_versions_only(fresh, corpus):
    for n in (20, 30, 40):
        fresh.build(small(corpus, n))
    p = fresh.prefix
    assert indices_of(fresh) == sorted(
        [f"{p}-meta", *(f"{p}-{kind}-v{v}" for kind in O.KINDS for v in (2, 3))]
    )
    aliases = fresh.client.indices.get_alias(name=f"{p}-works,{p}-researchers,{p}-topics")
    assert sorted(aliases) == [f"{p}-researchers-v3", f"{p}-topics-v3", f"{p}-works-v3"]
    info = fresh.info()
    assert info.version == 3 and info.counts["works"] == 40 and info.meta["dimension"] == corpus.dimension


@pytest.mark.opensearch
def test_a_killed_builds_indices_are_removed_by_the_next_build(fresh, corpus):
    fresh.build(small(corpus, 20))
    leftover = [f"{fresh.prefix}-{kind}-v2" for kind in O.KINDS[:2]]  # killed before it created topics
    for name, kind in zip(leftover, O.KINDS):
        fresh.client.indices.create(index=name, body=O.index_body(kind, corpus.dimension, {"version": 2, "complete": False}))
    assert fresh.info().version == 1  # never live
    with pytest.raises(NotFound):
        fresh.rollback()  # and never a rollback target
    built = fresh.build(small(corpus, 25))
    assert built.version > 2 and not set(leftover) & set(indices_of(fresh))


@pytest.mark.opensearch
def test_one_build_at_a_time_and_a_dead_builders_lock_is_taken_over(fresh, corpus):
    fresh.build(small(corpus, 20))
    lock = {"owner": "elsewhere:1", "heartbeat": time.time()}
    fresh.client.index(index=f"{fresh.prefix}-meta", id="build-lock", body=lock, refresh=True)
    with pytest.raises(EngineUnavailable, match="another build"):
        fresh.build(small(corpus, 25))
    with pytest.raises(EngineUnavailable, match="another build"):
        fresh.rollback()
    assert fresh.info().version == 1
    stale = {**lock, "heartbeat": time.time() - O.LOCK_STALE_SECONDS - 1}
    fresh.client.index(index=f"{fresh.prefix}-meta", id="build-lock", body=stale, refresh=True)
    assert fresh.build(small(corpus, 25)).version == 2
    assert not fresh.client.exists(index=f"{fresh.prefix}-meta", id="build-lock")  # released


@pytest.mark.opensearch
def test_a_red_index_is_unavailable_not_an_error_page(fresh, corpus):
    fresh.build(small(corpus, 20))
    red = f"{fresh.prefix}-works-v99"
    fresh.client.indices.create(
        index=red,
        body={"settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0, "routing.allocation.require._name": "nowhere"}}},
        wait_for_active_shards="0",
    )
    fresh.client.indices.update_aliases(
        body={"actions": [{"remove": {"index": f"{fresh.prefix}-works-v1", "alias": f"{fresh.prefix}-works"}}, {"add": {"index": red, "alias": f"{fresh.prefix}-works"}}]}
    )
    try:
        assert fresh.client.cluster.health(index=red)["status"] == "red"
        with pytest.raises(EngineUnavailable):
            fresh.keyword_works("noise", WorkFilters(), 5)
        with pytest.raises(EngineUnavailable):
            fresh.work_facets("noise", [], WorkFilters())
    finally:  # a red index left behind turns the whole node red for every later test and script
        fresh.client.indices.delete(index=red)


@pytest.mark.opensearch
def test_bad_vectors_are_bad_queries(fresh, corpus):
    fresh.build(small(corpus, 20))
    with pytest.raises(BadQuery, match="dimension"):
        fresh.vector_works([0.1] * (corpus.dimension + 1), WorkFilters(), 5)
    assert fresh.vector_works([0.0] * corpus.dimension, WorkFilters(), 5) == []


@pytest.mark.opensearch
def test_works_are_scored_with_the_chosen_bm25(fresh, corpus):
    """The node scores works with WORK_BM25 (k1 1.6, chosen on CACM and CISI); topics keep Lucene's default."""
    fresh.build(small(corpus, 20))
    (works,) = fresh.client.indices.get_settings(index=f"{fresh.prefix}-works").values()
    assert works["settings"]["index"]["similarity"]["default"] == {"type": "BM25", "k1": "1.6", "b": "0.75"}
    (topics,) = fresh.client.indices.get_settings(index=f"{fresh.prefix}-topics").values()
    assert "similarity" not in topics["settings"]["index"]


@pytest.mark.opensearch
def test_one_msearch_gives_both_candidate_lists(fresh, corpus, embedder):
    fresh.build(small(corpus, 60))
    text, filters = "minibatch noise in stochastic gradient descent", WorkFilters(year_from=2015)
    vector = embedder.embed_one(text).tolist()
    keyword, nearest = fresh.keyword_and_vector_works(text, vector, filters, 20)
    assert keyword == fresh.keyword_works(text, filters, 20) and keyword
    assert [i for i, _ in nearest] == [i for i, _ in fresh.vector_works(vector, filters, 20)] and nearest
    assert all(-1.0 <= s <= 1.0 for _, s in nearest)  # cosine, not lucene's (1 + cos) / 2


@pytest.mark.opensearch
def test_vector_scores_are_cosines(fresh, corpus):
    import numpy as np

    fresh.build(small(corpus, 30))
    target = next(w for w in small(corpus, 30).works() if w.vector is not None)
    found = fresh.vector_works(target.vector, WorkFilters(), 3)
    assert found[0][0] == target.id and found[0][1] == pytest.approx(1.0, abs=1e-5)
    stored = np.asarray(fresh.work_vectors([target.id])[target.id])
    assert np.linalg.norm(stored) == pytest.approx(1.0, abs=1e-6)
    second = np.asarray(fresh.work_vectors([found[1][0]])[found[1][0]])
    assert found[1][1] == pytest.approx(float(stored @ second), abs=1e-5)


@pytest.mark.opensearch
def test_build_settings_hold_until_the_version_goes_live(fresh, corpus):
    """While documents are written the new indices neither refresh nor sync the translog per request;
    the live version refreshes, syncs per request and has its replicas (issue 14, point 5)."""
    during = {}

    def works():
        during.update(fresh.client.indices.get_settings(index=f"{fresh.prefix}-*-v1", flat_settings=True))
        yield from small(corpus, 20).works()

    fresh.build(replace(small(corpus, 20), works=works))
    assert sorted(during) == sorted(f"{fresh.prefix}-{kind}-v1" for kind in O.KINDS)
    for settings in during.values():
        assert settings["settings"]["index.translog.durability"] == "async"
        assert settings["settings"]["index.refresh_interval"] == "-1"
    live = fresh.client.indices.get_settings(index=f"{fresh.prefix}-*-v1", flat_settings=True, include_defaults=True)
    for settings in live.values():
        assert "index.translog.durability" not in settings["settings"]  # back to the default,
        assert settings["defaults"]["index.translog.durability"].lower() == "request"  # a sync per request
        assert "index.refresh_interval" not in settings["settings"]
        assert settings["settings"]["index.number_of_replicas"] == str(fresh.replicas)


@pytest.mark.opensearch
def test_documents_are_made_a_chunk_ahead_and_each_sent_once(fresh, corpus, monkeypatch):
    """Another thread makes and serialises the documents while the build's thread sends them: every
    document arrives once, under its id."""
    monkeypatch.setattr(O, "BULK_CHUNK", 4)
    docs = list(small(corpus, 60).works())
    makers = set()

    def works():
        for doc in docs:
            makers.add(threading.current_thread())
            yield doc

    info = fresh.build(replace(small(corpus, 60), works=works))
    assert info.counts["works"] == len(docs) == 60
    assert threading.current_thread() not in makers and len(makers) == 1
    found = fresh.client.search(index=fresh.alias("works"), body={"size": 100, "_source": False})["hits"]["hits"]
    assert sorted(hit["_id"] for hit in found) == sorted(doc.id for doc in docs)


@pytest.mark.opensearch
def test_a_bad_document_fails_the_build_from_the_making_thread(fresh, corpus):
    """A corpus error met while making documents ahead fails the build, and the live version stays."""
    fresh.build(small(corpus, 20))
    docs = list(small(corpus, 40).works())
    with pytest.raises(ValueError, match="appears twice"):
        fresh.build(replace(small(corpus, 40), works=lambda: iter([*docs, docs[0]])))
    assert fresh.info().version == 1 and fresh.info().counts["works"] == 20
    assert indices_of(fresh) == sorted([f"{fresh.prefix}-meta", *(f"{fresh.prefix}-{kind}-v1" for kind in O.KINDS)])
