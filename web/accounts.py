"""Accounts: sign-up, log-in, sessions, CSRF, rate limits, and what profiles show from them.

The account features live in four modules over this one: `web.accounts_follow` (follow, the
following page, `/me/feed`), `web.accounts_claims` (claims, owner controls, the admin's review),
`web.accounts_invites` (invitations, inbox, blocks). Data is in the accounts database
(`models.accounts`, SQLAlchemy + Alembic; SQLite in the data directory or PostgreSQL).

Security rules every route follows
==================================
* **Passwords** are hashed with argon2id (argon2-cffi) and never stored, echoed or logged in clear.
  An unknown email is checked against a dummy hash, so it takes as long and gets the same answer
  ("Wrong email or password") as a wrong password: the log-in form tells nobody who has an account.
* **Sessions**: a random id in a signed cookie (`discovery_session`: HttpOnly, SameSite=Lax,
  Secure over HTTPS). The database keeps only its SHA-256 and the expiry, so logging out (or
  expiry) ends it everywhere, and any app instance sharing the database accepts it.
* **CSRF**: every state-changing request carries a token bound to the session: the `csrf` field of
  each form, or the `X-CSRF-Token` header for the API (from the log-in answer, `/api/me` or
  `/api/auth/csrf`). Log-in and sign-up, before any session, bind theirs to a random
  `discovery_csrf` cookie. A missing or wrong token is 403 and changes nothing.
* **Rate limits** live in the database (shared by every instance): failed log-ins per account name
  (and 20x that per address) in a sliding window, sign-ups per address per hour, invitations per
  account per day. The answer is 429 with `Retry-After`, the same whether the account exists or not.
* **No email is ever shown**: accounts appear by display name and public id only.
* **Order of checks**: logged in (401) -> CSRF (403) -> allowed on this object (403/404) -> state
  (409); nothing is written before all pass.

Adding an external provider later
=================================
Log-in ends in `start_session(accounts, db, user)`; nothing else knows how the user proved who they are.
An OAuth / OpenID Connect provider (ORCID first, e.g. with authlib) adds a redirect route and a
callback route that look up (or create) the account through `identities(provider, subject)` and
call `start_session`. Accounts without a password (`password_hash` null) simply cannot use the
password form. Nothing here reaches the internet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Iterator, Optional
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Depends, Form, Header, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts import AccountsDB
from models.accounts.tables import (
    APPROVED,
    PENDING,
    Block,
    Claim,
    Follow,
    Invitation,
    LoginSession,
    OwnerProfile,
    RateEvent,
    User,
    WorkChoice,
    WorkFlag,
    utcnow,
)
from models.settings import Settings
from web import accounts_models as AM
from web.render import render
from web.shapes import AccountFacts

log = logging.getLogger("discovery.accounts")

SESSION_COOKIE = "discovery_session"
ANON_COOKIE = "discovery_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
IP_FACTOR = 20  # failed log-ins allowed per address = login_max_failures x this
RATE_EVENT_TTL = timedelta(days=2)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AccountError(Exception):
    """A refusal with a status and a readable message; rendered in the one error shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


# -- per-app state ------------------------------------------------------------------------------


