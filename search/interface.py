"""The search interface: what every engine implements and what every page and CLI command asks.

Engines implement the small retrieval primitives of `SearchEngine`; everything built from them
(fusion, people search, profiles, similar researchers, topic pages) lives once in `search.service`,
so a new engine only adds retrieval.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from datetime import datetime
from typing import Callable, Collection, Iterable, Literal, Protocol, Sequence

from models.records import (
    AuthorRef,
    Collaborator,
    InstitutionSpan,
    ResearcherDoc,
    TopicCount,
    TopicDoc,
    TopicRef,
    WorkDoc,
)

Mode = Literal["keyword", "semantic", "hybrid"]
Fusion = Literal["rrf", "weighted"]
MODES: tuple[str, ...] = ("keyword", "semantic", "hybrid")
FUSIONS: tuple[str, ...] = ("rrf", "weighted")
FACET_FIELDS: tuple[str, ...] = ("year", "venue", "type", "topic")
MAX_QUERY_CHARS = 10_000
MAX_PAGE_SIZE = 100
MAX_RESULT_WINDOW = 1_000
FACET_LIMIT = 20

Progress = Callable[[str, int, int], None]
"""`progress(stage, done, total)`: how long work reports itself (CLI bars, admin jobs)."""


class SearchError(Exception):
    """Base of the errors the web layer maps to HTTP statuses."""

    status = 500


class BadQuery(SearchError):
    """The user's query or a parameter cannot be answered as given (400)."""

    status = 400


class NotFound(SearchError):
    status = 404


class EngineUnavailable(SearchError):
    """The engine cannot answer now (node down, timeout, no index built yet): retry later (503)."""

    status = 503


@dataclass(frozen=True)
class WorkFilters:
    year_from: int | None = None
    year_to: int | None = None
    types: tuple[str, ...] = ()
    venues: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()  # topic ids
    researcher: str | None = None  # researcher id

    def is_empty(self) -> bool:
        return self == WorkFilters()


@dataclass(frozen=True)
class Scores:
    """Why a hit ranked: each retriever's score and rank (None when it did not retrieve it)."""

    fused: float
    keyword: float | None = None
    vector: float | None = None
    keyword_rank: int | None = None
    vector_rank: int | None = None


@dataclass
class WorkHit:
    work: WorkDoc
    scores: Scores
    highlights: dict[str, str] = field(default_factory=dict)
    """Field -> HTML-escaped snippet whose matches are wrapped in <mark>."""


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int


@dataclass
class WorkResults:
    total: int
    hits: list[WorkHit]
    facets: dict[str, list[FacetValue]]
    page: int
    per_page: int
    mode: str
    fusion: str
    related: list[WorkHit] = field(default_factory=list)
    """Semantic-only neighbours above the similarity floor: not counted in `total`, never in `hits`."""
    suggestion: str | None = None
    """"Did you mean": the query with its rare words replaced by close, common words of the index."""


@dataclass
class IndexInfo:
    """A built index version: what the status page and `discovery status` show."""

    engine: str
    version: int
    built_at: datetime
    model: str
    counts: dict[str, int]
    meta: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Corpus:
    """Everything one index version is built from; the indexer produces it, engines consume it."""

    works: Callable[[], Iterable[WorkDoc]]
    researchers: Callable[[], Iterable[ResearcherDoc]]
    topics: Callable[[], Iterable[TopicDoc]]
    counts: dict[str, int]
    model: str
    dimension: int
    meta: dict[str, object] = field(default_factory=dict)
    make: Callable[[str, Collection[str]], Iterable] | None = None
    """`make(kind, ids)`: only those documents, so that an update finds the few it needs without
    making every document of a kind; None: read them from the kind's iterable."""


@dataclass(frozen=True)
class CoauthorList:
    """A researcher's stored co-authors: `ResearcherDoc.coauthors`, `large_works`, `coauthors_count`."""

    joint: dict[str, int]
    large_works: list[str]
    count: int


DOC_KINDS: tuple[str, ...] = ("works", "researchers", "topics")
"""The three kinds of document every index version holds."""


@dataclass(frozen=True)
class Changes:
    """Which documents of a corpus differ from the version an incremental build starts from."""

    changed: dict[str, set[str]]  # kind ("works", "researchers", "topics") -> ids of new or changed docs
    removed: dict[str, set[str]]  # kind -> ids the base version holds and the corpus does not
    docs: dict[str, dict[str, object]] = field(default_factory=dict)
    """Kind -> id -> the changed documents as the indexer made them to compare (`indexer.pipeline._changes`),
    so that an engine need not make every document again to find them; a kind may be absent or partial."""


