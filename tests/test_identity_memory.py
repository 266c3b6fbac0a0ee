"""Identity resolution's memory per mention (issue 14: a 1M-works build, about 3.4M mentions, once
reached 12 GB within minutes of entering identity, about 3.5 KB a mention).

A build holds every mention at once, so what each one costs is what counts: no instance dict per
record, one object for each value many mentions share (a name's tokens, an affiliation set, a work's
one-element set), no array view per mention. These tests count objects and bytes, never time."""

import gc
import tracemalloc
from collections import defaultdict
from itertools import product

import numpy as np
import pytest

from bench.identity import real_names, synthetic
from indexer.identity import NO_IDS, Link, _Clusters, mentions_of, resolve
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


def resolve_traced(works: list[Work]) -> tuple[object, float, float]:
    """`resolve` without vectors under tracemalloc: the Resolution, and the bytes a mention it holds at
    resolve's peak and once it returned."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        resolution = resolve(works, {})
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return resolution, (peak - before) / len(resolution.links), (held - before) / len(resolution.links)


def test_a_merged_cluster_lets_its_evidence_go_once_its_last_name_block_is_done():
    """Ten copies of a 600-author work (the 1M benchmark copies its two 2,831-author works about 33
    times each): each author's ten mentions merge, and each merged cluster's co-author set holds the
    other 599 keys. They were kept until every block was done: 3,886 bytes a mention at the peak
    (most of identity's 10.5 GB at 1M works), 638 since."""
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po"]
    families = ["".join(p).title() for p in product(syllables, repeat=3)][:600]
    givens = ["".join(p).title() + "n" * (i // 100) for i, p in enumerate(list(product(syllables[::-1], repeat=2)) * 6)]
    works = [Work(id=f"W{c}", source="test", source_id=f"W{c}", title=f"Team paper {c}",
                  authorships=[Authorship(position=i, name=f"{g} {f}") for i, (g, f) in enumerate(zip(givens, families))])
             for c in range(10)]
    resolution, peak, _ = resolve_traced(works)
    assert len(resolution.members) == 600 and all(len(members) == 10 for members in resolution.members.values())
    assert peak < 1500, f"{peak:.0f} bytes a mention at the peak"


def test_the_resolution_keeps_only_what_the_later_stages_read(real_works):
    """The aggregates read a mention's key, work, name and ids: its name tokens, affiliation keys and
    its work's co-author set go with identity, and a researcher's mentions are a tuple. What the
    Resolution holds fell from 809 to 444 bytes a mention on the fixtures."""
    resolution, _, held = resolve_traced(real_works)
    members = next(iter(resolution.members.values()))
    assert type(members) is tuple and not hasattr(members[0], "tokens") and not hasattr(members[0], "authors")
    assert held < 600, f"{held:.0f} bytes a mention held"
