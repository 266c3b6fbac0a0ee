"""Per-researcher and per-topic aggregates: what profile and topic pages show, computed once per build."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Collection, Iterable, Iterator, Mapping

import numpy as np

from indexer.identity import Mention, Resolution
from models.embedding import pool_vectors
from models.records import (
    AuthorRef,
    Collaborator,
    InstitutionSpan,
    ResearcherDoc,
    TopicCount,
    TopicDoc,
    TopicRef,
    Work,
    WorkDoc,
)

MAX_COLLABORATORS = 50
LARGE_TEAM = 50  # authors: a work with more is kept in its authors' `large_works`, not their `coauthors`
CLOSE_MIN_JOINT_WORKS = 2  # "close": more than one paper together; every co-author is on the works
MAX_TOPICS = 30
MAX_SUBTOPICS = 40


def h_index(citations: list[int]) -> int:
    ranked = sorted(citations, reverse=True)
    return sum(1 for i, c in enumerate(ranked, start=1) if c >= i)


def display_name(names: list[str]) -> str:
    """The most used full (not abbreviated) spelling; ties go to the longer one."""
    counts = Counter(names)
    full = [n for n in counts if not all(len(t.strip(".")) <= 1 for t in n.split()[:-1])] or list(counts)
    return max(full, key=lambda n: (counts[n], len(n), n))


class WorkFacts:
    """What researcher documents need of each work, kept compact so that no build holds Work records
    (with their abstracts) for the whole catalog: (year, citations) per work, and the institution
    names of each mention ("<work id>#<position>") that has any."""

    def __init__(self, works: Iterable[Work] = ()):
        self.works: dict[str, tuple[int | None, int]] = {}
        self.institutions: dict[str, tuple[str, ...]] = {}
        for work in works:
            self.add(work)

    def add(self, work: Work) -> None:
        self.works[work.id] = (work.year, work.cited_by_count)
        for a in work.authorships:
            if a.institutions:
                self.institutions[f"{work.id}#{a.position}"] = tuple(i.name for i in a.institutions)


@dataclass
class Docs:
    """A build's documents. Work and researcher documents are made anew on every call (a full build
    reads them twice: once to hash, once to write), so no list of them for the whole catalog is ever held."""

    works: Callable[[], Iterator[WorkDoc]]
    researchers: Callable[[], Iterator[ResearcherDoc]]
    topics: list[TopicDoc]
    researchers_count: int


def build_docs(
    works: Iterable[Work],
    resolution: Resolution,
    work_topics: dict[str, list[TopicRef]],
    topic_origin: dict[str, str],
    vectors: Mapping[str, np.ndarray],
    exclusions: Mapping[str, Collection[str]] | None = None,
    facts: WorkFacts | None = None,
) -> Docs:
    """`works` is read again on every call of `Docs.works` (a list, or the catalog's work stream);
    `facts` are its `WorkFacts` when the caller already gathered them. `exclusions`: researcher id ->
    work ids its owner excluded from their expertise (`models.accounts.expertise_exclusions`). Those
    works stay on the record (`work_ids`, counts, collaborators) but count neither in the
    researcher's vector nor in their topics.

    Vectors stay float32 arrays (a work's is its row of the build's matrix, not a copy): a list of
    Python floats would cost about 12 KB per document."""
    exclusions = exclusions or {}
    facts = facts or WorkFacts(works)
    authors_of: dict[str, list[str]] = defaultdict(list)  # work id -> its researchers
    for key, link in resolution.links.items():
        authors_of[key.rsplit("#", 1)[0]].append(link.researcher_id)

    def work_docs() -> Iterator[WorkDoc]:
        for work in works:
            authors = []
            for a in work.authorships:
                link = resolution.links.get(f"{work.id}#{a.position}")
                if link:
                    authors.append(AuthorRef(link.researcher_id, a.name, a.position, link.method, link.confidence))
            yield WorkDoc(
                id=work.id,
                title=work.title,
                abstract=work.abstract,
                year=work.year,
                type=work.type,
                venue=work.venue.name if work.venue else None,
                doi=work.doi,
                cited_by_count=work.cited_by_count,
                source=work.source,
                keywords=work.keywords,
                topics=work_topics.get(work.id, []),
                authors=authors,
                institutions=sorted({i.name for a in work.authorships for i in a.institutions}),
                authors_truncated=work.authors_truncated,
                links=dict(work.links),
                vector=vectors.get(work.id),
            )

    def researcher_docs() -> Iterator[ResearcherDoc]:
        names = {rid: display_name([m.name for m in members]) for rid, members in resolution.members.items()}
        conflicts = resolution.conflicts_of()
        for rid, members in resolution.members.items():
            yield _researcher_doc(rid, members, names, conflicts.get(rid, []), facts, authors_of, resolution,
                                  work_topics, vectors, exclusions.get(rid) or ())

    return Docs(work_docs, researcher_docs,
                topic_docs(work_topics, topic_origin, topic_researchers(resolution, work_topics, exclusions), vectors),
                len(resolution.members))


def topic_researchers(
    resolution: Resolution, work_topics: dict[str, list[TopicRef]], exclusions: Mapping[str, Collection[str]]
) -> dict[str, set[str]]:
    """Topic id -> the researchers with a work on it that counts in their expertise."""
    found: dict[str, set[str]] = defaultdict(set)
    for rid, members in resolution.members.items():
        excluded = exclusions.get(rid) or ()
        for w in {m.work_id for m in members}:
            if w not in excluded:
                for t in work_topics.get(w, []):
                    found[t.id].add(rid)
    return found


def _researcher_doc(
    rid: str,
    members: list[Mention],
    names: dict[str, str],
    conflicts: list[str],
    facts: WorkFacts,
    authors_of: Mapping[str, list[str]],
    resolution: Resolution,
    work_topics: dict[str, list[TopicRef]],
    vectors: Mapping[str, np.ndarray],
    excluded: Collection[str],
) -> ResearcherDoc:
    year_of = {w: facts.works[w][0] for w in {m.work_id for m in members}}
    own_works = sorted(year_of, key=lambda w: (-(year_of[w] or 0), w))
    expertise = [w for w in own_works if w not in excluded]
    topic_counts: Counter = Counter()
    topic_weights: Counter = Counter()
    labels = {}
    for w in expertise:
        for t in work_topics.get(w, []):
            if t.level == "topic":  # fields are too broad to describe a person
                topic_counts[t.id] += 1
                topic_weights[t.id] += t.weight
                labels[t.id] = t.label
    joint: Counter = Counter()  # works together: a co-author named twice on a work counts once
    in_teams: Counter = Counter()  # the same over works of at most LARGE_TEAM authors
    large_works = []
    for w in own_works:
        others = set(authors_of[w]) - {rid}
        joint.update(others)
        if len(others | {rid}) > LARGE_TEAM:
            large_works.append(w)
        else:
            in_teams.update(others)
    spans: dict[str, list[int | None]] = {}
    span_works: Counter = Counter()
    for m in members:
        year = year_of[m.work_id]
        for inst in facts.institutions.get(m.key, ()):
            first_last = spans.setdefault(inst, [year, year])
            if year is not None:
                first_last[0] = min(y for y in (first_last[0], year) if y is not None)
                first_last[1] = max(y for y in (first_last[1], year) if y is not None)
            span_works[inst] += 1
    identifiers: dict[str, str] = {}
    for m in members:
        for kind, value in m.identifiers.items():
            identifiers.setdefault(kind, value)
    years = [y for y in year_of.values() if y]
    citations = [facts.works[w][1] for w in own_works]
    return ResearcherDoc(
        id=rid,
        name=names[rid],
        name_variants=sorted({m.name for m in members}),
        identifiers=identifiers,
        works_count=len(own_works),
        cited_by_count=sum(citations),
        h_index=h_index(citations),
        first_year=min(years) if years else None,
        last_year=max(years) if years else None,
        topics=[
            TopicCount(t, labels[t], topic_counts[t], round(w, 3))
            for t, w in sorted(topic_weights.items(), key=lambda kv: (-kv[1], labels[kv[0]]))[:MAX_TOPICS]
        ],
        close_collaborators=[  # only the close ones are sorted: most co-authors of large works share one paper
            Collaborator(other, names[other], count)
            for other, count in sorted(((o, c) for o, c in joint.items() if c >= CLOSE_MIN_JOINT_WORKS),
                                       key=lambda kv: (-kv[1], names[kv[0]]))[:MAX_COLLABORATORS]
        ],
        institutions=[
            InstitutionSpan(name, first, last, span_works[name])
            for name, (first, last) in sorted(spans.items(), key=lambda kv: (-(kv[1][1] or 0), -span_works[kv[0]], kv[0]))
        ],
        work_ids=own_works,
        link_methods=dict(Counter(resolution.links[m.key].method for m in members)),
        # recency-weighted mean of the expertise works' vectors
        vector=pool_vectors([(year_of[w], vectors[w], 1.0) for w in expertise if w in vectors]),
        identity_conflicts=conflicts,
        coauthors=dict(sorted(in_teams.items(), key=lambda kv: (-kv[1], kv[0]))),
        large_works=large_works,
        coauthors_count=len(joint),
    )


def topic_docs(
    work_topics: dict[str, list[TopicRef]],
    topic_origin: dict[str, str],
    topic_researchers: dict[str, set[str]],
    vectors: Mapping[str, np.ndarray],
) -> list[TopicDoc]:
    """One doc per field and topic: a topic names its field, a field lists its largest topics."""
    topic_works: dict[str, list[str]] = defaultdict(list)
    first: dict[str, TopicRef] = {}
    for wid, refs in work_topics.items():
        for t in refs:
            topic_works[t.id].append(wid)
            first.setdefault(t.id, t)
    children: dict[str, list[str]] = defaultdict(list)
    for tid, ref in first.items():
        if ref.parent:
            children[ref.parent].append(tid)
    docs = []
    for tid, wids in topic_works.items():
        rows = [vectors[w] for w in wids if w in vectors]
        mean = np.sum(rows, axis=0) if rows else None
        ref, parent = first[tid], first.get(first[tid].parent or "")
        subtopics = sorted(children.get(tid, ()), key=lambda c: (-len(topic_works[c]), first[c].label))[:MAX_SUBTOPICS]
        docs.append(
            TopicDoc(
                id=tid,
                label=ref.label,
                origin=topic_origin.get(tid, "source"),
                works_count=len(wids),
                researchers_count=len(topic_researchers.get(tid, ())),
                level="field" if children.get(tid) or ref.level == "field" else "topic",
                parent=parent.id if parent else None,
                parent_label=parent.label if parent else None,
                subtopics=[TopicCount(c, first[c].label, len(topic_works[c])) for c in subtopics],
                vector=(mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32) if mean is not None else None,
            )
        )
    return docs
