"""Claim routes: claim and withdraw, the owner's controls, and the admin's review of claims and
"not mine" flags (behind the admin area's credentials). The rules are in `models.accounts.claims`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from models.accounts.auth import EVIDENCE_MAX, REASON_MAX, AccountError, Accounts, facts_for
from models.accounts.claims import (
    approve_claim,
    flag_not_mine,
    make_claim,
    owner_data,
    reject_claim,
    researcher_doc,
    resolve_flag,
    review_data,
    set_choice,
    set_open,
    withdraw_claim,
)
from search.service import Discovery
from web import accounts_models as AM
from web.render import render
from web.routes.accounts import DB, ApiUser, FormUser, ObjectId, SignedIn, ViewerDep, login_redirect, redirect
from web.routes.admin import AdminAccess
from web.routes.browse import ResearcherId, Service, WorkId

router = APIRouter()
pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


def researcher_form_page(request: Request, researcher_id: str, v, db: Session, service: Discovery,
                         template: str, verb: str):
    """A signed-in form about one researcher (claim, invite); anonymous visitors go to the log-in page."""
    if not v.signed_in:
        return login_redirect(request)
    doc = researcher_doc(service.engine, researcher_id)
    return render(request, template, {"researcher": doc, "facts": facts_for(db, doc.id, v),
                                      "csrf": request.app.state.accounts.csrf_for_session(v.sid),
                                      "page_title": f"{verb} {doc.name}"})

# -- API: claims and owner controls -------------------------------------------------------------------


@router.post("/api/researchers/{researcher_id}/claim", status_code=201, response_model=AM.ClaimOut,
             tags=["claims"], responses=AM.WRITE_ERRORS, summary="Claim a researcher record")
def api_claim(researcher_id: ResearcherId, body: AM.ClaimIn, v: ApiUser, db: DB, service: Service) -> dict:
    """The record shows "claim pending" until an admin decides; if another account claims it too, the
    claim is `contested` and the admin chooses."""
    return make_claim(db, service.engine, v, researcher_id, body.evidence, body.orcid)


@router.delete("/api/researchers/{researcher_id}/claim", response_model=AM.ClaimOut, tags=["claims"],
               responses=AM.WRITE_ERRORS, summary="Withdraw your claim")
def api_withdraw(researcher_id: ResearcherId, v: ApiUser, db: DB) -> dict:
    """Pending or approved; withdrawing an approved claim also removes your choices on the record."""
    return withdraw_claim(db, v, researcher_id)


@router.get("/api/researchers/{researcher_id}/owner", tags=["owner"], responses=AM.errors(401, 403, 404, 422, 503),
            summary="Your choices on a record you own")
def api_owner(researcher_id: ResearcherId, v: SignedIn, db: DB, service: Service) -> dict:
    """`open_to_collaborate` and every work with `pinned`, `excluded` and its "not mine" flag."""
    return owner_data(db, service.engine, v, researcher_id)


@router.put("/api/researchers/{researcher_id}/owner", response_model=AM.OwnerOut, tags=["owner"],
            responses=AM.WRITE_ERRORS, summary="State whether you are open to collaborate")
def api_set_owner(researcher_id: ResearcherId, body: AM.OwnerIn, v: ApiUser, db: DB) -> dict:
    return set_open(db, v, researcher_id, body.open_to_collaborate)


@router.put("/api/researchers/{researcher_id}/works/{work_id}", response_model=AM.WorkChoiceOut, tags=["owner"],
            responses=AM.WRITE_ERRORS, summary="Pin a work, or exclude it from your expertise")
def api_work_choice(researcher_id: ResearcherId, work_id: WorkId, body: AM.WorkChoiceIn, v: ApiUser, db: DB,
                    service: Service) -> dict:
    """Excluded works stop counting in your researcher vector and topics from the next reindex
    on (full rebuilds included); they stay on your record."""
    return set_choice(db, service.engine, v, researcher_id, work_id, body.pinned, body.excluded)


@router.post("/api/researchers/{researcher_id}/works/{work_id}/not-mine", status_code=201,
             response_model=AM.FlagOut, tags=["owner"], responses=AM.WRITE_ERRORS,
             summary="Flag a work on your record as not yours")
def api_not_mine(researcher_id: ResearcherId, work_id: WorkId, body: AM.NotMineIn, v: ApiUser, db: DB,
                 service: Service) -> dict:
    """For the admin; until the admin dismisses the flag the work does not count in your expertise."""
    return flag_not_mine(db, service.engine, v, researcher_id, work_id, body.reason)


# -- pages: claims and owner controls ---------------------------------------------------------------


@pages.get("/researchers/{researcher_id}/claim")
def claim_page(request: Request, researcher_id: ResearcherId, v: ViewerDep, db: DB, service: Service):
    return researcher_form_page(request, researcher_id, v, db, service, "claim.html", "Claim")


@pages.post("/researchers/{researcher_id}/claim")
def claim_form(researcher_id: ResearcherId, v: FormUser, db: DB, service: Service,
               evidence: Annotated[str, Form(max_length=EVIDENCE_MAX * 2)] = "",
               orcid: Annotated[str, Form(max_length=200)] = ""):
    make_claim(db, service.engine, v, researcher_id, evidence, orcid)
    return redirect(f"/researchers/{researcher_id}", "claimed")


@pages.post("/researchers/{researcher_id}/claim/withdraw")
def withdraw_form(researcher_id: ResearcherId, v: FormUser, db: DB):
    withdraw_claim(db, v, researcher_id)
    return redirect(f"/researchers/{researcher_id}", "withdrawn")


@pages.post("/researchers/{researcher_id}/owner")
def owner_form(researcher_id: ResearcherId, v: FormUser, db: DB,
               open_to_collaborate: Annotated[str, Form(max_length=10)] = "",
               next: Annotated[str, Form(max_length=10)] = ""):
    if open_to_collaborate not in ("yes", "no"):
        raise AccountError(422, "open_to_collaborate must be yes or no")
    set_open(db, v, researcher_id, open_to_collaborate == "yes")
    target = f"/researchers/{researcher_id}" + ("/manage" if next == "manage" else "")
    return redirect(target, "saved")


@pages.get("/researchers/{researcher_id}/manage")
def manage_page(request: Request, researcher_id: ResearcherId, v: ViewerDep, db: DB, service: Service):
    if not v.signed_in:
        return login_redirect(request)
    data = owner_data(db, service.engine, v, researcher_id)
    accounts: Accounts = request.app.state.accounts
    return render(request, "manage.html", {"data": data, "csrf": accounts.csrf_for_session(v.sid),
                                           "alternate": f"/api/researchers/{researcher_id}/owner",
                                           "page_title": f"Manage {data['name']}"})


CHOICES = {"pin": (True, None), "unpin": (False, None), "exclude": (None, True), "include": (None, False)}


@pages.post("/researchers/{researcher_id}/works/{work_id}/choice")
def choice_form(researcher_id: ResearcherId, work_id: WorkId, v: FormUser, db: DB, service: Service,
                action: Annotated[str, Form(max_length=20)] = ""):
    if action not in CHOICES:
        raise AccountError(422, f"action must be one of {', '.join(CHOICES)}")
    set_choice(db, service.engine, v, researcher_id, work_id, *CHOICES[action])
    return redirect(f"/researchers/{researcher_id}/manage", "saved")


@pages.post("/researchers/{researcher_id}/works/{work_id}/not-mine")
def not_mine_form(researcher_id: ResearcherId, work_id: WorkId, v: FormUser, db: DB, service: Service,
                  reason: Annotated[str, Form(max_length=REASON_MAX * 2)] = ""):
    flag_not_mine(db, service.engine, v, researcher_id, work_id, reason)
    return redirect(f"/researchers/{researcher_id}/manage", "flagged")


# -- admin: review routes, behind the admin area's own credentials -----------------------------------


def review_router(access: AdminAccess) -> APIRouter:
    admin = APIRouter()

    def accounts_db(request: Request):
        return request.app.state.accounts.db

    def records_of(request: Request):
        service = getattr(request.app.state, "service", None)
        return service.engine if service is not None else None

    def with_db(request: Request, fn, *args):  # noqa: ANN001, ANN202
        with accounts_db(request).session() as db:
            return fn(db, *args)

    def decide(request: Request, actor: str, action: str, fn, object_id: int, *args) -> dict:  # noqa: ANN001
        try:
            result = with_db(request, fn, object_id, actor, *args)
        except AccountError as exc:
            access.audit(actor, action, {"id": object_id}, f"refused: {exc.message}")
            raise
        access.audit(actor, action, {"id": object_id, "researcher": result.get("researcher_id")}, "ok")
        return result

    ApiActor = Annotated[str, Depends(access.api_actor)]
    BrowserActor = Annotated[str, Depends(access.browser_actor)]

    @admin.get("/api/admin/claims", response_model=AM.ReviewOut, tags=["admin"], responses=AM.ADMIN_ERRORS,
               summary="Pending and contested claims with their evidence; open \"not mine\" flags")
    async def api_review(request: Request, actor: ApiActor) -> dict:
        return await run_in_threadpool(with_db, request, review_data, records_of(request))

    @admin.post("/api/admin/claims/{claim_id}/approve", response_model=AM.ClaimOut, tags=["admin"],
                responses=AM.ADMIN_ERRORS, summary="Approve a claim: the account owns the record (L3)")
    async def api_approve(request: Request, claim_id: ObjectId, body: AM.DecisionIn, actor: ApiActor) -> dict:
        return await run_in_threadpool(decide, request, actor, "claim-approve", approve_claim, claim_id, body.note)

    @admin.post("/api/admin/claims/{claim_id}/reject", response_model=AM.ClaimOut, tags=["admin"],
                responses=AM.ADMIN_ERRORS, summary="Reject a claim")
    async def api_reject(request: Request, claim_id: ObjectId, body: AM.DecisionIn, actor: ApiActor) -> dict:
        return await run_in_threadpool(decide, request, actor, "claim-reject", reject_claim, claim_id, body.note)

    @admin.post("/api/admin/flags/{flag_id}/resolve", response_model=AM.FlagOut, tags=["admin"],
                responses=AM.ADMIN_ERRORS, summary="Accept or dismiss a \"not mine\" flag")
    async def api_resolve(request: Request, flag_id: ObjectId, body: AM.FlagResolutionIn, actor: ApiActor) -> dict:
        return await run_in_threadpool(decide, request, actor, "flag-resolve", resolve_flag, flag_id, body.status)

    @admin.get("/admin/claims", response_class=HTMLResponse, include_in_schema=False)
    def review_page(request: Request):
        sid = access.session_of(request)
        if not sid:
            return RedirectResponse("/admin/login", status_code=303)
        data = with_db(request, review_data, records_of(request))
        return render(request, "admin_claims.html", {"data": data, "admin_csrf": access.csrf_for(sid),
                                                     "page_title": "Claims – admin"})

    async def _form(request: Request) -> dict:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    @admin.post("/admin/claims/{claim_id}/approve", include_in_schema=False)
    async def form_approve(request: Request, claim_id: ObjectId, actor: BrowserActor):
        note = (await _form(request)).get("note", "")
        await run_in_threadpool(decide, request, actor, "claim-approve", approve_claim, claim_id, note)
        return RedirectResponse("/admin/claims", status_code=303)

    @admin.post("/admin/claims/{claim_id}/reject", include_in_schema=False)
    async def form_reject(request: Request, claim_id: ObjectId, actor: BrowserActor):
        note = (await _form(request)).get("note", "")
        await run_in_threadpool(decide, request, actor, "claim-reject", reject_claim, claim_id, note)
        return RedirectResponse("/admin/claims", status_code=303)

    @admin.post("/admin/flags/{flag_id}/resolve", include_in_schema=False)
    async def form_resolve(request: Request, flag_id: ObjectId, actor: BrowserActor):
        status = (await _form(request)).get("status", "")
        await run_in_threadpool(decide, request, actor, "flag-resolve", resolve_flag, flag_id, status)
        return RedirectResponse("/admin/claims", status_code=303)

    return admin
