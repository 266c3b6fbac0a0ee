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
from typing import Annotated

from fastapi import Form, Path, Request
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from models.accounts.tables import Block, Invitation, OwnerProfile, User, utcnow
from search.service import Discovery
from web import accounts_models as AM
from web.accounts import (
    DB,
    AccountError,
    Accounts,
    ApiUser,
    FormUser,
    ObjectId,
    SignedIn,
    Viewer,
    ViewerDep,
    clean_text,
    iso,
    login_redirect,
    owner_of,
    pages,
    redirect,
    researcher_names,
    router,
    user_out,
)
from web.accounts_claims import researcher_doc, researcher_form_page
from web.render import render
from web.views import ResearcherId, Service

PUBLIC_ID = r"^u-[0-9a-f]{12}$"


def invitation_out(inv: Invitation, users: dict[int, User], names: dict[str, str] | None = None) -> dict:
    return {"id": inv.id, "researcher_id": inv.researcher_id, "researcher_name": (names or {}).get(inv.researcher_id),
            "sender": user_out(users[inv.sender_id]), "status": inv.status, "message": inv.message,
            "reply": inv.reply, "created_at": iso(inv.created_at), "answered_at": iso(inv.answered_at)}


def send_invitation(db: Session, service: Discovery, accounts: Accounts, v: Viewer, researcher_id: str,
                    message: str) -> dict:
    doc = researcher_doc(service, researcher_id)
    message = clean_text(message, AM.MESSAGE_MAX, "message", required=True)
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
    since = utcnow() - timedelta(days=1)
    sent, oldest = db.execute(select(func.count(Invitation.id), func.min(Invitation.created_at)).where(
        Invitation.sender_id == v.user.id, Invitation.created_at > since)).one()
    limit = accounts.settings.invitations_per_day
    if sent >= limit:
        wait = max(1, int(((oldest or utcnow()) + timedelta(days=1) - utcnow()).total_seconds()) + 1)
        raise AccountError(429, f"you sent {limit} invitations in the last 24 hours; try again later",
                           {"Retry-After": str(wait)})
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
    reply = clean_text(reply, AM.REPLY_MAX, "reply")
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


def inbox_data(request: Request, db: Session, v: Viewer) -> dict:
    rows = db.scalars(select(Invitation).where(or_(Invitation.recipient_id == v.user.id,
                                                   Invitation.sender_id == v.user.id))
                      .order_by(Invitation.id.desc())).all()
    blocked_ids = list(db.scalars(select(Block.blocked_id).where(Block.blocker_id == v.user.id)))
    wanted = {r.sender_id for r in rows} | set(blocked_ids)
    users = {u.id: u for u in db.scalars(select(User).where(User.id.in_(wanted)))}
    users[v.user.id] = v.user
    names = researcher_names(request, [r.researcher_id for r in rows])
    received = [r for r in rows if r.recipient_id == v.user.id]
    received.sort(key=lambda r: (r.status != "pending", -r.id))
    return {
        "received": [invitation_out(r, users, names) for r in received],
        "sent": [invitation_out(r, users, names) for r in rows if r.sender_id == v.user.id],
        "blocked": [user_out(users[b]) for b in blocked_ids if b in users],
    }


# -- API --------------------------------------------------------------------------------------------


@router.post("/api/researchers/{researcher_id}/invitations", status_code=201, response_model=AM.InvitationOut,
             tags=["invitations"], responses=AM.WRITE_ERRORS, summary="Invite a researcher to collaborate")
def api_invite(request: Request, researcher_id: ResearcherId, body: AM.InvitationIn, v: ApiUser, db: DB,
               service: Service) -> dict:
    """Only researchers who claimed their record and are open to collaborate; 429 past the daily
    limit; 403 when their owner blocked you."""
    return send_invitation(db, service, request.app.state.accounts, v, researcher_id, body.message)


