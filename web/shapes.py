"""The JSON shapes of every answer, shared by the CLI (`--json`) and the web API (`/api/...`).

Plain dicts of plain values, built from the service's result dataclasses. Vectors never appear.
Pages render these same dicts, so an HTML page and its JSON twin cannot disagree about ids.

Highlights (`hits[].highlights`) are HTML: text escaped, matches wrapped in `<mark>`. They pass
through `safe_highlight` here, which re-escapes everything except `<mark>`/`</mark>`, so a consumer
(and our templates) may insert them as markup whatever an engine returned.
"""

from __future__ import annotations

import html
import re
from typing import Iterable

from models.accounts.auth import AccountFacts
from models.records import Collaborator, ResearcherDoc, TopicCount, WorkDoc
from search.interface import BadQuery, FacetValue, WorkFilters, WorkHit, WorkResults, doc_to_dict
from search.service import (
    PaperPair,
    PeopleResults,
    Profile,
    ResearcherHit,
    SimilarWork,
    Suggestion,
    TopicHit,
    TopicPage,
    WorkPage,
    WorkRef,
)
from web.reach import work_links


FILTER_KEYS = ("year_from", "year_to", "type", "venue", "topic", "researcher")
_YEAR = re.compile(r"[0-9]{1,4}")
_MARK = re.compile(r"(</?mark>)")


# -- building blocks ---------------------------------------------------------------------------


def safe_highlight(snippet: str) -> str:
    """`snippet` with every character escaped except `<mark>` and `</mark>` tags.

    Unescape-then-escape is idempotent on correctly escaped text (`&lt;b&gt;` stays `&lt;b&gt;`)
    and escapes anything an engine forgot to, so the result is safe to insert as HTML.
    """
    parts = _MARK.split(snippet or "")
    out = []
    for part in parts:
        out.append(part if part in ("<mark>", "</mark>") else html.escape(html.unescape(part), quote=True))
    # Close a <mark> left open (a snippet cut in the middle of a match).
    opened = out.count("<mark>") - out.count("</mark>")
    return "".join(out) + "</mark>" * max(opened, 0)


def work_ref(work: WorkDoc | WorkRef) -> dict:
    return {"id": work.id, "title": work.title, "year": work.year, "venue": work.venue}


def work(work: WorkDoc) -> dict:
    """A whole work without its vector; authors as `{id, name, position, method, confidence}`;
    `links` where to read it (`web.reach.work_links`)."""
    data = doc_to_dict(work)
    data["authors"] = [
        {"id": a.researcher_id, "name": a.name, "position": a.position, "method": a.method, "confidence": a.confidence}
        for a in work.authors
    ]
    data["links"] = work_links(work.doi, work.links, work.title, work.venue)
    return data


def researcher_ref(researcher: ResearcherDoc) -> dict:
    return {
        "id": researcher.id,
        "name": researcher.name,
        "affiliation": researcher.affiliation,
        "works_count": researcher.works_count,
    }


def researcher(doc: ResearcherDoc) -> dict:
    """A researcher record without its vector and without the long `work_ids` list."""
    data = doc_to_dict(doc)
    data.pop("work_ids", None)
    data["affiliation"] = doc.affiliation
    return data


def topic_count(topic: TopicCount) -> dict:
    return {"id": topic.id, "label": topic.label, "count": topic.count, "weight": topic.weight}


def collaborator(c: Collaborator) -> dict:
    return {"id": c.id, "name": c.name, "joint_works": c.joint_works}


def facet(value: FacetValue) -> dict:
    return {"value": value.value, "label": value.label, "count": value.count}


# -- works -------------------------------------------------------------------------------------


def work_hit(hit: WorkHit) -> dict:
    s = hit.scores
    return {
        **work(hit.work),
        "scores": {
            "keyword": s.keyword,
            "vector": s.vector,
            "fused": s.fused,
            "keyword_rank": s.keyword_rank,
            "vector_rank": s.vector_rank,
        },
        "highlights": {field: safe_highlight(text) for field, text in (hit.highlights or {}).items()},
    }


