"""Incremental reindex (indexer.pipeline.index without `full`): after works are added, changed and
removed, only the documents that differ are written into a version made from the live one, and
search answers exactly as after a full rebuild of the same catalog, on both engines.

The corpus is the OpenAlex fixture slice: every work there carries at least two source topics with
their fields, so a full rebuild's clustering cannot move a topic and both paths must agree exactly.
Real records, the real model, real SQLite and the real OpenSearch node.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, replace

import pytest

from indexer import aggregates
from indexer.catalog import Catalog, content_hash, text_hash
from indexer.ingest import ingest
from indexer.pipeline import INCREMENTAL_MAX_SHARE, index
from search.service import Discovery
from tests.support import FIXTURES, coauthor_list

SLICE = FIXTURES / "openalex-old.slice.jsonl.gz"
ENGINES = ("embedded", pytest.param("opensearch", marks=pytest.mark.opensearch))


@pytest.fixture(params=ENGINES)
def kind(request):
    return request.param


def snapshot(discovery: Discovery, queries: list[str], names: list[str]) -> dict:
    """What a user sees: works by each mode, people by name, and each found researcher's profile."""
    seen: dict = {}
    for query in queries:
        for mode in ("keyword", "semantic", "hybrid"):
            results = discovery.search_works(query, mode=mode, per_page=20)
            seen[(query, mode)] = (
                results.total,
                [(h.work.id, asdict(h.work), round(h.scores.fused, 5)) for h in results.hits],
            )
    for name in names:
        hits = discovery.search_people(name, limit=10, by="name").hits
        seen[("people", name)] = [asdict(h.researcher) for h in hits]
        if hits:
            profile = discovery.researcher_profile(hits[0].researcher.id)
            seen[("profile", name)] = asdict(profile)
    return seen


def coauthor_lists(engine, work_ids: list[str]) -> dict:
    """Every indexed researcher's stored co-author list (`SearchEngine.researcher_coauthors`)."""
    return engine.researcher_coauthors(sorted({rid for w in engine.get_works(work_ids) for rid in w.researcher_ids}))


def graph_of(engine, work_ids: list[str]) -> dict:
    """The same lists counted from the indexed works."""
    works = engine.get_works(work_ids)
    by_researcher = defaultdict(list)
    for work in works:
        for rid in set(work.researcher_ids):
            by_researcher[rid].append(work)
    return {rid: coauthor_list(rid, own) for rid, own in by_researcher.items()}


def indexed_then_returned(catalog: Catalog, live, embedder):
    """The slice ingested and indexed without its last three works, which then come back (a second
    ingest): the slice's works as first read, and the first build's report."""
    ingest(catalog, [SLICE])
    works = list(catalog.works())
    catalog.remove_works(w.id for w in works[-3:])
    first = index(catalog, live, embedder)
    ingest(catalog, [SLICE])
    return works, first


