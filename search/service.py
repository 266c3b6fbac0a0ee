"""Discovery: every question a page or CLI command asks, answered from any engine's primitives.

Engines only retrieve (`search.interface.SearchEngine`); validation, query embedding, fusion,
pagination, people search, profiles, similar researchers and topic pages live here once, so both
engines behave the same and the web layer renders plain dataclasses (`dataclasses.asdict`).

Conventions every method follows:
* Bad input (text too long, bad page/per_page/limit/mode/fusion/years) raises `BadQuery`;
  an unknown id raises `NotFound`; nothing else escapes for user input.
* An empty works query is not an error: it is the browse listing of the filters, newest first
  (mode `browse` in the result, scores 0). People, topic and researcher look-ups need text.
* Results are deterministic: every ranking breaks ties by id.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from models.embedding import Embedder, pool_vectors
from models.records import Collaborator, ResearcherDoc, TopicCount, TopicDoc, WorkDoc
from search import fusion as F
from search import text as T
from search.interface import (
    FUSIONS,
    MAX_PAGE_SIZE,
    MAX_RESULT_WINDOW,
    MODES,
    BadQuery,
    CoauthorList,
    EngineUnavailable,
    FacetValue,
    NotFound,
    Scores,
    SearchEngine,
    WorkFilters,
    WorkHit,
    WorkResults,
)

MIN_DEPTH = 100
"""Candidates each retriever returns at least: fusion needs more than one page to work with."""
RELATED_WORKS = 5
"""Semantic-only neighbours shown as "related" beside the works that match the words."""
SIMILARITY_FLOOR = 0.40
SIMILARITY_RATIO = 0.75
"""A vector neighbour counts as related when its cosine is at least SIMILARITY_FLOOR and at least
SIMILARITY_RATIO of the query's best cosine (see `above_floor`; chosen on data in bench/README.md)."""
PANEL_PEOPLE = 3
PANEL_TOPICS = 5
SUGGEST_BELOW = 10
"""Works queries matching fewer works than this get a "did you mean" when the index knows better words."""
YEAR_RANGE = (1000, 2999)

STRONG_NAME = 0.85
"""A name match at least this good answers a people query by name; weaker ones fall back to expertise."""
MIN_NAME = 0.6
"""Name matches below this are not shown at all (they are other people)."""
EXPERTISE_DEPTH = 200
EXPERTISE_WORKS = 5
"""A researcher's expertise score sums their best few matching works, so prolific authors of many
loosely related papers do not outrank the people whose papers are about the phrase."""
EXPERTISE_CANDIDATES = 1000
"""Nearest works read to find who knows about a text (each brings its authors)."""
EXPERTISE_SHOWN = 3
RECENT_YEARS = 5
AGE_DECAY = 0.02
OLDEST_FACTOR = 0.8
"""A work older than RECENT_YEARS counts AGE_DECAY less per further year, never below OLDEST_FACTOR."""
PIN_FACTOR = 1.1
"""A work its owner pinned counts this much more."""
PEOPLE_MODES = ("auto", "name", "expertise")
SIMILAR_MODES = ("similar", "collaborators")
PAIRS_PER_SUGGESTION = 3
COLLABORATOR_CANDIDATES = 200
"""Nearest researcher vectors considered as new collaborators, besides every friend of a friend."""
VIA_SHOWN = 3
"""Shared co-authors a new-collaborator suggestion names, strongest link first (the page shows three;
`CollaboratorSignals.common_neighbours` counts them all). Naming every one read the documents of
thousands of co-authors for a researcher of a thousand-author paper."""
GRAPH_WORKS = 40
GRAPH_COLLABORATORS = 40
_RESEARCHER_ID = re.compile(r"r-[0-9a-f]{6,}")


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkRef:
    """Enough of a work to name and link it."""

    id: str
    title: str
    year: int | None
    venue: str | None

    @classmethod
    def of(cls, work: WorkDoc) -> "WorkRef":
        return cls(work.id, work.title, work.year, work.venue)


@dataclass
class ResearcherHit:
    researcher: ResearcherDoc
    score: float
    matched_by: str  # identifier | name | expertise
    works: list[WorkDoc] = field(default_factory=list)
    """For expertise: the works that matched the phrase, best first; otherwise the latest works."""


@dataclass
class PeopleResults:
    query: str
    by: str  # how the query was answered: identifier | name | expertise
    hits: list[ResearcherHit]


@dataclass
class TopicHit:
    topic: TopicDoc
    score: float


@dataclass
class SearchPanels:
    """What a works query also matches, shown above the works (as Scholar's "User profiles for ...")."""

    people: list[ResearcherHit]
    topics: list[TopicHit]


@dataclass
class Profile:
    researcher: ResearcherDoc
    works: list[WorkDoc]  # newest first
    collaborators: list[Collaborator]  # every co-author, most joint works first
    topics: list[TopicCount]


@dataclass(frozen=True)
class PaperPair:
    theirs: WorkRef
    yours: WorkRef
    similarity: float


@dataclass
class Suggestion:
    researcher: ResearcherDoc
    similarity: float
    shared_topics: list[str]
    paper_pairs: list[PaperPair]
    via: list[ResearcherDoc] = field(default_factory=list)
    """The VIA_SHOWN strongest shared co-authors when the co-author graph brought this suggestion."""


@dataclass(frozen=True)
class CollaboratorBlend:
    """How `blend_collaborators` scores a candidate:
    (Adamic-Adar + prior) x content^content_power x (1 + topics x topic cosine)."""

    prior: float
    """Graph credit every candidate starts with, so a close stranger can outrank a weak friend of a friend."""
    content_power: float
    """How sharply closeness in content (researcher-vector cosine) orders candidates."""
    topics: float
    """Weight of the shared-topics factor (0: topics do not count)."""


@dataclass
class CollaboratorSignals:
    """Why someone might become a new collaborator."""

    content: float
    """Cosine of the two researcher vectors (what they write about)."""
    adamic_adar: float
    """Sum over shared co-authors of 1 / log(their co-author count): a friend of a friend, weighted
    by how selective the friend is (Adamic & Adar, "Friends and neighbors on the Web", 2003)."""
    common_neighbours: int
    topics: float
    """Cosine of the two topic-count profiles."""
    via: list[str]
    """The VIA_SHOWN strongest shared co-authors' ids, strongest link first."""


@dataclass(frozen=True)
class Curation:
    """An owner's choices about their works: pinned works count more, excluded ones not at all."""

    pinned: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()


