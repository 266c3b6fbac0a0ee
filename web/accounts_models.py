"""Request and response models of the account API (`/api/auth`, `/api/me`, follows, claims, owner
controls, invitations, claim review): what `/docs` shows. Answers are built by the rules in `models.accounts`."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from models.accounts.auth import (
    EMAIL_MAX,
    EVIDENCE_MAX,
    MESSAGE_MAX,
    NAME_MAX,
    NAME_MIN,
    NOTE_MAX,
    ORCID_PATTERN,
    PASSWORD_MAX,
    PASSWORD_MIN,
    REASON_MAX,
    REPLY_MAX,
)
from web.api_models import ErrorBody


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors: every account route documents the refusals it can give -------------------------------

def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "The request cannot be done as asked (e.g. inviting yourself).",
        401: "Not logged in (or the session expired): log in first.",
        403: "Missing or invalid CSRF token, or not allowed to do this.",
        404: "Unknown researcher, work, claim or invitation (or not yours).",
        409: "Conflicts with the current state (e.g. already claimed, already answered).",
        422: "A parameter failed validation.",
        429: "Rate limited; see the Retry-After header.",
        503: "The accounts database or the search engine is unavailable.",
    }
    return {status: {"model": ErrorBody, "description": text[status]} for status in statuses}


WRITE_ERRORS = errors(400, 401, 403, 404, 409, 422, 429, 503)
READ_ERRORS = errors(401, 422, 503)
ADMIN_ERRORS = errors(400, 401, 403, 404, 409, 422, 429, 503)


# -- requests -----------------------------------------------------------------------------------

class SignupIn(Strict):
    email: str = Field(min_length=3, max_length=EMAIL_MAX, description="Used to log in; never shown to anyone.")
    display_name: str = Field(min_length=NAME_MIN, max_length=NAME_MAX, description="What others see.")
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class LoginIn(Strict):
    email: str = Field(min_length=1, max_length=EMAIL_MAX)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class ClaimIn(Strict):
    evidence: str = Field("", max_length=EVIDENCE_MAX,
                          description="Why this record is yours: homepage, affiliation, papers; the admin reads it.")
    orcid: Optional[str] = Field(None, pattern=ORCID_PATTERN, description="Your ORCID iD, compared with the record's.")


class OwnerIn(Strict):
    open_to_collaborate: bool


class WorkChoiceIn(Strict):
    pinned: Optional[bool] = Field(None, description="Show the work first on the profile.")
    excluded: Optional[bool] = Field(
        None, description="Leave the work out of your researcher vector and topics from the next reindex on.")


class NotMineIn(Strict):
    reason: str = Field("", max_length=REASON_MAX)


class InvitationIn(Strict):
    message: str = Field(min_length=1, max_length=MESSAGE_MAX)


class ReplyIn(Strict):
    reply: str = Field("", max_length=REPLY_MAX, description="Optional; the only way to share contact details.")


class DecisionIn(Strict):
    note: str = Field("", max_length=NOTE_MAX)


class FlagResolutionIn(Strict):
    status: Literal["accepted", "dismissed"] = Field(
        description="`accepted`: not theirs (stays out of their expertise); `dismissed`: counts again.")


# -- answers ------------------------------------------------------------------------------------

class UserOut(Open):
    id: str = Field(description="Public account id (never an email).")
    display_name: str


class SessionOut(Open):
    user: UserOut
    csrf: str = Field(description="Send as X-CSRF-Token on every state-changing request.")


class CsrfOut(Open):
    csrf: str


class OkOut(Open):
    ok: bool


class ClaimOut(Open):
    id: int
    researcher_id: str
    status: str = Field(description="pending | approved | rejected | withdrawn | revoked")
    contested: bool = Field(description="Another account claims the same record.")
    created_at: str
    decided_at: Optional[str] = None
    decision_note: Optional[str] = None


class MeOut(Open):
    user: UserOut
    csrf: str
    claims: list[ClaimOut]
    owned: list[str] = Field(description="Researcher ids whose claim an admin approved.")
    following: int
    pending_invitations: int


class FollowOut(Open):
    researcher_id: str
    following: bool
    followers: int


class WorkRefOut(Open):
    id: str
    title: str
    year: Optional[int] = None
    venue: Optional[str] = None


class FollowedOut(Open):
    id: str
    name: str
    affiliation: Optional[str] = None
    works_count: int
    followed_at: str
    latest_works: list[WorkRefOut]


class FollowingOut(Open):
    researchers: list[FollowedOut]
    missing: list[str] = Field(description="Followed ids no longer in the index.")


class FeedItemOut(WorkRefOut):
    researcher: dict[str, str]


class FeedOut(Open):
    works: list[FeedItemOut] = Field(description="Works by followed researchers that appeared after you followed them.")


class OwnerOut(Open):
    researcher_id: str
    open_to_collaborate: Optional[bool] = None


class WorkChoiceOut(Open):
    researcher_id: str
    work_id: str
    pinned: bool
    excluded: bool


class FlagOut(Open):
    id: int
    researcher_id: str
    work_id: str
    status: str
    reason: str
    created_at: str


class InvitationOut(Open):
    id: int
    researcher_id: str
    researcher_name: Optional[str] = None
    sender: UserOut
    status: str = Field(description="pending | accepted | declined")
    message: str
    reply: Optional[str] = None
    created_at: str
    answered_at: Optional[str] = None


class InboxOut(Open):
    received: list[InvitationOut]
    sent: list[InvitationOut]
    blocked: list[UserOut]


class BlockOut(Open):
    blocked: UserOut
    active: bool


class ReviewClaimOut(ClaimOut):
    claimant: UserOut
    researcher_name: Optional[str] = None
    evidence: str
    stated_orcid: Optional[str] = None
    record_orcid: Optional[str] = None
    orcid_matches: Optional[bool] = None
    competing: list[int]
    record: Optional[dict[str, Any]] = Field(None, description="What the record itself says, to compare with the "
                                             "evidence: identifiers, affiliations, top co-authors, years, works.")
    same_name_accounts: list[dict[str, Any]] = Field(description="Other accounts with the claimant's display name "
                                                     "(an impostor looks identical by name).")


class ReviewOut(Open):
    claims: list[ReviewClaimOut]
    flags: list[dict[str, Any]]
