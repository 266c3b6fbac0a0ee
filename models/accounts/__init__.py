"""Accounts: the database (SQLAlchemy tables, the engine and session helpers, the Alembic migrations
that ship inside this package) and the account rules beside it (`auth`: sign-up, log-in, sessions,
profile facts; `rate_limit`; `follows`; `claims`; `invitations`). The web app's routes call the
rules; the indexer reads the owners' choices.

    db = AccountsDB(settings.accounts_database_url); db.migrate()
    with db.session() as s: ...
    expertise_exclusions(settings.accounts_database_url)  # for the indexer
    pinned_works(settings.accounts_database_url)  # for "who knows about this?"
"""

from models.accounts.choices import AccountsUnavailable, expertise_exclusions, pinned_works
from models.accounts.db import AccountsDB, current_revision, make_engine, upgrade

__all__ = ["AccountsDB", "AccountsUnavailable", "current_revision", "expertise_exclusions", "make_engine", "pinned_works",
           "upgrade"]
