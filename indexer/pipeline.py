"""Index: from the catalog to a new index version, through embeddings, identities, topics and aggregates."""

from __future__ import annotations

import hashlib
import heapq
import json
import time
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from itertools import groupby
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Callable, Collection, Iterable, Iterator, Mapping

import numpy as np

from indexer import aggregates, identity, topics
from indexer.catalog import CATALOG_STAMP, Catalog, text_hash
from indexer.heap import collector_paused
from indexer.topic_model import TopicModel
from indexer.vectors import VectorMatrix
from models.embedding import Embedder
from models.records import TopicRef, Work
from search.interface import DOC_KINDS, Changes, Corpus, IndexInfo, Progress, SearchEngine, doc_fields

EMBED_CHUNK = 2048
"""Texts embedded and stored per step, so an interrupted run keeps what it embedded."""

KEPT_DOCS_MAX = 50_000
"""Changed documents of one kind an incremental reindex keeps in memory for the engine (about 1% of
a million works' researchers); past it, the engine makes those documents again (`Corpus.make`)."""

INDEX_RUN = "index_run"
"""Key of an index version's meta: the index run that built it. While it is the catalog's newest
run, the mention links the catalog holds are the version's, and a reindex makes only the documents
that what moved since can change (`aggregates.Change`)."""

REMADE = "researchers_remade"
"""Key of an index version's meta: researchers with an owner's exclusions or an id conflict, whose
documents the next incremental reindex makes again whatever moved (these change without a work changing)."""

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
    made: dict[str, int] = field(default_factory=dict)  # documents made and hashed per kind
    identity_blocks: dict[str, int] = field(default_factory=dict)  # name blocks: all, and those rule 4 resolved
    mention_works: dict[str, int] = field(default_factory=dict)  # works whose mentions identity made, and read as stored


@dataclass
class _Plan:
    """An incremental reindex: the live version it starts from and the works changed since."""

    base: int
    changed: set[str]
    removed: set[str]
    links_live: bool = False  # the catalog's mention links are the live version's: make only what the change touches
    remade: set[str] = field(default_factory=set)  # the live version's REMADE researchers


class WorkStream:
    """The catalog's works as they were when the build started, read again from SQLite on every pass
    (in id order) through a connection of its own that holds one read transaction. Each stage reads
    the works one at a time and keeps only what it needs, so a build never holds every Work record
    (with its abstract), and an ingest running meanwhile does not change what this build sees.

    Records are checked (`work_problem`) on the first pass only, and there only those not `sound`
    already; later passes leave out the works the first one skipped. In one snapshot a record
    cannot change between passes, and checking each record on every pass cost an incremental
    reindex about a seventh of its time at 30k works (bench/README, session 8)."""

    def __init__(self, path: Path):
        self._reader = Catalog(path)
        self._reader.db.execute("BEGIN")
        self.count = self._reader.count_works()  # the first read fixes the snapshot
        self.skipped: list[tuple[str, str]] = []  # (work id, why it cannot be indexed), from the first pass
        self.sound: Callable[[str], bool] = lambda work_id: False  # set before the first pass (`_build_corpus`)
        self._passes = 0

    def __iter__(self) -> Iterator[Work]:
        self._passes += 1
        if self._passes == 1:
            return self._reader.works(self.skipped, sound=self.sound)
        return self._checked(self._reader.works(sound=_every))

    @property
    def snapshot(self) -> Catalog:
        """The catalog as this build sees it (read only)."""
        return self._reader

    def of(self, ids: Collection[str]) -> Iterator[Work]:
        """The works of `ids` in the same snapshot, the first pass's skipped ones left out."""
        return self._checked(self._reader.works(None, ids, sound=_every))

    def _checked(self, works: Iterator[Work]) -> Iterator[Work]:
        left_out = {work_id for work_id, _ in self.skipped}
        return (work for work in works if work.id not in left_out) if left_out else works

    def close(self) -> None:
        self._reader.close()


def _every(work_id: str) -> bool:
    """`WorkStream`'s later passes: the first pass checked every record."""
    return True