def test_incremental_reindex_answers_like_a_full_one(kind, engine_factory, embedder, tmp_path, monkeypatch):
    monkeypatch.setattr(aggregates, "LARGE_TEAM", 3)  # so that the slice has large works: both kinds of list are kept right
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        ingest(catalog, [SLICE])
        works = list(catalog.works())
        held_out = [w for w in works[::10]][:4]  # added by the second ingest
        catalog.remove_works(w.id for w in held_out)
        first = index(catalog, live := engine_factory(kind)(), embedder)
        assert not first.incremental and first.why_full == "no index version yet"
        before = coauthor_lists(live, [w.id for w in works])

        ingest(catalog, [SLICE])  # the held-out works come back; the others are unchanged
        kept = [w for w in works if w not in held_out]
        changed = replace(kept[2], title="Luminescent lanthanide frameworks for oxygen sensing")
        catalog.upsert_works([(changed, content_hash(changed), "edit", 1)])
        removed = kept[7]
        catalog.remove_works([removed.id])

        second = index(catalog, live, embedder)
        assert second.incremental, second.why_full
        assert second.changed_works == len(held_out) + 2
        assert 0 < second.written["works"] <= len(held_out) + 2  # only the works that changed
        assert second.written["researchers"] < second.researchers
        blocks = second.identity_blocks  # rule 4 compares pairs only in the name blocks the change touches:
        # the changed work's "Klaus Kitz" shares one with "Klaus Kümmerer"; no other block is touched
        assert 0 < blocks["resolved"] < blocks["all"] == first.identity_blocks["resolved"]

        if kind == "opensearch":  # the new version is the live one's clone, not a rewrite
            settings = live.client.indices.get_settings(index=live.alias("works"))
            assert next(iter(settings.values()))["settings"]["index"]["resize"]["source"]["name"] == live.alias("works") + f"-v{first.info.version}"

        queries = [held_out[0].title, changed.title, removed.title, "crystal structure of copper complexes"]
        names = [held_out[0].authorships[0].name, changed.authorships[0].name, kept[0].authorships[0].name]
        incremental = snapshot(Discovery(live, embedder), queries, names)

        full = index(catalog, rebuilt := engine_factory(kind)(), embedder, full=True)
        assert not full.incremental and full.why_full == "--full"
        assert snapshot(Discovery(rebuilt, embedder), queries, names) == incremental
        lists = coauthor_lists(live, [w.id for w in works])  # the graph new collaborators walk
        assert lists == coauthor_lists(rebuilt, [w.id for w in works]) == graph_of(live, [w.id for w in works])
        touched = {rid for w in live.get_works([held_out[0].id]) for rid in w.researcher_ids}
        assert len(touched) > 1 and any(lists[r] != before.get(r) for r in touched)  # a co-author's side changed too

        keyword = [hit[0] for hit in incremental[(changed.title, "keyword")][1]]
        assert keyword[0] == changed.id  # the changed title is what the index holds
        found = {hit[0] for query in queries for mode in ("keyword", "semantic", "hybrid") for hit in incremental[(query, mode)][1]}
        assert removed.id not in found
        assert held_out[0].id in [hit[0] for hit in incremental[(held_out[0].title, "hybrid")][1]][:3]
    finally:
        catalog.close()


def test_a_reindex_rebuilds_everything_when_it_cannot_start_from_the_live_version(engine_factory, embedder, tmp_path):
    engine = engine_factory("embedded")()
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        ingest(catalog, [SLICE])
        index(catalog, engine, embedder)
        unchanged = index(catalog, engine, embedder)
        assert unchanged.incremental and unchanged.written == {"works": 0, "researchers": 0, "topics": 0}

        works = list(catalog.works())
        many = works[: int(len(works) * INCREMENTAL_MAX_SHARE) + 1]
        catalog.remove_works(w.id for w in many)
        large = index(catalog, engine, embedder)
        assert not large.incremental and "changed (over 20%)" in large.why_full

        engine.rollback()  # the live version is no longer the one the catalog's hashes describe
        after_rollback = index(catalog, engine, embedder)
        assert not after_rollback.incremental and "was not the last one built" in after_rollback.why_full
    finally:
        catalog.close()


def test_a_build_keeps_work_vectors_in_one_float32_matrix(embedder, tmp_path, monkeypatch):
    """No per-work Python lists: one matrix (above MEMMAP_ROWS a file mapping that leaves nothing
    behind in the data directory), and documents carry its float32 rows."""
    import numpy as np

    from indexer import vectors as vector_module
    from indexer.pipeline import build_corpus, embed_works

    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        ingest(catalog, [SLICE])
        works = list(catalog.works())
        monkeypatch.setattr(vector_module, "MEMMAP_ROWS", len(works) - 1)
        matrix, _ = embed_works(catalog, works, embedder, directory=tmp_path)
        assert isinstance(matrix.matrix, np.memmap) and matrix.matrix.dtype == np.float32
        assert matrix.matrix.shape == (len(works), embedder.dimension)
        hashes = {w.id: text_hash(w.embedding_text()) for w in works}
        cached = catalog.cached_vectors(embedder.cache_key, set(hashes.values()))
        assert all(np.array_equal(matrix[w.id], cached[hashes[w.id]]) for w in works)

        corpus, _ = build_corpus(catalog, embedder)
        docs = list(corpus.works())
        assert all(isinstance(d.vector, np.ndarray) and d.vector.dtype == np.float32 for d in docs)
        assert all(isinstance(r.vector, np.ndarray) for r in corpus.researchers() if r.vector is not None)
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("build-vectors-")) == []
    finally:
        catalog.close()


