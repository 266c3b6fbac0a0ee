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


def test_stored_records_and_content_hashes_keep_their_format():
    """A work's record and content hash are its fields as sorted JSON, as `dataclasses.asdict` gives
    them (the format every stored catalog holds): the faster conversion must not change one byte, or an
    upgrade would see every work as changed and reindex all of them."""
    from dataclasses import asdict

    from indexer.catalog import content_hash, work_to_json
    from indexer.sources import read_records
    from models.records import short_hash

    works = [p.work for f in [*ALL, FIXTURES / "ml-venues.slice.jsonl.gz"] for p in read_records(f) if p.work is not None]
    assert len(works) > 100 and any(w.authorships and w.venue and w.topic_fields for w in works)
    for work in works:
        assert work_to_json(work) == json.dumps(asdict(work), ensure_ascii=False, sort_keys=True)
        assert content_hash(work) == short_hash(json.dumps(asdict(work), ensure_ascii=False, sort_keys=True), 20)
