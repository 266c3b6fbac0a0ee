"""Rank fusion: pure functions, checked by hand-computed values."""

import math

import pytest

from search.fusion import Contribution, contributions, rrf, weighted


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


# -- RRF -----------------------------------------------------------------------------------------


def test_rrf_sums_reciprocal_ranks():
    fused = dict(rrf([["a", "b", "c"], ["b", "a"]], k=60))
    assert close(fused["a"], 1 / 61 + 1 / 62)
    assert close(fused["b"], 1 / 62 + 1 / 61)
    assert close(fused["c"], 1 / 63)


def test_rrf_id_missing_from_a_list_gets_no_contribution_from_it():
    fused = dict(rrf([["a"], ["b", "c"]], k=10))
    assert close(fused["a"], 1 / 11)
    assert close(fused["c"], 1 / 12)  # no pessimistic rank from the first list


def test_rrf_sorts_by_score_then_id():
    # a and b tie exactly (ranks 1+2 and 2+1); the id breaks the tie, so the order never flickers
    assert [doc for doc, _ in rrf([["b", "a", "z"], ["a", "b"]])] == ["a", "b", "z"]


def test_rrf_accepts_scored_pairs_and_ignores_the_scores():
    assert rrf([[("a", 0.1), ("b", 99.0)]]) == rrf([["a", "b"]])


def test_rrf_keeps_first_occurrence_of_duplicate_id():
    assert dict(rrf([["a", "b", "a"]], k=1)) == {"a": 1 / 2, "b": 1 / 3}


def test_rrf_agreement_beats_a_single_top_rank():
    fused = rrf([["x", "both"], ["y", "both"]])
    assert fused[0][0] == "both"


def test_rrf_empty_inputs():
    assert rrf([]) == []
    assert rrf([[], []]) == []


def test_rrf_rejects_non_positive_k():
    with pytest.raises(ValueError):
        rrf([["a"]], k=0)


# -- weighted ------------------------------------------------------------------------------------


def test_weighted_min_max_normalises_each_list():
    fused = dict(weighted([[("a", 10.0), ("b", 5.0), ("c", 0.0)], [("c", 0.9), ("a", 0.1)]], [0.5, 0.5]))
    assert close(fused["a"], 0.5 * 1.0 + 0.5 * 0.0)
    assert close(fused["b"], 0.5 * 0.5)  # missing from the second list: contributes 0 there
    assert close(fused["c"], 0.5 * 0.0 + 0.5 * 1.0)


def test_weighted_scale_of_a_list_does_not_matter():
    small = weighted([[("a", 1.0), ("b", 0.5)], [("b", 0.3), ("a", 0.2)]], [1, 1])
    large = weighted([[("a", 1000.0), ("b", 500.0)], [("b", 0.3), ("a", 0.2)]], [1, 1])
    assert [d for d, _ in small] == [d for d, _ in large]
    assert all(close(x, y) for (_, x), (_, y) in zip(small, large))


def test_weighted_all_equal_scores_normalise_to_one():
    assert dict(weighted([[("a", 3.0), ("b", 3.0)]], [2.0])) == {"a": 2.0, "b": 2.0}
    assert dict(weighted([[("only", -7.5)]], [1.0])) == {"only": 1.0}


def test_weighted_respects_weights():
    lists = [[("k", 1.0), ("v", 0.0)], [("v", 1.0), ("k", 0.0)]]
    assert weighted(lists, [0.8, 0.2])[0][0] == "k"
    assert weighted(lists, [0.2, 0.8])[0][0] == "v"


def test_weighted_handles_negative_scores():
    fused = dict(weighted([[("a", -1.0), ("b", -3.0)]], [1.0]))
    assert fused == {"a": 1.0, "b": 0.0}


def test_weighted_ties_broken_by_id_and_empty_lists_ok():
    assert [d for d, _ in weighted([[("b", 1.0), ("a", 1.0)], []], [1, 1])] == ["a", "b"]
    assert weighted([[], []], [1, 1]) == []


def test_weighted_needs_one_weight_per_list_and_scores():
    with pytest.raises(ValueError):
        weighted([[("a", 1.0)]], [1.0, 2.0])
    with pytest.raises(ValueError):
        weighted([["a", "b"]], [1.0])  # bare ids carry no scores to normalise


# -- contributions (what a hit carries to explain itself) ----------------------------------------


def test_contributions_keep_rank_and_raw_score_per_list():
    explain = contributions([[("a", 12.5), ("b", 3.0)], [("b", 0.8)]])
    assert explain["a"] == (Contribution(1, 12.5), None)
    assert explain["b"] == (Contribution(2, 3.0), Contribution(1, 0.8))


def test_contributions_of_bare_ids_have_no_score():
    assert contributions([["x"]])["x"] == (Contribution(1, None),)
