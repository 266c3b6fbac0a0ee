"""Account routes: sign-up, log-in, log-out, `/me`; the request dependencies (who is asking, CSRF)
every account route uses; the site header's account links.

The rules behind them (passwords, sessions, rate limits, profile facts) are in
`models.accounts.auth`; the security rules every route follows are described there. Follows,
claims and invitations have their own route modules beside this one.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Iterator, Optional
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Header, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from models.accounts.auth import (
    AccountError,
    AccountFacts,
    Accounts,
    Viewer,
    authenticate,
    create_account,
    end_session,
    facts_for,
    me_data,
    session_hash,
    start_session,
    user_out,
)
from models.accounts.tables import LoginSession, User, utcnow
from web import accounts_models as AM
from web.render import render

SESSION_COOKIE = "discovery_session"
ANON_COOKIE = "discovery_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "?"


# -- dependencies -------------------------------------------------------------------------------


def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def db_session(accounts: Annotated[Accounts, Depends(get_accounts)]) -> Iterator[Session]:
    with accounts.db.session() as session:
        yield session


DB = Annotated[Session, Depends(db_session)]


def viewer(request: Request, accounts: Annotated[Accounts, Depends(get_accounts)], db: DB) -> Viewer:
    """Who is asking: the account of a live session cookie, or nobody."""
    sid = accounts.session_id(request.cookies.get(SESSION_COOKIE))
    if sid is None:
        return Viewer()
    row = db.get(LoginSession, session_hash(sid))
    if row is None or row.expires_at <= utcnow():
        return Viewer()
    user = db.get(User, row.user_id)
    return Viewer(user, sid) if user is not None else Viewer()


ViewerDep = Annotated[Viewer, Depends(viewer)]


def signed_in(v: ViewerDep) -> Viewer:
    if not v.signed_in:
        raise AccountError(401, "log in first")
    return v


def _csrf_ok(accounts: Accounts, v: Viewer, token: object) -> bool:
    return isinstance(token, str) and bool(token) and v.sid is not None and hmac.compare_digest(
        accounts.csrf_for_session(v.sid), token)


async def form_user(request: Request, v: Annotated[Viewer, Depends(signed_in)],
                    accounts: Annotated[Accounts, Depends(get_accounts)]) -> Viewer:
    """A logged-in browser whose form carries the session's CSRF token."""
    form = await request.form()
    if not _csrf_ok(accounts, v, form.get(CSRF_FIELD)):
        raise AccountError(403, "missing or invalid CSRF token: reload the page and try again")
    return v


def api_user(
    v: Annotated[Viewer, Depends(signed_in)],
    accounts: Annotated[Accounts, Depends(get_accounts)],
    x_csrf_token: Annotated[Optional[str], Header(
        alias=CSRF_HEADER, max_length=200,
        description="The session's CSRF token (from log-in, /api/me or /api/auth/csrf).")] = None,
) -> Viewer:
    """A logged-in API client that sent the session's CSRF token in `X-CSRF-Token`."""
    if not _csrf_ok(accounts, v, x_csrf_token):
        raise AccountError(403, f"missing or invalid CSRF token: send the {CSRF_HEADER} header")
    return v


ObjectId = Annotated[int, Path(ge=1, le=2_147_483_647, description="A numeric id.")]
FormUser = Annotated[Viewer, Depends(form_user)]
ApiUser = Annotated[Viewer, Depends(api_user)]
SignedIn = Annotated[Viewer, Depends(signed_in)]


def anonymous_csrf_ok(request: Request, accounts: Accounts, token: object) -> bool:
    nonce = request.cookies.get(ANON_COOKIE)
    return isinstance(token, str) and bool(token) and bool(nonce) and hmac.compare_digest(
        accounts.csrf_for_anonymous(nonce), token)


def ensure_anonymous_nonce(request: Request) -> tuple[str, bool]:
    nonce = request.cookies.get(ANON_COOKIE)
    if nonce and 16 <= len(nonce) <= 100:
        return nonce, False
    return secrets.token_urlsafe(24), True


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def profile_facts(request: Request, researcher_id: str) -> AccountFacts:
    """For the profile page and its twin; a profile still renders (with no account facts) when the
    accounts database is down."""
    accounts: Accounts = request.app.state.accounts
    try:
        with accounts.db.session() as db:
            return facts_for(db, researcher_id, viewer(request, accounts, db))
    except AccountError:
        return AccountFacts()


# -- templates ----------------------------------------------------------------------------------


def account_nav(request: Request) -> dict:
    """For the site header: signed in or not, from the cookie's signature alone (no database)."""
    accounts: Accounts | None = getattr(request.app.state, "accounts", None)
    sid = accounts.session_id(request.cookies.get(SESSION_COOKIE)) if accounts else None
    return {"signed_in": sid is not None, "csrf": accounts.csrf_for_session(sid) if sid else ""}


