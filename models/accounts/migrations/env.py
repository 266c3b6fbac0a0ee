"""Alembic environment of the accounts database.

In the app, `models.accounts.db.upgrade` hands over an open connection (already holding the
migration lock) in `config.attributes["connection"]`. From the command line, the URL comes from
`-x url=...` or `sqlalchemy.url`.
"""

from __future__ import annotations

from alembic import context

from models.accounts.tables import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from models.accounts.db import make_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database URL: alembic -c .../alembic.ini -x url=... upgrade head")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: run against a database")
run_migrations_online()
