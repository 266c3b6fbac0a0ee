"""The OpenSearch engine: the same retrieval primitives as the embedded engine, served by a node or cluster.

Layout on the cluster (`prefix` defaults to `discovery`):

    {prefix}-works          alias -> {prefix}-works-v7        (likewise researchers and topics)
    {prefix}-works-v7       the live version: one number for the trio, switched by ONE `POST _aliases`
    {prefix}-works-v6       the previous version, kept for `rollback()`
    {prefix}-meta           a small index holding the build lock (one build at a time, across processes)

Each versioned index carries its build record in its mapping `_meta` (`version`, `built_at`, `model`,
`dimension`, `counts`, `complete`), so `info()` works from any process. A version whose indices are
not all `complete` is half-built: the next build deletes it, and the aliases never point at it.

Everything that goes over the wire is built by the pure functions in the first half of this module
(`*_body`, `index_body`, `alias_actions`, `*_source`), unit-tested as plain dicts in
`tests/test_opensearch_engine.py`; `OpenSearchEngine` only sends them and reads the answers.

Ranking follows the embedded engine: BM25 over title 10 > abstract 4 > venue/keywords/topics 2 with the
user's words passed as plain `multi_match` text (never a query language); k-NN on lucene HNSW
(cosine), filters inside the knn clause. Lucene reports cosine as `(1 + cos) / 2`; it is converted
back to cosine so scores mean the same on both engines. Fusion happens in `search.service`.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Literal, Sequence
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import orjson

from models.records import ResearcherDoc, TopicDoc, WorkDoc
from search import text as T
from search.interface import (
    DOC_KINDS,
    Changes,
    CoauthorList,
    FACET_LIMIT,
    BadQuery,
    Corpus,
    EngineUnavailable,
    FacetValue,
    IndexInfo,
    SPELLING_EDITS,
    SPELLING_MIN_LENGTH,
    NotFound,
    Progress,
    WorkFilters,
    best_suggestion,
    doc_fields,
    spellable,
    researcher_from_dict,
    topic_from_dict,
    work_from_dict,
)
from search.pin import pinned

KINDS = DOC_KINDS
FORMAT = 1
DEFAULT_TIMEOUT = 10.0
RETRIES = 2
BACKOFF = (0.2, 0.6)
"""Seconds slept before retry 1 and 2 (connection errors, 429, 502-504 only)."""
MIN_ATTEMPT_SECONDS = 0.5
"""A retry starts only if at least this much of the request's timeout is left after its backoff."""
BUILD_TIMEOUT = 120.0
"""Per-request timeout while building (bulk, refresh, health waits): not user-facing."""
BULK_CHUNK = 500
BULK_RETRIES = 6
"""Times `streaming_bulk` resends documents a busy cluster rejected with 429 (backoff 1, 2, 4, ... s)."""
FORCE_MERGE_TIMEOUT = 3600.0
"""A force-merge rewrites every segment (HNSW graphs included): long on a big index, so its own bound."""
FORCE_MERGE_POLL = 1.0
LOCK_STALE_SECONDS = 600
"""A build lock whose heartbeat is older than this belongs to a killed build and may be taken over."""
NAME_CANDIDATES = 200
EF_SEARCH_MIN = 100
"""HNSW candidate list size at least this large, so small `k` still gets good recall."""
YEAR_BUCKETS = 2000
MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"
SNIPPET_CHARS = 200
ELLIPSIS = "…"

WORK_TEXT_FIELDS: tuple[str, ...] = ("title^2", "abstract^1", "authors^1", "venue.text^1", "keywords^1")
"""English-analysed work fields and their BM25 weights (the embedded engine's matched columns and
weights: not `topic_labels`, see `search.embedded.MATCHED_COLUMNS`)."""
WORK_STD_FIELDS: tuple[str, ...] = ("title.std^2", "abstract.std^1", "authors.std^1", "venue.std^1", "keywords.std^1")
"""The same fields analysed with `standard` (no stopwords, no stemming): for all-stopword queries."""
WORK_BM25 = {"type": "BM25", "k1": 1.6, "b": 0.75}
"""The works index's similarity. k1 1.6, not Lucene's 1.2: with 1.2 `combined_fields` scored below
plain FTS5 BM25 on CISI; 1.6 was best on CACM and CISI together (README, Keyword ranking)."""
TOPIC_TEXT_FIELDS: tuple[str, ...] = ("label^10", "description^1")
TOPIC_STD_FIELDS: tuple[str, ...] = tuple(f.replace("^", ".std^", 1) for f in TOPIC_TEXT_FIELDS)

_PREFIX = re.compile(r"[a-z0-9][a-z0-9_.-]{0,80}")
_FACET_SEP = "\x1f"  # topic facet keys are "label\x1fid": sorting by key is sorting by label, like the embedded engine


# == pure builders: mappings, documents, query bodies =============================================


def _text() -> dict:
    """A text field analysed as English (folded) plus a `standard` (folded) sub-field `.std`."""
    return {"type": "text", "analyzer": "english_folded", "fields": {"std": {"type": "text", "analyzer": "standard_folded"}}}


def _vector(dimension: int) -> dict:
    # engine MUST be lucene: the node's k-NN plugin has no native libraries (faiss/nmslib kill it).
    return {
        "type": "knn_vector",
        "dimension": int(dimension),
        "method": {
            "name": "hnsw",
            "engine": "lucene",
            "space_type": "cosinesimil",
            "parameters": {"m": 16, "ef_construction": 128},
        },
    }


_STORED = {"type": "object", "enabled": False}  # the document as the interface returns it, not indexed
ANALYSIS = {
    # `english_folded` is `search.text.analyze` (= the embedded engine's FTS5 tokenizer `porter
    # unicode61 remove_diacritics 2`): runs of letters/digits, lower-cased, accents folded, our
    # stopwords dropped, Porter stems, so "networks" and "Saarbrücken" match the same works on both
    # engines. `standard_folded` is `standard` + folding.
    "filter": {
        "discovery_stop": {"type": "stop", "stopwords": sorted(T.STOPWORDS)},
    },
    "analyzer": {
        "english_folded": {
            "type": "custom",
            "tokenizer": "letters_digits",
            "filter": ["lowercase", "asciifolding", "discovery_stop", "porter_stem"],
        },
        "standard_folded": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
        "name_folded": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
        "name_trigram": {"type": "custom", "tokenizer": "name_trigram", "filter": ["lowercase", "asciifolding"]},
    },
    "tokenizer": {
        "letters_digits": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"},
        "name_trigram": {"type": "ngram", "min_gram": 3, "max_gram": 3, "token_chars": ["letter", "digit", "whitespace"]}
    },
}


def index_body(kind: str, dimension: int, meta: dict | None = None) -> dict:
    """Settings and mappings of one versioned index (`kind` in KINDS)."""
    settings: dict[str, Any] = {
        # Until `_finish_version` makes it searchable: no refreshes, and the translog synced in the
        # background rather than once per bulk request (a build that dies is deleted and redone anyway).
        "index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1",
                  "translog.durability": "async"},
        "analysis": ANALYSIS,
    }
    if kind == "works":
        settings["similarity"] = {"default": WORK_BM25}
        properties = {
            "id": {"type": "keyword"},
            "title": _text(),
            "abstract": _text(),
            "authors": _text(),
            "venue": {
                "type": "keyword",
                "fields": {
                    "text": {"type": "text", "analyzer": "english_folded"},
                    "std": {"type": "text", "analyzer": "standard_folded"},
                },
            },
            "keywords": _text(),
            "topic_labels": _text(),
            "topic_ids": {"type": "keyword"},
            "topic_facets": {"type": "keyword"},
            "researcher_ids": {"type": "keyword"},
            "year": {"type": "integer"},
            "type": {"type": "keyword"},
            "cited_by_count": {"type": "integer"},
            "vector": _vector(dimension),
            "doc": _STORED,
        }
    elif kind == "researchers":
        properties = {
            "id": {"type": "keyword"},
            "name": {"type": "text", "analyzer": "name_folded"},
            "names": {
                "type": "text",
                "analyzer": "name_folded",
                "fields": {"tri": {"type": "text", "analyzer": "name_trigram"}},
            },
            "name_keys": {"type": "keyword"},
            "identifiers": {"type": "keyword"},
            "institutions": {"type": "keyword"},
            "works_count": {"type": "integer"},
            "first_year": {"type": "integer"},
            "last_year": {"type": "integer"},
            "vector": _vector(dimension),
            "doc": _STORED,
        }
    elif kind == "topics":
        properties = {
            "id": {"type": "keyword"},
            "label": _text(),
            "description": _text(),
            "vector": _vector(dimension),
            "doc": _STORED,
        }
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    return {"settings": settings, "mappings": {"dynamic": "strict", "_meta": dict(meta or {}), "properties": properties}}


