"""Account rules: sign-up, log-in, sessions, CSRF tokens, rate limits, and what profiles show from them.

The other account rules live beside this module: `follows` (follow, the feed), `claims` (claims,
owner controls, the admin's review), `invitations` (invitations, inbox, blocks); their tables are in
`tables`. HTTP (routes, cookies, forms, templates) is in `web.routes`; nothing here knows about
requests.

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
* **Rate limits** live in the database (shared by every instance, `rate_limit`; each attempt is
  counted before it is tried, so concurrent attempts cannot slip past): failed log-ins per (account
  name, client address) and 20x that per address in a sliding window, so a stranger's wrong
  passwords slow that stranger down but never lock the owner out of their account from their own
  address; sign-ups per address per hour; invitations per account per day. The answer is 429 with
  `Retry-After`, the same whether the account exists or not.
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
import logging
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts.db import AccountsDB
from models.accounts.rate_limit import Limit, RateLimited, forget, release, take
from models.accounts.tables import (
    APPROVED,
    PENDING,
    Block,
    Claim,
    Follow,
    Invitation,
    LoginSession,
    OwnerProfile,
    User,
    WorkChoice,
    WorkFlag,
    utcnow,
)
from models.settings import Settings

log = logging.getLogger("discovery.accounts")

EMAIL_MAX, NAME_MIN, NAME_MAX = 254, 2, 60
PASSWORD_MIN, PASSWORD_MAX = 10, 1024
EVIDENCE_MAX, MESSAGE_MAX, REPLY_MAX, REASON_MAX, NOTE_MAX = 2000, 2000, 2000, 1000, 1000
ORCID_PATTERN = r"^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$"
IP_FACTOR = 20  # failed log-ins allowed per address = login_max_failures x this
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



@dataclass
class Viewer:
    user: User | None = None
    sid: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.user is not None


# -- rate limits ----------------------------------------------------------------------------------


def too_many(seconds: int, what: str) -> AccountError:
    minutes = max(1, round(seconds / 60))
    return AccountError(429, f"too many {what}: try again in about {minutes} minute{'s' if minutes > 1 else ''}",
                        {"Retry-After": str(seconds)})


# -- sign-up, log-in, sessions --------------------------------------------------------------------


def normalize_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
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
    if not NAME_MIN <= len(name) <= NAME_MAX or _CONTROL.search(name):
        raise AccountError(422, f"choose a display name of {NAME_MIN} to {NAME_MAX} characters")
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(422, f"choose a password of at least {PASSWORD_MIN} characters")
    if len(set(password)) < 4:
        raise AccountError(422, "choose a password with more different characters")
    return password


def create_account(accounts: Accounts, db: Session, ip: str, email: str, display_name: str, password: str) -> User:
    """Validate, rate-limit (per address), create. Nothing is written when anything fails."""
    email = normalize_email(email)
    display_name = clean_display_name(display_name)
    check_password(password)
    try:  # counts the attempt even if the email turns out to be taken
        take(db, Limit("signup-ip", accounts.mac("signup-ip", ip), accounts.settings.signups_per_hour,
                       timedelta(hours=1)))
    except RateLimited as exc:
        raise too_many(exc.retry_after, "sign-ups from this address") from None
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
    """The account for this email and password, or 401 with one message for every failure.

    Each attempt is counted before the password is checked (per account name and address, and per
    address), so concurrent guesses get at most the limit tried; a correct password un-counts
    its attempt and the name's earlier failures from this address."""
    settings = accounts.settings
    window = timedelta(minutes=settings.login_window_minutes)
    name = (email or "").strip().lower()
    per_account = Limit("login-account-ip", accounts.mac("login-account-ip", f"{name}\n{ip}"),
                        settings.login_max_failures, window)
    per_address = Limit("login-ip", accounts.mac("login-ip", ip), settings.login_max_failures * IP_FACTOR, window)
    try:
        attempt = take(db, per_account, per_address)
    except RateLimited as exc:
        raise too_many(exc.retry_after, "failed log-ins") from None
    user = db.scalar(select(User).where(User.email == name))
    if not accounts.verify_password(user.password_hash if user else None, password or ""):
        log.info("log-in refused from %s", ip)
        raise AccountError(401, "wrong email or password")
    forget(db, per_account.bucket, per_account.key)
    release(db, attempt)
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


@dataclass(frozen=True)
class AccountFacts:
    """What the accounts database says about one researcher record, for one viewer
    (`facts_for`). The defaults describe a record nobody follows or claimed."""

    followers: int = 0
    claim_status: str = "unclaimed"  # unclaimed | claimed | contested | approved
    claim_evidence: str | None = None  # names the claim, for the trust breakdown
    open_to_collaborate: bool | None = None  # stated by the owner; unknown until then
    pinned: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()  # excluded from expertise, or flagged "not mine"
    actions: dict = field(default_factory=lambda: {
        name: {"available": False, "reason": reason} for name, reason in (
            ("follow", "Log in to follow this researcher."),
            ("claim", "Log in to claim this author record."),
            ("invite", "Invitations reach researchers who claimed their record and are open to collaborate."),
        )
    })
    viewer: dict = field(default_factory=lambda: {"signed_in": False, "following": False, "is_owner": False,
                                                   "claim": None})


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

    # An approved record offers others "report a problem" (a competing claim the admin reviews),
    # never a prominent "claim this profile".
    report = {"available": False, "withdraw": False, "report": True,
              "reason": "An admin verified who owns this record. If that is wrong, report a problem: an admin reviews it."}
    if user is None:
        follow = {"available": False, "active": False, "reason": "Log in to follow this researcher."}
        claim = report if approved else {"available": False, "withdraw": False, "report": False,
                                         "reason": "Log in to claim this author record."}
    else:
        if is_owner:
            follow = {"available": False, "active": False, "reason": "This is your own record: you cannot follow it."}
        else:
            follow = {"available": True, "active": following,
                      "reason": "You follow this researcher: their new works reach your feed." if following
                      else "Follow to see their new works in your feed."}
        if mine is not None:
            claim = {"available": False, "withdraw": True, "report": False,
                     "reason": "You own this record." if is_owner
                     else f"Your claim #{mine.id} awaits admin approval."}
        elif approved:
            claim = report
        elif pending:
            claim = {"available": True, "withdraw": False, "report": False,
                     "reason": "Another account claims this record. If it is yours, claim it too: an admin decides."}
        else:
            claim = {"available": True, "withdraw": False, "report": False,
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


