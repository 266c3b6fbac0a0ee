"""the catalog and jobs tables as release 0.1 created them

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27

Release 0.1 created these with `CREATE TABLE IF NOT EXISTS` and kept no version; the same statements
here make an empty file the 0.1 schema and leave a 0.1 data directory as it is, so both continue
from this revision.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = {
    "works": """CREATE TABLE IF NOT EXISTS works (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        source_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        record TEXT NOT NULL,
        file TEXT NOT NULL,
        line INTEGER NOT NULL,
        ingested_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "ingest_runs": """CREATE TABLE IF NOT EXISTS ingest_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        files TEXT NOT NULL,
        read INTEGER DEFAULT 0, added INTEGER DEFAULT 0, updated INTEGER DEFAULT 0,
        unchanged INTEGER DEFAULT 0, rejected INTEGER DEFAULT 0
    )""",
    "rejections": """CREATE TABLE IF NOT EXISTS rejections (
        run_id INTEGER NOT NULL REFERENCES ingest_runs(id),
        file TEXT NOT NULL,
        line INTEGER NOT NULL,
        reason TEXT NOT NULL
    )""",
    "vectors": """CREATE TABLE IF NOT EXISTS vectors (
        model TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model, content_hash)
    )""",
    "mention_researchers": """CREATE TABLE IF NOT EXISTS mention_researchers (
        mention TEXT PRIMARY KEY,
        researcher_id TEXT NOT NULL
    )""",
    "index_runs": """CREATE TABLE IF NOT EXISTS index_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        works INTEGER, embedded INTEGER, researchers INTEGER, topics INTEGER,
        max_work_updated_at TEXT
    )""",
    "jobs": """CREATE TABLE IF NOT EXISTS jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        args TEXT NOT NULL,
        actor TEXT NOT NULL,
        status TEXT NOT NULL,
        pid INTEGER,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        progress TEXT NOT NULL DEFAULT '{}',
        result TEXT,
        error TEXT
    )""",
    "audit_log": """CREATE TABLE IF NOT EXISTS audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        outcome TEXT NOT NULL
    )""",
}


def upgrade() -> None:
    for statement in TABLES.values():
        op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
