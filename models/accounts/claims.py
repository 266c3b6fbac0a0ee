"""Claims, owner controls, and the admin's review of both.

A logged-in user claims a researcher record with a little evidence: the record shows "claim pending"
("claimed", or "contested" when several accounts claim it). An admin reviews pending claims (with
the evidence, and the record's ORCID next to the one the claimant stated) and approves one: the
account owns the record (L3, +20 trust points; one account per record: approving another claim
revokes the previous owner's) or rejects it. A claimant can withdraw their claim at any time.

The owner of a record (approved claim) states "open to collaborate", pins works (shown first),
excludes works from their expertise and flags works "not mine" for the admin. Exclusions and
not-mine flags (until an admin dismisses them) leave the work out of the researcher's vector and
topics from the next reindex on (`expertise_exclusions`); they are stored here,
not in the index, so every rebuild, full or not, applies them again. When the owner withdraws (or
an admin revokes the claim) their choices go with them; flags stay for the admin.
"""


from __future__ import annotations

import logging
import re
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts.auth import (
    EVIDENCE_MAX,
    NOTE_MAX,
    ORCID_PATTERN,
    REASON_MAX,
    AccountError,
    Viewer,
    claim_out,
    clean_text,
    contested_ids,
    iso,
    owner_of,
    user_out,
)
from models.accounts.tables import (
    APPROVED,
    PENDING,
    REJECTED,
    REVOKED,
    WITHDRAWN,
    Claim,
    Follow,
    OwnerProfile,
    User,
    WorkChoice,
    WorkFlag,
    utcnow,
)
from models.records import ResearcherDoc, WorkDoc

log = logging.getLogger("discovery.accounts")
_ORCID_URL = re.compile(r"^(https?://)?(www\.)?orcid\.org/", re.I)


class Records(Protocol):
    """The live index's records as account rules read them; the search engine is one."""

    def get_researchers(self, ids: list[str]) -> list[ResearcherDoc]: ...

    def get_works(self, ids: list[str]) -> list[WorkDoc]: ...


def researcher_doc(records: Records, researcher_id: str) -> ResearcherDoc:
    docs = records.get_researchers([researcher_id])
    if not docs:
        raise AccountError(404, f"no researcher {researcher_id[:80]!r}")
    return docs[0]


def clean_orcid(raw: str | None) -> str | None:
    value = _ORCID_URL.sub("", (raw or "").strip()).upper()
    if not value:
        return None
    if not re.fullmatch(ORCID_PATTERN, value):
        raise AccountError(422, "an ORCID iD looks like 0000-0002-1825-0097")
    return value


# -- claims ---------------------------------------------------------------------------------------


def active_claim(db: Session, user_id: int, researcher_id: str) -> Claim | None:
    return db.scalar(select(Claim).where(Claim.user_id == user_id, Claim.researcher_id == researcher_id,
                                         Claim.status.in_((PENDING, APPROVED))))


def make_claim(db: Session, records: Records, v: Viewer, researcher_id: str, evidence: str,
               orcid: str | None) -> dict:
    doc = researcher_doc(records, researcher_id)
    evidence = clean_text(evidence, EVIDENCE_MAX, "evidence")
    orcid = clean_orcid(orcid)
    mine = active_claim(db, v.user.id, doc.id)
    if mine is not None:
        raise AccountError(409, f"you already claimed this record (claim #{mine.id}, {mine.status})")
    claim = Claim(user_id=v.user.id, researcher_id=doc.id, status=PENDING, evidence=evidence, stated_orcid=orcid)
    db.add(claim)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise AccountError(409, "you already claimed this record") from None
    log.info("claim %s on %s by %s", claim.id, doc.id, v.user.public_id)
    return claim_out(claim, doc.id in contested_ids(db, {doc.id}))


def clear_owner_choices(db: Session, researcher_id: str) -> None:
    db.execute(delete(OwnerProfile).where(OwnerProfile.researcher_id == researcher_id))
    db.execute(delete(WorkChoice).where(WorkChoice.researcher_id == researcher_id))


def withdraw_claim(db: Session, v: Viewer, researcher_id: str) -> dict:
    claim = active_claim(db, v.user.id, researcher_id)
    if claim is None:
        raise AccountError(404, "you have no claim on this record")
    if claim.status == APPROVED:
        clear_owner_choices(db, researcher_id)
    claim.status, claim.decided_at, claim.decided_by = WITHDRAWN, utcnow(), "claimant"
    db.commit()
    return claim_out(claim)


# -- owner controls -------------------------------------------------------------------------------


def require_owner(db: Session, v: Viewer, researcher_id: str) -> Claim:
    claim = owner_of(db, researcher_id)
    if claim is None or claim.user_id != v.user.id:
        raise AccountError(403, "only the owner of this record (an account whose claim an admin approved) can do this")
    return claim


def _work_on_record(records: Records, researcher_id: str, work_id: str) -> None:
    if work_id not in researcher_doc(records, researcher_id).work_ids:
        raise AccountError(404, f"no work {work_id[:80]!r} on this record")


