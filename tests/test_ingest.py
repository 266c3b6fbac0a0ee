"""Ingest into the real SQLite catalog: exact counts, idempotence, in-place updates, crash safety."""

import json
from pathlib import Path

import pytest

from indexer import ingest as ingest_module
from indexer.catalog import Catalog
from indexer.ingest import ingest

FIXTURES = Path(__file__).parent / "fixtures"
ALL = [FIXTURES / n for n in ("seed-researcher.openalex.jsonl", "openalex-old.slice.jsonl.gz", "arxiv.slice.jsonl", "malformed.openalex.jsonl")]


@pytest.fixture
def catalog(tmp_path):
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        yield catalog


def test_counts_add_up_and_rejections_are_listed(catalog):
    report = ingest(catalog, ALL)
    assert report.adds_up()
    assert report.rejected == 5 and len(report.rejections) == 5
    assert all(str(r).startswith(str(FIXTURES / "malformed.openalex.jsonl") + ":") for r in report.rejections)
    # the malformed file repeats two seed works: the second sight of each is unchanged
    assert report.unchanged == 2
    assert catalog.count_works() == report.added


def test_reingest_changes_nothing(catalog):
    first = ingest(catalog, ALL)
    second = ingest(catalog, ALL)
    assert second.added == second.updated == 0
    assert second.unchanged == first.added + first.unchanged and second.adds_up()


def test_changed_record_updates_in_place(catalog, tmp_path):
    ingest(catalog, [FIXTURES / "seed-researcher.openalex.jsonl"])
    records = [json.loads(line) for line in (FIXTURES / "seed-researcher.openalex.jsonl").read_text().splitlines()]
    records[0]["cited_by_count"] = 42
    changed = tmp_path / "changed.jsonl"
    changed.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    report = ingest(catalog, [changed])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 8)
    assert catalog.count_works() == 9
    assert catalog.work("seed-liu-ziyin-exact-phase-transitions-in-deep-learning").cited_by_count == 42


def test_crash_mid_file_keeps_whole_batches_and_rerun_completes(catalog, monkeypatch):
    monkeypatch.setattr(ingest_module, "BATCH", 3)
    calls = {"n": 0}
    original = catalog.upsert_works

    def crash_on_third_batch(rows):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        original(rows)

    monkeypatch.setattr(catalog, "upsert_works", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        ingest(catalog, [FIXTURES / "seed-researcher.openalex.jsonl"])
    assert catalog.count_works() == 6  # two whole batches, nothing half-written
    monkeypatch.setattr(catalog, "upsert_works", original)
    report = ingest(catalog, [FIXTURES / "seed-researcher.openalex.jsonl"])
    assert (report.added, report.unchanged) == (3, 6) and catalog.count_works() == 9
