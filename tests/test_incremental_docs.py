"""An incremental reindex makes only the documents its change can affect, and those it leaves alone
are exactly what making every document again would give: after each change below, the hash of
every work, researcher and topic document the new version holds (the catalog keeps one per
document and engine) equals the hash of that document made from the same build's state by a full
pass, on both engines. The changes exercise what a document derives from others: a new work joining
an existing researcher and renaming them (their close collaborators show the name), a new co-author
link between existing researchers, a work's topics changed, a merge and a split of a researcher, a
removed work, an id conflict that comes and goes, and an owner's exclusions set and lifted.

Real records (the OpenAlex fixture slice) plus a few written here, the real model, real SQLite and
the real OpenSearch node.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from indexer import aggregates, pipeline
from indexer.catalog import Catalog, content_hash
from indexer.ingest import ingest
from indexer.pipeline import doc_hash, index
from models.records import Authorship, Work, work_id
from search.interface import DOC_KINDS
from tests.support import FIXTURES

SLICE = FIXTURES / "openalex-old.slice.jsonl.gz"
ENGINES = ("embedded", pytest.param("opensearch", marks=pytest.mark.opensearch))
DYES = "Madder and weld dyes in medieval Flemish tapestries"
QUANTUM = "Surface codes for quantum error correction on superconducting qubits"


FIELDS = {"Natural dyes": "Arts and Humanities", "Textile history": "Arts and Humanities",
          "Quantum error correction": "Physics and Astronomy", "Superconducting qubits": "Physics and Astronomy"}


def written(n: int, title: str, authors: list[tuple[str, dict]], year: int = 2020,
            topics: tuple[str, str] = ("Natural dyes", "Textile history")) -> Work:
    """A work of our own: authors as (name, source ids); two source topics, as every slice work has,
    so that a full rebuild's clustering moves no topic."""
    return Work(id=work_id("openalex", f"W990{n}"), source="openalex", source_id=f"W990{n}", title=title,
                abstract=f"{title}.", year=year, source_topics=list(topics), topic_fields={t: FIELDS[t] for t in topics},
                authorships=[Authorship(i, name, **ids) for i, (name, ids) in enumerate(authors)])


ZEB = ("Zebulon Quantrill", {"orcid": "0000-0001-0000-0001"})
ZEB_ELSEWHERE = ("Zebulon Quantrill", {"openalex_id": "A9900000002"})
ZEB_LONG = ("Zebulon Rufus Quantrill", {"orcid": "0000-0001-0000-0001"})
OTTILIE = ("Ottilie Marchbank", {"orcid": "0000-0001-0000-0003"})
PERCIVAL = ("Percival Dunstable", {"orcid": "0000-0001-0000-0004"})
HILDEGARD = ("Hildegard Oxley", {"orcid": "0000-0001-0000-0005"})
A = written(1, DYES, [ZEB, OTTILIE], 2018)
A2 = written(2, DYES + ", a second survey", [ZEB, OTTILIE], 2019)
B = written(3, QUANTUM, [ZEB_ELSEWHERE, PERCIVAL], 2019, ("Quantum error correction", "Superconducting qubits"))
C = written(7, "Lichen dyes of the Outer Hebrides", [HILDEGARD], 2017)
N1 = written(4, "Weld and woad in Flemish dye workshops", [ZEB_LONG, HILDEGARD], 2021)  # a new co-author link
N2 = written(5, "Indigo vats of Bruges", [ZEB_LONG], 2022)
SHIFTED = written(8, "Cochineal in Delft workshops", [("Barnaby Wickersham", {"orcid": OTTILIE[1]["orcid"]})], 2023)  # an id conflict
BRIDGE = written(6, "Tapestry dyes, read by qubits", [("Zebulon Quantrill", {"orcid": ZEB[1]["orcid"], "openalex_id": ZEB_ELSEWHERE[1]["openalex_id"]})], 2022)


@pytest.fixture(params=ENGINES)
def kind(request):
    return request.param


def stored_hashes(catalog: Catalog, engine: str) -> dict[str, dict[str, str]]:
    return {kind: catalog.doc_hashes(engine, kind, sorted(catalog.hashed_doc_ids(engine, kind))) for kind in DOC_KINDS}