def set_open(db: Session, v: Viewer, researcher_id: str, value: bool) -> dict:
    require_owner(db, v, researcher_id)
    row = db.get(OwnerProfile, researcher_id)
    if row is None:
        row = OwnerProfile(researcher_id=researcher_id, set_by=v.user.id)
        db.add(row)
    row.open_to_collaborate, row.set_by, row.updated_at = value, v.user.id, utcnow()
    db.commit()
    return {"researcher_id": researcher_id, "open_to_collaborate": value}


def set_choice(db: Session, records: Records, v: Viewer, researcher_id: str, work_id: str,
               pinned: bool | None, excluded: bool | None) -> dict:
    require_owner(db, v, researcher_id)
    if pinned is None and excluded is None:
        raise AccountError(422, "say what to change: pinned and/or excluded")
    _work_on_record(records, researcher_id, work_id)
    row = db.get(WorkChoice, (researcher_id, work_id))
    if row is None:
        row = WorkChoice(researcher_id=researcher_id, work_id=work_id, pinned=False, excluded=False, set_by=v.user.id)
        db.add(row)
    if pinned is not None:
        row.pinned = pinned
    if excluded is not None:
        row.excluded = excluded
    row.set_by, row.updated_at = v.user.id, utcnow()
    out = {"researcher_id": researcher_id, "work_id": work_id, "pinned": row.pinned, "excluded": row.excluded}
    if not row.pinned and not row.excluded:
        db.delete(row)
    db.commit()
    return out


def flag_out(flag: WorkFlag) -> dict:
    return {"id": flag.id, "researcher_id": flag.researcher_id, "work_id": flag.work_id, "status": flag.status,
            "reason": flag.reason, "created_at": iso(flag.created_at)}


def flag_not_mine(db: Session, records: Records, v: Viewer, researcher_id: str, work_id: str, reason: str) -> dict:
    require_owner(db, v, researcher_id)
    reason = clean_text(reason, REASON_MAX, "reason")
    _work_on_record(records, researcher_id, work_id)
    if db.scalar(select(WorkFlag).where(WorkFlag.researcher_id == researcher_id, WorkFlag.work_id == work_id,
                                        WorkFlag.status == "open")):
        raise AccountError(409, "this work is already flagged; the admin will look at it")
    flag = WorkFlag(researcher_id=researcher_id, work_id=work_id, user_id=v.user.id, reason=reason, status="open")
    db.add(flag)
    db.commit()
    return flag_out(flag)


def owner_data(db: Session, records: Records, v: Viewer, researcher_id: str) -> dict:
    """What the manage page shows: the owner's statement and every work with its choices."""
    require_owner(db, v, researcher_id)
    doc = researcher_doc(records, researcher_id)
    choices = {c.work_id: c for c in db.scalars(select(WorkChoice).where(WorkChoice.researcher_id == researcher_id))}
    flags = {f.work_id: f for f in db.scalars(select(WorkFlag).where(WorkFlag.researcher_id == researcher_id)
                                              .order_by(WorkFlag.id))}
    works = sorted(records.get_works(list(doc.work_ids)), key=lambda w: (-(w.year or 0), w.id))
    profile = db.get(OwnerProfile, researcher_id)
    return {
        "researcher_id": doc.id,
        "name": doc.name,
        "open_to_collaborate": profile.open_to_collaborate if profile else None,
        "works": [{
            "id": w.id, "title": w.title, "year": w.year, "venue": w.venue,
            "pinned": bool(choices.get(w.id) and choices[w.id].pinned),
            "excluded": bool(choices.get(w.id) and choices[w.id].excluded),
            "flag": flag_out(flags[w.id]) if w.id in flags else None,
        } for w in works],
    }


# -- the admin's review -----------------------------------------------------------------------------


RECORD_COAUTHORS = 8  # co-authors the review shows beside a claim


def record_facts(doc: ResearcherDoc | None) -> dict | None:
    """What the record says about its researcher, for the admin to hold the evidence against."""
    if doc is None:
        return None
    return {
        "name": doc.name,
        "identifiers": dict(doc.identifiers),
        "affiliations": [i.name for i in doc.institutions],
        "co_authors": [{"id": c.id, "name": c.name, "joint_works": c.joint_works}
                       for c in doc.close_collaborators[:RECORD_COAUTHORS]],
        "works_count": doc.works_count,
        "years": [doc.first_year, doc.last_year],
    }


def same_name_accounts(db: Session, user: User) -> list[User]:
    """Other accounts whose display name equals this one's, ignoring case."""
    return list(db.scalars(select(User).where(func.lower(User.display_name) == user.display_name.lower(),
                                              User.id != user.id).order_by(User.id)))


