"""Identity resolution's memory per mention (issue 14: a 1M-works build, about 3.4M mentions, once
reached 12 GB within minutes of entering identity, about 3.5 KB a mention).

A build holds every mention at once, so what each one costs is what counts: no instance dict per
record, one object for each value many mentions share (a name's tokens, an affiliation set, a work's
one-element set), no array view per mention. These tests count objects and bytes, never time."""

import tracemalloc
from collections import defaultdict

import numpy as np
import pytest

from bench.identity import real_names, synthetic
from indexer.identity import NO_IDS, Link, _Clusters, mentions_of
from indexer.sources import read_records
from indexer.vectors import VectorMatrix
from models.records import Authorship, Institution, Work
from tests.support import FIXTURES

REAL = [FIXTURES / "ml-venues.identity.jsonl.gz", FIXTURES / "ml-venues.slice.jsonl.gz"]


@pytest.fixture(scope="module")
def real_works() -> list[Work]:
    works = {p.work.id: p.work for path in REAL for p in read_records(path) if p.work is not None}
    return list(works.values())  # the two fixtures share some works


def matrix_of(works: list[Work]) -> VectorMatrix:
    """A build's vector matrix (its rows seeded, not embedded: no rule runs here)."""
    vectors = VectorMatrix([w.id for w in works], 8)
    vectors.matrix[:] = np.random.default_rng(7).standard_normal(vectors.matrix.shape)
    return vectors


def test_a_mention_and_a_link_carry_no_instance_dict(real_works):
    mention = mentions_of(real_works)[0]
    assert not hasattr(mention, "__dict__")
    assert not hasattr(Link("r", "name", 1.0), "__dict__")


def test_lone_mentions_share_what_is_equal_and_keep_no_vector_view(real_works):
    mentions = mentions_of(real_works)
    vectors = matrix_of(real_works)
    clusters = _Clusters(mentions, vectors)
    by_name, by_work, by_institutions = defaultdict(list), defaultdict(list), defaultdict(list)
    for i, m in enumerate(mentions):
        by_name[m.tokens].append(i)
        by_work[m.work_id].append(i)
        by_institutions[m.institutions].append(i)
    assert max(map(len, by_name.values())) > 1 and max(map(len, by_institutions.values())) > 1
    for group in by_name.values():
        assert len({id(mentions[i].tokens) for i in group}) == len({id(clusters.names[i]) for i in group}) == 1
    for group in by_work.values():
        assert len({id(clusters.works[i]) for i in group}) == 1
    for group in by_institutions.values():
        assert len({id(mentions[i].institutions) for i in group}) == 1
    without_ids = [i for i, m in enumerate(mentions) if not m.identifiers]
    assert without_ids and all(mentions[i].identifiers is NO_IDS and clusters.ids[i] is NO_IDS for i in without_ids)
    assert all(s is None for s in clusters.sums)  # a lone mention's sum is its work's row, read when asked for
    assert all(np.array_equal(clusters.vector_sum(i), vectors[m.work_id]) for i, m in enumerate(mentions))


def test_a_merge_copies_into_its_own_sets_and_leaves_what_lone_mentions_share_intact():
    works = [Work(id=f"W{i}", source="test", source_id=f"W{i}", title=f"Work {i}",
                  authorships=[Authorship(position=0, name="Ada Lovelace", institutions=[Institution("Analytical Society")]),
                               Authorship(position=1, name=f"Charles Babbage{'x' * i}")])
             for i in range(3)]
    mentions = mentions_of(works)
    vectors = matrix_of(works)
    clusters = _Clusters(mentions, vectors)
    ada = [i for i, m in enumerate(mentions) if m.name == "Ada Lovelace"]
    shared_name, shared_institutions = clusters.names[ada[2]], clusters.institutions[ada[2]]
    root = clusters.union(ada[0], ada[1])
    assert clusters.works[root] == {"W0", "W1"} and clusters.names[root] == {("ada", "lovelace")}
    assert clusters.names[ada[2]] is shared_name and shared_name == {("ada", "lovelace")}
    assert clusters.institutions[ada[2]] is shared_institutions and shared_institutions == {"analytical society"}
    assert clusters.works[ada[2]] == {"W2"}
    np.testing.assert_array_equal(clusters.vector_sum(root), vectors["W0"] + vectors["W1"])
    assert clusters.vector_sum(ada[2]) is not None and clusters.sums[ada[2]] is None
    assert clusters.conflict(root, ada[2]) is False and clusters.conflict(root, 1) is True  # W0's other author


def test_mentions_and_their_lone_clusters_cost_a_few_hundred_bytes_each():
    """Real author names with their real frequencies (bench.identity's corpus). Before: 1,704 bytes a
    mention (a dict per record, a list of tokens, a set per work, name and id, an array view each);
    473 since."""
    works, vectors, _ = synthetic(20_000, real_names(REAL))
    matrix = VectorMatrix(list(vectors), 8)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        mentions = mentions_of(works)
        clusters = _Clusters(mentions, matrix)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(clusters.parent) == len(mentions) >= 20_000
    assert held / len(mentions) < 700, f"{held / len(mentions):.0f} bytes a mention"
