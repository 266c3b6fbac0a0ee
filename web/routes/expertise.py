""""Who knows about this?": researchers ranked by their fit to a pasted title and abstract.

One handler, two formats like every page: `/expertise` renders it, `/api/expertise` returns the same
dict; `POST /api/expertise` takes the same fields as a JSON body (long texts, lists of researchers).
Owners' choices count: works an owner excluded from their expertise (or flagged "not mine") never
make a match, and works an owner pinned count a little more.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from models.accounts import AccountsUnavailable, expertise_exclusions, pinned_works
from search.interface import MAX_PAGE_SIZE, MAX_QUERY_CHARS, EngineUnavailable
from search.service import Curation, Discovery, ExpertiseResults
from web import api_models as M
from web import shapes
from web.render import render

router = APIRouter()
pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


class ExpertiseIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="A title and abstract, or any text.")
    researchers: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        [], max_length=MAX_PAGE_SIZE, description="Score exactly these researcher ids (e.g. candidate reviewers).")
    limit: int = Field(10, ge=1, le=MAX_PAGE_SIZE)


def expertise_result(results: ExpertiseResults) -> dict:
    return {
        "chunks": results.chunks,
        "hits": [
            {
                **shapes.researcher_ref(e.researcher),
                "fit": e.fit,
                "works": [{**shapes.work_ref(m.work), "similarity": m.similarity, "weight": m.weight} for m in e.works],
            }
            for e in results.hits
        ],
    }


def _answer(request: Request, asked: ExpertiseIn) -> dict:
    service: Discovery | None = getattr(request.app.state, "service", None)
    if service is None:
        raise EngineUnavailable(getattr(request.app.state, "unavailable", None) or "the search engine is not open")
    url = request.app.state.settings.accounts_database_url
    try:
        excluded, pinned = expertise_exclusions(url), pinned_works(url)
    except AccountsUnavailable as exc:
        raise EngineUnavailable(str(exc)) from exc
    curation = {
        rid: Curation(pinned=pinned.get(rid, frozenset()), excluded=excluded.get(rid, frozenset()))
        for rid in excluded.keys() | pinned.keys()
    }
    results = service.expertise(asked.text, asked.researchers or None, asked.limit, curation)
    return {"text": asked.text, "researchers": asked.researchers, **expertise_result(results)}


async def expertise_data(
    request: Request,
    text: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="A title and abstract, or any text.")] = "",
    researcher: Annotated[list[str], Query(max_length=MAX_PAGE_SIZE, description="Score only these ids (repeatable).")] = [],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
) -> dict:
    """Researchers ranked by fit to `text`; an empty text is the empty form."""
    if not text.strip():
        return {"text": "", "researchers": researcher, "chunks": 0, "hits": []}
    asked = ExpertiseIn(text=text, researchers=[r.strip() for r in researcher if r.strip()], limit=limit)
    return await run_in_threadpool(_answer, request, asked)


@router.get("/api/expertise", responses=M.ERRORS, tags=["researchers"], summary="Who knows about this text?")
def api_expertise(data: Annotated[dict, Depends(expertise_data)]) -> dict:
    """The JSON twin of `/expertise`: `hits` with an absolute `fit` (the best weighted cosine of
    their works to the text, comparable across texts) and the `works` that made it."""
    return data


@router.post("/api/expertise", responses=M.ERRORS, tags=["researchers"],
             summary="Who knows about this text? (JSON body)")
async def api_expertise_post(request: Request, asked: ExpertiseIn) -> dict:
    """Like `GET /api/expertise`, for long texts and lists of researchers (the reviewer-assignment use)."""
    return await run_in_threadpool(_answer, request, asked)


@pages.get("/expertise")
def expertise_page(request: Request, data: Annotated[dict, Depends(expertise_data)]):
    api = "/api/expertise" + ("?" + request.url.query if request.url.query else "")
    return render(request, "expertise.html", {"data": data, "alternate": api, "page_title": "Who knows about this?"})
