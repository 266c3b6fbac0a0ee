"""The panels a works search shows beside its hits: researchers the query names (as Scholar's
"User profiles for ...") and topics whose words it uses. The search handler adds them to its data,
so the page and `/api/search` carry the same panels."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from search.service import Discovery
from web import shapes


async def search_panels(service: Discovery, query: str, page: int) -> dict:
    """`people` and `topics` for a works query: on the first page of a non-empty query only."""
    if not query or page != 1:
        return {"people": [], "topics": []}
    panels = await run_in_threadpool(service.search_panels, query)
    return {
        "people": [shapes.researcher_hit(h) for h in panels.people],
        "topics": [shapes.topic_hit(t) for t in panels.topics],
    }