def work_results(results: WorkResults) -> dict:
    return {
        "total": results.total,
        "hits": [work_hit(h) for h in results.hits],
        "related": [work_hit(h) for h in results.related],
        "suggestion": results.suggestion,
        "facets": {name: [facet(v) for v in values] for name, values in results.facets.items()},
        "page": results.page,
        "per_page": results.per_page,
        "mode": results.mode,
        "fusion": results.fusion,
    }


def work_page(page: WorkPage) -> dict:
    return {
        "work": work(page.work),
        "similar_works": [{**work_ref(s.work), "similarity": s.similarity} for s in page.similar_works],
    }


def similar_work(s: SimilarWork) -> dict:
    return {**work_ref(s.work), "similarity": s.similarity}


# -- people ------------------------------------------------------------------------------------


def researcher_hit(hit: ResearcherHit) -> dict:
    doc = hit.researcher
    return {
        "id": doc.id,
        "name": doc.name,
        "name_variants": list(doc.name_variants),
        "affiliation": doc.affiliation,
        "works_count": doc.works_count,
        "first_year": doc.first_year,
        "last_year": doc.last_year,
        "topics": [topic_count(t) for t in doc.topics[:5]],
        "score": hit.score,
        "matched_by": hit.matched_by,
        "works": [work_ref(w) for w in hit.works],
    }


def people_results(results: PeopleResults) -> dict:
    return {"query": results.query, "by": results.by, "hits": [researcher_hit(h) for h in results.hits]}


def paper_pair(pair: PaperPair) -> dict:
    return {
        "theirs": work_ref(pair.theirs),
        "yours": work_ref(pair.yours),
        "similarity": pair.similarity,
        "same_work": pair.theirs.id == pair.yours.id,
    }


def suggestion(s: Suggestion) -> dict:
    return {
        **researcher_ref(s.researcher),
        "similarity": s.similarity,
        "shared_topics": list(s.shared_topics),
        "paper_pairs": [paper_pair(p) for p in s.paper_pairs],
        "via": [researcher_ref(r) for r in s.via],
    }


def suggestions(items: Iterable[Suggestion]) -> dict:
    return {"hits": [suggestion(s) for s in items]}


# -- topics ------------------------------------------------------------------------------------


def topic_hit(hit: TopicHit) -> dict:
    t = hit.topic
    return {
        "id": t.id,
        "label": t.label,
        "origin": t.origin,
        "works_count": t.works_count,
        "researchers_count": t.researchers_count,
        "score": hit.score,
    }


def topic_results(hits: Iterable[TopicHit]) -> dict:
    return {"hits": [topic_hit(h) for h in hits]}


def topic_page(page: TopicPage) -> dict:
    topic = doc_to_dict(page.topic)
    return {
        "topic": topic,
        "description": page.description,
        "top_researchers": [{**researcher_ref(r.researcher), "works": r.works} for r in page.top_researchers],
        "recent_works": [{**work_ref(w), "cited_by_count": w.cited_by_count, "type": w.type} for w in page.recent_works],
        "cited_works": [{**work_ref(w), "cited_by_count": w.cited_by_count, "type": w.type} for w in page.cited_works],
        "related_topics": [topic_hit(h) for h in page.related_topics],
        "works_per_year": [{"year": year, "works": count} for year, count in sorted(page.works_per_year.items())],
    }


# -- profiles ----------------------------------------------------------------------------------


def profile(p: Profile, facts: AccountFacts | None = None) -> dict:
    """Everything a researcher profile shows: the researcher's fields at the top level (`id`, `name`,
    `name_variants`, `identifiers`, `affiliation`, `institutions`, ...), then `counts`, `trust`,
    `works` (pinned ones first), `topics`, `close_collaborators`, `coauthors` (every co-author), and
    from the accounts database (`facts`): followers, the claim, the owner's choices, and the
    `actions` open to the viewer (`viewer`)."""
    from web import trust

    facts = facts or AccountFacts()
    doc = p.researcher
    works = sorted(p.works, key=lambda w: w.id not in facts.pinned)  # stable: pinned first, else as before
    return {
        **researcher(doc),
        "open_to_collaborate": facts.open_to_collaborate,
        "counts": {
            "works": len(p.works),
            "followers": facts.followers,
            "topics": len(p.topics),
            "close_collaborators": len(doc.close_collaborators),
        },
        "trust": trust.snapshot(p, facts.claim_status, facts.claim_evidence),
        "works": [{**work(w), "pinned": w.id in facts.pinned, "excluded_from_expertise": w.id in facts.excluded}
                  for w in works],
        "topics": [topic_count(t) for t in p.topics],
        "close_collaborators": [collaborator(c) for c in doc.close_collaborators],
        "coauthors": [collaborator(c) for c in p.collaborators],
        "actions": facts.actions,
        "viewer": facts.viewer,
    }


