"""Domain records every layer speaks: what a source yields, what the catalog stores, what engines index.

Ids are stable and URL-safe: they are derived from source identifiers (works) or from the
researcher's anchor mention (researchers), never from row order, so links survive rebuilds.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]+")


def slug(text: str) -> str:
    """A URL-safe rendering of an identifier (no '/', '?', '#', spaces)."""
    return _UNSAFE.sub("-", text).strip("-")


def short_hash(text: str, length: int = 12) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def work_id(source: str, source_id: str) -> str:
    """`W…` for OpenAlex ids, `arxiv-…` for arXiv ids, `<source>-<slug>` otherwise."""
    openalex = re.search(r"openalex\.org/(W\d+)$", source_id)
    if openalex:
        return openalex.group(1)
    if source == "arxiv":
        return "arxiv-" + slug(source_id)
    return slug(source_id.replace(":", "-"))


def topic_id(label_key: str) -> str:
    return "t-" + slug(label_key.replace(" ", "-"))[:60]


def researcher_id(anchor: str) -> str:
    return "r-" + short_hash(anchor, 10)


@dataclass(frozen=True)
class Institution:
    name: str
    ror: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class Venue:
    name: str
    kind: str | None = None  # journal, conference, repository


@dataclass
class Authorship:
    """One author mention on one work, as the source gave it."""

    position: int
    name: str
    orcid: str | None = None
    openalex_id: str | None = None
    openreview_id: str | None = None
    dblp_id: str | None = None
    institutions: list[Institution] = field(default_factory=list)

    def identifiers(self) -> dict[str, str]:
        ids = {
            "orcid": self.orcid,
            "openalex": self.openalex_id,
            "openreview": self.openreview_id,
            "dblp": self.dblp_id,
        }
        return {kind: value for kind, value in ids.items() if value}


@dataclass
class Work:
    """A bibliographic record after parsing, before identity resolution."""

    id: str
    source: str
    source_id: str
    title: str
    abstract: str | None = None
    year: int | None = None
    type: str | None = None
    venue: Venue | None = None
    doi: str | None = None
    cited_by_count: int = 0
    keywords: list[str] = field(default_factory=list)
    source_topics: list[str] = field(default_factory=list)
    topic_fields: dict[str, str] = field(default_factory=dict)
    """Source topic label -> the field the source files it under (OpenAlex field, arXiv archive)."""
    authorships: list[Authorship] = field(default_factory=list)
    authors_truncated: bool = False
    # Where the work lives, as the source gave it: `openalex`, `arxiv` (an id), `landing`, `pdf`, `open_access` (URLs).
    links: dict[str, str] = field(default_factory=dict)

    def embedding_text(self) -> str:
        """Title plus abstract; without an abstract, title plus venue and keywords."""
        if self.abstract:
            return f"{self.title}. {self.abstract}"
        extra = [self.venue.name if self.venue else "", *self.keywords, *self.source_topics[:5]]
        return ". ".join(part for part in [self.title, *extra] if part)


@dataclass(frozen=True)
class TopicRef:
    """A work's topic: `level` "field" or "topic" (a topic's `parent` is its field's id); `weight`
    in (0, 1] says how central the topic is to the work."""

    id: str
    label: str
    weight: float = 1.0
    level: str = "topic"
    parent: str | None = None


@dataclass(frozen=True)
class AuthorRef:
    """A work's author as indexed: the resolved researcher and how the link was made."""

    researcher_id: str
    name: str
    position: int
    method: str = "name"
    confidence: float = 1.0


@dataclass(frozen=True)
class Collaborator:
    id: str
    name: str
    joint_works: int


@dataclass(frozen=True)
class TopicCount:
    id: str
    label: str
    count: int
    weight: float = 0.0  # sum of the works' topic weights: what ranks a researcher's topics


@dataclass(frozen=True)
class InstitutionSpan:
    name: str
    first_year: int | None
    last_year: int | None
    works: int


@dataclass
class WorkDoc:
    """A work as the search engines index it."""

    id: str
    title: str
    abstract: str | None
    year: int | None
    type: str | None
    venue: str | None
    doi: str | None
    cited_by_count: int
    source: str
    keywords: list[str]
    topics: list[TopicRef]
    authors: list[AuthorRef]
    institutions: list[str]
    authors_truncated: bool = False
    links: dict[str, str] = field(default_factory=dict)  # as on `Work`
    vector: list[float] | None = None

    @property
    def researcher_ids(self) -> list[str]:
        return [a.researcher_id for a in self.authors]


@dataclass
class ResearcherDoc:
    """A resolved researcher with the aggregates a profile page shows."""

    id: str
    name: str
    name_variants: list[str]
    identifiers: dict[str, str]
    works_count: int
    cited_by_count: int
    h_index: int
    first_year: int | None
    last_year: int | None
    topics: list[TopicCount]
    close_collaborators: list[Collaborator]
    institutions: list[InstitutionSpan]
    work_ids: list[str]
    link_methods: dict[str, int]
    vector: list[float] | None = None
    identity_conflicts: list[str] = field(default_factory=list)
    """Source ids found on mentions with incompatible names (not merged; shown to the admin)."""
    coauthors: dict[str, int] = field(default_factory=dict)
    """Co-author id -> works together, most first, over the works of at most
    `indexer.aggregates.LARGE_TEAM` authors: suggestions walk the co-author graph from these lists
    (yours, then your co-authors') instead of reading everyone's works per request."""
    large_works: list[str] = field(default_factory=list)
    """The works with more authors: their author lists are read once per request, not copied into
    each author's `coauthors` (a 3,000-author paper would copy 3,000 names 3,000 times)."""
    coauthors_count: int = 0
    """Distinct co-authors over all works."""

    @property
    def affiliation(self) -> str | None:
        return self.institutions[0].name if self.institutions else None


@dataclass
class TopicDoc:
    id: str
    label: str
    origin: str  # source (from the records) or derived (from text clusters)
    works_count: int
    researchers_count: int
    description: str = ""
    level: str = "topic"  # field or topic
    parent: str | None = None  # a topic's field (id)
    parent_label: str | None = None
    subtopics: list[TopicCount] = field(default_factory=list)  # a field's largest topics
    vector: list[float] | None = None