def embed_works(
    catalog: Catalog, works: Iterable[Work], embedder: Embedder, progress: Progress | None = None, full: bool = False,
    directory: Path | None = None, each: Callable[[Work], None] | None = None,
    works_of: Callable[[Collection[str]], Iterable[Work]] | None = None,
) -> tuple[VectorMatrix, int]:
    """Vectors for every work in one matrix (memory-mapped in `directory` when large), embedding
    only texts the cache (model, text hash) does not hold; `full` embeds everything again and
    refreshes the cache. `works` is read once for ids and text hashes (`each` sees every work of that
    pass); the works whose texts are to be embedded are read again, through `works_of(ids)` when
    given (only those records), else in a second pass. The matrix takes its dimension from the
    cache, so a build with every text cached never loads the model (seconds and hundreds of MB); the
    embedder loads it on the first text it embeds, or here when no vector is cached at all."""
    rows_of: dict[str, list[int]] = {}
    ids = []
    for row, work in enumerate(works):
        ids.append(work.id)
        rows_of.setdefault(text_hash(work.embedding_text()), []).append(row)
        if each:
            each(work)
    vectors: VectorMatrix | None = None
    seen: set[str] = set()
    if not full:
        for h, vector in catalog.each_cached_vector(embedder.cache_key, rows_of):
            if vectors is None:
                vectors = VectorMatrix(ids, vector.shape[0], directory)
            vectors.matrix[rows_of[h]] = vector
            seen.add(h)
    if vectors is None:
        vectors = VectorMatrix(ids, embedder.dimension, directory)
    missing = {h for h in rows_of if h not in seen}  # each left out once its text is taken
    if works_of is not None and missing:
        works = works_of([ids[rows_of[h][0]] for h in missing])
    del ids
    total = len(missing)
    if progress:  # said at once, even when every vector comes from the cache
        progress("embed", 0, total)
    if missing:
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("embed", done, total)

        def flush() -> None:  # store as we go, so an interrupted run keeps what it embedded
            new = dict(zip(texts, embedder.embed(list(texts.values()), progress=tick)))
            catalog.store_vectors(embedder.cache_key, new)
            for h, vector in new.items():
                vectors.matrix[rows_of[h]] = vector
            texts.clear()

        texts: dict[str, str] = {}  # text hash -> text, a chunk at a time
        for work in works:
            text = work.embedding_text()
            h = text_hash(text)
            if h in missing:
                missing.discard(h)
                texts[h] = text
                if len(texts) >= EMBED_CHUNK:
                    flush()
        if texts:
            flush()
    return vectors, total


def build_corpus(
    catalog: Catalog,
    embedder: Embedder,
    progress: Progress | None = None,
    full: bool = False,
    exclusions: Mapping[str, Collection[str]] | None = None,
    plan: _Plan | None = None,
    works: WorkStream | None = None,
) -> tuple[Corpus, IndexReport]:
    """`exclusions`: works owners excluded from their expertise (researcher id -> work ids), read
    from the accounts database by the caller (`models.accounts.expertise_exclusions`). With a
    `plan` (incremental), works the plan does not name keep their stored topics and the others are
    assigned from the stored topic model; without one, topics are clustered again. `works`: the
    catalog snapshot to build from (the caller closes it); without it, one that lives as long as
    the corpus. Every stage streams the works; what stays in memory per work is its vector row,
    compact facts (`aggregates.WorkFacts`), its mentions, labels and topic refs."""
    corpus, report, _ = _build_corpus(catalog, embedder, progress, full, exclusions, plan, works)
    return corpus, report