def profile_text(data: dict) -> str:
    """The profile as plain text, in the order the page shows it (for `discovery show researcher`)."""
    r = data
    t = data["trust"]
    c = data["counts"]
    lines = [r["name"]]
    variants = [v for v in r.get("name_variants") or [] if v != r["name"]]
    if variants:
        lines.append("also: " + ", ".join(variants))
    lines.append(f"{r.get('affiliation') or 'Affiliation not imported'}  [{r['id']}]")
    lines.append(
        f"Trust {t['score']} · {t['band']}   Verification {t['level']}   {t['claim_status'].capitalize()} author"
    )
    for comp in t["components"]:
        lines.append(f"  {comp['points']:>3}/{comp['max_points']:<3} {comp['label']}: {comp['evidence']}")
    lines.append(
        f"{c['works']} works · {c['followers']} followers · {c['topics']} topics · "
        f"{c['close_collaborators']} close collaborators"
    )
    lines.append("")
    lines.append(f"Published work ({len(data['works'])})")
    for w in data["works"]:
        meta = " ".join(str(x) for x in (w.get("type"), w.get("year"), w.get("venue")) if x)
        lines.append(f"  {meta:<28} {w['title']}")
    if data["topics"]:
        lines.append("")
        lines.append("Topics: " + ", ".join(f"{x['label']} ({x['count']})" for x in data["topics"]))
    if data["close_collaborators"]:
        lines.append("Close collaborators: " + ", ".join(
            f"{x['name']} ({x['joint_works']})" for x in data["close_collaborators"]))
    return "\n".join(lines)


# -- filters -----------------------------------------------------------------------------------


def _year(values: list[str], key: str) -> int | None:
    values = [v.strip() for v in values if v is not None and v.strip() != ""]
    if not values:
        return None
    if len(values) > 1:
        raise BadQuery(f"{key} takes one year, got {len(values)}")
    if not _YEAR.fullmatch(values[0]):
        raise BadQuery(f"{key} must be a year such as 2021, got {values[0][:40]!r}")
    return int(values[0])


def filters_from(values: dict[str, list[str]], filters_type: type[WorkFilters] = WorkFilters) -> WorkFilters:
    """WorkFilters from raw `key -> [values]` (CLI `--filter key=value`, or query strings).

    Keys: year_from, year_to (one year each), type, venue, topic (repeatable, OR-ed within a key),
    researcher (one id). Unknown keys and malformed values raise BadQuery with a readable message.
    """
    unknown = sorted(set(values) - set(FILTER_KEYS))
    if unknown:
        raise BadQuery(f"unknown filter {unknown[0]!r}; use one of {', '.join(FILTER_KEYS)}")

    def strings(key: str) -> tuple[str, ...]:
        out = []
        for v in values.get(key) or []:
            v = (v or "").strip()
            if not v:
                continue
            if len(v) > 500:
                raise BadQuery(f"{key} value is too long")
            out.append(v)
        return tuple(dict.fromkeys(out))

    year_from = _year(values.get("year_from") or [], "year_from")
    year_to = _year(values.get("year_to") or [], "year_to")
    if year_from is not None and year_to is not None and year_from > year_to:
        raise BadQuery("year_from is after year_to")
    researchers = strings("researcher")
    if len(researchers) > 1:
        raise BadQuery("researcher takes one researcher id")
    return filters_type(
        year_from=year_from,
        year_to=year_to,
        types=strings("type"),
        venues=strings("venue"),
        topics=strings("topic"),
        researcher=researchers[0] if researchers else None,
    )
