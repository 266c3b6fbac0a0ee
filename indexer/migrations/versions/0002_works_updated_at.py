"""index works by updated_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Index lag (`works_updated_since`) and each build's catalog stamp (`MAX(updated_at)`) scanned every
work; at a million works that is a full table scan per status page.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_works_updated_at", "works", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_works_updated_at", table_name="works")
