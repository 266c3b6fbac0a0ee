"""what an incremental reindex needs to know about the last build

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

* `work_removals`: works taken out of the catalog, with when (a removal leaves no `updated_at`).
* `work_topic_refs`, `topic_origins`: the topic assignment of the last build, the topic model
  new works are assigned from without re-clustering.
* `doc_hashes`: one hash per document of the version an engine last built, so the next build
  writes only the documents that differ; `indexed_versions` says which version that is.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


TABLES = (
    "CREATE TABLE work_removals (id TEXT PRIMARY KEY, removed_at TEXT NOT NULL)",
    "CREATE INDEX ix_work_removals_removed_at ON work_removals (removed_at)",
    "CREATE TABLE work_topic_refs (work_id TEXT PRIMARY KEY, refs TEXT NOT NULL)",
    "CREATE TABLE topic_origins (topic_id TEXT PRIMARY KEY, origin TEXT NOT NULL)",
    """CREATE TABLE doc_hashes (engine TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, hash TEXT NOT NULL,
        PRIMARY KEY (engine, kind, id)) WITHOUT ROWID""",
    "CREATE TABLE indexed_versions (engine TEXT PRIMARY KEY, version INTEGER NOT NULL)",
)


def upgrade() -> None:
    for statement in TABLES:
        op.execute(statement)


def downgrade() -> None:
    for table in ("indexed_versions", "doc_hashes", "topic_origins", "work_topic_refs", "work_removals"):
        op.drop_table(table)
