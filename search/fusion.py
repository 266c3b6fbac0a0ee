"""Rank fusion as pure functions: many ranked lists in, one ranked list out.

Every engine returns keyword and vector candidates the same way (`[(id, score)]`, best first), so
fusing them lives here once and is unit-tested without an engine. Both functions return
`[(id, fused_score)]` sorted by score descending with ties broken by id, so the same inputs always
give the same order; `contributions` keeps each list's score and rank so a hit can explain itself.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

DEFAULT_FUSION = "rrf"
"""The fusion hybrid search uses unless told otherwise: kept because no weighted sum chosen on one of
CACM and CISI beat it on the other, on either engine, more often than not (bench/README.md, Relevance)."""
RRF_K = 60
"""The RRF constant hybrid search uses."""
HYBRID_WEIGHTS = (0.5, 0.5)
"""Keyword and vector weights for `fusion="weighted"` (after min-max normalisation)."""

Ranked = Sequence[tuple[str, float]] | Sequence[str]
"""One retriever's answer, best first: `(id, score)` pairs, or bare ids when only the order matters."""


class Contribution(NamedTuple):
    """What one list said about one id: its 1-based rank and raw score in that list."""

    rank: int
    score: float | None


def _pairs(ranked: Ranked) -> list[tuple[str, float | None]]:
    """(id, score) pairs without repeats: an id listed twice keeps its first (best) position."""
    seen: set[str] = set()
    out: list[tuple[str, float | None]] = []
    for item in ranked:
        doc_id, score = (item, None) if isinstance(item, str) else (item[0], float(item[1]))
        if doc_id not in seen:
            seen.add(doc_id)
            out.append((doc_id, score))
    return out


def _sorted(totals: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def rrf(ranked_lists: Sequence[Ranked], k: int = 60) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: `score(d) = sum over lists of 1 / (k + rank_in_list(d))`.

    Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and individual rank
    learning methods", SIGIR 2009. RRF needs no score calibration, which is why it is the default:
    BM25 and cosine live on unrelated scales. Ranks are 1-based; `k=60` is the paper's constant,
    damping the weight of the very top ranks. An id missing from a list simply gets no contribution
    from that list (it is not given a pessimistic rank).
    """
    if k <= 0:
        raise ValueError("k must be positive")
    totals: dict[str, float] = {}
    for ranked in ranked_lists:
        for rank, (doc_id, _) in enumerate(_pairs(ranked), start=1):
            totals[doc_id] = totals.get(doc_id, 0.0) + 1.0 / (k + rank)
    return _sorted(totals)


def _min_max(pairs: list[tuple[str, float | None]]) -> dict[str, float]:
    """Scores scaled to [0, 1]; a list whose scores are all equal scales every score to 1.0."""
    scores = [s for _, s in pairs if s is not None]
    if len(scores) != len(pairs):
        raise ValueError("weighted fusion needs (id, score) pairs")
    if not scores:
        return {}
    low, high = min(scores), max(scores)
    if high == low:
        return {doc_id: 1.0 for doc_id, _ in pairs}
    return {doc_id: (score - low) / (high - low) for doc_id, score in pairs}  # type: ignore[operator]


def weighted(score_lists: Sequence[Sequence[tuple[str, float]]], weights: Sequence[float]) -> list[tuple[str, float]]:
    """Min-max normalised weighted sum: `score(d) = sum_i weights[i] * norm_i(d)`.

    Each list is min-max scaled to [0, 1] on its own, so scales stop mattering but score gaps
    inside a list still do (unlike RRF). An id missing from a list contributes 0 for that list;
    a list whose scores are all equal normalises to 1.0 for every id in it (a single hit is a
    full-strength hit, not a zero). Weights need not sum to 1.
    """
    if len(score_lists) != len(weights):
        raise ValueError("one weight per list")
    totals: dict[str, float] = {}
    for scores, weight in zip(score_lists, weights):
        for doc_id, norm in _min_max(_pairs(scores)).items():
            totals[doc_id] = totals.get(doc_id, 0.0) + float(weight) * norm
    return _sorted(totals)


def contributions(ranked_lists: Sequence[Ranked]) -> dict[str, tuple[Contribution | None, ...]]:
    """For every id in any list: per list, its `Contribution` (rank, raw score) or None if absent."""
    per_list = [
        {doc_id: Contribution(rank, score) for rank, (doc_id, score) in enumerate(_pairs(ranked), start=1)}
        for ranked in ranked_lists
    ]
    ids = {doc_id for found in per_list for doc_id in found}
    return {doc_id: tuple(found.get(doc_id) for found in per_list) for doc_id in ids}