def unit_vector(vector: Sequence[float] | None, dimension: int, what: str) -> np.ndarray | None:
    """The vector scaled to length 1, as the float32 values Lucene stores (so `FastJSON` sends each in its
    shortest float32 form, half the digits of a float64); None when absent, zero or not finite (lucene
    rejects zero vectors)."""
    if vector is None:
        return None
    values = np.asarray(vector, dtype=np.float64).reshape(-1)
    if values.shape[0] != dimension:
        raise ValueError(f"{what}: vector has {values.shape[0]} dimensions, expected {dimension}")
    norm = float(np.linalg.norm(values))
    if not norm or not math.isfinite(norm):
        return None
    return (values / norm).astype(np.float32)


def plain(doc: WorkDoc | ResearcherDoc | TopicDoc) -> dict:
    """`doc_fields`, which `FastJSON` writes as `asdict` would: `asdict`'s deep copy was a fifth of the
    time a researcher took to send."""
    return doc_fields(doc)


def work_source(doc: WorkDoc, dimension: int) -> dict:
    """The indexed form of a work: filter/facet/text fields, its vector, and the stored document."""
    stored = plain(doc)
    title = T.clean_indexed(doc.title)
    abstract = T.clean_indexed(doc.abstract) or None
    stored.update(title=title, abstract=abstract)
    topics = list({t.id: t for t in doc.topics}.values())
    source: dict[str, Any] = {
        "id": doc.id,
        "title": title,
        "abstract": abstract,
        "authors": [T.clean_indexed(a.name) for a in doc.authors],
        "venue": doc.venue or None,
        "keywords": [T.clean_indexed(k) for k in doc.keywords],
        "topic_labels": [T.clean_indexed(t.label) for t in topics],
        "topic_ids": [t.id for t in topics],
        "topic_facets": [T.clean_indexed(t.label) + _FACET_SEP + t.id for t in topics],
        "researcher_ids": list(dict.fromkeys(doc.researcher_ids)),
        "year": doc.year,
        "type": doc.type or None,
        "cited_by_count": int(doc.cited_by_count or 0),
        "doc": stored,
    }
    vector = unit_vector(doc.vector, dimension, f"work {doc.id}")
    if vector is not None:
        source["vector"] = vector
    return source


def researcher_source(doc: ResearcherDoc, dimension: int) -> dict:
    names = [n for n in [doc.name, *doc.name_variants] if n]
    norms = list(dict.fromkeys(n for n in (T.normalize_name(x) for x in names) if n))
    identifiers = []
    for kind, value in doc.identifiers.items():
        canonical = T.normalize_identifier(kind, value)
        if canonical:
            identifiers.append(f"{kind}:{canonical}")
    source: dict[str, Any] = {
        "id": doc.id,
        "name": doc.name,
        "names": list(dict.fromkeys([*names, *norms])),
        "name_keys": list(dict.fromkeys(key for n in norms for key in T.name_keys(n))),
        "identifiers": identifiers,
        "institutions": list(dict.fromkeys(n for n in (T.normalize_name(i.name) for i in doc.institutions) if n)),
        "works_count": int(doc.works_count or 0),
        "first_year": doc.first_year,
        "last_year": doc.last_year,
        "doc": plain(doc),
    }
    vector = unit_vector(doc.vector, dimension, f"researcher {doc.id}")
    if vector is not None:
        source["vector"] = vector
    return source


def topic_source(doc: TopicDoc, dimension: int) -> dict:
    source: dict[str, Any] = {
        "id": doc.id,
        "label": T.clean_indexed(doc.label),
        "description": T.clean_indexed(doc.description),
        "doc": plain(doc),
    }
    vector = unit_vector(doc.vector, dimension, f"topic {doc.id}")
    if vector is not None:
        source["vector"] = vector
    return source


def filter_clauses(filters: WorkFilters) -> list[dict]:
    """`bool.filter` clauses: OR within one facet field (terms), AND across fields."""
    clauses: list[dict] = []
    if filters.year_from is not None or filters.year_to is not None:
        bounds = {}
        if filters.year_from is not None:
            bounds["gte"] = int(filters.year_from)
        if filters.year_to is not None:
            bounds["lte"] = int(filters.year_to)
        clauses.append({"range": {"year": bounds}})
    if filters.types:
        clauses.append({"terms": {"type": list(filters.types)}})
    if filters.venues:
        clauses.append({"terms": {"venue": list(filters.venues)}})
    if filters.topics:
        clauses.append({"terms": {"topic_ids": list(filters.topics)}})
    if filters.researcher:
        clauses.append({"term": {"researcher_ids": filters.researcher}})
    return clauses


def text_match(terms: Sequence[str], fields: Sequence[str], std_fields: Sequence[str]) -> dict:
    """A `combined_fields` query over `terms` as plain text (OR-ed; never a query language).

    `combined_fields` is BM25F: each field's term frequency is multiplied by its weight and the
    document is scored as one weighted text, as FTS5's `bm25()` with column weights scores a row
    (a sum of per-field BM25s, `multi_match`'s `most_fields`, ranks differently from the embedded engine).
    `terms` come from `search.text.query_terms`, which keeps stopwords only when the query has
    nothing else; the english analyzer would drop those, so such queries use the `standard` fields.
    """
    only_stopwords = all(t in T.STOPWORDS for t in terms)
    return {
        "combined_fields": {
            "query": " ".join(terms),
            "fields": list(std_fields if only_stopwords else fields),
            "operator": "or",
        }
    }


def work_match(terms: Sequence[str]) -> dict:
    return text_match(terms, WORK_TEXT_FIELDS, WORK_STD_FIELDS)


_BY_SCORE = [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}]
_RECENT = [
    {"year": {"order": "desc", "missing": "_last"}},
    {"cited_by_count": {"order": "desc"}},
    {"id": {"order": "asc"}},
]
_CITED = [
    {"cited_by_count": {"order": "desc"}},
    {"year": {"order": "desc", "missing": "_last"}},
    {"id": {"order": "asc"}},
]


def keyword_works_body(terms: Sequence[str], filters: WorkFilters, limit: int) -> dict:
    return {
        "size": limit,
        "_source": False,
        "track_total_hits": False,
        "query": {"bool": {"must": [work_match(terms)], "filter": filter_clauses(filters)}},
        "sort": _BY_SCORE,
    }


def browse_works_body(filters: WorkFilters, limit: int) -> dict:
    return {
        "size": limit,
        "_source": False,
        "track_total_hits": False,
        "query": {"bool": {"filter": filter_clauses(filters)}},
        "sort": _RECENT,
    }


def knn_body(vector: Sequence[float], limit: int, filters: Sequence[dict] = (), field: str = "vector") -> dict:
    """Top `limit` by cosine; `filters` go inside the knn clause (applied during the HNSW search)."""
    clause: dict[str, Any] = {
        "vector": list(vector),
        "k": limit,
        "method_parameters": {"ef_search": max(limit, EF_SEARCH_MIN)},
    }
    if filters:
        clause["filter"] = {"bool": {"filter": list(filters)}} if len(filters) > 1 else filters[0]
    return {"size": limit, "_source": False, "track_total_hits": False, "query": {"knn": {field: clause}}, "sort": _BY_SCORE}


