"""Issue 14.1: topics are derived from a stream of works, never from every text held at once.

A real build (real records, the real model, real SQLite, the real embedded engine) counts the titles
and abstracts alive at any moment through the catalog's own reader. The topics below were pinned with the code that held every title and abstract (main at 084ef86):
real records of the four fixtures (ml-venues, the seed researcher, arXiv, older OpenAlex) with
their real-model vectors, so source labels, acronyms, derived clusters (halved ones included),
field names and display spellings are all reached. When a rule changes on purpose, regenerate
them: `python -m tests.test_topics_streaming` rewrites TOPIC_PINS.
"""

from __future__ import annotations

import functools
import gzip
import json
import weakref
from collections import Counter
from dataclasses import asdict

from indexer import catalog as catalog_module
from indexer import topics
from indexer.catalog import Catalog
from indexer.ingest import ingest
from indexer.pipeline import index
from indexer.sources import read_records
from indexer.topics import assign_topics
from tests.support import FIXTURES, real_embedder

PINNED = ["ml-venues.slice.jsonl.gz", "seed-researcher.openalex.jsonl", "arxiv.slice.jsonl", "openalex-old.slice.jsonl.gz"]
TOPIC_PINS = FIXTURES / "topic-pins.json.gz"
MOST_TEXTS = 16
"""The title and abstract of the few works a stage looks at (tests/test_streaming_build.py: at most 8
Work records alive at once); never the corpus's."""


class _Tracked(str):
    """A title or abstract as the catalog's reader returned it, counted while alive."""


def test_a_build_never_holds_every_title_and_abstract(engine_factory, embedder, tmp_path, monkeypatch):
    """Counted from the start of a build to the end of its topics stage (the stages after it, the
    engine's, are not this test's)."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    alive = {"now": 0, "most": 0}
    through_topics = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "topics" and done == total:
            through_topics.append(alive["most"])
    read = catalog_module.work_from_json

    def counted(text: str):
        work = read(text)
        for name in ("title", "abstract"):
            if getattr(work, name):
                tracked = _Tracked(getattr(work, name))
                setattr(work, name, tracked)
                alive["now"] += 1
                alive["most"] = max(alive["most"], alive["now"])
                weakref.finalize(tracked, lambda: alive.__setitem__("now", alive["now"] - 1))
        return work

    try:
        ingest(catalog, [FIXTURES / "ml-venues.slice.jsonl.gz"])
        catalog.remove_works([w.id for w in catalog.works()][::10])  # added back below: an incremental build
        monkeypatch.setattr(catalog_module, "work_from_json", counted)
        engine = engine_factory("embedded")()
        full = index(catalog, engine, embedder, progress=progress)
        assert not full.incremental and full.topics > 10  # derived topics and fields were named from the texts
        assert through_topics[-1] <= MOST_TEXTS, f"{through_topics[-1]} titles and abstracts of {full.works} works alive at once"

        monkeypatch.setattr(catalog_module, "work_from_json", read)
        ingest(catalog, [FIXTURES / "ml-venues.slice.jsonl.gz"])
        monkeypatch.setattr(catalog_module, "work_from_json", counted)
        alive["most"] = 0
        again = index(catalog, engine, embedder, progress=progress)
        assert again.incremental and again.works > full.works and len(through_topics) == 2
        assert through_topics[-1] <= MOST_TEXTS, f"{through_topics[-1]} titles and abstracts of {again.works} works alive at once"
    finally:
        catalog.close()


@functools.lru_cache(maxsize=1)
def pinned_records() -> tuple[list, dict]:
    """The pinned records and their real-model vectors."""
    works = [p.work for name in PINNED for p in read_records(FIXTURES / name) if p.work]
    return works, dict(zip([w.id for w in works], real_embedder().embed([w.embedding_text() for w in works])))


def assigned_now() -> dict:
    """What the current code assigns to the pinned records: every work's refs and every topic's origin."""
    work_topics, origin = assign_topics(*pinned_records())
    return {"topics": {wid: [asdict(ref) for ref in refs] for wid, refs in work_topics.items()}, "origin": origin}


def test_real_records_get_exactly_the_pinned_topics():
    now, pins = assigned_now(), json.loads(gzip.decompress(TOPIC_PINS.read_bytes()))
    assert now["origin"] == pins["origin"]
    assert now["topics"] == pins["topics"]
    # the pins reach derived topics and fields, not only the sources' labels
    assert {"derived", "source"} <= set(pins["origin"].values())
    assert any(ref["level"] == "field" and pins["origin"][ref["id"]] == "derived" for refs in pins["topics"].values() for ref in refs)


def test_each_text_is_split_into_phrases_at_most_twice(monkeypatch):
    """Splitting titles and abstracts into candidate phrases was most of the stage's time at 100k works,
    done three times and more (hashed count, vocabulary, per-cluster counts, halved clusters, field
    naming). Now twice: the vocabulary pass keeps each text's phrase ids for everything after it."""
    works, vectors = pinned_records()
    splits: Counter = Counter()
    split = topics.candidate_phrases

    def counted(text: str) -> list[str]:
        splits[text] += 1
        return split(text)

    monkeypatch.setattr(topics, "candidate_phrases", counted)
    _, origin = assign_topics(works, vectors)
    assert "derived" in origin.values()  # clusters were named, fields too: every pass ran
    texts = Counter(topics._text(w) for w in works if w.id in vectors)
    assert set(splits) == set(texts)
    assert max(splits[text] / texts[text] for text in texts) <= 2


if __name__ == "__main__":
    TOPIC_PINS.write_bytes(gzip.compress(json.dumps(assigned_now(), sort_keys=True).encode(), mtime=0))