def test_an_incremental_reindex_makes_each_document_once(kind, engine_factory, embedder, tmp_path, monkeypatch):
    """The documents the indexer made to compare hashes are the ones the engine writes: no second
    pass over every work and researcher to pick the changed few (it cost more than half the build),
    and no first one either: only the documents the four works can affect are made."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        ingest(catalog, [SLICE])
        works = list(catalog.works())
        catalog.remove_works(w.id for w in works[-4:])
        live = engine_factory(kind)()
        first = index(catalog, live, embedder)
        ingest(catalog, [SLICE])  # four works come back at the end: rows are added, none removed

        made = {"works": 0, "researchers": 0}
        work_doc, researcher_doc = aggregates.WorkDoc, aggregates._researcher_doc

        def counted(kind_made, make):
            def count(*args, **kwargs):
                made[kind_made] += 1
                return make(*args, **kwargs)
            return count

        monkeypatch.setattr(aggregates, "WorkDoc", counted("works", work_doc))
        monkeypatch.setattr(aggregates, "_researcher_doc", counted("researchers", researcher_doc))
        second = index(catalog, live, embedder)
        assert second.incremental and second.written["works"] == 4 and second.written["researchers"] > 0
        assert made == {"works": second.made["works"], "researchers": second.made["researchers"]}
        assert made["works"] == 4 and made["researchers"] < second.researchers / 2
        assert second.info.version == first.info.version + 1
        if kind == "embedded":
            assert second.info.meta["applied"]["works"] == {"changed": 4, "removed": 0, "moved": 0}
        assert {w.id for w in live.get_works([w.id for w in works[-4:]])} == {w.id for w in works[-4:]}
    finally:
        catalog.close()


def test_document_hashes_stay_those_earlier_versions_stored(embedder, tmp_path):
    """`doc_hash` writes the JSON straight from the dataclasses; the hashes must stay those of the
    JSON of `doc_to_dict` (what every earlier version stored), or the first reindex after an
    upgrade would find every document changed and rewrite them all."""
    import hashlib
    import json

    import numpy as np

    from indexer.pipeline import build_corpus, doc_hash
    from search.interface import doc_to_dict

    def stored_hash(doc) -> str:
        digest = hashlib.blake2b(json.dumps(doc_to_dict(doc), sort_keys=True, default=str).encode(), digest_size=16)
        if doc.vector is not None:
            digest.update(np.asarray(doc.vector, dtype=np.float32).tobytes())
        return digest.hexdigest()

    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        ingest(catalog, [SLICE])
        corpus, _ = build_corpus(catalog, embedder)
        docs = [*corpus.works(), *corpus.researchers(), *corpus.topics()]
        assert {type(d).__name__ for d in docs} == {"WorkDoc", "ResearcherDoc", "TopicDoc"}
        assert [doc_hash(d) for d in docs] == [stored_hash(d) for d in docs]
        changed = replace(docs[0], authors=[replace(docs[0].authors[0], confidence=0.5)])
        assert doc_hash(changed) != doc_hash(docs[0])  # a nested field counts
    finally:
        catalog.close()


def test_a_reindex_with_every_vector_cached_never_loads_the_model(engine_factory, embedder, tmp_path, monkeypatch):
    """Loading the model costs seconds and hundreds of MB: a build whose every text is in the vector
    cache (an incremental reindex of works already embedded, or a full build on a new engine) must
    never construct it. The embedder loads it on the first text it is asked to embed."""
    from models.embedding import Embedder

    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        ingest(catalog, [SLICE])
        works = list(catalog.works())
        index(catalog, live := engine_factory("embedded")(), embedder)  # every text embedded and cached
        catalog.remove_works(w.id for w in works[-3:])
        index(catalog, live, embedder)
        ingest(catalog, [SLICE])  # the three come back: their texts are cached

        cold = Embedder(embedder.model_name, max_tokens=embedder.max_tokens, passages=embedder.passages)
        assert cold.cache_key == embedder.cache_key

        def no_model():
            raise AssertionError("the embedding model was loaded with every vector cached")

        monkeypatch.setattr(cold, "_load", no_model)
        step = index(catalog, live, cold)
        assert step.incremental and step.embedded == 0 and step.written["works"] == 3
        assert {w.id for w in live.get_works([w.id for w in works[-3:]])} == {w.id for w in works[-3:]}
        fresh = index(catalog, fresh_engine := engine_factory("embedded")(), cold)  # no live version: a full build, all cached
        assert not fresh.incremental and fresh.embedded == 0 and fresh.works == len(works)
        for engine in (live, fresh_engine):  # vectors of the cache's dimension: semantic search finds the work
            hits = Discovery(engine, embedder).search_works(works[-1].title, mode="semantic", per_page=5).hits
            assert works[-1].id in [h.work.id for h in hits]
    finally:
        catalog.close()


def test_a_build_checks_each_record_once_and_an_incremental_one_only_the_changed(engine_factory, embedder, tmp_path,
                                                                                  monkeypatch):
    """`work_problem` runs once per record in a build (its passes read one snapshot: a record cannot
    change between them), and an incremental reindex checks only the works added or changed since
    the live version and those it left out; a record the live version indexed passed then. A record
    that cannot be indexed stays out of every pass and is reported by every build."""
    from collections import Counter

    from indexer import catalog as catalog_module

    checked: Counter = Counter()
    problem = catalog_module.work_problem

    def counted(work):
        checked[work.id] += 1
        return problem(work)

    monkeypatch.setattr(catalog_module, "work_problem", counted)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    live = engine_factory("embedded")()
    try:
        ingest(catalog, [SLICE])
        works = list(catalog.works())
        bad = replace(works[0], id="W-bad", source_id="W-bad", type={"a": 1})  # stored before validation existed
        catalog.upsert_works([(bad, content_hash(bad), "old.jsonl", 1)])
        catalog.remove_works(w.id for w in works[-3:])
        checked.clear()
        first = index(catalog, live, embedder)
        assert first.skipped == [("W-bad", "type must be text, not dict")]
        assert checked == Counter([w.id for w in works[:-3]] + ["W-bad"])

        ingest(catalog, [SLICE])  # three works come back
        changed = replace(works[5], title="Luminescent lanthanide frameworks for oxygen sensing")
        catalog.upsert_works([(changed, content_hash(changed), "edit", 1)])
        checked.clear()
        second = index(catalog, live, embedder)
        assert second.incremental and second.skipped == [("W-bad", "type must be text, not dict")]
        assert checked == Counter([w.id for w in works[-3:]] + [changed.id, "W-bad"])
        assert second.written["works"] == 4 and not live.get_works(["W-bad"])
        assert live.get_works([changed.id])[0].title == changed.title
    finally:
        catalog.close()


def test_identity_makes_only_the_changed_works_mentions_and_reads_the_rest_as_stored(engine_factory, embedder, tmp_path,
                                                                                      monkeypatch):
    """Making a mention normalises its name and affiliations; a build reads the mentions the catalog
    stored for a record it holds unchanged, made by the same rules (`identity.mention_stamp`), and
    makes only the others: read back, they equal the mentions made again from the record."""
    from collections import Counter

    from indexer import identity

    made: Counter = Counter()
    work_mentions = identity.work_mentions

    def counted(work, shared):
        made[work.id] += 1
        return work_mentions(work, shared)

    monkeypatch.setattr(identity, "work_mentions", counted)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    live = engine_factory("embedded")()
    try:
        works, first = indexed_then_returned(catalog, live, embedder)
        assert first.mention_works == {"made": len(works) - 3, "read": 0} and len(made) == len(works) - 3
        author = works[5].authorships[0]
        changed = replace(works[5], authorships=[replace(author, name="Zebulon Quantrill"), *works[5].authorships[1:]])
        catalog.upsert_works([(changed, content_hash(changed), "edit", 1)])
        catalog.remove_works([works[9].id])
        made.clear()
        second = index(catalog, live, embedder)
        assert second.incremental and second.mention_works == {"made": 4, "read": len(works) - 5}
        assert set(made) == {changed.id, *(w.id for w in works[-3:])}
        assert live.get_works([changed.id])[0].authors[0].name == "Zebulon Quantrill"
        assert {key.rsplit("#", 1)[0] for key in catalog.mention_links()} == {w.id for w in works} - {works[9].id}

        stamp = identity.mention_stamp()
        stored = {work_id: identity.mentions_from_json(work_id, text, {}) for work_id, text in catalog.stored_mentions(stamp)}
        assert stored.keys() == {w.id for w in catalog.works()}
        assert all(stored[w.id] == work_mentions(w, {}) for w in catalog.works())  # as made from the record
        assert catalog.db.execute("SELECT COUNT(*) FROM work_mentions").fetchone()[0] == len(stored)  # the removed one's went

        monkeypatch.setattr(identity, "mention_stamp", lambda: "other rules")
        made.clear()
        third = index(catalog, live, embedder)  # nothing changed but the rules: every mention is made again
        assert third.incremental and third.mention_works == {"made": len(works) - 1, "read": 0}
        assert third.written == {"works": 0, "researchers": 0, "topics": 0}
    finally:
        catalog.close()


def test_an_incremental_reindex_writes_only_the_mention_links_that_changed(engine_factory, embedder, tmp_path):
    """The catalog keeps every mention's link for the next build; an incremental one rewrote every
    row of them. It writes the links that differ and drops those of removed works, and the table
    still says what the index shows."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    live = engine_factory("embedded")()
    try:
        works, _ = indexed_then_returned(catalog, live, embedder)
        catalog.remove_works([works[0].id])
        catalog.db.execute("CREATE TEMP TABLE link_writes (mention TEXT)")
        for event, row in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old")):
            catalog.db.execute(f"CREATE TEMP TRIGGER link_{event.lower()} AFTER {event} ON mention_researchers "
                               f"BEGIN INSERT INTO link_writes VALUES ({row}.mention); END")

        second = index(catalog, live, embedder)
        assert second.incremental
        written = {key for (key,) in catalog.db.execute("SELECT mention FROM link_writes")}
        assert {key.rsplit("#", 1)[0] for key in written} == {w.id for w in works[-3:]} | {works[0].id}  # theirs only, here
        links = catalog.mention_links()
        assert len(written) < len(links) / 2
        shown = {f"{doc.id}#{a.position}": (a.researcher_id, a.method, a.confidence)
                 for doc in live.get_works([w.id for w in works]) for a in doc.authors}
        assert links == shown
    finally:
        catalog.close()


