"""The full-page graph explorer: two hops around a researcher (their works, co-authors, topics and
institutions; then their co-authors' works, topics and institutions), filtered by node type and year.

The layout is computed here, not in the browser: one column per hop, nodes grouped by type, one row
per node and labels cut to their column's width, so labels never overlap and the page is the same
SVG with or without JavaScript (the lists below it are the text fallback). `/api/.../explore`
returns the same nodes with their positions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from search.service import Discovery
from web import api_models as M
from web.routes import browse
from web.render import render

NODE_TYPES = ("researcher", "work", "topic", "institution")
TYPE_LABELS = {"researcher": "Researchers", "work": "Works", "topic": "Topics", "institution": "Institutions"}
MAX_WORKS, MAX_COAUTHORS, MAX_TOPICS = 15, 10, 8  # first hop
PER_COAUTHOR_WORKS, PER_COAUTHOR_TOPICS = 2, 2  # second hop, per co-author

# Geometry (SVG units): a column per hop, a row per node; labels are cut to fit their column.
ROW, TOP, DOT = 22, 30, 6
COLUMNS = [(16, 230), (300, 380), (730, 330)]  # (x of the node, label width) for hops 0, 1, 2
CHAR = 6.4  # average width of a character of the 11.5 px label font, for cutting labels
WIDTH = 1080


def _cut(label: str, width: float) -> str:
    most = int(width / CHAR)
    return label if len(label) <= most else label[: most - 1].rstrip() + "…"


def _in_years(year: int | None, year_from: int | None, year_to: int | None) -> bool:
    if year_from is None and year_to is None:
        return True
    return year is not None and (year_from is None or year >= year_from) and (year_to is None or year <= year_to)


def neighbourhood(service: Discovery, researcher_id: str, types: tuple[str, ...] = NODE_TYPES,
                  year_from: int | None = None, year_to: int | None = None) -> dict:
    """Nodes (`id`, `type`, `label`, `hop`, `url`, `year`) and edges (`source`, `target`, `kind`)
    within two hops of the researcher, only of `types` and, for works, published in the years."""
    profile = service.researcher_profile(researcher_id)
    center = profile.researcher
    nodes: dict[str, dict] = {}
    edges: list[dict] = []

    def add(node_id: str, kind: str, label: str, hop: int, url: str | None, year: int | None = None) -> bool:
        if node_id == center.id or kind in types:
            nodes.setdefault(node_id, {"id": node_id, "type": kind, "label": label, "hop": hop, "url": url,
                                       "year": year})
        return node_id in nodes

    def link(source: str, target: str, kind: str) -> None:
        if source in nodes and target in nodes:
            edges.append({"source": source, "target": target, "kind": kind})

    add(center.id, "researcher", center.name, 0, f"/researchers/{center.id}")
    works = [w for w in profile.works if _in_years(w.year, year_from, year_to)][:MAX_WORKS]
    for work in works:
        add(work.id, "work", work.title, 1, f"/works/{work.id}", work.year)
        link(center.id, work.id, "authored")
    in_range = {rid for w in works for rid in w.researcher_ids}
    coauthors = [c for c in profile.collaborators if c.id in in_range][:MAX_COAUTHORS]
    for c in coauthors:
        add(c.id, "researcher", c.name, 1, f"/researchers/{c.id}")
        link(center.id, c.id, "coauthor")
        for work in works:
            if c.id in work.researcher_ids:
                link(c.id, work.id, "authored")
    for topic in center.topics[:MAX_TOPICS]:
        add(topic.id, "topic", topic.label, 1, f"/topics/{topic.id}")
        link(center.id, topic.id, "about")
    for work in works:
        for topic in work.topics:
            link(work.id, topic.id, "about")
    for span in center.institutions:
        node_id = "institution:" + span.name
        add(node_id, "institution", span.name, 1, None)
        link(center.id, node_id, "affiliated")

    # Second hop: what the co-authors work on, with whom they are, and their other works.
    docs = service.engine.get_researchers([c.id for c in coauthors]) if coauthors else []
    own = {w.id for w in profile.works}
    others = {d.id: [wid for wid in d.work_ids if wid not in own][: PER_COAUTHOR_WORKS * 3] for d in docs}
    their_works = {w.id: w for w in service.engine.get_works([wid for ids in others.values() for wid in ids])}
    for doc in docs:
        if doc.id not in nodes:  # co-authors hidden by the type filter: their neighbours are out of reach
            continue
        shown = 0
        for wid in others[doc.id]:
            work = their_works.get(wid)
            if work is None or not _in_years(work.year, year_from, year_to) or shown == PER_COAUTHOR_WORKS:
                continue
            shown += 1
            add(work.id, "work", work.title, 2, f"/works/{work.id}", work.year)
            link(doc.id, work.id, "authored")
        for topic in doc.topics[:PER_COAUTHOR_TOPICS]:
            add(topic.id, "topic", topic.label, 2, f"/topics/{topic.id}")
            link(doc.id, topic.id, "about")
        for span in doc.institutions[:1]:
            node_id = "institution:" + span.name
            add(node_id, "institution", span.name, 2, None)
            link(doc.id, node_id, "affiliated")
    return {"center": center.id, "name": center.name, "nodes": list(nodes.values()), "edges": edges}


def layout(graph: dict) -> dict:
    """Positions for `graph`: hop columns, type groups top to bottom, one row per node; the label
    (`short`) is cut to its column so no two labels overlap. Adds `x`, `y`, `short` to each node
    and the drawing's `width` and `height`."""
    rows = [0, 0, 0]
    order = {kind: i for i, kind in enumerate(NODE_TYPES)}
    for node in sorted(graph["nodes"], key=lambda n: (n["hop"], order[n["type"]], n["label"].lower())):
        x, label_width = COLUMNS[node["hop"]]
        node.update(x=x, y=TOP + rows[node["hop"]] * ROW, short=_cut(node["label"], label_width))
        rows[node["hop"]] += 1
    graph["width"] = WIDTH
    graph["height"] = TOP * 2 + max(rows) * ROW
    return graph