def review_data(db: Session, records: Records | None) -> dict:
    """Pending claims (with evidence, the record's own facts beside it, every competing claim and
    any other account with the claimant's name) and "not mine" flags."""
    pending = db.scalars(select(Claim).where(Claim.status == PENDING).order_by(Claim.id)).all()
    rids = {c.researcher_id for c in pending}
    active = db.scalars(select(Claim).where(Claim.researcher_id.in_(rids),
                                            Claim.status.in_((PENDING, APPROVED)))).all() if rids else []
    flags = db.scalars(select(WorkFlag).where(WorkFlag.status == "open").order_by(WorkFlag.id)).all()
    users = {u.id: u for u in db.scalars(select(User).where(
        User.id.in_({c.user_id for c in [*pending, *active]} | {f.user_id for f in flags})))}
    docs, works = {}, {}
    if records is not None:
        try:
            docs = {d.id: d for d in records.get_researchers(list(rids | {f.researcher_id for f in flags}))}
            works = {w.id: w for w in records.get_works([f.work_id for f in flags])}
        except Exception:  # noqa: BLE001 - the review still works without names
            docs, works = {}, {}
    claims = []
    for c in pending:
        doc = docs.get(c.researcher_id)
        record_orcid = (doc.identifiers.get("orcid") if doc else None) or None
        if record_orcid:
            record_orcid = _ORCID_URL.sub("", record_orcid).upper()
        competing = [o for o in active if o.researcher_id == c.researcher_id and o.id != c.id]
        claims.append({
            **claim_out(c, bool(competing)),
            "claimant": {**user_out(users[c.user_id]), "since": iso(users[c.user_id].created_at)},
            "researcher_name": doc.name if doc else None,
            "evidence": c.evidence,
            "stated_orcid": c.stated_orcid,
            "record_orcid": record_orcid,
            "orcid_matches": (c.stated_orcid == record_orcid) if c.stated_orcid and record_orcid else None,
            "competing": [o.id for o in competing],
            "competing_claims": [{"id": o.id, "status": o.status, "claimant": user_out(users[o.user_id])}
                                 for o in competing],
            "record": record_facts(doc),
            "same_name_accounts": [{**user_out(u), "since": iso(u.created_at)}
                                   for u in same_name_accounts(db, users[c.user_id])],
        })
    return {
        "claims": claims,
        "flags": [{**flag_out(f), "researcher_name": docs[f.researcher_id].name if f.researcher_id in docs else None,
                   "work_title": works[f.work_id].title if f.work_id in works else None,
                   "flagged_by": user_out(users[f.user_id])} for f in flags],
    }


def _pending_claim(db: Session, claim_id: int) -> Claim:
    claim = db.get(Claim, claim_id)
    if claim is None:
        raise AccountError(404, f"no claim {claim_id}")
    if claim.status != PENDING:
        raise AccountError(409, f"claim {claim_id} is {claim.status}, not pending")
    return claim


def approve_claim(db: Session, claim_id: int, actor: str, note: str) -> dict:
    """The claimant owns the record; a previous owner's claim is revoked, competing ones rejected;
    the owner's follow of their own record, if any, ends (nobody follows themselves)."""
    note = clean_text(note, NOTE_MAX, "note")
    claim = _pending_claim(db, claim_id)
    now = utcnow()
    previous = owner_of(db, claim.researcher_id)
    if previous is not None:
        previous.status, previous.decided_at, previous.decided_by = REVOKED, now, actor
        previous.decision_note = f"replaced by claim #{claim.id}"
        clear_owner_choices(db, claim.researcher_id)
        db.flush()  # the one-approved-claim index must see the revocation first
    for other in db.scalars(select(Claim).where(Claim.researcher_id == claim.researcher_id, Claim.status == PENDING,
                                                Claim.id != claim.id)):
        other.status, other.decided_at, other.decided_by = REJECTED, now, actor
        other.decision_note = f"claim #{claim.id} on this record was approved"
    claim.status, claim.decided_at, claim.decided_by, claim.decision_note = APPROVED, now, actor, note or None
    db.execute(delete(Follow).where(Follow.user_id == claim.user_id, Follow.researcher_id == claim.researcher_id))
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise AccountError(409, "the record changed meanwhile: reload and try again") from None
    return claim_out(claim)


def reject_claim(db: Session, claim_id: int, actor: str, note: str) -> dict:
    note = clean_text(note, NOTE_MAX, "note")
    claim = _pending_claim(db, claim_id)
    claim.status, claim.decided_at, claim.decided_by, claim.decision_note = REJECTED, utcnow(), actor, note or None
    db.commit()
    return claim_out(claim)


def resolve_flag(db: Session, flag_id: int, actor: str, status: str) -> dict:
    if status not in ("accepted", "dismissed"):
        raise AccountError(422, "status must be accepted or dismissed")
    flag = db.get(WorkFlag, flag_id)
    if flag is None:
        raise AccountError(404, f"no flag {flag_id}")
    if flag.status != "open":
        raise AccountError(409, f"flag {flag_id} is already {flag.status}")
    flag.status, flag.resolved_at, flag.resolved_by = status, utcnow(), actor
    db.commit()
    return flag_out(flag)