class Accounts:
    """The accounts database, the signing secret and the password hasher of one app.

    Built in `create_app` without touching the disk; the database opens and migrates on start-up
    (`start`, from the lifespan) or on first use, whichever comes first."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
        self._db: AccountsDB | None = None
        self._secret: bytes | None = None
        self._dummy: str | None = None
        self._lock = threading.Lock()

    # database
    @property
    def db(self) -> AccountsDB:
        if self._db is None:
            with self._lock:
                if self._db is None:
                    db = AccountsDB(self.settings.accounts_database_url)
                    try:
                        db.migrate()
                    except Exception as exc:
                        db.close()
                        log.error("accounts database unavailable: %s", exc)
                        raise AccountError(503, f"the accounts database is unavailable ({type(exc).__name__})",
                                           {"Retry-After": "30"}) from exc
                    self._db = db
        return self._db

    def start(self) -> None:
        """At server start: migrate, and make sure the signing secret exists."""
        try:
            _ = self.db
        except AccountError:
            pass  # logged; account routes answer 503 until the database is back
        _ = self.secret

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # secrets
    @property
    def secret(self) -> bytes:
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    self._secret = _load_secret(self.settings).encode()
        return self._secret

    @property
    def signer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt="discovery-session")

    def mac(self, purpose: str, value: str) -> str:
        return hmac.new(self.secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def csrf_for_session(self, sid: str) -> str:
        return self.mac("csrf", sid)

    def csrf_for_anonymous(self, nonce: str) -> str:
        return self.mac("csrf-anonymous", nonce)

    # passwords
    def hash_password(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify_password(self, stored: str | None, password: str) -> bool:
        """Constant work whether or not there is a stored hash (no timing hint of who exists)."""
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    # session cookies (signature only; the database decides whether the session is alive)
    def session_id(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            sid = self.signer.loads(cookie, max_age=self.settings.session_hours * 3600)
        except (BadSignature, TypeError, ValueError):
            return None
        return sid if isinstance(sid, str) else None


def _load_secret(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret-key"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return secret


def session_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "?"


# -- dependencies -------------------------------------------------------------------------------


def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def db_session(accounts: Annotated[Accounts, Depends(get_accounts)]) -> Iterator[Session]:
    with accounts.db.session() as session:
        yield session


DB = Annotated[Session, Depends(db_session)]


@dataclass
class Viewer:
    user: User | None = None
    sid: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.user is not None


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


# -- rate limits ----------------------------------------------------------------------------------


def _count(db: Session, bucket: str, key: str, since: datetime) -> tuple[int, datetime | None]:
    count, oldest = db.execute(
        select(func.count(RateEvent.id), func.min(RateEvent.at)).where(
            RateEvent.bucket == bucket, RateEvent.key == key, RateEvent.at > since)
    ).one()
    return int(count), oldest


def rate_limited(db: Session, bucket: str, key: str, limit: int, window: timedelta) -> int | None:
    """Seconds until the next attempt is allowed, or None when under the limit."""
    now = utcnow()
    count, oldest = _count(db, bucket, key, now - window)
    if count < limit:
        return None
    return max(1, int(((oldest or now) + window - now).total_seconds()) + 1)


def record_event(db: Session, bucket: str, key: str) -> None:
    now = utcnow()
    db.execute(delete(RateEvent).where(RateEvent.at < now - RATE_EVENT_TTL))
    db.add(RateEvent(bucket=bucket, key=key, at=now))


def too_many(seconds: int, what: str) -> AccountError:
    minutes = max(1, round(seconds / 60))
    return AccountError(429, f"too many {what}: try again in about {minutes} minute{'s' if minutes > 1 else ''}",
                        {"Retry-After": str(seconds)})


# -- sign-up, log-in, sessions --------------------------------------------------------------------


def normalize_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    if len(email) > AM.EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise AccountError(422, "enter a valid email address")
    return email


def clean_text(raw: str | None, limit: int, what: str, required: bool = False) -> str:
    """User text: stripped, control characters (but newlines) refused, length checked."""
    text = (raw or "").replace("\r\n", "\n").strip()
    if _CONTROL.search(text.replace("\n", "")):
        raise AccountError(422, f"{what} contains control characters")
    if required and not text:
        raise AccountError(422, f"{what} is required")
    if len(text) > limit:
        raise AccountError(422, f"{what} is longer than {limit} characters")
    return text


def clean_display_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not AM.NAME_MIN <= len(name) <= AM.NAME_MAX or _CONTROL.search(name):
        raise AccountError(422, f"choose a display name of {AM.NAME_MIN} to {AM.NAME_MAX} characters")
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or not AM.PASSWORD_MIN <= len(password) <= AM.PASSWORD_MAX:
        raise AccountError(422, f"choose a password of at least {AM.PASSWORD_MIN} characters")
    if len(set(password)) < 4:
        raise AccountError(422, "choose a password with more different characters")
    return password


def create_account(accounts: Accounts, db: Session, ip: str, email: str, display_name: str, password: str) -> User:
    """Validate, rate-limit (per address), create. Nothing is written when anything fails."""
    email = normalize_email(email)
    display_name = clean_display_name(display_name)
    check_password(password)
    settings = accounts.settings
    ip_key = accounts.mac("signup-ip", ip)
    wait = rate_limited(db, "signup-ip", ip_key, settings.signups_per_hour, timedelta(hours=1))
    if wait:
        raise too_many(wait, "sign-ups from this address")
    record_event(db, "signup-ip", ip_key)
    db.commit()  # count the attempt even if the email turns out to be taken
    user = User(public_id="u-" + secrets.token_hex(6), email=email, display_name=display_name,
                password_hash=accounts.hash_password(password))
    db.add(user)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise AccountError(409, "could not create an account with these details; if you have one, log in") from None
    log.info("account %s created", user.public_id)
    return user


def authenticate(accounts: Accounts, db: Session, ip: str, email: str, password: str) -> User:
    """The account for this email and password, or 401 with one message for every failure."""
    settings = accounts.settings
    window = timedelta(minutes=settings.login_window_minutes)
    email_key = accounts.mac("login-email", (email or "").strip().lower())
    ip_key = accounts.mac("login-ip", ip)
    wait = rate_limited(db, "login-email", email_key, settings.login_max_failures, window) or rate_limited(
        db, "login-ip", ip_key, settings.login_max_failures * IP_FACTOR, window)
    if wait:
        raise too_many(wait, "failed log-ins")
    user = db.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if not accounts.verify_password(user.password_hash if user else None, password or ""):
        record_event(db, "login-email", email_key)
        record_event(db, "login-ip", ip_key)
        db.commit()
        log.info("log-in refused from %s", ip)
        raise AccountError(401, "wrong email or password")
    db.execute(delete(RateEvent).where(RateEvent.bucket == "login-email", RateEvent.key == email_key))
    if accounts.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = accounts.hash_password(password)
    db.commit()
    return user


def start_session(accounts: Accounts, db: Session, user: User, previous: str | None = None) -> tuple[str, str]:
    """(cookie value, session id) of a new session for `user`; any login provider ends here.
    A fresh id every time (no session fixation); the `previous` session of this browser ends."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    db.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    if previous:
        db.execute(delete(LoginSession).where(LoginSession.id_hash == session_hash(previous)))
    db.add(LoginSession(id_hash=session_hash(sid), user_id=user.id, created_at=now,
                        expires_at=now + timedelta(hours=accounts.settings.session_hours)))
    db.commit()
    return accounts.signer.dumps(sid), sid


