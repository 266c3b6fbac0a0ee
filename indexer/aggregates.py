"""Per-researcher and per-topic aggregates: what profile and topic pages show, computed once per build."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Collection, Iterable, Iterator, Mapping, Sequence

import numpy as np

from indexer.identity import Member, Resolution
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
class Change:
    """What moved since the live version, for an incremental build to make only the documents that
    can differ (`Docs.affected`). Every mention key whose link differs from the live version's, or
    that is gone, is in `relinked`; `researchers` are remade whatever moved (an owner's exclusions
    or an id conflict can change without a work changing: those of the live version and of this build)."""

    works: set[str]  # added, changed or removed works
    relinked: dict[str, str | None]  # mention key -> its researcher in the live version (None: a new mention)
    old_topics: dict[str, list[TopicRef]]  # the live version's refs of the changed and removed works
    researchers: set[str]


@dataclass
class Docs:
    """A build's documents. They are made anew on every call (a full build reads them twice: once
    to hash, once to write), so no list of them for the whole catalog is ever held. `make(kind, ids)`
    makes only those documents (ids the corpus does not hold are skipped); `affected` (with a
    `Change`) names, per kind, every document that can differ from the live version's, those to
    delete included."""

    works: Callable[[], Iterator[WorkDoc]]
    researchers: Callable[[], Iterator[ResearcherDoc]]
    topics: Callable[[], Iterator[TopicDoc]]
    make: Callable[[str, Collection[str]], Iterator[WorkDoc | ResearcherDoc | TopicDoc]]
    researchers_count: int
    topics_count: int
    affected: dict[str, set[str]] | None = None


def build_docs(
    works: Iterable[Work],
    resolution: Resolution,
    work_topics: dict[str, list[TopicRef]],
    topic_origin: dict[str, str],
    vectors: Mapping[str, np.ndarray],
    exclusions: Mapping[str, Collection[str]] | None = None,
    facts: WorkFacts | None = None,
    works_of: Callable[[Collection[str]], Iterable[Work]] | None = None,
    change: Change | None = None,
) -> Docs:
    """`works` is read again on every call of `Docs.works` (a list, or the catalog's work stream);
    `facts` are its `WorkFacts` when the caller already gathered them; `works_of(ids)` reads only
    those works (default: a pass over `works`). `exclusions`: researcher id -> work ids its owner
    excluded from their expertise (`models.accounts.expertise_exclusions`). Those works stay on the
    record (`work_ids`, counts, collaborators) but count neither in the researcher's vector nor in
    their topics. `change`: what moved since the live version, for `Docs.affected`.

    Vectors stay float32 arrays (a work's is its row of the build's matrix, not a copy): a list of
    Python floats would cost about 12 KB per document."""
    exclusions = exclusions or {}
    facts = facts or WorkFacts(works)
    works_of = works_of or (lambda ids: (w for w in works if w.id in ids))
    authors_of: dict[str, list[str]] = defaultdict(list)  # work id -> its researchers
    for key, link in resolution.links.items():
        authors_of[key.rsplit("#", 1)[0]].append(link.researcher_id)
    topic_works, first = _topic_works(work_topics)

    def work_docs(source: Iterable[Work]) -> Iterator[WorkDoc]:
        for work in source:
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

    def researcher_docs(ids: Iterable[str]) -> Iterator[ResearcherDoc]:
        names = _DisplayNames(resolution)  # only the names these documents show are worked out
        conflicts = resolution.conflicts_of()
        for rid in ids:
            yield _researcher_doc(rid, resolution.members[rid], names, conflicts.get(rid, []), facts, authors_of,
                                  resolution, work_topics, vectors, exclusions.get(rid) or ())

    def topics(ids: Iterable[str]) -> Iterator[TopicDoc]:
        return topic_docs(topic_works, first, topic_origin, vectors, ids,
                          lambda tid: topic_researchers(topic_works[tid], authors_of, exclusions))

    def make(kind: str, ids: Collection[str]) -> Iterator:
        if kind == "works":
            return work_docs(works_of(ids))
        if kind == "researchers":
            return researcher_docs(sorted(i for i in ids if i in resolution.members))
        return topics(sorted(i for i in ids if i in topic_works))

    affected = None if change is None else {
        "works": change.works | {key.rsplit("#", 1)[0] for key in change.relinked},
        "researchers": _affected_researchers(resolution, authors_of, change),
    }
    if affected is not None:
        affected["topics"] = _affected_topics(affected["works"], resolution, work_topics, first, change)
    return Docs(lambda: work_docs(works), lambda: researcher_docs(resolution.members), lambda: topics(topic_works),
                make, len(resolution.members), len(topic_works), affected)


class _DisplayNames(dict):
    """Researcher id -> `display_name` of its mentions, worked out on first use."""

    def __init__(self, resolution: Resolution):
        super().__init__()
        self.members = resolution.members

    def __missing__(self, rid: str) -> str:
        name = self[rid] = display_name([m.name for m in self.members[rid]])
        return name


def _affected_researchers(resolution: Resolution, authors_of: Mapping[str, list[str]], change: Change) -> set[str]:
    """Researchers whose documents can differ: those who gained or lost a mention (merged and split
    ones too: their mentions were relinked), the authors of a changed work or of a work with a
    relinked mention (their co-author lists), `change.researchers`, and, since a document names its
    close collaborators, every close collaborator of one whose name may have changed (gained or
    lost a mention, or named on a changed work)."""
    moved = {rid for rid in change.relinked.values() if rid}
    moved |= {resolution.links[key].researcher_id for key in change.relinked if key in resolution.links}
    may_be_renamed = moved | {rid for w in change.works for rid in authors_of.get(w, ())}
    found = may_be_renamed | change.researchers
    for w in {key.rsplit("#", 1)[0] for key in change.relinked}:
        found.update(authors_of.get(w, ()))
    for rid in may_be_renamed & resolution.members.keys():
        joint: Counter = Counter()
        for w in {m.work_id for m in resolution.members[rid]}:
            joint.update(set(authors_of[w]) - {rid})
        found.update(other for other, count in joint.items() if count >= CLOSE_MIN_JOINT_WORKS)
    return found


def _affected_topics(works: set[str], resolution: Resolution, work_topics: dict[str, list[TopicRef]],
                     first: Mapping[str, TopicRef], change: Change) -> set[str]:
    """Topics whose documents can differ: those of the affected works (now and in the live version:
    their works, researchers and vectors), those of every work of `change.researchers` (an owner's
    exclusions may have moved them in or out of the researchers counted), the fields above them now
    and before (a field lists its topics and their counts), and the topics under a field whose label
    changed (they show it)."""
    found = {t.id for w in works for t in work_topics.get(w, ())}
    found |= {t.id for refs in change.old_topics.values() for t in refs}
    for rid in change.researchers & resolution.members.keys():
        found |= {t.id for m in resolution.members[rid] for t in work_topics.get(m.work_id, ())}
    found |= {first[t].parent for t in found if t in first and first[t].parent}
    found |= {t.parent for refs in change.old_topics.values() for t in refs if t.parent}  # a field that lost a topic
    old_labels = {t.id: t.label for refs in change.old_topics.values() for t in refs}
    relabelled = {t for t in found if t in first and t in old_labels and first[t].label != old_labels[t]}
    if relabelled:
        found |= {t for t, ref in first.items() if ref.parent in relabelled}
    return found


def topic_researchers(
    works: Iterable[str], authors_of: Mapping[str, list[str]], exclusions: Mapping[str, Collection[str]]
) -> set[str]:
    """The researchers with one of a topic's `works` that counts in their expertise."""
    return {rid for w in works for rid in authors_of.get(w, ()) if w not in (exclusions.get(rid) or ())}


def _researcher_doc(
    rid: str,
    members: Sequence[Member],
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


def _topic_works(work_topics: dict[str, list[TopicRef]]) -> tuple[dict[str, list[str]], dict[str, TopicRef]]:
    """Topic id -> its works (in `work_topics` order), and topic id -> its first ref (label, level, parent)."""
    topic_works: dict[str, list[str]] = defaultdict(list)
    first: dict[str, TopicRef] = {}
    for wid, refs in work_topics.items():
        for t in refs:
            topic_works[t.id].append(wid)
            first.setdefault(t.id, t)
    return dict(topic_works), first


def topic_docs(
    topic_works: Mapping[str, list[str]],
    first: Mapping[str, TopicRef],
    topic_origin: dict[str, str],
    vectors: Mapping[str, np.ndarray],
    ids: Iterable[str],
    researchers_of: Callable[[str], set[str]],
) -> Iterator[TopicDoc]:
    """One doc per field and topic of `ids`: a topic names its field, a field lists its largest topics."""
    children: dict[str, list[str]] = defaultdict(list)
    for tid, ref in first.items():
        if ref.parent:
            children[ref.parent].append(tid)
    for tid in ids:
        wids = topic_works[tid]
        rows = [vectors[w] for w in wids if w in vectors]
        mean = np.sum(rows, axis=0) if rows else None
        ref, parent = first[tid], first.get(first[tid].parent or "")
        subtopics = sorted(children.get(tid, ()), key=lambda c: (-len(topic_works[c]), first[c].label))[:MAX_SUBTOPICS]
        yield TopicDoc(
            id=tid,
            label=ref.label,
            origin=topic_origin.get(tid, "source"),
            works_count=len(wids),
            researchers_count=len(researchers_of(tid)),
            level="field" if children.get(tid) or ref.level == "field" else "topic",
            parent=parent.id if parent else None,
            parent_label=parent.label if parent else None,
            subtopics=[TopicCount(c, first[c].label, len(topic_works[c])) for c in subtopics],
            vector=(mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32) if mean is not None else None,
        )
