"""Issue 14.1, topics at scale: a work meets a bounded number of topic centroids, whatever the corpus's size.

Topics grow with the corpus (a fine cluster per WORKS_PER_TOPIC works), so comparing every work with
every topic's centroid grew with its square: 70% of the 1M build's topics stage. Only works with
fewer than MIN_SOURCE_TOPICS source topics are compared, each with CANDIDATE_TOPICS candidates. The
pinned records (real records, real-model vectors) have fewer topics than CANDIDATE_TOPICS, so the
bound is lowered here to make it bite.
"""

from __future__ import annotations

import numpy as np

from indexer import topics
from indexer.topics import MIN_SOURCE_TOPICS, assign_topics, label_key
from tests.test_topics_streaming import pinned_records

BOUND = 8


def test_a_work_needing_derived_topics_meets_a_bounded_set_of_centroids(monkeypatch):
    works, vectors = pinned_records()
    every, _ = assign_topics(works, vectors)
    met: list[tuple[list[int], set[int], set[int], int]] = []  # rows, candidates, brute-force candidates, topics
    compared = topics._candidate_topics

    def watched(matrix, groups, rows, centroids, floors):
        for part, candidates, sims in compared(matrix, groups, rows, centroids, floors):
            centroid = matrix[groups == groups[part[0]]].sum(axis=0)
            margins = centroids @ (centroid / np.linalg.norm(centroid)) - floors
            met.append((part.tolist(), set(candidates.tolist()), set(np.argsort(-margins)[:BOUND].tolist()), len(centroids)))
            assert np.allclose(sims, matrix[part] @ centroids[candidates].T)
            yield part, candidates, sims

    monkeypatch.setattr(topics, "CANDIDATE_TOPICS", BOUND)
    monkeypatch.setattr(topics, "_candidate_topics", watched)
    bounded, _ = assign_topics(works, vectors)

    assert met and all(n > 2 * BOUND for *_, n in met)  # the bound bites
    assert all(len(candidates) == BOUND and candidates == brute for _, candidates, brute, _ in met)
    embedded = sorted(w.id for w in works if w.id in vectors)
    scored = {embedded[row] for rows, *_ in met for row in rows}
    labelled = {w.id for w in works if w.id in vectors and len({label_key(x) for x in w.source_topics + w.keywords}) >= MIN_SOURCE_TOPICS}
    assert scored and not scored & labelled  # works with enough source topics never meet a centroid
    assert all(bounded[w] == every[w] for w in labelled)
    same = sum(bounded[w] == every[w] for w in scored)
    assert same >= 0.8 * len(scored), f"{same} of {len(scored)} works get the topics every centroid gives"



def test_no_work_to_compare_asks_for_no_candidates(monkeypatch):
    """Past CANDIDATE_TOPICS topics, a corpus whose works all have enough source topics once asked for
    the candidates of an empty fine cluster (IndexError)."""
    works, vectors = pinned_records()
    matrix = np.stack([vectors[w.id] for w in works if w.id in vectors])
    monkeypatch.setattr(topics, "CANDIDATE_TOPICS", BOUND)
    centroids = matrix[: 3 * BOUND]
    groups = np.arange(len(matrix)) % 20
    assert list(topics._candidate_topics(matrix, groups, np.array([], dtype=int), centroids, np.zeros(len(centroids)))) == []
    (part, candidates, sims), = topics._candidate_topics(matrix, groups, np.array([0, 20]), centroids, np.zeros(len(centroids)))
    assert part.tolist() == [0, 20] and len(candidates) == BOUND and sims.shape == (2, BOUND)


def test_past_flat_clusters_max_fine_clusters_are_found_within_coarse_ones(monkeypatch):
    """At 1M works one k-means over all 40,000 fine clusters took an hour: each work met every centre.
    Nested, a work meets about 2 sqrt(k) centres, and the clusters fit the works about as well. The
    pinned records are few, so the clusters are made smaller to have many."""
    works, vectors = pinned_records()
    matrix = np.stack([vectors[w.id] for w in works if w.id in vectors]).astype(np.float32)
    monkeypatch.setattr(topics, "WORKS_PER_TOPIC", 5)
    flat = topics._cluster(matrix)
    k = len(flat.centroids)
    met: list[int] = []  # rows x centres of each k-means
    fitted = topics._kmeans

    def counted(rows: np.ndarray, clusters: int):
        met.append(len(rows) * clusters)
        return fitted(rows, clusters)

    monkeypatch.setattr(topics, "FLAT_CLUSTERS_MAX", 1)
    monkeypatch.setattr(topics, "_kmeans", counted)
    nested = topics._cluster(matrix)
    again = topics._cluster(matrix)

    assert k > 50 and abs(len(nested.centroids) - k) <= np.sqrt(k)
    assert sum(met) / 2 <= 3 * np.sqrt(k) * len(matrix), f"{sum(met) / 2 / len(matrix):.0f} centres a work, k = {k}"
    assert np.array_equal(nested.fine, again.fine) and np.array_equal(nested.centroids, again.centroids)
    assert nested.fine.min() >= 0 and nested.fine.max() < len(nested.centroids)
    assert len(nested.coarse_of) == len(nested.centroids)

    def fit(clusters) -> float:  # mean cosine of a work with its cluster's centroid
        return float(np.mean(np.sum(matrix * clusters.centroids[clusters.fine], axis=1)))

    assert fit(nested) >= fit(flat) - 0.02, (fit(nested), fit(flat))
