"""One text analysis everywhere: `search.text.analyze` equals what the embedded engine's FTS5
tokenizer indexes and what the OpenSearch `english_folded` analyzer produces, token for token, on
hand-picked texts and on the real CISI abstracts."""

from __future__ import annotations

import os
import sqlite3

import pytest

from indexer.sources.cacm import read_smart
from search import opensearch as O
from search import text as T
from tests.support import SHARED_DATA

SAMPLES = [
    "Networks of neural networks: the network's generalization",
    "Schrödinger's cat, Saarbrücken and SAARBRUCKEN; naïve café",
    "Learning LEARNED learns learner — state-of-the-art (3.14) U.S.A. e-mail x_y",
    "Analogies of methodology, assemblies and flexibly irresistibly",
    "the of and AND OR NOT NEAR \"quoted\" * : -",
]


def _texts() -> list[str]:
    cisi = SHARED_DATA / "cisi" / "CISI.ALL"
    if not cisi.exists():
        return SAMPLES
    return SAMPLES + [f"{r.text('T')} {r.text('W')}" for r in list(read_smart(cisi))[:300]]


def fts5_terms(text: str) -> list[str]:
    """The terms the embedded engine indexes for `text`, in order, stopwords left out as queries do."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{T.FTS5_TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        db.execute("INSERT INTO t(rowid, x) VALUES (1, ?)", (text,))
        by_offset = dict(db.execute("SELECT offset, term FROM v"))
    finally:
        db.close()
    words = T.tokens(text)
    assert len(words) == len(by_offset), "tokens() splits text as unicode61 does"
    return [by_offset[i] for i, word in enumerate(words) if word not in T.STOPWORDS]


def test_stems_and_folding():
    assert T.analyze("Networks NETWORK network's") == ["network", "network", "network", "s"]
    assert T.analyze("Schrödinger") == T.analyze("schrodinger")
    assert T.query_terms("learning learned networks network the") == ["learning", "networks"]
    assert T.stem("methodology") == "methodolog"  # SQLite's and Lucene's Porter, not Snowball's


def test_analyze_equals_the_embedded_tokenizer():
    for text in _texts():
        assert T.analyze(text) == fts5_terms(text), text


def test_long_query_keeps_every_term_of_real_text():
    words = [f"w{i}x" for i in range(600)]
    assert T.query_terms(" ".join(words)) == words
    assert len(T.query_terms(" ".join(f"w{i}x" for i in range(5000)))) == T.MAX_TERMS


@pytest.mark.opensearch
def test_analyze_equals_the_opensearch_analyzer():
    url = os.environ.get("DISCOVERY_TEST_OPENSEARCH_URL")
    if not url:
        pytest.skip("DISCOVERY_TEST_OPENSEARCH_URL is not set")
    from opensearchpy import OpenSearch

    client = OpenSearch(url)
    analyzer = O.ANALYSIS["analyzer"]["english_folded"]
    tokenizer = O.ANALYSIS["tokenizer"][analyzer["tokenizer"]]
    filters = [O.ANALYSIS["filter"].get(f, f) for f in analyzer["filter"]]
    try:
        for text in _texts():
            answer = client.indices.analyze(body={"tokenizer": tokenizer, "filter": filters, "text": text})
            assert [t["token"] for t in answer["tokens"]] == T.analyze(text), text
    finally:
        client.close()


def test_name_keys_meet_a_query_typed_right_and_only_then():
    """A name and a correctly typed query share a key: any order, comma order, initials typed as
    initials, middle names left out; a full given name never matches by its initial."""
    ziyin, jordan = set(T.name_keys("Ziyin Liu")), set(T.name_keys("Michael I. Jordan"))
    for query in ["Liu Ziyin", "LIU, Ziyin", "Z. Liu", "Liu, Z."]:
        assert ziyin & set(T.query_name_keys(query)), query
    assert jordan & set(T.query_name_keys("Michael Jordan"))
    assert jordan & set(T.query_name_keys("M. I. Jordan"))
    assert not set(T.name_keys("Mary Jordan")) & set(T.query_name_keys("Michael Jordan"))
    assert not ziyin & set(T.query_name_keys("Ziyn Liu"))  # a typo is left to the fuzzy candidates
