"""Issue 14.1: a build streams the works from the catalog; no stage holds every Work record.

Real records, the real model, real SQLite and the real embedded engine: the catalog's own reader
(`indexer.catalog.work_from_json`, every Work a build sees comes from it) is wrapped to count the
Work records alive at any moment, through a full build and an incremental one.
"""

from __future__ import annotations

import weakref

from indexer import catalog as catalog_module
from indexer.catalog import Catalog
from indexer.ingest import ingest
from indexer.pipeline import index
from tests.support import FIXTURES

SLICE = FIXTURES / "openalex-old.slice.jsonl.gz"
MOST_ALIVE = 8
"""A handful: the work each stage looks at, and those suspended passes hold; never the corpus."""


def test_a_build_never_holds_every_work_record(engine_factory, embedder, tmp_path, monkeypatch):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    alive = {"now": 0, "most": 0}
    read = catalog_module.work_from_json

    def counted(text: str):
        work = read(text)
        alive["now"] += 1
        alive["most"] = max(alive["most"], alive["now"])
        weakref.finalize(work, lambda: alive.__setitem__("now", alive["now"] - 1))
        return work

    try:
        ingest(catalog, [SLICE])
        catalog.remove_works([w.id for w in catalog.works()][::10])  # added back below: an incremental build
        monkeypatch.setattr(catalog_module, "work_from_json", counted)
        engine = engine_factory("embedded")()
        said = []
        full = index(catalog, engine, embedder, progress=lambda *stage: said.append(stage))
        assert full.works == catalog.count_works() > 4 * MOST_ALIVE and not full.incremental
        embedding = [stage for stage in said if stage[0] == "embed"]  # a second pass over the works embeds
        assert embedding[0] == ("embed", 0, full.embedded) and embedding[-1] == ("embed", full.embedded, full.embedded)
        assert full.embedded == full.works  # a fresh catalog: no vector was cached
        assert alive["most"] <= MOST_ALIVE, f"{alive['most']} of {full.works} Work records alive at once"

        monkeypatch.setattr(catalog_module, "work_from_json", read)
        ingest(catalog, [SLICE])
        monkeypatch.setattr(catalog_module, "work_from_json", counted)
        alive["most"] = 0
        again = index(catalog, engine, embedder)
        assert again.incremental and again.works == catalog.count_works() > full.works
        assert alive["most"] <= MOST_ALIVE, f"{alive['most']} of {again.works} Work records alive at once"
        assert engine.info().counts["works"] == again.works
    finally:
        catalog.close()


def test_the_work_stream_keeps_the_catalog_as_the_build_found_it(tmp_path):
    """Every pass of a build reads the same works, whatever an ingest writes meanwhile."""
    from dataclasses import replace

    from indexer.catalog import content_hash
    from indexer.pipeline import WorkStream

    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        ingest(catalog, [SLICE])
        works = WorkStream(catalog.path)
        try:
            first = [(w.id, w.title) for w in works]
            some = catalog.work(first[0][0])
            renamed = replace(some, title="A title written while the build ran")
            added = replace(some, id="W-new", source_id="W-new")
            catalog.upsert_works([(w, content_hash(w), "later.jsonl", 1) for w in (renamed, added)])
            catalog.remove_works([first[1][0]])
            assert [(w.id, w.title) for w in works] == first and works.count == len(first)
        finally:
            works.close()
        assert catalog.count_works() == len(first)  # one work added, one removed
        assert catalog.work(first[0][0]).title == renamed.title
