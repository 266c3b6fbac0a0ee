"""Hardening under concurrency and bad data (issue 11): each test here failed before its fix.

Real parts throughout: the real embedding model, real SQLite, the real OpenSearch node where the
point concerns it, and the app served by uvicorn over HTTP.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support import real_embedder


# -- 1. concurrent embedding ------------------------------------------------------------------------


def test_32_concurrent_distinct_semantic_queries_all_answer(corpus, engine_factory, tmp_path):
    """Fast tokenizers raise "Already borrowed" when two threads share one: the query model is serialised."""
    from models.settings import Settings
    from search.service import Discovery
    from tests.web_fixtures import serving
    from web.app import create_app

    engine = engine_factory("embedded")()
    engine.build(corpus)
    service = Discovery(engine, real_embedder())  # a fresh query cache: every query runs the model
    app = create_app(Settings(data_dir=tmp_path, engine="embedded"), service)
    queries = [f"{topic} {n}" for n, topic in enumerate(
        ["stochastic gradient noise", "neural network loss landscape", "symmetry in deep learning",
         "information retrieval evaluation", "graph neural networks", "language model pretraining",
         "reinforcement learning exploration", "bayesian inference"] * 4)]
    assert len(set(queries)) == 32
    with serving(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        def ask(q: str) -> int:
            return client.get("/api/search", params={"q": q, "mode": "semantic"}).status_code

        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(ask, queries))
    assert statuses == [200] * 32


# -- 3. one index version per request ---------------------------------------------------------------


def _switch(engine, number: int) -> None:
    """Make version `number` live the way a build or rollback does (CURRENT / one `_aliases` call)."""
    if engine.name == "embedded":
        engine._switch(f"v{number}")
        return
    from search.opensearch import alias_actions

    _, _, aliases = engine._versions()
    engine._call(engine.client.indices.update_aliases, body={"actions": alias_actions(engine.prefix, number, aliases)})


def test_a_request_never_mixes_two_index_versions(new_engine, corpus, embedder, tmp_path):
    """Switching the live version in a loop while searching: every answer is one version's answer."""
    import threading
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from models.settings import Settings
    from search.service import Discovery
    from web.app import create_app

    engine = new_engine()
    engine.build(corpus)  # v1: every work
    half = [w for i, w in enumerate(corpus.works()) if i % 2]
    engine.build(replace(corpus, works=lambda: iter(half), counts={**corpus.counts, "works": len(half)}))  # v2
    app = create_app(Settings(data_dir=tmp_path, engine="embedded"), Discovery(engine, embedder))
    params = {"q": "learning", "mode": "keyword", "per_page": 20}

    def answer(client: TestClient) -> tuple[int, tuple[str, ...]]:
        response = client.get("/api/search", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        return body["total"], tuple(hit["id"] for hit in body["hits"])

    with TestClient(app) as client:
        expected = set()
        for number in (1, 2):
            _switch(engine, number)
            expected.add(answer(client))
        assert len(expected) == 2  # the versions answer differently, so a mix would show

        stop = threading.Event()

        def flip() -> None:
            number = 1
            while not stop.is_set():
                number = 3 - number
                _switch(engine, number)

        flipper = threading.Thread(target=flip)
        flipper.start()
        try:
            answers = [answer(client) for _ in range(150)]
        finally:
            stop.set()
            flipper.join()
    mixed = [a for a in answers if a not in expected]
    assert not mixed, f"{len(mixed)} of {len(answers)} answers mixed two versions, e.g. {mixed[0]}"


# -- 12. 503, not 404, while OpenSearch recovers ----------------------------------------------------


@pytest.mark.opensearch
def test_profile_is_503_with_retry_after_while_its_shard_is_unassigned(engine_factory, corpus, embedder, tmp_path):
    """A red index (its primary unassigned, as during recovery) is 'try later', never 'no such researcher'."""
    from fastapi.testclient import TestClient

    from models.settings import Settings
    from search.service import Discovery
    from web.app import create_app

    engine = engine_factory("opensearch")()
    info = engine.build(corpus)
    researcher = next(iter(corpus.researchers())).id
    app = create_app(Settings(data_dir=tmp_path, engine="opensearch"), Discovery(engine, embedder))
    index = info.meta["indices"]["researchers"]
    with TestClient(app) as client:
        assert client.get(f"/api/researchers/{researcher}").status_code == 200
        indices = engine.client.indices  # the live researchers index, recreated with its shard unassignable
        indices.delete(index=index)
        indices.create(index=index, body={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0,
                         "index.routing.allocation.require._name": "no-such-node"},
            "aliases": {engine.alias("researchers"): {}},
        }, wait_for_active_shards="0")
        try:
            assert engine.client.cluster.health(index=index)["status"] == "red"
            for path in (f"/api/researchers/{researcher}", f"/researchers/{researcher}"):
                response = client.get(path)
                assert response.status_code == 503, (path, response.status_code, response.text[:300])
                assert int(response.headers["Retry-After"]) > 0
            # works still answer; the people panel that needs the red index is left empty
            works = client.get("/api/search", params={"q": "learning", "mode": "keyword"})
            assert works.status_code == 200 and works.json()["hits"] and works.json()["people"] == []
        finally:
            indices.delete(index=index)  # red indices should not outlive the test on a shared node


