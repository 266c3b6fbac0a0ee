"""remember how each mention was linked

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

An incremental reindex keeps the clusters of name blocks its changed works do not touch; their
links keep the method and confidence that made them, so `mention_researchers` stores both (NULL for
links stored before: such mentions are resolved again).
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE mention_researchers ADD COLUMN method TEXT")
    op.execute("ALTER TABLE mention_researchers ADD COLUMN confidence REAL")


def downgrade() -> None:
    with op.batch_alter_table("mention_researchers") as table:
        table.drop_column("confidence")
        table.drop_column("method")
