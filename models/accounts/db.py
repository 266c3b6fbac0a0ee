"""Connecting to the accounts database and bringing its schema up to date.

`AccountsDB(url)` opens a pooled SQLAlchemy engine (SQLite in the data directory by default, or
PostgreSQL, which several app instances can share). `migrate()` runs the Alembic migrations that
ship inside this package (`alembic.ini`, `migrations/`), so an installed wheel migrates with no
checkout around it. Two processes starting at once do not both migrate: PostgreSQL takes an
advisory lock inside the migration transaction, SQLite a file lock beside the database.

For a developer: `alembic -c models/accounts/alembic.ini -x url=sqlite:///x.sqlite upgrade head`
(or `revision -m "..."` for a new migration).
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

HERE = Path(__file__).resolve().parent
MIGRATIONS = HERE / "migrations"
ALEMBIC_INI = HERE / "alembic.ini"
_PG_LOCK_KEY = 0x44697363  # "Disc": the advisory lock id migrations take on PostgreSQL


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def make_engine(url: str, create_dirs: bool = True) -> Engine:
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None and create_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def alembic_config(url: str | None = None):
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run every migration up to `revision`, once, whoever else is starting at the same time."""
    from alembic import command

    config = alembic_config()
    url = engine.url.render_as_string(hide_password=False)
    if is_sqlite(url) and sqlite_path(url) is not None:
        lock = _file_lock(sqlite_path(url).with_name(sqlite_path(url).name + ".migrate-lock"))
    else:
        lock = _nullcontext()
    with lock, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def _nullcontext() -> Iterator[None]:
    yield


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class AccountsDB:
    """One engine and session factory per process; `migrate()` once at start-up."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        upgrade(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that rolls back whatever was not committed when the block ends."""
        with self.sessions() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()