def end_session(db: Session, sid: str) -> None:
    db.execute(delete(LoginSession).where(LoginSession.id_hash == session_hash(sid)))
    db.commit()


def user_out(user: User) -> dict:
    return {"id": user.public_id, "display_name": user.display_name}


def claim_out(claim: Claim, contested: bool = False) -> dict:
    return {"id": claim.id, "researcher_id": claim.researcher_id, "status": claim.status, "contested": contested,
            "created_at": iso(claim.created_at), "decided_at": iso(claim.decided_at),
            "decision_note": claim.decision_note}


def contested_ids(db: Session, researcher_ids: set[str]) -> set[str]:
    """Records claimed by more than one account right now (pending or approved claims)."""
    if not researcher_ids:
        return set()
    rows = db.execute(
        select(Claim.researcher_id, func.count(Claim.id)).where(
            Claim.researcher_id.in_(researcher_ids), Claim.status.in_((PENDING, APPROVED)))
        .group_by(Claim.researcher_id)
    ).all()
    return {rid for rid, n in rows if n > 1}


def me_data(accounts: Accounts, db: Session, v: Viewer) -> dict:
    user = v.user
    claims = db.scalars(select(Claim).where(Claim.user_id == user.id).order_by(Claim.id.desc())).all()
    contested = contested_ids(db, {c.researcher_id for c in claims if c.status in (PENDING, APPROVED)})
    return {
        "user": user_out(user),
        "csrf": accounts.csrf_for_session(v.sid),
        "claims": [claim_out(c, c.researcher_id in contested and c.status in (PENDING, APPROVED)) for c in claims],
        "owned": [c.researcher_id for c in claims if c.status == APPROVED],
        "following": db.scalar(select(func.count()).select_from(Follow).where(Follow.user_id == user.id)) or 0,
        "pending_invitations": db.scalar(select(func.count()).select_from(Invitation).where(
            Invitation.recipient_id == user.id, Invitation.status == "pending")) or 0,
    }


# -- what a profile shows -------------------------------------------------------------------------


def owner_of(db: Session, researcher_id: str) -> Claim | None:
    return db.scalar(select(Claim).where(Claim.researcher_id == researcher_id, Claim.status == APPROVED))


