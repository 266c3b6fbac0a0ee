"""Index: from the catalog to a new index version, through embeddings, identities, topics and aggregates."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Collection, Mapping

import numpy as np

from indexer import aggregates, identity, topics
from indexer.catalog import CATALOG_STAMP, Catalog, text_hash
from indexer.topic_model import TopicModel
from indexer.vectors import VectorMatrix
from models.embedding import Embedder
from models.records import TopicRef
from search.interface import DOC_KINDS, Changes, Corpus, IndexInfo, Progress, SearchEngine, doc_to_dict

INCREMENTAL_MAX_SHARE = 0.2
"""A reindex is incremental while the works added, changed or removed since the live version are at
most this share of the catalog; beyond it a full rebuild costs about as much and clusters topics again."""


@dataclass
class IndexReport:
    works: int = 0
    embedded: int = 0
    reused_vectors: int = 0
    researchers: int = 0
    topics: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (work id, why it cannot be indexed)
    seconds: dict[str, float] = field(default_factory=dict)
    info: IndexInfo | None = None
    incremental: bool = False
    why_full: str | None = None  # why a reindex without --full rebuilt everything
    changed_works: int = 0  # added, changed or removed since the live version (incremental runs)
    written: dict[str, int] = field(default_factory=dict)  # documents written or deleted per kind
    identity_blocks: dict[str, int] = field(default_factory=dict)  # name blocks: all, and those rule 4 resolved


@dataclass
class _Plan:
    """An incremental reindex: the live version it starts from and the works changed since."""

    base: int
    changed: set[str]
    removed: set[str]


def embed_works(
    catalog: Catalog, works, embedder: Embedder, progress: Progress | None = None, full: bool = False,
    directory: Path | None = None,
) -> tuple[VectorMatrix, int]:
    """Vectors for every work in one matrix (memory-mapped in `directory` when large), embedding
    only texts the cache (model, text hash) does not hold; `full` embeds everything again and
    refreshes the cache."""
    rows_of: dict[str, list[int]] = {}
    for row, work in enumerate(works):
        rows_of.setdefault(text_hash(work.embedding_text()), []).append(row)
    vectors: VectorMatrix | None = None
    seen: set[str] = set()
    if not full:
        for h, vector in catalog.each_cached_vector(embedder.cache_key, rows_of):
            if vectors is None:
                vectors = VectorMatrix([w.id for w in works], vector.shape[0], directory)
            vectors.matrix[rows_of[h]] = vector
            seen.add(h)
    if vectors is None:
        vectors = VectorMatrix([w.id for w in works], embedder.dimension, directory)
    missing = sorted(h for h in rows_of if h not in seen)
    if progress:  # said at once, even when every vector comes from the cache
        progress("embed", 0, len(missing))
    if missing:
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("embed", done, len(missing))

        chunk = 2048  # store as we go, so an interrupted run keeps what it embedded
        for start in range(0, len(missing), chunk):
            part = missing[start : start + chunk]
            embedded = embedder.embed([works[rows_of[h][0]].embedding_text() for h in part], progress=tick)
            new = dict(zip(part, embedded))
            catalog.store_vectors(embedder.cache_key, new)
            for h, vector in new.items():
                vectors.matrix[rows_of[h]] = vector
    return vectors, len(missing)


def build_corpus(
    catalog: Catalog,
    embedder: Embedder,
    progress: Progress | None = None,
    full: bool = False,
    exclusions: Mapping[str, Collection[str]] | None = None,
    plan: _Plan | None = None,
) -> tuple[Corpus, IndexReport]:
    """`exclusions`: works owners excluded from their expertise (researcher id -> work ids), read
    from the accounts database by the caller (`models.accounts.expertise_exclusions`). With a
    `plan` (incremental), works the plan does not name keep their stored topics and the others are
    assigned from the stored topic model; without one, topics are clustered again."""
    report = IndexReport()
    clock = time.perf_counter()
    if progress:  # every stage reports as it starts, so a watcher never sees a silent stage
        progress("read", 0, catalog.count_works())
    works = list(catalog.works(report.skipped))
    report.works = len(works)
    vectors, report.embedded = embed_works(catalog, works, embedder, progress, full, catalog.path.parent)
    report.reused_vectors = report.works - report.embedded
    report.seconds["embed"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if progress:
        progress("identity", 0, len(works))
    previous = {key: identity.Link(*link) for key, link in catalog.mention_links().items()}
    resolution = identity.resolve(works, vectors, previous, None if plan is None else plan.changed)
    catalog.store_mention_researchers({key: link.researcher_id for key, link in resolution.links.items()},
                                      {key: (link.method, link.confidence) for key, link in resolution.links.items()})
    report.seconds["identity"] = time.perf_counter() - clock
    report.identity_blocks = {"all": resolution.blocks, "resolved": resolution.resolved_blocks}
    if progress:
        progress("identity", len(resolution.members), len(resolution.members))

    clock = time.perf_counter()
    if progress:
        progress("topics", 0, 1)
    if plan is None:
        work_topics, origin = topics.assign_topics(works, vectors)
        catalog.store_work_topics(_refs_as_dicts(work_topics), origin, replace=True)
    else:
        work_topics, origin = _topics_from_model(catalog, works, vectors, plan)
    work_docs, researcher_docs, topic_docs = aggregates.build_docs(works, resolution, work_topics, origin, vectors,
                                                                    exclusions)
    report.researchers, report.topics = len(researcher_docs), len(topic_docs)
    report.seconds["aggregate"] = time.perf_counter() - clock
    if progress:
        progress("topics", 1, 1)

    corpus = Corpus(
        works=lambda: iter(work_docs),
        researchers=lambda: iter(researcher_docs),
        topics=lambda: iter(topic_docs),
        counts={"works": len(work_docs), "researchers": len(researcher_docs), "topics": len(topic_docs)},
        model=embedder.model_name,
        dimension=embedder.dimension,
        meta={"embedded": report.embedded},
    )
    return corpus, report


def _refs_as_dicts(work_topics: Mapping[str, list]) -> dict[str, list[dict]]:
    return {wid: [asdict(ref) for ref in refs] for wid, refs in work_topics.items()}


def _topics_from_model(catalog: Catalog, works, vectors: Mapping[str, np.ndarray], plan: _Plan):
    """Stored topics for unchanged works, the stored model's for the rest; the store follows."""
    stored, origin = catalog.work_topics()
    model = TopicModel({w: r for w, r in stored.items() if w not in plan.changed}, vectors)
    work_topics, new_refs = {}, {}
    for work in works:
        if work.id in stored and work.id not in plan.changed:
            work_topics[work.id] = [TopicRef(**r) for r in stored[work.id]]
            continue
        refs, new_origins = model.assign(work, vectors.get(work.id))
        work_topics[work.id] = new_refs[work.id] = refs
        for tid, kind in new_origins.items():
            origin.setdefault(tid, kind)
    gone = set(stored) - set(work_topics)
    catalog.store_work_topics(_refs_as_dicts(new_refs), origin, removed=gone)
    return work_topics, origin


