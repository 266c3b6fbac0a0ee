"""Alembic environment of the catalog (works, runs, vector cache, identities, jobs, audit log).

`indexer.catalog.migrate` hands over an open connection, already holding the migration lock, in
`config.attributes["connection"]`; there is no other way in (the catalog is always a local SQLite file).
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)  # SQLite cannot ALTER most things
with context.begin_transaction():
    context.run_migrations()