@dataclass
class MatchedWork:
    work: WorkDoc
    similarity: float
    """Cosine of the work and the text."""
    weight: float
    """What the work counts for: its similarity times its recency and pin factors."""


@dataclass
class Expert:
    researcher: ResearcherDoc
    fit: float
    """Absolute, comparable across texts: the best weight among their works (a cosine, so a fit of
    0.6 means the same for every text); not divided by anyone else's score."""
    works: list[MatchedWork]


@dataclass
class ExpertiseResults:
    chunks: int
    """How many passages of the model's window the text was read as (1 when passages are off)."""
    hits: list[Expert]


@dataclass
class TopicResearcher:
    researcher: ResearcherDoc
    works: int


@dataclass
class TopicPage:
    topic: TopicDoc
    description: str
    top_researchers: list[TopicResearcher]
    recent_works: list[WorkDoc]
    cited_works: list[WorkDoc]
    related_topics: list[TopicHit]
    works_per_year: dict[int, int]


@dataclass
class SimilarWork:
    work: WorkDoc
    similarity: float


@dataclass
class WorkPage:
    work: WorkDoc
    similar_works: list[SimilarWork]


# -- validation ---------------------------------------------------------------------------------


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise BadQuery(f"{name} must be a whole number")
    if not low <= int(value) <= high:
        raise BadQuery(f"{name} must be between {low} and {high}")
    return int(value)


def _strings(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) and 0 < len(v) <= 500 for v in value):
        raise BadQuery(f"{name} must be a list of values")
    return tuple(dict.fromkeys(value))


def check_filters(filters: WorkFilters | None) -> WorkFilters:
    """Filters with every value checked (years in range and ordered, lists of strings)."""
    if filters is None:
        return WorkFilters()
    if not isinstance(filters, WorkFilters):
        raise BadQuery("filters must be WorkFilters")
    low, high = YEAR_RANGE
    year_from = None if filters.year_from is None else _int(filters.year_from, "year_from", low, high)
    year_to = None if filters.year_to is None else _int(filters.year_to, "year_to", low, high)
    if year_from is not None and year_to is not None and year_from > year_to:
        raise BadQuery("year_from is after year_to")
    researcher = filters.researcher
    if researcher is not None and (not isinstance(researcher, str) or not 0 < len(researcher) <= 200):
        raise BadQuery("researcher must be a researcher id")
    return dataclasses.replace(
        filters,
        year_from=year_from,
        year_to=year_to,
        types=_strings(filters.types, "types"),
        venues=_strings(filters.venues, "venues"),
        topics=_strings(filters.topics, "topics"),
        researcher=researcher or None,
    )


def _required(text: str | None, what: str) -> str:
    text = T.check_text(text)
    if not text:
        raise BadQuery(f"type {what}")
    return text


# -- the service --------------------------------------------------------------------------------


