"""Accounts storage, shared by the web app (which reads and writes it) and the indexer (which
reads the owners' choices): SQLAlchemy tables, the engine and session helpers, the Alembic
migrations that ship inside this package, and the one query the indexer needs.

    db = AccountsDB(settings.accounts_database_url); db.migrate()
    with db.session() as s: ...
    expertise_exclusions(settings.accounts_database_url)  # for the indexer
"""

from models.accounts.choices import AccountsUnavailable, expertise_exclusions
from models.accounts.db import AccountsDB, current_revision, make_engine, upgrade

__all__ = ["AccountsDB", "AccountsUnavailable", "current_revision", "expertise_exclusions", "make_engine", "upgrade"]