def doc_hash(doc) -> str:
    """What a document is, vector included: equal hashes, equal documents in the index."""
    digest = hashlib.blake2b(json.dumps(doc_to_dict(doc), sort_keys=True, default=str).encode(), digest_size=16)
    if doc.vector is not None:
        digest.update(np.asarray(doc.vector, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _plan(catalog: Catalog, engine: SearchEngine, embedder: Embedder, full: bool) -> tuple[_Plan | None, str | None]:
    """The incremental plan, or None and why the reindex must rebuild everything."""
    if full:
        return None, "--full"
    live = engine.info()
    if live is None:
        return None, "no index version yet"
    if live.model != embedder.model_name:
        return None, f"model changed ({live.model} -> {embedder.model_name})"
    if catalog.indexed_version(engine.name) != live.version or CATALOG_STAMP not in live.meta:
        return None, f"the live version {live.version} was not the last one built from this catalog"
    if not catalog.work_topics()[1]:
        return None, "no stored topic model"
    stamp = live.meta[CATALOG_STAMP]
    changed, removed = catalog.changes_since(stamp) if stamp else (set(), set())
    total = catalog.count_works()
    if not stamp and total:
        return None, "the live version was built from an empty catalog"
    if len(changed) + len(removed) > INCREMENTAL_MAX_SHARE * max(total, 1):
        return None, f"{len(changed) + len(removed)} of {total} works changed (over {INCREMENTAL_MAX_SHARE:.0%})"
    return _Plan(live.version, changed, removed), None


def _changes(catalog: Catalog, engine: str, corpus: Corpus, incremental: bool) -> tuple[Changes, dict[str, dict[str, str]]]:
    """Which documents differ from those of the version `engine` last built (all of them when not
    `incremental`), and the new hashes of those; stored hashes are read a batch at a time."""
    sources = {"works": corpus.works, "researchers": corpus.researchers, "topics": corpus.topics}
    changed: dict[str, set[str]] = {}
    removed: dict[str, set[str]] = {}
    new_hashes: dict[str, dict[str, str]] = {}
    for kind in DOC_KINDS:
        seen: set[str] = set()
        new_hashes[kind] = {}
        batch: dict[str, str] = {}

        def compare() -> None:
            before = catalog.doc_hashes(engine, kind, list(batch)) if incremental else {}
            new_hashes[kind].update((i, h) for i, h in batch.items() if before.get(i) != h)
            batch.clear()

        for doc in sources[kind]():
            seen.add(doc.id)
            batch[doc.id] = doc_hash(doc)
            if len(batch) >= 5000:
                compare()
        compare()
        changed[kind] = set(new_hashes[kind])
        removed[kind] = {i for i in catalog.hashed_doc_ids(engine, kind) if i not in seen} if incremental else set()
    return Changes(changed, removed), new_hashes


def index(
    catalog: Catalog,
    engine: SearchEngine,
    embedder: Embedder,
    progress: Progress | None = None,
    full: bool = False,
    exclusions: Mapping[str, Collection[str]] | None = None,
) -> IndexReport:
    """Build the next index version on `engine` and make it live; the catalog remembers the run.

    Incremental by default: only works whose text is new to the vector cache are embedded; works
    added or changed since the live version get topics from the stored topic model (no
    clustering); identities (which keep every mention's researcher id) and aggregates are computed
    again, and only the documents that differ from the live version's (by hash) are written into a
    version made from it (`SearchEngine.update`). A full rebuild instead when there is no live
    version from this catalog, the model changed, or more than INCREMENTAL_MAX_SHARE of the works
    changed. `full` embeds every work again, clusters topics again and rewrites every document.
    Owners' `exclusions` apply to every build, full or not."""
    plan, why_full = _plan(catalog, engine, embedder, full)
    run_id, stamp = catalog.start_index_run()
    started = time.perf_counter()
    corpus, report = build_corpus(catalog, embedder, progress, full, exclusions, plan)
    report.incremental, report.why_full = plan is not None, why_full
    corpus.meta[CATALOG_STAMP] = stamp  # the version remembers what it saw: index lag survives a rollback
    clock = time.perf_counter()
    changes, hashes = _changes(catalog, engine.name, corpus, plan is not None)
    report.written = {kind: len(changes.changed[kind]) + len(changes.removed[kind]) for kind in DOC_KINDS}
    if plan is None:
        report.info = engine.build(corpus, progress)
    else:
        report.changed_works = len(plan.changed) + len(plan.removed)
        report.info = engine.update(plan.base, corpus, changes, progress)
    catalog.store_doc_hashes(engine.name, report.info.version, hashes, changes.removed, replace=plan is None)
    report.seconds["build"] = time.perf_counter() - clock
    report.seconds["total"] = time.perf_counter() - started
    catalog.finish_index_run(
        run_id,
        {"works": report.works, "embedded": report.embedded, "researchers": report.researchers, "topics": report.topics},
    )
    return report

