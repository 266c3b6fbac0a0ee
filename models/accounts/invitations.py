"""Invitations to collaborate: send, the inbox, accept or decline, block.

A logged-in user invites a researcher whose record is claimed (an admin approved the claim) and
whose owner said "open to collaborate", with a short message. The invitation reaches the owner's
inbox, never an email: nobody's address is shown to anyone. The owner accepts (optionally with a
reply: the one place to share contact details, by choice) or declines, and can block the sender,
who then cannot invite them again. Each account may send `invitations_per_day` invitations per 24
hours, and one pending invitation per researcher.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from models.accounts.auth import (
    MESSAGE_MAX,
    REPLY_MAX,
    AccountError,
    Accounts,
    Viewer,
    clean_text,
    iso,
    owner_of,
    too_many,
    user_out,
)
from models.accounts.claims import Records, researcher_doc
from models.accounts.rate_limit import Limit, RateLimited, take
from models.accounts.tables import Block, Invitation, OwnerProfile, User, utcnow

PUBLIC_ID = r"^u-[0-9a-f]{12}$"


def invitation_out(inv: Invitation, users: dict[int, User], names: dict[str, str] | None = None) -> dict:
    return {"id": inv.id, "researcher_id": inv.researcher_id, "researcher_name": (names or {}).get(inv.researcher_id),
            "sender": user_out(users[inv.sender_id]), "status": inv.status, "message": inv.message,
            "reply": inv.reply, "created_at": iso(inv.created_at), "answered_at": iso(inv.answered_at)}


def send_invitation(db: Session, records: Records, accounts: Accounts, v: Viewer, researcher_id: str,
                    message: str) -> dict:
    doc = researcher_doc(records, researcher_id)
    message = clean_text(message, MESSAGE_MAX, "message", required=True)
    owner = owner_of(db, doc.id)
    profile = db.get(OwnerProfile, doc.id)
    if owner is None:
        raise AccountError(409, "this researcher has not claimed their record: invitations are not open")
    if not (profile and profile.open_to_collaborate):
        raise AccountError(409, "this researcher is not open to collaboration invitations")
    if owner.user_id == v.user.id:
        raise AccountError(400, "this is your own record")
    if db.get(Block, (owner.user_id, v.user.id)) is not None:
        raise AccountError(403, "you cannot invite this researcher")
    if db.scalar(select(Invitation.id).where(Invitation.sender_id == v.user.id, Invitation.researcher_id == doc.id,
                                             Invitation.recipient_id == owner.user_id,
                                             Invitation.status == "pending")):
        raise AccountError(409, "you already have a pending invitation to this researcher")
    try:
        take(db, Limit("invitations", v.user.public_id, accounts.settings.invitations_per_day, timedelta(days=1)))
    except RateLimited as exc:
        raise too_many(exc.retry_after, f"invitations ({accounts.settings.invitations_per_day} a day)") from None
    inv = Invitation(sender_id=v.user.id, recipient_id=owner.user_id, researcher_id=doc.id, message=message,
                     status="pending")
    db.add(inv)
    db.commit()
    return invitation_out(inv, {v.user.id: v.user}, {doc.id: doc.name})


def _received(db: Session, v: Viewer, invitation_id: int) -> Invitation:
    """Only the recipient may answer; to anyone else the invitation does not exist."""
    inv = db.get(Invitation, invitation_id)
    if inv is None or inv.recipient_id != v.user.id:
        raise AccountError(404, f"no invitation {invitation_id} in your inbox")
    return inv


def answer(db: Session, v: Viewer, invitation_id: int, status: str, reply: str = "") -> dict:
    inv = _received(db, v, invitation_id)
    reply = clean_text(reply, REPLY_MAX, "reply")
    if inv.status != "pending":
        raise AccountError(409, f"this invitation was already {inv.status}")
    inv.status, inv.answered_at, inv.reply = status, utcnow(), reply or None
    db.commit()
    return invitation_out(inv, {u.id: u for u in db.scalars(select(User).where(User.id == inv.sender_id))})


def block_sender(db: Session, v: Viewer, invitation_id: int) -> dict:
    """Block whoever sent this invitation (declining it if still pending)."""
    inv = _received(db, v, invitation_id)
    sender = db.get(User, inv.sender_id)
    if db.get(Block, (v.user.id, sender.id)) is None:
        db.add(Block(blocker_id=v.user.id, blocked_id=sender.id))
    for pending in db.scalars(select(Invitation).where(Invitation.sender_id == sender.id,
                                                       Invitation.recipient_id == v.user.id,
                                                       Invitation.status == "pending")):
        pending.status, pending.answered_at = "declined", utcnow()
    db.commit()
    return {"blocked": user_out(sender), "active": True}


def unblock(db: Session, v: Viewer, public_id: str) -> dict:
    user = db.scalar(select(User).where(User.public_id == public_id))
    if user is None or db.get(Block, (v.user.id, user.id)) is None:
        raise AccountError(404, "you have not blocked this account")
    db.execute(delete(Block).where(Block.blocker_id == v.user.id, Block.blocked_id == user.id))
    db.commit()
    return {"blocked": user_out(user), "active": False}


def inbox_data(db: Session, v: Viewer, names_of: Callable[[list[str]], dict[str, str]]) -> dict:
    """`names_of(researcher ids)` -> their names in the live index (may be empty)."""
    rows = db.scalars(select(Invitation).where(or_(Invitation.recipient_id == v.user.id,
                                                   Invitation.sender_id == v.user.id))
                      .order_by(Invitation.id.desc())).all()
    blocked_ids = list(db.scalars(select(Block.blocked_id).where(Block.blocker_id == v.user.id)))
    wanted = {r.sender_id for r in rows} | set(blocked_ids)
    users = {u.id: u for u in db.scalars(select(User).where(User.id.in_(wanted)))}
    users[v.user.id] = v.user
    names = names_of([r.researcher_id for r in rows])
    received = [r for r in rows if r.recipient_id == v.user.id]
    received.sort(key=lambda r: (r.status != "pending", -r.id))
    return {
        "received": [invitation_out(r, users, names) for r in received],
        "sent": [invitation_out(r, users, names) for r in rows if r.sender_id == v.user.id],
        "blocked": [user_out(users[b]) for b in blocked_ids if b in users],
    }