def test_an_incremental_reindex_makes_only_what_the_change_affects_and_the_rest_stays_exact(
        kind, engine_factory, embedder, tmp_path, monkeypatch):
    every_doc: list[dict[str, dict[str, str]]] = []  # per run: every document made from that run's state by a full pass
    changes = pipeline._changes

    def also_every_doc(catalog, engine, corpus, documents=None, made=None):
        every_doc.append({k: {d.id: doc_hash(d) for d in source()}
                          for k, source in (("works", corpus.works), ("researchers", corpus.researchers), ("topics", corpus.topics))})
        return changes(catalog, engine, corpus, documents, made)

    monkeypatch.setattr(pipeline, "_changes", also_every_doc)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    live = engine_factory(kind)()

    def upsert(*works: Work) -> None:
        catalog.upsert_works([(w, content_hash(w), "test", i) for i, w in enumerate(works)])

    def reindex(**kwargs):
        report = index(catalog, live, embedder, **kwargs)
        assert report.incremental, report.why_full
        assert stored_hashes(catalog, live.name) == every_doc[-1]  # kept, written and deleted: as a full pass makes them
        assert report.made["researchers"] < report.researchers / 2 and report.made["works"] < report.works / 4
        return report

    def researcher_of(work: Work, position: int = 0) -> str:
        return next(a.researcher_id for a in live.get_works([work.id])[0].authors if a.position == position)

    try:
        ingest(catalog, [SLICE])
        works = list(catalog.works())
        held_out = works[::10][:4]  # added by the second ingest
        kept = [w for w in works if w not in held_out]
        catalog.remove_works(w.id for w in held_out)
        upsert(A, A2, B, C)
        first = index(catalog, live, embedder)
        assert not first.incremental
        assert researcher_of(A) != researcher_of(B)  # one name, two people: nothing joins them yet
        ottilie = researcher_of(A, 1)
        assert [c.name for c in live.get_researchers([ottilie])[0].close_collaborators] == ["Zebulon Quantrill"]

        ingest(catalog, [SLICE])  # existing researchers gain works
        upsert(N1, N2)  # Zebulon (by ORCID) gains two works under a longer name, and a co-author he never had
        step = reindex()
        assert researcher_of(N1) == researcher_of(A) and researcher_of(N1, 1) == researcher_of(C) and researcher_of(A) != researcher_of(B)
        assert [c.name for c in live.get_researchers([ottilie])[0].close_collaborators] == ["Zebulon Rufus Quantrill"]

        moved = replace(kept[2], source_topics=kept[3].source_topics, topic_fields=kept[3].topic_fields)
        assert {t.id for t in live.get_works([moved.id])[0].topics} != {t.id for t in live.get_works([kept[3].id])[0].topics}
        upsert(moved)
        step = reindex()
        assert 0 < step.written["topics"] and step.made["topics"] < step.topics

        upsert(BRIDGE)  # one mention with both source ids: the two Zebulons are one
        reindex()
        assert researcher_of(A) == researcher_of(B) == researcher_of(BRIDGE)

        catalog.remove_works([BRIDGE.id, kept[7].id])  # and two again; a slice work leaves
        step = reindex()
        assert researcher_of(A) != researcher_of(B) and not live.get_works([kept[7].id])
        assert step.written["researchers"] > 0 and step.written["works"] >= 1

        upsert(SHIFTED)  # Ottilie's ORCID on another name: a conflict on her record, though none of her works moved
        reindex()
        assert live.get_researchers([ottilie])[0].identity_conflicts
        catalog.remove_works([SHIFTED.id])
        reindex()
        assert not live.get_researchers([ottilie])[0].identity_conflicts

        zebulon = researcher_of(A)
        step = reindex(exclusions={zebulon: {A.id, A2.id, N1.id, N2.id}})  # nothing moved but an owner's choice
        assert step.written == {"works": 0, "researchers": 1, "topics": step.written["topics"]} and step.written["topics"] > 0
        step = reindex()  # lifted again
        assert step.written["researchers"] == 1

        incremental = stored_hashes(catalog, live.name)
        index(catalog, engine_factory(kind)(), embedder, full=True)  # every work embedded, resolved and clustered again
        full = stored_hashes(catalog, live.name)
        assert full == incremental
    finally:
        catalog.close()


