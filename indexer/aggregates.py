"""Per-researcher and per-topic aggregates: what profile and topic pages show, computed once per build."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Collection, Mapping

import numpy as np

from indexer.identity import Resolution
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
CLOSE_MIN_JOINT_WORKS = 2  # "close": more than one paper together; every co-author is on the works
MAX_TOPICS = 30
MAX_SUBTOPICS = 40


def h_index(citations: list[int]) -> int:
    ranked = sorted(citations, reverse=True)
    return sum(1 for i, c in enumerate(ranked, start=1) if c >= i)


def researcher_vector(works: list[Work], vectors: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Recency-weighted mean of work vectors (`models.embedding.pool_vectors`)."""
    return pool_vectors([(w.year, vectors[w.id], 1.0) for w in works if w.id in vectors])


def display_name(names: list[str]) -> str:
    """The most used full (not abbreviated) spelling; ties go to the longer one."""
    counts = Counter(names)
    full = [n for n in counts if not all(len(t.strip(".")) <= 1 for t in n.split()[:-1])] or list(counts)
    return max(full, key=lambda n: (counts[n], len(n), n))


def build_docs(
    works: list[Work],
    resolution: Resolution,
    work_topics: dict[str, list[TopicRef]],
    topic_origin: dict[str, str],
    vectors: Mapping[str, np.ndarray],
    exclusions: Mapping[str, Collection[str]] | None = None,
) -> tuple[list[WorkDoc], list[ResearcherDoc], list[TopicDoc]]:
    """`exclusions`: researcher id -> work ids its owner excluded from their expertise
    (`models.accounts.expertise_exclusions`). Those works stay on the record (`work_ids`, counts,
    collaborators) but count neither in the researcher's vector nor in their topics.

    Vectors stay float32 arrays (a work's is its row of the build's matrix, not a copy): a list of
    Python floats would cost about 12 KB per document."""
    exclusions = exclusions or {}
    by_id = {w.id: w for w in works}
    names = {rid: display_name([m.name for m in members]) for rid, members in resolution.members.items()}
    conflicts = resolution.conflicts_of()

    work_docs = []
    for work in works:
        authors = []
        for a in work.authorships:
            link = resolution.links.get(f"{work.id}#{a.position}")
            if link:
                authors.append(AuthorRef(link.researcher_id, a.name, a.position, link.method, link.confidence))
        work_docs.append(
            WorkDoc(
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
        )
    docs_by_id = {d.id: d for d in work_docs}

    researchers = []
    topic_researchers: dict[str, set[str]] = defaultdict(set)
    for rid, members in resolution.members.items():
        own_works = sorted({m.work_id for m in members}, key=lambda w: (-(by_id[w].year or 0), w))
        work_list = [by_id[w] for w in own_works]
        excluded = exclusions.get(rid) or ()
        expertise = [w for w in own_works if w not in excluded]
        topic_counts: Counter = Counter()
        topic_weights: Counter = Counter()
        labels = {}
        for w in expertise:
            for t in work_topics.get(w, []):
                topic_researchers[t.id].add(rid)
                if t.level == "topic":  # fields are too broad to describe a person
                    topic_counts[t.id] += 1
                    topic_weights[t.id] += t.weight
                    labels[t.id] = t.label
        joint: Counter = Counter()
        for w in own_works:
            for author in docs_by_id[w].authors:
                if author.researcher_id != rid:
                    joint[author.researcher_id] += 1
        spans: dict[str, list[int | None]] = {}
        span_works: Counter = Counter()
        for m in members:
            year = by_id[m.work_id].year
            for inst in by_id[m.work_id].authorships[int(m.key.rsplit("#", 1)[1])].institutions:
                first_last = spans.setdefault(inst.name, [year, year])
                if year is not None:
                    first_last[0] = min(y for y in (first_last[0], year) if y is not None)
                    first_last[1] = max(y for y in (first_last[1], year) if y is not None)
                span_works[inst.name] += 1
        identifiers: dict[str, str] = {}
        for m in members:
            for kind, value in m.identifiers.items():
                identifiers.setdefault(kind, value)
        years = [w.year for w in work_list if w.year]
        researchers.append(
            ResearcherDoc(
                id=rid,
                name=names[rid],
                name_variants=sorted({m.name for m in members}),
                identifiers=identifiers,
                works_count=len(own_works),
                cited_by_count=sum(w.cited_by_count for w in work_list),
                h_index=h_index([w.cited_by_count for w in work_list]),
                first_year=min(years) if years else None,
                last_year=max(years) if years else None,
                topics=[
                    TopicCount(t, labels[t], topic_counts[t], round(w, 3))
                    for t, w in sorted(topic_weights.items(), key=lambda kv: (-kv[1], labels[kv[0]]))[:MAX_TOPICS]
                ],
                close_collaborators=[
                    Collaborator(other, names[other], count)
                    for other, count in sorted(joint.items(), key=lambda kv: (-kv[1], names[kv[0]]))[:MAX_COLLABORATORS]
                    if count >= CLOSE_MIN_JOINT_WORKS
                ],
                institutions=[
                    InstitutionSpan(name, first, last, span_works[name])
                    for name, (first, last) in sorted(spans.items(), key=lambda kv: (-(kv[1][1] or 0), -span_works[kv[0]], kv[0]))
                ],
                work_ids=own_works,
                link_methods=dict(Counter(resolution.links[m.key].method for m in members)),
                vector=researcher_vector([by_id[w] for w in expertise], vectors),
                identity_conflicts=conflicts.get(rid, []),
            )
        )

    return work_docs, researchers, topic_docs(work_topics, topic_origin, topic_researchers, vectors)


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
