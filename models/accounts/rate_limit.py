"""The one rate limiter: sliding windows of events in the accounts database, shared by every app
instance on it (log-ins, sign-ups, invitations, the admin log-in).

`take(db, Limit(...), ...)` records one attempt in every bucket named, then counts each bucket's
window, in one transaction: so N concurrent attempts see N different counts and at most `limit` of
them pass. (Checking first and inserting after lets all N pass.) Concurrent takers of one key
queue on a lock: SQLite's write lock, which the insert takes; PostgreSQL's transaction-scoped
advisory lock on the key, taken before the insert. An attempt over a limit is not kept, so a
refused client's window ends on time however often it retries. `release` forgets attempts that
turned out fine (a correct password), so only failures count against a key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from models.accounts.tables import RateEvent, utcnow

EVENT_TTL = timedelta(days=2)  # events older than every window are deleted as new ones arrive


@dataclass(frozen=True)
class Limit:
    bucket: str  # what is counted, e.g. "login-account-ip"
    key: str  # whose attempts: an HMAC, never an email or an address in clear
    limit: int  # attempts allowed per window
    window: timedelta


class RateLimited(Exception):
    """Over a limit; `retry_after` seconds until the window lets one more attempt through."""

    def __init__(self, limit: Limit, retry_after: int):
        super().__init__(f"rate limited: {limit.bucket}")
        self.limit, self.retry_after = limit, retry_after


def _lock_key(limit: Limit) -> int:
    digest = hashlib.sha256(f"{limit.bucket}:{limit.key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def take(db: Session, *limits: Limit) -> list[int]:
    """Record one attempt under every limit and commit, or raise `RateLimited` having kept none.
    Returns the ids of the recorded events (for `release`). Call it with nothing pending in `db`."""
    db.commit()  # end any read snapshot first: SQLite cannot turn a stale one into a write
    now = utcnow()
    if db.get_bind().dialect.name == "postgresql":
        for key in sorted({_lock_key(limit) for limit in limits}):  # one order: no deadlock between keys
            db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    events = [RateEvent(bucket=limit.bucket, key=limit.key, at=now) for limit in limits]
    db.add_all(events)
    db.flush()  # the insert: on SQLite this takes the write lock, so the counts below are exclusive
    for limit in limits:
        count, oldest = db.execute(
            select(func.count(RateEvent.id), func.min(RateEvent.at)).where(
                RateEvent.bucket == limit.bucket, RateEvent.key == limit.key, RateEvent.at > now - limit.window)
        ).one()
        if count > limit.limit:
            db.rollback()
            wait = max(1, int(((oldest or now) + limit.window - now).total_seconds()) + 1)
            raise RateLimited(limit, wait)
    db.execute(delete(RateEvent).where(RateEvent.at < now - EVENT_TTL))
    db.commit()
    return [event.id for event in events]


def release(db: Session, event_ids: list[int]) -> None:
    """Forget these attempts (they succeeded); commits."""
    if event_ids:
        db.execute(delete(RateEvent).where(RateEvent.id.in_(event_ids)))
        db.commit()


def forget(db: Session, bucket: str, key: str) -> None:
    """Forget every attempt of one key (e.g. a successful log-in clears its earlier failures); commits."""
    db.execute(delete(RateEvent).where(RateEvent.bucket == bucket, RateEvent.key == key))
    db.commit()