def vector_works_body(vector: Sequence[float], filters: WorkFilters, limit: int) -> dict:
    return knn_body(vector, limit, filter_clauses(filters))


def vector_researchers_body(
    vector: Sequence[float],
    limit: int,
    exclude: Sequence[str] = (),
    active_since: int | None = None,
    institution: str | None = None,
) -> dict:
    """Nearest researchers; exclusions, activity and institution (a substring of the folded name) inside knn."""
    clauses: list[dict] = []
    if exclude:
        clauses.append({"bool": {"must_not": [{"ids": {"values": list(dict.fromkeys(exclude))}}]}})
    if active_since is not None:
        clauses.append({"range": {"last_year": {"gte": int(active_since)}}})
    folded = T.normalize_name(institution or "")
    if folded:  # only [a-z0-9 ] remain, so nothing in it acts as a wildcard
        clauses.append({"wildcard": {"institutions": {"value": f"*{folded}*"}}})
    return knn_body(vector, limit, clauses)


def facet_aggs() -> dict:
    by_count = [{"_count": "desc"}, {"_key": "asc"}]
    return {
        "year": {"terms": {"field": "year", "size": YEAR_BUCKETS, "order": {"_key": "desc"}}},
        "venue": {"terms": {"field": "venue", "size": FACET_LIMIT, "order": by_count}},
        "type": {"terms": {"field": "type", "size": FACET_LIMIT, "order": by_count}},
        "topic": {"terms": {"field": "topic_facets", "size": FACET_LIMIT, "order": by_count}},
    }


def work_facets_body(terms: Sequence[str], extra_ids: Sequence[str], filters: WorkFilters, all_works: bool = False) -> dict:
    """Total and facets over (keyword matches ∪ extra_ids) ∩ filters, or every work ∩ filters."""
    query: dict[str, Any] = {"filter": filter_clauses(filters)}
    if not all_works:
        should = []
        if terms:
            should.append(work_match(terms))
        ids = list(dict.fromkeys(extra_ids))
        if ids:
            should.append({"ids": {"values": ids}})
        if not should:
            return {"size": 0, "track_total_hits": True, "query": {"match_none": {}}, "aggs": facet_aggs()}
        query.update(should=should, minimum_should_match=1)
    return {"size": 0, "track_total_hits": True, "query": {"bool": query}, "aggs": facet_aggs()}


def highlight_body(terms: Sequence[str], ids: Sequence[str]) -> dict:
    """Works among `ids` matching `terms`, with the whole title and one abstract snippet highlighted.

    `encoder: html` escapes the text on the server; only our own tags are raw markup.
    """
    ids = list(dict.fromkeys(ids))
    return {
        "size": len(ids),
        "_source": ["title", "abstract"],
        "track_total_hits": False,
        "query": {"bool": {"must": [work_match(terms)], "filter": [{"ids": {"values": ids}}]}},
        "highlight": {
            "pre_tags": [MARK_OPEN],
            "post_tags": [MARK_CLOSE],
            "encoder": "html",
            "fields": {
                "title": {"number_of_fragments": 0},
                "abstract": {"fragment_size": SNIPPET_CHARS, "number_of_fragments": 1},
            },
        },
    }


def topic_works_body(topic_id: str, sort: str, limit: int) -> dict:
    return {
        "size": max(0, limit),
        "_source": ["doc"],
        "track_total_hits": False,
        "query": {"bool": {"filter": [{"term": {"topic_ids": topic_id}}]}},
        "sort": _RECENT if sort == "recent" else _CITED,
    }


def works_per_year_body(topic_id: str) -> dict:
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [{"term": {"topic_ids": topic_id}}]}},
        "aggs": {"year": {"terms": {"field": "year", "size": YEAR_BUCKETS, "order": {"_key": "asc"}}}},
    }