class Discovery:
    """The one object pages and commands talk to. Thread-safe if the engine is."""

    def __init__(self, engine: SearchEngine, embedder: Embedder, cache_size: int = 512):
        self.engine = engine
        self.embedder = embedder
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def embed(self, text: str) -> list[float]:
        """The query vector, cached: paging through results must not re-run the model.

        The engine is asked first (a `stat`, or one small request), so a query to an engine that is
        down answers 503 at once instead of after the model ran; the model itself runs one query at
        a time (`Embedder.embed`)."""
        with self._lock:
            if text in self._vectors:
                self._vectors.move_to_end(text)
                return self._vectors[text]
        self.engine.info()  # raises EngineUnavailable when the engine is down: then skip the model
        vector = [float(x) for x in self.embedder.embed_one(text)]
        with self._lock:
            self._vectors[text] = vector
            while len(self._vectors) > self._cache_size:
                self._vectors.popitem(last=False)
        return vector

    # -- works ---------------------------------------------------------------------------

    def search_works(
        self,
        text: str,
        mode: str = "hybrid",
        fusion: str = "rrf",
        filters: WorkFilters = WorkFilters(),
        page: int = 1,
        per_page: int = 10,
    ) -> WorkResults:
        """One page of works for `text`, with per-retriever scores, highlights, facets, related works
        and a "did you mean".

        Honest counts: in keyword and hybrid mode `total` and the facets count the works that match
        the words (within the filters) and `hits` holds only those, ranked by the fused score; the
        vector side reorders them and brings its own nearest works as `related` (page 1 only), each
        above the similarity floor (`above_floor`). Semantic mode has no words to match: its hits are
        the nearest works above the absolute floor. Every page is a slice of one ranking of the first
        MAX_RESULT_WINDOW candidates, so pages never repeat or lose a hit and `total` does not
        change with the page.
        """
        text = T.check_text(text)
        if mode not in MODES:
            raise BadQuery(f"mode must be one of {', '.join(MODES)}")
        if fusion not in FUSIONS:
            raise BadQuery(f"fusion must be one of {', '.join(FUSIONS)}")
        per_page = _int(per_page, "per_page", 1, MAX_PAGE_SIZE)
        page = _int(page, "page", 1, MAX_RESULT_WINDOW)
        if page * per_page > MAX_RESULT_WINDOW:
            raise BadQuery(f"only the first {MAX_RESULT_WINDOW} results can be paged through; refine the query")
        filters = check_filters(filters)
        start = (page - 1) * per_page

        if not text:
            ids = self.engine.browse_works(filters, page * per_page)[start:]
            total, facets = self.engine.work_facets(None, (), filters, all_works=True)
            works = self.engine.get_works(ids)
            hits = [WorkHit(w, Scores(fused=0.0), {"title": T.escape(w.title)}) for w in works]
            return WorkResults(total, hits, facets, page, per_page, "browse", fusion)

        keyword, vector, fused = self._ranked_works(text, mode, fusion, filters, MAX_RESULT_WINDOW)
        near = above_floor(vector, relative=mode != "semantic")
        matched: set[str] = set()
        if mode == "semantic":
            ranking = near
            total, facets = self.engine.work_facets(None, [doc_id for doc_id, _ in near], filters)
        else:
            matched = {doc_id for doc_id, _ in keyword}
            ranking = [(doc_id, score) for doc_id, score in fused if doc_id in matched]
            total, facets = self.engine.work_facets(text, (), filters)
        related_ids = []
        if mode == "hybrid" and page == 1:
            related_ids = [doc_id for doc_id, _ in near if doc_id not in matched][:RELATED_WORKS]
        page_ids = [doc_id for doc_id, _ in ranking[start : start + per_page]]
        explain = F.contributions([keyword, vector])
        scores = dict(fused)
        highlights = self.engine.highlight_works(text, page_ids) if T.query_terms(text) and mode != "semantic" else {}
        docs = {w.id: w for w in self.engine.get_works(page_ids + related_ids)}

        def hit(work: WorkDoc) -> WorkHit:
            kw, vec = explain.get(work.id, (None, None))
            return WorkHit(
                work,
                Scores(
                    fused=scores[work.id],
                    keyword=kw.score if kw else None,
                    vector=vec.score if vec else None,
                    keyword_rank=kw.rank if kw else None,
                    vector_rank=vec.rank if vec else None,
                ),
                highlights.get(work.id) or {"title": T.escape(work.title)},
            )

        hits = [hit(docs[i]) for i in page_ids if i in docs]
        related = [hit(docs[i]) for i in related_ids if i in docs]
        suggestion = self._did_you_mean(text) if mode != "semantic" and total < SUGGEST_BELOW else None
        return WorkResults(total, hits, facets, page, per_page, mode, fusion, related, suggestion)

    def search_panels(self, text: str) -> SearchPanels:
        """Researchers the query names (by identifier, or a strong name match when it reads as a
        name) and topics whose words it uses: one search box answers works, people and topics."""
        text = T.check_text(text)
        if not text:
            return SearchPanels([], [])
        # The panels only accompany the works: an index that cannot answer now (a red researchers or
        # topics index while OpenSearch recovers) leaves its panel empty instead of failing the search.
        try:
            people = self._named_people(text)
        except EngineUnavailable:
            people = []
        try:
            ranked = self.engine.keyword_topics(text, PANEL_TOPICS)
            docs = {t.id: t for t in self.engine.get_topics([tid for tid, _ in ranked])}
            topics = [TopicHit(docs[tid], round(score, 4)) for tid, score in ranked if tid in docs]
        except EngineUnavailable:
            topics = []
        return SearchPanels(people, topics)

    def _named_people(self, text: str) -> list[ResearcherHit]:
        found = self._by_identifier(text)
        if found is not None:
            return [ResearcherHit(found, 1.0, "identifier", self._latest_works(found))]
        if T.looks_like_name(text):
            return [h for h in self._by_name(text, PANEL_PEOPLE) if h.score >= STRONG_NAME]
        return []

    def _did_you_mean(self, text: str) -> str | None:
        """The query with each word the index rarely uses replaced by a close, common word of its own
        vocabulary (`SearchEngine.word_suggestions`); None when no word changes."""
        words = [w for w in T.query_terms(text) if w.isascii() and w.isalpha()]
        found = self.engine.word_suggestions(words) if words else {}
        for word, (better, _) in found.items():
            text = re.sub(rf"(?i)(?<![^\W_]){re.escape(word)}(?![^\W_])", better, text)
        return text if found else None

    def work_ranking(self, text: str, mode: str = "hybrid", fusion: str = "rrf") -> list[tuple[str, float]]:
        """The whole ranking a mode makes (the first MAX_RESULT_WINDOW), before `search_works` keeps only
        keyword matches as hits and vector neighbours above the similarity floor: what `discovery eval` scores."""
        return self._ranked_works(T.check_text(text), mode, fusion, WorkFilters(), MAX_RESULT_WINDOW)[2]

    def _ranked_works(
        self, text: str, mode: str, fusion: str, filters: WorkFilters, depth: int
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]], list[tuple[str, float]]]:
        """(keyword candidates, vector candidates, fused ranking) for one query."""
        if mode == "hybrid":
            keyword, vector = self.engine.keyword_and_vector_works(text, self.embed(text), filters, depth)
        else:
            keyword = self.engine.keyword_works(text, filters, depth) if mode == "keyword" else []
            vector = self.engine.vector_works(self.embed(text), filters, depth) if mode == "semantic" else []
        if mode == "keyword":
            return keyword, vector, list(keyword)
        if mode == "semantic":
            return keyword, vector, list(vector)
        if fusion == "weighted":
            return keyword, vector, F.weighted([keyword, vector], F.HYBRID_WEIGHTS)
        return keyword, vector, F.rrf([keyword, vector], k=F.RRF_K)

    def work_page(self, work_id: str, limit: int = 10) -> WorkPage:
        limit = _int(limit, "limit", 1, MAX_PAGE_SIZE)
        work = self._work(work_id)
        vector = self.engine.work_vectors([work.id]).get(work.id)
        similar: list[SimilarWork] = []
        if vector is not None:
            found = [(i, s) for i, s in self.engine.vector_works(vector, WorkFilters(), limit + 1) if i != work.id][:limit]
            docs = {w.id: w for w in self.engine.get_works([i for i, _ in found])}
            similar = [SimilarWork(docs[i], round(s, 4)) for i, s in found if i in docs]
        return WorkPage(work, similar)

    # -- people --------------------------------------------------------------------------

    def search_people(self, text: str, limit: int = 10, by: str = "auto") -> PeopleResults:
        """People for a pasted identifier, a name (any order, diacritics, typos) or a topic phrase.

        `auto`: an identifier answers by identifier; text that looks like a name and has a strong
        name match answers by name; anything else (a phrase, or only weak name matches) ranks
        researchers by the relevance of their works to the text.
        """
        text = _required(text, "a name, an identifier or a topic")
        limit = _int(limit, "limit", 1, MAX_PAGE_SIZE)
        if by not in PEOPLE_MODES:
            raise BadQuery(f"by must be one of {', '.join(PEOPLE_MODES)}")
        if by != "expertise":
            found = self._by_identifier(text)
            if found is not None:
                hits = [ResearcherHit(found, 1.0, "identifier", self._latest_works(found))]
                return PeopleResults(text, "identifier", hits)
            if T.parse_identifier(text):
                return PeopleResults(text, "identifier", [])
        if by == "name" or (by == "auto" and T.looks_like_name(text)):
            hits = self._by_name(text, limit)
            if by == "name" or (hits and hits[0].score >= STRONG_NAME):
                return PeopleResults(text, "name", hits)
        return PeopleResults(text, "expertise", self._by_expertise(text, limit))

    def expertise(
        self,
        text: str,
        researcher_ids: Sequence[str] | None = None,
        limit: int = 10,
        curation: dict[str, Curation] | None = None,
    ) -> ExpertiseResults:
        """Who knows about `text` (a pasted title and abstract, any length up to MAX_QUERY_CHARS)?

        The text is embedded once, read as the works are (`models.embedding.Embedder`: its first
        window when passages are off, as in `discovery eval expertise`, else passages of the window
        averaged). On that eval's dev half (all-MiniLM-L6-v2, one 128-piece window) the first window
        scored MRR .291, passages of the window averaged .283, 90-word pieces averaged .274.
        A researcher's fit is the cosine of the text to their vector: their works pooled with recency
        (`models.embedding.pool_vectors`), re-pooled here when the owner pinned (PIN_FACTOR) or
        excluded works, so choices count at once. On held-out ml-venues papers this ranks the author
        first more often than the best single work's cosine (`discovery eval expertise`: MRR .301 vs
        .270 on the half not used to choose). The works that matched best (cosine x recency x pin)
        explain the fit. `researcher_ids` scores exactly those people (the reviewer-assignment use);
        otherwise the authors of the EXPERTISE_CANDIDATES nearest works.
        """
        text = _required(text, "a title and abstract")
        limit = _int(limit, "limit", 1, MAX_PAGE_SIZE)
        if researcher_ids is not None:
            researcher_ids = _strings(list(researcher_ids), "researchers")
            if not 0 < len(researcher_ids) <= MAX_PAGE_SIZE:
                raise BadQuery(f"give between 1 and {MAX_PAGE_SIZE} researchers to score")
        curation = curation or {}
        vector = np.asarray(self.embed(text), dtype=np.float32)
        if researcher_ids is not None:
            people = self.engine.get_researchers(list(researcher_ids))
            if len(people) != len(researcher_ids):
                missing = sorted(set(researcher_ids) - {p.id for p in people})
                raise NotFound(f"no researcher {missing[0][:80]!r}")
            vectors = self.engine.work_vectors(sorted({w for p in people for w in p.work_ids}))
            similarity = {wid: float(np.asarray(v, dtype=np.float32) @ vector) for wid, v in vectors.items()}
        else:
            similarity = dict(self.engine.vector_works(vector.tolist(), WorkFilters(), EXPERTISE_CANDIDATES))
            people = []
        works = {w.id: w for w in self.engine.get_works(list(similarity))}
        authors: dict[str, list[WorkDoc]] = defaultdict(list)
        for work in works.values():
            for rid in dict.fromkeys(work.researcher_ids):
                authors[rid].append(work)
        if researcher_ids is None:
            people = self.engine.get_researchers(sorted(authors))
        latest = self.engine.get_works(self.engine.browse_works(WorkFilters(), 1))
        newest = latest[0].year if latest else None  # recency is relative to the index, so fits compare
        pooled = self._curated_vectors(people, curation)
        experts = []
        for person in people:
            chosen = curation.get(person.id, Curation())
            matched = [
                MatchedWork(w, round(similarity[w.id], 4), round(similarity[w.id] * _work_factor(w, newest, chosen), 4))
                for w in authors.get(person.id, [])
                if w.id not in chosen.excluded
            ]
            matched.sort(key=lambda m: (-m.weight, m.work.id))
            own = pooled.get(person.id)
            fit = round(float(np.asarray(own, dtype=np.float32) @ vector), 4) if own is not None else 0.0
            experts.append(Expert(person, fit, matched[:EXPERTISE_SHOWN]))
        experts.sort(key=lambda e: (-e.fit, e.researcher.id))
        return ExpertiseResults(len(self.embedder.split(text)), experts[:limit])

    def _curated_vectors(self, people: Sequence[ResearcherDoc], curation: dict[str, Curation]) -> dict[str, Sequence[float]]:
        """Each person's vector: as indexed, or pooled again from their works when the owner has pinned
        or excluded works since (those choices are read per request, the index is not)."""
        curated = [p for p in people if curation.get(p.id, Curation()) != Curation()]
        as_indexed = sorted({p.id for p in people} - {p.id for p in curated})
        vectors: dict[str, Sequence[float]] = dict(self.engine.researcher_vectors(as_indexed))
        if curated:
            works = {w.id: w for w in self.engine.get_works(sorted({w for p in curated for w in p.work_ids}))}
            work_vectors = self.engine.work_vectors(sorted(works))
            for person in curated:
                chosen = curation[person.id]
                rows = [
                    (works[wid].year, work_vectors[wid], PIN_FACTOR if wid in chosen.pinned else 1.0)
                    for wid in person.work_ids
                    if wid in works and wid in work_vectors and wid not in chosen.excluded
                ]
                pooled = pool_vectors(rows)
                if pooled is not None:
                    vectors[person.id] = pooled
        return vectors

    def find_researcher(self, name_or_id: str) -> ResearcherDoc:
        """A researcher by id, identifier or best name match; NotFound when nothing is close."""
        text = _required(name_or_id, "a researcher's name or id")
        found = self._by_identifier(text)
        if found is None:
            hits = self._by_name(text, 1, with_works=False)
            found = hits[0].researcher if hits else None
        if found is None:
            raise NotFound(f"no researcher matches {text[:80]!r}")
        return found

    def _by_identifier(self, text: str) -> ResearcherDoc | None:
        if _RESEARCHER_ID.fullmatch(text):
            docs = self.engine.get_researchers([text])
            if docs:
                return docs[0]
        parsed = T.parse_identifier(text)
        if parsed:
            rid = self.engine.researcher_by_identifier(*parsed)
            docs = self.engine.get_researchers([rid]) if rid else []
            return docs[0] if docs else None
        return None

    def _by_name(self, text: str, limit: int, with_works: bool = True) -> list[ResearcherHit]:
        """Engine candidates re-scored here with one similarity, so every engine ranks names alike."""
        candidates = self.engine.name_researchers(text, max(limit * 3, 30))
        scored = []
        for doc in self.engine.get_researchers([rid for rid, _ in candidates]):
            score = max(T.name_similarity(text, name) for name in [doc.name, *doc.name_variants])
            if score >= MIN_NAME:
                scored.append((score, doc))
        scored.sort(key=lambda item: (-item[0], -item[1].works_count, item[1].id))
        return [
            ResearcherHit(doc, score, "name", self._latest_works(doc) if with_works else [])
            for score, doc in scored[:limit]
        ]

    def _latest_works(self, researcher: ResearcherDoc, count: int = 3) -> list[WorkDoc]:
        works = self.engine.get_works(researcher.work_ids[: count * 4])
        return sorted(works, key=lambda w: (-(w.year or 0), -w.cited_by_count, w.id))[:count]

    def _by_expertise(self, text: str, limit: int) -> list[ResearcherHit]:
        _, _, fused = self._ranked_works(text, "hybrid", "rrf", WorkFilters(), EXPERTISE_DEPTH)
        scores = dict(fused[:EXPERTISE_DEPTH])
        per_researcher: dict[str, list[tuple[float, WorkDoc]]] = defaultdict(list)
        for work in self.engine.get_works(list(scores)):
            for rid in dict.fromkeys(work.researcher_ids):
                per_researcher[rid].append((scores[work.id], work))
        if not per_researcher:
            return []
        totals = {
            rid: sum(s for s, _ in sorted(found, key=lambda x: -x[0])[:EXPERTISE_WORKS])
            for rid, found in per_researcher.items()
        }
        ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:limit]
        best = ranked[0][1] or 1.0
        docs = {d.id: d for d in self.engine.get_researchers([rid for rid, _ in ranked])}
        hits = []
        for rid, total in ranked:
            if rid in docs:
                works = [w for _, w in sorted(per_researcher[rid], key=lambda x: (-x[0], x[1].id))[:EXPERTISE_WORKS]]
                hits.append(ResearcherHit(docs[rid], round(total / best, 4), "expertise", works))
        return hits

    def _researcher(self, researcher_id: str) -> ResearcherDoc:
        if not isinstance(researcher_id, str) or not researcher_id:
            raise NotFound("no such researcher")
        docs = self.engine.get_researchers([researcher_id])
        if not docs:
            raise NotFound(f"no researcher {researcher_id[:80]!r}")
        return docs[0]

    def _work(self, work_id: str) -> WorkDoc:
        docs = self.engine.get_works([work_id]) if isinstance(work_id, str) and work_id else []
        if not docs:
            raise NotFound(f"no work {str(work_id)[:80]!r}")
        return docs[0]

    def researcher_profile(self, researcher_id: str) -> Profile:
        researcher = self._researcher(researcher_id)
        works = sorted(
            self.engine.get_works(researcher.work_ids), key=lambda w: (-(w.year or 0), -w.cited_by_count, w.title, w.id)
        )
        return Profile(researcher, works, self._coauthors(researcher, works), list(researcher.topics))

    def _coauthors(self, researcher: ResearcherDoc, works: list[WorkDoc]) -> list[Collaborator]:
        """Every co-author over the researcher's works, most joint works first, named as indexed."""
        joint = Counter(rid for w in works for rid in set(w.researcher_ids) if rid != researcher.id)
        names = {d.id: d.name for d in self.engine.get_researchers(list(joint))}
        fallback = {a.researcher_id: a.name for w in works for a in w.authors}
        return [
            Collaborator(rid, names.get(rid) or fallback.get(rid, rid), count)
            for rid, count in sorted(joint.items(), key=lambda kv: (-kv[1], names.get(kv[0]) or "", kv[0]))
        ]

    def similar_researchers(
        self,
        researcher_id: str,
        mode: str = "similar",
        limit: int = 10,
        active_since: int | None = None,
        institution: str | None = None,
    ) -> list[Suggestion]:
        """People to look at next, never the researcher nor a co-author (those are the profile's
        collaborators).

        `similar`: the nearest researcher vectors (what they work on). `collaborators`: who is likely
        to become a co-author, by `collaborator_signals` blended by `blend_collaborators` with COLLABORATOR_BLEND. Each
        suggestion explains itself: the topics both work on, the closest pairs of their papers (theirs
        ↔ yours) by work-vector cosine, and the shared co-authors when the graph brought them.
        """
        if mode not in SIMILAR_MODES:
            raise BadQuery(f"mode must be one of {', '.join(SIMILAR_MODES)}")
        limit = _int(limit, "limit", 1, MAX_PAGE_SIZE)
        if active_since is not None:
            active_since = _int(active_since, "active_since", *YEAR_RANGE)
        if institution is not None:
            institution = T.check_text(institution) or None
        researcher = self._researcher(researcher_id)
        vector = self.engine.researcher_vectors([researcher.id]).get(researcher.id)
        if vector is None:
            return []
        my_works = self.engine.get_works(researcher.work_ids)
        if mode == "collaborators":
            signals = self.collaborator_signals(researcher, my_works, vector, active_since, institution,
                                                topics=COLLABORATOR_BLEND.topics != 0)
            return self._new_collaborators(researcher, my_works, signals, limit)
        return self._explained(researcher, my_works,
                               self.nearest_researchers(researcher, my_works, vector, limit, active_since, institution), {})

    def nearest_researchers(self, researcher: ResearcherDoc, my_works: list[WorkDoc], vector: Sequence[float], limit: int,
                            active_since: int | None = None, institution: str | None = None) -> list[tuple[str, float]]:
        """The similar researchers' ids and cosines, best first, unexplained (never self or a co-author)."""
        exclude = _coauthor_ids(researcher, my_works) | {researcher.id}
        found = self.engine.vector_researchers(vector, limit + len(exclude), sorted(exclude), active_since, institution)
        return [(rid, s) for rid, s in found if rid not in exclude][:limit]

    def profile_suggestions(self, researcher_id: str, limit: int) -> tuple[list[Suggestion], list[Suggestion]]:
        """`similar_researchers` in both modes, as a profile shows them, from one search of the
        researcher vectors (not one per list): the similar ones are the nearest of the collaborator
        candidates' vector neighbours. A new collaborator no shared co-author brought is not repeated
        when already shown as similar (without the graph, both lists would be the same people)."""
        limit = _int(limit, "limit", 1, COLLABORATOR_CANDIDATES)
        researcher = self._researcher(researcher_id)
        vector = self.engine.researcher_vectors([researcher.id]).get(researcher.id)
        if vector is None:
            return [], []
        my_works = self.engine.get_works(researcher.work_ids)
        exclude = _coauthor_ids(researcher, my_works) | {researcher.id}
        near = self.engine.vector_researchers(vector, COLLABORATOR_CANDIDATES, sorted(exclude))
        signals = self.collaborator_signals(researcher, my_works, vector, near=near, topics=COLLABORATOR_BLEND.topics != 0)
        similar = [(rid, score) for rid, score in near if rid not in exclude][:limit]
        shown = {rid for rid, _ in similar}
        signals = {rid: s for rid, s in signals.items() if rid not in shown or s.via}
        return (self._explained(researcher, my_works, similar, {}),
                self._new_collaborators(researcher, my_works, signals, limit))

    def _new_collaborators(self, researcher: ResearcherDoc, my_works: list[WorkDoc],
                           signals: dict[str, "CollaboratorSignals"], limit: int) -> list[Suggestion]:
        ranked = blend_collaborators(signals, COLLABORATOR_BLEND)[:limit]
        return self._explained(researcher, my_works, [(rid, signals[rid].content) for rid in ranked],
                               {rid: signals[rid].via for rid in ranked})

    def _explained(self, researcher: ResearcherDoc, my_works: list[WorkDoc], found: list[tuple[str, float]],
                   via: dict[str, list[str]]) -> list[Suggestion]:
        """Suggestions with what connects them: shared topics, closest paper pairs, shared co-authors."""
        wanted = dict.fromkeys([rid for rid, _ in found] + [m for v in via.values() for m in v])  # a co-author shared by many: once
        docs = {d.id: d for d in self.engine.get_researchers(list(wanted))}
        pairs = self._paper_pairs(my_works, [docs[rid] for rid, _ in found if rid in docs])
        mine = {t.id: t for t in researcher.topics}
        suggestions = []
        for rid, similarity in found:
            if rid not in docs:
                continue
            other = docs[rid]
            shared = sorted(
                (t for t in other.topics if t.id in mine), key=lambda t: (-min(t.count, mine[t.id].count), t.label)
            )
            through = [docs[m] for m in via.get(rid, []) if m in docs]
            suggestions.append(
                Suggestion(other, round(similarity, 4), [t.label for t in shared], pairs.get(rid, []), through)
            )
        return suggestions

    def collaborator_signals(
        self,
        researcher: ResearcherDoc,
        my_works: list[WorkDoc],
        vector: Sequence[float],
        active_since: int | None = None,
        institution: str | None = None,
        near: list[tuple[str, float]] | None = None,
        topics: bool = True,
    ) -> dict[str, "CollaboratorSignals"]:
        """Every candidate new collaborator with its signals: the nearest researcher vectors (`near`
        when the caller already searched them) and every friend of a friend (co-author of a
        co-author), never the researcher or a co-author.

        `topics=False` (the product's blend does not weigh topics) leaves the topic signal 0 and,
        without filters, reads no candidate's document: a co-author of a large collaboration brings
        hundreds of friends of friends, and reading each one's document was most of a profile's time."""
        coauthors = _coauthor_ids(researcher, my_works)
        exclude = coauthors | {researcher.id}
        if near is None:
            near = self.engine.vector_researchers(vector, COLLABORATOR_CANDIDATES, sorted(exclude), active_since, institution)
        near = dict(near)
        middles = self.engine.researcher_coauthors(sorted(coauthors))
        # the researcher's own large works bring no one new (their authors are co-authors): not read
        large = self.engine.get_works(sorted({w for m in middles.values() for w in m.large_works} - set(researcher.work_ids)))
        graph = _friends_of_friends(middles, {w.id: w.researcher_ids for w in large}, exclude)
        graph_only = [rid for rid in graph if rid not in near]
        docs: dict[str, ResearcherDoc] = {}
        if topics or active_since is not None or institution is not None:
            docs = {d.id: d for d in self.engine.get_researchers(graph_only)}
            graph_only = [rid for rid in graph_only if rid in docs and _passes(docs[rid], active_since, institution)]
        near.update(self.engine.researcher_cosines(vector, graph_only))
        for rid in graph_only:
            near.setdefault(rid, 0.0)
        topic_docs = {}
        if topics:
            topic_docs = {d.id: d for d in self.engine.get_researchers([rid for rid in near if rid not in docs])}
            topic_docs.update(docs)
        mine = _topic_profile(researcher)
        return {
            rid: CollaboratorSignals(
                content=content,
                adamic_adar=graph[rid][0] if rid in graph else 0.0,
                common_neighbours=graph[rid][1] if rid in graph else 0,
                topics=_cosine_profiles(mine, _topic_profile(topic_docs[rid])) if rid in topic_docs else 0.0,
                via=graph[rid][2] if rid in graph else [],
            )
            for rid, content in near.items()
        }

    def _paper_pairs(self, my_works: list[WorkDoc], others: list[ResearcherDoc]) -> dict[str, list[PaperPair]]:
        """Per other researcher, their closest papers to mine: greedy best pairs, each paper used once."""
        their_ids = sorted({wid for other in others for wid in other.work_ids})
        vectors = self.engine.work_vectors([w.id for w in my_works] + their_ids)
        mine = [w for w in my_works if w.id in vectors]
        if not mine:
            return {}
        mine_matrix = np.array([vectors[w.id] for w in mine], dtype=np.float32)
        chosen: dict[str, list[tuple[str, WorkDoc, float]]] = {}
        for other in others:
            theirs = [i for i in other.work_ids if i in vectors]
            if not theirs:
                continue
            sims = np.array([vectors[i] for i in theirs], dtype=np.float32) @ mine_matrix.T
            pairs, used_t, used_m = [], set(), set()
            for flat in np.argsort(-sims, axis=None, kind="stable"):
                t, m = divmod(int(flat), len(mine))
                if t in used_t or m in used_m:
                    continue
                used_t.add(t), used_m.add(m)
                pairs.append((theirs[t], mine[m], round(float(sims[t, m]), 4)))
                if len(pairs) == PAIRS_PER_SUGGESTION:
                    break
            chosen[other.id] = pairs
        # Only the papers a pair shows are read: a prolific suggestion's other works are not.
        shown = {w.id: w for w in self.engine.get_works(sorted({t for pairs in chosen.values() for t, _, _ in pairs}))}
        return {
            rid: [PaperPair(WorkRef.of(shown[t]), WorkRef.of(m), s) for t, m, s in pairs if t in shown]
            for rid, pairs in chosen.items()
        }

    def researcher_graph(self, researcher_id: str) -> dict:
        """Nodes (the person, their latest works, topics, institutions, co-authors) and typed edges."""
        researcher = self._researcher(researcher_id)
        works = sorted(self.engine.get_works(researcher.work_ids), key=lambda w: (-(w.year or 0), w.id))[:GRAPH_WORKS]
        nodes: dict[str, dict] = {researcher.id: {"id": researcher.id, "type": "researcher", "label": researcher.name}}
        edges: list[dict] = []
        collaborators = self._coauthors(researcher, works)[:GRAPH_COLLABORATORS]
        shown = {c.id for c in collaborators}
        for c in collaborators:
            nodes[c.id] = {"id": c.id, "type": "researcher", "label": c.name}
            edges.append({"source": researcher.id, "target": c.id, "kind": "coauthor"})
        for work in works:
            nodes[work.id] = {"id": work.id, "type": "work", "label": work.title}
            edges.append({"source": researcher.id, "target": work.id, "kind": "authored"})
            for rid in dict.fromkeys(work.researcher_ids):
                if rid in shown:
                    edges.append({"source": rid, "target": work.id, "kind": "authored"})
            for topic in work.topics:
                nodes.setdefault(topic.id, {"id": topic.id, "type": "topic", "label": topic.label})
                edges.append({"source": work.id, "target": topic.id, "kind": "about"})
        for span in researcher.institutions:
            node_id = "institution:" + (T.normalize_name(span.name).replace(" ", "-") or "unknown")
            nodes.setdefault(node_id, {"id": node_id, "type": "institution", "label": span.name})
            edges.append({"source": researcher.id, "target": node_id, "kind": "affiliated"})
        return {"nodes": list(nodes.values()), "edges": edges}

    # -- topics --------------------------------------------------------------------------

    def search_topics(self, text: str, limit: int = 10) -> list[TopicHit]:
        text = _required(text, "a topic")
        limit = _int(limit, "limit", 1, MAX_PAGE_SIZE)
        depth = max(MIN_DEPTH, limit)
        fused = F.rrf([self.engine.keyword_topics(text, depth), self.engine.vector_topics(self.embed(text), depth)], k=F.RRF_K)
        fused = fused[:limit]
        docs = {t.id: t for t in self.engine.get_topics([tid for tid, _ in fused])}
        return [TopicHit(docs[tid], round(score, 6)) for tid, score in fused if tid in docs]

    def topic_page(self, topic_id: str, limit: int = 10) -> TopicPage:
        limit = _int(limit, "limit", 1, MAX_PAGE_SIZE)
        topics = self.engine.get_topics([topic_id]) if isinstance(topic_id, str) and topic_id else []
        if not topics:
            raise NotFound(f"no topic {str(topic_id)[:80]!r}")
        topic = topics[0]
        recent = self.engine.topic_works(topic.id, "recent", limit)
        cited = self.engine.topic_works(topic.id, "cited", limit)
        counts = self.engine.topic_researchers(topic.id, limit)
        docs = {d.id: d for d in self.engine.get_researchers([rid for rid, _ in counts])}
        top = [TopicResearcher(docs[rid], n) for rid, n in counts if rid in docs]
        vector = self.engine.topic_vectors([topic.id]).get(topic.id)
        related: list[TopicHit] = []
        if vector is not None:
            near = [(tid, s) for tid, s in self.engine.vector_topics(vector, limit + 1) if tid != topic.id][:limit]
            found = {t.id: t for t in self.engine.get_topics([tid for tid, _ in near])}
            related = [TopicHit(found[tid], round(s, 4)) for tid, s in near if tid in found]
        per_year = self.engine.works_per_year(topic.id)
        description = topic.description or self._describe(topic, recent, cited, related, per_year, vector)
        return TopicPage(topic, description, top, recent, cited, related, per_year)

    def _describe(
        self,
        topic: TopicDoc,
        recent: list[WorkDoc],
        cited: list[WorkDoc],
        related: list[TopicHit],
        per_year: dict[int, int],
        vector: list[float] | None,
    ) -> str:
        """A description generated from the topic's works: extent, distinctive terms, a representative work.

        Distinctive terms are the words its works use much more often than the works of its
        nearest topics; the representative work is the one closest to the topic's vector.
        """
        own = list({w.id: w for w in [*recent, *cited]}.values())
        background = [w for hit in related[:5] for w in self.engine.topic_works(hit.topic.id, "recent", 10)]
        background += self.engine.get_works(self.engine.browse_works(WorkFilters(), 100))
        parts = []
        if per_year:
            span = f"{min(per_year)}–{max(per_year)}" if min(per_year) != max(per_year) else str(min(per_year))
            parts.append(
                f"{topic.label}: {topic.works_count} work{'s' if topic.works_count != 1 else ''} by "
                f"{topic.researchers_count} researcher{'s' if topic.researchers_count != 1 else ''}, {span}."
            )
        terms = distinctive_terms(own, background, exclude=T.query_terms(topic.label))
        if terms:
            parts.append("Its works often mention " + _join(terms) + ".")
        representative = None
        if vector is not None:
            best = self.engine.vector_works(vector, WorkFilters(topics=(topic.id,)), 1)
            representative = next(iter(self.engine.get_works([best[0][0]])), None) if best else None
        representative = representative or (own[0] if own else None)
        if representative:
            sentence = first_sentence(representative.abstract) if representative.abstract else ""
            year = f" ({representative.year})" if representative.year else ""
            parts.append(f"Representative work: “{representative.title}”{year}" + (f" — {sentence}" if sentence else "."))
        return " ".join(parts) or topic.label