def test_a_reindex_after_a_failed_one_compares_every_document(engine_factory, embedder, tmp_path, monkeypatch):
    """A run that stored its mention links and then failed leaves links the live version does not
    hold: the next run cannot tell from them what moved, so it makes and compares every document."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    live = engine_factory("embedded")()
    try:
        ingest(catalog, [SLICE])
        catalog.upsert_works([(w, content_hash(w), "test", i) for i, w in enumerate((A, A2, B))])
        first = index(catalog, live, embedder)
        catalog.upsert_works([(BRIDGE, content_hash(BRIDGE), "test", 1)])

        def fail(*args, **kwargs):
            raise RuntimeError("the engine went away")

        monkeypatch.setattr(live, "update", fail)
        with pytest.raises(RuntimeError):
            index(catalog, live, embedder)  # the links of the merge are stored, the version is not
        monkeypatch.undo()
        catalog.remove_works([BRIDGE.id])  # the live version never held it: nothing moved since, by the works
        after = index(catalog, live, embedder)
        assert after.incremental and after.made["researchers"] == after.researchers == first.researchers
        assert after.written["researchers"] == 0  # the live version's documents were right all along
    finally:
        catalog.close()


def test_past_kept_docs_max_the_engine_makes_only_the_changed_documents_again(kind, engine_factory, embedder, tmp_path,
                                                                             monkeypatch):
    """An incremental run keeps at most KEPT_DOCS_MAX changed documents of a kind for the engine; past
    it the engine makes the changed ones again by id (`Corpus.make`), never every document of the kind."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    live = engine_factory(kind)()
    try:
        ingest(catalog, [SLICE])
        works = list(catalog.works())
        catalog.remove_works(w.id for w in works[-4:])
        index(catalog, live, embedder)
        ingest(catalog, [SLICE])  # four works come back

        made: Counter = Counter()
        make = aggregates._researcher_doc

        def counted(rid, *args, **kwargs):
            made[rid] += 1
            return make(rid, *args, **kwargs)

        monkeypatch.setattr(aggregates, "_researcher_doc", counted)
        monkeypatch.setattr(pipeline, "KEPT_DOCS_MAX", 1)
        second = index(catalog, live, embedder)
        assert second.incremental and second.written["researchers"] > 1
        again = {rid for rid, n in made.items() if n == 2}  # made to hash, and again for the engine
        assert len(made) == second.made["researchers"] < second.researchers / 2 and max(made.values()) == 2
        written = live.get_researchers(sorted(again))
        assert len(written) == len(again) and all(doc.works_count for doc in written)
    finally:
        catalog.close()


def test_a_topic_under_another_field_than_its_work_remakes_that_field(engine_factory, embedder, tmp_path, monkeypatch):
    """A field's document lists its topics with their counts. A new work may carry a known topic
    under another field than the topic's own (the parent most of its works give it): that field is
    not among the work's refs, yet the topic's count in its list grows, so the field must be made
    again (`aggregates._affected_topics` adds every affected topic's field)."""
    every_doc: list[dict[str, str]] = []
    changes = pipeline._changes

    def also_every_topic(catalog, engine, corpus, documents=None, made=None):
        every_doc.append({d.id: doc_hash(d) for d in corpus.topics()})
        return changes(catalog, engine, corpus, documents, made)

    monkeypatch.setattr(pipeline, "_changes", also_every_topic)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    live = engine_factory("embedded")()
    try:
        ingest(catalog, [SLICE])
        catalog.upsert_works([(w, content_hash(w), "test", i) for i, w in enumerate((A, A2, B, C))])
        index(catalog, live, embedder)
        dyes = next(t for t in live.get_works([A.id])[0].topics if t.label == "Natural dyes")
        arts = live.get_topics([dyes.parent])[0]
        assert arts.label == "Arts and Humanities" and "Natural dyes" in [t.label for t in arts.subtopics]

        elsewhere = replace(written(9, "Quantum dots as dyes", [HILDEGARD], 2023, ("Natural dyes", "Quantum error correction")),
                            topic_fields={"Natural dyes": FIELDS["Quantum error correction"],
                                          "Quantum error correction": FIELDS["Quantum error correction"]})
        catalog.upsert_works([(elsewhere, content_hash(elsewhere), "test", 0)])
        step = index(catalog, live, embedder)
        assert step.incremental, step.why_full
        refs = live.get_works([elsewhere.id])[0].topics
        assert arts.id not in {t.id for t in refs} and dyes.id in {t.id for t in refs}  # the field is the topic's, not the work's

        arts_now = live.get_topics([arts.id])[0]
        count = {t.label: t.count for t in arts_now.subtopics}
        assert count["Natural dyes"] == {t.label: t.count for t in arts.subtopics}["Natural dyes"] + 1
        assert stored_hashes(catalog, live.name)["topics"] == every_doc[-1]
    finally:
        catalog.close()
