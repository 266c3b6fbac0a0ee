"""Claims, owner controls, and the admin's review of both.

A logged-in user claims a researcher record with a little evidence: the record shows level L2
("claimed", or "contested" when several accounts claim it). An admin reviews pending claims (with
the evidence, and the record's ORCID next to the one the claimant stated) and approves one: the
account owns the record (L3, +20 trust points; one account per record: approving another claim
revokes the previous owner's) or rejects it. A claimant can withdraw their claim at any time.

The owner of a record (approved claim) states "open to collaborate", pins works (shown first),
excludes works from their expertise and flags works "not mine" for the admin. Exclusions and
not-mine flags (until an admin dismisses them) leave the work out of the researcher's vector and
topics from the next reindex on (`models.accounts.expertise_exclusions`); they are stored here,
not in the index, so every rebuild, full or not, applies them again. When the owner withdraws (or
an admin revokes the claim) their choices go with them; flags stay for the admin.
"""


import logging
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from models.accounts.tables import (
    APPROVED,
    PENDING,
    REJECTED,
    REVOKED,
    WITHDRAWN,
    Claim,
    OwnerProfile,
    User,
    WorkChoice,
    WorkFlag,
    utcnow,
)
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
    claim_out,
    clean_text,
    contested_ids,
    facts_for,
    iso,
    login_redirect,
    owner_of,
    pages,
    redirect,
    router,
    user_out,
)
from web.admin import AdminAccess
from web.render import render
from web.views import ResearcherId, Service, WorkId

log = logging.getLogger("discovery.accounts")
_ORCID_URL = re.compile(r"^(https?://)?(www\.)?orcid\.org/", re.I)


def researcher_doc(service: Discovery, researcher_id: str):
    docs = service.engine.get_researchers([researcher_id])
    if not docs:
        raise AccountError(404, f"no researcher {researcher_id[:80]!r}")
    return docs[0]


def researcher_form_page(request: Request, researcher_id: str, v, db: Session, service: Discovery,
                         template: str, verb: str):
    """A signed-in form about one researcher (claim, invite); anonymous visitors go to the log-in page."""
    if not v.signed_in:
        return login_redirect(request)
    doc = researcher_doc(service, researcher_id)
    return render(request, template, {"researcher": doc, "facts": facts_for(db, doc.id, v),
                                      "csrf": request.app.state.accounts.csrf_for_session(v.sid),
                                      "page_title": f"{verb} {doc.name}"})


def clean_orcid(raw: str | None) -> str | None:
    value = _ORCID_URL.sub("", (raw or "").strip()).upper()
    if not value:
        return None
    if not re.fullmatch(AM.ORCID_PATTERN, value):
        raise AccountError(422, "an ORCID iD looks like 0000-0002-1825-0097")
    return value


# -- claims ---------------------------------------------------------------------------------------


def active_claim(db: Session, user_id: int, researcher_id: str) -> Claim | None:
    return db.scalar(select(Claim).where(Claim.user_id == user_id, Claim.researcher_id == researcher_id,
                                         Claim.status.in_((PENDING, APPROVED))))


def make_claim(db: Session, service: Discovery, v: Viewer, researcher_id: str, evidence: str,
               orcid: str | None) -> dict:
    doc = researcher_doc(service, researcher_id)
    evidence = clean_text(evidence, AM.EVIDENCE_MAX, "evidence")
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


def _work_on_record(service: Discovery, researcher_id: str, work_id: str) -> None:
    if work_id not in researcher_doc(service, researcher_id).work_ids:
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


def set_choice(db: Session, service: Discovery, v: Viewer, researcher_id: str, work_id: str,
               pinned: bool | None, excluded: bool | None) -> dict:
    require_owner(db, v, researcher_id)
    if pinned is None and excluded is None:
        raise AccountError(422, "say what to change: pinned and/or excluded")
    _work_on_record(service, researcher_id, work_id)
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


def flag_not_mine(db: Session, service: Discovery, v: Viewer, researcher_id: str, work_id: str, reason: str) -> dict:
    require_owner(db, v, researcher_id)
    reason = clean_text(reason, AM.REASON_MAX, "reason")
    _work_on_record(service, researcher_id, work_id)
    if db.scalar(select(WorkFlag).where(WorkFlag.researcher_id == researcher_id, WorkFlag.work_id == work_id,
                                        WorkFlag.status == "open")):
        raise AccountError(409, "this work is already flagged; the admin will look at it")
    flag = WorkFlag(researcher_id=researcher_id, work_id=work_id, user_id=v.user.id, reason=reason, status="open")
    db.add(flag)
    db.commit()
    return flag_out(flag)


def owner_data(db: Session, service: Discovery, v: Viewer, researcher_id: str) -> dict:
    """What the manage page shows: the owner's statement and every work with its choices."""
    require_owner(db, v, researcher_id)
    doc = researcher_doc(service, researcher_id)
    choices = {c.work_id: c for c in db.scalars(select(WorkChoice).where(WorkChoice.researcher_id == researcher_id))}
    flags = {f.work_id: f for f in db.scalars(select(WorkFlag).where(WorkFlag.researcher_id == researcher_id)
                                              .order_by(WorkFlag.id))}
    works = sorted(service.engine.get_works(list(doc.work_ids)), key=lambda w: (-(w.year or 0), w.id))
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


