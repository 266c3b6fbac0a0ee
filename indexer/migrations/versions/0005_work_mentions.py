"""store each work's author mentions as identity made them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Identity resolution normalised every author name and affiliation of every work on every build, an
incremental one too. `work_mentions` keeps each work's mentions (`identity.mentions_to_json`) with
the content hash of the record and the stamp of the rules that made them (`identity.mention_stamp`):
a build reads the current ones and makes only those of new or changed works.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""CREATE TABLE work_mentions (work_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, stamp TEXT NOT NULL,
                  mentions TEXT NOT NULL)""")


def downgrade() -> None:
    op.drop_table("work_mentions")