# -- 10. bad records never poison a build -----------------------------------------------------------


def _record(work_id: str, **fields) -> bytes:
    import json

    record = {"id": f"https://openalex.org/{work_id}", "title": f"A study of gradient noise {work_id}",
              "publication_year": 2020, "type": "article", "authorships": [], **fields}
    return json.dumps(record).encode() + b"\n"


def test_ingest_rejects_bad_fields_duplicates_and_invalid_utf8_with_file_and_line(tmp_path):
    from indexer.catalog import Catalog
    from indexer.ingest import ingest

    path = tmp_path / "works.jsonl"
    path.write_bytes(
        _record("W1")
        + _record("W2", type={"a": 1})  # line 2: the record that broke every later build
        + _record("W3", title="x" * 1_000_000)  # line 3: a 1 MB title
        + _record("W1", title="the same id again")  # line 4
        + _record("W5")[:-3] + b"\xff\xfe\"}\n"  # line 5: invalid UTF-8
        + b'{"id": "W6", "title": "unterminated\n'  # line 6
        + _record("W7")
    )
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        report = ingest(catalog, [path])
        stored = {w.id for w in catalog.works()}
    reasons = {r.line: (r.file, r.reason) for r in report.rejections}
    assert report.counts() == {"read": 7, "added": 2, "updated": 0, "unchanged": 0, "rejected": 5}
    assert stored == {"W1", "W7"}
    assert set(reasons) == {2, 3, 4, 5, 6} and all(file == str(path) for file, _ in reasons.values())
    assert reasons[2][1] == "type must be text, not dict"
    assert reasons[3][1] == "title is 1,000,000 characters long (at most 2,000)"
    assert reasons[4][1] == "duplicate id W1 (first on line 1); this line is ignored"
    assert reasons[5][1].startswith("invalid UTF-8 at byte")
    assert reasons[6][1] == "invalid JSON: Invalid control character at (column 36)"  # not "at at column"


def test_a_build_skips_and_reports_a_stored_record_it_cannot_index(tmp_path, embedder):
    """A record stored before validation existed (here written straight into the catalog) is left
    out of the build and reported; every other work is indexed and the version goes live."""
    from dataclasses import replace

    from indexer.catalog import Catalog, content_hash
    from indexer.ingest import ingest
    from indexer.pipeline import index
    from search.embedded import EmbeddedEngine
    from tests.support import FIXTURES

    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        ingest(catalog, [FIXTURES / "seed-researcher.openalex.jsonl"])
        good = next(catalog.works())
        bad = replace(good, id="W-bad", source_id="W-bad", type={"a": 1})
        catalog.upsert_works([(bad, content_hash(bad), "old.jsonl", 1)])
        engine = EmbeddedEngine(tmp_path / "index")
        try:
            report = index(catalog, engine, embedder)
            assert report.skipped == [("W-bad", "type must be text, not dict")]
            assert report.info is not None and report.info.counts["works"] == catalog.count_works() - 1
            assert engine.get_works([good.id])[0].id == good.id
        finally:
            engine.close()


# -- 15. small ones ---------------------------------------------------------------------------------


def test_status_index_lag_counts_from_the_live_version_after_a_rollback(tmp_path, embedder):
    """Rolled back to a version built before the last ingest: those works are not indexed (lag 3)."""
    from indexer.catalog import Catalog
    from indexer.ingest import ingest
    from indexer.pipeline import index
    from indexer.status import status
    from models.settings import Settings
    from search.engines import open_engine
    from tests.support import FIXTURES

    settings = Settings(data_dir=tmp_path, engine="embedded")
    later = tmp_path / "later.jsonl"
    later.write_bytes(b"".join(_record(f"W{n}") for n in (101, 102, 103)))
    engine = open_engine(settings)
    try:
        with Catalog(settings.catalog_path) as catalog:
            ingest(catalog, [FIXTURES / "seed-researcher.openalex.jsonl"])
            index(catalog, engine, embedder)
            ingest(catalog, [later])
            index(catalog, engine, embedder)
            assert status(settings)["index_lag"] == 0
            engine.rollback()
    finally:
        engine.close()
    data = status(settings)
    assert data["live"]["version"] == 1
    assert data["index_lag"] == 3