NOTICES = {
    "welcome": "Welcome! Your account is ready.",
    "logged-in": "You are logged in.",
    "logged-out": "You are logged out.",
    "followed": "You follow this researcher now.",
    "unfollowed": "You no longer follow this researcher.",
    "claimed": "Claim sent: an admin will review it. Until then the record shows “claim pending”.",
    "withdrawn": "Claim withdrawn.",
    "saved": "Saved.",
    "flagged": "Thanks: the admin will look at this work.",
    "invited": "Invitation sent.",
    "accepted": "Invitation accepted.",
    "declined": "Invitation declined.",
    "blocked": "Blocked: this account cannot invite you any more.",
    "unblocked": "Unblocked.",
}


def notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done", ""))


def install_template_globals(templates) -> None:  # noqa: ANN001
    templates.env.globals.update(account_nav=account_nav, notice=notice)


def safe_next(target: str | None, default: str = "/me") -> str:
    """Only same-site paths: no scheme, no host, no `//` or `/\\` tricks."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or any(
            c in target for c in "\r\n\t\\"):
        return default
    return target


def redirect(path: str, done: str | None = None) -> RedirectResponse:
    if done:
        path += ("&" if "?" in path else "?") + f"done={done}"
    return RedirectResponse(path, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


# -- routes: sign-up, log-in, log-out, me -----------------------------------------------------------

router = APIRouter()
pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
AccountsDep = Annotated[Accounts, Depends(get_accounts)]


def _session_response(request: Request, accounts: Accounts, response: Response, cookie: str) -> Response:
    set_cookie(request, response, SESSION_COOKIE, cookie, accounts.settings.session_hours * 3600)
    response.delete_cookie(ANON_COOKIE, path="/")
    return response


def _anonymous_csrf(request: Request, accounts: Accounts, token: Optional[str]) -> None:
    """Log-in and sign-up: the token of the anonymous CSRF cookie, or of the current session (switching
    accounts while logged in)."""
    sid = accounts.session_id(request.cookies.get(SESSION_COOKIE))
    session_ok = sid is not None and isinstance(token, str) and hmac.compare_digest(accounts.csrf_for_session(sid),
                                                                                  token)
    if not (session_ok or anonymous_csrf_ok(request, accounts, token)):
        raise AccountError(403, "missing or invalid CSRF token: reload the page and try again "
                                "(API: GET /api/auth/csrf first)")


@router.get("/api/auth/csrf", response_model=AM.CsrfOut, tags=["accounts"], responses=AM.errors(503),
            summary="A CSRF token for log-in and sign-up")
def api_csrf(request: Request, accounts: AccountsDep, db: DB) -> Response:
    """Logged in: the session's token. Otherwise: sets the `discovery_csrf` cookie and returns the
    token bound to it; send it as `X-CSRF-Token` to `/api/auth/login` or `/api/auth/signup`."""
    v = viewer(request, accounts, db)
    if v.signed_in:
        return JSONResponse({"csrf": accounts.csrf_for_session(v.sid)})
    nonce, new = ensure_anonymous_nonce(request)
    response = JSONResponse({"csrf": accounts.csrf_for_anonymous(nonce)})
    if new:
        set_cookie(request, response, ANON_COOKIE, nonce, 3600 * 24)
    return response


CsrfHeader = Annotated[Optional[str], Header(alias=CSRF_HEADER, max_length=200,
                                             description="From GET /api/auth/csrf.")]


@router.post("/api/auth/signup", status_code=201, response_model=AM.SessionOut, tags=["accounts"],
             responses=AM.errors(400, 403, 409, 422, 429, 503), summary="Create an account and log in")
def api_signup(request: Request, body: AM.SignupIn, accounts: AccountsDep, db: DB,
               x_csrf_token: CsrfHeader = None) -> Response:
    """The email is only for logging in: no answer, page or log line ever shows it."""
    _anonymous_csrf(request, accounts, x_csrf_token)
    user = create_account(accounts, db, client_ip(request), body.email, body.display_name, body.password)
    cookie, sid = start_session(accounts, db, user, accounts.session_id(request.cookies.get(SESSION_COOKIE)))
    response = JSONResponse({"user": user_out(user), "csrf": accounts.csrf_for_session(sid)}, status_code=201)
    return _session_response(request, accounts, response, cookie)


@router.post("/api/auth/login", response_model=AM.SessionOut, tags=["accounts"],
             responses=AM.errors(400, 401, 403, 422, 429, 503), summary="Log in")
def api_login(request: Request, body: AM.LoginIn, accounts: AccountsDep, db: DB,
              x_csrf_token: CsrfHeader = None) -> Response:
    """One answer (401) for an unknown email and a wrong password; 429 after too many failures."""
    _anonymous_csrf(request, accounts, x_csrf_token)
    user = authenticate(accounts, db, client_ip(request), body.email, body.password)
    cookie, sid = start_session(accounts, db, user, accounts.session_id(request.cookies.get(SESSION_COOKIE)))
    response = JSONResponse({"user": user_out(user), "csrf": accounts.csrf_for_session(sid)})
    return _session_response(request, accounts, response, cookie)


@router.post("/api/auth/logout", response_model=AM.OkOut, tags=["accounts"], responses=AM.errors(401, 403, 503),
             summary="Log out (ends the session everywhere)")
def api_logout(v: ApiUser, db: DB) -> Response:
    end_session(db, v.sid)
    response = JSONResponse({"ok": True})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/me", response_model=AM.MeOut, tags=["accounts"], responses=AM.READ_ERRORS,
            summary="The logged-in account")
def api_me(v: SignedIn, accounts: AccountsDep, db: DB) -> dict:
    """Display name and public id (never the email), the CSRF token, claims, owned records,
    how many researchers you follow, invitations waiting."""
    return me_data(accounts, db, v)


def _auth_page(request: Request, accounts: Accounts, name: str, context: dict, status_code: int = 200,
               next: str | None = None) -> Response:
    """The log-in or sign-up form with a fresh anonymous CSRF token; `next` (or ?next=) is kept
    only when it is a path on this site."""
    nonce, new = ensure_anonymous_nonce(request)
    target = safe_next(next or request.query_params.get("next"), "")
    response = render(request, name, {**context, "csrf": accounts.csrf_for_anonymous(nonce), "next": target},
                      status_code=status_code)
    if new:
        set_cookie(request, response, ANON_COOKIE, nonce, 3600 * 24)
    return response


@pages.get("/signup")
def signup_page(request: Request, accounts: AccountsDep):
    return _auth_page(request, accounts, "signup.html", {"page_title": "Sign up"})


@pages.post("/signup")
def signup_form(request: Request, accounts: AccountsDep, db: DB,
                email: Annotated[str, Form(max_length=1000)] = "",
                display_name: Annotated[str, Form(max_length=1000)] = "",
                password: Annotated[str, Form(max_length=AM.PASSWORD_MAX)] = "",
                csrf: Annotated[str, Form(max_length=200)] = "",
                next: Annotated[str, Form(max_length=2000)] = ""):
    _anonymous_csrf(request, accounts, csrf)
    try:
        user = create_account(accounts, db, client_ip(request), email, display_name, password)
    except AccountError as exc:
        if exc.status == 429:
            raise
        # Re-render with the message; the email and password are never echoed back.
        return _auth_page(request, accounts, "signup.html", {"page_title": "Sign up", "error": exc.message,
                                                             "display_name": display_name[:AM.NAME_MAX]},
                          status_code=exc.status, next=next)
    cookie, _ = start_session(accounts, db, user, accounts.session_id(request.cookies.get(SESSION_COOKIE)))
    return _session_response(request, accounts, redirect(safe_next(next), "welcome"), cookie)


@pages.get("/login")
def login_page(request: Request, accounts: AccountsDep):
    return _auth_page(request, accounts, "login.html", {"page_title": "Log in"})


@pages.post("/login")
def login_form(request: Request, accounts: AccountsDep, db: DB,
               email: Annotated[str, Form(max_length=1000)] = "",
               password: Annotated[str, Form(max_length=AM.PASSWORD_MAX)] = "",
               csrf: Annotated[str, Form(max_length=200)] = "",
               next: Annotated[str, Form(max_length=2000)] = ""):
    _anonymous_csrf(request, accounts, csrf)
    try:
        user = authenticate(accounts, db, client_ip(request), email, password)
    except AccountError as exc:
        if exc.status == 429:
            raise
        return _auth_page(request, accounts, "login.html", {"page_title": "Log in", "error": exc.message},
                          status_code=exc.status, next=next)
    cookie, _ = start_session(accounts, db, user, accounts.session_id(request.cookies.get(SESSION_COOKIE)))
    return _session_response(request, accounts, redirect(safe_next(next), "logged-in"), cookie)


@pages.post("/logout")
def logout_form(v: FormUser, db: DB):
    end_session(db, v.sid)
    response = redirect("/", "logged-out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@pages.get("/me")
def me_page(request: Request, v: ViewerDep, accounts: AccountsDep, db: DB):
    if not v.signed_in:
        return login_redirect(request)
    data = me_data(accounts, db, v)
    names = researcher_names(request, [c["researcher_id"] for c in data["claims"]])
    return render(request, "me.html", {"data": data, "names": names, "csrf": data["csrf"], "alternate": "/api/me",
                                       "page_title": "Your account"})


def researcher_names(request: Request, ids: list[str]) -> dict[str, str]:
    """Names of researcher ids from the live index (empty when the engine is unavailable)."""
    service = getattr(request.app.state, "service", None)
    if service is None or not ids:
        return {}
    try:
        return {d.id: d.name for d in service.engine.get_researchers(list(dict.fromkeys(ids)))}
    except Exception:  # noqa: BLE001 - names are decoration; the page works without them
        return {}