def test_an_incremental_reindex_reads_each_unchanged_record_once(engine_factory, embedder, tmp_path, monkeypatch):
    """Past the first pass (ids, text hashes and what researcher documents need of each work), an
    incremental reindex reads only the records it needs: the new and changed works (their mentions,
    topics and text, if not cached) and the documents the change affects. Identity's and the topic
    model's passes read every record again."""
    from collections import Counter

    from indexer import catalog as catalog_module

    read: Counter = Counter()
    parse = catalog_module.work_from_json

    def counted(text):
        work = parse(text)
        read[work.id] += 1
        return work

    catalog = Catalog(tmp_path / "catalog.sqlite")
    live = engine_factory("embedded")()
    try:
        works, _ = indexed_then_returned(catalog, live, embedder)
        changed = replace(works[5], title="Luminescent lanthanide frameworks for oxygen sensing")  # a new text
        catalog.upsert_works([(changed, content_hash(changed), "edit", 1)])

        monkeypatch.setattr(catalog_module, "work_from_json", counted)
        second = index(catalog, live, embedder)
        assert second.incremental and second.embedded == 4  # the three were never indexed
        assert set(read) == {w.id for w in works}
        again = {work_id for work_id, n in read.items() if n > 1}
        assert {changed.id, *(w.id for w in works[-3:])} <= again and len(again) < len(works) / 4
    finally:
        catalog.close()
