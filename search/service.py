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

from models.embedding import Embedder
from models.records import Collaborator, ResearcherDoc, TopicCount, TopicDoc, WorkDoc
from search import fusion as F
from search import text as T
from search.interface import (
    FUSIONS,
    MAX_PAGE_SIZE,
    MAX_RESULT_WINDOW,
    MODES,
    BadQuery,
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
YEAR_RANGE = (1000, 2999)

STRONG_NAME = 0.85
"""A name match at least this good answers a people query by name; weaker ones fall back to expertise."""
MIN_NAME = 0.6
"""Name matches below this are not shown at all (they are other people)."""
EXPERTISE_DEPTH = 200
EXPERTISE_WORKS = 5
"""A researcher's expertise score sums their best few matching works, so prolific authors of many
loosely related papers do not outrank the people whose papers are about the phrase."""
PEOPLE_MODES = ("auto", "name", "expertise")
SIMILAR_MODES = ("similar", "collaborators")
PAIRS_PER_SUGGESTION = 3
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
        """The query vector, cached: paging through results must not re-run the model."""
        with self._lock:
            if text in self._vectors:
                self._vectors.move_to_end(text)
                return self._vectors[text]
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
        """One page of works for `text`, with per-retriever scores, highlights and facets.

        Each retriever returns `max(100, page * per_page)` candidates (at most MAX_RESULT_WINDOW);
        hybrid fuses them by RRF or weighted sum. `total` and the facets count keyword matches ∪
        vector candidates within the filters. In keyword mode choosing a facet value therefore
        gives exactly its count; with vectors it gives at least that many, because the vector
        candidates are the nearest works *within* the chosen filters (as OpenSearch's k-NN does).
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
        depth = min(MAX_RESULT_WINDOW, max(MIN_DEPTH, page * per_page))
        start = (page - 1) * per_page

        if not text:
            ids = self.engine.browse_works(filters, page * per_page)[start:]
            total, facets = self.engine.work_facets(None, (), filters, all_works=True)
            works = self.engine.get_works(ids)
            hits = [WorkHit(w, Scores(fused=0.0), {"title": T.escape(w.title)}) for w in works]
            return WorkResults(total, hits, facets, page, per_page, "browse", fusion)

        keyword, vector, fused = self._ranked_works(text, mode, fusion, filters, depth)
        explain = F.contributions([keyword, vector])
        page_ids = [doc_id for doc_id, _ in fused[start : start + per_page]]
        total, facets = self.engine.work_facets(
            text if mode != "semantic" else None, [doc_id for doc_id, _ in vector], filters
        )
        highlights = self.engine.highlight_works(text, page_ids) if T.query_terms(text) else {}
        scores = dict(fused)
        hits = []
        for work in self.engine.get_works(page_ids):
            kw, vec = explain.get(work.id, (None, None))
            hits.append(
                WorkHit(
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
            )
        return WorkResults(total, hits, facets, page, per_page, mode, fusion)

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
        """Nearest researcher vectors, never the researcher; `collaborators` also skips every co-author.

        Each suggestion explains itself: the topics both work on and the closest pairs of their
        papers (theirs ↔ yours) by work-vector cosine.
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
        exclude = {researcher.id}
        if mode == "collaborators":
            exclude |= {rid for w in my_works for rid in w.researcher_ids}
        found = self.engine.vector_researchers(vector, limit, sorted(exclude), active_since, institution)
        found = [(rid, s) for rid, s in found if rid not in exclude]
        docs = {d.id: d for d in self.engine.get_researchers([rid for rid, _ in found])}
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
            suggestions.append(Suggestion(other, round(similarity, 4), [t.label for t in shared], pairs.get(rid, [])))
        return suggestions

    def _paper_pairs(self, my_works: list[WorkDoc], others: list[ResearcherDoc]) -> dict[str, list[PaperPair]]:
        """Per other researcher, their closest papers to mine: greedy best pairs, each paper used once."""
        their_ids = sorted({wid for other in others for wid in other.work_ids})
        vectors = self.engine.work_vectors([w.id for w in my_works] + their_ids)
        mine = [w for w in my_works if w.id in vectors]
        if not mine:
            return {}
        mine_matrix = np.array([vectors[w.id] for w in mine], dtype=np.float32)
        theirs_docs = {w.id: w for w in self.engine.get_works([i for i in their_ids if i in vectors])}
        out: dict[str, list[PaperPair]] = {}
        for other in others:
            theirs = [theirs_docs[i] for i in other.work_ids if i in theirs_docs]
            if not theirs:
                continue
            sims = np.array([vectors[w.id] for w in theirs], dtype=np.float32) @ mine_matrix.T
            pairs, used_t, used_m = [], set(), set()
            for flat in np.argsort(-sims, axis=None, kind="stable"):
                t, m = divmod(int(flat), len(mine))
                if t in used_t or m in used_m:
                    continue
                used_t.add(t), used_m.add(m)
                pairs.append(PaperPair(WorkRef.of(theirs[t]), WorkRef.of(mine[m]), round(float(sims[t, m]), 4)))
                if len(pairs) == PAIRS_PER_SUGGESTION:
                    break
            out[other.id] = pairs
        return out

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
    "SimilarWork",
    "Suggestion",
    "TopicHit",
    "TopicPage",
    "TopicResearcher",
    "WorkPage",
    "WorkRef",
    "check_filters",
]