def facts_for(db: Session, researcher_id: str, v: Viewer) -> AccountFacts:
    """Followers, the claim (status and the evidence the trust breakdown shows), the owner's
    choices, and the actions open to this viewer."""
    followers = db.scalar(select(func.count()).select_from(Follow).where(Follow.researcher_id == researcher_id)) or 0
    claims = db.scalars(select(Claim).where(Claim.researcher_id == researcher_id,
                                            Claim.status.in_((PENDING, APPROVED))).order_by(Claim.id)).all()
    approved = next((c for c in claims if c.status == APPROVED), None)
    pending = [c for c in claims if c.status == PENDING]
    if approved:
        status = "approved"
        evidence = (f"Claim #{approved.id} by an account (made {day(approved.created_at)}), "
                    f"approved by an admin on {day(approved.decided_at)}")
        if pending:
            evidence += f"; {len(pending)} competing claim{'s' if len(pending) > 1 else ''} under admin review"
    elif len(pending) > 1:
        status = "contested"
        evidence = (f"Contested: claims {', '.join('#' + str(c.id) for c in pending)} by different accounts; "
                    "an admin decides")
    elif pending:
        status = "claimed"
        evidence = f"Claim #{pending[0].id} by an account (made {day(pending[0].created_at)}), awaiting admin approval"
    else:
        status, evidence = "unclaimed", None

    open_to_collaborate = None
    pinned: set[str] = set()
    excluded: set[str] = set()
    if approved:
        profile = db.get(OwnerProfile, researcher_id)
        open_to_collaborate = profile.open_to_collaborate if profile else None
        for choice in db.scalars(select(WorkChoice).where(WorkChoice.researcher_id == researcher_id)):
            if choice.pinned:
                pinned.add(choice.work_id)
            if choice.excluded:
                excluded.add(choice.work_id)
    excluded |= set(db.scalars(select(WorkFlag.work_id).where(WorkFlag.researcher_id == researcher_id,
                                                               WorkFlag.status != "dismissed")))

    user = v.user
    mine = next((c for c in claims if user is not None and c.user_id == user.id), None)
    is_owner = bool(approved and user is not None and approved.user_id == user.id)
    following = bool(user is not None and db.get(Follow, (user.id, researcher_id)))
    blocked = False
    if user is not None and approved and not is_owner:
        blocked = db.get(Block, (approved.user_id, user.id)) is not None

    if user is None:
        follow = {"available": False, "active": False, "reason": "Log in to follow this researcher."}
        claim = {"available": False, "withdraw": False, "reason": "Log in to claim this author record."}
    else:
        follow = {"available": True, "active": following,
                  "reason": "You follow this researcher: their new works reach your feed." if following
                  else "Follow to see their new works in your feed."}
        if mine is not None:
            claim = {"available": False, "withdraw": True,
                     "reason": "You own this record." if is_owner
                     else f"Your claim #{mine.id} awaits admin approval."}
        elif approved or pending:
            claim = {"available": True, "withdraw": False,
                     "reason": "Another account claims this record. If it is yours, claim it too: an admin decides."}
        else:
            claim = {"available": True, "withdraw": False,
                     "reason": "If this is you, claim it: an admin checks the claim."}
    if not approved:
        invite = {"available": False, "reason": "Invitations open once the researcher has claimed this record."}
    elif open_to_collaborate is not True:
        invite = {"available": False, "reason": "The researcher is not open to collaboration invitations."}
    elif user is None:
        invite = {"available": False, "reason": "Log in to invite this researcher to collaborate."}
    elif is_owner:
        invite = {"available": False, "reason": "This is your record: your invitations arrive in your inbox."}
    elif blocked:
        invite = {"available": False, "reason": "You cannot invite this researcher."}
    else:
        invite = {"available": True, "reason": "The researcher is open to collaborate: send a short message."}
    return AccountFacts(
        followers=followers, claim_status=status, claim_evidence=evidence, open_to_collaborate=open_to_collaborate,
        pinned=frozenset(pinned), excluded=frozenset(excluded),
        actions={"follow": follow, "claim": claim, "invite": invite},
        viewer={"signed_in": user is not None, "following": following, "is_owner": is_owner,
                "claim": claim_out(mine, len(pending) + (1 if approved else 0) > 1) if mine else None},
    )


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
    "claimed": "Claim sent: an admin will review it. Until then the record shows level L2.",
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


def json_dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
