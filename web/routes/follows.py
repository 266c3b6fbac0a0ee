"""Follow routes: follow and unfollow, the following page, the feed (`/me/feed`). The rules are in
`models.accounts.follows`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from models.accounts.follows import feed_data, follow, following_data, unfollow
from web import accounts_models as AM
from web.render import render
from web.routes.accounts import DB, ApiUser, FormUser, SignedIn, ViewerDep, login_redirect, redirect
from web.routes.browse import ResearcherId, Service

router = APIRouter()
pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

# -- API --------------------------------------------------------------------------------------------


@router.post("/api/researchers/{researcher_id}/follow", response_model=AM.FollowOut, tags=["follow"],
             responses=AM.WRITE_ERRORS, summary="Follow a researcher")
def api_follow(researcher_id: ResearcherId, v: ApiUser, db: DB, service: Service) -> dict:
    """Their works that appear from now on (after an ingest and reindex) reach `/api/me/feed`."""
    return follow(db, service.engine, v, researcher_id)


@router.delete("/api/researchers/{researcher_id}/follow", response_model=AM.FollowOut, tags=["follow"],
               responses=AM.WRITE_ERRORS, summary="Stop following a researcher")
def api_unfollow(researcher_id: ResearcherId, v: ApiUser, db: DB) -> dict:
    return unfollow(db, v, researcher_id)


@router.get("/api/me/following", response_model=AM.FollowingOut, tags=["follow"], responses=AM.READ_ERRORS,
            summary="Researchers you follow, with their newest works")
def api_following(v: SignedIn, db: DB, service: Service) -> dict:
    return following_data(db, service.engine, v)


@router.get("/api/me/feed", response_model=AM.FeedOut, tags=["follow"], responses=AM.READ_ERRORS,
            summary="New works by the researchers you follow")
def api_feed(v: SignedIn, db: DB, service: Service) -> dict:
    """Works of followed researchers that were not on their record when you followed them, newest first."""
    return feed_data(db, service.engine, v)


# -- pages ------------------------------------------------------------------------------------------


@pages.post("/researchers/{researcher_id}/follow")
def follow_form(researcher_id: ResearcherId, v: FormUser, db: DB, service: Service):
    follow(db, service.engine, v, researcher_id)
    return redirect(f"/researchers/{researcher_id}", "followed")


@pages.post("/researchers/{researcher_id}/unfollow")
def unfollow_form(researcher_id: ResearcherId, v: FormUser, db: DB):
    unfollow(db, v, researcher_id)
    return redirect(f"/researchers/{researcher_id}", "unfollowed")


@pages.get("/me/following")
def following_page(request: Request, v: ViewerDep, db: DB, service: Service):
    if not v.signed_in:
        return login_redirect(request)
    return render(request, "following.html", {"data": following_data(db, service.engine, v), "alternate": "/api/me/following",
                                              "page_title": "Following"})


@pages.get("/me/feed")
def feed_page(request: Request, v: ViewerDep, db: DB, service: Service):
    if not v.signed_in:
        return login_redirect(request)
    return render(request, "feed.html", {"data": feed_data(db, service.engine, v), "alternate": "/api/me/feed",
                                         "page_title": "Your feed"})