def edge_path(source: dict, target: dict) -> str:
    """A curve from one node to another: across columns left to right, within a column as an arc
    on the left of the nodes (labels are on the right)."""
    if source["x"] == target["x"]:
        bulge = min(120.0, 20 + abs(target["y"] - source["y"]) / 4)
        return (f"M{source['x']},{source['y']} C{source['x'] - bulge},{source['y']} "
                f"{target['x'] - bulge},{target['y']} {target['x']},{target['y']}")
    a, b = (source, target) if source["x"] < target["x"] else (target, source)
    mid = (a["x"] + b["x"]) / 2
    return f"M{a['x']},{a['y']} C{mid},{a['y']} {mid},{b['y']} {b['x']},{b['y']}"


# -- routes ---------------------------------------------------------------------------------------

router = APIRouter()
pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


async def explore_data(
    service: browse.Service,
    researcher_id: browse.ResearcherId,
    type: Annotated[list[str], Query(max_length=4, description="Node types to show (repeatable): researcher, work, "
                                                              "topic, institution; none means all.")] = [],
    year_from: browse.Year = None,
    year_to: browse.Year = None,
) -> dict:
    """Two hops around a researcher, laid out: nodes with `x`, `y`, `hop` and a `short` label."""
    from search.interface import BadQuery

    unknown = sorted(set(type) - set(NODE_TYPES))
    if unknown:
        raise BadQuery(f"unknown node type {unknown[0][:40]!r}; use {', '.join(NODE_TYPES)}")
    if year_from is not None and year_to is not None and year_from > year_to:
        raise BadQuery("year_from is after year_to")
    types = tuple(type) or NODE_TYPES
    graph = await browse.call(neighbourhood, service, researcher_id, types, year_from, year_to)
    return {**layout(graph), "filters": {"type": list(types), "year_from": year_from, "year_to": year_to}}


ExploreData = Annotated[dict, Depends(explore_data)]


@router.get("/api/researchers/{researcher_id}/explore", tags=["researchers"], responses=M.ERRORS,
            summary="Two hops around a researcher, laid out for the explorer")
def api_explore(data: ExploreData) -> dict:
    """The JSON twin of `/researchers/{researcher_id}/explore`."""
    return data


@pages.get("/researchers/{researcher_id}/explore")
def explore_page(request: Request, data: ExploreData):
    by_id = {n["id"]: n for n in data["nodes"]}
    paths = [{**e, "d": edge_path(by_id[e["source"]], by_id[e["target"]])} for e in data["edges"]]
    return render(request, "explore.html", {
        "data": data, "paths": paths, "types": NODE_TYPES, "type_labels": TYPE_LABELS,
        "alternate": f"/api/researchers/{data['center']}/explore" + (f"?{request.url.query}" if request.url.query else ""),
        "page_title": f"Explore around {data['name']}",
    })
