"""What the indexer reads from the accounts database: the owners' choices about their works.

`expertise_exclusions(url)` -> {researcher id: {work ids}}: works the owner of a claimed record
excluded from their expertise, plus works they flagged "not mine" (unless an admin dismissed the
flag). The indexer leaves them out of that researcher's vector and topics on every build, full or
incremental; the works stay on the record (and in search).

`pinned_works(url)` -> {researcher id: {work ids}}: works the owner pinned; "who knows about this?"
counts them a little more (`search.service.PIN_FACTOR`).

A database that does not exist yet, or was never migrated, holds no choices: {}. A database that
cannot be reached is an error, not an empty answer: a reindex must not silently drop choices.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import inspect, select
from sqlalchemy.exc import SQLAlchemyError

from models.accounts.db import is_sqlite, make_engine, sqlite_path
from models.accounts.tables import WorkChoice, WorkFlag


class AccountsUnavailable(RuntimeError):
    """The accounts database could not be read."""


def expertise_exclusions(url: str) -> dict[str, frozenset[str]]:
    return _guarded(url, _read)


def pinned_works(url: str) -> dict[str, frozenset[str]]:
    return _guarded(url, _read_pins)


def _guarded(url: str, read) -> dict[str, frozenset[str]]:
    """`read(url)`, with {} for a database not created yet and AccountsUnavailable for one unreachable."""
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is None or not path.exists():
            return {}
    try:
        return read(url)
    except SQLAlchemyError as exc:
        raise AccountsUnavailable(f"cannot read the owners' choices from the accounts database "
                                  f"({type(exc).__name__}: {str(exc.orig or exc).splitlines()[0][:200]})") from exc


def _read(url: str) -> dict[str, frozenset[str]]:
    engine = make_engine(url, create_dirs=False)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            if not {"work_choices", "work_flags"} <= tables:
                return {}
            out: dict[str, set[str]] = defaultdict(set)
            for rid, wid in connection.execute(
                select(WorkChoice.researcher_id, WorkChoice.work_id).where(WorkChoice.excluded.is_(True))
            ):
                out[rid].add(wid)
            for rid, wid in connection.execute(
                select(WorkFlag.researcher_id, WorkFlag.work_id).where(WorkFlag.status != "dismissed")
            ):
                out[rid].add(wid)
    finally:
        engine.dispose()
    return {rid: frozenset(wids) for rid, wids in out.items()}


def _read_pins(url: str) -> dict[str, frozenset[str]]:
    engine = make_engine(url, create_dirs=False)
    try:
        with engine.connect() as connection:
            if "work_choices" not in set(inspect(connection).get_table_names()):
                return {}
            out: dict[str, set[str]] = defaultdict(set)
            for rid, wid in connection.execute(
                select(WorkChoice.researcher_id, WorkChoice.work_id).where(WorkChoice.pinned.is_(True))
            ):
                out[rid].add(wid)
    finally:
        engine.dispose()
    return {rid: frozenset(wids) for rid, wids in out.items()}
