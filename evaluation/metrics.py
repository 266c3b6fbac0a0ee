"""Ranking metrics as pure functions: a ranked list of ids in, one number in [0, 1] out.

Conventions (those of trec_eval, so numbers compare with published CACM/TREC runs):
* `ranking` is best first; an id repeated later in the list is dropped before ranks are counted
  (it counts once, at its first position, and the ids after it move up).
* `qrels` maps id -> graded relevance; ids with grade <= 0 or absent are not relevant.
* nDCG uses linear gain `rel / log2(rank + 1)` and the ideal ordering of *all* judged-relevant
  ids, so relevant documents that were never retrieved still lower the score.
* AP (and so MAP) divides by the number of relevant ids, retrieved or not; with a cut-off `k`
  only the first `k` ranks can contribute.
* A query without any relevant id scores 0 on every metric; callers usually skip such queries.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

Qrels = Mapping[str, int]


def _unique(ranking: Iterable[str], k: int | None = None) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for doc in ranking:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
            if k is not None and len(out) >= k:
                break
    return out


def relevant_set(qrels: Qrels | Iterable[str]) -> set[str]:
    """The relevant ids of a qrels mapping (grade > 0), or of a plain collection of ids."""
    if isinstance(qrels, Mapping):
        return {doc for doc, grade in qrels.items() if grade > 0}
    return set(qrels)


def _grades(qrels: Qrels | Iterable[str]) -> dict[str, int]:
    if isinstance(qrels, Mapping):
        return {doc: int(grade) for doc, grade in qrels.items() if grade > 0}
    return {doc: 1 for doc in qrels}


def dcg_at_k(ranking: Sequence[str], qrels: Qrels | Iterable[str], k: int = 10) -> float:
    grades = _grades(qrels)
    return sum(grades.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(_unique(ranking, k), start=1))


def ndcg_at_k(ranking: Sequence[str], qrels: Qrels | Iterable[str], k: int = 10) -> float:
    """DCG@k over the ideal DCG@k of the judged grades; 0 when nothing is relevant."""
    if k <= 0:
        raise ValueError("k must be positive")
    grades = _grades(qrels)
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg_at_k(ranking, grades, k) / idcg if idcg else 0.0


def average_precision(ranking: Sequence[str], qrels: Qrels | Iterable[str], k: int | None = None) -> float:
    """Mean over relevant ids of the precision at the rank each is retrieved (0 for the missed)."""
    relevant = relevant_set(qrels)
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for rank, doc in enumerate(_unique(ranking, k), start=1):
        if doc in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


def recall_at_k(ranking: Sequence[str], qrels: Qrels | Iterable[str], k: int) -> float:
    """Share of the relevant ids found in the first k ranks."""
    if k <= 0:
        raise ValueError("k must be positive")
    relevant = relevant_set(qrels)
    if not relevant:
        return 0.0
    return len(relevant.intersection(_unique(ranking, k))) / len(relevant)


def precision_at_k(ranking: Sequence[str], qrels: Qrels | Iterable[str], k: int) -> float:
    if k <= 0:
        raise ValueError("k must be positive")
    relevant = relevant_set(qrels)
    return len(relevant.intersection(_unique(ranking, k))) / k


def reciprocal_rank(ranking: Sequence[str], qrels: Qrels | Iterable[str], k: int | None = None) -> float:
    """1 / rank of the first relevant id (within the first k ranks), 0 when there is none."""
    relevant = relevant_set(qrels)
    for rank, doc in enumerate(_unique(ranking, k), start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
