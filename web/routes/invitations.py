"""Invitation routes: send, the inbox, accept or decline, block. The rules are in
`models.accounts.invitations`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from models.accounts.auth import MESSAGE_MAX, REPLY_MAX
from models.accounts.invitations import (
    PUBLIC_ID,
    answer,
    block_sender,
    inbox_data,
    send_invitation,
    unblock,
)
from web import accounts_models as AM
from web.render import render
from web.routes.accounts import (
    DB,
    ApiUser,
    FormUser,
    ObjectId,
    SignedIn,
    ViewerDep,
    login_redirect,
    redirect,
    researcher_names,
)
from web.routes.browse import ResearcherId, Service
from web.routes.claims import researcher_form_page

router = APIRouter()
pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

# -- API --------------------------------------------------------------------------------------------


@router.post("/api/researchers/{researcher_id}/invitations", status_code=201, response_model=AM.InvitationOut,
             tags=["invitations"], responses=AM.WRITE_ERRORS, summary="Invite a researcher to collaborate")
def api_invite(request: Request, researcher_id: ResearcherId, body: AM.InvitationIn, v: ApiUser, db: DB,
               service: Service) -> dict:
    """Only researchers who claimed their record and are open to collaborate; 429 past the daily
    limit; 403 when their owner blocked you."""
    return send_invitation(db, service.engine, request.app.state.accounts, v, researcher_id, body.message)


@router.get("/api/me/inbox", response_model=AM.InboxOut, tags=["invitations"], responses=AM.READ_ERRORS,
            summary="Invitations you received and sent; accounts you blocked")
def api_inbox(request: Request, v: SignedIn, db: DB) -> dict:
    return inbox_data(db, v, lambda ids: researcher_names(request, ids))


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
                message: Annotated[str, Form(max_length=MESSAGE_MAX * 2)] = ""):
    send_invitation(db, service.engine, request.app.state.accounts, v, researcher_id, message)
    return redirect("/me/inbox", "invited")


@pages.get("/me/inbox")
def inbox_page(request: Request, v: ViewerDep, db: DB):
    if not v.signed_in:
        return login_redirect(request)
    return render(request, "inbox.html", {"data": inbox_data(db, v, lambda ids: researcher_names(request, ids)), "alternate": "/api/me/inbox",
                                          "csrf": request.app.state.accounts.csrf_for_session(v.sid),
                                          "page_title": "Inbox"})


@pages.post("/invitations/{invitation_id}/accept")
def accept_form(invitation_id: ObjectId, v: FormUser, db: DB,
                reply: Annotated[str, Form(max_length=REPLY_MAX * 2)] = ""):
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
