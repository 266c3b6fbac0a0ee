"""Identity resolution made faster must resolve exactly as before.

The clusters below were pinned with the code before the speed-up (main at 7e2f2b1, blocks in a
fixed order): real ml-venues records (tests/fixtures, with their source ids and with them hidden)
and `bench.identity`'s synthetic corpus drawn from the fixtures' real author names, whose large name
blocks, common-name collisions and rare names carried by many clusters reach the paths a small
corpus never does (the centroid neighbour cut, the rare-name pairs, several passes). When a rule
changes on purpose, regenerate the pins with the code paths this test guards set back to the
plain ones (all-pairs rare names, no skipped pairs): `python -m tests.test_identity_scale` rewrites
IDENTITY_PINS.
"""

import gzip
import json
import os
import subprocess
import sys
import tracemalloc
from collections import Counter
from itertools import combinations, product
from pathlib import Path
from string import ascii_lowercase

import pytest

from bench.identity import clusters, digest, real_names, synthetic
from evaluation.identity import hide_identifiers
from indexer.identity import NameFrequency, _Clusters, _candidate_pairs, mentions_of, resolve
from indexer.sources import read_records
from models.records import Authorship, Institution, Work
from tests.support import FIXTURES, real_embedder

REAL = [FIXTURES / "ml-venues.identity.jsonl.gz", FIXTURES / "ml-venues.slice.jsonl.gz"]
IDENTITY_PINS = FIXTURES / "identity-pins.json.gz"
SYNTHETIC_MENTIONS = 20_000


def conflicts(resolution) -> list[list[str]]:
    return sorted([c.kind, c.value, c.mention_key] for c in resolution.conflicts)


def real_works_and_vectors():
    works = [p.work for path in REAL for p in read_records(path) if p.work is not None]
    embedded = real_embedder().embed([w.embedding_text() for w in works])
    return works, {w.id: v for w, v in zip(works, embedded)}


def resolved_now() -> dict:
    """What the current code resolves on the pinned inputs."""
    works, vectors = real_works_and_vectors()
    with_ids, hidden = resolve(works, vectors), resolve(hide_identifiers(works), vectors)
    fake_works, fake_vectors, _ = synthetic(SYNTHETIC_MENTIONS, real_names(REAL))
    fake = resolve(fake_works, fake_vectors)
    return {
        "real_with_ids": {"clusters": clusters(with_ids), "conflicts": conflicts(with_ids)},
        "real_ids_hidden": {"clusters": clusters(hidden)},
        "synthetic": {"researchers": len(fake.members), "sha256": digest(clusters(fake))},
    }


@pytest.fixture(scope="module")
def now():
    return resolved_now()


def pinned() -> dict:
    return json.loads(gzip.decompress(IDENTITY_PINS.read_bytes()))


def methods(resolution_clusters) -> Counter:
    return Counter(method for _, members in resolution_clusters for _, method, _ in members)


def test_real_records_resolve_exactly_as_pinned(now):
    pins = pinned()
    assert now["real_with_ids"] == pins["real_with_ids"]
    assert now["real_ids_hidden"] == pins["real_ids_hidden"]
    # the pinned records exercise every rule: ids (and their conflicts) and each kind of name evidence
    used = methods(pins["real_with_ids"]["clusters"]) + methods(pins["real_ids_hidden"]["clusters"])
    for rule in ("orcid", "openreview", "name+coauthor", "name+affiliation", "name+topic", "rare-name+topic",
                 "short-form+coauthor"):
        assert used[rule], rule
    assert pins["real_with_ids"]["conflicts"]


def test_a_synthetic_corpus_with_large_name_blocks_resolves_exactly_as_pinned(now):
    assert now["synthetic"] == pinned()["synthetic"]


def test_resolution_does_not_depend_on_the_hash_seed():
    """Blocks once came in the order of a set of strings, so two processes could resolve one
    corpus differently (6,116 vs 6,090 researchers on this corpus)."""
    script = (
        "from tests.test_identity_scale import *; "
        "w, v, _ = synthetic(SYNTHETIC_MENTIONS, real_names(REAL)); print(digest(clusters(resolve(w, v))))"
    )
    root = Path(__file__).resolve().parents[1]
    outputs = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root,
                       env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1 and len(next(iter(outputs)).strip()) == 64


def test_a_hyperauthored_work_costs_memory_in_proportion_to_its_authors():
    """Every mention once kept its own set of the other authors' keys (and its cluster a copy), so a
    work with n authors cost n^2 keys: 2,000 authors peaked at 399 MB (199 KB an author), an arXiv
    work with 2,831 at 748 MB. Now a work's keys are held once; the bound leaves a wide margin over
    the 2 KB an author measured."""
    names = [name for name, _ in real_names(REAL).most_common(2000)]
    assert len(names) == 2000
    work = Work(id="W1", source="test", source_id="W1", title="Observation of a new particle with 2,000 authors",
                authorships=[Authorship(position=i, name=name) for i, name in enumerate(names)])
    vectors = {work.id: real_embedder().embed([work.embedding_text()])[0]}
    tracemalloc.start()
    try:
        resolution = resolve([work], vectors)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(resolution.members) == 2000  # rule 3: authors of one work are different people
    assert peak < 10_000 * len(names), f"{peak / len(names):.0f} bytes an author"


