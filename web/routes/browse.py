"""Pages and their JSON twins: one handler computes a page's data, two thin routes render it.

Each handler below is a FastAPI dependency taking typed, validated parameters; it asks the
`Discovery` service (in the threadpool: the service blocks) and returns a `web.shapes` dict.
`/api/...` returns that dict as JSON; the page route renders the same dict with a template. So a
page and its twin cannot disagree, and the parameters are documented once, in the OpenAPI schema.
The routes themselves are plain `def`: FastAPI runs them in the threadpool, so rendering a template
or checking a response model never holds the event loop that every other request waits on.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Literal, Optional, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator, Field
from starlette.concurrency import run_in_threadpool

from search.interface import MAX_PAGE_SIZE, MAX_QUERY_CHARS, MAX_RESULT_WINDOW, EngineUnavailable, WorkFilters
from search.service import YEAR_RANGE, Discovery
from web import api_models as M
from web import shapes
from web.render import Links, render
from web.search_panels import search_panels
from web.routes.accounts import account_nav, profile_facts

T = TypeVar("T")
SIMILAR_ON_PROFILE = 6


# -- dependencies -----------------------------------------------------------------------------


def get_service(request: Request) -> Discovery:
    service = getattr(request.app.state, "service", None)
    if service is None:
        reason = getattr(request.app.state, "unavailable", None) or "the search engine is not open"
        raise EngineUnavailable(reason)
    return service


Service = Annotated[Discovery, Depends(get_service)]


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call in the threadpool, off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


def _blank_to_none(value: object) -> object:
    """HTML forms send empty fields as `year_from=`: that means "no value", not a bad number."""
    return None if isinstance(value, str) and value.strip() == "" else value


Year = Annotated[
    Optional[Annotated[int, Field(ge=YEAR_RANGE[0], le=YEAR_RANGE[1])]],
    BeforeValidator(_blank_to_none),
    Query(description=f"A year ({YEAR_RANGE[0]}–{YEAR_RANGE[1]}), e.g. 2021; empty means no bound."),
]
ResearcherId = Annotated[str, Path(min_length=1, max_length=200, description="A researcher id, e.g. r-ed3bff67a5.")]
WorkId = Annotated[str, Path(min_length=1, max_length=300, description="A work id, e.g. W2963403868.")]
TopicId = Annotated[str, Path(min_length=1, max_length=200, description="A topic id, e.g. t-stochastic-gradient.")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="How many results.")]

router = APIRouter()
pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


def _values(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in items if v and v.strip()))


# -- search -----------------------------------------------------------------------------------

HINTS = {
    "works": "No works match. Try fewer or broader words, switch to semantic mode, or remove a filter.",
    "people": "No researchers match. Try the name in another order, fewer words, an ORCID, or a topic phrase.",
    "topics": "No topics match. Try a broader phrase, or search works instead.",
}
EMPTY_HINTS = {
    "people": "Type a name (any order, accents optional), an ORCID / OpenAlex id, or a topic to find its experts.",
    "topics": "Type a phrase such as “stochastic gradient” to find topics.",
}


async def search_data(
    service: Service,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="Words, a name, an identifier or a phrase.")] = "",
    kind: Annotated[Literal["works", "people", "topics"], Query(description="What to search.")] = "works",
    mode: Annotated[Literal["hybrid", "keyword", "semantic"], Query(description="Works: how to rank.")] = "hybrid",
    fusion: Annotated[Literal["rrf", "weighted"], Query(description="Works, hybrid mode: how to fuse.")] = "rrf",
    year_from: Year = None,
    year_to: Year = None,
    type: Annotated[list[str], Query(max_length=20, description="Work type, e.g. article (repeatable).")] = [],
    venue: Annotated[list[str], Query(max_length=20, description="Venue name (repeatable).")] = [],
    topic: Annotated[list[str], Query(max_length=20, description="Topic id (repeatable).")] = [],
    researcher: Annotated[Optional[str], Query(max_length=200, description="Works by this researcher id.")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_RESULT_WINDOW, description="Page number (works).")] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Results per page.")] = 10,
) -> dict:
    """Works (hybrid, keyword or semantic, with facets), people, or topics for `q`."""
    q = q.strip()
    base: dict[str, Any] = {"kind": kind, "query": q, "hint": None}
    if kind == "works":
        filters = WorkFilters(
            year_from=year_from,
            year_to=year_to,
            types=_values(type),
            venues=_values(venue),
            topics=_values(topic),
            researcher=(researcher or "").strip() or None,
        )
        results = await call(service.search_works, q, mode=mode, fusion=fusion, filters=filters, page=page,
                             per_page=per_page)
        data = {**base, **shapes.work_results(results), **await search_panels(service, q, page)}
        if not data["hits"]:
            data["hint"] = HINTS["works"] if q or not filters.is_empty() else "The index has no works yet."
        # Titles of the active topic / researcher filters, so a page can name them.
        data["filters"] = {
            "year_from": year_from, "year_to": year_to, "type": list(filters.types), "venue": list(filters.venues),
            "topic": list(filters.topics), "researcher": filters.researcher,
        }
        return data
    if not q:
        return {**base, "hits": [], "hint": EMPTY_HINTS[kind]}
    if kind == "people":
        data = {**base, **shapes.people_results(await call(service.search_people, q, limit=per_page))}
    else:
        data = {**base, **shapes.topic_results(await call(service.search_topics, q, limit=per_page))}
    if not data["hits"]:
        data["hint"] = HINTS[kind]
    return data


SearchData = Annotated[dict, Depends(search_data)]


@router.get("/api/search", response_model=M.SearchOut, response_model_exclude_unset=True, responses=M.ERRORS,
            tags=["search"], summary="Search works, people or topics")
def api_search(data: SearchData) -> dict:
    """The JSON twin of `/search`. Works: `total`, `hits` (with `scores` and `highlights`), `facets`,
    `page`, `per_page`, `mode`. People and topics: `hits`. An empty works query browses, newest first."""
    return data


@pages.get("/search")
def search_page(request: Request, data: SearchData):
    links = Links("/search", request.query_params.multi_items())
    api = "/api/search" + ("?" + request.url.query if request.url.query else "")
    topic_labels = {}
    if data["kind"] == "works":
        topic_labels = {f["value"]: f["label"] for f in data["facets"].get("topic", [])}
    return render(request, "search.html", {
        "data": data, "links": links, "alternate": api, "q": data["query"], "kind": data["kind"],
        "topic_labels": topic_labels,
        "page_title": f"{data['query']} – search" if data["query"] else None,
    })


# -- researchers --------------------------------------------------------------------------------


def _profile(service: Discovery, researcher_id: str, facts: shapes.AccountFacts | None = None) -> dict:
    data = shapes.profile(service.researcher_profile(researcher_id), facts)
    similar, collaborators = service.profile_suggestions(researcher_id, SIMILAR_ON_PROFILE)
    data["similar_researchers"] = shapes.suggestions(similar)["hits"]
    data["new_collaborators"] = shapes.suggestions(collaborators)["hits"]
    return data


async def profile_data(request: Request, service: Service, researcher_id: ResearcherId) -> dict:
    """A researcher's profile: record, trust snapshot, counts, works, topics, collaborators and
    suggestions (similar researchers; new collaborators, who never wrote with them), with what the
    accounts database knows (followers, claim, owner's choices) and the actions open to the viewer."""
    facts = await call(profile_facts, request, researcher_id)
    return await call(_profile, service, researcher_id, facts)


ProfileData = Annotated[dict, Depends(profile_data)]


@router.get("/api/researchers/{researcher_id}", response_model=M.ProfileOut, responses=M.ERRORS,
            tags=["researchers"], summary="A researcher profile")
def api_profile(data: ProfileData) -> dict:
    """The JSON twin of `/researchers/{researcher_id}`."""
    return data


@pages.get("/researchers/{researcher_id}")
def profile_page(request: Request, data: ProfileData):
    rid = data["id"]
    return render(request, "profile.html", {
        "data": data, "alternate": f"/api/researchers/{rid}", "graph_url": f"/api/researchers/{rid}/graph",
        "page_title": data["name"], "csrf": account_nav(request)["csrf"],
    })


async def graph_data(service: Service, researcher_id: ResearcherId) -> dict:
    graph = await call(service.researcher_graph, researcher_id)
    return {"center": researcher_id, **graph}


@router.get("/api/researchers/{researcher_id}/graph", response_model=M.GraphOut, responses=M.ERRORS,
            tags=["researchers"], summary="The research graph around a researcher")
def api_graph(data: Annotated[dict, Depends(graph_data)]) -> dict:
    """Nodes (`researcher`, `work`, `topic`, `institution`) and typed edges (`coauthor`, `authored`,
    `about`, `affiliated`) around the researcher: what the profile page's graph explorer draws."""
    return data


@router.get("/api/researchers/{researcher_id}/similar", response_model=M.SuggestionsOut, responses=M.ERRORS,
            tags=["researchers"], summary="Similar researchers or new collaborators")
async def api_similar(
    service: Service,
    researcher_id: ResearcherId,
    mode: Annotated[Literal["similar", "collaborators"], Query(
        description="`similar`: nearest researchers; `collaborators`: the same, minus everyone they wrote with.")] = "similar",
    limit: Limit = 10,
    active_since: Year = None,
    institution: Annotated[Optional[str], Query(max_length=300, description="Only researchers at this institution.")] = None,
) -> dict:
    """Each suggestion explains itself: shared topics and the closest pairs of papers (theirs ↔ yours)."""
    found = await call(service.similar_researchers, researcher_id, mode=mode, limit=limit,
                       active_since=active_since, institution=(institution or "").strip() or None)
    return shapes.suggestions(found)


# -- topics and works ---------------------------------------------------------------------------


async def topic_data(service: Service, topic_id: TopicId, limit: Limit = 10) -> dict:
    """A topic: description from its works, top researchers, recent and most cited works, related
    topics, works per year."""
    return shapes.topic_page(await call(service.topic_page, topic_id, limit=limit))


TopicData = Annotated[dict, Depends(topic_data)]


@router.get("/api/topics/{topic_id}", response_model=M.TopicPageOut, responses=M.ERRORS, tags=["topics"],
            summary="A topic page")
def api_topic(data: TopicData) -> dict:
    """The JSON twin of `/topics/{topic_id}`."""
    return data


@pages.get("/topics/{topic_id}")
def topic_page(request: Request, data: TopicData):
    tid = data["topic"]["id"]
    return render(request, "topic.html", {"data": data, "alternate": f"/api/topics/{tid}",
                                          "page_title": data["topic"]["label"]})


async def work_data(service: Service, work_id: WorkId, limit: Limit = 10) -> dict:
    """A work: metadata, authors (with researcher ids), topics, similar works."""
    return shapes.work_page(await call(service.work_page, work_id, limit=limit))


WorkData = Annotated[dict, Depends(work_data)]


@router.get("/api/works/{work_id}", response_model=M.WorkPageOut, responses=M.ERRORS, tags=["works"],
            summary="A work page")
def api_work(data: WorkData) -> dict:
    """The JSON twin of `/works/{work_id}`."""
    return data


@pages.get("/works/{work_id}")
def work_page(request: Request, data: WorkData):
    wid = data["work"]["id"]
    return render(request, "work.html", {"data": data, "alternate": f"/api/works/{wid}",
                                         "page_title": data["work"]["title"]})


# -- status -------------------------------------------------------------------------------------


def _status(request: Request) -> dict:
    settings = request.app.state.settings
    service = getattr(request.app.state, "service", None)
    if service is None:
        return {"ready": False, "engine": settings.engine, "index": None,
                "message": getattr(request.app.state, "unavailable", None) or "the engine is not open"}
    try:
        info = service.engine.info()
    except EngineUnavailable as exc:
        return {"ready": False, "engine": settings.engine, "index": None, "message": str(exc)}
    if info is None:
        return {"ready": False, "engine": settings.engine, "index": None,
                "message": "no index built yet: run `discovery ingest FILE...` then `discovery index`"}
    return {
        "ready": True,
        "engine": info.engine,
        "message": "ok",
        "index": {
            "version": info.version,
            "built_at": info.built_at.isoformat(),
            "model": info.model,
            "counts": dict(info.counts),
        },
    }


async def status_data(request: Request) -> dict:
    return await call(_status, request)


StatusData = Annotated[dict, Depends(status_data)]


@router.get("/api/status", response_model=M.StatusOut, tags=["status"], summary="Index status")
def api_status(data: StatusData) -> dict:
    """Which engine serves, the live index version, when it was built, with which model, and counts."""
    return data


@pages.get("/status")
def status_page(request: Request, data: StatusData):
    return render(request, "status.html", {"data": data, "alternate": "/api/status", "page_title": "Status"})
