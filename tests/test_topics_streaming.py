"""Issue 14.1: topics are derived from a stream of works, never from every text held at once.

The topics below were pinned with the code that held every title and abstract (main at 084ef86):
real records of the four fixtures (ml-venues, the seed researcher, arXiv, older OpenAlex) with
their real-model vectors, so source labels, acronyms, derived clusters (halved ones included),
field names and display spellings are all reached. When a rule changes on purpose, regenerate
them: `python -m tests.test_topics_streaming` rewrites TOPIC_PINS.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict

from indexer.sources import read_records
from indexer.topics import assign_topics
from tests.support import FIXTURES, real_embedder

PINNED = ["ml-venues.slice.jsonl.gz", "seed-researcher.openalex.jsonl", "arxiv.slice.jsonl", "openalex-old.slice.jsonl.gz"]
TOPIC_PINS = FIXTURES / "topic-pins.json.gz"


def assigned_now() -> dict:
    """What the current code assigns to the pinned records: every work's refs and every topic's origin."""
    works = [p.work for name in PINNED for p in read_records(FIXTURES / name) if p.work]
    vectors = dict(zip([w.id for w in works], real_embedder().embed([w.embedding_text() for w in works])))
    work_topics, origin = assign_topics(works, vectors)
    return {"topics": {wid: [asdict(ref) for ref in refs] for wid, refs in work_topics.items()}, "origin": origin}


def test_real_records_get_exactly_the_pinned_topics():
    now, pins = assigned_now(), json.loads(gzip.decompress(TOPIC_PINS.read_bytes()))
    assert now["origin"] == pins["origin"]
    assert now["topics"] == pins["topics"]
    # the pins reach derived topics and fields, not only the sources' labels
    assert {"derived", "source"} <= set(pins["origin"].values())
    assert any(ref["level"] == "field" and pins["origin"][ref["id"]] == "derived" for refs in pins["topics"].values() for ref in refs)


if __name__ == "__main__":
    TOPIC_PINS.write_bytes(gzip.compress(json.dumps(assigned_now(), sort_keys=True).encode(), mtime=0))