class SearchEngine(Protocol):
    """Retrieval primitives. Ids in, ids and docs out; scores are higher-is-better."""

    name: str

    # -- index versions ---------------------------------------------------------------------
    def build(self, corpus: Corpus, progress: Progress | None = None) -> IndexInfo:
        """Build a new version beside the live one, then switch to it atomically."""

    def update(self, base: int, corpus: Corpus, changes: Changes, progress: Progress | None = None) -> IndexInfo:
        """Build a new version from version `base` by applying `changes` (the docs they name are
        read from `corpus`, which holds the whole new version), then switch to it as `build` does.
        When `base` is no longer live, build from `corpus` instead."""

    def rollback(self) -> IndexInfo:
        """Make the previous version live again."""

    def info(self) -> IndexInfo | None:
        """The live version, or None before the first build."""

    def close(self) -> None: ...

    # -- works ------------------------------------------------------------------------------
    def keyword_works(self, text: str, filters: WorkFilters, limit: int) -> list[tuple[str, float]]:
        """BM25 over title > abstract > venue/keywords/topics; user text is always quoted.

        Terms come from `search.text.query_terms(text)` and are OR-ed (documents matching more and
        rarer terms rank higher); text without terms (punctuation, emoji) matches nothing: `[]`.
        """

    def browse_works(self, filters: WorkFilters, limit: int) -> list[str]:
        """Works matching only the filters (no text), newest first, then most cited, then by id."""

    def vector_works(self, vector: Sequence[float], filters: WorkFilters, limit: int) -> list[tuple[str, float]]:
        """Cosine similarity, filters applied inside the search (not after it)."""

    def keyword_and_vector_works(
        self, text: str, vector: Sequence[float], filters: WorkFilters, limit: int
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """Both retrievers for hybrid search; a remote engine answers them in one round trip."""

    def work_facets(
        self, text: str | None, extra_ids: Sequence[str], filters: WorkFilters, all_works: bool = False
    ) -> tuple[int, dict[str, list[FacetValue]]]:
        """Total and facet counts over (keyword matches of `text` ∪ `extra_ids`) ∩ filters.

        `all_works=True` counts every work ∩ filters instead (the browse listing of an empty query).
        Facets: `year` (every year, newest first), `venue`, `type`, `topic` (the FACET_LIMIT largest,
        ties by label); value is what a filter takes (a topic id for topics), label what a page shows.
        """

    def highlight_works(self, text: str, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Id -> {"title": ..., "abstract": ...} for works among `ids` that match `text`'s terms.

        Values are HTML-escaped with matches in <mark> (see `search.text.mark`); `title` is the
        whole title, `abstract` a snippet present only when the abstract matches.
        """

    def get_works(self, ids: Sequence[str]) -> list[WorkDoc]:
        """In the order asked; unknown ids are dropped."""

    def work_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]: ...

    def topic_works(self, topic_id: str, sort: Literal["recent", "cited"], limit: int) -> list[WorkDoc]: ...

    def works_per_year(self, topic_id: str) -> dict[int, int]: ...

    # -- researchers ------------------------------------------------------------------------
    def name_researchers(self, text: str, limit: int) -> list[tuple[str, float]]:
        """Candidates by name or name variant: either order, diacritics, small typos."""

    def researcher_by_identifier(self, kind: str, value: str) -> str | None:
        """`kind` is one of `search.text.IDENTIFIER_KINDS`; both sides compare in canonical form."""

    def vector_researchers(
        self,
        vector: Sequence[float],
        limit: int,
        exclude: Sequence[str] = (),
        active_since: int | None = None,
        institution: str | None = None,
    ) -> list[tuple[str, float]]: ...

    def get_researchers(self, ids: Sequence[str]) -> list[ResearcherDoc]:
        """In the order asked; unknown ids are dropped; `vector` is left None and `coauthors` empty
        (see below: a co-author of a large collaboration has thousands)."""

    def researcher_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]: ...

    def researcher_cosines(self, vector: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
        """Cosine of `vector` (a researcher's, unit length) to each listed researcher's vector (those
        without one are left out): new collaborators score thousands of friends of friends, and
        reading their vectors cost more than the scores."""

    def researcher_coauthors(self, ids: Sequence[str]) -> dict[str, "CoauthorList"]:
        """Each known researcher's place in the co-author graph a suggestion walks, read without the
        rest of the document."""

    def topic_researchers(self, topic_id: str, limit: int) -> list[tuple[str, int]]:
        """Researchers with the most works on a topic, with their count."""

    # -- topics -----------------------------------------------------------------------------
    def keyword_topics(self, text: str, limit: int) -> list[tuple[str, float]]: ...

    def vector_topics(self, vector: Sequence[float], limit: int) -> list[tuple[str, float]]: ...

    def get_topics(self, ids: Sequence[str]) -> list[TopicDoc]:
        """In the order asked; unknown ids are dropped; `vector` is left None (see below)."""

    def topic_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]: ...

    # -- spelling ---------------------------------------------------------------------------
    def word_suggestions(self, words: Sequence[str]) -> dict[str, tuple[str, int]]:
        """For each word, the replacement `best_suggestion` picks from the index's own vocabulary
        (title and abstract words, unstemmed, folded): (that word, its works); words with none are absent."""


SPELLING_EDITS = 2
SPELLING_MIN_LENGTH = 4
SPELLING_MAX_LENGTH = 40
"""Only words of these lengths are corrected: shorter ones have too many close neighbours to guess
from, longer ones are no word (and an engine's suggester may refuse them)."""


def spellable(word: str) -> bool:
    return SPELLING_MIN_LENGTH <= len(word) <= SPELLING_MAX_LENGTH
SPELLING_GAIN = 10
"""A replacement must be used by this many times more works than the word typed: "desent" (a typo
a few abstracts share) becomes "descent", while "model" never becomes "models"."""


def best_suggestion(word: str, own_works: int, candidates: Iterable[tuple[str, int]]) -> tuple[str, int] | None:
    """The candidate to propose for `word`: same first letter, at most SPELLING_EDITS edits, at least
    SPELLING_GAIN times the works of `word`; the fewest edits first, then the most works, then by spelling."""
    from rapidfuzz.distance import Levenshtein

    if not spellable(word):
        return None
    scored = []
    for candidate, works in candidates:
        if candidate == word or candidate[:1] != word[:1] or works < SPELLING_GAIN * max(1, own_works):
            continue
        edits = Levenshtein.distance(word, candidate, score_cutoff=SPELLING_EDITS)
        if edits <= SPELLING_EDITS:
            scored.append((edits, -works, candidate))
    if not scored:
        return None
    edits, works, candidate = min(scored)
    return candidate, -works


# -- documents as plain dicts: how every engine stores and returns them ---------------------------


def doc_to_dict(doc: WorkDoc | ResearcherDoc | TopicDoc) -> dict:
    """A JSON-ready dict of a doc without its vector (engines keep vectors apart from documents)."""
    data = asdict(replace(doc, vector=None))  # replace first: asdict would copy every float
    del data["vector"]
    return data


def doc_fields(doc: object) -> dict:
    """A doc's (or a nested record's) fields but the vector, the nested records left as they are: what
    `doc_to_dict` gives, for serialisers that write dataclasses themselves without `asdict`'s deep copy."""
    return {name: value for name, value in vars(doc).items() if name != "vector"}


def doc_json(fields: dict, **options) -> str:
    """`json.dumps` of a doc's `doc_fields` (or some of them), nested records written straight from
    their dataclasses: the text `json.dumps(doc_to_dict(doc))` gives, without `asdict`'s deep copy,
    which was a third of the embedded engine's build (py-spy, 100k works)."""
    return json.dumps(fields, default=_record_fields, **options)


def _record_fields(value: object) -> dict:
    """`doc_json`'s fallback: a nested record as its fields; anything else is not JSON, as for `json.dumps`."""
    if is_dataclass(value) and not isinstance(value, type):
        return doc_fields(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def work_from_dict(data: dict) -> WorkDoc:
    data = {**data, "vector": None}
    data["topics"] = [TopicRef(**t) for t in data.get("topics") or []]
    data["authors"] = [AuthorRef(**a) for a in data.get("authors") or []]
    return WorkDoc(**data)


def researcher_from_dict(data: dict) -> ResearcherDoc:
    data = {**data, "vector": None}
    data["topics"] = [TopicCount(**t) for t in data.get("topics") or []]
    data["close_collaborators"] = [Collaborator(**c) for c in data.get("close_collaborators") or []]
    data["institutions"] = [InstitutionSpan(**i) for i in data.get("institutions") or []]
    return ResearcherDoc(**data)


def topic_from_dict(data: dict) -> TopicDoc:
    return TopicDoc(**{**data, "vector": None, "subtopics": [TopicCount(**t) for t in data.get("subtopics") or []]})
