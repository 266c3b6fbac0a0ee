"""OpenAlex works, in the current shape (`primary_location`, `keywords`, `topics`) and the older one
(`host_venue`, `concepts`)."""

from __future__ import annotations

import re

from indexer.sources import RecordError
from indexer.sources.latex import readable
from models.records import Authorship, Institution, Venue, Work, work_id

# Level-0 concepts ("Medicine", "Computer science") say little; keep them only when nothing else exists.
MIN_CONCEPT_SCORE = 0.3

_ID_PATTERNS = {
    "orcid": re.compile(r"orcid\.org/(\d{4}-\d{4}-\d{4}-\d{3}[\dX])", re.I),
    "openalex": re.compile(r"openalex\.org/(A\d+)", re.I),
    "openreview": re.compile(r"openreview\.net/profile\?id=(~[\w.\-]+)", re.I),
    "dblp": re.compile(r"dblp\.org/pid/([\w/\-]+)", re.I),
}


def author_identifiers(*urls: str | None) -> dict[str, str]:
    """Recognise ORCID, OpenAlex, OpenReview and dblp ids in whatever URL form a record uses."""
    found: dict[str, str] = {}
    for url in urls:
        if not url:
            continue
        for kind, pattern in _ID_PATTERNS.items():
            match = pattern.search(str(url))
            if match and kind not in found:
                found[kind] = match.group(1).upper() if kind == "orcid" else match.group(1)
    return found


def rebuild_abstract(inverted: dict | None) -> str | None:
    if not inverted:
        return None
    if not isinstance(inverted, dict):
        raise RecordError("abstract_inverted_index is not an object")
    positions: dict[int, str] = {}
    for word, places in inverted.items():
        for place in places or ():
            positions[int(place)] = word
    return " ".join(positions[i] for i in sorted(positions)) or None


def _venue(record: dict) -> Venue | None:
    location = record.get("primary_location") or {}
    source = location.get("source") or record.get("host_venue") or {}
    name = (source.get("display_name") or "").strip()
    return Venue(name=name, kind=source.get("type")) if name else None


def _links(record: dict, source_id: str) -> dict[str, str]:
    """Where the work lives: its OpenAlex page, landing page, PDF and open-access copy (both shapes)."""
    location = record.get("primary_location") or {}
    host = record.get("host_venue") or {}
    best = record.get("best_oa_location") or {}
    candidates = {
        "openalex": source_id if "openalex.org/" in source_id else None,
        "landing": location.get("landing_page_url") or host.get("url"),
        "pdf": location.get("pdf_url"),
        "open_access": (record.get("open_access") or {}).get("oa_url") or best.get("pdf_url") or best.get("landing_page_url"),
        "arxiv": ((record.get("ids") or {}).get("arxiv") or "").rsplit("/", 1)[-1] or None,
    }
    return {kind: url for kind, url in candidates.items() if isinstance(url, str) and url.strip()}


def _labels(items, key: str = "display_name", min_score: float | None = None) -> list[str]:
    labels = []
    for item in items or ():
        if isinstance(item, str):
            labels.append(item)
        elif isinstance(item, dict) and item.get(key):
            if min_score is not None and (item.get("score") or 0) < min_score:
                continue
            labels.append(str(item[key]))
    return [readable(label) for label in labels if label.strip()]


def _topics(record: dict) -> tuple[list[str], dict[str, str]]:
    """Topic labels and the field each belongs to: OpenAlex topics carry their field; with the older
    concepts, level >= 1 concepts are topics under the work's best level-0 concept (its field)."""
    topics = [t for t in record.get("topics") or () if isinstance(t, dict) and t.get("display_name")]
    if topics:
        labels = _labels(topics)
        fields = [_labels([t.get("field")]) if isinstance(t.get("field"), dict) else [] for t in topics]
        return labels, {label: f[0] for label, f in zip(labels, fields) if f}
    concepts = [c for c in record.get("concepts") or () if isinstance(c, dict)]
    roots = sorted((c for c in concepts if (c.get("level") or 0) == 0), key=lambda c: -(c.get("score") or 0))
    field = _labels(roots[:1])
    labels = _labels([c for c in concepts if (c.get("level") or 0) > 0], min_score=MIN_CONCEPT_SCORE)
    if not labels:  # nothing finer than the field itself
        return _labels(roots, min_score=MIN_CONCEPT_SCORE), {}
    return labels, {label: field[0] for label in labels} if field else {}


def _authorships(record: dict) -> list[Authorship]:
    result = []
    for position, entry in enumerate(record.get("authorships") or ()):
        if not isinstance(entry, dict):
            raise RecordError(f"authorship {position + 1} is not an object")
        author = entry.get("author") or {}
        name = (author.get("display_name") or entry.get("raw_author_name") or "").strip()
        if not name:
            continue
        ids = author_identifiers(author.get("orcid"), author.get("id"))
        institutions = [
            Institution(name=inst["display_name"].strip(), ror=inst.get("ror"), country=inst.get("country_code"))
            for inst in entry.get("institutions") or ()
            if isinstance(inst, dict) and (inst.get("display_name") or "").strip()
        ]
        result.append(
            Authorship(
                position=position,
                name=readable(name),
                orcid=ids.get("orcid"),
                openalex_id=ids.get("openalex"),
                openreview_id=ids.get("openreview"),
                dblp_id=ids.get("dblp"),
                institutions=institutions,
            )
        )
    return result


def parse_work(record: dict) -> Work:
    source_id = record.get("id")
    if not source_id or not isinstance(source_id, str):
        raise RecordError("missing work id")
    title = readable((record.get("title") or record.get("display_name") or "").strip())
    if not title:
        raise RecordError("missing title")
    year = record.get("publication_year")
    if year is not None and not (isinstance(year, int) and 1000 <= year <= 2100):
        raise RecordError(f"implausible publication_year {year!r}")
    cited = record.get("cited_by_count") or 0
    if not isinstance(cited, int) or cited < 0:
        raise RecordError(f"invalid cited_by_count {cited!r}")
    abstract = rebuild_abstract(record.get("abstract_inverted_index"))
    topics, topic_fields = _topics(record)
    doi = record.get("doi")
    return Work(
        id=work_id("openalex", source_id),
        source="openalex",
        source_id=source_id,
        title=title,
        abstract=readable(abstract) if abstract else None,
        year=year,
        type=record.get("type") or None,
        venue=_venue(record),
        doi=doi.removeprefix("https://doi.org/") if isinstance(doi, str) and doi else None,
        cited_by_count=cited,
        keywords=_labels(record.get("keywords")),
        source_topics=topics,
        topic_fields=topic_fields,
        authorships=_authorships(record),
        authors_truncated=bool(record.get("is_authors_truncated")),
        links=_links(record, source_id),
    )
