"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections import Counter
import uuid
from pathlib import Path
from typing import Callable

import pytest

from tests.support import FIXTURES, real_embedder

# -- search engines (search/) --------------------------------------------------------------------
#
# The contract suite (tests/test_search_contract.py) runs once per engine through the `engine`
# fixture: "embedded" always; "opensearch" when DISCOVERY_TEST_OPENSEARCH_URL names a node (skipped
# otherwise, but a failure under CI=true, so CI cannot silently lose the second engine). The corpus
# is real records (tests/fixtures/README.md) ingested and embedded by the indexer, built once per
# session and engine. Vectors come from the real model; they are cached by text hash under
# .pytest_cache so a local re-run does not embed again (CI starts without the cache).

CORPUS_FILES = (
    "ml-venues.slice.jsonl.gz",
    "seed-researcher.openalex.jsonl",
    "arxiv.slice.jsonl",
    "openalex-old.slice.jsonl.gz",
    "hostile.arxiv.jsonl",
)
ENGINES = ("embedded", pytest.param("opensearch", marks=pytest.mark.opensearch))


@pytest.fixture(scope="session")
def embedder():
    return real_embedder()


@pytest.fixture(scope="session")
def corpus(embedder, tmp_path_factory, request):
    """The fixture records through the real indexer: ingest, embed, resolve identities, topics."""
    from indexer.catalog import Catalog, text_hash
    from indexer.ingest import ingest
    from indexer.pipeline import build_corpus

    catalog = Catalog(tmp_path_factory.mktemp("catalog") / "catalog.sqlite")
    cache_dir = request.config.cache.mkdir("discovery-vectors") if getattr(request.config, "cache", None) else None
    cache = Catalog(Path(cache_dir or tmp_path_factory.mktemp("vectors")) / "vectors.sqlite")
    try:
        report = ingest(catalog, [FIXTURES / name for name in CORPUS_FILES])
        assert report.rejected == 0, report.rejections
        hashes = {text_hash(w.embedding_text()) for w in catalog.works()}
        catalog.store_vectors(embedder.cache_key, cache.cached_vectors(embedder.cache_key, hashes))
        built, _ = build_corpus(catalog, embedder)
        cache.store_vectors(embedder.cache_key, catalog.cached_vectors(embedder.cache_key, hashes))
    finally:
        catalog.close()
        cache.close()
    return built


def _opensearch_url() -> str:
    url = os.environ.get("DISCOVERY_TEST_OPENSEARCH_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but DISCOVERY_TEST_OPENSEARCH_URL is not set: the OpenSearch contract tests must run")
        pytest.skip("DISCOVERY_TEST_OPENSEARCH_URL is not set")
    return url


@pytest.fixture(scope="session")
def engine_factory(tmp_path_factory) -> Callable[[str], Callable[[], object]]:
    """`engine_factory(kind)` -> `new()`: each `new()` opens another engine object on one fresh store
    (a fresh index directory, or a fresh OpenSearch prefix), as a second server process would."""
    opened = []

    def store(kind: str) -> Callable[[], object]:
        if kind == "embedded":
            from search.embedded import EmbeddedEngine

            path = tmp_path_factory.mktemp("index")

            def new():
                engine = EmbeddedEngine(path)
                opened.append(engine)
                return engine

            return new
        if kind == "opensearch":
            url = _opensearch_url()
            from search.opensearch import OpenSearchEngine  # the OpenSearch issue adds it

            prefix = f"test-{uuid.uuid4().hex[:10]}"

            def new():
                engine = OpenSearchEngine(url=url, prefix=prefix)
                opened.append(engine)
                return engine

            return new
        raise ValueError(kind)

    yield store
    for engine in opened:
        engine.close()
        drop = getattr(engine, "drop", None)  # an engine with a remote store removes its test indexes
        if drop:
            drop()


@pytest.fixture(scope="session", params=ENGINES)
def engine(request, engine_factory, corpus):
    """A built engine over the fixture corpus, shared by every read-only contract test."""
    built = engine_factory(request.param)()
    built.build(corpus)
    return built


@pytest.fixture(scope="session")
def discovery(engine, embedder):
    from search.service import Discovery

    return Discovery(engine, embedder)


@pytest.fixture(params=ENGINES)
def new_engine(request, engine_factory):
    """A factory of engine objects over a fresh, empty store: for tests that build versions."""
    return engine_factory(request.param)


# -- a count of the tests that ran on the real services, printed at the end of every run ----------

_SERVICE_MARKERS = ("opensearch", "opensearch_cluster", "postgres", "browser")
_service_outcomes: dict[str, Counter] = {marker: Counter() for marker in _SERVICE_MARKERS}


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        for marker in _SERVICE_MARKERS:
            if marker in report.keywords:
                _service_outcomes[marker][report.outcome] += 1


def pytest_terminal_summary(terminalreporter):
    for marker, outcomes in _service_outcomes.items():
        if outcomes:
            counts = ", ".join(f"{outcomes[k]} {k}" for k in ("passed", "failed", "skipped") if outcomes[k])
            terminalreporter.write_line(f"tests on {marker.replace('_', ' ')}: {counts}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skip of a test on a service (OpenSearch, the cluster, PostgreSQL, the browser) is a
    failure: CI starts them all, so such a skip would hide a check that did not run. Skips for the
    judged sets in ../shared/data stay skips: they depend on where the checkout sits, not on CI."""
    outcome = yield
    report = outcome.get_result()
    needs_service = any(marker in item.keywords for marker in _SERVICE_MARKERS)
    if os.environ.get("CI") == "true" and needs_service and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"