def review_data(db: Session, service: Discovery | None) -> dict:
    """Pending claims (with evidence and every competing claim) and "not mine" flags."""
    pending = db.scalars(select(Claim).where(Claim.status == PENDING).order_by(Claim.id)).all()
    rids = {c.researcher_id for c in pending}
    active = db.scalars(select(Claim).where(Claim.researcher_id.in_(rids),
                                            Claim.status.in_((PENDING, APPROVED)))).all() if rids else []
    flags = db.scalars(select(WorkFlag).where(WorkFlag.status == "open").order_by(WorkFlag.id)).all()
    users = {u.id: u for u in db.scalars(select(User).where(
        User.id.in_({c.user_id for c in [*pending, *active]} | {f.user_id for f in flags})))}
    docs, works = {}, {}
    if service is not None:
        try:
            docs = {d.id: d for d in service.engine.get_researchers(list(rids | {f.researcher_id for f in flags}))}
            works = {w.id: w for w in service.engine.get_works([f.work_id for f in flags])}
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
    """The claimant owns the record; a previous owner's claim is revoked, competing ones rejected."""
    note = clean_text(note, AM.NOTE_MAX, "note")
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
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise AccountError(409, "the record changed meanwhile: reload and try again") from None
    return claim_out(claim)


def reject_claim(db: Session, claim_id: int, actor: str, note: str) -> dict:
    note = clean_text(note, AM.NOTE_MAX, "note")
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


# -- API: claims and owner controls -------------------------------------------------------------------


@router.post("/api/researchers/{researcher_id}/claim", status_code=201, response_model=AM.ClaimOut,
             tags=["claims"], responses=AM.WRITE_ERRORS, summary="Claim a researcher record")
def api_claim(researcher_id: ResearcherId, body: AM.ClaimIn, v: ApiUser, db: DB, service: Service) -> dict:
    """The record shows level L2 until an admin decides; if another account claims it too, the
    claim is `contested` and the admin chooses."""
    return make_claim(db, service, v, researcher_id, body.evidence, body.orcid)


@router.delete("/api/researchers/{researcher_id}/claim", response_model=AM.ClaimOut, tags=["claims"],
               responses=AM.WRITE_ERRORS, summary="Withdraw your claim")
def api_withdraw(researcher_id: ResearcherId, v: ApiUser, db: DB) -> dict:
    """Pending or approved; withdrawing an approved claim also removes your choices on the record."""
    return withdraw_claim(db, v, researcher_id)


@router.get("/api/researchers/{researcher_id}/owner", tags=["owner"], responses=AM.errors(401, 403, 404, 422, 503),
            summary="Your choices on a record you own")
def api_owner(researcher_id: ResearcherId, v: SignedIn, db: DB, service: Service) -> dict:
    """`open_to_collaborate` and every work with `pinned`, `excluded` and its "not mine" flag."""
    return owner_data(db, service, v, researcher_id)


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
    return set_choice(db, service, v, researcher_id, work_id, body.pinned, body.excluded)


@router.post("/api/researchers/{researcher_id}/works/{work_id}/not-mine", status_code=201,
             response_model=AM.FlagOut, tags=["owner"], responses=AM.WRITE_ERRORS,
             summary="Flag a work on your record as not yours")
def api_not_mine(researcher_id: ResearcherId, work_id: WorkId, body: AM.NotMineIn, v: ApiUser, db: DB,
                 service: Service) -> dict:
    """For the admin; until the admin dismisses the flag the work does not count in your expertise."""
    return flag_not_mine(db, service, v, researcher_id, work_id, body.reason)


# -- pages: claims and owner controls ---------------------------------------------------------------


@pages.get("/researchers/{researcher_id}/claim")
def claim_page(request: Request, researcher_id: ResearcherId, v: ViewerDep, db: DB, service: Service):
    return researcher_form_page(request, researcher_id, v, db, service, "claim.html", "Claim")


@pages.post("/researchers/{researcher_id}/claim")
def claim_form(researcher_id: ResearcherId, v: FormUser, db: DB, service: Service,
               evidence: Annotated[str, Form(max_length=AM.EVIDENCE_MAX * 2)] = "",
               orcid: Annotated[str, Form(max_length=200)] = ""):
    make_claim(db, service, v, researcher_id, evidence, orcid)
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
    data = owner_data(db, service, v, researcher_id)
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
    set_choice(db, service, v, researcher_id, work_id, *CHOICES[action])
    return redirect(f"/researchers/{researcher_id}/manage", "saved")


@pages.post("/researchers/{researcher_id}/works/{work_id}/not-mine")
def not_mine_form(researcher_id: ResearcherId, work_id: WorkId, v: FormUser, db: DB, service: Service,
                  reason: Annotated[str, Form(max_length=AM.REASON_MAX * 2)] = ""):
    flag_not_mine(db, service, v, researcher_id, work_id, reason)
    return redirect(f"/researchers/{researcher_id}/manage", "flagged")


# -- admin: review routes, behind the admin area's own credentials -----------------------------------


def review_router(access: AdminAccess) -> APIRouter:
    admin = APIRouter()

    def accounts_db(request: Request):
        return request.app.state.accounts.db

    def service_of(request: Request) -> Discovery | None:
        return getattr(request.app.state, "service", None)

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
        return await run_in_threadpool(with_db, request, review_data, service_of(request))

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
    async def review_page(request: Request):
        sid = access.session_of(request)
        if not sid:
            return RedirectResponse("/admin/login", status_code=303)
        data = await run_in_threadpool(with_db, request, review_data, service_of(request))
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
