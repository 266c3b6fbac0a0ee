"""Response models: what `/docs` shows for each `/api` route. The dicts come from `web.shapes`."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    """Documented fields; additional fields from `web.shapes` pass through unchanged."""

    model_config = ConfigDict(extra="allow")


# -- errors -------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    location: list[str] = Field(description="Where the bad value is, e.g. ['query', 'page'].")
    parameter: str
    message: str
    type: str


class ErrorInfo(BaseModel):
    status: int = Field(description="The HTTP status, repeated.")
    message: str = Field(description="What went wrong, readable.")
    details: list[ErrorDetail] = Field(default_factory=list, description="One entry per invalid parameter.")


class ErrorBody(BaseModel):
    error: ErrorInfo


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A parameter cannot be answered as given."},
    404: {"model": ErrorBody, "description": "Unknown id."},
    422: {"model": ErrorBody, "description": "A parameter failed validation."},
    503: {"model": ErrorBody, "description": "The engine is unavailable; see the Retry-After header."},
}


# -- building blocks ----------------------------------------------------------------------------


class WorkRefOut(Open):
    id: str
    title: str
    year: Optional[int] = None
    venue: Optional[str] = None


class AuthorOut(Open):
    id: str = Field(description="Researcher id: link to /api/researchers/{id}.")
    name: str
    position: int


class TopicRefOut(Open):
    id: str
    label: str
    weight: float = Field(1.0, description="How central the topic is to the work, in (0, 1].")
    level: str = Field("topic", description="field or topic (a topic's parent is its field).")
    parent: Optional[str] = None


class WorkOut(WorkRefOut):
    abstract: Optional[str] = None
    type: Optional[str] = None
    doi: Optional[str] = None
    cited_by_count: int = 0
    authors: list[AuthorOut] = []
    topics: list[TopicRefOut] = []


class ScoresOut(Open):
    keyword: Optional[float] = Field(None, description="BM25 score, or null if keyword search did not retrieve it.")
    vector: Optional[float] = Field(None, description="Cosine similarity, or null if vector search did not retrieve it.")
    fused: float = Field(description="The score the ranking used (RRF or weighted).")
    keyword_rank: Optional[int] = None
    vector_rank: Optional[int] = None


class WorkHitOut(WorkOut):
    scores: ScoresOut
    highlights: dict[str, str] = Field(
        default_factory=dict, description="Field -> HTML-escaped text with matches wrapped in <mark>."
    )


class FacetOut(Open):
    value: str = Field(description="What the filter parameter takes.")
    label: str
    count: int


class TopicCountOut(Open):
    id: str
    label: str
    count: int
    weight: float = Field(0.0, description="Sum of the works' weights for this topic: what orders them.")


class CollaboratorOut(Open):
    id: str
    name: str
    joint_works: int


# -- search -------------------------------------------------------------------------------------


class SearchOut(Open):
    kind: str = Field(description="works | people | topics")
    query: str
    hits: list[dict[str, Any]] = Field(description="Works, researchers or topics depending on `kind`.")
    total: Optional[int] = Field(None, description="Works only: matches within the filters.")
    facets: Optional[dict[str, list[FacetOut]]] = Field(None, description="Works only: year, venue, type, topic.")
    page: Optional[int] = None
    per_page: Optional[int] = None
    mode: Optional[str] = None
    fusion: Optional[str] = None
    hint: Optional[str] = Field(None, description="What to try when there are no hits.")
    related: Optional[list[dict[str, Any]]] = Field(
        None, description="Works, page 1 of hybrid mode: nearest by meaning without matching the words (not in `total`).")
    suggestion: Optional[str] = Field(None, description="Works: \"did you mean\", from the index's own vocabulary.")
    people: Optional[list[dict[str, Any]]] = Field(None, description="Works, page 1: researchers the query names.")
    topics: Optional[list[dict[str, Any]]] = Field(None, description="Works, page 1: topics whose words the query uses.")


# -- researchers --------------------------------------------------------------------------------


class PaperPairOut(Open):
    theirs: WorkRefOut
    yours: WorkRefOut
    similarity: float
    same_work: bool = Field(description="Both researchers wrote this paper together.")


class SuggestionOut(Open):
    id: str
    name: str
    similarity: float
    shared_topics: list[str]
    paper_pairs: list[PaperPairOut]
    via: list[dict[str, Any]] = Field([], description="The strongest shared co-authors (at most three), when the co-author graph brought the suggestion.")


class SuggestionsOut(Open):
    hits: list[SuggestionOut]


class TrustComponentOut(Open):
    key: str
    label: str
    points: int
    max_points: int
    evidence: str
    rule: str


class TrustOut(Open):
    score: int = Field(description="The sum of the components' points.")
    max_score: int
    band: str = Field(description="Emerging (0–24), Established (25–49), Trusted (50–74), Verified (75+).")
    level: str = Field(description="Verification level L0–L3.")
    level_description: str
    claim_status: str
    components: list[TrustComponentOut]


class CountsOut(Open):
    works: int
    followers: int
    topics: int
    close_collaborators: int


class ResearcherOut(Open):
    id: str
    name: str
    name_variants: list[str]
    identifiers: dict[str, str]
    affiliation: Optional[str] = None
    works_count: int


class ProfileOut(ResearcherOut):
    cited_by_count: int
    h_index: int
    first_year: Optional[int] = None
    last_year: Optional[int] = None
    institutions: list[dict[str, Any]]
    open_to_collaborate: Optional[bool] = Field(None, description="Unknown (null) until the researcher states it.")
    counts: CountsOut
    trust: TrustOut
    works: list[WorkOut]
    topics: list[TopicCountOut]
    close_collaborators: list[CollaboratorOut]
    similar_researchers: list[SuggestionOut]
    new_collaborators: list[SuggestionOut]


class GraphNodeOut(Open):
    id: str
    type: str = Field(description="researcher | work | topic | institution")
    label: str


class GraphEdgeOut(Open):
    source: str
    target: str
    kind: str = Field(description="coauthor | authored | about | affiliated")


class GraphOut(Open):
    center: str
    nodes: list[GraphNodeOut]
    edges: list[GraphEdgeOut]


# -- topics and works ---------------------------------------------------------------------------


class TopicOut(Open):
    id: str
    label: str
    origin: str
    works_count: int
    researchers_count: int
    level: str = Field("topic", description="field or topic")
    parent: Optional[str] = Field(None, description="A topic's field (topic id).")
    parent_label: Optional[str] = None
    subtopics: list[TopicCountOut] = Field(default_factory=list, description="A field's largest topics.")


class YearCountOut(Open):
    year: int
    works: int


class TopicPageOut(Open):
    topic: TopicOut
    description: str
    top_researchers: list[dict[str, Any]]
    recent_works: list[WorkRefOut]
    cited_works: list[WorkRefOut]
    related_topics: list[dict[str, Any]]
    works_per_year: list[YearCountOut]


class SimilarWorkOut(WorkRefOut):
    similarity: float


class WorkPageOut(Open):
    work: WorkOut
    similar_works: list[SimilarWorkOut]


class StatusOut(Open):
    ready: bool
    engine: str
    message: str
    index: Optional[dict[str, Any]] = None
