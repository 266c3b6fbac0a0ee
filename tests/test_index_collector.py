"""The cyclic garbage collector stays paused while an index is built (`indexer.heap`).

At 100k works, 24 automatic full collections took most of identity's CPU time: each walks every
object the build holds, and there are more of them the larger the corpus. These tests watch the
collector through `gc.callbacks` and never measure time."""

from __future__ import annotations

import gc
import threading

import pytest

from indexer import identity
from indexer.catalog import Catalog
from indexer.heap import collector_paused
from indexer.ingest import ingest
from indexer.pipeline import index
from indexer.sources import read_records
from search.embedded import EmbeddedEngine
from tests.support import FIXTURES

SLICE = FIXTURES / "openalex-old.slice.jsonl.gz"


@pytest.fixture
def collections():
    """The collections that start while the test runs, by generation."""
    seen: list[int] = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(watch)
    try:
        yield seen
    finally:
        gc.callbacks.remove(watch)


def test_identity_runs_no_automatic_collection_and_leaves_the_collector_on(collections, monkeypatch):
    works = [p.work for p in read_records(FIXTURES / "ml-venues.identity.jsonl.gz") if p.work is not None]
    assign_ids = identity._assign_ids
    by_the_last_step = []  # collections started by then: once the pause ends, one may start at once

    def last_step(*args, **kwargs):
        result = assign_ids(*args, **kwargs)
        by_the_last_step.extend(collections)
        return result

    monkeypatch.setattr(identity, "_assign_ids", last_step)
    assert gc.isenabled()
    gc.collect()  # from zero: the few allocations before the pause begins cannot start a collection
    collections.clear()
    resolution = identity.resolve(works, {})
    assert by_the_last_step == []
    assert gc.isenabled()
    assert len(resolution.links) > 1000  # enough allocations that an unpaused collector would have run


def test_an_index_build_runs_no_automatic_collection(collections, embedder, tmp_path):
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        ingest(catalog, [SLICE])
        engine = EmbeddedEngine(tmp_path / "index")
        gc.collect()
        collections.clear()
        seen_at_each_stage = []  # collections started by each progress report, up to the engine's last
        report = index(catalog, engine, embedder, progress=lambda *_: seen_at_each_stage.append(len(collections)))
    assert len(seen_at_each_stage) > 5 and set(seen_at_each_stage) == {0}
    assert gc.isenabled()
    assert report.works > 0 and report.researchers > 0


def test_pauses_nest_and_overlap_across_threads_and_restore_the_state_they_found():
    entered, release = threading.Event(), threading.Event()

    def build() -> None:
        with collector_paused():
            entered.set()
            release.wait(10)

    other = threading.Thread(target=build)
    with collector_paused():
        other.start()
        entered.wait(10)
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other build is still running
    release.set()
    other.join(10)
    assert gc.isenabled()

    gc.disable()  # a caller that turned the collector off keeps it off
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
