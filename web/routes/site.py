"""The pages around the search: the home page (what Discovery is, the three ways in), the favicon,
`/redoc` (to the API docs) and the "More" page of a researcher's suggestions.

Each page reuses the handler of its JSON twin in `web.routes.browse`, so the two cannot disagree.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from web.routes import browse
from web.render import STATIC, Links, render

pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

WAYS_IN = [
    {"kind": "works", "title": "Works", "text": "Papers by meaning and by words: hybrid keyword and semantic ranking, "
     "filters by year, type, venue and topic.", "examples": ["minibatch noise in SGD", "word alignment with transformers"]},
    {"kind": "people", "title": "People", "text": "Researchers by name in any order and spelling, by ORCID, or by what "
     "they work on; profiles with a trust snapshot and suggested collaborators.", "examples": ["Liu Ziyin", "stochastic gradient noise"]},
    {"kind": "topics", "title": "Topics", "text": "Fields and themes with their researchers, most cited and newest works.",
     "examples": ["stochastic gradient", "machine translation"]},
]


@pages.get("/")
def home_page(request: Request, data: browse.SearchData):
    """What Discovery is, the three ways in with example searches, and the newest works."""
    return render(request, "home.html", {"data": data, "ways_in": WAYS_IN, "links": Links("/search", []),
                                         "alternate": "/api/search", "page_title": None})


@pages.get("/favicon.ico")
async def favicon():
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


@pages.get("/redoc")
async def redoc():
    """The API reference lives at /docs (rendered here, no CDN)."""
    return RedirectResponse("/docs", status_code=308)


@pages.get("/researchers/{researcher_id}/similar")
def suggestions_page(request: Request, service: browse.Service, researcher_id: browse.ResearcherId,
                     data: Annotated[dict, Depends(browse.api_similar)]):
    """The "More" of a profile's suggestions: the JSON twin's answer as a page."""
    researcher = service.find_researcher(researcher_id)
    mode = request.query_params.get("mode", "similar")
    return render(request, "suggestions.html", {
        "data": data, "researcher": researcher, "mode": mode,
        "alternate": f"/api/researchers/{researcher.id}/similar?{request.url.query}".rstrip("?"),
        "page_title": ("New collaborators for " if mode == "collaborators" else "Similar to ") + researcher.name,
    })
