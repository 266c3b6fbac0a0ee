"""The catalog's schema is versioned (Alembic, `indexer/migrations`): a data directory made by the
previous release upgrades in place, keeping its works, vector cache, identities, jobs and audit log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support import FIXTURES

PREVIOUS_RELEASE = FIXTURES / "catalog-0.1.sql"
"""`iterdump()` of a catalog written by release 0.1 (main before versioned migrations): the nine seed
works and five rejections ingested, one finished reindex job, one audit entry, one cached vector."""


def _restore(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(PREVIOUS_RELEASE.read_text())
    db.close()


def _schema(path: Path) -> tuple[str | None, set[str]]:
    db = sqlite3.connect(path)
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
        version = db.execute("SELECT version_num FROM alembic_version").fetchone() if "alembic_version" in tables else None
        return (version[0] if version else None), tables
    finally:
        db.close()


def test_a_previous_release_catalog_upgrades_in_place(tmp_path):
    from indexer.catalog import Catalog
    from indexer.ingest import ingest
    from indexer.jobs import JobStore

    path = tmp_path / "catalog.sqlite"
    _restore(path)
    assert _schema(path)[0] is None  # release 0.1 kept no schema version

    with Catalog(path) as catalog:
        stats = catalog.stats()
        jobs = JobStore(catalog, tmp_path)
        assert stats["works"] == 9 and stats["rejected_lines"] == 5 and stats["cached_vectors"] == 1
        assert catalog.mention_researchers() == {"liu ziyin|seed": "r-1234567890"}
        assert [(j.kind, j.status) for j in jobs.recent(10)] == [("reindex", "succeeded")]
        assert len({w.id for w in catalog.works()}) == 9
        again = ingest(catalog, [FIXTURES / "seed-researcher.openalex.jsonl"])
        # the same nine works, matched by id (records gained fields since 0.1, so their content hashes moved)
        assert again.added == 0 and again.unchanged + again.updated == 9

    version, tables = _schema(path)
    assert version == "0005"
    assert {"ix_works_updated_at", "work_mentions"} <= tables


def test_a_new_catalog_starts_at_the_newest_schema(tmp_path):
    from indexer.catalog import Catalog
    from indexer.jobs import JobStore

    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        JobStore(catalog, tmp_path).create("ingest", {"argv": []}, "admin")
    version, tables = _schema(path)
    assert version == "0005"
    assert {"works", "vectors", "jobs", "audit_log", "ix_works_updated_at", "work_mentions"} <= tables
