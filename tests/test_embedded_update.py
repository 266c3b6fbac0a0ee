"""The embedded engine's next version made from the previous one (`EmbeddedEngine.update`): the
live version's files are copied and only the changed documents are written; everything else keeps
its row and bytes, the result equals a full build of the same corpus, and a failure leaves the live
version serving. Real records (the OpenAlex fixture slice), the real model, real SQLite.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from indexer import pipeline
from indexer.catalog import Catalog, content_hash
from indexer.ingest import ingest
from indexer.pipeline import build_corpus, index
from search import ann, embedded
from search.interface import Changes, Corpus, WorkFilters
from tests.support import FIXTURES
from tests.test_researcher_ann import ivf_rows, matrix_rows

SLICE = FIXTURES / "openalex-old.slice.jsonl.gz"


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path / 'index.sqlite'}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def tables(path: Path) -> dict[str, list[tuple]]:
    """Every table an update edits, keyed by document id rather than rowid (rows differ from a build's)."""
    return {
        "term_docs": sorted(rows(path, "SELECT term, docs FROM term_docs")),
        "spelling_words": sorted(rows(path, "SELECT word, works FROM spelling_words")),
        "works": sorted(rows(path, "SELECT w.id, w.year, w.type, w.venue, w.cited_by_count, t.title, t.abstract, t.authors, "
                                   "t.keywords, t.topics, t.doc FROM works w JOIN work_texts t ON t.rowid = w.rowid")),
        "work_topics": sorted(rows(path, "SELECT w.id, t.topic FROM work_topics t JOIN works w ON w.rowid = t.work")),
        "work_authors": sorted(rows(path, "SELECT w.id, a.researcher FROM work_authors a JOIN works w ON w.rowid = a.work")),
        "researchers": sorted(rows(path, "SELECT id, name, first_year, last_year, doc FROM researchers")),
        "researcher_ids": sorted(rows(path, "SELECT kind, value, researcher FROM researcher_ids")),
        "institutions": sorted(rows(path, "SELECT r.id, i.name FROM researcher_institutions i JOIN researchers r ON r.rowid = i.researcher")),
        "name_keys": sorted(rows(path, "SELECT key, researcher FROM name_keys")),
        "names": sorted(rows(path, "SELECT form, researcher FROM names")),
        "topics": sorted(rows(path, "SELECT id, label, description, doc FROM topics")),
    }


def vectors(path: Path, kind: str) -> dict[str, bytes]:
    matrix = np.load(path / f"{kind}.npy")
    return {i: matrix[r].tobytes() for i, r in rows(path, f"SELECT id, rowid FROM {kind}")}


@pytest.mark.parametrize("kept_max", [pipeline.KEPT_DOCS_MAX, 0], ids=["docs-kept", "docs-made-again"])
def test_an_update_copies_the_live_version_and_writes_only_the_changed_documents(kept_max, engine_factory, embedder, tmp_path, monkeypatch):
    """Whether the engine gets the changed documents from the indexer or makes them again (a change
    over `KEPT_DOCS_MAX`), it writes the same version."""
    monkeypatch.setattr(pipeline, "KEPT_DOCS_MAX", kept_max)
    monkeypatch.setattr(embedded, "TERM_DOCS_FLOOR", 2)  # so that term_docs holds terms at this size
    monkeypatch.setattr(ann, "ANN_MIN_ROWS", 200)  # so that versions hold a researcher IVF index
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        ingest(catalog, [SLICE])
        works = list(catalog.works())
        held_out = works[::10][:4]
        catalog.remove_works(w.id for w in held_out)
        live = engine_factory("embedded")()
        first = index(catalog, live, embedder)
        before = Path(first.info.meta["path"])
        before_rows = {kind: dict(rows(before, f"SELECT id, rowid FROM {kind}")) for kind in ("works", "researchers", "topics")}
        before_texts = dict((r[0], r[1:]) for r in rows(before, "SELECT w.id, t.* FROM works w JOIN work_texts t ON t.rowid = w.rowid"))
        before_vectors = vectors(before, "works")

        ingest(catalog, [SLICE])  # four works come back
        kept = [w for w in works if w not in held_out]
        changed = replace(kept[2], title="Luminescent lanthanide frameworks for oxygen sensing")
        catalog.upsert_works([(changed, content_hash(changed), "edit", 1)])
        catalog.remove_works([kept[7].id])
        seen: list[Changes] = []
        update = live.update
        monkeypatch.setattr(live, "update", lambda base, corpus, changes, progress=None: seen.append(changes) or update(base, corpus, changes, progress))
        second = index(catalog, live, embedder)
        assert second.incremental and len(seen) == 1
        changes, after = seen[0], Path(second.info.meta["path"])
        assert {kind: set(docs) for kind, docs in changes.docs.items()} == (
            {kind: ids for kind, ids in changes.changed.items() if ids} if kept_max else {})

        assert (before / ann.FILE).exists() and ivf_rows(after) == matrix_rows(after) != matrix_rows(before)
        applied = second.info.meta["applied"]  # what the engine wrote into the copy: the change, nothing more
        for kind in ("works", "researchers", "topics"):
            assert applied[kind]["changed"] + applied[kind]["removed"] == second.written[kind]
        assert applied["works"] == {"changed": 5, "removed": 1, "moved": 0}  # 4 added fill the freed row and 3 new ones

        touched = changes.changed["works"] | changes.removed["works"]
        untouched = set(before_rows["works"]) - touched
        assert len(untouched) == len(before_rows["works"]) - 2
        after_rows = dict(rows(after, "SELECT id, rowid FROM works"))
        after_texts = dict((r[0], r[1:]) for r in rows(after, "SELECT w.id, t.* FROM works w JOIN work_texts t ON t.rowid = w.rowid"))
        after_vectors = vectors(after, "works")
        for wid in untouched:  # carried over: same row, same stored bytes, same vector row
            assert after_rows[wid] == before_rows["works"][wid]
            assert after_texts[wid] == before_texts[wid]
            assert after_vectors[wid] == before_vectors[wid]
        assert sorted(after_rows.values()) == list(range(len(after_rows)))  # rows stay dense
        for kind in ("researchers", "topics"):
            now = dict(rows(after, f"SELECT id, rowid FROM {kind}"))
            assert sorted(now.values()) == list(range(len(now)))
            kept_rows = set(before_rows[kind]) - changes.changed[kind] - changes.removed[kind]
            assert sum(now.get(i) == before_rows[kind][i] for i in kept_rows) >= len(kept_rows) - applied[kind]["moved"]

        conn = sqlite3.connect(after / "index.sqlite")
        try:  # FTS5 was told every deleted text: its index agrees with its content
            for table in ("works_fts", "topics_fts", "names"):
                conn.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
        finally:
            conn.close()

        full = index(catalog, rebuilt := engine_factory("embedded")(), embedder, full=True)
        built = Path(full.info.meta["path"])
        assert tables(after) == tables(built)
        assert tables(after)["term_docs"], "the floor should let term_docs hold terms, or this compares nothing"
        for kind in ("works", "researchers", "topics"):
            assert vectors(after, kind) == vectors(built, kind)
        for query in ("crystal structure", "copper complexes oxygen", ""):
            assert live.work_facets(query, [], WorkFilters(), all_works=not query) == rebuilt.work_facets(
                query, [], WorkFilters(), all_works=not query)
        assert live.work_facets("complexes", [], WorkFilters(year_from=2000)) == rebuilt.work_facets(
            "complexes", [], WorkFilters(year_from=2000))
        assert live.keyword_works("crystal structure copper", WorkFilters(), 20) == rebuilt.keyword_works(
            "crystal structure copper", WorkFilters(), 20)
    finally:
        catalog.close()


def test_more_removed_than_added_moves_the_last_rows_into_the_holes(engine_factory, embedder, tmp_path, monkeypatch):
    monkeypatch.setattr(ann, "ANN_MIN_ROWS", 200)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        ingest(catalog, [SLICE])
        live = engine_factory("embedded")()
        index(catalog, live, embedder)
        works = list(catalog.works())
        catalog.remove_works(w.id for w in works[:3])
        second = index(catalog, live, embedder)
        assert second.incremental and second.info.meta["applied"]["works"] == {"changed": 0, "removed": 3, "moved": 3}
        after = Path(second.info.meta["path"])
        assert sorted(r for _, r in rows(after, "SELECT id, rowid FROM works")) == list(range(len(works) - 3))
        assert second.info.meta["applied"]["researchers"]["removed"] and ivf_rows(after) == matrix_rows(after)
        full = index(catalog, engine_factory("embedded")(), embedder, full=True)
        assert tables(after) == tables(Path(full.info.meta["path"]))
        assert vectors(after, "works") == vectors(Path(full.info.meta["path"]), "works")
    finally:
        catalog.close()


def test_a_failed_update_leaves_the_live_version_serving(engine_factory, embedder, tmp_path):
    """A document that cannot be written (its vector has the wrong size) fails the update after the
    copy was made and partly changed: the copy is removed and the live version still answers."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        ingest(catalog, [SLICE])
        live = engine_factory("embedded")()
        first = index(catalog, live, embedder)
        answer = live.keyword_works("crystal structure", WorkFilters(), 10)
        corpus, _ = build_corpus(catalog, embedder)
        docs = list(corpus.works())
        broken = replace(docs[-1], vector=np.ones(7, dtype=np.float32))
        bad = Corpus(lambda: iter([*docs[:-1], broken]), corpus.researchers, corpus.topics, corpus.counts,
                     corpus.model, corpus.dimension, corpus.meta)
        changes = Changes({"works": {docs[0].id, broken.id}, "researchers": set(), "topics": set()},
                          {"works": set(), "researchers": set(), "topics": set()})
        with pytest.raises(ValueError, match=f"work {broken.id}: vector has 7 dimensions"):
            live.update(first.info.version, bad, changes)
        assert live.info().version == first.info.version
        assert sorted(p.name for p in live.index_dir.iterdir() if p.name.startswith("v")) == [f"v{first.info.version}"]
        assert live.keyword_works("crystal structure", WorkFilters(), 10) == answer
    finally:
        catalog.close()