def test_a_large_shared_affiliation_pairs_only_clusters_whose_names_can_fit():
    """152 "Y... Wang"s of one name block at one institution: 150 different given names, one of them
    twice, and one "Y. Wang". Every pair of them was a candidate (11,476, quadratic in the
    institution's size); only the namesakes and the initial with each can ever be joined."""
    given = ["y" + "".join(letters) for letters in product(ascii_lowercase, repeat=2)][:150]
    names = [f"{g.title()} Wang" for g in given] + [f"{given[0].title()} Wang", "Y. Wang"]
    works = [Work(id=f"W{i}", source="test", source_id=f"W{i}", title=f"Work {i}",
                  authorships=[Authorship(position=0, name=name, institutions=[Institution("Google")])])
             for i, name in enumerate(names)]
    mentions = mentions_of(works)
    clusters = _Clusters(mentions, {})
    roots = list(range(len(mentions)))
    candidates = _candidate_pairs(clusters, roots, NameFrequency(mentions))
    fitting = {(a, b) for a, b in combinations(roots, 2) if clusters.names_fit(a, b)}
    assert fitting <= candidates.keys()
    assert len(candidates) == len(fitting) == 1 + 151


def test_a_hyperauthored_work_fits_its_block_names_once_not_once_per_coauthor(monkeypatch):
    """A work with 20 "S. H..." authors (one name block, "s|h", through the family-first reading) and
    30 other authors: each of the 50 co-author keys gives a large group of the block (the 20, or the
    19 others of an inside author). Names are fitted once over the groups' members, not once per
    group (at 1M recombined works, copies of large collaborations made this cubic in their authors)."""
    import indexer.identity as identity

    inside = [f"S. H{vowel}{consonant}" for vowel, consonant in product("aeiou", "klmn")]
    outside = [f"{given} {family}" for given, family in product(("Ada", "Bo", "Cy", "Di", "Ed", "Flo"), ("Ek", "Ot", "Ru", "Ul", "Ib"))]
    work = Work(id="W1", source="test", source_id="W1", title="A large collaboration",
                authorships=[Authorship(position=i, name=name) for i, name in enumerate(inside + outside)])
    mentions = mentions_of([work])
    clusters = _Clusters(mentions, {})
    block = [i for i, m in enumerate(mentions) if m.name in inside]
    searched: list[tuple[int, ...]] = []
    search = identity._name_fitting_pairs
    monkeypatch.setattr(identity, "_name_fitting_pairs", lambda c, group: searched.append(tuple(group)) or search(c, group))
    candidates = _candidate_pairs(clusters, block, NameFrequency(mentions))
    assert searched == [tuple(block)]
    assert candidates.keys() == {(a, b) for a, b in combinations(block, 2) if clusters.names_fit(a, b)}


def test_a_group_that_many_coauthor_keys_share_is_paired_once(monkeypatch):
    """Four copies of a 300-author work (the 1M benchmark recombines real works) put its three "Y...
    Wang"s in one block twelve times. Under each of the 297 other authors' keys they form the same
    group of twelve, and under each Wang's own key the eight others: the pairs are made once per
    distinct group (66 + 3 x 28), not once per key (297 x 66 + 3 x 28 = 19,686 at 1M works' scale)."""
    import indexer.identity as identity

    wangs = ["Yi Wang", "Yu Wang", "Yan Wang"]
    names = wangs + [f"{given} {family}" for given, family in product(
        ("Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lu", "Mo", "Ned", "Oz"),
        [f"K{a}{b}" for a, b in product("aeiou", "lmnprst")][:20])][:297]
    works = [Work(id=f"W{c}", source="test", source_id=f"W{c}", title="A large collaboration",
                  authorships=[Authorship(position=i, name=name) for i, name in enumerate(names)]) for c in range(4)]
    mentions = mentions_of(works)
    clusters = _Clusters(mentions, {})
    block = [i for i, m in enumerate(mentions) if m.name in wangs]
    made = Counter()
    pairs = identity.combinations

    def counted(group, k):
        made["pairs"] += len(group) * (len(group) - 1) // 2
        return pairs(group, k)

    monkeypatch.setattr(identity, "combinations", counted)
    candidates = _candidate_pairs(clusters, block, NameFrequency(mentions))
    assert len(block) == 12 and candidates.keys() == set(combinations(block, 2))
    assert made["pairs"] == 66 + 3 * 28


if __name__ == "__main__":
    IDENTITY_PINS.write_bytes(gzip.compress(json.dumps(resolved_now(), sort_keys=True).encode(), mtime=0))
