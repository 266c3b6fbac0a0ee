"""Follow a researcher; the "following" page; the feed of their new works (`/me/feed`).

A follow remembers which works the researcher had when it began. The feed lists every work of a
followed researcher that the live index holds and that list did not: so after an ingest and a
reindex, their new works appear, newest first, with nothing to run in between. Reading the feed
changes nothing.
"""

from __future__ import annotations

import json

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts.auth import AccountError, Viewer, iso, owner_of
from models.accounts.claims import Records, researcher_doc
from models.accounts.tables import Follow

FEED_LIMIT = 100
LATEST_WORKS = 3


def followers(db: Session, researcher_id: str) -> int:
    return db.scalar(select(func.count()).select_from(Follow).where(Follow.researcher_id == researcher_id)) or 0


def follow(db: Session, records: Records, v: Viewer, researcher_id: str) -> dict:
    """Idempotent: following twice is one follow. Nobody follows their own record."""
    doc = researcher_doc(records, researcher_id)
    owner = owner_of(db, doc.id)
    if owner is not None and owner.user_id == v.user.id:
        raise AccountError(400, "this is your own record: you cannot follow it")
    if db.get(Follow, (v.user.id, doc.id)) is None:
        db.add(Follow(user_id=v.user.id, researcher_id=doc.id, seen_work_ids=json.dumps(list(doc.work_ids))))
        try:
            db.commit()
        except IntegrityError:  # the same follow from another request, just now
            db.rollback()
    return {"researcher_id": doc.id, "following": True, "followers": followers(db, doc.id)}


def unfollow(db: Session, v: Viewer, researcher_id: str) -> dict:
    db.execute(delete(Follow).where(Follow.user_id == v.user.id, Follow.researcher_id == researcher_id))
    db.commit()
    return {"researcher_id": researcher_id, "following": False, "followers": followers(db, researcher_id)}


def _ref(work) -> dict:  # noqa: ANN001
    return {"id": work.id, "title": work.title, "year": work.year, "venue": work.venue}


def _newest(works):  # noqa: ANN001, ANN202
    return sorted(works, key=lambda w: (-(w.year or 0), -(w.cited_by_count or 0), w.id))


def following_data(db: Session, records: Records, v: Viewer) -> dict:
    rows = db.scalars(select(Follow).where(Follow.user_id == v.user.id).order_by(Follow.created_at.desc())).all()
    docs = {d.id: d for d in records.get_researchers([r.researcher_id for r in rows])}
    latest_ids = [wid for d in docs.values() for wid in d.work_ids[: LATEST_WORKS * 3]]
    works = {w.id: w for w in records.get_works(latest_ids)}
    out = []
    for row in rows:
        doc = docs.get(row.researcher_id)
        if doc is None:
            continue
        mine = _newest([works[w] for w in doc.work_ids[: LATEST_WORKS * 3] if w in works])[:LATEST_WORKS]
        out.append({"id": doc.id, "name": doc.name, "affiliation": doc.affiliation, "works_count": doc.works_count,
                    "followed_at": iso(row.created_at), "latest_works": [_ref(w) for w in mine]})
    return {"researchers": out, "missing": [r.researcher_id for r in rows if r.researcher_id not in docs]}


def feed_data(db: Session, records: Records, v: Viewer) -> dict:
    rows = db.scalars(select(Follow).where(Follow.user_id == v.user.id)).all()
    docs = {d.id: d for d in records.get_researchers([r.researcher_id for r in rows])}
    new: dict[str, str] = {}  # work id -> the followed researcher it came through
    for row in rows:
        doc = docs.get(row.researcher_id)
        if doc is None:
            continue
        seen = set(json.loads(row.seen_work_ids or "[]"))
        for wid in doc.work_ids:
            if wid not in seen:
                new.setdefault(wid, doc.id)
    works = _newest(records.get_works(list(new)))[:FEED_LIMIT]
    return {"works": [{**_ref(w), "researcher": {"id": new[w.id], "name": docs[new[w.id]].name}} for w in works]}