def topic_researchers_body(topic_id: str, limit: int) -> dict:
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [{"term": {"topic_ids": topic_id}}]}},
        "aggs": {
            "researchers": {
                "terms": {
                    "field": "researcher_ids",
                    "size": max(1, limit),
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
        },
    }


def exact_name_body(keys: Sequence[str], size: int) -> dict:
    """Researchers indexed under one of the exact name `keys` (`search.text.name_keys`), most works first."""
    return {
        "size": size,
        "_source": False,
        "track_total_hits": False,
        "query": {"bool": {"filter": [{"terms": {"name_keys": list(keys)}}]}},
        "sort": [{"works_count": {"order": "desc"}}, {"id": {"order": "asc"}}],
    }


def name_researchers_body(norm: str, size: int = NAME_CANDIDATES) -> dict:
    """Fuzzy name candidates for a folded name no exact key matched: fuzzy words, initials, trigrams.

    The candidates are re-ranked by `search.text.name_similarity` in the engine, as the embedded
    engine does, so this query only has to find them.
    """
    tokens = norm.split()
    should: list[dict] = [
        {"match": {"names": {"query": norm, "fuzziness": "AUTO", "operator": "or", "boost": 2.0}}},
        {"match": {"names.tri": {"query": norm, "operator": "or"}}},
    ]
    should += [{"prefix": {"names": {"value": t}}} for t in dict.fromkeys(tokens) if len(t) == 1]
    return {
        "size": size,
        "_source": ["doc.name", "doc.name_variants"],
        "track_total_hits": False,
        "query": {"bool": {"should": should, "minimum_should_match": 1}},
        "sort": _BY_SCORE,
    }


def identifier_body(kind: str, canonical: str) -> dict:
    """Sources occasionally give one identifier to two people; the one with more works wins."""
    return {
        "size": 1,
        "_source": False,
        "track_total_hits": False,
        "query": {"bool": {"filter": [{"term": {"identifiers": f"{kind}:{canonical}"}}]}},
        "sort": [{"works_count": {"order": "desc"}}, {"id": {"order": "asc"}}],
    }


def keyword_topics_body(terms: Sequence[str], limit: int) -> dict:
    return {
        "size": limit,
        "_source": False,
        "track_total_hits": False,
        "query": text_match(terms, TOPIC_TEXT_FIELDS, TOPIC_STD_FIELDS),
        "sort": _BY_SCORE,
    }


SPELLING_FIELDS: tuple[str, ...] = ("title.std", "abstract.std")
"""Unstemmed, folded words: what a "did you mean" may propose (the embedded engine reads the same columns)."""


def word_suggestions_body(words: Sequence[str]) -> dict:
    """Term suggesters (the index's own vocabulary) per word and field, and per word the works using it."""
    suggest, own = {}, {}
    for i, word in enumerate(words):
        own[f"w{i}"] = {"multi_match": {"query": word, "fields": list(SPELLING_FIELDS)}}
        for field in SPELLING_FIELDS:
            suggest[f"w{i}:{field}"] = {
                "text": word,
                "term": {
                    "field": field,
                    "suggest_mode": "popular",
                    "max_edits": SPELLING_EDITS,
                    "prefix_length": 1,
                    "min_word_length": SPELLING_MIN_LENGTH,
                    "size": 10,
                },
            }
    return {"size": 0, "track_total_hits": False, "aggs": {"own": {"filters": {"filters": own}}}, "suggest": suggest}


def alias_actions(prefix: str, new_version: int, current: dict[str, Sequence[str]]) -> list[dict]:
    """One atomic `_aliases` body: every alias leaves the indices holding it and joins the new version.

    `current` maps each alias to the indices it points at now (empty before the first build).
    """
    actions: list[dict] = []
    for kind in KINDS:
        alias = f"{prefix}-{kind}"
        for index in sorted(current.get(alias, ())):
            actions.append({"remove": {"index": index, "alias": alias}})
        actions.append({"add": {"index": f"{prefix}-{kind}-v{new_version}", "alias": alias}})
    return actions


def cosine(lucene_score: float) -> float:
    """Lucene's cosinesimil score `(1 + cos) / 2` back to the cosine itself."""
    return 2.0 * float(lucene_score) - 1.0


def snippet(fragment: str, escaped_full: str) -> str:
    """A highlighted fragment with `…` where it cuts the (escaped) full text, as FTS5 snippets do."""
    plain = fragment.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")
    full = escaped_full.strip()
    if plain == full:
        return fragment
    out = fragment
    if not full.startswith(plain):
        out = ELLIPSIS + out
    if not full.endswith(plain):
        out = out + ELLIPSIS
    return out


def _server_escaped(fragment: str) -> str:
    """Lucene's html encoder also writes `/` as `&#x2F;`; `html.escape` (our `search.text.escape`) does not.

    A literal `&#x2F;` in the text arrives as `&amp;#x2F;`, so this replacement is exact.
    """
    return fragment.replace("&#x2F;", "/")


def _sources(corpus: Corpus) -> tuple[tuple[str, Callable[[], Iterable], Callable], ...]:
    """Each kind with its documents in `corpus` and how they become an index's `_source`."""
    return (
        ("works", corpus.works, work_source),
        ("researchers", corpus.researchers, researcher_source),
        ("topics", corpus.topics, topic_source),
    )


# == the engine ===================================================================================


@dataclass
class _Version:
    number: int
    indices: dict[str, str]  # kind -> index name
    metas: dict[str, dict]  # kind -> mapping _meta

    @property
    def complete(self) -> bool:
        return len(self.indices) == len(KINDS) and all(self.metas.get(k, {}).get("complete") for k in KINDS)


def _reason(exc: Exception) -> str:
    """The most specific reason OpenSearch gave for a failed request."""
    info = getattr(exc, "info", None)
    if isinstance(info, dict):
        error = info.get("error")
        if isinstance(error, dict):
            causes = error.get("root_cause") or []
            for cause in [*causes, error.get("caused_by") or {}, error]:
                if isinstance(cause, dict) and cause.get("reason"):
                    return str(cause["reason"])[:300]
        if isinstance(error, str):
            return error[:300]
    error = getattr(exc, "error", None)
    return str(error or exc)[:300]


def node_urls(url: str) -> list[str]:
    """`DISCOVERY_OPENSEARCH_URL` names one node or several, comma-separated (the nodes of one cluster)."""
    return [part.strip() for part in url.split(",") if part.strip()]


def _safe_url(url: str) -> str:
    """The URL(s) without user:password, for messages and the status page."""
    safe = []
    for node in node_urls(url):
        parts = urlsplit(node)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        safe.append(urlunsplit((parts.scheme, host, parts.path, "", "")))
    return ",".join(safe)


class NoIndex(EngineUnavailable):
    """The aliases do not exist: nothing has been built under this prefix yet."""


def _retryable(exc: Exception) -> bool:
    """Connection errors, timeouts, 429 (too many requests) and 502-504 are worth another try."""
    from opensearchpy.exceptions import ConnectionError as OSConnectionError, TransportError

    if isinstance(exc, OSConnectionError):
        return True
    return isinstance(exc, TransportError) and exc.status_code in (429, 502, 503, 504)


class FastJSON:
    """The client's JSON (opensearch-py's `serializer`): orjson writes the float32 vectors of `unit_vector`
    and the dataclasses of `plain` directly, several times faster than `json`, which made serialising
    the bulk bodies a third of a build's Python time. Requests and answers mean the same JSON as before."""

    mimetype = "application/json"
    OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS

    def dumps(self, data: Any) -> str:
        if isinstance(data, str):
            return data  # already JSON, as opensearch-py's own serializer takes it
        try:
            return orjson.dumps(data, option=self.OPTIONS).decode()
        except TypeError as exc:  # orjson.JSONEncodeError
            from opensearchpy.exceptions import SerializationError

            raise SerializationError(data, exc) from exc

    def loads(self, s: str | bytes) -> Any:
        try:
            return orjson.loads(s)
        except ValueError as exc:  # orjson.JSONDecodeError
            from opensearchpy.exceptions import SerializationError

            raise SerializationError(s, exc) from exc


class OpenSearchEngine:
    name = "opensearch"

    def __init__(
        self, url: str, prefix: str = "discovery", timeout: float = DEFAULT_TIMEOUT, shards: int = 1, replicas: int = 0
    ):
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise ValueError("OpenSearch prefix must be lower-case letters, digits, '-', '_' or '.' (not first)")
        self.url = url
        self.prefix = prefix
        self.timeout = float(timeout)
        self.shards = int(shards)
        self.replicas = int(replicas)
        self._lock = threading.Lock()
        self._client = None

    # -- connection and errors ---------------------------------------------------------------

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self):
        from opensearchpy import OpenSearch

        return OpenSearch(
            hosts=node_urls(self.url),  # every node of a cluster: a stopped node is skipped on retry
            timeout=self.timeout,
            max_retries=0,  # retries are ours (`_call`): bounded, with backoff, translated errors
            retry_on_timeout=False,
            pool_maxsize=16,
            serializer=FastJSON(),
        )

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def alias(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def _index(self, kind: str) -> str:
        """Where a read goes: within `search.pin.one_version()`, the version live at the first read."""
        number = pinned(self, self._live_number)
        return self.alias(kind) if number is None else f"{self.prefix}-{kind}-v{number}"

    def _live_number(self) -> int | None:
        try:
            answer = self._call(self.client.indices.get_alias, name=self.alias("works"))
        except NotFound as exc:  # the alias is missing: nothing built yet
            raise NoIndex("no index has been built yet on OpenSearch (run `discovery index`)") from exc
        numbers = [int(m.group(1)) for index in answer if (m := re.fullmatch(rf"{re.escape(self.prefix)}-works-v(\d+)", index))]
        return max(numbers, default=None)

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        """One request with bounded retries; every failure becomes an interface error.

        Connection errors, timeouts, 429 and 502-504 are retried (RETRIES times, short backoff) and
        then raise `EngineUnavailable`; a missing alias (no build yet) is `EngineUnavailable`; a
        request OpenSearch rejects as malformed (400) is the user's `BadQuery`. All attempts and
        backoffs together stay within one timeout (`request_timeout` if given, else the engine's):
        each attempt gets only what is left of it, and no retry starts once it is spent.
        """
        budget = float(kwargs.pop("request_timeout", self.timeout))
        deadline = time.monotonic() + budget
        last: Exception | None = None
        for attempt in range(RETRIES + 1):
            if attempt:
                pause = BACKOFF[min(attempt - 1, len(BACKOFF) - 1)]
                if deadline - time.monotonic() <= pause + MIN_ATTEMPT_SECONDS:
                    break
                time.sleep(pause)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                return method(request_timeout=remaining, **kwargs)
            except Exception as exc:  # noqa: BLE001 - classified below; nothing raw reaches the caller
                if not _retryable(exc):
                    raise self._translate(exc) from exc
                last = exc
        if last is None:
            raise EngineUnavailable(f"OpenSearch at {_safe_url(self.url)} did not answer within {budget:g} s")
        raise self._translate(last) from last

    def _translate(self, exc: Exception) -> Exception:
        """The interface error for a client exception (non-client exceptions are returned as they are)."""
        from opensearchpy.exceptions import (
            ConnectionError as OSConnectionError,
            ConnectionTimeout,
            NotFoundError,
            RequestError,
            SerializationError,
            TransportError,
        )

        if isinstance(exc, ConnectionTimeout):
            return EngineUnavailable(f"OpenSearch at {_safe_url(self.url)} did not answer within {self.timeout:g} s")
        if isinstance(exc, OSConnectionError):
            return EngineUnavailable(f"OpenSearch at {_safe_url(self.url)} is unreachable")
        if isinstance(exc, NotFoundError):
            if "index_not_found" in str(exc.error) or "no such index" in _reason(exc):
                return NoIndex("no index has been built yet on OpenSearch (run `discovery index`)")
            return NotFound(_reason(exc))
        if isinstance(exc, RequestError):
            return BadQuery(f"OpenSearch rejected the query: {_reason(exc)}")
        if isinstance(exc, TransportError):
            return EngineUnavailable(f"OpenSearch cannot answer now ({exc.status_code}: {_reason(exc)})")
        if isinstance(exc, SerializationError):
            return EngineUnavailable(f"OpenSearch answered something unreadable: {exc}")
        return exc

    def _search(self, kind: str, body: dict) -> dict:
        """A search every shard answered. A shard copy on a node that is going down fails alone (the
        answer is partial): the search is sent again, to the remaining copies, within the timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            response = self._call(self.client.search, index=self._index(kind), body=body, request_timeout=max(left, MIN_ATTEMPT_SECONDS))
            shards = response.get("_shards") or {}
            if not shards.get("failed"):
                return response
            if deadline - time.monotonic() <= BACKOFF[0] + MIN_ATTEMPT_SECONDS:
                failures = shards.get("failures") or [{}]
                reason = (failures[0].get("reason") or {}).get("reason", "shard failure")
                raise EngineUnavailable(f"OpenSearch could not search every shard of {self.alias(kind)}: {reason}")
            time.sleep(BACKOFF[0])

    def _hits(self, kind: str, body: dict) -> list[dict]:
        return self._search(kind, body)["hits"]["hits"]

    def _ranked(self, kind: str, body: dict, convert: Callable[[float], float] = float) -> list[tuple[str, float]]:
        return [(hit["_id"], convert(hit["_score"] or 0.0)) for hit in self._hits(kind, body)]

    def _mget(self, kind: str, ids: Sequence[str], source: Sequence[str], leave: Sequence[str] = ()) -> dict[str, dict]:
        ids = list(dict.fromkeys(i for i in ids if isinstance(i, str) and i))
        found: dict[str, dict] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            response = self._call(self.client.mget, index=self._index(kind), body={"ids": chunk}, _source_includes=list(source),
                                  **({"_source_excludes": list(leave)} if leave else {}))
            for doc in response.get("docs", []):
                if doc.get("error"):  # e.g. a shard still recovering: "not found" would be a lie (503, not 404)
                    raise EngineUnavailable(f"OpenSearch cannot read {self.alias(kind)} now: {_item_reason(doc)}")
                if doc.get("found"):
                    found[doc["_id"]] = doc.get("_source") or {}
        return found

    # -- index versions ----------------------------------------------------------------------

    def _versions(self) -> tuple[dict[int, _Version], int | None, dict[str, list[str]]]:
        """Every versioned index of this prefix, the live version number, and what each alias points at."""
        patterns = ",".join(f"{self.prefix}-{kind}-v*" for kind in KINDS)
        response = self._call(self.client.indices.get, index=patterns, expand_wildcards="all", allow_no_indices=True)
        pattern = re.compile(rf"{re.escape(self.prefix)}-({'|'.join(KINDS)})-v(\d+)")
        versions: dict[int, _Version] = {}
        aliases: dict[str, list[str]] = {}
        for index, data in response.items():
            m = pattern.fullmatch(index)
            if not m:
                continue
            kind, number = m.group(1), int(m.group(2))
            version = versions.setdefault(number, _Version(number, {}, {}))
            version.indices[kind] = index
            version.metas[kind] = (data.get("mappings") or {}).get("_meta") or {}
            for alias in data.get("aliases") or {}:
                aliases.setdefault(alias, []).append(index)
        live_numbers = [int(m.group(2)) for i in aliases.get(self.alias("works"), []) if (m := pattern.fullmatch(i))]
        return versions, max(live_numbers, default=None), aliases

    def info(self) -> IndexInfo | None:
        try:
            response = self._call(self.client.indices.get_mapping, index=self.alias("works"))
        except NoIndex:
            return None
        data = next(iter(response.values()), {})  # the one index the alias points at
        meta = (data.get("mappings") or {}).get("_meta") or {}
        if not meta.get("complete"):
            return None
        return IndexInfo(
            engine="opensearch",
            version=int(meta["version"]),
            built_at=datetime.fromisoformat(meta["built_at"]),
            model=str(meta["model"]),
            counts=dict(meta["counts"]),
            meta={
                **(meta.get("meta") or {}),
                "dimension": meta.get("dimension"),
                "url": _safe_url(self.url),
                "indices": {kind: f"{self.prefix}-{kind}-v{meta['version']}" for kind in KINDS},
            },
        )

    def build(self, corpus: Corpus, progress: Progress | None = None) -> IndexInfo:
        """Build `v{n+1}` beside the live version, then move all three aliases in one `_aliases` call.

        Half-built versions left by a killed build are deleted first; if this build fails, its
        indices are deleted and the aliases still point at the version that was serving.
        """
        return self._new_version(
            corpus, lambda number, names, versions, live, heartbeat: self._write_version(number, names, corpus, progress, heartbeat)
        )

    def update(self, base: int, corpus: Corpus, changes: Changes, progress: Progress | None = None) -> IndexInfo:
        """Build `v{n+1}` as a `_clone` of version `base` (made read-only first; it keeps serving),
        write only the changed and removed documents into it, then refresh, force-merge (which also
        drops the replaced documents from BM25's statistics) and switch exactly as `build` does.
        When `base` is no longer the live, complete version, every document is written instead."""

        def write(number: int, names: dict[str, str], versions: dict[int, _Version], live: int | None,
                  heartbeat: Callable[[], None]) -> dict[str, int]:
            if live != base or base not in versions or not versions[base].complete:
                return self._write_version(number, names, corpus, progress, heartbeat)
            return self._apply_changes(versions[base], number, names, corpus, changes, progress, heartbeat)

        return self._new_version(corpus, write)

    def _new_version(self, corpus: Corpus, write: Callable[..., dict[str, int]]) -> IndexInfo:
        """Under the build lock: clear half-built versions, `write` the next one, record it complete,
        move the aliases, prune all but it and the previous one."""
        with self._build_lock() as heartbeat:
            versions, live, aliases = self._versions()
            for number, version in sorted(versions.items()):
                if number != live and not version.complete:
                    self._delete(version.indices.values())
            number = max([*versions, live or 0], default=0) + 1
            names = {kind: f"{self.prefix}-{kind}-v{number}" for kind in KINDS}
            try:
                counts = write(number, names, versions, live, heartbeat)
                record = {
                    "format": FORMAT,
                    "version": number,
                    "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "model": corpus.model,
                    "dimension": corpus.dimension,
                    "counts": counts,
                    "meta": json.loads(json.dumps(corpus.meta, default=str)),
                    "complete": True,
                }
                for kind, index in names.items():
                    self._call(self.client.indices.put_mapping, index=index, body={"_meta": {**record, "kind": kind}})
                current = {alias: indices for alias, indices in aliases.items() if alias in {self.alias(k) for k in KINDS}}
                self._call(
                    self.client.indices.update_aliases,
                    body={"actions": alias_actions(self.prefix, number, current)},
                    request_timeout=BUILD_TIMEOUT,
                )
            except BaseException:
                try:
                    # An alias switch that timed out on our side may still have happened: never
                    # delete the indices the aliases point at.
                    if self._versions()[1] != number:
                        self._delete(names.values())
                except Exception:  # noqa: BLE001 - the next build removes what is left
                    pass
                raise
            keep = {number, live}
            for other, version in versions.items():
                if other not in keep:
                    try:
                        self._delete(version.indices.values())
                    except EngineUnavailable:
                        pass  # pruned by the next build
        info = self.info()
        assert info is not None
        return info

    def rollback(self) -> IndexInfo:
        """Make the newest complete version older than the live one live again."""
        with self._build_lock():
            versions, live, aliases = self._versions()
            if live is None:
                raise NotFound("no index has been built yet")
            older = [n for n, v in versions.items() if n < live and v.complete]
            if not older:
                raise NotFound("no previous index version to roll back to")
            current = {alias: indices for alias, indices in aliases.items() if alias in {self.alias(k) for k in KINDS}}
            self._call(
                self.client.indices.update_aliases,
                body={"actions": alias_actions(self.prefix, max(older), current)},
                request_timeout=BUILD_TIMEOUT,
            )
        info = self.info()
        assert info is not None
        return info

    def drop(self) -> None:
        """Delete every index of this prefix (tests use a fresh prefix and drop it at the end)."""
        client = self._client or self._connect()
        try:
            patterns = ",".join([*(f"{self.prefix}-{kind}-v*" for kind in KINDS), f"{self.prefix}-meta"])
            found = self._call(client.indices.get, index=patterns, expand_wildcards="all", allow_no_indices=True, ignore_unavailable=True)
            names = sorted(found)
            for start in range(0, len(names), 20):
                self._call(client.indices.delete, index=",".join(names[start : start + 20]), ignore_unavailable=True)
        finally:
            if client is not self._client:
                client.close()

    def _delete(self, indices: Iterable[str]) -> None:
        names = sorted(indices)
        if names:
            self._call(self.client.indices.delete, index=",".join(names), ignore_unavailable=True, request_timeout=BUILD_TIMEOUT)

    def _write_version(
        self, number: int, names: dict[str, str], corpus: Corpus, progress: Progress | None, heartbeat: Callable[[], None]
    ) -> dict[str, int]:
        dimension = int(corpus.dimension)
        for kind, index in names.items():
            body = index_body(kind, dimension, {"version": number, "kind": kind, "complete": False})
            # Replicas are added after the force-merge: they copy finished segments instead of indexing twice.
            body["settings"]["index"].update(number_of_shards=self.shards, number_of_replicas=0)
            self._call(self.client.indices.create, index=index, body=body, request_timeout=BUILD_TIMEOUT)

        def actions(kind: str, docs: Iterable, to_source: Callable) -> Iterator[dict]:
            seen: set[str] = set()
            for doc in docs:
                if doc.id in seen:
                    raise ValueError(f"{kind[:-1]} {doc.id} appears twice in the corpus")
                seen.add(doc.id)
                yield {"_index": names[kind], "_id": doc.id, "_source": to_source(doc, dimension)}

        counts = {
            kind: self._bulk(kind, actions(kind, docs(), to_source), corpus.counts.get(kind, 0), progress, heartbeat)
            for kind, docs, to_source in _sources(corpus)
        }
        self._finish_version(names, progress, heartbeat)
        return counts

    def _apply_changes(
        self, base: _Version, number: int, names: dict[str, str], corpus: Corpus, changes: Changes,
        progress: Progress | None, heartbeat: Callable[[], None],
    ) -> dict[str, int]:
        """The new version's indices as clones of `base`'s, with `changes` written into them."""
        dimension = int(corpus.dimension)
        for kind, index in names.items():
            source = base.indices[kind]
            self._call(self.client.indices.put_settings, index=source, body={"index": {"blocks.write": True}},
                       request_timeout=BUILD_TIMEOUT)
            self._call(
                self.client.indices.clone, index=source, target=index, request_timeout=BUILD_TIMEOUT,
                body={"settings": {"index": {"blocks.write": None, "number_of_replicas": 0, "refresh_interval": "-1"}}},
            )
            # The clone carries `base`'s record: mark it unfinished at once, so a crash leaves it to be cleared.
            self._call(self.client.indices.put_mapping, index=index,
                       body={"_meta": {"version": number, "kind": kind, "complete": False}})

        def actions(kind: str, docs: Callable[[], Iterable], to_source: Callable) -> Iterator[dict]:
            wanted = changes.changed.get(kind, set())
            kept = changes.docs.get(kind, {})
            if wanted <= kept.keys():  # the indexer's
                made: Iterable = kept.values()
            elif corpus.make:  # the indexer's, and the rest made again by id
                made = [*kept.values(), *corpus.make(kind, wanted - kept.keys())]
            else:
                made = docs()
            for doc in made:
                if doc.id in wanted:
                    yield {"_index": names[kind], "_id": doc.id, "_source": to_source(doc, dimension)}
            for doc_id in sorted(changes.removed.get(kind, ())):
                yield {"_op_type": "delete", "_index": names[kind], "_id": doc_id}

        for kind, docs, to_source in _sources(corpus):
            total = len(changes.changed.get(kind, ())) + len(changes.removed.get(kind, ()))
            self._bulk(kind, actions(kind, docs, to_source), total, progress, heartbeat)
        self._finish_version(names, progress, heartbeat)
        return dict(corpus.counts)

    def _bulk(self, kind: str, actions: Iterator[dict], total: int, progress: Progress | None,
              heartbeat: Callable[[], None]) -> int:
        """Send `actions` in chunks through `streaming_bulk` (documents a busy cluster rejects with 429
        are sent again after a growing pause). A second thread makes and serialises the next chunk while
        this one waits for the node; one request at a time, since two in flight split the shard's
        new segments and doubled the force-merge's graph building."""
        from opensearchpy.helpers import BulkIndexError, expand_action, streaming_bulk

        dumps = self.client.transport.serializer.dumps

        def batches() -> Iterator[list[tuple[dict, str | None]]]:
            """(action, serialised source) pairs, BULK_CHUNK at a time: the maker thread's work."""
            while batch := list(itertools.islice(actions, BULK_CHUNK)):
                yield [(action, None if source is None else dumps(source))
                       for action, source in map(expand_action, batch)]

        with ThreadPoolExecutor(1, thread_name_prefix=f"bulk-{kind}") as maker:
            made = batches()
            pending = maker.submit(next, made, None)

            def ahead() -> Iterator[tuple[dict, str | None]]:
                nonlocal pending
                while (batch := pending.result()) is not None:
                    pending = maker.submit(next, made, None)  # made while this batch is sent
                    yield from batch

            done = 0
            try:
                for _ in streaming_bulk(
                    self.client,
                    ahead(),
                    chunk_size=BULK_CHUNK,
                    max_chunk_bytes=20 * 1024 * 1024,
                    expand_action_callback=lambda pair: pair,
                    raise_on_error=True,
                    max_retries=BULK_RETRIES,
                    initial_backoff=1,
                    max_backoff=30,
                    request_timeout=BUILD_TIMEOUT,
                ):
                    done += 1
                    if done % BULK_CHUNK == 0:
                        heartbeat()
                        if progress:
                            progress(f"index {kind}", done, max(total, done))
            except BulkIndexError as exc:
                first = exc.errors[0] if exc.errors else {}
                detail = next(iter(first.values()), {}) if isinstance(first, dict) else {}
                raise RuntimeError(f"OpenSearch refused {len(exc.errors)} {kind}: {json.dumps(detail)[:500]}") from exc
            except Exception as exc:
                translated = self._translate(exc)
                if translated is exc:
                    raise
                raise translated from exc
        if progress:
            progress(f"index {kind}", done, done)
        return done

    def _finish_version(self, names: dict[str, str], progress: Progress | None, heartbeat: Callable[[], None]) -> None:
        """Refresh, force-merge, add replicas and wait until the new indices are green."""
        if progress:
            progress("index text", 0, 1)
        indices = ",".join(names.values())
        self._call(self.client.indices.refresh, index=indices, request_timeout=BUILD_TIMEOUT)
        self._force_merge(indices, heartbeat)
        self._call(
            self.client.indices.put_settings,
            index=indices,
            body={"index": {"refresh_interval": None, "translog.durability": None, "number_of_replicas": self.replicas}},
            request_timeout=BUILD_TIMEOUT,
        )
        health = self._call(
            self.client.cluster.health,
            index=",".join(names.values()),
            wait_for_status="green",
            timeout=f"{int(BUILD_TIMEOUT)}s",
            request_timeout=BUILD_TIMEOUT + 5,
        )
        if health.get("timed_out") or health.get("status") == "red":
            raise EngineUnavailable(f"new indices did not become available (cluster status {health.get('status')})")
        if progress:
            progress("index text", 1, 1)

    def _force_merge(self, indices: str, heartbeat: Callable[[], None]) -> None:
        """Merge a finished version down to one segment per shard, so every search (BM25 and each HNSW
        graph) visits one segment instead of dozens. It runs as a task, polled while the build lock's
        heartbeat goes on: on a big index it outlasts any sensible request timeout and the lock's staleness."""
        task = self._call(
            self.client.indices.forcemerge, index=indices, max_num_segments=1, wait_for_completion=False,
            request_timeout=BUILD_TIMEOUT,
        )["task"]
        deadline = time.monotonic() + FORCE_MERGE_TIMEOUT
        while not self._call(self.client.tasks.get, task_id=task, request_timeout=BUILD_TIMEOUT).get("completed"):
            if time.monotonic() > deadline:
                raise EngineUnavailable(f"force-merging {indices} took over {FORCE_MERGE_TIMEOUT:g} s")
            heartbeat()
            time.sleep(FORCE_MERGE_POLL)

    # -- one build at a time --------------------------------------------------------------------

    def _build_lock(self):
        return _BuildLock(self)

    # -- works -------------------------------------------------------------------------------

    def keyword_works(self, text: str, filters: WorkFilters, limit: int) -> list[tuple[str, float]]:
        terms = T.query_terms(text or "")
        if not terms or limit <= 0:
            return []
        return self._ranked("works", keyword_works_body(terms, filters, limit))

    def browse_works(self, filters: WorkFilters, limit: int) -> list[str]:
        if limit <= 0:
            return []
        return [hit["_id"] for hit in self._hits("works", browse_works_body(filters, limit))]

    def vector_works(self, vector: Sequence[float], filters: WorkFilters, limit: int) -> list[tuple[str, float]]:
        query = _query_vector(vector)
        if query is None or limit <= 0:
            return []
        return self._ranked("works", vector_works_body(query, filters, limit), cosine)

    def keyword_and_vector_works(
        self, text: str, vector: Sequence[float], filters: WorkFilters, limit: int
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """`keyword_works` and `vector_works` in one `_msearch` round trip (not part of the interface)."""
        terms = T.query_terms(text or "")
        query = _query_vector(vector)
        if limit <= 0:
            return [], []
        bodies = []
        if terms:
            bodies.append(("keyword", keyword_works_body(terms, filters, limit), float))
        if query is not None:
            bodies.append(("vector", vector_works_body(query, filters, limit), cosine))
        out: dict[str, list[tuple[str, float]]] = {"keyword": [], "vector": []}
        if not bodies:
            return [], []
        lines: list[dict] = []
        for _, body, _ in bodies:
            lines += [{"index": self._index("works")}, body]
        response = self._call(self.client.msearch, body=lines)
        for (name, _, convert), answer in zip(bodies, response.get("responses", [])):
            if "error" in answer:
                _raise_item_error(answer)
            out[name] = [(hit["_id"], convert(hit["_score"] or 0.0)) for hit in answer["hits"]["hits"]]
        return out["keyword"], out["vector"]

    def work_facets(
        self, text: str | None, extra_ids: Sequence[str], filters: WorkFilters, all_works: bool = False
    ) -> tuple[int, dict[str, list[FacetValue]]]:
        terms = T.query_terms(text or "")
        response = self._search("works", work_facets_body(terms, extra_ids, filters, all_works))
        total = int(response["hits"]["total"]["value"])
        aggs = response.get("aggregations") or {}
        buckets = {name: (aggs.get(name) or {}).get("buckets", []) for name in ("year", "venue", "type", "topic")}
        facets = {
            "year": [FacetValue(str(b["key"]), str(b["key"]), int(b["doc_count"])) for b in buckets["year"]],
            "venue": [FacetValue(b["key"], b["key"], int(b["doc_count"])) for b in buckets["venue"] if b["key"]],
            "type": [FacetValue(b["key"], b["key"], int(b["doc_count"])) for b in buckets["type"] if b["key"]],
            "topic": [],
        }
        for b in buckets["topic"]:
            label, _, topic = b["key"].rpartition(_FACET_SEP)
            facets["topic"].append(FacetValue(topic, label, int(b["doc_count"])))
        return total, facets

    def highlight_works(self, text: str, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        terms = T.query_terms(text or "")
        ids = [i for i in dict.fromkeys(ids) if isinstance(i, str) and i]
        if not terms or not ids:
            return {}
        out: dict[str, dict[str, str]] = {}
        for hit in self._hits("works", highlight_body(terms, ids)):
            source, marked = hit.get("_source") or {}, hit.get("highlight") or {}
            titles = marked.get("title")
            found = {"title": _server_escaped(titles[0]) if titles else T.escape(source.get("title"))}
            abstracts = marked.get("abstract")
            if abstracts and MARK_OPEN in abstracts[0]:
                found["abstract"] = snippet(_server_escaped(abstracts[0]), T.escape(source.get("abstract")))
            out[hit["_id"]] = found
        return out

    def get_works(self, ids: Sequence[str]) -> list[WorkDoc]:
        docs = self._mget("works", ids, ["doc"])
        return [work_from_dict(docs[i]["doc"]) for i in ids if i in docs]

    def work_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        docs = self._mget("works", ids, ["vector"])
        return {i: docs[i]["vector"] for i in dict.fromkeys(ids) if i in docs and docs[i].get("vector")}

    def topic_works(self, topic_id: str, sort: Literal["recent", "cited"], limit: int) -> list[WorkDoc]:
        if limit <= 0:
            return []
        return [work_from_dict(hit["_source"]["doc"]) for hit in self._hits("works", topic_works_body(topic_id, sort, limit))]

    def works_per_year(self, topic_id: str) -> dict[int, int]:
        response = self._search("works", works_per_year_body(topic_id))
        buckets = ((response.get("aggregations") or {}).get("year") or {}).get("buckets", [])
        return {int(b["key"]): int(b["doc_count"]) for b in buckets}

    # -- researchers -------------------------------------------------------------------------

    def name_researchers(self, text: str, limit: int) -> list[tuple[str, float]]:
        """Exact name keys first (one term lookup, most works first); only a name no key knows pays
        for the fuzzy query, whose candidates are re-ranked by `name_similarity` like the embedded engine."""
        norm = T.normalize_name(text or "")
        if not norm or limit <= 0:
            return []
        exact = self._hits("researchers", exact_name_body(T.query_name_keys(text), limit))
        if exact:
            return [(hit["_id"], 1.0) for hit in exact]
        best: dict[str, float] = {}
        for hit in self._hits("researchers", name_researchers_body(norm)):
            doc = (hit.get("_source") or {}).get("doc") or {}
            names = [n for n in [doc.get("name"), *(doc.get("name_variants") or [])] if n]
            best[hit["_id"]] = max((T.name_similarity(norm, n) for n in names), default=0.0)
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def researcher_by_identifier(self, kind: str, value: str) -> str | None:
        canonical = T.normalize_identifier(kind, value)
        if canonical is None:
            return None
        hits = self._hits("researchers", identifier_body(kind, canonical))
        return hits[0]["_id"] if hits else None

    def vector_researchers(
        self,
        vector: Sequence[float],
        limit: int,
        exclude: Sequence[str] = (),
        active_since: int | None = None,
        institution: str | None = None,
    ) -> list[tuple[str, float]]:
        query = _query_vector(vector)
        if query is None or limit <= 0:
            return []
        body = vector_researchers_body(query, limit, exclude, active_since, institution)
        return self._ranked("researchers", body, cosine)

    def get_researchers(self, ids: Sequence[str]) -> list[ResearcherDoc]:
        docs = self._mget("researchers", ids, ["doc"], leave=["doc.coauthors"])  # read by researcher_coauthors
        return [researcher_from_dict(docs[i]["doc"]) for i in ids if i in docs]

    def researcher_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        docs = self._mget("researchers", ids, ["vector"])
        return {i: docs[i]["vector"] for i in dict.fromkeys(ids) if i in docs and docs[i].get("vector")}

    def researcher_cosines(self, vector: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
        if _query_vector(vector) is None:
            return {}
        query = np.asarray(vector, dtype=np.float32)  # as the embedded engine: as given, one row at a time
        found = {i: np.asarray(v, dtype=np.float32) for i, v in self.researcher_vectors(ids).items()}
        if any(v.shape != query.shape for v in found.values()):
            raise BadQuery(f"query vector has {len(query)} dimensions, the index {next(iter(found.values())).shape[0]}")
        return {i: float(v @ query) for i, v in found.items()}

    def researcher_coauthors(self, ids: Sequence[str]) -> dict[str, CoauthorList]:
        docs = self._mget("researchers", ids, ["doc.coauthors", "doc.large_works", "doc.coauthors_count"])
        stored = {i: doc.get("doc") or {} for i, doc in docs.items()}
        return {i: CoauthorList(d.get("coauthors") or {}, d.get("large_works") or [], d.get("coauthors_count") or 0)
                for i, d in stored.items()}

    def topic_researchers(self, topic_id: str, limit: int) -> list[tuple[str, int]]:
        if limit <= 0:
            return []
        response = self._search("works", topic_researchers_body(topic_id, limit))
        buckets = ((response.get("aggregations") or {}).get("researchers") or {}).get("buckets", [])
        return [(b["key"], int(b["doc_count"])) for b in buckets]

    # -- topics ------------------------------------------------------------------------------

    def keyword_topics(self, text: str, limit: int) -> list[tuple[str, float]]:
        terms = T.query_terms(text or "")
        if not terms or limit <= 0:
            return []
        return self._ranked("topics", keyword_topics_body(terms, limit))

    def vector_topics(self, vector: Sequence[float], limit: int) -> list[tuple[str, float]]:
        query = _query_vector(vector)
        if query is None or limit <= 0:
            return []
        return self._ranked("topics", knn_body(query, limit), cosine)

    def get_topics(self, ids: Sequence[str]) -> list[TopicDoc]:
        docs = self._mget("topics", ids, ["doc"])
        return [topic_from_dict(docs[i]["doc"]) for i in ids if i in docs]

    def topic_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        docs = self._mget("topics", ids, ["vector"])
        return {i: docs[i]["vector"] for i in dict.fromkeys(ids) if i in docs and docs[i].get("vector")}

    def word_suggestions(self, words: Sequence[str]) -> dict[str, tuple[str, int]]:
        words = [w for w in dict.fromkeys(words) if spellable(w)]
        if not words:
            return {}
        response = self._search("works", word_suggestions_body(words))
        own = response["aggregations"]["own"]["buckets"]
        out: dict[str, tuple[str, int]] = {}
        for i, word in enumerate(words):
            candidates: dict[str, int] = {}
            for field in SPELLING_FIELDS:
                for entry in response.get("suggest", {}).get(f"w{i}:{field}", []):
                    for option in entry.get("options", []):
                        candidates[option["text"]] = max(candidates.get(option["text"], 0), int(option["freq"]))
            best = best_suggestion(word, int(own[f"w{i}"]["doc_count"]), candidates.items())
            if best:
                out[word] = best
        return out


def _query_vector(vector: Sequence[float]) -> list[float] | None:
    """The query as a unit vector; BadQuery when not finite; None for a zero vector (it matches nothing).

    The dimension is checked by OpenSearch (a mismatch comes back as 400 -> BadQuery).
    """
    try:
        values = [float(x) for x in vector]
    except (TypeError, ValueError) as exc:
        raise BadQuery("query vector must be numbers") from exc
    if not values:
        raise BadQuery("query vector is empty")
    if not all(math.isfinite(x) for x in values):
        raise BadQuery("query vector is not finite")
    norm = math.sqrt(sum(x * x for x in values))
    if not norm:
        return None
    return [x / norm for x in values]


def _item_reason(answer: dict) -> str:
    """The first reason of one failed `_msearch` or `_mget` item."""
    error = answer.get("error") or {}
    causes = (error.get("root_cause") or [error]) if isinstance(error, dict) else []
    return next((c.get("reason") for c in causes if isinstance(c, dict) and c.get("reason")), str(error))[:300]


def _raise_item_error(answer: dict) -> None:
    """Raise the interface error for one failed `_msearch` item."""
    status = int(answer.get("status") or 500)
    reason = _item_reason(answer)
    if status == 400:
        raise BadQuery(f"OpenSearch rejected the query: {reason}")
    if status == 404:
        raise NoIndex("no index has been built yet on OpenSearch (run `discovery index`)")
    raise EngineUnavailable(f"OpenSearch error {status}: {reason}")


class _BuildLock:
    """One build (or rollback) at a time per prefix, across processes: a document created with
    `op_type=create` in `{prefix}-meta`. The holder refreshes its heartbeat while bulk-loading; a lock
    whose heartbeat is older than LOCK_STALE_SECONDS belongs to a killed process and is taken over."""

    DOC = "build-lock"

    def __init__(self, engine: OpenSearchEngine):
        self.engine = engine
        self.index = f"{engine.prefix}-meta"
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{time.time_ns()}"
        self._last_beat = 0.0

    def _body(self) -> dict:
        now = time.time()
        return {"owner": self.owner, "heartbeat": now, "started": now}

    def __enter__(self) -> Callable[[], None]:
        engine, client = self.engine, self.engine.client
        if not engine._call(client.indices.exists, index=self.index):
            created = engine._call(
                client.indices.create,
                index=self.index,
                body={
                    "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
                    "mappings": {"dynamic": False, "properties": {"owner": {"type": "keyword"}}},
                },
                ignore=[400],
            )
            if "error" in created and "already_exists" not in json.dumps(created["error"]):
                raise EngineUnavailable(f"cannot create {self.index}: {json.dumps(created['error'])[:300]}")
        for _ in range(3):
            # `create` conflicts are checked in real time: no refresh needed for the lock to hold
            answer = engine._call(client.create, index=self.index, id=self.DOC, body=self._body(), ignore=[409])
            if answer.get("result") == "created":
                self._last_beat = time.time()
                return self.beat
            held = engine._call(client.get, index=self.index, id=self.DOC, ignore=[404])
            if not held.get("found"):
                continue  # released meanwhile
            age = time.time() - float(held["_source"].get("heartbeat") or 0)
            if age < LOCK_STALE_SECONDS:
                raise EngineUnavailable(
                    f"another build of {engine.prefix} is running ({held['_source'].get('owner')}, "
                    f"last seen {age:.0f} s ago); try again when it finishes"
                )
            engine._call(  # a killed build's lock: remove exactly that one, then try again
                client.delete,
                index=self.index,
                id=self.DOC,
                if_seq_no=held["_seq_no"],
                if_primary_term=held["_primary_term"],
                ignore=[404, 409],
            )
        raise EngineUnavailable(f"could not take the build lock of {engine.prefix}; try again")

    def beat(self) -> None:
        """Refresh the heartbeat (at most every 15 s)."""
        if time.time() - self._last_beat < 15:
            return
        self._last_beat = time.time()
        self.engine._call(self.engine.client.update, index=self.index, id=self.DOC, body={"doc": {"heartbeat": time.time()}})

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.engine._call(self.engine.client.delete, index=self.index, id=self.DOC, ignore=[404])
        except Exception:  # noqa: BLE001 - a stale lock is taken over after LOCK_STALE_SECONDS
            pass
