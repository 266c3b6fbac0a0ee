"""Index: from the catalog to a new index version, through embeddings, identities, topics and aggregates."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Collection, Mapping

import numpy as np

from indexer import aggregates, identity, topics
from indexer.catalog import CATALOG_STAMP, Catalog, text_hash
from models.embedding import Embedder
from search.interface import Corpus, IndexInfo, Progress, SearchEngine


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


def embed_works(
    catalog: Catalog, works, embedder: Embedder, progress: Progress | None = None, full: bool = False
) -> tuple[dict[str, np.ndarray], int]:
    """Vectors for every work, embedding only texts the cache (model, text hash) does not hold;
    `full` embeds everything again and refreshes the cache."""
    texts = {w.id: w.embedding_text() for w in works}
    hashes = {wid: text_hash(text) for wid, text in texts.items()}
    cached = {} if full else catalog.cached_vectors(embedder.cache_key, set(hashes.values()))
    missing = sorted({h: wid for wid, h in hashes.items() if h not in cached}.items())
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
            vectors = embedder.embed([texts[wid] for _, wid in part], progress=tick)
            new = {h: v for (h, _), v in zip(part, vectors)}
            catalog.store_vectors(embedder.cache_key, new)
            cached.update(new)
    return {wid: cached[h] for wid, h in hashes.items()}, len(missing)


def build_corpus(
    catalog: Catalog,
    embedder: Embedder,
    progress: Progress | None = None,
    full: bool = False,
    exclusions: Mapping[str, Collection[str]] | None = None,
) -> tuple[Corpus, IndexReport]:
    """`exclusions`: works owners excluded from their expertise (researcher id -> work ids), read
    from the accounts database by the caller (`models.accounts.expertise_exclusions`)."""
    report = IndexReport()
    clock = time.perf_counter()
    if progress:  # every stage reports as it starts, so a watcher never sees a silent stage
        progress("read", 0, catalog.count_works())
    works = list(catalog.works(report.skipped))
    report.works = len(works)
    vectors, report.embedded = embed_works(catalog, works, embedder, progress, full)
    report.reused_vectors = report.works - report.embedded
    report.seconds["embed"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if progress:
        progress("identity", 0, len(works))
    resolution = identity.resolve(works, vectors, catalog.mention_researchers())
    catalog.store_mention_researchers({key: link.researcher_id for key, link in resolution.links.items()})
    report.seconds["identity"] = time.perf_counter() - clock
    if progress:
        progress("identity", len(resolution.members), len(resolution.members))

    clock = time.perf_counter()
    if progress:
        progress("topics", 0, 1)
    work_topics, origin = topics.assign_topics(works, vectors)
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


def index(
    catalog: Catalog,
    engine: SearchEngine,
    embedder: Embedder,
    progress: Progress | None = None,
    full: bool = False,
    exclusions: Mapping[str, Collection[str]] | None = None,
) -> IndexReport:
    """Build the next index version on `engine` and make it live; the catalog remembers the run.

    Incremental by default: only works whose text is new to the vector cache are embedded, while
    identities, topics and aggregates are recomputed from the whole catalog (they are cheap, and a
    new work can change any of them). `full` embeds every work again. Owners' `exclusions` apply
    to every build, full or not."""
    run_id, stamp = catalog.start_index_run()
    started = time.perf_counter()
    corpus, report = build_corpus(catalog, embedder, progress, full, exclusions)
    corpus.meta[CATALOG_STAMP] = stamp  # the version remembers what it saw: index lag survives a rollback
    clock = time.perf_counter()
    report.info = engine.build(corpus, progress)
    report.seconds["build"] = time.perf_counter() - clock
    report.seconds["total"] = time.perf_counter() - started
    catalog.finish_index_run(
        run_id,
        {"works": report.works, "embedded": report.embedded, "researchers": report.researchers, "topics": report.topics},
    )
    return report