COLLABORATOR_BLEND = CollaboratorBlend(prior=0.1, content_power=1.0, topics=0.0)
"""Chosen by `discovery eval collaborators` on its validation split (ml-venues, history to 2018, pairs
formed 2019-2020, 1000 researchers; all-MiniLM-L6-v2, one 128-piece window): recall@20 0.196 (topics
0.5 gains 0.001, a tie). On the held-out pairs formed after 2020: 0.100, against Adamic-Adar 0.092,
common neighbours 0.082 and content alone 0.036 (on an earlier sample of 1000 researchers: 0.092 with
prior 0.2, the former max-scaled sum of content and Adamic-Adar 0.090, Adamic-Adar 0.081)."""


def blend_collaborators(signals: dict[str, CollaboratorSignals], blend: CollaboratorBlend) -> list[str]:
    """Candidates best first. The graph leads (Adamic-Adar is the strongest single predictor of a new
    co-author pair) and content orders within it: a friend of a friend who writes on your subjects
    first, a close stranger (`prior`) before a friend of a friend who writes on something else. The
    scores are products, not sums of signals scaled by their maximum in the query (with such a sum,
    content cosines, all near the top, swamped the graph)."""
    score = {
        rid: (s.adamic_adar + blend.prior) * max(0.0, s.content) ** blend.content_power * (1.0 + blend.topics * s.topics)
        for rid, s in signals.items()
    }
    return sorted(score, key=lambda rid: (-score[rid], rid))