def _build_corpus(
    catalog: Catalog, embedder: Embedder, progress: Progress | None, full: bool,
    exclusions: Mapping[str, Collection[str]] | None, plan: _Plan | None, works: WorkStream | None,
) -> tuple[Corpus, IndexReport, aggregates.Docs]:
    """`build_corpus`, and its documents, which with a `plan` whose links are live know which of
    them the change can affect (`Docs.affected`)."""
    report = IndexReport()
    clock = time.perf_counter()
    works = works or WorkStream(catalog.path)
    if progress:  # every stage reports as it starts, so a watcher never sees a silent stage
        progress("read", 0, works.count)
    stored = catalog.work_topics() if plan is not None else ({}, {})
    if plan is not None:  # a work the last build indexed (it stored its topics) and unchanged since passed the check then
        works.sound = lambda work_id: work_id in stored[0] and work_id not in plan.changed
    facts = aggregates.WorkFacts()
    vectors, report.embedded = embed_works(catalog, works, embedder, progress, full, catalog.path.parent, facts.add,
                                           works.of)
    report.works, report.skipped = len(vectors), works.skipped
    report.reused_vectors = report.works - report.embedded
    report.seconds["embed"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if progress:
        progress("identity", 0, report.works)
    previous = {key: identity.Link(*link) for key, link in catalog.mention_links().items()}
    years = {work_id: year for work_id, (year, _) in facts.works.items()}
    resolution = identity.resolve_mentions(_mentions(catalog, works, full, report), years, vectors, previous,
                                           None if plan is None else plan.changed)
    del years
    differ = None if plan is None else _relinked(previous, resolution.links)
    relinked = differ if plan is not None and plan.links_live else None
    del previous  # a Link per mention of the last build: not needed by the stages after
    links = resolution.links
    if differ is None:
        catalog.store_mention_researchers({key: link.researcher_id for key, link in links.items()},
                                          {key: (link.method, link.confidence) for key, link in links.items()})
    else:  # the stored links are `previous`: write what differs
        catalog.update_mention_links({key: (links[key].researcher_id, links[key].method, links[key].confidence)
                                      for key in differ if key in links}, [key for key in differ if key not in links])
    report.seconds["identity"] = time.perf_counter() - clock
    report.identity_blocks = {"all": resolution.blocks, "resolved": resolution.resolved_blocks}
    if progress:
        progress("identity", len(resolution.members), len(resolution.members))

    clock = time.perf_counter()
    if progress:
        progress("topics", 0, 1)
    if plan is None:
        work_topics, origin = topics.assign_topics(works, vectors, directory=catalog.path.parent)
        catalog.store_work_topics(_refs_as_dicts(work_topics), origin, replace=True)
    else:
        work_topics, origin = _topics_from_model(catalog, stored, works, vectors, plan)
    remade = {rid for rid, excluded in (exclusions or {}).items() if excluded} | set(resolution.conflicts_of())
    change = None
    if relinked is not None:
        moved = plan.changed | plan.removed
        change = aggregates.Change(moved, relinked, {w: [TopicRef(**r) for r in refs] for w, refs in stored[0].items() if w in moved},
                                   remade | plan.remade)
    docs = aggregates.build_docs(works, resolution, work_topics, origin, vectors, exclusions, facts,
                                 works.of if isinstance(works, WorkStream) else None, change)
    report.researchers, report.topics = docs.researchers_count, docs.topics_count
    report.seconds["aggregate"] = time.perf_counter() - clock
    if progress:
        progress("topics", 1, 1)

    corpus = Corpus(
        works=docs.works,
        researchers=docs.researchers,
        topics=docs.topics,
        counts={"works": report.works, "researchers": report.researchers, "topics": report.topics},
        model=embedder.model_name,
        dimension=vectors.dimension,
        meta={"embedded": report.embedded, REMADE: sorted(remade)},
        make=docs.make,
    )
    return corpus, report, docs


def _mentions(catalog: Catalog, works: WorkStream, full: bool, report: IndexReport) -> list[identity.Mention]:
    """Every mention of the build's works, in their order (`identity.mentions_of`): read from the
    catalog where it holds them current (same record, same rules: `identity.mention_stamp`), made
    and stored for the other works (new or changed ones; all of them on a first build or with
    `full`). Making a mention normalises its name and affiliations: an incremental reindex now
    makes only the changed works' mentions."""
    stamp = identity.mention_stamp()
    missing = works.snapshot.content_hashes() if full else works.snapshot.works_without_mentions(stamp)
    every = len(missing) >= works.count
    shared: dict = {}  # equal token tuples and affiliation sets, one object (`identity.work_mentions`)
    made: list[identity.Mention] = []
    rows: dict[str, tuple[str, str]] = {}
    report.mention_works = {"made": 0, "read": 0}
    for work in works if every else works.of(missing):
        report.mention_works["made"] += 1
        mentions = identity.work_mentions(work, shared)
        made.extend(mentions)
        rows[work.id] = (missing[work.id], identity.mentions_to_json(mentions))
        if len(rows) >= EMBED_CHUNK:
            catalog.store_work_mentions(stamp, rows)
            rows.clear()
    catalog.store_work_mentions(stamp, rows)
    catalog.drop_removed_mentions()
    if every:
        return made
    left_out = {work_id for work_id, _ in works.skipped}

    def stored() -> Iterator[tuple[str, list[identity.Mention]]]:
        for work_id, text in works.snapshot.stored_mentions(stamp):
            if work_id not in left_out:
                report.mention_works["read"] += 1
                yield work_id, identity.mentions_from_json(work_id, text, shared)

    by_work = ((work_id, list(mentions)) for work_id, mentions in groupby(made, key=attrgetter("work_id")))
    return [m for _, mentions in heapq.merge(stored(), by_work, key=itemgetter(0)) for m in mentions]


def _relinked(previous: Mapping[str, identity.Link], links: Mapping[str, identity.Link]) -> dict[str, str | None]:
    """Mention key -> its previous researcher (None: new) for every mention whose link is new,
    differs (researcher, method or confidence) or is gone."""
    found: dict[str, str | None] = {key: previous[key].researcher_id for key in previous.keys() - links.keys()}
    for key, link in links.items():
        before = previous.get(key)
        if before != link:
            found[key] = before.researcher_id if before else None
    return found


def _refs_as_dicts(work_topics: Mapping[str, list]) -> dict[str, list[dict]]:
    return {wid: [asdict(ref) for ref in refs] for wid, refs in work_topics.items()}


def _topics_from_model(catalog: Catalog, stored: tuple[dict[str, list[dict]], dict[str, str]],
                       works: WorkStream, vectors: VectorMatrix, plan: _Plan):
    """Stored topics for unchanged works, the stored model's for the rest (only those records are
    read); the store follows."""
    stored_refs, origin = stored
    model = TopicModel({w: r for w, r in stored_refs.items() if w not in plan.changed}, vectors)
    new_refs = {}
    for work in works.of([w for w in vectors if w in plan.changed or w not in stored_refs]):
        new_refs[work.id], new_origins = model.assign(work, vectors.get(work.id))
        for tid, kind in new_origins.items():
            origin.setdefault(tid, kind)
    work_topics = {wid: new_refs[wid] if wid in new_refs else [TopicRef(**r) for r in stored_refs[wid]] for wid in vectors}
    gone = set(stored_refs) - set(work_topics)
    catalog.store_work_topics(_refs_as_dicts(new_refs), origin, removed=gone)
    return work_topics, origin


def doc_hash(doc) -> str:
    """What a document is, vector included: equal hashes, equal documents in the index. The JSON is
    `doc_to_dict`'s, written straight from the dataclasses (`_json_fields`) rather than from the
    dict copy `dataclasses.asdict` makes, which cost most of the hashing: the hashes stay those
    earlier versions stored."""
    digest = hashlib.blake2b(json.dumps(doc, sort_keys=True, default=_json_fields).encode(), digest_size=16)
    if doc.vector is not None:
        digest.update(np.asarray(doc.vector, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _json_fields(value: object) -> object:
    """`json.dumps`'s fallback in `doc_hash`: a dataclass as its fields but the vector, anything else as `str`."""
    if is_dataclass(value):
        return doc_fields(value)
    return str(value)


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
    links_live = live.meta.get(INDEX_RUN) is not None and live.meta.get(INDEX_RUN) == catalog.latest_index_run()
    return _Plan(live.version, changed, removed, links_live, set(live.meta.get(REMADE, ()))), None


def _changes(catalog: Catalog, engine: str, corpus: Corpus, documents: aggregates.Docs | None = None,
             made: dict[str, int] | None = None) -> tuple[Changes, dict[str, dict[str, str]]]:
    """An incremental reindex: which documents differ from those of the version `engine` last built,
    and the new hashes of those; stored hashes are read a batch at a time. The documents found
    changed (up to KEPT_DOCS_MAX of a kind) are kept in `Changes.docs`, so that the engine writes
    them without making every document again. When `documents` knows which documents the change can
    affect, only those are made and compared (a removed one is among them); otherwise every
    document is. `made` counts them per kind."""
    affected = documents.affected if documents is not None else None
    sources = {"works": corpus.works, "researchers": corpus.researchers, "topics": corpus.topics}
    if affected is not None:
        sources = {kind: (lambda kind=kind: documents.make(kind, affected[kind])) for kind in DOC_KINDS}
    made = {} if made is None else made
    changed: dict[str, set[str]] = {}
    removed: dict[str, set[str]] = {}
    new_hashes: dict[str, dict[str, str]] = {}
    kept: dict[str, dict[str, object] | None] = {}
    for kind in DOC_KINDS:
        seen: set[str] = set()
        new_hashes[kind] = {}
        kept[kind] = {}
        batch: dict[str, tuple[str, object]] = {}  # id -> (hash, document)

        def compare() -> None:
            before = catalog.doc_hashes(engine, kind, list(batch))
            for i, (h, doc) in batch.items():
                if before.get(i) != h:
                    new_hashes[kind][i] = h
                    if kept[kind] is not None:
                        kept[kind][i] = doc
            if kept[kind] is not None and len(kept[kind]) > KEPT_DOCS_MAX:
                kept[kind] = None  # a large change: the engine makes these documents again
            batch.clear()

        for doc in sources[kind]():
            seen.add(doc.id)
            batch[doc.id] = (doc_hash(doc), doc)
            if len(batch) >= 5000:
                compare()
        compare()
        changed[kind] = set(new_hashes[kind])
        made[kind] = len(seen)
        if affected is not None:
            removed[kind] = set(catalog.doc_hashes(engine, kind, sorted(affected[kind] - seen)))
        else:
            removed[kind] = {i for i in catalog.hashed_doc_ids(engine, kind) if i not in seen}
    return Changes(changed, removed, {kind: docs for kind, docs in kept.items() if docs}), new_hashes


def _hashed_as_written(corpus: Corpus, hashes: dict[str, dict[str, str]]) -> Corpus:
    """`corpus` whose documents are hashed into `hashes` (kind -> id -> `doc_hash`) as the engine
    reads them. A full build stores every document's hash; hashing them as they are written makes
    each document once, where a pass of its own made every document twice (at 100k works that pass
    was 194 s of the build, bench/README session 11)."""

    def hashing(kind: str, docs: Callable[[], Iterable]) -> Callable[[], Iterator]:
        def hashed() -> Iterator:
            found = hashes.setdefault(kind, {})
            for doc in docs():
                found[doc.id] = doc_hash(doc)
                yield doc
        return hashed

    return replace(corpus, works=hashing("works", corpus.works), researchers=hashing("researchers", corpus.researchers),
                   topics=hashing("topics", corpus.topics))


@collector_paused()
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
    clustering); identity makes only their mentions (the others' are read as the catalog stored
    them) and compares pairs only in the name blocks the change touches (every mention keeps its
    researcher id); only the documents the change can affect are made, and those that differ from
    the live version's (by hash) are written into a version made from it (`SearchEngine.update`). A
    full rebuild instead when there is no live version from this catalog, the model changed, or
    more than INCREMENTAL_MAX_SHARE of the works changed. `full` embeds every work again, makes every
    mention again, clusters topics again and rewrites every document. Owners' `exclusions` apply to
    every build, full or not."""
    plan, why_full = _plan(catalog, engine, embedder, full)
    run_id, stamp = catalog.start_index_run()
    started = time.perf_counter()
    works = WorkStream(catalog.path)  # after the stamp: a work this build misses is newer than it
    try:
        corpus, report, docs = _build_corpus(catalog, embedder, progress, full, exclusions, plan, works)
        report.incremental, report.why_full = plan is not None, why_full
        corpus.meta[CATALOG_STAMP] = stamp  # the version remembers what it saw: index lag survives a rollback
        corpus.meta[INDEX_RUN] = run_id
        clock = time.perf_counter()
        if plan is None:
            hashes: dict[str, dict[str, str]] = {}
            report.info = engine.build(_hashed_as_written(corpus, hashes), progress)
            removed: dict[str, set[str]] = {}
            report.made = {kind: len(hashes.get(kind, ())) for kind in DOC_KINDS}
            report.written = dict(report.made)
        else:
            changes, hashes = _changes(catalog, engine.name, corpus, docs, report.made)
            removed = changes.removed
            report.written = {kind: len(changes.changed[kind]) + len(changes.removed[kind]) for kind in DOC_KINDS}
            report.changed_works = len(plan.changed) + len(plan.removed)
            report.info = engine.update(plan.base, corpus, changes, progress)
    finally:
        works.close()
    catalog.store_doc_hashes(engine.name, report.info.version, hashes, removed, replace=plan is None)
    report.seconds["build"] = time.perf_counter() - clock
    report.seconds["total"] = time.perf_counter() - started
    catalog.finish_index_run(
        run_id,
        {"works": report.works, "embedded": report.embedded, "researchers": report.researchers, "topics": report.topics},
    )
    return report
