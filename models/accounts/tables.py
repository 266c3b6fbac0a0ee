"""The accounts tables (SQLAlchemy 2.x declarative). The schema itself is made by the Alembic
migrations in `migrations/versions/`; a test checks that they agree with these classes.

Ids of researchers and works are the index's ids (`r-...`, `W...`): they are stable across
rebuilds (the catalog remembers which mention belongs to which researcher), so follows, claims
and owner choices keep pointing at the same record after every reindex.

Emails are stored normalised (lower case) for logging in and nothing else: no page, API answer or
log line ever shows one. Passwords are stored only as argon2 hashes. Sessions are stored as the
SHA-256 of the random session id the (signed) cookie carries, never the id itself.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RESEARCHER_ID = 200
WORK_ID = 300

# Claim statuses. `pending`: waiting for an admin (level L2); `approved`: the account owns the
# record (L3); `rejected` by an admin; `withdrawn` by the claimant; `revoked`: an approved claim an
# admin replaced by another one.
PENDING, APPROVED, REJECTED, WITHDRAWN, REVOKED = "pending", "approved", "rejected", "withdrawn", "revoked"
CLAIM_STATUSES = (PENDING, APPROVED, REJECTED, WITHDRAWN, REVOKED)
INVITATION_STATUSES = ("pending", "accepted", "declined")
FLAG_STATUSES = ("open", "accepted", "dismissed")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (no time zones) and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use an aware UTC datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    """What pages and the API call an account by (never the row id, never the email)."""
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """argon2id; null for an account that only logs in through an external provider (`identities`)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Identity(Base):
    """An external login (OpenID Connect / OAuth, e.g. ORCID) linked to an account. Unused until a
    provider is configured; the password flow never touches it."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginSession(Base):
    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RateEvent(Base):
    """One counted event (a failed login, a signup) in a bucket, for sliding-window limits shared by
    every app instance on the database. Keys are HMACs, never an email or a password."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_bucket_key_at", "bucket", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Follow(Base):
    __tablename__ = "follows"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    researcher_id: Mapped[str] = mapped_column(String(RESEARCHER_ID), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_work_ids: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of the researcher's work ids when the follow began: the feed shows the others."""


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        # One account per researcher: at most one approved claim per record ...
        Index("uq_claims_approved_researcher", "researcher_id", unique=True,
              sqlite_where=text("status = 'approved'"), postgresql_where=text("status = 'approved'")),
        # ... and one open claim per account and record.
        Index("uq_claims_pending_user_researcher", "user_id", "researcher_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    researcher_id: Mapped[str] = mapped_column(String(RESEARCHER_ID), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    evidence: Mapped[str] = mapped_column(Text, default="")
    stated_orcid: Mapped[str | None] = mapped_column(String(19))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decision_note: Mapped[str | None] = mapped_column(Text)


class OwnerProfile(Base):
    """What the owner of a claimed record states about it."""

    __tablename__ = "owner_profiles"

    researcher_id: Mapped[str] = mapped_column(String(RESEARCHER_ID), primary_key=True)
    open_to_collaborate: Mapped[bool | None] = mapped_column(Boolean)
    set_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkChoice(Base):
    """The owner's choice about one of their works: pinned to the top, excluded from expertise."""

    __tablename__ = "work_choices"

    researcher_id: Mapped[str] = mapped_column(String(RESEARCHER_ID), primary_key=True)
    work_id: Mapped[str] = mapped_column(String(WORK_ID), primary_key=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    set_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkFlag(Base):
    """"Not mine": the owner says a work on their record belongs to someone else. An admin accepts
    or dismisses it; until dismissed, the work does not count in the owner's expertise."""

    __tablename__ = "work_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    researcher_id: Mapped[str] = mapped_column(String(RESEARCHER_ID), index=True)
    work_id: Mapped[str] = mapped_column(String(WORK_ID))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(120))


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_sender_created", "sender_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    researcher_id: Mapped[str] = mapped_column(String(RESEARCHER_ID))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reply: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Block(Base):
    __tablename__ = "blocks"

    blocker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    blocked_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