def _friends_of_friends(
    middles: dict[str, CoauthorList], large: dict[str, Sequence[str]], exclude: set[str]
) -> dict[str, tuple[float, int, list[str]]]:
    """Each co-author of a co-author outside `exclude`: (Adamic-Adar, common neighbours, the
    VIA_SHOWN strongest shared co-authors). `middles`: each of the researcher's co-authors -> its
    stored co-authors (`SearchEngine.researcher_coauthors`); `large`: the authors of their large
    works, read once each. A middle's weight is 1 / log(its co-author count).

    The sums never list (friend, middle) pairs through a large work: a researcher of a
    thousand-author paper has a thousand middles who share each other large work's authors, a
    million pairs that took most of a profile's second. The authors of the same large works (a
    "signature") share one set of middles, summed once; only `joint` pairs (small works) are
    listed one by one."""
    weight = {m: 1.0 / math.log(max(2, c.count)) for m, c in middles.items()}
    strength = {m: n for n, m in enumerate(sorted(weight, key=lambda m: (-weight[m], m)))}  # 0: strongest
    on_work: dict[str, list[str]] = defaultdict(list)  # large work -> the middles on it
    for m, c in middles.items():
        for w in c.large_works:
            on_work[w].append(m)
    works_of: dict[str, list[str]] = defaultdict(list)  # friend -> the middles' large works they are on
    for w, authors in large.items():
        if w in on_work:
            for rid in set(authors) - exclude:
                works_of[rid].append(w)
    joint: dict[str, list[str]] = defaultdict(list)  # friend -> middles sharing a small work with them
    for m, c in middles.items():
        for rid in c.joint:
            if rid not in exclude:
                joint[rid].append(m)
    by_signature: dict[tuple[str, ...], tuple[set[str], float, list[str]]] = {}
    found = {}
    for rid in sorted(set(works_of) | set(joint)):
        signature = tuple(sorted(works_of.get(rid, ())))
        if signature not in by_signature:
            shared = set().union(*(on_work[w] for w in signature))
            by_signature[signature] = (shared, sum(weight[m] for m in sorted(shared)), sorted(shared, key=strength.get)[:VIA_SHOWN])
        shared, adamic_adar, via = by_signature[signature]
        extra = [m for m in joint.get(rid, ()) if m not in shared]
        if extra:  # summed in the middles' order, as for everyone else: equal sets give equal sums (ties stay ties)
            adamic_adar = sum(weight[m] for m in sorted(shared.union(extra)))
        found[rid] = (adamic_adar, len(shared) + len(extra), sorted([*via, *extra], key=strength.get)[:VIA_SHOWN])
    return found