def test_opensearch_node_script_reads_its_start_timeout():
    """`scripts/opensearch-node.sh start` waits DISCOVERY_OPENSEARCH_START_TIMEOUT seconds; a bad value stops it early."""
    import os
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "opensearch-node.sh"
    env = {**os.environ, "DISCOVERY_OPENSEARCH_START_TIMEOUT": "three minutes"}
    done = subprocess.run(["bash", str(script), "status"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "DISCOVERY_OPENSEARCH_START_TIMEOUT must be whole seconds" in done.stderr


# -- 14. serving more than one request's worth of CPU -----------------------------------------------


def test_a_query_to_an_engine_that_is_down_does_not_run_the_model():
    from models.embedding import Embedder
    from search.interface import EngineUnavailable
    from search.opensearch import OpenSearchEngine
    from search.service import Discovery
    from tests.web_fixtures import free_port

    embedder = Embedder()  # not loaded yet
    engine = OpenSearchEngine(f"http://127.0.0.1:{free_port()}", prefix="nothing-listens", timeout=2)
    try:
        with pytest.raises(EngineUnavailable):
            Discovery(engine, embedder).search_works("gradient noise", mode="semantic")
    finally:
        engine.close()
    assert embedder._model is None


def test_the_app_loads_the_model_at_start_up(tmp_path):
    from fastapi.testclient import TestClient

    from models.settings import Settings
    from web.app import create_app

    app = create_app(Settings(data_dir=tmp_path, engine="embedded"))
    with TestClient(app):
        assert app.state.service.embedder._model is not None  # before any query asked for it


def test_serve_with_two_workers_answers_from_both_processes(tmp_path, embedder):
    """`discovery serve --workers 2`: two processes over one data directory, each with its own model."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from indexer.catalog import Catalog
    from indexer.ingest import ingest
    from indexer.pipeline import index
    from models.settings import Settings
    from search.engines import open_engine
    from tests.support import FIXTURES
    from tests.web_fixtures import free_port

    settings = Settings(data_dir=tmp_path / "data", engine="embedded")
    engine = open_engine(settings)
    with Catalog(settings.catalog_path) as catalog:
        ingest(catalog, [FIXTURES / "seed-researcher.openalex.jsonl"])
        index(catalog, engine, embedder)
    engine.close()
    port = free_port()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "DISCOVERY_DATA_DIR": str(settings.data_dir), "DISCOVERY_ENGINE": "embedded",
           "PYTHONPATH": str(root), "DISCOVERY_EMBEDDING_THREADS": "1"}
    server = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--workers", "2", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        answers: set[int] = set()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(600):  # start-up loads the model in both workers; a bounded wait, not a timing assertion
                if server.poll() is not None:
                    break
                try:
                    response = client.get("/api/search", params={"q": "phase transitions", "mode": "hybrid"})
                except httpx.TransportError:
                    time.sleep(0.5)
                    continue
                assert response.status_code == 200, response.text
                answers.add(len(response.json()["hits"]))
                children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
                workers = [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
                if len(workers) >= 2 and len(answers) == 1:
                    break
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        assert answers and min(answers) > 0
        assert len(workers) >= 2
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_load_benchmark_is_bounded_and_reports_percentiles(corpus, engine_factory, embedder, tmp_path):
    from bench.load import run
    from models.settings import Settings
    from search.service import Discovery
    from tests.web_fixtures import serving
    from web.app import create_app

    with pytest.raises(SystemExit, match="only loopback"):
        run("http://example.org", requests=1, seconds=1, levels=(1,))
    engine = engine_factory("embedded")()
    engine.build(corpus)
    app = create_app(Settings(data_dir=tmp_path, engine="embedded"), Discovery(engine, embedder))
    with serving(app) as url:
        result = run(url, requests=12, seconds=120, levels=(1, 4))
    assert [row["clients"] for row in result["levels"]] == [1, 4]
    for row in result["levels"]:
        assert row["requests"] == 12  # the bound holds however many clients send
        assert set(row["statuses"]) == {"200", "404"}  # the mix's unknown route is the only 404
        assert row["throughput"] > 0 and row["all"]["p50"] <= row["all"]["p95"] <= row["all"]["p99"]
        assert {"hybrid", "keyword", "semantic", "page", "people", "not-found"} <= set(row["by_kind"])