@router.get("/api/me/inbox", response_model=AM.InboxOut, tags=["invitations"], responses=AM.READ_ERRORS,
            summary="Invitations you received and sent; accounts you blocked")
def api_inbox(request: Request, v: SignedIn, db: DB) -> dict:
    return inbox_data(request, db, v)


@router.post("/api/invitations/{invitation_id}/accept", response_model=AM.InvitationOut, tags=["invitations"],
             responses=AM.WRITE_ERRORS, summary="Accept an invitation (optionally with a reply)")
def api_accept(invitation_id: ObjectId, body: AM.ReplyIn, v: ApiUser, db: DB) -> dict:
    return answer(db, v, invitation_id, "accepted", body.reply)


@router.post("/api/invitations/{invitation_id}/decline", response_model=AM.InvitationOut, tags=["invitations"],
             responses=AM.WRITE_ERRORS, summary="Decline an invitation")
def api_decline(invitation_id: ObjectId, v: ApiUser, db: DB) -> dict:
    return answer(db, v, invitation_id, "declined")


@router.post("/api/invitations/{invitation_id}/block", response_model=AM.BlockOut, tags=["invitations"],
             responses=AM.WRITE_ERRORS, summary="Block the sender of an invitation")
def api_block(invitation_id: ObjectId, v: ApiUser, db: DB) -> dict:
    return block_sender(db, v, invitation_id)


PublicId = Annotated[str, Path(pattern=PUBLIC_ID, description="A public account id.")]


@router.delete("/api/me/blocks/{public_id}", response_model=AM.BlockOut, tags=["invitations"],
               responses=AM.WRITE_ERRORS, summary="Unblock an account")
def api_unblock(public_id: PublicId, v: ApiUser, db: DB) -> dict:
    return unblock(db, v, public_id)


# -- pages ------------------------------------------------------------------------------------------


@pages.get("/researchers/{researcher_id}/invite")
def invite_page(request: Request, researcher_id: ResearcherId, v: ViewerDep, db: DB, service: Service):
    return researcher_form_page(request, researcher_id, v, db, service, "invite.html", "Invite")


@pages.post("/researchers/{researcher_id}/invite")
def invite_form(request: Request, researcher_id: ResearcherId, v: FormUser, db: DB, service: Service,
                message: Annotated[str, Form(max_length=AM.MESSAGE_MAX * 2)] = ""):
    send_invitation(db, service, request.app.state.accounts, v, researcher_id, message)
    return redirect("/me/inbox", "invited")


@pages.get("/me/inbox")
def inbox_page(request: Request, v: ViewerDep, db: DB):
    if not v.signed_in:
        return login_redirect(request)
    return render(request, "inbox.html", {"data": inbox_data(request, db, v), "alternate": "/api/me/inbox",
                                          "csrf": request.app.state.accounts.csrf_for_session(v.sid),
                                          "page_title": "Inbox"})


@pages.post("/invitations/{invitation_id}/accept")
def accept_form(invitation_id: ObjectId, v: FormUser, db: DB,
                reply: Annotated[str, Form(max_length=AM.REPLY_MAX * 2)] = ""):
    answer(db, v, invitation_id, "accepted", reply)
    return redirect("/me/inbox", "accepted")


@pages.post("/invitations/{invitation_id}/decline")
def decline_form(invitation_id: ObjectId, v: FormUser, db: DB):
    answer(db, v, invitation_id, "declined")
    return redirect("/me/inbox", "declined")


@pages.post("/invitations/{invitation_id}/block")
def block_form(invitation_id: ObjectId, v: FormUser, db: DB):
    block_sender(db, v, invitation_id)
    return redirect("/me/inbox", "blocked")


@pages.post("/me/blocks/{public_id}/unblock")
def unblock_form(public_id: PublicId, v: FormUser, db: DB):
    unblock(db, v, public_id)
    return redirect("/me/inbox", "unblocked")