def _coauthor_ids(researcher: ResearcherDoc, works: Sequence[WorkDoc]) -> set[str]:
    return {rid for w in works for rid in w.researcher_ids} - {researcher.id}


def _passes(doc: ResearcherDoc, active_since: int | None, institution: str | None) -> bool:
    """The researcher filters of `SearchEngine.vector_researchers`, for candidates found another way."""
    if active_since is not None and (doc.last_year or 0) < active_since:
        return False
    wanted = T.normalize_name(institution) if institution else ""
    return not wanted or any(wanted in T.normalize_name(span.name) for span in doc.institutions)


def _topic_profile(doc: ResearcherDoc) -> dict[str, float]:
    return {t.id: float(t.count) for t in doc.topics}


def _cosine_profiles(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def _work_factor(work: WorkDoc, newest: int | None, curation: Curation) -> float:
    """Recent and pinned works count more: see RECENT_YEARS, AGE_DECAY, OLDEST_FACTOR, PIN_FACTOR."""
    factor = 1.0
    if newest and work.year:
        factor = max(OLDEST_FACTOR, 1.0 - AGE_DECAY * max(0, newest - work.year - RECENT_YEARS))
    return factor * (PIN_FACTOR if work.id in curation.pinned else 1.0)


def above_floor(vector: Sequence[tuple[str, float]], relative: bool = True) -> list[tuple[str, float]]:
    """Vector candidates close enough to the query to show: never below an absolute floor (a nonsense
    query's nearest works are not related to it) and, for works shown beside keyword matches, a
    share of the query's best cosine (some queries sit nearer the whole corpus than others).
    Semantic mode, asked for by name, keeps everything above the absolute floor."""
    if not vector:
        return []
    best = max(score for _, score in vector)
    floor = max(SIMILARITY_FLOOR, SIMILARITY_RATIO * best if relative else 0.0)
    return [(doc_id, score) for doc_id, score in vector if score >= floor]


# -- small text helpers for descriptions --------------------------------------------------------


def _words(work: WorkDoc) -> set[str]:
    """Title and keyword words: abstracts share too much boilerplate ("we provide", "given") to describe."""
    return {w for w in T.tokens(" ".join([work.title, *work.keywords])) if len(w) > 2 and w[0].isalpha() and w not in T.STOPWORDS}


def distinctive_terms(own: Sequence[WorkDoc], background: Sequence[WorkDoc], exclude: Sequence[str] = (), count: int = 5) -> list[str]:
    """Words in at least two of `own` works, ranked by their share of `own` times their rarity in
    `background` (a tf-idf in miniature: "convergence" beats "propose" because every abstract proposes)."""
    if not own:
        return []
    own_df = Counter(w for work in own for w in _words(work))
    bg_df = Counter(w for work in background for w in _words(work))
    minimum = 2 if len(own) > 2 else 1
    scored = [
        ((df / len(own)) * math.log((1 + len(background)) / (1 + bg_df[w])), w)
        for w, df in own_df.items()
        if df >= minimum and w not in exclude and w.rstrip("s") not in exclude
    ]
    return [w for score, w in sorted(scored, key=lambda x: (-x[0], x[1])) if score > 0][:count]


def first_sentence(text: str, limit: int = 240) -> str:
    sentence = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rsplit(" ", 1)[0] + "…"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


__all__ = [
    "Discovery",
    "FacetValue",
    "PaperPair",
    "PeopleResults",
    "Profile",
    "ResearcherHit",
    "SearchPanels",
    "SimilarWork",
    "CollaboratorSignals",
    "Curation",
    "Expert",
    "ExpertiseResults",
    "MatchedWork",
    "CollaboratorBlend",
    "Suggestion",
    "TopicHit",
    "TopicPage",
    "TopicResearcher",
    "WorkPage",
    "WorkRef",
    "check_filters",
]
